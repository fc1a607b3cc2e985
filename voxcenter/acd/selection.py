"""Eligibility by skills and agent selection strategies.

Skills: a call requires skills at minimum levels (relaxed over time by the queue's
relaxation steps) and may prefer others. Among eligible agents the best-skilled are
offered first (sum of levels on required skills, then on preferred ones); with
``cost_aware`` the cheapest sufficient agent (lowest levels) comes first instead, so
experts stay free for calls only they can take. The queue's strategy then picks among
agents of the same skill rank.
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


def skill_rank(
    profile: AgentProfile,
    required: tuple[SkillRequirement, ...],
    preferred: tuple[SkillRequirement, ...],
    cost_aware: bool,
) -> tuple[int, int]:
    """Rank of an eligible agent for a call: smaller is offered first."""
    required_sum = sum(profile.level(req.skill) for req in required)
    preferred_sum = sum(profile.level(p.skill) for p in preferred if profile.level(p.skill) >= p.min_level)
    if cost_aware:
        return (required_sum, -preferred_sum)
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
    """Weighted-random share."""
    rank: tuple[int, int]
    """Skill rank for this call (smaller is better); equal for all under non-skill disciplines."""


def select_agents(
    candidates: Sequence[Candidate], strategy: Strategy, rng: random.Random, last_rung: int | None
) -> list[Candidate]:
    """The agents to ring for one call: all of the best skill rank for ring-all, else exactly one.

    ``last_rung`` is the ``order`` of the queue's last rung agent (round robin); ``rng`` is the
    router's seeded generator, so runs are reproducible.
    """
    if not candidates:
        return []
    best_rank = min(c.rank for c in candidates)
    tier = sorted((c for c in candidates if c.rank == best_rank), key=lambda c: c.order)
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
    "meets",
    "relaxed_requirements",
    "select_agents",
    "skill_rank",
]
