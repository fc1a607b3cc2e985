"""Estimated wait time (EWT) per queue position, from the live service process.

Model: while every staffed agent is busy, the queue's agents complete calls at a rate of
``staffed / handle_time`` (handle time = the queue's EWMA of talk plus wrap-up). A caller at
position *k* waits for the callers ahead that will still be there (live callers survive with
probability ``1 − abandon_ratio``; callbacks ahead always take an agent) plus itself, minus
the agents free right now. For exponential handle times this is the exact conditional mean
wait of an M/M/c queue, given the number ahead.

Announced estimates must not grow while the caller waits unless the caller is told why;
``announceable_ewt`` encodes that rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def estimate_wait(
    calls_ahead: int,
    callbacks_ahead: int,
    abandon_ratio: float,
    free_agents: int,
    staffed_agents: int,
    handle_time: float,
) -> float | None:
    """Expected seconds until an agent is offered to the caller; None when nobody is staffed."""
    if calls_ahead < 0 or callbacks_ahead < 0 or free_agents < 0 or staffed_agents < 0:
        raise ValueError("counts must be non-negative")
    if not 0.0 <= abandon_ratio <= 1.0 or not (handle_time > 0 and math.isfinite(handle_time)):
        raise ValueError("abandon_ratio must be in [0, 1] and handle_time positive")
    survivors = calls_ahead * (1.0 - abandon_ratio) + callbacks_ahead
    needed = survivors + 1.0 - free_agents
    if needed <= 0.0:
        return 0.0
    if staffed_agents == 0:
        return None
    return needed * handle_time / staffed_agents


def ewma(previous: float, sample: float, smoothing: float) -> float:
    """Exponentially weighted moving average update."""
    return previous + smoothing * (sample - previous)


@dataclass(frozen=True, slots=True)
class AnnouncedEwt:
    """The estimate to announce, and why it grew if it did."""

    ewt: float | None
    """Seconds to announce (None: say nothing about time)."""
    reason: str | None
    """Why it is higher than the previous announcement; None when it is not higher."""


def announceable_ewt(
    fresh: float | None, last_announced: float | None, staffed_now: int, staffed_then: int
) -> AnnouncedEwt:
    """Apply the no-growth rule to a fresh estimate.

    The announcement may exceed the last announced estimate only when staffing fell since then
    (the caller is told so); otherwise it is capped at the last announced value.
    """
    if fresh is None or last_announced is None or fresh <= last_announced:
        return AnnouncedEwt(fresh, None)
    if staffed_now < staffed_then:
        return AnnouncedEwt(fresh, "fewer agents are available")
    return AnnouncedEwt(last_announced, None)
