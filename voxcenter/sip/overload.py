"""Overload control: which new calls to refuse (503) so that the calls accepted stay fast.

A sans-IO core: the endpoint feeds it the loop's clock, the event-loop lag it
measures (how late a periodic probe runs) and every new call, and asks
:meth:`OverloadControl.admit` whether to take the call. A call is refused when

- the calls in progress reach ``max_calls`` (customer calls: the endpoint does
  not count the legs that ring agents' phones, which belong to a call already
  counted);
- new calls come faster than ``max_rate`` per second (a token bucket holding one
  second of calls, so a burst within the rate passes);
- the event loop is late: past ``max_lag`` (smoothed over about half a second, so
  one garbage collection does not shed calls) a growing share of new calls is
  refused, all of them at twice ``max_lag``. Signalling and media share the loop,
  so its lag is what every accepted call pays in set-up time and jitter.

While calls are being shed on lag (from past ``max_lag`` until the lag is back under half of it,
:attr:`OverloadControl.shedding`) the endpoint also shortens its UDP receive queue: requests the loop could
not read in time then wait in the kernel no longer than they are worth, and the excess is dropped there at
no cost (the callers retransmit, backing off); calls admitted are recent ones.

The Retry-After of a refusal follows the load: ``retry_after`` while refusals are
rare, rising towards ``retry_after_max`` as the share of calls refused over the
last several seconds goes to one, so that callers held back by a long overload
come back later than those refused in a short burst.
"""

from __future__ import annotations

import enum
import math
import random
from dataclasses import dataclass


class Refusal(enum.Enum):
    """Why a call was refused."""

    CALLS = "calls in progress"
    RATE = "call rate"
    LAG = "event-loop lag"


@dataclass(frozen=True, slots=True)
class OverloadPolicy:
    max_calls: int = 200
    """Customer calls in progress at most."""
    max_rate: float | None = None
    """New calls accepted per second at most (in a burst too, up to one second's worth); None means no limit."""
    max_lag: float | None = 0.05
    """Smoothed event-loop lag (seconds) beyond which new calls are shed; None means never on lag."""
    retry_after: int = 10
    """Retry-After (seconds) of a refusal while refusals are rare."""
    retry_after_max: int = 60
    """Retry-After when every recent call was refused."""


@dataclass(frozen=True, slots=True)
class Admission:
    """The verdict on one new call."""

    refusal: Refusal | None
    """None: take the call."""
    retry_after: int = 0
    """Seconds for the Retry-After of the 503 (when refused)."""

    @property
    def accepted(self) -> bool:
        return self.refusal is None


LAG_TIME_CONSTANT = 0.5
"""Seconds over which lag samples are smoothed (exponentially weighted)."""
LOAD_TIME_CONSTANT = 5.0
"""Seconds over which the share of refused calls (for Retry-After) is measured."""


class OverloadControl:
    """See the module docstring. Every method takes the clock; nothing here reads one."""

    def __init__(self, policy: OverloadPolicy, *, rng: random.Random | None = None) -> None:
        self.policy = policy
        self.rng = rng or random.Random()
        self.lag = 0.0
        """The smoothed event-loop lag, in seconds."""
        self.shedding = False
        """The smoothed lag went past ``max_lag`` and has not yet come back under half of it."""
        self._lag_at: float | None = None
        self._tokens = float(self._burst)
        self._tokens_at: float | None = None
        self._offered = 0.0
        self._refused = 0.0
        self._load_at: float | None = None

    def reconfigure(self, policy: OverloadPolicy) -> None:
        """A reloaded policy; the measurements so far are kept."""
        self.policy = policy
        self._tokens = min(self._tokens, float(self._burst))

    @property
    def _burst(self) -> float:
        rate = self.policy.max_rate
        return max(1.0, rate) if rate is not None else 0.0

    # --- measurements -----------------------------------------------------------------------------------------------

    def record_lag(self, lag: float, now: float) -> None:
        """One lag sample: a probe meant to run at ``now - lag`` ran at ``now``."""
        lag = max(0.0, lag)
        if self._lag_at is None:
            self.lag = lag
        else:
            weight = 1.0 - math.exp(-max(0.0, now - self._lag_at) / LAG_TIME_CONSTANT)
            self.lag += (lag - self.lag) * weight
        self._lag_at = now
        limit = self.policy.max_lag
        if limit is None or limit <= 0:
            self.shedding = False
        elif self.lag > limit:
            self.shedding = True
        elif self.lag < limit / 2:
            self.shedding = False

    @property
    def refused_share(self) -> float:
        """Share of the calls offered over the last ``LOAD_TIME_CONSTANT`` seconds or so that were refused."""
        return self._refused / self._offered if self._offered > 0 else 0.0

    def shed_probability(self) -> float:
        """The share of new calls the current lag refuses: 0 up to ``max_lag``, 1 from twice that."""
        limit = self.policy.max_lag
        if limit is None or limit <= 0 or self.lag <= limit:
            return 0.0
        return min(1.0, (self.lag - limit) / limit)

    # --- the decision -----------------------------------------------------------------------------------------------

    def admit(self, now: float, calls_in_progress: int) -> Admission:
        """Whether to take a new call now, with ``calls_in_progress`` customer calls already up."""
        self._decay_load(now)
        retry_after = self._retry_after()
        self._offered += 1.0
        refusal = self._refusal(now, calls_in_progress)
        if refusal is None:
            return Admission(None)
        self._refused += 1.0
        return Admission(refusal, retry_after)

    def _refusal(self, now: float, calls_in_progress: int) -> Refusal | None:
        policy = self.policy
        if calls_in_progress >= policy.max_calls:
            return Refusal.CALLS
        shed = self.shed_probability()
        if shed > 0.0 and (shed >= 1.0 or self.rng.random() < shed):
            return Refusal.LAG
        if policy.max_rate is not None:
            if self._tokens_at is not None:
                self._tokens = min(self._burst, self._tokens + (now - self._tokens_at) * policy.max_rate)
            self._tokens_at = now
            if self._tokens < 1.0:
                return Refusal.RATE
            self._tokens -= 1.0
        return None

    def _retry_after(self) -> int:
        policy = self.policy
        low, high = policy.retry_after, max(policy.retry_after, policy.retry_after_max)
        return low + round((high - low) * self.refused_share)

    def _decay_load(self, now: float) -> None:
        if self._load_at is not None and now > self._load_at:
            factor = math.exp(-(now - self._load_at) / LOAD_TIME_CONSTANT)
            self._offered *= factor
            self._refused *= factor
        self._load_at = now
