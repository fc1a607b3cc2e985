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
    agent.reachable = True
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
    agent.reachable = True
    agent.apply(AgentInput.LOGIN, 0.0, "api")
    agent.apply(AgentInput.PAUSE, 1.0, "training")
    assert agent.pause_reason == "training"
    agent.apply(AgentInput.UNPAUSE, 2.0, "api")
    assert agent.pause_reason == ""


def test_without_a_registered_phone_an_agent_is_unavailable_and_comes_back_to_its_logged_in_state() -> None:
    agent = Agent(AgentProfile("carol"), order=0)
    assert agent.apply(AgentInput.LOGIN, 0.0, "*45").new is AgentState.UNAVAILABLE  # no phone: never READY
    agent.reachable = True
    assert agent.apply(AgentInput.PHONE_BACK, 1.0, "registered").new is AgentState.READY
    agent.apply(AgentInput.PAUSE, 2.0, "lunch")
    agent.reachable = False
    lost = agent.apply(AgentInput.PHONE_LOST, 3.0, "unregistered")
    assert (lost.new, agent.pause_reason, lost.queue_log) == (AgentState.UNAVAILABLE, "lunch", None)
    agent.reachable = True
    back = agent.apply(AgentInput.PHONE_BACK, 4.0, "registered")
    assert (back.new, agent.pause_reason, back.queue_log) == (AgentState.PAUSED, "lunch", None)  # paused still
    agent.reachable = False
    agent.apply(AgentInput.PHONE_LOST, 5.0, "unregistered")
    assert agent.apply(AgentInput.UNPAUSE, 6.0, "*47").queue_log == "UNPAUSE"
    assert (agent.state, agent.pause_reason) == (AgentState.UNAVAILABLE, "")
    agent.reachable = True
    assert agent.apply(AgentInput.PHONE_BACK, 7.0, "registered").new is AgentState.READY


def test_a_ring_or_wrap_up_that_ends_without_a_phone_ends_unavailable() -> None:
    agent = Agent(AgentProfile("dave"), order=0)
    agent.reachable = True
    for via in (AgentInput.LOGIN, AgentInput.RESERVE, AgentInput.ANSWER, AgentInput.HANGUP):
        agent.apply(via, 0.0, via.value)
    agent.reachable = False  # the registration expired during the call: the call goes on
    assert agent.apply(AgentInput.WRAPUP_DONE, 9.0, "wrap-up over").new is AgentState.UNAVAILABLE
