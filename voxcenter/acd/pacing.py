"""Campaign pacing: how many customers to dial now, so that agents wait little and few answered customers
find no agent.

*Progressive* dials one customer per free agent that no dial in flight is already meant for. *Predictive*
dials ahead of the agents, from what the campaign has measured: the share of dials a person answers (``p``),
how long answered dials took to be answered (their distribution, not only the mean), and the agents' mean
handle time (``h``). One pacing decision models the dials now in flight and the new ones:

- the answers are ``X ~ Binomial(in_flight + n, p)``;
- a customer who answers after ``a`` seconds finds the agents free then, or within the ``connect_within``
  seconds ``c`` they may wait: each busy agent is free by ``a + c`` with probability ``q_i``, averaged over
  the measured answer times ``a``. An agent in wrap-up with ``r`` seconds left is free when ``a + c >= r``; a
  talking agent with probability ``1 - exp(-(a + c) / h)`` (handle times taken as exponential, so the time
  already talked does not matter). The agents free then are ``F = free + Σ Bernoulli(q_i)``;
- the customers who find no agent are ``max(0, X - F)``.

The number of new dials ``n`` is the largest for which the expected share of answered customers who find no
agent, ``E[max(0, X - F)] / E[X]``, stays within the abandon budget: half of what the campaign's limit leaves
after the abandon rate already measured over its window. The measured rate so settles well below the limit
even where the model errs (answers are not simultaneous, customers take the agents in turn). With no budget
left this is progressive pacing (``in_flight + n <= free``). Until ``WARMUP_DIALS`` dials have been measured,
predictive pacing is progressive too: ``p`` and the answer times are not known yet.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

WARMUP_DIALS = 20
"""Dials measured before a predictive campaign dials ahead of its free agents."""
MAX_LINES_PER_AGENT = 3.0
"""Dials in flight per staffed agent at most, whatever the model says (a guard against a wrong measure)."""


@dataclass(frozen=True, slots=True)
class Staffing:
    """The campaign's agents at the moment of a pacing decision."""

    free: int
    """Agents ready and idle now, that no dial in flight is meant for."""
    wrapping_up: tuple[float, ...] = ()
    """Seconds of wrap-up left, per agent in wrap-up."""
    talking: int = 0
    """Agents on a call."""

    @property
    def staffed(self) -> int:
        return self.free + len(self.wrapping_up) + self.talking


@dataclass(frozen=True, slots=True)
class Measures:
    """What the campaign has measured so far (see :class:`DialStats`)."""

    dials: int
    """Dials whose outcome is known, within the measuring window."""
    answer_rate: float
    """Share of those dials a person answered."""
    answer_time: float
    """Mean seconds from dial to answer, of the answered ones."""
    handle_time: float
    """Agents' mean handle time (talk and wrap-up), seconds."""
    abandon_rate: float
    """Share of answered customers who found no agent, over the abandon window."""
    answer_times: tuple[float, ...] = ()
    """The answered dials' seconds to answer (the measuring window's); empty: ``answer_time`` alone."""


def progressive_lines(staffing: Staffing, in_flight: int) -> int:
    """One dial per free agent not already covered by a dial in flight."""
    return max(0, staffing.free - in_flight)


def predictive_lines(staffing: Staffing, in_flight: int, measures: Measures, abandon_limit: float,
                     connect_within: float = 2.0) -> int:
    """New dials now (see the module docstring)."""
    progressive = progressive_lines(staffing, in_flight)
    budget = (abandon_limit - measures.abandon_rate) / 2
    p = measures.answer_rate
    if measures.dials < WARMUP_DIALS or budget <= 0 or p <= 0:
        return progressive
    free_then = free_agents_pmf(staffing, measures.answer_times or (measures.answer_time,), measures.handle_time,
                                connect_within)
    ceiling = max(progressive, math.floor(MAX_LINES_PER_AGENT * staffing.staffed) - in_flight)
    # The share grows with the dials: the largest number within the budget, by bisection.
    low, high = progressive, ceiling
    while low < high:
        middle = (low + high + 1) // 2
        if expected_abandon_share(in_flight + middle, p, free_then) <= budget:
            low = middle
        else:
            high = middle - 1
    return low


def expected_abandon_share(dials: int, answer_rate: float, free_then: npt.NDArray[np.float64]) -> float:
    """``E[max(0, X - F)] / E[X]`` for ``X ~ Binomial(dials, answer_rate)`` and ``F`` distributed as
    ``free_then`` (its probability per number of free agents, from 0)."""
    if dials <= 0 or answer_rate <= 0:
        return 0.0
    answers = binomial_pmf(dials, answer_rate)
    excess = np.arange(dials + 1)[:, None] - np.arange(free_then.size)[None, :]
    lost = float(answers @ np.clip(excess, 0, None) @ free_then)
    return lost / (dials * answer_rate)


