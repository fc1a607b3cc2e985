"""English (US usage: "one hundred five", no "and"; times on the 12-hour clock)."""

from __future__ import annotations

from voxcenter.ivr.sayers.base import Sayer, _check_date, _check_time

_ORDINAL_BASES: tuple[str, ...] = (
    *(str(n) for n in range(1, 20)), *(str(n) for n in range(20, 100, 10)), "hundred", "thousand",
)

NUMBER_FRAGMENTS: frozenset[str] = frozenset(
    (*(f"num-{n}" for n in range(20)), *(f"num-{n}" for n in range(20, 100, 10)), "num-hundred", "num-thousand",
     "num-1-f", *(f"ord-{base}" for base in _ORDINAL_BASES), "ord-1-compound")
)
"""Cardinal and ordinal fragments shared by English and French: ``num-N``, ``num-hundred``, ``num-thousand``,
``ord-N``, ``num-1-f`` (feminine one: French "une"), ``ord-1-compound`` (French "unième" in 21st, 101st...)."""

MONTH_FRAGMENTS: frozenset[str] = frozenset(f"month-{n}" for n in range(1, 13))
"""Month names, ``month-1`` (January) to ``month-12``."""


def to_ordinal(words: list[str]) -> list[str]:
    """Turn the last fragment of a cardinal into its ordinal (``num-20`` -> ``ord-20``)."""
    last = words[-1]
    if last == "num-1" and len(words) > 1:
        return [*words[:-1], "ord-1-compound"]
    return [*words[:-1], "ord-" + last.removeprefix("num-")]


class EnglishSayer(Sayer):
    """English: "twenty one", "twenty-first", "two thirty p m", "December second"."""

    code = "en"
    plural_language = "en"
    fragments = Sayer.fragments | NUMBER_FRAGMENTS | MONTH_FRAGMENTS | {"am", "pm", "oh"}

    def _words(self, n: int) -> list[str]:
        if n == 0:
            return ["num-0"]
        out: list[str] = []
        thousands, rest = divmod(n, 1000)
        if thousands:
            out += [*self._below_thousand(thousands), "num-thousand"]
        if rest:
            out += self._below_thousand(rest)
        return out

    def _below_thousand(self, n: int) -> list[str]:
        hundreds, rest = divmod(n, 100)
        out = [f"num-{hundreds}", "num-hundred"] if hundreds else []
        if rest < 20:
            return out + ([f"num-{rest}"] if rest else [])
        tens, units = divmod(rest, 10)
        return out + [f"num-{tens * 10}"] + ([f"num-{units}"] if units else [])

    def _ordinal_words(self, n: int, form: str) -> list[str]:
        return to_ordinal(self._words(n))

    def time(self, hour: int, minute: int) -> list[str]:
        """"two thirty p m", "nine oh five a m", "twelve p m" (noon)."""
        _check_time(hour, minute)
        out = self.number(hour % 12 or 12)
        if minute:
            out += ["oh", *self.number(minute)] if minute < 10 else self.number(minute)
        return [*out, "am" if hour < 12 else "pm"]

    def date(self, month: int, day: int) -> list[str]:
        """"December second"."""
        _check_date(month, day)
        return [f"month-{month}", *self.ordinal(day)]
