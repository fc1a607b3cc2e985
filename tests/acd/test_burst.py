"""Ring-all splits the free agents among the callers at the head: a burst of callers is rung at once.

200 callers arrive within a second into a ring-all queue with 400 free agents, whose phones answer 2 s after
they start ringing. Serial ring-all (the first caller reserving every free agent) would connect them one after
another, the last after 400 s; split, they are all connected within the answer delay of the last arrival.
"""

from __future__ import annotations

import heapq

import pytest

from voxcenter.acd import AgentProfile, Bridge, CallRequest, CancelRing, QueuePolicy, RingAgent, Router, Strategy

from .driver import Harness, of_type

ANSWER_DELAY = 2.0


def burst(callers: int, agents: int, spread: float) -> tuple[dict[str, float], int]:
    """When each caller was connected (simulated seconds), and the rings taken back meanwhile."""
    policy = QueuePolicy("q", strategy=Strategy.RING_ALL, announce_every=None, autopause_after=None,
                         ring_timeout=30.0)
    profiles = [AgentProfile(f"a{i:03d}", queues=frozenset({"q"})) for i in range(agents)]
    router = Router([policy], profiles, now=0.0)
    for profile in profiles:
        router.agent_registered(profile.agent_id, 0.0)
        router.agent_login(profile.agent_id, 0.0)
    events: list[tuple[float, int, str, str, str]] = []  # (at, seq, kind, call, agent)
    seq = 0
    for i in range(callers):
        seq += 1
        heapq.heappush(events, (spread * i / callers, seq, "join", f"c{i:03d}", ""))
    ringing: set[tuple[str, str]] = set()
    connected: dict[str, float] = {}
    taken_back = 0
    while events:
        now, _, kind, call_id, agent_id = heapq.heappop(events)
        if kind == "join":
            router.caller_joined(CallRequest(call_id, "q"), now)
        elif (call_id, agent_id) in ringing:
            router.ring_answered(call_id, agent_id, now)
        while (decision := router.next_decision()) is not None:
            if isinstance(decision, RingAgent):
                ringing.add((decision.call_id, decision.agent_id))
                seq += 1
                heapq.heappush(events, (now + ANSWER_DELAY, seq, "answer", decision.call_id, decision.agent_id))
            elif isinstance(decision, CancelRing):
                ringing.discard((decision.call_id, decision.agent_id))
                taken_back += decision.reason == "ring shared with the callers behind"
            elif isinstance(decision, Bridge):
                ringing.discard((decision.call_id, decision.agent_id))
                connected[decision.call_id] = now
    return connected, taken_back


@pytest.mark.parametrize("spread", [0.0, 1.0])
def test_200_callers_and_400_free_agents_all_connect_within_the_answer_delay(spread: float) -> None:
    connected, taken_back = burst(200, 400, spread)
    assert len(connected) == 200
    assert max(connected.values()) <= spread + ANSWER_DELAY
    if spread:
        assert taken_back > 0  # the first callers gave rings back to those who came after them


def test_the_head_shares_free_agents_and_a_lone_caller_rings_everyone() -> None:
    policy = QueuePolicy("q", strategy=Strategy.RING_ALL, announce_every=None)
    h = Harness([policy], [AgentProfile(f"a{i}", queues=frozenset({"q"})) for i in range(6)])
    h.staff(*(f"a{i}" for i in range(6)))
    assert len(of_type(h.join("c0"), RingAgent)) == 6  # alone: every free agent rings
    out = h.join("c1")  # c0 gives half of its rings to c1
    taken = {c.agent_id for c in of_type(out, CancelRing)}
    assert len(taken) == 3 and {r.agent_id for r in of_type(out, RingAgent) if r.call_id == "c1"} == taken
    out = h.join("c2")
    assert len(of_type(out, RingAgent)) == 2 and all(r.call_id == "c2" for r in of_type(out, RingAgent))
    rings = {v.call_id: len(v.ringing) for v in h.router.waiting("q", 0.0)}
    assert rings == {"c0": 2, "c1": 2, "c2": 2}
    h.join("c3")  # a share of 1 each (6 agents, 4 callers): c3 takes one ring back, the head keeps two
    rings = {v.call_id: len(v.ringing) for v in h.router.waiting("q", 0.0)}
    assert rings == {"c0": 2, "c1": 2, "c2": 1, "c3": 1}
