"""The sayer interface, and the digit-by-digit sayer every language falls back to.

A sayer never produces audio; it returns prompt names (``num-3``, ``minutes``...) that exist in
``prompts/<language>/`` and are played back to back. Fragment texts live in ``prompts/sayers.yaml`` and
``scripts/make-prompts`` turns them into WAV files with espeak-ng.

What a sayer says: cardinals and ordinals, a dial string key by key, a rough wait ("about four minutes"),
an exact length ("two minutes and thirty seconds"), a time of day, a date (day and month), and the queue
announcements built from them. Word sayers live one per language next to this module; a noun after a number
takes the form that the language's CLDR plural rule gives (:mod:`voxcenter.ivr.sayers.plural`).
"""

from __future__ import annotations

import math

from voxcenter.ivr.sayers.plural import plural_category

MAX_WORDS = 999_999
"""Largest number said in words; larger ones are read digit by digit."""

DEFAULT_MAX_MINUTES = 20
"""Above this many minutes a wait is said as "more than twenty minutes"."""

KEYS: dict[str, str] = {"*": "key-star", "#": "key-hash", "+": "key-plus"}
"""Prompt names of the dial-string keys that are not digits."""

DIGIT_FRAGMENTS: tuple[str, ...] = (*(f"num-{n}" for n in range(10)), *KEYS.values())
"""What :meth:`Sayer.digits` may return, in every language."""


