"""Discrete-event simulator that drives the real router, and its comparison with Erlang C or Erlang A.

Callers arrive as a Poisson process (its rate multiplied during the peaks of an arrival profile),
handle times are exponential or log-normal, each caller has an exponential patience (or infinite),
agents answer after a fixed delay or not at all. No asyncio: one heap of future events, interleaved
with the router's own ``get_timer()``.

For M/M/c (infinite patience, no wrap-up, no ring delay, every ring answered) the measured
probability of waiting and service level must agree with ``voxcenter.acd.erlang``; the
report gives batch-means standard errors so the agreement is judged against sampling error.
With patience the theory is Erlang A (M/M/n+M), and the report says so.

The wait estimate is judged by THE EWT accuracy (``voxcenter.acd.stats.ewt_hit``): the estimate the
router gave when the caller joined against the caller's actual wait, over answered callers who waited;
overall and per position at join. ``GOALS`` are the traffic rows the estimate is held to.
"""

from __future__ import annotations

import csv
import enum
import heapq
import math
import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from voxcenter.acd import erlang
from voxcenter.acd.events import Bridge, CancelRing, Enqueued, Overflow, QueueExit, RingAgent
from voxcenter.acd.model import AgentProfile, CallRequest, QueuePolicy, Strategy
from voxcenter.acd.router import Router
from voxcenter.acd.stats import ewt_accuracy, ewt_hit, ewt_judged

QUEUE = "sim"


class HandleDistribution(enum.Enum):
    """Shape of the handle-time distribution."""

    EXPONENTIAL = "exponential"
    LOGNORMAL = "lognormal"


DAY = 86400.0


@dataclass(frozen=True, slots=True)
class Peak:
    """A part of every simulated day where the arrival rate is multiplied by ``factor``."""

    start: float
    """Seconds after midnight (the run starts at midnight)."""
    end: float
    """Seconds after midnight, after ``start``, at most a day."""
    factor: float
    """Arrival-rate multiplier (1.6: 60 % more callers)."""

    def __post_init__(self) -> None:
        if not (0.0 <= self.start < self.end <= DAY) or not (self.factor > 0 and math.isfinite(self.factor)):
            raise ValueError("a peak runs from a time of day to a later one, with a positive factor")

    @classmethod
    def parse(cls, text: str, duration: Callable[[str], float]) -> Peak:
        """``FROM-TO:FACTOR``, e.g. ``10h-11h:1.6`` (times of day as durations since midnight)."""
        span, sep, factor = text.partition(":")
        start, dash, end = span.partition("-")
        if not sep or not dash:
            raise ValueError(f"a peak is FROM-TO:FACTOR, e.g. 10h-11h:1.6, not {text!r}")
        return cls(duration(start), duration(end), float(factor))


def rate_factor(profile: tuple[Peak, ...], at: float) -> tuple[float, float]:
    """The arrival-rate multiplier at ``at`` and when it next changes (peaks repeat every day)."""
    day = math.floor(at / DAY) * DAY
    clock = at - day
    factor, change = 1.0, DAY
    for peak in profile:
        if peak.start <= clock < peak.end:
            factor *= peak.factor
            change = min(change, peak.end)
        elif clock < peak.start:
            change = min(change, peak.start)
    return factor, day + change


@dataclass(frozen=True, slots=True)
class SimConfig:
    """One simulation run."""

    calls: int = 5000
    """Callers generated."""
    agents: int = 10
    """Agents logged in and reachable from the start."""
    load: float = 8.0
    """Offered traffic in erlangs (arrival rate × mean handle time)."""
    handle_time: float = 180.0
    """Mean handle time, seconds."""
    distribution: HandleDistribution = HandleDistribution.EXPONENTIAL
    """Handle-time distribution."""
    lognormal_sigma: float = 0.6
    """Shape (sigma of the underlying normal) of log-normal handle times."""
    patience: float | None = None
    """Mean patience (exponential), seconds; None for callers who never abandon."""
    wrapup: float = 0.0
    """Wrap-up after each call, seconds."""
    answer_delay: float = 0.0
    """Seconds an agent's phone rings before the agent answers."""
    no_answer_probability: float = 0.0
    """Chance that a ring is never answered (the router times it out)."""
    service_level: float = 20.0
    """Service-level answer target, seconds."""
    strategy: Strategy = Strategy.LONGEST_IDLE
    """Agent selection strategy."""
    announce_every: float | None = None
    """Announcement period (exercises the announcement path); None for none."""
    warmup_share: float = 0.1
    """Share of the first callers left out of the measurements (start-up transient)."""
    batches: int = 20
    """Batches for the batch-means standard errors."""
    seed: int = 1
    """Random seed of the run (arrivals, durations, patience) and of the router."""
    profile: tuple[Peak, ...] = ()
    """Peaks of the arrival rate, repeated every simulated day; () for a constant rate."""

    def __post_init__(self) -> None:
        if self.calls < self.batches or self.agents < 1 or self.batches < 2:
            raise ValueError("need calls >= batches >= 2 and at least one agent")
        if not (self.load > 0 and self.handle_time > 0):
            raise ValueError("load and handle_time must be positive")
        if not 0.0 <= self.no_answer_probability < 1.0 or not 0.0 <= self.warmup_share < 1.0:
            raise ValueError("no_answer_probability and warmup_share must be in [0, 1)")
        if self.patience is not None and not self.patience > 0:
            raise ValueError("patience must be positive")

    def describe(self) -> str:
        """The traffic in a few words, as the goal table names it."""
        text = f"{self.agents} agents, {self.load / self.agents:.0%} load"
        for peak in self.profile:
            text += (f", {(peak.end - peak.start) / 3600:g} h peak at ×{peak.factor:g} "
                     f"(from {peak.start / 3600:g} h each day)")
        return text


