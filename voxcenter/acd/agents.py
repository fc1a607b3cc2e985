"""Agent state machine of the ACD, as a literal table (after h11's ``_state.py``).

Rules, all in this file:

- An agent is OFFLINE until it logs in; logging in makes it READY.
- READY agents may be RESERVED for a call (the router has issued a ring); the phone alerting
  makes it RINGING. An answer makes it ON_CALL; a no-answer or a cancel returns it to READY.
- After a call the agent is in WRAP_UP (possibly for zero seconds), then READY.
- PAUSED carries a reason; a pause or logout asked for during a ring or a call takes effect
  when the call and its wrap-up are over (the router keeps it pending).
- A logged-in agent whose phone has no registration (or stopped answering OPTIONS) is
  UNAVAILABLE, not READY: nothing is offered to it and it counts as nobody for the join and
  leave rules. Reachability is a flag of its own (``Agent.reachable``, the registrar's fact);
  the state follows it by two rules applied in ``Agent.apply``: a transition that the table
  sends to READY lands in UNAVAILABLE while the phone is unreachable, and the return of the
  phone (PHONE_BACK) lands in PAUSED when the agent was paused before (the pause reason is kept
  while unavailable). A call in progress is not touched by a lost registration; its wrap-up
  ends in UNAVAILABLE.
- An agent whose ``max_calls`` is above 1 stays ON_CALL while it holds several calls: the state
  is that of the agent, not of a line. While ON_CALL with a free line (fewer calls than
  ``max_calls``, no pause or logout pending) it may be rung for one more call (``line_ring``,
  call waiting) without leaving ON_CALL; a second line's ring that is not answered costs the agent
  the retry delay as any ring does. Calls beyond the first are kept in ``extra_calls``; the agent
  goes to WRAP_UP when its last call ends.

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
    UNAVAILABLE = "unavailable"


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
    PHONE_LOST = "phone-lost"
    PHONE_BACK = "phone-back"


S = AgentState
I = AgentInput  # noqa: E741 - a table reads better with short names

TRANSITIONS: dict[AgentState, dict[AgentInput, AgentState]] = {
    S.OFFLINE: {I.LOGIN: S.READY},
    S.READY: {I.RESERVE: S.RESERVED, I.PAUSE: S.PAUSED, I.LOGOUT: S.OFFLINE, I.PHONE_LOST: S.UNAVAILABLE},
    S.RESERVED: {I.ALERT: S.RINGING, I.ANSWER: S.ON_CALL, I.NO_ANSWER: S.READY, I.CANCEL: S.READY},
    S.RINGING: {I.ANSWER: S.ON_CALL, I.NO_ANSWER: S.READY, I.CANCEL: S.READY},
    S.ON_CALL: {I.HANGUP: S.WRAP_UP},
    S.WRAP_UP: {I.WRAPUP_DONE: S.READY, I.PAUSE: S.PAUSED, I.LOGOUT: S.OFFLINE},
    S.PAUSED: {I.UNPAUSE: S.READY, I.PAUSE: S.PAUSED, I.LOGOUT: S.OFFLINE, I.PHONE_LOST: S.UNAVAILABLE},
    S.UNAVAILABLE: {I.PHONE_BACK: S.READY, I.PAUSE: S.UNAVAILABLE, I.UNPAUSE: S.UNAVAILABLE, I.LOGOUT: S.OFFLINE},
}
"""state → {input → next state}; anything absent is illegal."""

del S, I

LOGGED_IN = frozenset(set(AgentState) - {AgentState.OFFLINE})
PRESENT = frozenset(LOGGED_IN - {AgentState.UNAVAILABLE})
"""Logged in with a phone that can be rung (or on a call): what the join and leave rules count."""
STAFFED = frozenset(PRESENT - {AgentState.PAUSED})
"""States counted as staffed by the wait estimate: logged in, not paused, not unavailable."""


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
        if self.via is AgentInput.PAUSE and self.old is not AgentState.PAUSED:
            return "PAUSE"
        if self.via is AgentInput.UNPAUSE:
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
        "extra_calls",
        "idle_since",
        "line_ring",
        "order",
        "pause_reason",
        "pending_logout",
        "pending_pause",
        "profile",
        "reachable",
        "retry_until",
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
        self.retry_until: float | None = None
        """After a ring this agent did not answer: not offered another call before this time."""
        self.line_ring: str | None = None
        """The call this agent's phone is rung for on a free line while ON_CALL (call waiting)."""
        self.extra_calls: list[str] = []
        """Connected calls besides ``call_id`` (the first), while ON_CALL with ``max_calls`` above 1."""

    @property
    def agent_id(self) -> str:
        """The agent's identifier."""
        return self.profile.agent_id

    @property
    def ringable(self) -> bool:
        """READY with a reachable, registered phone."""
        return self.state is AgentState.READY and self.reachable

    @property
    def free_line(self) -> bool:
        """ON_CALL with fewer calls than ``max_calls``, no line ringing, no pause or logout waiting."""
        return (
            self.state is AgentState.ON_CALL and self.reachable and self.line_ring is None
            and 1 + len(self.extra_calls) < self.profile.max_calls
            and self.pending_pause is None and self.pending_logout is None
        )

    def offerable(self, now: float) -> bool:
        """Ringable (or on a call with a free line), and not within the retry delay after a ring it did not
        answer."""
        if self.retry_until is not None and self.retry_until <= now:
            self.retry_until = None
        return (self.ringable or self.free_line) and self.retry_until is None

    def apply(self, via: AgentInput, now: float, reason: str) -> AgentStateChanged:
        """Take one transition of the table and return the change to report."""
        old = self.state
        new = next_state(old, via)
        call_id = self.call_id
        if new is AgentState.READY and not self.reachable:
            new = AgentState.UNAVAILABLE  # the presence rules of the module docstring
        elif new is AgentState.READY and via is AgentInput.PHONE_BACK and self.pause_reason:
            new = AgentState.PAUSED
        self.state = new
        self.state_since = now
        if via is AgentInput.PAUSE:
            self.pause_reason = reason
        elif new is not AgentState.PAUSED and (via is AgentInput.UNPAUSE or new is not AgentState.UNAVAILABLE):
            self.pause_reason = ""
        if new is AgentState.READY and old is not AgentState.RESERVED and old is not AgentState.RINGING:
            self.idle_since = now
        if new is not AgentState.WRAP_UP:
            self.wrapup_until = None
        if new in (AgentState.READY, AgentState.OFFLINE, AgentState.PAUSED, AgentState.UNAVAILABLE):
            self.call_id = None
        return AgentStateChanged(self.agent_id, old, new, via, reason, now, call_id)
