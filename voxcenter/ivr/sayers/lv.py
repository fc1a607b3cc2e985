"""Latvian: "Jūsu zvans ir trešais rindā", "divas minūtes", "divdesmit viena minūte", "otrais decembris".

Grammar followed (Latvian grammar, numerals):

- Units 1-9 agree with the noun's gender except "trīs": "viens/viena", "divi/divas", "četri/četras"...;
  in compounds the last word agrees ("divdesmit divas minūtes"). Ten, the teens and the tens do not change.
- Hundreds are the indeclinable "simt", "divsimt"... "deviņsimt" ("simts" when it is the whole number);
  one thousand is "tūkstotis" alone and "tūkstoš" before more words, other thousands the noun: "divi
  tūkstoši", "divdesmit viens tūkstotis".
- The counted noun follows CLDR: ``one`` (1, 21, 31, 101...) singular, ``zero`` and ``other`` plural:
  "viena minūte", "vienpadsmit minūtes", "desmit minūtes".
- Ordinals are definite adjectives; only the last word of a compound is an ordinal ("divdesmit pirmais",
  "simt divdesmitais"). A date is the ordinal with the month in the nominative; a time "pulksten" with the
  hour and the minutes ("pulksten četrpadsmit nulle pieci").
"""

from __future__ import annotations

from voxcenter.ivr.sayers.base import _check_date, _check_time
from voxcenter.ivr.sayers.inflected import ORDINAL_BASES, InflectingSayer, fragment_set

FEMININE_UNITS = (1, 2, 4, 5, 6, 7, 8, 9)
"""Units with a feminine form ("trīs" has none)."""

NOUNS = {
    ("minute", "nom"): {"one": "minute-one", "zero": "minute-other", "other": "minute-other"},
    ("second", "nom"): {"one": "second-one", "zero": "second-other", "other": "second-other"},
    ("caller", "nom"): {"one": "caller-one", "zero": "caller-other", "other": "caller-other"},
}
"""minūte / minūtes; sekunde / sekundes; zvans / zvani."""


GENDERS = {"minute": "f", "second": "f", "caller": "m"}
"""Gender of each counted noun."""


class LatvianSayer(InflectingSayer):
    """Latvian (Latvia)."""

    code = "lv"
    plural_language = "lv"
    ordinal_forms = ("m-nom",)
    nouns = NOUNS
    genders = GENDERS
    fragments = fragment_set(
        (f"num-{n}" for n in (*range(20), *range(20, 100, 10), *range(100, 1000, 100))),
        (f"num-{n}-f" for n in FEMININE_UNITS),
        ("num-100-alone", "num-1000", "num-1000-alone", "thousand-one", "thousand-other", "time-before"),
        (f"ord-{n}-m-nom" for n in ORDINAL_BASES),
        nouns=NOUNS,
    )

    def cardinal(self, n: int, gender: str, case: str = "nom") -> list[str]:
        if n == 0:
            return ["num-0"]
        if n == 1000:
            return ["num-1000-alone"]
        out: list[str] = []
        thousands, rest = divmod(n, 1000)
        if thousands == 1:
            out.append("num-1000")
        elif thousands:
            one = self.category(thousands) == "one"
            out += [*self._below_thousand(thousands, "m"), "thousand-one" if one else "thousand-other"]
        if rest:
            out += self._below_thousand(rest, gender)
        return out

    def _below_thousand(self, n: int, gender: str) -> list[str]:
        if n == 100:
            return ["num-100-alone"]  # "simts" at the end of a number, "simt" before more words
        hundreds, rest = divmod(n, 100)
        out = [f"num-{hundreds * 100}"] if hundreds else []
        if rest >= 20:
            tens, rest = divmod(rest, 10)
            out.append(f"num-{tens * 10}")
        if rest and gender == "f" and rest in FEMININE_UNITS:
            out.append(f"num-{rest}-f")
        elif rest:
            out.append(f"num-{rest}")
        return out

    def counted(self, n: int, noun: str, case: str = "nom") -> list[str]:
        words = super().counted(n, noun, case)
        # "simts" and "tūkstotis" are nouns that would want the genitive; before a noun the
        # indeclinable numerals "simt" and "tūkstoš" let it stay in the nominative ("simt minūtes").
        last = {"num-100-alone": "num-100", "num-1000-alone": "num-1000"}.get(words[-2], words[-2])
        return [*words[:-2], last, words[-1]]

    def _ordinal_words(self, n: int, form: str) -> list[str]:
        hundreds, rest = divmod(n, 100)
        if rest == 0:
            return [f"ord-{n}-{form}"]  # simtais, divsimtais... tūkstošais
        out = [f"num-{hundreds * 100}"] if hundreds else []
        if rest < 20:
            return [*out, f"ord-{rest}-{form}"]
        tens, units = divmod(rest, 10)
        if units == 0:
            return [*out, f"ord-{rest}-{form}"]
        return [*out, f"num-{tens * 10}", f"ord-{units}-{form}"]

    def time(self, hour: int, minute: int) -> list[str]:
        """"pulksten četrpadsmit trīsdesmit", "pulksten astoņi nulle pieci", "pulksten divpadsmit"."""
        _check_time(hour, minute)
        minutes = ([] if not minute else ["num-0", *self.number(minute)] if minute < 10 else self.number(minute))
        return ["time-before", *self.number(hour), *minutes]

    def date(self, month: int, day: int) -> list[str]:
        """"otrais decembris", "divdesmit pirmais jūnijs"."""
        _check_date(month, day)
        return [*self.ordinal(day), f"month-{month}"]
