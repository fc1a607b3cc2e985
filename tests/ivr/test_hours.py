"""Business hours in a time zone, across daylight saving changes."""

from __future__ import annotations

import datetime as dt

import pytest

from voxcenter.config.schema import Schedule
from voxcenter.ivr.hours import HoursStatus, next_open, schedule_status

NEW_YORK = Schedule.model_validate({
    "timezone": "America/New_York",
    "hours": [{"days": "mon-fri", "open": "08:00", "close": "20:00"},
              {"days": "sat", "open": "10:00", "close": "14:00"}],
    "holidays": [{"date": "2026-11-26", "name": "Thanksgiving"}],
})


@pytest.mark.parametrize(
    ("utc", "status"),
    [
        (dt.datetime(2026, 10, 30, 12, 0), HoursStatus.OPEN),      # Fri 08:00 EDT (UTC-4)
        (dt.datetime(2026, 10, 30, 11, 59), HoursStatus.CLOSED),
        (dt.datetime(2026, 11, 2, 12, 30), HoursStatus.CLOSED),    # Mon 07:30 EST (UTC-5) after the change
        (dt.datetime(2026, 11, 2, 13, 0), HoursStatus.OPEN),       # Mon 08:00 EST
        (dt.datetime(2026, 11, 7, 15, 0), HoursStatus.OPEN),       # Sat 10:00 EST
        (dt.datetime(2026, 11, 7, 19, 0), HoursStatus.CLOSED),     # Sat 14:00
        (dt.datetime(2026, 11, 26, 15, 0), HoursStatus.HOLIDAY),
        (dt.datetime(2026, 11, 27, 1, 0), HoursStatus.HOLIDAY),    # still Thursday evening in New York
    ],
)
def test_status(utc: dt.datetime, status: HoursStatus) -> None:
    assert schedule_status(NEW_YORK, utc.replace(tzinfo=dt.UTC)) is status


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="aware datetime"):
        schedule_status(NEW_YORK, dt.datetime(2026, 1, 1, 12, 0))


@pytest.mark.parametrize(
    ("utc", "opens"),
    [
        (dt.datetime(2026, 10, 30, 12, 0), dt.datetime(2026, 10, 30, 12, 0)),   # open now: now
        (dt.datetime(2026, 10, 30, 11, 0), dt.datetime(2026, 10, 30, 12, 0)),   # Fri before 08:00 EDT
        (dt.datetime(2026, 10, 31, 0, 0), dt.datetime(2026, 10, 31, 14, 0)),    # Fri 20:00 EDT: Sat 10:00 EDT
        (dt.datetime(2026, 10, 31, 18, 0), dt.datetime(2026, 11, 2, 13, 0)),    # Sat 14:00: Mon 08:00, now EST
        (dt.datetime(2026, 11, 26, 12, 0), dt.datetime(2026, 11, 27, 13, 0)),   # Thanksgiving: Friday
    ],
)
def test_next_open_is_the_first_open_instant_across_closing_holidays_and_dst(utc: dt.datetime,
                                                                             opens: dt.datetime) -> None:
    assert next_open(NEW_YORK, utc.replace(tzinfo=dt.UTC)) == opens.replace(tzinfo=dt.UTC)


def test_next_open_of_a_schedule_without_hours_is_none() -> None:
    never = Schedule.model_validate({"timezone": "UTC"})
    assert next_open(never, dt.datetime(2026, 1, 1, tzinfo=dt.UTC)) is None
    with pytest.raises(ValueError, match="aware"):
        next_open(NEW_YORK, dt.datetime(2026, 1, 1))
