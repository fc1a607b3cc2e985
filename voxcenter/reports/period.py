"""The period a report or staffing plan covers, from what an operator types: ``--from today``, ``--from 2026-11-20``.

Pure: the time zone and ``now`` are passed in. Days and weeks start at midnight in the dial plan's time zone
(weeks on Monday, ISO 8601), so "today" means the same day on the wallboard and in the report.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo

from voxcenter.reports.kpi import ReportError

KEYWORDS = ("today", "yesterday", "this-week", "last-week")
"""Words ``--from`` takes besides dates; each has a whole-period default ``--to``."""


def _midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(0, 0), zone)


def _moment(text: str, zone: tzinfo) -> tuple[datetime, bool]:
    """A point in time and whether it was a bare date (a whole day)."""
    try:
        return datetime.fromtimestamp(float(text), zone), False
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ReportError(f"{text!r} is not a date like 2026-11-20 or 2026-11-20T09:00, "
                          f"nor one of {', '.join(KEYWORDS)}") from None
    whole_day = len(text.strip()) == 10
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment, whole_day


def resolve_period(start: str, end: str | None, zone: tzinfo, now: datetime) -> tuple[float, float]:
    """``[start, end)`` in POSIX seconds.

    Without ``end``: the whole day, week or date named by ``start``, or up to ``now`` for a date and time.
    ``end`` takes the same forms as ``start`` (a keyword is the start of that day or week) and ``now``.
    """
    today = now.astimezone(zone).date()
    monday = today - timedelta(days=today.weekday())
    periods = {
        "today": (today, today + timedelta(days=1)),
        "yesterday": (today - timedelta(days=1), today),
        "this-week": (monday, monday + timedelta(days=7)),
        "last-week": (monday - timedelta(days=7), monday),
    }
    word = start.strip().lower()
    if word in periods:
        first, after = periods[word]
        begin, default_end = _midnight(first, zone), _midnight(after, zone)
    else:
        begin, whole_day = _moment(start, zone)
        default_end = begin + timedelta(days=1) if whole_day else now
    if end is None:
        finish = default_end
    elif end.strip().lower() == "now":
        finish = now
    elif end.strip().lower() in periods:
        finish = _midnight(periods[end.strip().lower()][0], zone)
    else:
        finish, _ = _moment(end, zone)
    if finish <= begin:
        raise ReportError("the report's end must be after its start")
    return begin.timestamp(), finish.timestamp()
