"""Contact-center KPIs per interval, aggregated in SQL from ``calls``, ``callbacks`` and ``surveys``.

Notation, for the calls that arrived in the interval (and, with ``queue``, entered that queue):

* T — the service-level threshold (``sl_threshold``, e.g. 20 s); S — the short-abandon threshold (e.g. 5 s).
* *queued*: the call entered a queue. *answered*: queued and an agent answered. *short abandon*: queued,
  disposition ``abandoned_queue`` and wait < S (a wrong number, not a service failure: excluded from every
  figure below except its own count). *abandoned*: queued, ``abandoned_queue`` and wait ≥ S.
  *offered* = queued − short abandons.
* missed = inbound calls that were offered to a queue and never reached an agent (abandoned, timed out, sent
  to voicemail or callback, overflowed).
* AHT = Σ(talk + hold + wrap-up) ÷ answered.
* ASA = Σ wait(answered) ÷ answered. Average wait = Σ wait(offered) ÷ offered; longest wait = max wait(offered).
* abandonment rate = abandoned ÷ offered.
* service level SL = answered with wait ≤ T ÷ (answered + abandoned): :func:`voxcenter.acd.stats.service_level`,
  the one definition the live figures (API, wallboard, metrics) use too.
* SL2 = answered with wait ≤ T ÷ (answered + abandoned with wait > T): callers who gave up after T count as
  failures, those who gave up before T are left out.
* SL2 (Asterisk) = (answered with wait ≤ T + abandoned with wait ≤ T) ÷ (answered + abandoned): app_queue's
  ``servicelevelperf2``, which counts an abandon within T as served in time.
* callbacks = callbacks requested (and completed, failed, cancelled) in the interval, by ``requested_at``;
  callback attempts = Σ customer dials of those callbacks.
* callback SLA = callbacks whose first attempt was dialled within their queue's target (``callback.sla``,
  counted from the due time, or the booking when booked for now) ÷ callbacks *judged*: dialled at all, or
  not dialled once their target has passed (the report's ``now``); one cancelled before it was dialled is left
  out, and so is a completed one with no first dial recorded (booked before voxcenter recorded it). The target
  is the one in force when the callback was booked (``callbacks.sla_seconds``).
* NPS = 100 × (promoters (9–10) − detractors (0–6)) ÷ surveys answered, by survey time.
* EWT accuracy (per queue) = answered calls whose wait ``w`` was within ``max(30 s, 25 % of w)`` of the estimate
  they were given when they joined (``calls.ewt_seconds``) ÷ answered calls that waited (w > 0) and were given
  one: :func:`voxcenter.acd.stats.ewt_hit` and :func:`~voxcenter.acd.stats.ewt_accuracy`, the definition the
  simulator uses too.

Ratios are ``None`` when their denominator is zero. Intervals are aligned on ``utc_offset`` (seconds east of UTC)
so that ``day`` means a local day.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Final

from sqlalchemy import ColumnElement, Integer, and_, case, cast, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from voxcenter.acd.stats import EWT_HIT_FLOOR, EWT_HIT_SHARE, ewt_accuracy, service_level
from voxcenter.store.models import Base
from voxcenter.store.types import epoch

INTERVALS: Final = {"15m": 900, "30m": 1800, "hour": 3600, "day": 86400}
"""Interval names accepted by reports, in seconds."""

WAIT_BANDS: Final = (0.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)
"""Lower edges of the wait-distribution bands, seconds (the last band is open-ended)."""

calls = Base.metadata.tables["calls"]
callbacks = Base.metadata.tables["callbacks"]
surveys = Base.metadata.tables["surveys"]


class ReportError(ValueError):
    """The report was asked for with impossible parameters: the user's input is wrong."""


def interval_seconds(name: str) -> int:
    """Seconds in the interval called ``name`` (``15m``, ``30m``, ``hour``, ``day``)."""
    try:
        return INTERVALS[name]
    except KeyError:
        raise ReportError(f"interval must be one of {', '.join(INTERVALS)}, not {name!r}") from None