@dataclass(frozen=True, slots=True)
class CallerRecord:
    """What happened to one simulated caller (the CSV has one line per caller)."""

    call_id: str
    """The call."""
    joined: float
    """Arrival, simulated seconds."""
    position: int | None
    """Position at join (None: never queued)."""
    ewt: float | None
    """The estimate given at join, seconds."""
    wait: float | None
    """Wait until an agent answered; None when the caller was not answered."""
    abandoned: bool
    """The caller hung up while waiting."""
    measured: bool
    """After the warm-up (counted in the figures)."""

    @property
    def judged(self) -> bool:
        """Counted in EWT accuracy: measured, answered after a wait, with an estimate."""
        return self.measured and ewt_judged(self.wait, self.ewt)

    @property
    def hit(self) -> bool:
        """Counted, and the estimate was a hit."""
        return self.judged and ewt_hit(self.ewt or 0.0, self.wait or 0.0)


@dataclass(frozen=True, slots=True)
class PositionAccuracy:
    """EWT accuracy of the callers who joined at a range of positions."""

    first: int
    """First position of the range."""
    last: int | None
    """Last position of the range; None: and above."""
    judged: int
    """Answered callers who waited, joining there."""
    hits: int
    """Of those, estimates that were hits."""
    mean_ewt: float
    """Mean estimate given at join, seconds."""
    mean_wait: float
    """Mean actual wait, seconds."""

    @property
    def label(self) -> str:
        """"3", "11–20" or "51+"."""
        if self.last is None:
            return f"{self.first}+"
        return str(self.first) if self.first == self.last else f"{self.first}–{self.last}"

    @property
    def accuracy(self) -> float | None:
        """THE EWT accuracy of the range."""
        return ewt_accuracy(self.hits, self.judged)


POSITION_RANGES: tuple[tuple[int, int | None], ...] = (
    *((p, p) for p in range(1, 11)), (11, 20), (21, 50), (51, None),
)
"""Ranges of positions at join for the accuracy per position."""


@dataclass(frozen=True, slots=True)
class SimReport:
    """Measured figures of one run, with the Erlang C predictions next to them."""

    config: SimConfig
    """The run."""
    measured_calls: int
    """Callers after warm-up."""
    answered: int
    """Of those, connected to an agent."""
    abandoned: int
    """Of those, hung up while waiting."""
    p_wait: float
    """Share of measured callers who waited at all (answered with wait > 0, or abandoned)."""
    p_wait_se: float
    """Batch-means standard error of ``p_wait``."""
    service_level: float
    """Share of measured callers answered within the target."""
    service_level_se: float
    """Batch-means standard error of ``service_level``."""
    asa: float
    """Mean wait of answered callers, seconds."""
    theory: str
    """The model the predictions come from: "Erlang C" without abandonment, "Erlang A" with patience."""
    erlang_p_wait: float
    """Predicted probability of waiting for the same load and agents."""
    erlang_service_level: float
    """Predicted service level."""
    erlang_asa: float
    """Predicted average speed of answer."""
    erlang_abandoned: float
    """Predicted share of callers who abandon (0 for Erlang C)."""
    ewt_accuracy: float | None
    """THE EWT accuracy: hits ÷ answered callers who waited (``stats.ewt_hit``)."""
    ewt_samples: int
    """Callers behind ``ewt_accuracy``: answered after a wait, with an estimate."""
    ewt_hits: int
    """Of those, estimates that were hits."""
    by_position: tuple[PositionAccuracy, ...]
    """EWT accuracy per position at join."""
    callers: tuple[CallerRecord, ...] = field(repr=False)
    """Every caller, in arrival order (warm-up included, flagged)."""
    simulated_seconds: float
    """Simulated time span."""
    router_steps: int
    """Inputs fed to the router."""


