"""Business hours: is a schedule open, closed, or on a holiday at a given instant.

The interpreter never reads the wall clock: it is handed a function mapping its loop clock to an aware UTC
``datetime`` (:func:`wall_clock_from_offset`), and the instant is converted to the schedule's IANA zone here,
so opening hours follow daylight saving time changes.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable
from zoneinfo import ZoneInfo

from voxcenter.config.schema import Schedule

WallClock = Callable[[float], dt.datetime]
"""Loop time (seconds, as ``now`` everywhere) -> aware UTC datetime."""


class HoursStatus(enum.Enum):
    """Where an ``hours`` node branches."""

    OPEN = "open"
    CLOSED = "closed"
    HOLIDAY = "holiday"


def schedule_status(schedule: Schedule, at: dt.datetime) -> HoursStatus:
    """Status of ``schedule`` at the aware instant ``at``: a holiday date wins, then opening hours.

    Opening hours include ``open`` and exclude ``close`` (09:00-18:00 is open at 17:59:59, closed at 18:00).
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("schedule_status needs an aware datetime (a naive one has no place in time)")
    local = at.astimezone(ZoneInfo(schedule.timezone))
    today = local.date()
    if any(holiday.date == today for holiday in schedule.holidays):
        return HoursStatus.HOLIDAY
    clock = local.time().replace(tzinfo=None)
    weekday = local.weekday()
    for hours in schedule.hours:
        if weekday in hours.days and hours.open <= clock < hours.close:
            return HoursStatus.OPEN
    return HoursStatus.CLOSED


def wall_clock_from_offset(offset: float) -> WallClock:
    """A :data:`WallClock` for a loop clock that runs ``offset`` seconds behind the Unix epoch clock.

    The asyncio shell measures ``offset = time.time() - loop.time()`` once and passes the result.
    """

    def wall(now: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(now + offset, tz=dt.UTC)

    return wall


NEXT_OPEN_HORIZON_DAYS = 400
"""How far ahead :func:`next_open` looks (a year of holidays and a little more)."""


def next_open(schedule: Schedule, at: dt.datetime) -> dt.datetime | None:
    """The first instant at or after the aware ``at`` at which ``schedule`` is OPEN, in UTC.

    ``at`` itself when the schedule is open then; None when it never opens within
    :data:`NEXT_OPEN_HORIZON_DAYS` (no hours, or holidays on every opening day). Same rules as
    :func:`schedule_status`: ``open`` included, ``close`` excluded, a holiday closes the whole day.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("next_open needs an aware datetime (a naive one has no place in time)")
    zone = ZoneInfo(schedule.timezone)
    local = at.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    holidays = {holiday.date for holiday in schedule.holidays}
    if not schedule.hours:
        return None
    for offset in range(NEXT_OPEN_HORIZON_DAYS):
        day = local.date() + dt.timedelta(days=offset)
        if day in holidays:
            continue
        spans = sorted((hours for hours in schedule.hours if day.weekday() in hours.days), key=lambda h: h.open)
        for hours in spans:
            if offset == 0:
                if hours.close <= clock:
                    continue
                if hours.open <= clock:
                    return at.astimezone(dt.UTC)
            return dt.datetime.combine(day, hours.open, zone).astimezone(dt.UTC)
    return None