@dataclass(frozen=True, slots=True)
class KpiRow:
    """Counters of one interval (or of the whole period); the KPIs are properties computed from them."""

    start: float
    """Interval start, POSIX seconds."""
    inbound: int = 0
    """Inbound calls."""
    outbound: int = 0
    """Outbound calls."""
    offered: int = 0
    """Calls offered to a queue, short abandons excluded."""
    answered: int = 0
    """Queued calls answered by an agent."""
    abandoned: int = 0
    """Queued calls abandoned after the short-abandon threshold."""
    short_abandons: int = 0
    """Queued calls abandoned before the short-abandon threshold."""
    missed: int = 0
    """Inbound calls offered to a queue that never reached an agent."""
    answered_within: int = 0
    """Answered with wait ≤ T."""
    abandoned_within: int = 0
    """Abandoned (not short) with wait ≤ T."""
    abandoned_after: int = 0
    """Abandoned with wait > T."""
    handle_seconds: float = 0.0
    """Σ talk + hold + wrap-up of answered calls."""
    answer_wait_seconds: float = 0.0
    """Σ wait of answered calls."""
    offered_wait_seconds: float = 0.0
    """Σ wait of offered calls."""
    longest_wait: float = 0.0
    """Longest wait of an offered call."""
    callbacks_requested: int = 0
    """Callbacks requested."""
    callbacks_completed: int = 0
    """Callbacks requested in the interval and completed (by now)."""
    callbacks_failed: int = 0
    """Callbacks requested in the interval and given up (attempts used, or expired)."""
    callbacks_cancelled: int = 0
    """Callbacks requested in the interval and cancelled."""
    callback_attempts: int = 0
    """Customer dials of the callbacks requested in the interval."""
    callbacks_judged: int = 0
    """Callbacks the SLA is measured on (dialled, or past their target undialled)."""
    callbacks_within_sla: int = 0
    """Callbacks first dialled within their target."""
    surveys: int = 0
    """Surveys answered."""
    promoters: int = 0
    """Surveys scored 9 or 10."""
    detractors: int = 0
    """Surveys scored 0 to 6."""

    @property
    def aht(self) -> float | None:
        """Average handle time, seconds."""
        return self.handle_seconds / self.answered if self.answered else None

    @property
    def asa(self) -> float | None:
        """Average speed of answer, seconds."""
        return self.answer_wait_seconds / self.answered if self.answered else None

    @property
    def average_wait(self) -> float | None:
        """Average wait of offered calls, seconds."""
        return self.offered_wait_seconds / self.offered if self.offered else None

    @property
    def abandonment_rate(self) -> float | None:
        """abandoned ÷ offered."""
        return self.abandoned / self.offered if self.offered else None

    @property
    def service_level(self) -> float | None:
        """answered within T ÷ (answered + abandoned), short abandons left out (``acd.stats.service_level``)."""
        return service_level(self.answered_within, self.answered, self.abandoned)

    @property
    def service_level_2(self) -> float | None:
        """answered within T ÷ (answered + abandoned after T)."""
        denominator = self.answered + self.abandoned_after
        return self.answered_within / denominator if denominator else None

    @property
    def service_level_2_asterisk(self) -> float | None:
        """(answered within T + abandoned within T) ÷ (answered + abandoned), as Asterisk's app_queue."""
        denominator = self.answered + self.abandoned
        return (self.answered_within + self.abandoned_within) / denominator if denominator else None

    @property
    def callback_sla(self) -> float | None:
        """Callbacks first dialled within target ÷ callbacks judged (see the module docstring)."""
        return self.callbacks_within_sla / self.callbacks_judged if self.callbacks_judged else None

    @property
    def nps(self) -> float | None:
        """Net promoter score, −100..100."""
        return 100.0 * (self.promoters - self.detractors) / self.surveys if self.surveys else None

    def merged(self, other: KpiRow) -> KpiRow:
        """Counters of both (the start of ``self``)."""
        values: dict[str, Any] = {"start": self.start}
        for f in fields(self):
            if f.name == "start":
                continue
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            values[f.name] = max(mine, theirs) if f.name == "longest_wait" else mine + theirs
        return KpiRow(**values)

    def as_dict(self) -> dict[str, Any]:
        """Counters and KPIs, for CSV and JSON."""
        result: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in KPI_NAMES:
            result[name] = getattr(self, name)
        return result


KPI_NAMES: Final = (
    "aht",
    "asa",
    "average_wait",
    "abandonment_rate",
    "service_level",
    "service_level_2",
    "service_level_2_asterisk",
    "callback_sla",
    "nps",
)


