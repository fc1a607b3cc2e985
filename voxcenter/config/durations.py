"""Durations with units: ``15s``, ``2m``, ``1h30m``, ``500ms``, ``1d``.

A bare number is refused on purpose: ``timeout: 10`` could mean seconds or
milliseconds, and guessing wrong makes a menu hang up on every caller.
Parts go from the largest unit to the smallest, each unit at most once.
"""

from __future__ import annotations

import re
from fractions import Fraction

UNIT_SECONDS: dict[str, Fraction] = {
    "d": Fraction(86400),
    "h": Fraction(3600),
    "m": Fraction(60),
    "s": Fraction(1),
    "ms": Fraction(1, 1000),
}
"""Seconds per unit, from the largest unit to the smallest (the order parts must follow)."""

_UNIT_ORDER = list(UNIT_SECONDS)
# One part: a non-negative decimal number then a unit; "ms" before "m" so "500ms" is not "500m" + "s".
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|d|h|m|s)")


class DurationError(ValueError):
    """The text is not a duration; the message says how to write one."""


def parse_duration(text: str) -> float:
    """Parse ``1h30m`` into seconds (5400.0). Raises :class:`DurationError` with a hint."""
    if isinstance(text, bool) or not isinstance(text, str):
        if isinstance(text, int | float) and not isinstance(text, bool):
            raise DurationError(
                f"a duration needs a unit: write {_fmt_number(text)}s for seconds "
                f"(or {_fmt_number(text)}ms, {_fmt_number(text)}m, {_fmt_number(text)}h)"
            )
        raise DurationError(f"a duration must be text such as 15s, 2m or 1h30m, not {type(text).__name__}")
    stripped = text.strip()
    if not stripped:
        raise DurationError("empty duration: write for example 15s, 2m or 1h30m")
    if re.fullmatch(r"\d+(?:\.\d+)?", stripped):
        raise DurationError(f"a duration needs a unit: write {stripped}s for seconds (or {stripped}ms, {stripped}m)")
    total = Fraction(0)
    position = 0
    last_unit = -1
    for match in _PART.finditer(stripped):
        if match.start() != position:
            break
        unit_index = _UNIT_ORDER.index(match.group(2))
        if unit_index <= last_unit:
            raise DurationError(
                f"bad duration {text!r}: units go from largest to smallest, each once (d, h, m, s, ms), e.g. 1h30m"
            )
        last_unit = unit_index
        total += Fraction(match.group(1)) * UNIT_SECONDS[match.group(2)]
        position = match.end()
    if position != len(stripped) or last_unit < 0:
        raise DurationError(f"bad duration {text!r}: write for example 500ms, 15s, 2m, 1h30m or 1d")
    return float(total)


def cli_duration(text: str) -> float:
    """An argparse ``type=``: a duration with its unit (``3m``, ``90s``), as the dial plan writes them."""
    import argparse

    try:
        return parse_duration(text)
    except DurationError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def format_duration(seconds: float) -> str:
    """Render seconds in the shortest canonical form ``parse_duration`` accepts (90.0 -> ``1m30s``)."""
    if seconds < 0:
        raise ValueError("durations are never negative")
    remaining = round(Fraction(seconds) * 1000)  # whole milliseconds
    if remaining == 0:
        return "0s"
    parts: list[str] = []
    for unit, size in UNIT_SECONDS.items():
        unit_ms = int(size * 1000)
        count, remaining = divmod(remaining, unit_ms)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def _fmt_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
