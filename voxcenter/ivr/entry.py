"""Collecting a string of keys: minimum and maximum length, terminator, pattern (Asterisk ``Read``,
FreeSWITCH ``play_and_get_digits``). Pure: the interpreter owns the timers and the prompts.

The keys collected are never put in an exception or a ``repr``: a sensitive entry may hold a card number.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

DEFAULT_FIRST_DIGIT_TIMEOUT = 10.0
"""Wait for the first key after the prompts (Asterisk's and FreeSWITCH's response timeout)."""
DEFAULT_INTER_DIGIT_TIMEOUT = 5.0
"""Wait between keys; its expiry ends the entry."""
DEFAULT_MAX_FAILURES = 3
"""Invalid or missing entries before the fallback."""


@dataclass(frozen=True, slots=True)
class EntryRules:
    """How an entry is collected and judged."""

    min_digits: int = 1
    """Fewest keys accepted."""
    max_digits: int = 20
    """The entry ends by itself at this many keys."""
    terminator: str | None = "#"
    """Key that ends the entry early (not kept)."""
    pattern: str | None = None
    """Regular expression the whole entry must match."""
    first_digit_timeout: float = DEFAULT_FIRST_DIGIT_TIMEOUT
    """Wait for the first key."""
    inter_digit_timeout: float = DEFAULT_INTER_DIGIT_TIMEOUT
    """Wait between keys."""
    complete: Callable[[str], bool] | None = None
    """Ends the entry early when true for the keys so far (a survey's ``5`` needs no second key)."""


@dataclass(slots=True)
class DigitEntry:
    """Keys collected so far against :class:`EntryRules`."""

    rules: EntryRules
    """The rules."""
    keys: list[str] = field(default_factory=list, repr=False)
    """Keys kept (the terminator excluded)."""
    finished: bool = False
    """No more keys are taken."""

    def add(self, key: str) -> bool:
        """Take one key; True when the entry is finished (terminator, maximum length or ``complete``)."""
        if self.finished:
            return True
        if key == self.rules.terminator:
            self.finished = True
        else:
            self.keys.append(key)
            text = "".join(self.keys)
            complete = self.rules.complete
            self.finished = len(self.keys) >= self.rules.max_digits or (complete is not None and complete(text))
        return self.finished

    def finish(self) -> None:
        """End the entry (inter-digit timeout)."""
        self.finished = True

    def next_timeout(self) -> float:
        """Seconds to wait for the next key."""
        return self.rules.inter_digit_timeout if self.keys else self.rules.first_digit_timeout

    @property
    def text(self) -> str:
        """The keys as a string."""
        return "".join(self.keys)

    def problem(self) -> str | None:
        """Why the entry is refused (``no input``, ``too short``, ``too long``, ``no match``), or None."""
        text = self.text
        if not text:
            return "no input"
        if len(text) < self.rules.min_digits:
            return "too short"
        if len(text) > self.rules.max_digits:
            return "too long"
        if self.rules.pattern is not None and re.fullmatch(self.rules.pattern, text) is None:
            return "no match"
        return None
