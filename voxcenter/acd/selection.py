"""Eligibility by skills and agent selection strategies.

Skills: a call requires skills at minimum levels (the queue's own and the call's, relaxed over
time by the queue's relaxation steps) and may prefer others. The free eligible agents are cut
down to one tier, then the queue's strategy picks among the tier:

1. penalty: only the agents of the lowest membership penalty among the free ones (Asterisk's
   penalty: a higher penalty is offered a call only when nobody of a lower one is free);
2. skill rank: the best-skilled of those (sum of levels on required skills, then on preferred ones);
3. cost, in ``cost_aware`` queues: the cheapest of those.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from voxcenter.acd.model import AgentProfile, RelaxationStep, SkillRequirement, Strategy


def relaxed_requirements(
    required: tuple[SkillRequirement, ...], steps: tuple[RelaxationStep, ...]
) -> tuple[SkillRequirement, ...]:
    """The requirements once every step of ``steps`` (the steps already due) has been applied."""
    result = required
    for step in steps:
        relaxed: list[SkillRequirement] = []
        for req in result:
            if req.skill in step.drop:
                continue
            if step.min_level is not None and req.min_level > step.min_level:
                req = SkillRequirement(req.skill, step.min_level)
            relaxed.append(req)
        result = tuple(relaxed)
    return result


def meets(profile: AgentProfile, required: tuple[SkillRequirement, ...]) -> bool:
    """Whether the agent has every required skill at or above its minimum level."""
    return all(profile.level(req.skill) >= req.min_level for req in required)


def merged_requirements(
    queue: tuple[SkillRequirement, ...], call: tuple[SkillRequirement, ...]
) -> tuple[SkillRequirement, ...]:
    """The queue's required skills and the call's together; a skill both name needs the higher level."""
    levels: dict[str, int] = {}
    for req in (*queue, *call):
        levels[req.skill] = max(req.min_level, levels.get(req.skill, 0))
    return tuple(SkillRequirement(skill, level) for skill, level in levels.items())


def skill_rank(
    profile: AgentProfile,
    required: tuple[SkillRequirement, ...],
    preferred: tuple[SkillRequirement, ...],
) -> tuple[int, int]:
    """Rank of an eligible agent for a call: smaller is offered first (the best-skilled)."""
    required_sum = sum(profile.level(req.skill) for req in required)
    preferred_sum = sum(profile.level(p.skill) for p in preferred if profile.level(p.skill) >= p.min_level)
    return (-required_sum, -preferred_sum)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A free, eligible agent as the strategies see it."""

    agent_id: str
    """The agent."""
    order: int
    """Position in the configured agent list (linear and round-robin order)."""
    idle_since: float
    """When the agent last became ready after a call or a pause."""
    calls_taken: int
    """Calls answered since the router started."""
    talk_time: float
    """Seconds on calls since the router started."""
    weight: float
    """Weighted-random share in the call's queue."""
    rank: tuple[int, int]
    """Skill rank for this call (smaller is better)."""
    penalty: int = 0
    """Penalty of the agent's membership of the call's queue (smaller is offered first)."""
    cost: float = 0.0
    """The agent's cost (compared in cost-aware queues only)."""


def best_tier(candidates: Sequence[Candidate], cost_aware: bool = False) -> list[Candidate]:
    """The candidates of the lowest penalty, then the best skill rank, then (``cost_aware``) the lowest cost,
    in configured order."""
    if not candidates:
        return []
    best = min((c.penalty, c.rank) for c in candidates)
    tier = [c for c in candidates if (c.penalty, c.rank) == best]
    if cost_aware:
        cheapest = min(c.cost for c in tier)
        tier = [c for c in tier if c.cost == cheapest]
    return sorted(tier, key=lambda c: c.order)


def select_agents(
    candidates: Sequence[Candidate], strategy: Strategy, rng: random.Random, last_rung: int | None,
    cost_aware: bool = False,
) -> list[Candidate]:
    """The agents to ring for one call: all of the best tier (``best_tier``) for ring-all, else exactly one
    of it.

    ``last_rung`` is the ``order`` of the queue's last rung agent (round robin); ``rng`` is the
    router's seeded generator, so runs are reproducible.
    """
    tier = best_tier(candidates, cost_aware)
    if not tier:
        return []
    if strategy is Strategy.RING_ALL:
        return tier
    if strategy is Strategy.LONGEST_IDLE:
        return [min(tier, key=lambda c: (c.idle_since, c.order))]
    if strategy is Strategy.FEWEST_CALLS:
        return [min(tier, key=lambda c: (c.calls_taken, c.idle_since, c.order))]
    if strategy is Strategy.LEAST_TALK_TIME:
        return [min(tier, key=lambda c: (c.talk_time, c.idle_since, c.order))]
    if strategy is Strategy.LINEAR:
        return [tier[0]]
    if strategy is Strategy.ROUND_ROBIN:
        if last_rung is None:
            return [tier[0]]
        after = [c for c in tier if c.order > last_rung]
        return [after[0] if after else tier[0]]
    if strategy is Strategy.RANDOM:
        return [rng.choice(tier)]
    # WEIGHTED_RANDOM
    return rng.choices(tier, weights=[c.weight for c in tier], k=1)


__all__ = [
    "Candidate",
    "best_tier",
    "meets",
    "merged_requirements",
    "relaxed_requirements",
    "select_agents",
    "skill_rank",
]
