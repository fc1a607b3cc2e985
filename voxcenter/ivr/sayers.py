"""Sayers: numbers, ordinals, durations and queue announcements as lists of prompt fragments.

A sayer never produces audio; it returns prompt names (``num-3``, ``minutes``...) that exist in
``prompts/<language>/`` and are played back to back. Fragment texts live in ``prompts/sayers.yaml`` and
``scripts/make-prompts`` turns them into WAV files with espeak-ng.

English and French say numbers 0-999 999 in words. A language without a sayer falls back to
:class:`DigitSayer`, which reads numbers digit by digit with ``num-0``..``num-9``: a caller hears "three
five" rather than silence. Numbers above 999 999 are read digit by digit in every language.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

MAX_WORDS = 999_999
"""Largest number said in words; larger ones are read digit by digit."""

DEFAULT_MAX_MINUTES = 20
"""Above this many minutes a wait is said as "more than twenty minutes"."""

_KEYS: dict[str, str] = {"*": "key-star", "#": "key-hash", "+": "key-plus"}

ANNOUNCEMENT_FRAGMENTS: tuple[str, ...] = (
    "about",
    "less-than-a-minute",
    "more-than",
    "minute",
    "minutes",
    "caller-number",
    "at-least",
    "callers-ahead",
    "expected-wait",
)
"""Word fragments of durations and position announcements (same names in every language)."""


def _ordinal_bases() -> list[str]:
    return [str(n) for n in range(1, 20)] + [str(n) for n in range(20, 100, 10)] + ["hundred", "thousand"]


NUMBER_FRAGMENTS: tuple[str, ...] = (
    *(f"num-{n}" for n in range(20)),
    *(f"num-{n}" for n in range(20, 100, 10)),
    "num-hundred",
    "num-thousand",
    "num-1-f",
    "and",
    *(f"ord-{base}" for base in _ordinal_bases()),
    "ord-1-compound",
    *_KEYS.values(),
)
"""Fragments of numbers and ordinals: ``num-N``, ``ord-N``, ``num-1-f`` (feminine one: French "une"),
``and`` (French "et" in 21, 31... 71), ``ord-1-compound`` (French "unième" in 21st, 101st...), keys."""

ALL_FRAGMENTS: tuple[str, ...] = NUMBER_FRAGMENTS + ANNOUNCEMENT_FRAGMENTS
"""Every prompt name a sayer may return; ``prompts/sayers.yaml`` gives each a text per language."""


class Sayer:
    """Digit-by-digit sayer: the fallback of every language, and the base of the word sayers.

    Subclasses override :meth:`_words` (a cardinal in words, ``0 <= n <= MAX_WORDS``) and may override
    :meth:`_ordinal_words`. Sentences ("about four minutes") are built here from the same fragment
    names in every language, because English and French put the words in the same order.
    """

    code = "digits"
    """Name of the sayer, as written in ``prompts.sayer`` of the dial plan."""

    def number(self, n: int, *, feminine: bool = False) -> list[str]:
        """``n`` as fragments; ``feminine`` picks "une" over "un" in languages that have genders."""
        _check_number(n)
        if n > MAX_WORDS:
            return self.digits(str(n))
        words = self._words(n)
        if feminine and words and words[-1] == "num-1":
            words[-1] = "num-1-f"
        return words

    def ordinal(self, n: int) -> list[str]:
        """``n``-th as fragments ("third", "twenty-first"); 1 or more."""
        _check_number(n)
        if n < 1:
            raise ValueError(f"ordinals start at 1, not {n}")
        if n > MAX_WORDS:
            return self.digits(str(n))
        return self._ordinal_words(n)

    def digits(self, text: str) -> list[str]:
        """Read a dial string key by key ("0 6 1 2...", "star", "hash", "plus")."""
        out: list[str] = []
        for char in text:
            if "0" <= char <= "9":
                out.append(f"num-{char}")
            elif char in _KEYS:
                out.append(_KEYS[char])
            else:
                raise ValueError(f"cannot say {char!r}: only digits, '*', '#' and '+' can be read out")
        return out

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
            return ["more-than", *self.number(max_minutes, feminine=True), "minutes"]
        return ["about", *self.number(minutes, feminine=True), "minute" if minutes == 1 else "minutes"]

    def position(self, position: int, *, more_than: bool = False) -> list[str]:
        """Queue position: "you are caller number three", or with ``more_than`` (position capped at the
        announcement limit) "there are at least ten callers ahead of you"."""
        _check_number(position)
        if position < 1:
            raise ValueError(f"a queue position starts at 1, not {position}")
        if more_than:
            return ["at-least", *self.number(position), "callers-ahead"]
        return ["caller-number", *self.number(position)]

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

    def _words(self, n: int) -> list[str]:
        return self.digits(str(n))

    def _ordinal_words(self, n: int) -> list[str]:
        return self._words(n)


def _check_number(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"sayers say integers, not {type(n).__name__}")
    if n < 0:
        raise ValueError(f"cannot say a negative number ({n})")


DigitSayer = Sayer
"""The fallback sayer: numbers read digit by digit."""


def _to_ordinal(words: list[str]) -> list[str]:
    """Turn the last fragment of a cardinal into its ordinal (``num-20`` -> ``ord-20``)."""
    last = words[-1]
    if last == "num-1" and len(words) > 1:
        return [*words[:-1], "ord-1-compound"]
    return [*words[:-1], "ord-" + last.removeprefix("num-")]


class EnglishSayer(Sayer):
    """English (US usage: "one hundred five", no "and")."""

    code = "en"

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

    def _ordinal_words(self, n: int) -> list[str]:
        return _to_ordinal(self._words(n))


class FrenchSayer(Sayer):
    """French (France): "soixante et onze", "quatre-vingt-dix", "deux cents", "mille"."""

    code = "fr"

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

    def _ordinal_words(self, n: int) -> list[str]:
        return _to_ordinal(self._words(n))


SAYERS: dict[str, Sayer] = {"en": EnglishSayer(), "fr": FrenchSayer()}
"""Word sayers by code; any other language reads numbers digit by digit."""


def sayer_for(language: str, overrides: Mapping[str, str] | None = None) -> Sayer:
    """The sayer of ``language``: ``overrides`` (the dial plan's ``prompts.sayer``) first, then the
    language code itself, then its primary subtag (``fr-CA`` -> ``fr``), else digit by digit."""
    code = (overrides or {}).get(language, language)
    for candidate in (code, code.split("-", 1)[0].lower()):
        if candidate in SAYERS:
            return SAYERS[candidate]
    return Sayer()
