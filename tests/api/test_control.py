"""AgentLedger: per-agent figures from router decisions agree with the router, whatever happens."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.api.fake import AGENTS, FakeControlPlane
from voxcenter.acd import AgentProfile, AgentState, AgentStateChanged, Bridge, Router, RouterError
from voxcenter.acd.agents import AgentInput
from voxcenter.api import AgentLedger

AGENT_IDS = [a.agent_id for a in AGENTS]

step = st.one_of(
    st.tuples(st.just("command"), st.sampled_from(AGENT_IDS), st.sampled_from(["login", "logout", "pause", "unpause"])),
    st.tuples(st.just("join"), st.sampled_from(["sales", "support"]), st.none()),
    st.tuples(st.just("answer"), st.none(), st.none()),
    st.tuples(st.just("hangup"), st.none(), st.none()),
    st.tuples(st.just("wait"), st.floats(min_value=0.5, max_value=40.0), st.none()),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(step, max_size=30))
def test_ledger_agrees_with_the_router(steps: list[tuple[str, object, object]]) -> None:
    control = FakeControlPlane()
    for agent_id in AGENT_IDS:
        control.router.agent_registered(agent_id, control.clock)
    control.pump()
    connected: set[str] = set()
    handled = dict.fromkeys(AGENT_IDS, 0)
    serial = 0
    for kind, first, second in steps:
        if kind == "command":
            try:
                control.agent_command(str(first), str(second), "because")
            except RouterError:
                assert second == "pause" and control.router.agent_state(str(first)) is AgentState.OFFLINE
        elif kind == "join":
            serial += 1
            control.join(f"c{serial}", str(first))
        elif kind == "answer":
            ringing = [(v.call_id, sorted(v.ringing)[0]) for q in ("sales", "support")
                       for v in control.router.waiting(q, control.clock) if v.ringing]
            if ringing:
                call_id, agent_id = ringing[0]
                control.answer(call_id, agent_id)
                connected.add(call_id)
                handled[agent_id] += 1
        elif kind == "hangup" and connected:
            control.hang_up_caller(connected.pop())
        elif kind == "wait":
            control.advance(float(first))  # type: ignore[arg-type]
        snapshots = {s.agent_id: s for s in control.agents()}
        assert list(snapshots) == AGENT_IDS
        on_call = {agent: call for call, agent in control.router.connected_calls().items()}
        for agent_id, snap in snapshots.items():
            assert snap.state is control.router.agent_state(agent_id)
            assert snap.since <= control.clock
            assert (snap.reason != "") == (snap.state is AgentState.PAUSED)
            assert snap.calls_handled == handled[agent_id]
            assert snap.call_id == on_call.get(agent_id)


def test_ledger_records_since_reason_and_calls() -> None:
    profiles = [AgentProfile("7", queues=frozenset({"q"}))]
    ledger = AgentLedger(profiles, now=5.0)
    ledger.observe(AgentStateChanged("7", AgentState.OFFLINE, AgentState.READY, AgentInput.LOGIN, "login", 8.0))
    ledger.observe(AgentStateChanged("7", AgentState.READY, AgentState.PAUSED, AgentInput.PAUSE, "lunch", 9.0))
    ledger.observe(Bridge("c1", "7", "q", 3.0, None, 9.5))
    ledger.observe(Bridge("c2", "stranger", "q", 3.0, None, 9.5))  # unknown agents are ignored
    ledger.observe("not a decision")
    from voxcenter.acd import QueuePolicy

    router = Router([QueuePolicy("q")], profiles, now=5.0)
    (snap,) = ledger.snapshots(router)
    assert (snap.since, snap.reason, snap.calls_handled, snap.queues) == (9.0, "lunch", 1, ("q",))


def test_unknown_agent_command_raises_key_error() -> None:
    with pytest.raises(KeyError):
        FakeControlPlane().agent_command("nobody", "login")