@dataclass(slots=True)
class _Caller:
    joined: float
    first_ewt: float | None = None
    position: int | None = None
    wait: float | None = None
    abandoned: bool = False
    done: bool = False


@dataclass(order=True, slots=True)
class _Event:
    at: float
    seq: int
    kind: str = field(compare=False)
    call_id: str = field(compare=False, default="")
    agent_id: str = field(compare=False, default="")


class _Run:
    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        policy = QueuePolicy(
            QUEUE, strategy=config.strategy, wrapup=config.wrapup, service_level=config.service_level,
            announce_every=config.announce_every, default_handle_time=config.handle_time + config.wrapup,
            ring_timeout=15.0, retry_delay=5.0, autopause_after=None, join_empty=True, leave_when_empty=False,
        )
        profiles = [AgentProfile(f"a{i}", queues=frozenset({QUEUE})) for i in range(config.agents)]
        self.router = Router([policy], profiles, now=0.0, seed=config.seed)
        for profile in profiles:
            self.router.agent_registered(profile.agent_id, 0.0)
            self.router.agent_login(profile.agent_id, 0.0)
        self.events: list[_Event] = []
        self.seq = 0
        self.callers: dict[str, _Caller] = {}
        self.order: list[str] = []
        self.rings: set[tuple[str, str]] = set()
        self.steps = 0
        self.now = 0.0

    def push(self, at: float, kind: str, call_id: str = "", agent_id: str = "") -> None:
        self.seq += 1
        heapq.heappush(self.events, _Event(at, self.seq, kind, call_id, agent_id))

    def handle_time(self) -> float:
        mean = self.config.handle_time
        if self.config.distribution is HandleDistribution.EXPONENTIAL:
            return self.rng.expovariate(1.0 / mean)
        sigma = self.config.lognormal_sigma
        return self.rng.lognormvariate(math.log(mean) - sigma * sigma / 2.0, sigma)

    def next_arrival(self, after: float) -> float:
        """The next Poisson arrival after ``after`` (piecewise-constant rate: redrawn at each change)."""
        base = self.config.load / self.config.handle_time
        at = after
        while True:
            factor, change = rate_factor(self.config.profile, at)
            candidate = at + self.rng.expovariate(base * factor)
            if candidate < change:
                return candidate
            at = change

    def run(self) -> None:
        self.push(self.next_arrival(0.0), "arrival")
        while True:
            timer = self.router.get_timer()
            next_event = self.events[0].at if self.events else math.inf
            if timer is None and next_event == math.inf:
                return
            self.steps += 1
            if timer is not None and timer <= next_event:
                self.now = max(self.now, timer)
                self.router.handle_timer(self.now)
            else:
                event = heapq.heappop(self.events)
                self.now = event.at
                self.feed(event)
            self.drain()

    def feed(self, event: _Event) -> None:
        if event.kind == "arrival":
            call_id = f"c{len(self.order)}"
            self.order.append(call_id)
            self.callers[call_id] = _Caller(self.now)
            if self.config.patience is not None:
                self.push(self.now + self.rng.expovariate(1.0 / self.config.patience), "abandon", call_id)
            if len(self.order) < self.config.calls:
                self.push(self.next_arrival(self.now), "arrival")
            self.router.caller_joined(CallRequest(call_id, QUEUE), self.now)
        elif event.kind == "abandon":
            caller = self.callers[event.call_id]
            if caller.wait is None and not caller.done:
                caller.abandoned = True
                self.router.caller_left(event.call_id, self.now)
        elif event.kind == "answer":
            if (event.call_id, event.agent_id) in self.rings:
                self.router.ring_answered(event.call_id, event.agent_id, self.now)
        elif event.kind == "hangup":
            self.router.call_ended(event.call_id, self.now)

    def drain(self) -> None:
        while (decision := self.router.next_decision()) is not None:
            if isinstance(decision, Enqueued):
                caller = self.callers[decision.call_id]
                if caller.position is None:
                    caller.first_ewt, caller.position = decision.ewt, decision.position
            elif isinstance(decision, RingAgent):
                self.rings.add((decision.call_id, decision.agent_id))
                if self.rng.random() >= self.config.no_answer_probability:
                    self.push(self.now + self.config.answer_delay, "answer", decision.call_id, decision.agent_id)
            elif isinstance(decision, CancelRing):
                self.rings.discard((decision.call_id, decision.agent_id))
            elif isinstance(decision, Bridge):
                self.rings.discard((decision.call_id, decision.agent_id))
                self.callers[decision.call_id].wait = decision.waited
                self.push(self.now + self.handle_time(), "hangup", decision.call_id)
            elif isinstance(decision, QueueExit | Overflow):
                self.callers[decision.call_id].done = True

    def report(self) -> SimReport:
        config = self.config
        warmup = int(len(self.order) * config.warmup_share)
        records = tuple(
            CallerRecord(call_id, c.joined, c.position, c.first_ewt, c.wait, c.abandoned, i >= warmup)
            for i, (call_id, c) in enumerate((call_id, self.callers[call_id]) for call_id in self.order)
        )
        measured = [r for r in records if r.measured]
        waited_flags = [1.0 if r.wait is None or r.wait > 0.0 else 0.0 for r in measured]
        in_target_flags = [1.0 if r.wait is not None and r.wait <= config.service_level else 0.0 for r in measured]
        answered_waits = [r.wait for r in measured if r.wait is not None]
        judged = [r for r in measured if r.judged]
        hits = sum(1 for r in judged if r.hit)
        traffic, n = config.load, config.agents
        if config.patience is None:
            theory = "Erlang C"
            p_wait = erlang.erlang_c(n, traffic)
            sl = erlang.service_level(n, traffic, config.handle_time, config.service_level)
            asa = erlang.average_speed_of_answer(n, traffic, config.handle_time)
            abandon = 0.0
        else:
            theory = "Erlang A"
            a = erlang.erlang_a(n, traffic, config.handle_time, config.patience, config.service_level)
            p_wait, sl, asa, abandon = a.p_wait, a.service_level, a.asa, a.p_abandon
        return SimReport(
            config=config,
            measured_calls=len(measured),
            answered=len(answered_waits),
            abandoned=sum(1 for r in measured if r.wait is None),
            p_wait=statistics.fmean(waited_flags),
            p_wait_se=batch_standard_error(waited_flags, config.batches),
            service_level=statistics.fmean(in_target_flags),
            service_level_se=batch_standard_error(in_target_flags, config.batches),
            asa=statistics.fmean(answered_waits) if answered_waits else math.nan,
            theory=theory,
            erlang_p_wait=p_wait,
            erlang_service_level=sl,
            erlang_asa=asa,
            erlang_abandoned=abandon,
            ewt_accuracy=ewt_accuracy(hits, len(judged)),
            ewt_samples=len(judged),
            ewt_hits=hits,
            by_position=accuracy_by_position(judged),
            callers=records,
            simulated_seconds=self.now,
            router_steps=self.steps,
        )


