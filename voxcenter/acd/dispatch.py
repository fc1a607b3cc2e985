"""Dispatch: which free agents are offered which waiting entries, right now.

Every dispatchable entry of every queue is visited in THE queue order (``ordering.order_key``,
with each queue's discipline and cross-queue weight), and each is given the best eligible free
agent (all of the best tier, ``selection.best_tier``, for ring-all). So an agent serving several queues is offered
the caller with the longest weighted wait among those it can take, and a caller no free agent
can take does not hold up the callers behind it.

An agent who did not answer an entry is skipped for it until every eligible agent was tried;
then a new round starts. An entry held for speakers of its caller's language (``held``) is offered
only to agents who speak it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Set

from voxcenter.acd.agents import Agent, AgentState
from voxcenter.acd.model import QueuePolicy, SkillRequirement, Strategy
from voxcenter.acd.ordering import order_key
from voxcenter.acd.selection import (
    Candidate,
    meets,
    merged_requirements,
    relaxed_requirements,
    select_agents,
    skill_rank,
)
from voxcenter.acd.waiting import Entry


def requirements(entry: Entry, policy: QueuePolicy) -> tuple[SkillRequirement, ...]:
    """The entry's required skills (the queue's and the call's) after the relaxation steps already due."""
    required = merged_requirements(policy.skills, entry.request.required)
    return relaxed_requirements(required, policy.relaxation[: entry.relax_index])


def serves(agent: Agent, entry: Entry, policy: QueuePolicy) -> bool:
    """Whether the agent is a member (or an opened backup) of the entry's queue with the skills it needs now."""
    member = entry.queue in agent.profile.queues or bool(agent.profile.groups & entry.backup_groups)
    return member and meets(agent.profile, requirements(entry, policy))


def assign(
    entries: list[Entry],
    free: Mapping[str, Agent],
    policies: Mapping[str, QueuePolicy],
    rng: random.Random,
    last_rung: Mapping[str, int],
    now: float,
    held: Set[str] = frozenset(),
) -> list[tuple[Entry, list[Agent]]]:
    """Pairs (entry, agents to ring) for this instant; starts a new round on entries that tried everyone.

    ``held``: call ids that only agents who speak the caller's language may be offered now.
    """
    available = dict(free)
    result: list[tuple[Entry, list[Agent]]] = []
    ready = [e for e in entries if e.dispatchable(now)]
    ready.sort(key=lambda e: order_key(e, policies[e.queue].discipline, policies[e.queue].weight, now))
    ring_all_left: dict[str, int] = {}
    for entry in ready:
        if policies[entry.queue].strategy is Strategy.RING_ALL:
            ring_all_left[entry.queue] = ring_all_left.get(entry.queue, 0) + 1
    for entry in ready:
        if not available:
            break
        policy = policies[entry.queue]
        callers_left = 1
        if policy.strategy is Strategy.RING_ALL:
            callers_left = ring_all_left[entry.queue]
            ring_all_left[entry.queue] -= 1
        eligible = [a for a in available.values() if serves(a, entry, policy)
                    and (entry.call_id not in held or a.profile.speaks(entry.request.language))
                    and not (entry.callback and a.state is AgentState.ON_CALL)]  # a callback needs a free agent
        untried = [a for a in eligible if a.agent_id not in entry.tried]
        if eligible and not untried:
            entry.tried.clear()  # everyone was tried: start a new round
            untried = eligible
        if not untried:
            continue
        needed = requirements(entry, policy)
        candidates = [
            Candidate(
                a.agent_id, a.order, a.idle_since, a.calls_taken, a.talk_time, a.profile.share(entry.queue),
                skill_rank(a.profile, needed, entry.request.preferred), a.profile.penalty(entry.queue),
                a.profile.cost,
            )
            for a in untried
        ]
        chosen = select_agents(candidates, policy.strategy, rng, last_rung.get(entry.queue), policy.cost_aware)
        if callers_left > 1:  # ring-all: this caller's share of the free agents, the rest for those behind
            chosen = chosen[:math.ceil(len(untried) / callers_left)]
        result.append((entry, [available.pop(c.agent_id) for c in chosen]))
    return result
