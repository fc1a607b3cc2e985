"""Live per-queue statistics: service level, ASA, abandonment, handle time, longest wait, agents by state.

Definitions (the usual contact-center ones):

- service level = answered within the target / (answered + abandoned), short abandons excluded
  (:func:`service_level`: the one definition the API, wallboard, metrics and reports all use);
- ASA = mean wait of answered callers;
- abandonment = abandoned / (answered + abandoned), short abandons excluded;
- EWT accuracy = callers whose wait ``w`` was within ``max(30 s, 25 % of w)`` of the estimate given when they
  joined ÷ answered callers who waited (:func:`ewt_hit`, :func:`ewt_accuracy`: the one definition the
  simulator and reports use);
- handle time = mean of talk + real wrap-up over the calls whose wrap-up is over; until there is one,
  the queue's prior (``handle_time`` in the dial plan), and said to be.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from voxcenter.acd.agents import AgentState
from voxcenter.acd.events import ExitReason


def service_level(answered_within: int, answered: int, abandoned: int) -> float | None:
    """THE service level: callers answered within the target ÷ (answered + abandoned); None before any.

    ``abandoned`` leaves out short abandons (callers who hung up before the short-abandon threshold:
    wrong numbers, not a failure of service); an abandon counts as a failure whenever it happened.
    """
    judged = answered + abandoned
    return answered_within / judged if judged else None


EWT_HIT_FLOOR = 30.0
"""Seconds an estimate may be off and still count as a hit, whatever the wait."""
EWT_HIT_SHARE = 0.25
"""Share of the actual wait an estimate may be off and still count as a hit, when more than the floor."""


def ewt_hit(estimate: float, wait: float) -> bool:
    """THE hit of a wait estimate: the actual wait ``w`` within ``max(30 s, 0.25 · w)`` of the estimate."""
    return abs(wait - estimate) <= max(EWT_HIT_FLOOR, EWT_HIT_SHARE * wait)


def ewt_judged(wait: float | None, estimate: float | None) -> bool:
    """Whether a caller counts in EWT accuracy: answered (``wait`` known), after a wait, with an estimate."""
    return wait is not None and wait > 0.0 and estimate is not None


def ewt_band(estimate: float) -> tuple[float, float]:
    """The waits that make ``estimate`` a hit (:func:`ewt_hit`), as an interval [low, high].

    A wait above the estimate is a hit up to ``estimate + 30`` or ``estimate / 0.75``, whichever is more; below
    it, down to ``estimate − 30`` or ``estimate / 1.25``, whichever is less (never below 0).
    """
    high = max(estimate + EWT_HIT_FLOOR, estimate / (1.0 - EWT_HIT_SHARE))
    low = max(0.0, min(estimate - EWT_HIT_FLOOR, estimate / (1.0 + EWT_HIT_SHARE)))
    return low, high


def ewt_accuracy(hits: int, judged: int) -> float | None:
    """THE EWT accuracy: hits ÷ answered callers who waited (and were given an estimate); None before any."""
    return hits / judged if judged else None


@dataclass(frozen=True, slots=True)
class HandleTime:
    """A queue's average handle time, and what it rests on."""

    seconds: float
    """Mean talk + wrap-up, seconds (the prior while ``calls`` is 0)."""
    calls: int
    """Calls measured; 0: ``seconds`` is the queue's prior, nothing was measured yet."""

    @property
    def is_prior(self) -> bool:
        """No call measured yet: the figure is the dial plan's prior."""
        return self.calls == 0


@dataclass(slots=True)
class QueueCounters:
    """Running totals of one queue, updated by the router."""

    offered: int = 0
    answered: int = 0
    answered_in_target: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    answer_wait_total: float = 0.0
    exits: dict[ExitReason, int] = field(default_factory=dict)

    def record_answer(self, waited: float, target: float) -> None:
        """A caller of this queue was connected after ``waited`` seconds."""
        self.answered += 1
        self.answer_wait_total += waited
        if waited <= target:
            self.answered_in_target += 1

    def record_exit(self, reason: ExitReason, short: bool) -> None:
        """A caller left without an agent."""
        self.exits[reason] = self.exits.get(reason, 0) + 1
        if reason is ExitReason.ABANDONED:
            if short:
                self.short_abandoned += 1
            else:
                self.abandoned += 1

    @property
    def abandon_ratio(self) -> float:
        """Share of (answered + abandoned) callers who abandoned, short abandons excluded."""
        total = self.answered + self.abandoned
        return self.abandoned / total if total else 0.0


@dataclass(frozen=True, slots=True)
class QueueStats:
    """A snapshot of one queue's live figures (also what the wallboard shows)."""

    queue: str
    """Queue name."""
    offered: int
    """Callers who entered the queue."""
    answered: int
    """Callers connected to an agent."""
    abandoned: int
    """Callers who hung up while waiting, short abandons excluded."""
    short_abandoned: int
    """Callers who hung up quicker than the short-abandon threshold."""
    service_level: float | None
    """Answered within target / (answered + abandoned); None before any call."""
    asa: float | None
    """Average speed of answer, seconds; None before any answer."""
    abandon_ratio: float
    """Abandoned / (answered + abandoned)."""
    longest_wait: float
    """Longest current wait in the queue, seconds."""
    calls_waiting: int
    """Live callers waiting."""
    callbacks_waiting: int
    """Callback requests waiting (keeping their place)."""
    handle_time: HandleTime
    """Average handle time (talk + real wrap-up) measured, or the prior before any call."""
    smoothed_handle_time: float
    """The EWMA of handle time wait estimates use (starts at the prior), seconds."""
    agents: dict[AgentState, int]
    """Member agents by state."""
    exits: dict[ExitReason, int]
    """Exits without an agent, by reason."""


def snapshot(
    queue: str,
    counters: QueueCounters,
    longest_wait: float,
    calls_waiting: int,
    callbacks_waiting: int,
    handle_time: HandleTime,
    smoothed_handle_time: float,
    agents: dict[AgentState, int],
) -> QueueStats:
    """Freeze the counters of one queue into a QueueStats."""
    return QueueStats(
        queue=queue,
        offered=counters.offered,
        answered=counters.answered,
        abandoned=counters.abandoned,
        short_abandoned=counters.short_abandoned,
        service_level=service_level(counters.answered_in_target, counters.answered, counters.abandoned),
        asa=counters.answer_wait_total / counters.answered if counters.answered else None,
        abandon_ratio=counters.abandon_ratio,
        longest_wait=longest_wait,
        calls_waiting=calls_waiting,
        callbacks_waiting=callbacks_waiting,
        handle_time=handle_time,
        smoothed_handle_time=smoothed_handle_time,
        agents=dict(agents),
        exits=dict(counters.exits),
    )
