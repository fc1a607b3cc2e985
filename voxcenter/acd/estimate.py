"""Estimated wait time (EWT): the Erlang A wait of the caller's place in line, and what may be announced.

Model (Erlang A, see ``voxcenter.acd.erlang``): while every agent who can take the caller is busy,
those *n* agents free up at rate ``n / handle_time`` (exponential handle times are memoryless, so how
long they have been on their calls does not matter), and each live caller ahead hangs up at rate θ.
A caller who needs *k* agents to free up (the callers ahead that take an agent, plus itself, minus the
agents free right now) and who is answered waits a sum of *k* exponential steps with rates
``nμ + θ_own + iθ_ahead`` for i = k − 1 … 0 callers still ahead (``erlang.answered_wait_cdf``):
conditioning on the caller's own patience outlasting the wait adds its own θ to every step; callbacks
neither hang up nor lose patience.

The estimate given is the point of that distribution most likely to be a hit under THE accuracy
measure (``stats.ewt_hit``): the figure *e* that maximises P(wait in ``stats.ewt_band(e)``). It is
near the median for long waits and at least 30 s whenever the caller has to wait.

Inputs, kept by the router per queue:

- handle time: :class:`SteadyMean` of talk + wrap-up, the plain mean of the first calls (the dial
  plan's prior counted as one), then an exponential average over about the last ``1 / smoothing``
  calls; it does not swing with each long call;
- θ: :class:`AbandonRate`, hang-ups ÷ seconds that callers spent waiting (the maximum-likelihood
  rate of exponential patience, callers answered counting as time not abandoned), over about the
  last ``PATIENCE_HORIZON`` callers;
- capacity: the staffed agents that can take this caller (members, or opened backups, with the skills
  it needs now), and ahead of it the callers of every queue those agents would take first (THE queue
  order), each counted for the share of its own agents that are among them.

Announced estimates never grow while the caller waits unless the caller is told why;
:func:`announceable_ewt` encodes that rule.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from voxcenter.acd.erlang import answered_wait_cdf, answered_wait_mean
from voxcenter.acd.stats import ewt_band

PATIENCE_HORIZON = 1000
"""Callers (about) that the hang-up rate is measured over."""


def estimate_wait(
    calls_ahead: float,
    callbacks_ahead: float,
    free_agents: int,
    staffed_agents: int,
    handle_time: float,
    abandon_rate: float = 0.0,
    patient: bool = False,
) -> float | None:
    """Seconds until an agent is offered to the caller; None when nobody who can take it is staffed.

    ``calls_ahead`` and ``callbacks_ahead`` may be fractional (callers ahead that the agents share with
    other agents); ``abandon_rate`` is θ, hang-ups per second per waiting caller; ``patient``: the caller
    never hangs up (a callback request).
    """
    if calls_ahead < 0 or callbacks_ahead < 0 or free_agents < 0 or staffed_agents < 0:
        raise ValueError("counts must be non-negative")
    if not (abandon_rate >= 0 and math.isfinite(abandon_rate)) or not (handle_time > 0 and math.isfinite(handle_time)):
        raise ValueError("abandon_rate must be >= 0 and handle_time positive")
    ahead = calls_ahead + callbacks_ahead
    steps = math.floor(ahead + 0.5) + 1 - free_agents
    if steps <= 0:
        return 0.0
    if staffed_agents == 0:
        return None
    theta_ahead = abandon_rate * calls_ahead / ahead if ahead > 0 else 0.0
    theta_own = 0.0 if patient else abandon_rate
    service = staffed_agents / handle_time
    base = max(service + theta_own - theta_ahead, 1e-3 * service)
    return best_estimate(steps, _rounded(base), _rounded(theta_ahead))


def _rounded(value: float) -> float:
    """``value`` to 4 significant digits: estimates differ by less than that, and repeat inputs hit the cache."""
    return 0.0 if value == 0.0 else float(f"{value:.4g}")


@functools.lru_cache(maxsize=8192)
def best_estimate(steps: int, base: float, theta: float) -> float:
    """The estimate most likely to be a hit for a wait of ``steps`` exponential steps with rates
    ``base + θ``, ``base + 2θ``, … (``erlang.answered_wait_cdf``), to the second.

    P(hit | e) = F(high(e)) − F(low(e)) over the hit band of ``e``; it rises up to e = 30 s (the band is
    [0, e + 30] there) and has one peak beyond: a grid brackets it, golden sections find it.
    """

    def hit(e: float) -> float:
        low, high = ewt_band(e)
        return answered_wait_cdf(steps, base, theta, high) - answered_wait_cdf(steps, base, theta, low)

    mean = answered_wait_mean(steps, base, theta)
    top = max(60.0, 2.5 * mean + 60.0)
    grid = [30.0 + (top - 30.0) * i / 16 for i in range(17)]
    values = [hit(e) for e in grid]
    best = max(range(len(grid)), key=lambda i: (values[i], -i))
    lo, hi = grid[max(0, best - 1)], grid[min(len(grid) - 1, best + 1)]
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = hit(a), hit(b)
    while hi - lo > 0.5:
        if fa >= fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = hit(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = hit(b)
    return float(round((lo + hi) / 2.0))


class SteadyMean:
    """A mean that settles: the plain mean of the samples (the prior counted as one) until there are
    ``1 / smoothing`` of them, then an exponential average with that factor."""

    __slots__ = ("samples", "smoothing", "value")

    def __init__(self, prior: float, smoothing: float) -> None:
        if not 0.0 < smoothing <= 1.0:
            raise ValueError("smoothing must be in (0, 1]")
        self.value = prior
        self.smoothing = smoothing
        self.samples = 0

    def add(self, sample: float) -> float:
        """Take one sample; returns the new mean."""
        self.samples += 1
        weight = max(self.smoothing, 1.0 / (self.samples + 1))
        self.value += weight * (sample - self.value)
        return self.value


class AbandonRate:
    """θ: hang-ups per second of waiting, over about the last ``horizon`` callers who left a queue."""

    __slots__ = ("abandons", "exposure", "horizon")

    def __init__(self, horizon: int = PATIENCE_HORIZON) -> None:
        self.abandons = 0.0
        self.exposure = 0.0
        self.horizon = horizon

    def add(self, waited: float, abandoned: bool) -> None:
        """A live caller left the queue after ``waited`` seconds, by hanging up or otherwise."""
        keep = 1.0 - 1.0 / self.horizon
        self.abandons = self.abandons * keep + (1.0 if abandoned else 0.0)
        self.exposure = self.exposure * keep + max(0.0, waited)

    @property
    def rate(self) -> float:
        """Hang-ups per second per waiting caller; 0 before anyone waited."""
        return self.abandons / self.exposure if self.exposure > 0 else 0.0


@dataclass(frozen=True, slots=True)
class AnnouncedEwt:
    """The estimate to announce, and why it grew if it did."""

    ewt: float | None
    """Seconds to announce (None: say nothing about time)."""
    reason: str | None
    """Why it is higher than what the caller was promised; None when it is not higher."""


FEWER_AGENTS = "fewer agents are available"
LONGER_CALLS = "the calls ahead are taking longer than expected"


def announceable_ewt(
    fresh: float | None, last_announced: float | None, elapsed: float, staffed_now: int, staffed_then: int
) -> AnnouncedEwt:
    """Apply the no-growth rule to a fresh estimate.

    The caller was told ``last_announced`` seconds ``elapsed`` seconds ago: what is left of that promise is
    ``last_announced − elapsed``. The fresh estimate is said when it is not more than what is left (in the
    started minutes the caller hears). A higher one is said only with its reason: staffing fell since, or the
    promise has run out (the caller already waited longer than told: the calls ahead took longer than
    expected). Otherwise nothing is said about time: no figure higher than promised, none known to be low.
    """
    if fresh is None or last_announced is None:
        return AnnouncedEwt(fresh, None)
    left = last_announced - elapsed
    if math.ceil(fresh / 60.0) <= math.ceil(max(0.0, left) / 60.0):
        return AnnouncedEwt(fresh, None)
    if staffed_now < staffed_then:
        return AnnouncedEwt(fresh, FEWER_AGENTS)
    if left <= 0.0:
        return AnnouncedEwt(fresh, LONGER_CALLS)
    return AnnouncedEwt(None, None)
