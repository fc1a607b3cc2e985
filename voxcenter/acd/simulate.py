"""Discrete-event simulator that drives the real router, and its comparison with Erlang C.

Callers arrive as a Poisson process, handle times are exponential or log-normal, each caller
has an exponential patience (or infinite), agents answer after a fixed delay or not at all.
No asyncio: one heap of future events, interleaved with the router's own ``get_timer()``.

For M/M/c (infinite patience, no wrap-up, no ring delay, every ring answered) the measured
probability of waiting and service level must agree with ``voxcenter.acd.erlang``; the
report gives batch-means standard errors so the agreement is judged against sampling error.
"""

from __future__ import annotations

import enum
import heapq
import math
import random
import statistics
from dataclasses import dataclass, field

from voxcenter.acd import erlang
from voxcenter.acd.events import Bridge, CancelRing, Enqueued, Overflow, QueueExit, RingAgent
from voxcenter.acd.model import AgentProfile, CallRequest, QueuePolicy, Strategy
from voxcenter.acd.router import Router

QUEUE = "sim"


class HandleDistribution(enum.Enum):
    """Shape of the handle-time distribution."""

    EXPONENTIAL = "exponential"
    LOGNORMAL = "lognormal"


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

    def __post_init__(self) -> None:
        if self.calls < self.batches or self.agents < 1 or self.batches < 2:
            raise ValueError("need calls >= batches >= 2 and at least one agent")
        if not (self.load > 0 and self.handle_time > 0):
            raise ValueError("load and handle_time must be positive")
        if not 0.0 <= self.no_answer_probability < 1.0 or not 0.0 <= self.warmup_share < 1.0:
            raise ValueError("no_answer_probability and warmup_share must be in [0, 1)")


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
    erlang_p_wait: float
    """Erlang C probability of waiting for the same load and agents."""
    erlang_service_level: float
    """Erlang C service level."""
    erlang_asa: float
    """Erlang C average speed of answer."""
    ewt_accuracy: float | None
    """Share of answered callers whose wait was within ±25 % or ±30 s of the first estimate."""
    ewt_samples: int
    """Callers behind ``ewt_accuracy``."""
    simulated_seconds: float
    """Simulated time span."""
    router_steps: int
    """Inputs fed to the router."""


@dataclass(slots=True)
class _Caller:
    joined: float
    first_ewt: float | None = None
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


def ewt_within(first_ewt: float, wait: float) -> bool:
    """Whether ``wait`` is within ±25 % or ±30 s of ``first_ewt``."""
    return abs(wait - first_ewt) <= max(0.25 * first_ewt, 30.0)


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

    def run(self) -> None:
        rate = self.config.load / self.config.handle_time
        self.push(self.rng.expovariate(rate), "arrival")
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
                self.feed(event, rate)
            self.drain()

    def feed(self, event: _Event, rate: float) -> None:
        if event.kind == "arrival":
            call_id = f"c{len(self.order)}"
            self.order.append(call_id)
            self.callers[call_id] = _Caller(self.now)
            if self.config.patience is not None:
                self.push(self.now + self.rng.expovariate(1.0 / self.config.patience), "abandon", call_id)
            if len(self.order) < self.config.calls:
                self.push(self.now + self.rng.expovariate(rate), "arrival")
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
                if caller.first_ewt is None:
                    caller.first_ewt = decision.ewt
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
        measured = self.order[int(len(self.order) * config.warmup_share):]
        waited_flags: list[float] = []
        in_target_flags: list[float] = []
        answered_waits: list[float] = []
        ewt_hits = ewt_samples = abandoned = 0
        for call_id in measured:
            caller = self.callers[call_id]
            if caller.wait is None:
                abandoned += 1
                waited_flags.append(1.0)
                in_target_flags.append(0.0)
                continue
            answered_waits.append(caller.wait)
            waited_flags.append(1.0 if caller.wait > 0.0 else 0.0)
            in_target_flags.append(1.0 if caller.wait <= config.service_level else 0.0)
            if caller.first_ewt is not None:
                ewt_samples += 1
                ewt_hits += ewt_within(caller.first_ewt, caller.wait)
        traffic, n = config.load, config.agents
        return SimReport(
            config=config,
            measured_calls=len(measured),
            answered=len(answered_waits),
            abandoned=abandoned,
            p_wait=statistics.fmean(waited_flags),
            p_wait_se=batch_standard_error(waited_flags, config.batches),
            service_level=statistics.fmean(in_target_flags),
            service_level_se=batch_standard_error(in_target_flags, config.batches),
            asa=statistics.fmean(answered_waits) if answered_waits else math.nan,
            erlang_p_wait=erlang.erlang_c(n, traffic),
            erlang_service_level=erlang.service_level(n, traffic, config.handle_time, config.service_level),
            erlang_asa=erlang.average_speed_of_answer(n, traffic, config.handle_time),
            ewt_accuracy=ewt_hits / ewt_samples if ewt_samples else None,
            ewt_samples=ewt_samples,
            simulated_seconds=self.now,
            router_steps=self.steps,
        )


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
    lines = [
        f"calls {c.calls} (measured {report.measured_calls}), agents {c.agents}, load {c.load:g} erl, "
        f"AHT {c.handle_time:g} s {c.distribution.value}, patience {patience}, wrap-up {c.wrapup:g} s",
        f"answered {report.answered}, abandoned {report.abandoned}, simulated {report.simulated_seconds / 3600:.1f} h, "
        f"router steps {report.router_steps}",
        f"P(wait)        measured {report.p_wait:.4f} ± {report.p_wait_se:.4f}   Erlang C {report.erlang_p_wait:.4f}",
        f"service level  measured {report.service_level:.4f} ± {report.service_level_se:.4f}   "
        f"Erlang C {report.erlang_service_level:.4f}   (within {c.service_level:g} s)",
        f"ASA            measured {report.asa:.1f} s   Erlang C {report.erlang_asa:.1f} s",
    ]
    if report.ewt_accuracy is None:
        lines.append("EWT accuracy   no estimates")
    else:
        lines.append(
            f"EWT accuracy   {report.ewt_accuracy:.3f} of {report.ewt_samples} answered callers within ±25 % or ±30 s"
        )
    return "\n".join(lines)