@dataclass(frozen=True, slots=True)
class AgentRow:
    """Calls handled by one agent in the period."""

    agent: str
    """Agent name."""
    calls: int
    """Calls answered."""
    handle_seconds: float
    """Σ talk + hold + wrap-up."""
    talk_seconds: float
    """Σ talk."""
    surveys: int = 0
    """Post-call surveys answered about this agent's calls (by survey time, in the period)."""
    promoters: int = 0
    """Of those, scored 9 or 10."""
    detractors: int = 0
    """Of those, scored 0 to 6."""

    @property
    def aht(self) -> float | None:
        """Average handle time, seconds."""
        return self.handle_seconds / self.calls if self.calls else None

    @property
    def nps(self) -> float | None:
        """Net promoter score of the agent's surveys, −100..100 (the same definition as ``KpiRow.nps``)."""
        return 100.0 * (self.promoters - self.detractors) / self.surveys if self.surveys else None


@dataclass(frozen=True, slots=True)
class EwtRow:
    """The wait estimate's accuracy in one queue over the period."""

    queue: str
    """Queue name."""
    judged: int
    """Answered calls that waited and had an estimate at join."""
    hits: int
    """Of those, estimates that were hits."""
    mean_ewt: float
    """Mean estimate at join of the judged calls, seconds."""
    mean_wait: float
    """Mean actual wait of the judged calls, seconds."""

    @property
    def accuracy(self) -> float | None:
        """THE EWT accuracy (``acd.stats.ewt_accuracy``)."""
        return ewt_accuracy(self.hits, self.judged)


@dataclass(frozen=True, slots=True)
class WaitBand:
    """Offered calls whose wait fell in [low, high)."""

    low: float
    """Lower edge, seconds."""
    high: float | None
    """Upper edge, seconds (``None``: open-ended)."""
    answered: int
    """Answered calls in the band."""
    abandoned: int
    """Abandoned (not short) calls in the band."""
    other: int
    """Other offered calls (timeout, voicemail, callback, overflow)."""


@dataclass(frozen=True, slots=True)
class Report:
    """A KPI report of ``[start, end)``."""

    start: float
    """Period start, POSIX seconds (inclusive)."""
    end: float
    """Period end (exclusive)."""
    queue: str | None
    """Queue the report is restricted to."""
    interval: str
    """Interval name."""
    sl_threshold: float
    """T, seconds."""
    short_abandon: float
    """S, seconds."""
    utc_offset: float
    """Seconds east of UTC the intervals are aligned on."""
    rows: tuple[KpiRow, ...]
    """One per interval that saw any activity, in time order."""
    total: KpiRow
    """The whole period."""
    agents: tuple[AgentRow, ...] = field(default=())
    """Per agent, busiest first."""
    wait_distribution: tuple[WaitBand, ...] = field(default=())
    """Offered calls by wait band."""
    timezone: str = "UTC"
    """Name of the time zone the intervals are shown in (``utc_offset`` is its offset at the start)."""
    ewt: tuple[EwtRow, ...] = field(default=())
    """EWT accuracy per queue (queues with judged calls), by name."""


def bucket(column: Any, seconds: int, utc_offset: float, dialect: str) -> ColumnElement[Any]:
    """SQL for the start of the interval (POSIX seconds) containing the time ``column``, on both dialects."""
    shifted = epoch(column, dialect) + utc_offset
    if dialect == "sqlite":
        # SQLite's floor() is optional; CAST truncates, which equals floor for positive times.
        index: ColumnElement[Any] = cast(shifted / seconds, Integer)
    else:
        index = func.floor(shifted / seconds)
    return index * seconds - utc_offset


def _count(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _total(condition: ColumnElement[bool], value: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, value), else_=0.0)), 0.0)


def _call_conditions(sl_threshold: float, short_abandon: float) -> dict[str, ColumnElement[bool]]:
    wait = func.coalesce(calls.c.wait_seconds, 0.0)
    queued = calls.c.queue_entered_at.is_not(None)
    gave_up = and_(queued, calls.c.disposition == "abandoned_queue")
    short = and_(gave_up, wait < short_abandon)
    abandoned = and_(gave_up, wait >= short_abandon)
    answered = and_(queued, calls.c.agent_answered_at.is_not(None))
    offered = and_(queued, ~short)
    return {
        "queued": queued,
        "short": short,
        "abandoned": abandoned,
        "answered": answered,
        "offered": offered,
        "missed": and_(calls.c.direction == "inbound", offered, calls.c.agent_answered_at.is_(None)),
        "answered_within": and_(answered, wait <= sl_threshold),
        "abandoned_within": and_(abandoned, wait <= sl_threshold),
        "abandoned_after": and_(abandoned, wait > sl_threshold),
        "ewt_judged": and_(answered, wait > 0.0, calls.c.ewt_seconds.is_not(None)),
    }


