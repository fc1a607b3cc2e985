"""French (France): "soixante et onze", "quatre-vingt-dix", "deux cents", "mille"; "quatorze heures trente"."""

from __future__ import annotations

from voxcenter.ivr.sayers.base import Sayer, _check_date, _check_time
from voxcenter.ivr.sayers.en import MONTH_FRAGMENTS, NUMBER_FRAGMENTS, to_ordinal


class FrenchSayer(Sayer):
    """French: feminine "une" for minutes, seconds and hours; CLDR makes 0 and 1 singular ("zéro minute")."""

    code = "fr"
    plural_language = "fr"
    fragments = Sayer.fragments | NUMBER_FRAGMENTS | MONTH_FRAGMENTS | {"hour", "hours", "the-day"}

    def _words(self, n: int) -> list[str]:
        if n == 0:
            return ["num-0"]
        out: list[str] = []
        thousands, rest = divmod(n, 1000)
        if thousands == 1:
            out.append("num-thousand")  # "mille", never "un mille"
        elif thousands:
            out += [*self._below_thousand(thousands), "num-thousand"]
        if rest:
            out += self._below_thousand(rest)
        return out

    def _below_thousand(self, n: int) -> list[str]:
        hundreds, rest = divmod(n, 100)
        out: list[str] = []
        if hundreds == 1:
            out.append("num-hundred")  # "cent", never "un cent"
        elif hundreds:
            out += [f"num-{hundreds}", "num-hundred"]
        if rest:
            out += self._below_hundred(rest)
        return out

    def _below_hundred(self, n: int) -> list[str]:
        if n < 20:
            return [f"num-{n}"]
        tens, units = divmod(n, 10)
        if tens in (7, 9):
            # 70-79 are 60 + 10..19, 90-99 are 80 + 10..19; only 71 takes "et".
            base = "num-60" if tens == 7 else "num-80"
            return [base, "and", "num-11"] if n == 71 else [base, f"num-{10 + units}"]
        if units == 0:
            return [f"num-{tens * 10}"]
        if units == 1 and tens != 8:
            return [f"num-{tens * 10}", "and", "num-1"]  # vingt et un ... soixante et un; quatre-vingt-un
        return [f"num-{tens * 10}", f"num-{units}"]

    def _ordinal_words(self, n: int, form: str) -> list[str]:
        return to_ordinal(self._words(n))

    def time(self, hour: int, minute: int) -> list[str]:
        """"quatorze heures trente", "une heure cinq", "zéro heure"."""
        _check_time(hour, minute)
        hours = "hour" if self.category(hour) == "one" else "hours"
        return [*self.number(hour, feminine=True), hours, *(self.number(minute, feminine=True) if minute else [])]

    def date(self, month: int, day: int) -> list[str]:
        """"le deux décembre", "le premier mai"."""
        _check_date(month, day)
        return ["the-day", *(["ord-1"] if day == 1 else self.number(day)), f"month-{month}"]
