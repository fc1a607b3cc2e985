"""Agent state machine of the ACD, as a literal table (after h11's ``_state.py``).

Rules, all in this file:

- An agent is OFFLINE until it logs in; logging in makes it READY.
- READY agents may be RESERVED for a call (the router has issued a ring); the phone alerting
  makes it RINGING. An answer makes it ON_CALL; a no-answer or a cancel returns it to READY.
- After a call the agent is in WRAP_UP (possibly for zero seconds), then READY.
- PAUSED carries a reason; a pause or logout asked for during a ring or a call takes effect
  when the call and its wrap-up are over (the router keeps it pending).
- Phone reachability is not a state: it is a separate flag checked before every ring.

Whatever transition is not in ``TRANSITIONS`` is illegal and raises ``LocalProtocolError``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from voxcenter.acd.model import AgentProfile
from voxcenter.sip.errors import LocalProtocolError


class AgentState(enum.Enum):
    """Where an agent is in its working cycle."""

    OFFLINE = "offline"
    READY = "ready"
    RESERVED = "reserved"
    RINGING = "ringing"
    ON_CALL = "on-call"
    WRAP_UP = "wrap-up"
    PAUSED = "paused"


class AgentInput(enum.Enum):
    """What can happen to an agent."""

    LOGIN = "login"
    LOGOUT = "logout"
    PAUSE = "pause"
    UNPAUSE = "unpause"
    RESERVE = "reserve"
    ALERT = "alert"
    ANSWER = "answer"
    NO_ANSWER = "no-answer"
    CANCEL = "cancel"
    HANGUP = "hangup"
    WRAPUP_DONE = "wrapup-done"


S = AgentState
I = AgentInput  # noqa: E741 - a table reads better with short names

TRANSITIONS: dict[AgentState, dict[AgentInput, AgentState]] = {
    S.OFFLINE: {I.LOGIN: S.READY},
    S.READY: {I.RESERVE: S.RESERVED, I.PAUSE: S.PAUSED, I.LOGOUT: S.OFFLINE},
    S.RESERVED: {I.ALERT: S.RINGING, I.ANSWER: S.ON_CALL, I.NO_ANSWER: S.READY, I.CANCEL: S.READY},
    S.RINGING: {I.ANSWER: S.ON_CALL, I.NO_ANSWER: S.READY, I.CANCEL: S.READY},
    S.ON_CALL: {I.HANGUP: S.WRAP_UP},
    S.WRAP_UP: {I.WRAPUP_DONE: S.READY, I.PAUSE: S.PAUSED, I.LOGOUT: S.OFFLINE},
    S.PAUSED: {I.UNPAUSE: S.READY, I.PAUSE: S.PAUSED, I.LOGOUT: S.OFFLINE},
}
"""state → {input → next state}; anything absent is illegal."""

del S, I

LOGGED_IN = frozenset(set(AgentState) - {AgentState.OFFLINE})
STAFFED = frozenset(LOGGED_IN - {AgentState.PAUSED})
"""States counted as staffed by the wait estimate: logged in and not paused."""


@dataclass(frozen=True, slots=True)
class AgentStateChanged:
    """An agent moved from one state to another (every change is reported and logged)."""

    agent_id: str
    """The agent."""
    old: AgentState
    """State before."""
    new: AgentState
    """State after."""
    via: AgentInput
    """The input of the transition table that caused it."""
    reason: str
    """Why, in words (pause reason, 'ring timeout', 'feature code *46', ...)."""
    at: float
    """When."""
    call_id: str | None = None
    """The call the change is about: offered, rung, answered, ended, wrapped up (None for login, pause...)."""

    @property
    def queue_log(self) -> str | None:
        """Asterisk queue_log event name, when there is one."""
        if self.new is AgentState.PAUSED and self.old is not AgentState.PAUSED:
            return "PAUSE"
        if self.old is AgentState.PAUSED and self.new is AgentState.READY:
            return "UNPAUSE"
        if self.old is AgentState.OFFLINE:
            return "ADDMEMBER"
        if self.new is AgentState.OFFLINE:
            return "REMOVEMEMBER"
        return None


def next_state(state: AgentState, via: AgentInput) -> AgentState:
    """The state after ``via`` in ``state``; raises LocalProtocolError when the table forbids it."""
    try:
        return TRANSITIONS[state][via]
    except KeyError:
        raise LocalProtocolError(f"agent input {via.value} is illegal in state {state.value}") from None


class Agent:
    """One agent's live record inside the router (state, reachability, counters)."""

    __slots__ = (
        "call_id",
        "calls_taken",
        "consecutive_no_answers",
        "idle_since",
        "order",
        "pause_reason",
        "pending_logout",
        "pending_pause",
        "profile",
        "reachable",
        "state",
        "state_since",
        "talk_time",
        "wrapup_until",
    )

    def __init__(self, profile: AgentProfile, order: int) -> None:
        self.profile = profile
        self.order = order
        self.state = AgentState.OFFLINE
        self.state_since = 0.0
        self.reachable = False
        self.pause_reason = ""
        self.pending_pause: str | None = None
        self.pending_logout: str | None = None
        self.call_id: str | None = None
        self.idle_since = 0.0
        self.calls_taken = 0
        self.talk_time = 0.0
        self.consecutive_no_answers = 0
        self.wrapup_until: float | None = None

    @property
    def agent_id(self) -> str:
        """The agent's identifier."""
        return self.profile.agent_id

    @property
    def ringable(self) -> bool:
        """READY with a reachable, registered phone."""
        return self.state is AgentState.READY and self.reachable

    def apply(self, via: AgentInput, now: float, reason: str) -> AgentStateChanged:
        """Take one transition of the table and return the change to report."""
        old = self.state
        new = next_state(old, via)
        call_id = self.call_id
        self.state = new
        self.state_since = now
        if new is AgentState.PAUSED:
            self.pause_reason = reason
        elif old is AgentState.PAUSED:
            self.pause_reason = ""
        if new is AgentState.READY and old is not AgentState.RESERVED and old is not AgentState.RINGING:
            self.idle_since = now
        if new is not AgentState.WRAP_UP:
            self.wrapup_until = None
        if new is AgentState.READY or new is AgentState.OFFLINE or new is AgentState.PAUSED:
            self.call_id = None
        return AgentStateChanged(self.agent_id, old, new, via, reason, now, call_id)
