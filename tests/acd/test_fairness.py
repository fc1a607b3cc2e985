"""Priority ages: an overloaded queue of priority callers cannot starve a queue that shares its agents.

Queues A and B share 10 agents. A is offered 120 % of their capacity (12 erlangs) for a few hours, its callers
at priority Δ; B 20 % (2 erlangs) at priority 0; nobody hangs up; handle times are exponential with a mean of
180 s. Under strict priority B is served only once A's arrivals stop. With priority worth ``PRIORITY_STEP``
seconds a level (``voxcenter.acd.ordering``), a B caller waits only for the B callers before it and the A callers
who joined up to Δ × 60 s after it: no A caller who joined later is answered first (checked for every pair), so
B's waits stay within A's longest plus Δ × 60 s and one mean handle time (A's arrivals are random).
"""

from __future__ import annotations

import heapq
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voxcenter.acd import AgentProfile, Bridge, CallRequest, Discipline, QueuePolicy, RingAgent, Router
from voxcenter.acd.ordering import PRIORITY_STEP

HANDLE = 180.0


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


Answered = tuple[float, float]
"""(joined, answered) of one caller, seconds."""


def run(seed: int, hours: float, priority: int) -> tuple[list[Answered], list[Answered]]:
    """When A's and B's callers joined and were answered."""
    rng = random.Random(seed)
    policies = [QueuePolicy(name, discipline=Discipline.PRIORITY, announce_every=None, autopause_after=None,
                            default_handle_time=HANDLE) for name in ("A", "B")]
    agents = [AgentProfile(f"a{i}", queues=frozenset({"A", "B"})) for i in range(10)]
    router = Router(policies, agents, now=0.0, seed=seed)
    for agent in agents:
        router.agent_registered(agent.agent_id, 0.0)
        router.agent_login(agent.agent_id, 0.0)
    events: list[tuple[float, int, str, str]] = []
    seq = 0
    for queue, erlangs in (("A", 12.0), ("B", 2.0)):
        at = rng.expovariate(erlangs / HANDLE)
        while at < hours * 3600:
            seq += 1
            heapq.heappush(events, (at, seq, "join", f"{queue}{seq}"))
            at += rng.expovariate(erlangs / HANDLE)
    answered: dict[str, list[Answered]] = {"A": [], "B": []}
    while events:
        now, _, kind, call_id = heapq.heappop(events)
        if kind == "join":
            prio = priority if call_id.startswith("A") else 0
            router.caller_joined(CallRequest(call_id, call_id[0], priority=prio), now)
        else:
            router.call_ended(call_id, now)
        while (decision := router.next_decision()) is not None:
            if isinstance(decision, Bridge):
                answered[decision.queue].append((now - decision.waited, now))
                seq += 1
                heapq.heappush(events, (now + rng.expovariate(1 / HANDLE), seq, "hangup", decision.call_id))
            elif isinstance(decision, RingAgent):  # answered at once
                router.ring_answered(decision.call_id, decision.agent_id, now)
    return answered["A"], answered["B"]


def waits(calls: list[Answered]) -> list[float]:
    return [served - joined for joined, served in calls]


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), hours=st.floats(1.0, 3.0), priority=st.integers(1, 3))
def test_an_overloaded_priority_queue_does_not_starve_the_queue_sharing_its_agents(
    seed: int, hours: float, priority: int
) -> None:
    a_calls, b_calls = run(seed, hours, priority)
    assert len(b_calls) > 20
    head_start = priority * PRIORITY_STEP
    a_calls.sort()
    for joined, served in b_calls:  # no A caller who joined more than Δ × 60 s later is answered first
        later = [a_served for a_joined, a_served in a_calls if a_joined > joined + head_start]
        assert not later or served <= min(later)
    bound = max(waits(a_calls)) + head_start + HANDLE
    assert percentile(waits(b_calls), 0.95) <= bound


def test_strict_priority_would_have_starved_b() -> None:
    # The same traffic with A's callers 1000 levels up (priority as good as strict): B waits for A's backlog.
    a_calls, b_calls = run(seed=1, hours=2.0, priority=1000)
    assert percentile(waits(b_calls), 0.95) > max(waits(a_calls)) + 3600
    _, fair_b = run(seed=1, hours=2.0, priority=1)
    assert percentile(waits(fair_b), 0.95) < percentile(waits(b_calls), 0.95) / 2
