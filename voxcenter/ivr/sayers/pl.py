"""Polish: "jesteś trzecią osobą w kolejce", "dwie minuty" but "pięć minut", "drugiego grudnia", "ósma pięć".

Grammar followed (any Polish grammar's chapter on numerals):

- Cardinals: "jeden" agrees only when it is the whole number ("jedna minuta", accusative "jedną minutę"); in
  compounds it never changes ("dwadzieścia jeden minut"). "Dwa" is "dwie" with feminine nouns, alone or in
  compounds ("dwadzieścia dwie minuty"), but not in "dwanaście". "Tysiąc" is a masculine noun counted like any
  other: "dwa tysiące", "pięć tysięcy", "dwadzieścia dwa tysiące"; one thousand is "tysiąc", not "jeden tysiąc".
- The counted noun follows the CLDR category: ``one`` nominative singular, ``few`` (2-4, 22-24...) nominative
  plural, ``many`` (0, 5-21, 25-31..., 12-14) genitive plural.
- Ordinals decline like adjectives. In a compound the tens and units are ordinals and the hundreds stay
  cardinal: "sto dwudziesta pierwsza"; round hundreds are one word ("dwusetna"), the thousandth "tysięczna".
- Hours are feminine ordinals ("godzina czternasta"), minutes cardinals ("czternasta pięć"); a date is the
  day's ordinal in the masculine genitive with the month in the genitive ("drugiego grudnia").
"""

from __future__ import annotations

from voxcenter.ivr.sayers.base import _check_date, _check_time
from voxcenter.ivr.sayers.inflected import ORDINAL_BASES, InflectingSayer, fragment_set

ORDINAL_FORMS = ("m-nom", "f-nom", "f-ins", "m-gen")
"""Masculine and feminine nominative ("trzeci", "trzecia"), feminine instrumental ("trzecią": the queue
position), masculine genitive ("trzeciego": the day of a date)."""

NOUNS = {
    ("minute", "nom"): {"one": "minute-one", "few": "minute-few", "many": "minute-many", "other": "minute-few"},
    ("minute", "acc"): {"one": "minute-acc-one", "few": "minute-few", "many": "minute-many", "other": "minute-few"},
    ("second", "nom"): {"one": "second-one", "few": "second-few", "many": "second-many", "other": "second-few"},
    ("caller", "acc"): {"one": "caller-acc-one", "few": "caller-few", "many": "caller-many", "other": "caller-few"},
}
"""minuta / minuty / minut, accusative minutę; sekunda / sekundy / sekund; osobę / osoby / osób."""


GENDERS = {"minute": "f", "second": "f", "caller": "f"}
"""Gender of each counted noun."""


class PolishSayer(InflectingSayer):
    """Polish (Poland)."""

    code = "pl"
    plural_language = "pl"
    ordinal_forms = ORDINAL_FORMS
    position_form = "f-ins"
    caller_noun_case = "acc"  # "Masz przed sobą co najmniej dziesięć osób"
    nouns = NOUNS
    genders = GENDERS
    fragments = fragment_set(
        (f"num-{n}" for n in (*range(20), *range(20, 100, 10), *range(100, 1000, 100), 1000)),
        ("num-1-f", "num-1-f-acc", "num-2-f", "thousand-few", "thousand-many"),
        (f"ord-{n}-{form}" for n in ORDINAL_BASES for form in ORDINAL_FORMS),
        nouns=NOUNS,
    )

    def cardinal(self, n: int, gender: str, case: str = "nom") -> list[str]:
        if n == 0:
            return ["num-0"]
        if n == 1 and gender == "f":
            return ["num-1-f-acc" if case == "acc" else "num-1-f"]
        out: list[str] = []
        thousands, rest = divmod(n, 1000)
        if thousands == 1:
            out.append("num-1000")
        elif thousands:
            many = self.category(thousands) != "few"
            out += [*self._below_thousand(thousands, "m"), "thousand-many" if many else "thousand-few"]
        if rest:
            out += self._below_thousand(rest, gender)
        return out

    def _below_thousand(self, n: int, gender: str) -> list[str]:
        hundreds, rest = divmod(n, 100)
        out = [f"num-{hundreds * 100}"] if hundreds else []
        if rest >= 20:
            tens, rest = divmod(rest, 10)
            out.append(f"num-{tens * 10}")
        if rest == 2 and gender == "f":
            out.append("num-2-f")
        elif rest:
            out.append(f"num-{rest}")
        return out

    def _ordinal_words(self, n: int, form: str) -> list[str]:
        hundreds, rest = divmod(n, 100)
        if rest == 0:
            return [f"ord-{n}-{form}"]  # setna, dwusetna... tysięczna
        out = [f"num-{hundreds * 100}"] if hundreds else []
        if rest < 20:
            return [*out, f"ord-{rest}-{form}"]
        tens, units = divmod(rest, 10)
        return [*out, f"ord-{tens * 10}-{form}", *([f"ord-{units}-{form}"] if units else [])]

    def _more_than_minutes(self, minutes: int) -> list[str]:
        return ["more-than", *self.counted(minutes, "minute", "acc")]  # "ponad dwadzieścia minut"

    def time(self, hour: int, minute: int) -> list[str]:
        """"czternasta trzydzieści", "ósma pięć", "zero piętnaście" (0:15), "dwunasta" (12:00)."""
        _check_time(hour, minute)
        said = self.ordinal(hour, "f-nom") if hour else ["num-0"]
        return [*said, *(self.number(minute) if minute else [])]

    def date(self, month: int, day: int) -> list[str]:
        """"drugiego grudnia", "trzydziestego pierwszego stycznia"."""
        _check_date(month, day)
        return [*self.ordinal(day, "m-gen"), f"month-{month}"]