class Sayer:
    """Digit-by-digit sayer: the fallback of every language, and the base of the word sayers.

    Subclasses override :meth:`_words` (a cardinal in words, ``0 <= n <= MAX_WORDS``), :meth:`_ordinal_words`,
    and the sentence hooks when their language orders or inflects words differently from English.
    """

    code = "digits"
    """Name of the sayer, as written in ``prompts.sayer`` of the dial plan."""
    plural_language: str | None = None
    """CLDR locale whose plural rule picks noun forms; None: singular for 1 only."""
    max_ordinal = MAX_WORDS
    """Largest ordinal said as an ordinal; above it :meth:`ordinal` says the cardinal."""
    ordinal_forms: tuple[str, ...] = ("",)
    """Gender and case forms of ordinals (Polish ``f-ins``: "trzecią"); the first is the dictionary form."""
    fragments: frozenset[str] = frozenset(
        (*DIGIT_FRAGMENTS, "about", "less-than-a-minute", "more-than", "minute", "minutes", "second", "seconds",
         "and", "caller-number", "at-least", "callers-ahead", "expected-wait")
    )
    """Every prompt name this sayer may return (``prompts/sayers.yaml`` gives each a text in its language)."""

    # ------------------------------------------------------------------------------------------ numbers

    def number(self, n: int, *, feminine: bool = False) -> list[str]:
        """``n`` as fragments; ``feminine`` picks the form that agrees with a feminine noun ("une", "dwie")."""
        _check_number(n)
        if n > MAX_WORDS:
            return self.digits(str(n))
        words = self._words(n)
        if feminine and words and words[-1] == "num-1" and "num-1-f" in self.fragments:
            words[-1] = "num-1-f"
        return words

    def ordinal(self, n: int, form: str | None = None) -> list[str]:
        """``n``-th as fragments ("third", "twenty-first"); 1 or more. Above :attr:`max_ordinal`, the cardinal.

        ``form`` is one of :attr:`ordinal_forms` (gender and case, as the sentence needs); none: the first."""
        _check_number(n)
        if n < 1:
            raise ValueError(f"ordinals start at 1, not {n}")
        if form is None:
            form = self.ordinal_forms[0]
        elif form not in self.ordinal_forms:
            raise ValueError(f"{self.code} ordinals have the forms {list(self.ordinal_forms)}, not {form!r}")
        if n > self.max_ordinal:
            return self.number(n)
        return self._ordinal_words(n, form)

    def digits(self, text: str) -> list[str]:
        """Read a dial string key by key ("0 6 1 2...", "star", "hash", "plus")."""
        out: list[str] = []
        for char in text:
            if "0" <= char <= "9":
                out.append(f"num-{char}")
            elif char in KEYS:
                out.append(KEYS[char])
            else:
                raise ValueError(f"cannot say {char!r}: only digits, '*', '#' and '+' can be read out")
        return out

    def category(self, n: int) -> str:
        """The plural category of ``n`` (``one``, ``few``, ``many``...) that picks the form of a counted noun."""
        if self.plural_language is None:
            return "one" if n == 1 else "other"
        return plural_category(self.plural_language, n)

    # ------------------------------------------------------------------------------------------ durations

    def duration(self, seconds: float, *, max_minutes: int = DEFAULT_MAX_MINUTES) -> list[str]:
        """A wait, roughly: "less than a minute", "about four minutes", "more than twenty minutes".

        Waits are rounded to the minute up to ten minutes and to five minutes above, as callers hear
        a precise figure as a promise.
        """
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"a duration must be a finite number of seconds >= 0, not {seconds!r}")
        if max_minutes < 1:
            raise ValueError(f"max_minutes must be at least 1, not {max_minutes}")
        if seconds < 60:
            return ["less-than-a-minute"]
        minutes = max(1, round(seconds / 60))
        if minutes > 10:
            minutes = 5 * round(minutes / 5)
        if minutes > max_minutes:
            return self._more_than_minutes(max_minutes)
        return self._about_minutes(minutes)

    def exact_duration(self, seconds: float) -> list[str]:
        """A length to the second: "two minutes and thirty seconds", "one minute", "zero seconds"."""
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"a duration must be a finite number of seconds >= 0, not {seconds!r}")
        minutes, rest = divmod(round(seconds), 60)
        if minutes and rest:
            return [*self.count(minutes, "minute"), "and", *self.count(rest, "second")]
        if minutes:
            return self.count(minutes, "minute")
        return self.count(rest, "second")

    def count(self, n: int, unit: str) -> list[str]:
        """``n`` minutes or seconds (``unit``: ``minute`` or ``second``), the noun in the form ``n`` asks for."""
        _check_unit(unit)
        return [*self.number(n, feminine=True), unit if self.category(n) == "one" else f"{unit}s"]

    def _about_minutes(self, minutes: int) -> list[str]:
        return ["about", *self.count(minutes, "minute")]

    def _more_than_minutes(self, minutes: int) -> list[str]:
        return ["more-than", *self.count(minutes, "minute")]

    # ------------------------------------------------------------------------------------------ time and date

    def time(self, hour: int, minute: int) -> list[str]:
        """A time of day on the 24-hour clock (the digit sayer: the hour, then the minutes)."""
        _check_time(hour, minute)
        return [*self.number(hour), *(self.number(minute) if minute else [])]

    def date(self, month: int, day: int) -> list[str]:
        """A day of the year (the digit sayer: the day, then the month's number)."""
        _check_date(month, day)
        return [*self.number(day), *self.number(month)]

    # ------------------------------------------------------------------------------------------ announcements

    def position(self, position: int, *, more_than: bool = False) -> list[str]:
        """Queue position: "you are caller number three", or with ``more_than`` (position capped at the
        announcement limit) "there are at least ten callers ahead of you"."""
        _check_number(position)
        if position < 1:
            raise ValueError(f"a queue position starts at 1, not {position}")
        if more_than:
            return self._callers_ahead(position)
        return self._position(position)

    def _position(self, position: int) -> list[str]:
        return ["caller-number", *self.number(position)]

    def _callers_ahead(self, at_least: int) -> list[str]:
        return ["at-least", *self.number(at_least), "callers-ahead"]

    def wait(self, seconds: float, *, max_minutes: int = DEFAULT_MAX_MINUTES) -> list[str]:
        """Estimated wait: "your expected wait is about four minutes"."""
        return ["expected-wait", *self.duration(seconds, max_minutes=max_minutes)]

    def announcement(
        self, position: int, more_than: bool, ewt: float | None, *, max_minutes: int = DEFAULT_MAX_MINUTES
    ) -> list[str]:
        """A queue announcement (position, then the wait when known), from the ACD's ``Announce``."""
        out = self.position(position, more_than=more_than)
        if ewt is not None:
            out.extend(self.wait(ewt, max_minutes=max_minutes))
        return out

    # ------------------------------------------------------------------------------------------ words

    def _words(self, n: int) -> list[str]:
        return self.digits(str(n))

    def _ordinal_words(self, n: int, form: str) -> list[str]:
        return self._words(n)


def _check_number(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"sayers say integers, not {type(n).__name__}")
    if n < 0:
        raise ValueError(f"cannot say a negative number ({n})")


def _check_unit(unit: str) -> None:
    if unit not in ("minute", "second"):
        raise ValueError(f"a sayer counts minutes or seconds, not {unit!r}")


def _check_time(hour: int, minute: int) -> None:
    _check_number(hour)
    _check_number(minute)
    if hour > 23 or minute > 59:
        raise ValueError(f"{hour}:{minute:02d} is not a time of day (00:00 to 23:59)")


_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _check_date(month: int, day: int) -> None:
    _check_number(month)
    _check_number(day)
    if not 1 <= month <= 12 or not 1 <= day <= _DAYS_IN_MONTH[month - 1]:
        raise ValueError(f"day {day} of month {month} is not a date")


DigitSayer = Sayer
"""The fallback sayer: numbers read digit by digit."""