def _ewt_hit(wait: ColumnElement[Any]) -> ColumnElement[bool]:
    """SQL of ``acd.stats.ewt_hit`` on a call's estimate at join and its wait."""
    off = func.abs(wait - calls.c.ewt_seconds)
    return or_(off <= EWT_HIT_FLOOR, off <= EWT_HIT_SHARE * wait)


async def build_report(
    engine: AsyncEngine,
    start: float,
    end: float,
    *,
    queue: str | None = None,
    interval: str = "hour",
    sl_threshold: float = 20.0,
    short_abandon: float = 5.0,
    utc_offset: float = 0.0,
    timezone: str = "UTC",
    now: float | None = None,
) -> Report:
    """KPIs of the calls that arrived in ``[start, end)``, per ``interval``, with totals, agents and waits.

    ``now`` (default ``end``) decides which undialled callbacks are already past their target."""
    if end <= start:
        raise ReportError("the report's end must be after its start")
    if sl_threshold < 0 or short_abandon < 0:
        raise ReportError("thresholds must not be negative")
    seconds = interval_seconds(interval)
    dialect = engine.dialect.name
    cond = _call_conditions(sl_threshold, short_abandon)
    wait = func.coalesce(calls.c.wait_seconds, 0.0)
    handle = calls.c.talk_seconds + calls.c.hold_seconds + calls.c.wrapup_seconds
    in_period = and_(calls.c.arrived_at >= start, calls.c.arrived_at < end)
    if queue is not None:
        in_period = and_(in_period, calls.c.queue == queue)
    call_bucket = bucket(calls.c.arrived_at, seconds, utc_offset, dialect).label("bucket")
    call_query = (
        select(
            call_bucket,
            _count(calls.c.direction == "inbound").label("inbound"),
            _count(calls.c.direction == "outbound").label("outbound"),
            _count(cond["offered"]).label("offered"),
            _count(cond["answered"]).label("answered"),
            _count(cond["abandoned"]).label("abandoned"),
            _count(cond["short"]).label("short_abandons"),
            _count(cond["missed"]).label("missed"),
            _count(cond["answered_within"]).label("answered_within"),
            _count(cond["abandoned_within"]).label("abandoned_within"),
            _count(cond["abandoned_after"]).label("abandoned_after"),
            _total(cond["answered"], handle).label("handle_seconds"),
            _total(cond["answered"], wait).label("answer_wait_seconds"),
            _total(cond["offered"], wait).label("offered_wait_seconds"),
            func.coalesce(func.max(case((cond["offered"], wait), else_=None)), 0.0).label("longest_wait"),
        )
        .where(in_period)
        .group_by(call_bucket)
    )
    cb_period = and_(callbacks.c.requested_at >= start, callbacks.c.requested_at < end)
    sv_period = and_(surveys.c.at >= start, surveys.c.at < end)
    if queue is not None:
        cb_period = and_(cb_period, callbacks.c.queue == queue)
        sv_period = and_(sv_period, surveys.c.queue == queue)
    cb_bucket = bucket(callbacks.c.requested_at, seconds, utc_offset, dialect).label("bucket")
    due = epoch(func.coalesce(callbacks.c.due_at, callbacks.c.requested_at), dialect)
    dialled = callbacks.c.first_dialled_at.is_not(None)
    within = and_(dialled, epoch(callbacks.c.first_dialled_at, dialect) - due <= callbacks.c.sla_seconds)
    judged = or_(dialled, and_(callbacks.c.status.not_in(("cancelled", "completed")),
                               due + callbacks.c.sla_seconds <= (end if now is None else now)))
    cb_query = (
        select(
            cb_bucket,
            func.count().label("callbacks_requested"),
            _count(callbacks.c.status == "completed").label("callbacks_completed"),
            _count(callbacks.c.status == "failed").label("callbacks_failed"),
            _count(callbacks.c.status == "cancelled").label("callbacks_cancelled"),
            func.coalesce(func.sum(callbacks.c.attempts), 0).label("callback_attempts"),
            _count(judged).label("callbacks_judged"),
            _count(within).label("callbacks_within_sla"),
        )
        .where(cb_period)
        .group_by(cb_bucket)
    )
    sv_bucket = bucket(surveys.c.at, seconds, utc_offset, dialect).label("bucket")
    sv_query = (
        select(
            sv_bucket,
            func.count().label("surveys"),
            _count(surveys.c.score >= 9).label("promoters"),
            _count(surveys.c.score <= 6).label("detractors"),
        )
        .where(sv_period)
        .group_by(sv_bucket)
    )
    agent_query = (
        select(
            calls.c.agent,
            func.count().label("calls"),
            func.sum(handle).label("handle_seconds"),
            func.sum(calls.c.talk_seconds).label("talk_seconds"),
        )
        .where(in_period, cond["answered"], calls.c.agent.is_not(None))
        .group_by(calls.c.agent)
        .order_by(func.count().desc(), calls.c.agent)
    )
    agent_survey_query = (
        select(
            surveys.c.agent,
            func.count().label("surveys"),
            _count(surveys.c.score >= 9).label("promoters"),
            _count(surveys.c.score <= 6).label("detractors"),
        )
        .where(sv_period, surveys.c.agent.is_not(None))
        .group_by(surveys.c.agent)
    )
    band = case(
        *((wait >= low, literal(index)) for index, low in reversed(list(enumerate(WAIT_BANDS)))),
        else_=literal(0),
    ).label("band")
    wait_query = (
        select(
            band,
            _count(cond["answered"]).label("answered"),
            _count(cond["abandoned"]).label("abandoned"),
            _count(and_(~cond["answered"], ~cond["abandoned"])).label("other"),
        )
        .where(in_period, cond["offered"])
        .group_by(band)
    )
    ewt_query = (
        select(
            calls.c.queue,
            func.count().label("judged"),
            _count(_ewt_hit(wait)).label("hits"),
            func.avg(calls.c.ewt_seconds).label("mean_ewt"),
            func.avg(wait).label("mean_wait"),
        )
        .where(in_period, cond["ewt_judged"])
        .group_by(calls.c.queue)
        .order_by(calls.c.queue)
    )
    by_bucket: dict[float, dict[str, Any]] = {}
    async with engine.connect() as conn:
        for query in (call_query, cb_query, sv_query):
            for mapping in (await conn.execute(query)).mappings():
                values = by_bucket.setdefault(float(mapping["bucket"]), {})
                for key, value in mapping.items():
                    if key != "bucket":
                        values[key] = value
        scores = {r.agent: r for r in (await conn.execute(agent_survey_query)).all()}
        agents = tuple(
            AgentRow(r.agent, int(r.calls), float(r.handle_seconds), float(r.talk_seconds),
                     *((int(scores[r.agent].surveys), int(scores[r.agent].promoters),
                        int(scores[r.agent].detractors)) if r.agent in scores else (0, 0, 0)))
            for r in (await conn.execute(agent_query)).all()
        )
        band_counts = {int(r.band): r for r in (await conn.execute(wait_query)).all()}
        ewt = tuple(EwtRow(str(r.queue), int(r.judged), int(r.hits), float(r.mean_ewt), float(r.mean_wait))
                    for r in (await conn.execute(ewt_query)).all())
    rows = tuple(_kpi_row(start_at, values) for start_at, values in sorted(by_bucket.items()))
    total = KpiRow(start=start)
    for row in rows:
        total = total.merged(row)
    distribution = tuple(
        WaitBand(
            low,
            WAIT_BANDS[index + 1] if index + 1 < len(WAIT_BANDS) else None,
            int(band_counts[index].answered) if index in band_counts else 0,
            int(band_counts[index].abandoned) if index in band_counts else 0,
            int(band_counts[index].other) if index in band_counts else 0,
        )
        for index, low in enumerate(WAIT_BANDS)
    )
    return Report(
        start, end, queue, interval, sl_threshold, short_abandon, utc_offset, rows, total, agents, distribution,
        timezone, ewt,
    )


def _kpi_row(start_at: float, values: dict[str, Any]) -> KpiRow:
    converted: dict[str, Any] = {}
    for f in fields(KpiRow):
        if f.name in values and values[f.name] is not None:
            converted[f.name] = float(values[f.name]) if f.type == "float" else int(values[f.name])
    return KpiRow(start=start_at, **converted)
