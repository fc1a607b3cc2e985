"""Romanian: "Apelul dumneavoastră este al treilea la rând", "două minute", "douăzeci de minute", "doi decembrie".

Grammar followed (Romanian grammar, numerals):

- "Unu" and "doi" agree: counting "unu", "doi"; before a masculine or neuter singular "un" ("un minut"),
  before a feminine "o" ("o secundă"); "două" and "douăsprezece" with feminine nouns and with neuter plurals
  ("două minute", "douăsprezece minute"); in compounds "douăzeci și unu" (masculine, neuter) and "douăzeci
  și una" (feminine). "Sută" and "mie" are feminine nouns: "o sută", "două sute", "o mie", "două mii".
- The counted noun follows CLDR: ``one`` singular, ``few`` (0, 2-19, 101-119...) plural, ``other`` (20-100,
  120...) plural after "de": "douăzeci de minute", "o sută de apelanți".
- Ordinals: "primul", then "al" with the cardinal whose last word takes "-lea": "al doilea", "al douăzeci și
  unulea", "al o sutălea", "al două sutelea", "al o miilea".
- A date is "întâi" or the masculine cardinal with the month ("doi decembrie"); a time is "ora" with the
  hour and, after "și", the minutes ("ora paisprezece și treizeci").
"""

from __future__ import annotations

from voxcenter.ivr.sayers.base import _check_date, _check_time
from voxcenter.ivr.sayers.inflected import InflectingSayer, fragment_set

NOUNS = {
    ("minute", "nom"): {"one": "minute-one", "few": "minute-other", "other": "minute-other"},
    ("second", "nom"): {"one": "second-one", "few": "second-other", "other": "second-other"},
    ("caller", "nom"): {"one": "caller-one", "few": "caller-other", "other": "caller-other"},
}
"""minut / minute; secundă / secunde; apelant / apelanți ("de" before the plural is added by the count)."""

_ORDINAL_LAST = (*(f"num-{n}" for n in (*range(1, 20), *range(20, 100, 10))), "num-100", "hundreds", "num-1000")


GENDERS = {"minute": "n", "second": "f", "caller": "m"}
"""Gender of each counted noun."""


class RomanianSayer(InflectingSayer):
    """Romanian (Romania)."""

    code = "ro"
    plural_language = "ro"
    ordinal_forms = ("m-nom",)
    nouns = NOUNS
    genders = GENDERS
    fragments = fragment_set(
        (f"num-{n}" for n in (*range(20), *range(20, 100, 10))),
        ("num-1-m", "num-1-f", "num-1-f-compound", "num-2-f", "num-12-f", "num-100", "hundreds", "num-1000",
         "thousands", "of", "time-before", "day-1"),
        ("ord-first", "ord-al", *("ord-" + last.removeprefix("num-") for last in _ORDINAL_LAST)),
        nouns=NOUNS,
    )

    def cardinal(self, n: int, gender: str, case: str = "nom") -> list[str]:
        """``gender``: ``m``, ``f``, ``n`` (neuter: masculine in the singular, feminine in the plural), or
        ``counting`` (no noun: "unu", "doi")."""
        if n == 0:
            return ["num-0"]
        if n == 1:
            return {"m": ["num-1-m"], "n": ["num-1-m"], "f": ["num-1-f"]}.get(gender, ["num-1"])
        agree = "f" if gender in ("f", "n") else gender
        out: list[str] = []
        thousands, rest = divmod(n, 1000)
        if thousands == 1:
            out.append("num-1000")
        elif thousands:
            out += [*self._below_thousand(thousands, "f"), *self._of(thousands), "thousands"]
        if rest:
            out += self._below_thousand(rest, agree, neuter=gender == "n")
        return out

    def _of(self, n: int) -> list[str]:
        return ["of"] if self.category(n) == "other" else []

    def _below_thousand(self, n: int, gender: str, *, neuter: bool = False) -> list[str]:
        hundreds, rest = divmod(n, 100)
        out: list[str] = []
        if hundreds == 1:
            out.append("num-100")
        elif hundreds:
            out += ["num-2-f" if hundreds == 2 else f"num-{hundreds}", "hundreds"]
        if rest == 0:
            return out
        if rest < 20:
            if rest == 2 and gender == "f":
                return [*out, "num-2-f"]
            if rest == 12 and gender == "f":
                return [*out, "num-12-f"]
            if rest == 1:  # "o sută unu", "o mie una"
                return [*out, "num-1-f-compound" if gender == "f" and not neuter else "num-1"]
            return [*out, f"num-{rest}"]
        tens, units = divmod(rest, 10)
        out.append(f"num-{tens * 10}")
        if units == 0:
            return out
        if units == 1:
            return [*out, "and", "num-1-f-compound" if gender == "f" and not neuter else "num-1"]
        return [*out, "and", "num-2-f" if units == 2 and gender == "f" else f"num-{units}"]

    def counted(self, n: int, noun: str, case: str = "nom") -> list[str]:
        words = super().counted(n, noun, case)
        return [*words[:-1], *self._of(n), words[-1]]  # "douăzeci de minute"

    def _ordinal_words(self, n: int, form: str) -> list[str]:
        if n == 1:
            return ["ord-first"]  # primul
        words = self.cardinal(n, "counting")
        return ["ord-al", *words[:-1], "ord-" + words[-1].removeprefix("num-")]

    def time(self, hour: int, minute: int) -> list[str]:
        """"ora paisprezece și treizeci", "ora două", "ora unu și cinci"."""
        _check_time(hour, minute)
        # "ora două", "ora douăsprezece", but "ora unu", "ora douăzeci și unu": the neuter's forms
        said = self.cardinal(hour, "n") if hour != 1 else ["num-1"]
        minutes = ["and", *self.cardinal(minute, "counting")] if minute else []
        return ["time-before", *said, *minutes]

    def date(self, month: int, day: int) -> list[str]:
        """"întâi decembrie", "doi decembrie", "douăzeci și unu mai"."""
        _check_date(month, day)
        return [*(["day-1"] if day == 1 else self.cardinal(day, "counting")), f"month-{month}"]
