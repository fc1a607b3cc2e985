"""Staffing advice: agents needed per interval of the day for a target service level, by Erlang C.

From the recorded history in ``[start, end)`` (optionally one queue), for each interval of the day (e.g. 09:00–09:30):

* arrivals = queued calls that arrived in that interval, averaged over the days of the period, times
  ``1 + growth`` for a what-if;
* AHT = Σ(talk + hold + wrap-up) ÷ answered calls of that interval (the period's AHT where none was answered);
* traffic A = arrivals × AHT ÷ interval length (erlangs);
* agents = the fewest N with Erlang C service level SL(N, A, AHT, within) ≥ target and A ÷ N ≤ max occupancy
  (:func:`voxcenter.acd.erlang.agents_for_service_level`), with the SL, ASA and occupancy A ÷ N they give;
* peak concurrent calls: the most calls in progress at once (arrival to end) seen in that interval on any day.

Arrival counts are aggregated in SQL; the concurrency sweep reads two numbers per call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from voxcenter.acd.erlang import agents_for_service_level, average_speed_of_answer, service_level
from voxcenter.reports.kpi import ReportError, bucket, calls

DAY: Final = 86400


@dataclass(frozen=True, slots=True)
class StaffingRow:
    """Advice for one interval of the day."""

    slot_start: int
    """Seconds after local midnight."""
    arrivals: float
    """Expected queued calls in the interval (average per day, growth applied)."""
    aht: float
    """Average handle time used, seconds."""
    traffic: float
    """Offered load, erlangs."""
    agents: int
    """Agents needed."""
    service_level: float
    """Service level those agents give (Erlang C)."""
    asa: float
    """Average speed of answer they give, seconds."""
    occupancy: float
    """traffic ÷ agents."""
    peak_concurrent: int
    """Most calls in progress at once in this interval, in the history."""
    scheduled: int = 0
    """Agents to put on the roster so that ``agents`` are on the phones after shrinkage."""


@dataclass(frozen=True, slots=True)
class StaffingPlan:
    """Advice for every interval of the day that saw calls."""

    start: float
    """History start, POSIX seconds."""
    end: float
    """History end (exclusive)."""
    days: int
    """Days of history the arrivals are averaged over."""
    queue: str | None
    """Queue restricted to."""
    interval: int
    """Interval length, seconds."""
    target: float
    """Service-level goal (0..1)."""
    within: float
    """Answer-time threshold, seconds."""
    growth: float
    """Volume growth applied (0.3 = +30 %)."""
    rows: tuple[StaffingRow, ...]
    """In time-of-day order."""
    shrinkage: float = 0.0
    """Share of paid time agents are not on the phones (absence, breaks, training), 0..1."""
    timezone: str = "UTC"
    """Time zone of the intervals' times of day."""

    @property
    def peak_agents(self) -> int:
        """Most agents needed in any interval."""
        return max((row.agents for row in self.rows), default=0)

    @property
    def peak_scheduled(self) -> int:
        """Most agents to schedule in any interval (shrinkage included)."""
        return max((row.scheduled for row in self.rows), default=0)


def scheduled_agents(agents: int, shrinkage: float) -> int:
    """Agents to schedule so that ``agents`` are available when ``shrinkage`` of their time is lost."""
    if not 0 <= shrinkage < 1:
        raise ReportError("shrinkage must be at least 0 and below 100 %")
    return math.ceil(round(agents / (1.0 - shrinkage), 9))


def plan_interval(
    arrivals: float, aht: float, interval: int, target: float, within: float, max_occupancy: float = 1.0
) -> tuple[float, int, float, float, float]:
    """(traffic, agents, service level, ASA, occupancy) for one interval; pure, by Erlang C."""
    traffic = arrivals * aht / interval if aht > 0 else 0.0
    if traffic <= 0:
        return 0.0, 0, 1.0, 0.0, 0.0
    agents = agents_for_service_level(traffic, aht, within, target, max_occupancy)
    return (
        traffic,
        agents,
        service_level(agents, traffic, aht, within),
        average_speed_of_answer(agents, traffic, aht),
        traffic / agents,
    )


