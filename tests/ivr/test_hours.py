"""Business hours in a time zone, across daylight saving changes."""

from __future__ import annotations

import datetime as dt

import pytest

from voxcenter.config.schema import Schedule
from voxcenter.ivr.hours import HoursStatus, schedule_status

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