def binomial_pmf(trials: int, probability: float) -> npt.NDArray[np.float64]:
    """``P(X = k)`` for ``k = 0..trials``, computed in logs so that large ``trials`` do not overflow."""
    k = np.arange(trials + 1)
    if probability >= 1.0:
        certain: npt.NDArray[np.float64] = (k == trials).astype(np.float64)
        return certain
    log_factorial = np.concatenate(([0.0], np.cumsum(np.log(np.arange(1, trials + 1)))))
    log_choose = log_factorial[trials] - log_factorial - log_factorial[::-1]
    pmf: npt.NDArray[np.float64] = np.exp(log_choose + k * math.log(probability)
                                          + (trials - k) * math.log1p(-probability))
    return pmf


def free_agents_pmf(staffing: Staffing, answer_times: tuple[float, ...], handle_time: float,
                    connect_within: float) -> npt.NDArray[np.float64]:
    """The distribution of the agents free for a customer when they answer (see the module docstring)."""
    reach = np.asarray(answer_times, dtype=np.float64) + connect_within
    chances = [float(np.mean(reach >= left)) for left in staffing.wrapping_up]
    if staffing.talking:
        talking = float(np.mean(1.0 - np.exp(-reach / handle_time))) if handle_time > 0 else 1.0
        chances.extend([talking] * staffing.talking)
    pmf = np.zeros(staffing.free + 1)
    pmf[staffing.free] = 1.0
    for chance in chances:  # one more Bernoulli agent: a convolution
        pmf = np.append(pmf * (1.0 - chance), 0.0) + np.append(0.0, pmf * chance)
    result: npt.NDArray[np.float64] = pmf
    return result


class DialStats:
    """The rolling measures of one campaign: the last ``window`` dials, and the answered customers of the last
    ``abandon_window`` seconds (who found an agent or not). Driven with ``now``; no clock of its own.

    The answer rate is measured on the dials started at least ``settle`` seconds ago (the longest a dial can
    take: the ring time), all of which have ended: counting every dial ended so far would favour the quick
    outcomes, the busy lines and early give-ups, over the customers who answer after a while, and make the
    rate look lower than it is (and the pacing dial too many). The handle time is shrunk towards its prior
    while few calls were handled (``PRIOR_WEIGHT`` calls' worth), so that one short call does not make every
    agent look about to be free."""

    PRIOR_WEIGHT = 5

    def __init__(self, *, window: int = 200, abandon_window: float = 3600.0, handle_prior: float = 180.0,
                 answer_time_prior: float = 10.0, settle: float = 30.0) -> None:
        self._ended: list[tuple[float, int, float | None]] = []  # heap of (started, order, seconds to answer)
        self._settled: deque[float | None] = deque(maxlen=window)  # the last ``window`` by start, all ended
        self._order = 0
        self._answered: deque[tuple[float, bool]] = deque()  # (when, found no agent)
        self._handles: deque[float] = deque(maxlen=window)
        self.abandon_window = abandon_window
        self.handle_prior = handle_prior
        self.answer_time_prior = answer_time_prior
        self.settle = settle

    def dial_ended(self, started: float, answer_after: float | None) -> None:
        """A dial's outcome: answered after that many seconds, or None (busy, no answer, failed)."""
        self._order += 1
        heapq.heappush(self._ended, (started, self._order, answer_after))

    def connected(self, now: float, abandoned: bool) -> None:
        """An answered customer found an agent within the campaign's limit, or not (an abandon)."""
        self._answered.append((now, abandoned))

    def handled(self, seconds: float) -> None:
        """An agent finished a campaign call, wrap-up included."""
        self._handles.append(seconds)

    def measures(self, now: float) -> Measures:
        while self._answered and self._answered[0][0] < now - self.abandon_window:
            self._answered.popleft()
        # Dials started ``settle`` ago have all ended: taken in the order they started, none is left out.
        while self._ended and self._ended[0][0] <= now - self.settle:
            self._settled.append(heapq.heappop(self._ended)[2])
        settled = self._settled
        answered = [after for after in settled if after is not None]
        abandons = sum(1 for _, abandoned in self._answered if abandoned)
        handles, weight = sum(self._handles), len(self._handles)
        return Measures(
            dials=len(settled),
            answer_rate=len(answered) / len(settled) if settled else 0.0,
            answer_time=sum(answered) / len(answered) if answered else self.answer_time_prior,
            answer_times=tuple(answered),
            handle_time=(handles + self.PRIOR_WEIGHT * self.handle_prior) / (weight + self.PRIOR_WEIGHT),
            abandon_rate=abandons / len(self._answered) if self._answered else 0.0,
        )