def peak_concurrency(spans: list[tuple[float, float]], interval: int, utc_offset: float) -> dict[int, int]:
    """Most simultaneous half-open spans [start, end) per slot of the day (slot index → count); a pure sweep.

    Spans of zero length (calls still in progress have no end yet) are left out.
    """
    slots_per_day = DAY // interval
    kept = [(begin, finish) for begin, finish in spans if finish > begin]
    if not kept:
        return {}

    def index_of(at: float) -> int:
        return math.floor((at + utc_offset) / interval)

    # (time, delta, bucket index): ends (-1) sort before slot boundaries (0) before starts (+1) at one instant,
    # so back-to-back calls are not concurrent and a boundary sees the calls that continue through it.
    points: list[tuple[float, int, int]] = []
    for begin, finish in kept:
        points.append((begin, 1, index_of(begin)))
        points.append((finish, -1, index_of(finish)))
    first = min(index for _at, _delta, index in points)
    last = max(index for _at, _delta, index in points)
    points.extend((k * interval - utc_offset, 0, k) for k in range(first + 1, last + 1))
    points.sort(key=lambda point: (point[0], point[1]))
    peaks: dict[int, int] = {}
    level = 0
    for _at, delta, index in points:
        level += delta
        if delta >= 0:
            slot = index % slots_per_day
            peaks[slot] = max(peaks.get(slot, 0), level)
    return peaks


async def staffing_plan(
    engine: AsyncEngine,
    start: float,
    end: float,
    *,
    queue: str | None = None,
    interval: int = 1800,
    target: float = 0.8,
    within: float = 20.0,
    growth: float = 0.0,
    max_occupancy: float = 1.0,
    utc_offset: float = 0.0,
    shrinkage: float = 0.0,
    timezone: str = "UTC",
) -> StaffingPlan:
    """Agents needed per interval of the day, from the history in ``[start, end)`` (see the module docstring)."""
    if end <= start:
        raise ReportError("the history's end must be after its start")
    if interval <= 0 or DAY % interval:
        raise ReportError("the interval must divide a day (e.g. 900, 1800, 3600 seconds)")
    if not 0 < target < 1:
        raise ReportError("the service-level target must be between 0 and 1 (e.g. 0.8)")
    if growth <= -1:
        raise ReportError("growth must be above -100 %")
    if not 0 < max_occupancy <= 1:
        raise ReportError("the occupancy cap must be in (0, 1]")
    scheduled_agents(0, shrinkage)  # refuses a shrinkage outside [0, 1) before any query
    days = max(1, math.ceil((end - start) / DAY))
    slots_per_day = DAY // interval
    queued = calls.c.queue_entered_at.is_not(None)
    answered = and_(queued, calls.c.agent_answered_at.is_not(None))
    handle = calls.c.talk_seconds + calls.c.hold_seconds + calls.c.wrapup_seconds
    where = and_(calls.c.arrived_at >= start, calls.c.arrived_at < end, queued)
    if queue is not None:
        where = and_(where, calls.c.queue == queue)
    absolute = bucket(calls.c.arrived_at, interval, utc_offset, engine.dialect.name).label("bucket")
    query = (
        select(
            absolute,
            func.count().label("arrivals"),
            func.coalesce(func.sum(case((answered, 1), else_=0)), 0).label("answered"),
            func.coalesce(func.sum(case((answered, handle), else_=0.0)), 0.0).label("handle"),
        )
        .where(where)
        .group_by(absolute)
    )
    span_query = select(calls.c.arrived_at, func.coalesce(calls.c.ended_at, calls.c.arrived_at)).where(where)
    per_slot: dict[int, list[float]] = {}
    async with engine.connect() as conn:
        for row in (await conn.execute(query)).all():
            slot = round((float(row.bucket) + utc_offset) / interval) % slots_per_day
            acc = per_slot.setdefault(slot, [0.0, 0.0, 0.0])
            acc[0] += int(row.arrivals)
            acc[1] += int(row.answered)
            acc[2] += float(row.handle)
        spans = [(float(a), float(b)) for a, b in (await conn.execute(span_query)).all()]
    total_answered = sum(acc[1] for acc in per_slot.values())
    overall_aht = sum(acc[2] for acc in per_slot.values()) / total_answered if total_answered else 0.0
    peaks = peak_concurrency(spans, interval, utc_offset)
    rows = []
    for slot in sorted(per_slot):
        arrivals_total, answered_count, handle_total = per_slot[slot]
        arrivals = arrivals_total / days * (1.0 + growth)
        aht = handle_total / answered_count if answered_count else overall_aht
        traffic, agents, sl, asa, occupancy = plan_interval(arrivals, aht, interval, target, within, max_occupancy)
        rows.append(
            StaffingRow(slot * interval, arrivals, aht, traffic, agents, sl, asa, occupancy, peaks.get(slot, 0),
                        scheduled_agents(agents, shrinkage))
        )
    return StaffingPlan(start, end, days, queue, interval, target, within, growth, tuple(rows), shrinkage,
                        timezone)
