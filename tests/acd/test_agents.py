"""The agent state machine: a literal table, every change reported."""

import pytest

from voxcenter.acd.agents import TRANSITIONS, Agent, AgentInput, AgentState, next_state
from voxcenter.acd.model import AgentProfile
from voxcenter.sip.errors import LocalProtocolError


def test_every_state_is_in_the_table_and_reachable_from_offline() -> None:
    assert set(TRANSITIONS) == set(AgentState)
    seen = {AgentState.OFFLINE}
    frontier = [AgentState.OFFLINE]
    while frontier:
        state = frontier.pop()
        for target in TRANSITIONS[state].values():
            if target not in seen:
                seen.add(target)
                frontier.append(target)
    assert seen == set(AgentState)


@pytest.mark.parametrize("state", list(AgentState))
@pytest.mark.parametrize("via", list(AgentInput))
def test_anything_outside_the_table_raises(state: AgentState, via: AgentInput) -> None:
    if via in TRANSITIONS[state]:
        assert next_state(state, via) is TRANSITIONS[state][via]
    else:
        with pytest.raises(LocalProtocolError, match=via.value):
            next_state(state, via)


def test_a_call_cycle_is_reported_with_reasons_and_queue_log_names() -> None:
    agent = Agent(AgentProfile("alice"), order=0)
    changes = [
        agent.apply(AgentInput.LOGIN, 1.0, "*45"),
        agent.apply(AgentInput.PAUSE, 2.0, "lunch"),
        agent.apply(AgentInput.UNPAUSE, 3.0, "*47"),
        agent.apply(AgentInput.RESERVE, 4.0, "offered c1"),
        agent.apply(AgentInput.ALERT, 4.1, "180"),
        agent.apply(AgentInput.ANSWER, 6.0, "answered"),
        agent.apply(AgentInput.HANGUP, 60.0, "caller hung up"),
        agent.apply(AgentInput.WRAPUP_DONE, 70.0, "wrap-up over"),
        agent.apply(AgentInput.LOGOUT, 80.0, "*46"),
    ]
    assert [c.new for c in changes] == [
        AgentState.READY, AgentState.PAUSED, AgentState.READY, AgentState.RESERVED, AgentState.RINGING,
        AgentState.ON_CALL, AgentState.WRAP_UP, AgentState.READY, AgentState.OFFLINE,
    ]
    assert [c.queue_log for c in changes] == [
        "ADDMEMBER", "PAUSE", "UNPAUSE", None, None, None, None, None, "REMOVEMEMBER",
    ]
    assert changes[1].reason == "lunch"
    assert agent.idle_since == 70.0  # idle since the end of wrap-up, not since the ring


def test_pause_reason_is_kept_while_paused() -> None:
    agent = Agent(AgentProfile("bob"), order=0)
    agent.apply(AgentInput.LOGIN, 0.0, "api")
    agent.apply(AgentInput.PAUSE, 1.0, "training")
    assert agent.pause_reason == "training"
    agent.apply(AgentInput.UNPAUSE, 2.0, "api")
    assert agent.pause_reason == ""
