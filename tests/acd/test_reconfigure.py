"""Router.reconfigure: a reloaded dial plan's queues and agents, applied without losing a caller."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.acd.driver import Harness, of_type
from voxcenter.acd import (
    AgentProfile,
    AgentState,
    AgentStateChanged,
    Bridge,
    CallCompleted,
    CancelRing,
    ConfigError,
    ExitReason,
    Overflow,
    QueueExit,
    QueuePolicy,
    RingAgent,
    RouterError,
)

QUEUES = [QueuePolicy("q", announce_every=None), QueuePolicy("other", announce_every=None, join_empty=True)]
AGENTS = [AgentProfile("a1", frozenset({"q"})), AgentProfile("a2", frozenset({"q", "other"}))]


def waiting(h: Harness, queue: str) -> list[tuple[str, float]]:
    return [(view.call_id, view.virtual_start) for view in h.router.waiting(queue, h.now)]


def busy_harness() -> Harness:
    """a1 on a call from q, a2 paused, three callers waiting in q and one in other."""
    h = Harness(QUEUES, AGENTS)
    h.staff("a1", "a2")
    h.router.agent_pause("a2", 0.0, "lunch")
    h.join("first")
    h.router.ring_answered("first", "a1", 0.0)
    h.drain()
    for step, call in enumerate(["c1", "c2", "c3"], start=1):
        h.now = float(step)
        h.join(call)
    h.join("o1", queue="other")
    return h


def test_the_same_plan_again_changes_nothing() -> None:
    h = busy_harness()
    before = waiting(h, "q"), waiting(h, "other"), h.router.stats(h.now)
    h.router.reconfigure(QUEUES, AGENTS, h.now)
    assert h.drain() == []
    assert (waiting(h, "q"), waiting(h, "other"), h.router.stats(h.now)) == before
    assert h.router.agent_state("a1") is AgentState.ON_CALL
    assert h.router.agent_state("a2") is AgentState.PAUSED
    assert h.router.connected_calls() == {"first": "a1"}


def test_changed_policy_keeps_places_and_rearms_max_wait_from_the_join_time() -> None:
    h = busy_harness()
    before = waiting(h, "q")
    h.router.reconfigure([QueuePolicy("q", announce_every=None, max_wait=10.0, ring_timeout=5.0), QUEUES[1]],
                         AGENTS, h.now)
    assert h.drain() == []
    assert waiting(h, "q") == before
    # c1 joined at 1 s: its new maximum wait ends at 11 s, c3's at 13 s.
    exits = of_type(h.advance(11.5), Overflow)
    assert [(e.call_id, e.reason) for e in exits] == [("c1", ExitReason.TIMEOUT)]


def test_waiting_callers_of_a_removed_queue_leave_it_with_a_reason() -> None:
    h = busy_harness()
    h.router.agent_unpause("a2", h.now)
    rings = of_type(h.drain(), RingAgent)
    assert [(r.call_id, r.agent_id) for r in rings] == [("c1", "a2")]
    h.router.reconfigure([QueuePolicy("other", announce_every=None, join_empty=True)],
                         [AgentProfile("a1", frozenset()), AgentProfile("a2", frozenset({"other"}))], h.now)
    decisions = h.drain()
    assert [(d.call_id, d.agent_id) for d in of_type(decisions, CancelRing)] == [("c1", "a2")]
    exits = of_type(decisions, QueueExit)
    assert sorted(e.call_id for e in exits) == ["c1", "c2", "c3"]
    assert {e.reason for e in exits} == {ExitReason.EMPTY} and {e.queue for e in exits} == {"q"}
    with pytest.raises(RouterError):
        h.router.waiting("q", h.now)
    # a2 is free again and serves "other": its caller is offered at once.
    assert [(r.call_id, r.agent_id) for r in of_type(decisions, RingAgent)] == [("o1", "a2")]
    # The call connected from the removed queue ends normally.
    h.router.call_ended("first", h.now)
    assert [c.queue for c in of_type(h.drain(), CallCompleted)] == ["q"]


def test_new_agents_start_offline_and_removed_agents_leave_after_their_call() -> None:
    h = busy_harness()
    h.router.reconfigure(QUEUES, [AgentProfile("a1", frozenset({"q"}), wrapup=2.0),
                                  AgentProfile("a3", frozenset({"q"}))], h.now)
    changes = of_type(h.drain(), AgentStateChanged)
    # a2 (paused, removed) is logged out at once and forgotten; a1 is kept; a3 is new.
    assert [(c.agent_id, c.new) for c in changes] == [("a2", AgentState.OFFLINE)]
    assert h.router.agent_state("a3") is AgentState.OFFLINE
    with pytest.raises(RouterError):
        h.router.agent_state("a2")
    # Now remove a1 while it is on a call: it finishes the call and its wrap-up, then is gone.
    h.router.reconfigure(QUEUES, [AgentProfile("a3", frozenset({"q"}))], h.now)
    assert of_type(h.drain(), AgentStateChanged) == []
    assert h.router.agent_state("a1") is AgentState.ON_CALL
    with pytest.raises(RouterError):
        h.router.agent_login("a1", h.now)
    h.router.call_ended("first", h.now)
    changes = of_type(h.drain() + h.advance(h.now + 3), AgentStateChanged)
    assert [(c.agent_id, c.new) for c in changes] == [("a1", AgentState.WRAP_UP), ("a1", AgentState.OFFLINE)]
    with pytest.raises(RouterError):
        h.router.agent_state("a1")
    # Nobody is logged in any more: q's callers follow its leave-when-empty policy, none is silently lost.
    assert waiting(h, "q") == []
    assert sorted(e.call_id for e in of_type(h.log, Overflow)) == ["c1", "c2", "c3", "o1"]


def test_a_removed_agent_being_rung_is_withdrawn_and_the_caller_offered_again() -> None:
    queues = [QueuePolicy("q", announce_every=None, leave_when_empty=False, join_empty=True)]
    h = Harness(queues, [AgentProfile("a1", frozenset({"q"}))])
    h.staff("a1")
    h.join("c1")
    h.router.reconfigure(queues, [AgentProfile("a2", frozenset({"q"}))], h.now)
    decisions = h.drain()
    assert [(c.call_id, c.agent_id) for c in of_type(decisions, CancelRing)] == [("c1", "a1")]
    with pytest.raises(RouterError):
        h.router.agent_state("a1")
    rings = of_type(h.staff("a2"), RingAgent)
    assert [(r.call_id, r.agent_id) for r in rings] == [("c1", "a2")]


@pytest.mark.parametrize(("queues", "agents"), [
    ([QueuePolicy("q")], [AgentProfile("a1", frozenset({"gone"}))]),
    ([QueuePolicy("q"), QueuePolicy("q")], []),
    ([QueuePolicy("q")], [AgentProfile("a1"), AgentProfile("a1")]),
])
def test_an_inconsistent_plan_is_refused_and_nothing_changes(
    queues: list[QueuePolicy], agents: list[AgentProfile]
) -> None:
    h = busy_harness()
    before = waiting(h, "q"), h.router.stats(h.now), h.router.agent_state("a2")
    with pytest.raises(ConfigError):
        h.router.reconfigure(queues, agents, h.now)
    assert (waiting(h, "q"), h.router.stats(h.now), h.router.agent_state("a2")) == before
    assert h.drain() == []


NAMES = ["q", "r", "s"]
AGENT_IDS = ["a1", "a2", "a3", "a4"]
events = st.lists(
    st.one_of(
        st.tuples(st.just("join"), st.sampled_from(NAMES), st.integers(0, 3)),
        st.tuples(st.just("staff"), st.sampled_from(AGENT_IDS), st.just(0)),
        st.tuples(st.just("answer"), st.sampled_from(AGENT_IDS), st.just(0)),
        st.tuples(st.just("tick"), st.just(""), st.integers(1, 20)),
    ),
    max_size=30,
)


def policy(name: str, discipline: str, max_wait: float | None) -> QueuePolicy:
    from voxcenter.acd import Discipline

    return QueuePolicy(name, discipline=Discipline(discipline), announce_every=None, join_empty=True,
                       leave_when_empty=False, max_wait=max_wait, ring_timeout=4.0)


@settings(max_examples=60, deadline=None)
@given(
    schedule=events,
    kept_queues=st.sets(st.sampled_from(NAMES)),
    kept_agents=st.sets(st.sampled_from(AGENT_IDS)),
    discipline=st.sampled_from(["longest-wait", "priority"]),
    max_wait=st.sampled_from([None, 30.0, 200.0]),
)
def test_reconfigure_keeps_every_caller_and_every_place(
    schedule: list[tuple[str, str, int]], kept_queues: set[str], kept_agents: set[str], discipline: str,
    max_wait: float | None,
) -> None:
    queues = [policy(name, discipline, None) for name in NAMES]
    agents = [AgentProfile(a, frozenset(NAMES[: i % 3 + 1])) for i, a in enumerate(AGENT_IDS)]
    h = Harness(queues, agents)
    for number, (kind, name, value) in enumerate(schedule):
        if kind == "join":
            h.join(f"c{number}", queue=name, priority=value)
        elif kind == "staff":
            h.staff(name)
        elif kind == "answer":
            ringing = [v.call_id for q in NAMES for v in h.router.waiting(q, h.now) if name in v.ringing]
            if ringing:
                h.router.ring_answered(ringing[0], name, h.now)
                h.drain()
        else:
            h.advance(h.now + value)
    before = {q: [(v.call_id, v.virtual_start) for v in h.router.waiting(q, h.now)] for q in NAMES}
    states = {a: h.router.agent_state(a) for a in AGENT_IDS}
    connected = h.router.connected_calls()
    offered = {q: s.offered for q, s in h.router.stats(h.now).items()}

    new_queues = [policy(name, discipline, max_wait) for name in NAMES if name in kept_queues]
    new_agents = [AgentProfile(a, frozenset(q for q in NAMES[: i % 3 + 1] if q in kept_queues))
                  for i, a in enumerate(AGENT_IDS) if a in kept_agents]
    h.router.reconfigure(new_queues, new_agents, h.now)
    decisions = h.drain()

    exited = {d.call_id for d in decisions if isinstance(d, QueueExit | Overflow)}
    for name in NAMES:
        if name not in kept_queues:
            assert {call for call, _ in before[name]} <= exited  # every caller of a removed queue is told
            continue
        after = [(v.call_id, v.virtual_start) for v in h.router.waiting(name, h.now)]
        assert after == before[name]  # same callers, same virtual start, same order
        assert h.router.stats(h.now)[name].offered == offered[name]
    assert h.router.connected_calls() == connected  # connected calls are untouched
    changed = {d.agent_id for d in decisions if isinstance(d, AgentStateChanged)}
    for agent_id in AGENT_IDS:
        if agent_id in kept_agents and agent_id not in changed:
            assert h.router.agent_state(agent_id) is states[agent_id]
        if agent_id not in kept_agents and states[agent_id] in (AgentState.OFFLINE, AgentState.READY,
                                                                 AgentState.PAUSED):
            with pytest.raises(RouterError):
                h.router.agent_state(agent_id)
    # Later, every connected call still ends cleanly, whatever was removed.
    for call_id in connected:
        h.router.call_ended(call_id, h.now)
    assert {c.call_id for c in of_type(h.drain(), CallCompleted)} == set(connected)
    assert not any(isinstance(d, Bridge) for d in decisions)
