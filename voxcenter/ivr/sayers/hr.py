"""Croatian: "Vaš poziv je treći u redu čekanja", "dvije minute", "pet minuta", "drugi prosinca".

Grammar followed (Croatian grammar, numerals):

- "Jedan" and "dva" agree in gender, also as the last word of a compound: "jedna minuta", "dvadeset jedna
  minuta", "dvije minute", "dvadeset dvije minute" (not in the teens). After "više od" the numbers 1-4 take
  the genitive: "jedne", "dviju", "triju", "četiriju"; from five on they do not change.
- "Tisuća" is a feminine noun: "tisuću", "dvije tisuće", "pet tisuća", "dvadeset jedna tisuća".
- The counted noun follows CLDR: ``one`` (1, 21, 101...) singular, ``few`` (2-4, 22-24...) the paucal,
  ``other`` genitive plural: "minuta / minute / minuta", "sekunda / sekunde / sekundi", "sat / sata / sati".
- Ordinals are adjectives; only the last word of a compound is one ("dvadeset prvi", "sto dvadeset drugi").
  A date is the ordinal with the month in the genitive ("drugi prosinca"); a time is "četrnaest i trideset",
  or with the hour noun on the hour ("četrnaest sati", "dva sata", "jedan sat").
"""

from __future__ import annotations

from voxcenter.ivr.sayers.base import _check_date, _check_time
from voxcenter.ivr.sayers.inflected import ORDINAL_BASES, InflectingSayer, fragment_set

NOUNS = {
    ("minute", "nom"): {"one": "minute-one", "few": "minute-few", "other": "minute-other"},
    ("minute", "gen"): {"one": "minute-gen-one", "few": "minute-other", "other": "minute-other"},
    ("second", "nom"): {"one": "second-one", "few": "second-few", "other": "second-other"},
    ("caller", "nom"): {"one": "caller-one", "few": "caller-few", "other": "caller-other"},
    ("hour", "nom"): {"one": "hour-one", "few": "hour-few", "other": "hour-other"},
}
"""minuta / minute / minuta, genitive minute / minuta; sekunda / sekunde / sekundi; poziv / poziva / poziva;
sat / sata / sati."""

_GENITIVE = {1: "num-1-f-gen", 2: "num-2-f-gen", 3: "num-3-gen", 4: "num-4-gen"}
"""Feminine genitives of 1-4 (after "više od")."""


GENDERS = {"minute": "f", "second": "f", "caller": "m", "hour": "m"}
"""Gender of each counted noun."""


class CroatianSayer(InflectingSayer):
    """Croatian (Croatia)."""

    code = "hr"
    plural_language = "hr"
    ordinal_forms = ("m-nom",)
    nouns = NOUNS
    genders = GENDERS
    fragments = fragment_set(
        (f"num-{n}" for n in (*range(20), *range(20, 100, 10), *range(100, 1000, 100), 1000)),
        ("num-1-f", "num-2-f", *_GENITIVE.values(), "thousand-one", "thousand-few", "thousand-other"),
        (f"ord-{n}-m-nom" for n in ORDINAL_BASES),
        nouns=NOUNS,
    )

    def cardinal(self, n: int, gender: str, case: str = "nom") -> list[str]:
        if n == 0:
            return ["num-0"]
        out: list[str] = []
        thousands, rest = divmod(n, 1000)
        if thousands == 1:
            out.append("num-1000")
        elif thousands:
            noun = {"one": "thousand-one", "few": "thousand-few"}.get(self.category(thousands), "thousand-other")
            out += [*self._below_thousand(thousands, "f", "nom"), noun]
        if rest:
            out += self._below_thousand(rest, gender, case)
        return out

    def _below_thousand(self, n: int, gender: str, case: str) -> list[str]:
        hundreds, rest = divmod(n, 100)
        out = [f"num-{hundreds * 100}"] if hundreds else []
        if rest >= 20:
            tens, rest = divmod(rest, 10)
            out.append(f"num-{tens * 10}")
        if not rest:
            return out
        if case == "gen" and gender == "f" and rest in _GENITIVE:
            return [*out, _GENITIVE[rest]]
        if gender == "f" and rest in (1, 2):
            return [*out, f"num-{rest}-f"]
        return [*out, f"num-{rest}"]

    def _ordinal_words(self, n: int, form: str) -> list[str]:
        hundreds, rest = divmod(n, 100)
        if rest == 0:
            return [f"ord-{n}-{form}"]  # stoti, dvjestoti... tisućiti
        out = [f"num-{hundreds * 100}"] if hundreds else []
        if rest < 20:
            return [*out, f"ord-{rest}-{form}"]
        tens, units = divmod(rest, 10)
        if units == 0:
            return [*out, f"ord-{rest}-{form}"]
        return [*out, f"num-{tens * 10}", f"ord-{units}-{form}"]

    def _more_than_minutes(self, minutes: int) -> list[str]:
        return ["more-than", *self.counted(minutes, "minute", "gen")]  # "više od dvadeset minuta"

    def time(self, hour: int, minute: int) -> list[str]:
        """"četrnaest i trideset", "četrnaest sati", "dva sata", "jedan sat", "nula i pet"."""
        _check_time(hour, minute)
        if not minute:
            return self.counted(hour, "hour")
        return [*self.number(hour), "and", *self.number(minute)]

    def date(self, month: int, day: int) -> list[str]:
        """"drugi prosinca", "dvadeset prvi svibnja"."""
        _check_date(month, day)
        return [*self.ordinal(day), f"month-{month}"]
