"""Column types for times and durations: what the database stores, and what voxcenter reads back.

Records carry times as POSIX seconds (UTC floats) and durations as seconds. In the database:

- a time is a ``timestamptz`` in PostgreSQL and ISO 8601 text in SQLite, always the same 24 characters
  (``2026-12-02T20:31:43.123Z``: UTC, milliseconds), so that text order is time order and SQLite's own date
  functions read it; both are rounded to the millisecond;
- a duration is a double rounded to the millisecond.

Reading through these types gives POSIX seconds back, so the rest of voxcenter never sees the difference.
:func:`epoch` is the SQL expression for a time column in POSIX seconds, for the arithmetic reports do.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Double, Integer, String, cast, func
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator, TypeEngine

ISO_FORMAT = "%Y-%m-%dT%H:%M:%S.{millis:03d}Z"
"""SQLite text of a time (``strftime`` format, then the milliseconds)."""


def iso_text(seconds: float) -> str:
    """POSIX seconds as the SQLite text of a time, rounded to the millisecond."""
    millis = round(seconds * 1000)
    whole, remainder = divmod(millis, 1000)
    return datetime.fromtimestamp(whole, UTC).strftime(ISO_FORMAT.format(millis=remainder))


def from_iso_text(text: str) -> float:
    """The POSIX seconds of a time stored as text (ours, or any ISO 8601 with an offset or ``Z``)."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return round(parsed.timestamp(), 3)


def _seconds_of(value: object) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float):
        return float(value)
    raise TypeError(f"a time must be POSIX seconds or a datetime, not {type(value).__name__}")


class Timestamp(TypeDecorator[float]):
    """A point in time: ``timestamptz`` (PostgreSQL) or ISO 8601 text (SQLite); POSIX seconds in Python."""

    impl = String(24)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.TIMESTAMP(timezone=True))
        return dialect.type_descriptor(String(24))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        seconds = _seconds_of(value)
        if dialect.name == "postgresql":
            return datetime.fromtimestamp(round(seconds, 3), UTC)
        return iso_text(seconds)

    def process_result_value(self, value: Any, dialect: Dialect) -> float | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return round(value.timestamp(), 3)
        if isinstance(value, str):
            return from_iso_text(value)
        return float(value)


class Seconds(TypeDecorator[float]):
    """A duration in seconds, stored rounded to the millisecond."""

    impl = Double
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else round(float(value), 3)


def epoch(column: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    """SQL for the POSIX seconds of a :class:`Timestamp` column (whole seconds in SQLite, exact in PostgreSQL)."""
    if dialect == "postgresql":
        return func.extract("epoch", column)
    # strftime('%s') reads our ISO text; whole seconds are enough for intervals and buckets.
    return cast(func.strftime("%s", column), Integer)
