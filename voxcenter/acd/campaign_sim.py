"""A campaign on a fake clock: the real pacing (:mod:`voxcenter.acd.pacing`) against simulated customers and
agents, to measure the abandon rate it holds and the agents' occupancy it reaches.

Every ``TICK`` the pacing decides how many customers to dial, as the server does. A customer answers with
probability ``answer_rate`` after a delay uniform in 4–16 s; the others end unanswered after 3–25 s. An
answered customer takes a free agent at once, or waits up to ``connect_within`` for one and is an abandon
otherwise. Talk time is exponential with mean ``talk`` seconds, followed by ``wrap_up`` seconds of wrap-up.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass

from voxcenter.acd.pacing import DialStats, Staffing, predictive_lines, progressive_lines

TICK = 0.5


@dataclass(frozen=True, slots=True)
class CampaignRun:
    agents: int
    mode: str
    dials: int
    answered: int
    abandoned: int
    occupancy: float
    """Share of the agents' time spent talking or in wrap-up."""

    @property
    def abandon_rate(self) -> float:
        return self.abandoned / self.answered if self.answered else 0.0


def simulate_campaign(*, agents: int, mode: str, answer_rate: float, hours: float, seed: int,
                      talk: float = 120.0, wrap_up: float = 10.0, connect_within: float = 2.0,
                      abandon_limit: float = 0.03) -> CampaignRun:
    rng = random.Random(seed)
    stats = DialStats(abandon_window=hours * 3600.0, settle=25.0)
    busy_until = [0.0] * agents  # when each agent is free (talk and wrap-up)
    wrap_from = [0.0] * agents  # when each agent's wrap-up starts
    events: list[tuple[float, int, bool, float]] = []  # (at, sequence, answered, dialled at)
    waiting: list[float] = []  # answered customers waiting for an agent: their deadline
    in_flight = dials = answered = abandoned = sequence = 0
    worked = 0.0
    end = hours * 3600.0
    now = 0.0
    while now < end:
        while events and events[0][0] <= now:
            at, _, picked_up, dialled = heapq.heappop(events)
            in_flight -= 1
            stats.dial_ended(dialled, at - dialled if picked_up else None)
            if picked_up:
                answered += 1
                waiting.append(at + connect_within)
        for deadline in sorted(waiting):
            free = next((i for i, until in enumerate(busy_until) if until <= now), None)
            if free is not None:
                handle = rng.expovariate(1.0 / talk)
                wrap_from[free] = now + handle
                busy_until[free] = now + handle + wrap_up
                worked += handle + wrap_up
                stats.handled(handle + wrap_up)
                stats.connected(now, abandoned=False)
                waiting.remove(deadline)
            elif deadline <= now:
                abandoned += 1
                stats.connected(now, abandoned=True)
                waiting.remove(deadline)
        free_now = sum(1 for until in busy_until if until <= now)
        wrapping = tuple(until - now for until, start in zip(busy_until, wrap_from, strict=True)
                         if start <= now < until)
        talking = sum(1 for until, start in zip(busy_until, wrap_from, strict=True) if now < start)
        staffing = Staffing(free=max(0, free_now - len(waiting)), wrapping_up=wrapping, talking=talking)
        if mode == "predictive":
            lines = predictive_lines(staffing, in_flight, stats.measures(now), abandon_limit, connect_within)
        else:
            lines = progressive_lines(staffing, in_flight)
        for _ in range(lines):
            picked_up = rng.random() < answer_rate
            delay = rng.uniform(4.0, 16.0) if picked_up else rng.uniform(3.0, 25.0)
            sequence += 1
            heapq.heappush(events, (now + delay, sequence, picked_up, now))
            in_flight += 1
            dials += 1
        now += TICK
    return CampaignRun(agents, mode, dials, answered, abandoned, min(1.0, worked / (agents * end)))