def accuracy_by_position(judged: list[CallerRecord]) -> tuple[PositionAccuracy, ...]:
    """EWT accuracy per range of positions at join (ranges nobody joined at are left out)."""
    rows: list[PositionAccuracy] = []
    for first, last in POSITION_RANGES:
        group = [r for r in judged
                 if r.position is not None and first <= r.position and (last is None or r.position <= last)]
        if group:
            rows.append(PositionAccuracy(
                first, last, len(group), sum(1 for r in group if r.hit),
                statistics.fmean(r.ewt or 0.0 for r in group), statistics.fmean(r.wait or 0.0 for r in group),
            ))
    return tuple(rows)


def batch_standard_error(samples: list[float], batches: int) -> float:
    """Standard error of the mean of correlated samples, by the method of batch means.

    Consecutive callers of a queue are correlated, so the naive i.i.d. error is too small;
    the means of ``batches`` contiguous batches are close to independent.
    """
    size = len(samples) // batches
    if size < 1:
        raise ValueError("fewer samples than batches")
    means = [statistics.fmean(samples[i * size:(i + 1) * size]) for i in range(batches)]
    return statistics.stdev(means) / math.sqrt(batches)


def simulate(config: SimConfig) -> SimReport:
    """Run one simulation and measure it."""
    run = _Run(config)
    run.run()
    return run.report()


def format_report(report: SimReport) -> str:
    """Human-readable summary of a run."""
    c = report.config
    patience = "infinite" if c.patience is None else f"{c.patience:g} s"
    theory = report.theory
    profile = "".join(f", peak {p.start / 3600:g}–{p.end / 3600:g} h ×{p.factor:g}" for p in c.profile)
    lines = [
        f"calls {c.calls} (measured {report.measured_calls}), agents {c.agents}, load {c.load:g} erl, "
        f"AHT {c.handle_time:g} s {c.distribution.value}, patience {patience}, wrap-up {c.wrapup:g} s{profile}",
        f"answered {report.answered}, abandoned {report.abandoned}, simulated {report.simulated_seconds / 3600:.1f} h, "
        f"router steps {report.router_steps}",
        f"P(wait)        measured {report.p_wait:.4f} ± {report.p_wait_se:.4f}   {theory} {report.erlang_p_wait:.4f}",
        f"service level  measured {report.service_level:.4f} ± {report.service_level_se:.4f}   "
        f"{theory} {report.erlang_service_level:.4f}   (within {c.service_level:g} s)",
        f"ASA            measured {report.asa:.1f} s   {theory} {report.erlang_asa:.1f} s",
    ]
    if c.patience is not None:
        measured_share = report.abandoned / report.measured_calls
        lines.append(f"abandoned      measured {measured_share:.4f}   {theory} {report.erlang_abandoned:.4f}")
    if report.ewt_accuracy is None:
        lines.append("EWT accuracy   no answered caller waited")
    else:
        lines.append(
            f"EWT accuracy   {report.ewt_accuracy:.3f}: {report.ewt_hits} of {report.ewt_samples} answered callers "
            "who waited, within max(30 s, 25 % of the wait) of the EWT at join"
        )
        lines.append("")
        lines.append(format_positions(report.by_position))
    return "\n".join(lines)


def format_positions(rows: tuple[PositionAccuracy, ...]) -> str:
    """The accuracy-per-position table."""
    lines = ["position at join  callers  accuracy  mean EWT  mean wait"]
    for row in rows:
        lines.append(f"{row.label:>16}  {row.judged:>7}  {row.accuracy or 0.0:>8.3f}  {row.mean_ewt:>7.0f}s  "
                     f"{row.mean_wait:>8.0f}s")
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Goal:
    """A traffic row the wait estimate is held to, and the EWT accuracy it must reach."""

    config: SimConfig
    """The traffic."""
    goal: float
    """Least EWT accuracy."""


def goal_config(agents: int, occupancy: float, calls: int = 20000, seed: int = 1,
                profile: tuple[Peak, ...] = ()) -> SimConfig:
    """The goal traffic: Poisson arrivals, exponential handle time of 180 s, exponential patience of 300 s."""
    return SimConfig(calls=calls, agents=agents, load=agents * occupancy, handle_time=180.0, patience=300.0,
                     announce_every=None, seed=seed, profile=profile)


PEAK_HOUR = (Peak(10 * 3600.0, 11 * 3600.0, 1.6),)
"""The goal's peak: one hour a day (10:00–11:00) at 1.6 times the rate."""


def goals(calls: int = 20000, seed: int = 1) -> tuple[Goal, ...]:
    """The goal table of the wait estimate, for ``calls`` callers per row."""
    return (
        Goal(goal_config(10, 0.85, calls, seed), 0.78),
        Goal(goal_config(10, 0.95, calls, seed), 0.75),
        Goal(goal_config(10, 0.80, calls, seed, PEAK_HOUR), 0.80),
        Goal(goal_config(30, 0.90, calls, seed), 0.96),
    )


def format_goal_table(rows: list[tuple[SimConfig, SimReport, float | None]]) -> str:
    """The goal table: traffic, EWT accuracy measured (with its callers), goal and whether it is met."""
    lines = ["| traffic | callers judged | EWT accuracy | goal | met |", "| --- | --- | --- | --- | --- |"]
    for config, report, goal in rows:
        accuracy = report.ewt_accuracy
        shown = "-" if accuracy is None else f"{accuracy:.1%}"
        met = "-" if goal is None or accuracy is None else ("yes" if accuracy >= goal else "no")
        lines.append(f"| {config.describe()} | {report.ewt_samples} | {shown} | "
                     f"{'-' if goal is None else f'≥ {goal:.0%}'} | {met} |")
    return "\n".join(lines)


def write_callers_csv(report: SimReport, out: TextIO) -> None:
    """One CSV line per caller: arrival, position and estimate at join, wait, outcome, hit."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["call_id", "joined", "position", "ewt", "wait", "outcome", "measured", "judged", "hit"])
    for r in report.callers:
        outcome = "answered" if r.wait is not None else ("abandoned" if r.abandoned else "other")
        writer.writerow([
            r.call_id, f"{r.joined:.3f}", "" if r.position is None else r.position,
            "" if r.ewt is None else f"{r.ewt:.1f}", "" if r.wait is None else f"{r.wait:.3f}", outcome,
            int(r.measured), int(r.judged), int(r.hit),
        ])
