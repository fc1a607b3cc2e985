"""Decisions the ACD router hands out (pulled with ``Router.next_decision()``).

Every decision is a frozen, slotted dataclass. Where Asterisk's queue_log has a name for
what happened, the decision exposes it as ``queue_log`` so the store can keep a familiar
event log (ENTERQUEUE, RINGNOANSWER, CONNECT, COMPLETECALLER, COMPLETEAGENT, ABANDON,
EXITWITHTIMEOUT, EXITEMPTY, JOINEMPTY, FULL, EXITWITHKEY, TRANSFER, PAUSE, UNPAUSE).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from voxcenter.acd.agents import AgentStateChanged
from voxcenter.acd.model import OverflowTarget


class ExitReason(enum.Enum):
    """Why a caller left a queue; every exit has one."""

    ABANDONED = "abandoned"
    TIMEOUT = "timeout"
    QUEUE_FULL = "queue-full"
    JOIN_EMPTY = "join-empty"
    EMPTY = "empty"
    CALLBACK_REQUESTED = "callback-requested"
    CALLBACK_FAILED = "callback-failed"
    CALLBACK_CANCELLED = "callback-cancelled"
    CALLBACK_EXPIRED = "callback-expired"
    OVERFLOW_LOOP = "overflow-loop"


EXIT_QUEUE_LOG: dict[ExitReason, str] = {
    ExitReason.ABANDONED: "ABANDON",
    ExitReason.TIMEOUT: "EXITWITHTIMEOUT",
    ExitReason.QUEUE_FULL: "FULL",
    ExitReason.JOIN_EMPTY: "JOINEMPTY",
    ExitReason.EMPTY: "EXITEMPTY",
    ExitReason.CALLBACK_REQUESTED: "EXITWITHKEY",
    ExitReason.CALLBACK_FAILED: "ABANDON",
    ExitReason.CALLBACK_CANCELLED: "ABANDON",
    ExitReason.CALLBACK_EXPIRED: "EXITWITHTIMEOUT",
    ExitReason.OVERFLOW_LOOP: "EXITWITHTIMEOUT",
}


class Ender(enum.Enum):
    """Which side hung up a connected call."""

    CALLER = "caller"
    AGENT = "agent"


@dataclass(frozen=True, slots=True)
class Enqueued:
    """A caller (or a callback request carried over by overflow) entered a queue."""

    call_id: str
    """The call."""
    queue: str
    """The queue entered."""
    position: int
    """1-based position in the queue at entry."""
    ewt: float | None
    """Estimated wait at entry, seconds; None when no agent is staffed."""
    at: float
    """When."""
    queue_log: str = "ENTERQUEUE"
    """Asterisk queue_log name."""
    announce: bool = True
    """Tell the caller position and estimate now; False when the queue's first announcement comes later
    (``QueuePolicy.announce_first``, an ``Announce`` then)."""


@dataclass(frozen=True, slots=True)
class RingAgent:
    """Ring ``agent_id``'s phone for ``call_id``; the router times the ring out at ``timeout_at``."""

    call_id: str
    """The waiting call (or callback request) offered."""
    agent_id: str
    """The agent to ring."""
    queue: str
    """The queue the call waits in."""
    timeout_at: float
    """When the router gives up on this ring."""
    callback: bool
    """True for an agent-first callback: once the agent answers, the customer is dialed."""


@dataclass(frozen=True, slots=True)
class CancelRing:
    """Stop ringing ``agent_id`` for ``call_id``."""

    call_id: str
    """The call."""
    agent_id: str
    """The agent whose phone must stop ringing."""
    reason: str
    """Why: 'ring timeout', 'answered by another agent', 'caller left', 'agent logged out', ..."""


@dataclass(frozen=True, slots=True)
class RingNoAnswer:
    """An agent did not take a call (timeout, rejection, unreachable phone)."""

    call_id: str
    """The call."""
    agent_id: str
    """The agent."""
    queue: str
    """The queue."""
    rang_for: float
    """Seconds the phone was rung."""
    reason: str
    """'timeout', 'rejected', 'unreachable', ..."""
    queue_log: str = "RINGNOANSWER"
    """Asterisk queue_log name."""


@dataclass(frozen=True, slots=True)
class Bridge:
    """Connect the caller with the agent now; any prompt to the caller stops at once."""

    call_id: str
    """The call."""
    agent_id: str
    """The agent who answered."""
    queue: str
    """The queue."""
    waited: float
    """Seconds since the caller's virtual start (the accuracy measure of ``first_ewt``)."""
    first_ewt: float | None
    """The first estimate given to this caller, stored next to ``waited``."""
    at: float
    """When."""
    queue_log: str = "CONNECT"
    """Asterisk queue_log name."""


@dataclass(frozen=True, slots=True)
class Announce:
    """Tell a waiting caller their position and estimated wait."""

    call_id: str
    """The call."""
    queue: str
    """The queue."""
    position: int
    """1-based position (capped at the policy's limit when ``more_than``)."""
    more_than: bool
    """Say "more than ``position``" instead of the exact position."""
    ewt: float | None
    """Estimated remaining wait in seconds, None when unknown (then say nothing about time)."""
    ewt_reason: str | None
    """Set when the estimate is higher than the last one announced: why it grew."""
    at: float
    """When; the store keeps (call, at, ewt) to compare with the actual wait."""


@dataclass(frozen=True, slots=True)
class OfferCallback:
    """Offer the caller a callback ("press 1 to be called back, keeping your place")."""

    call_id: str
    """The call."""
    queue: str
    """The queue."""
    ewt: float | None
    """The current estimate, for the prompt."""


@dataclass(frozen=True, slots=True)
class CallbackQueued:
    """A callback request took over the caller's place; the caller may now hang up."""

    call_id: str
    """The call (now a callback request with the same id)."""
    queue: str
    """The queue."""
    number: str
    """Number to dial back."""
    queue_log: str = "EXITWITHKEY"
    """Asterisk queue_log name."""


@dataclass(frozen=True, slots=True)
class StartCallback:
    """Agent-first callback: the agent is connected; dial ``number`` through the outbound trunk."""

    call_id: str
    """The callback request."""
    agent_id: str
    """The agent on the line."""
    queue: str
    """The queue."""
    number: str
    """The customer's number."""
    attempt: int
    """1-based attempt number; only one attempt is ever in flight per request."""
    ring_time: float = 30.0
    """Seconds the customer's phone may ring before the attempt counts as not answered."""


@dataclass(frozen=True, slots=True)
class Overflow:
    """The caller leaves the queue for ``target`` (the shell routes it), with a reason."""

    call_id: str
    """The call."""
    queue: str
    """The queue left."""
    target: OverflowTarget
    """Where to: another queue (already re-queued by the router), a backup group, voicemail, callback, hangup."""
    reason: ExitReason
    """Why."""
    waited: float
    """Seconds waited in the queue left."""

    @property
    def queue_log(self) -> str:
        """Asterisk queue_log name of the exit."""
        return EXIT_QUEUE_LOG[self.reason]


@dataclass(frozen=True, slots=True)
class QueueExit:
    """The call leaves the router without an agent and without a further destination."""

    call_id: str
    """The call."""
    queue: str
    """The queue left."""
    reason: ExitReason
    """Why."""
    position: int
    """Position at exit."""
    waited: float
    """Seconds since the virtual start."""
    first_ewt: float | None
    """First estimate given, for accuracy measurement."""
    short: bool
    """An abandon quicker than the queue's short-abandon threshold (excluded from the KPIs)."""

    @property
    def queue_log(self) -> str:
        """Asterisk queue_log name of the exit."""
        return EXIT_QUEUE_LOG[self.reason]


@dataclass(frozen=True, slots=True)
class CallCompleted:
    """A connected call ended; the agent goes to wrap-up."""

    call_id: str
    """The call."""
    agent_id: str
    """The agent."""
    queue: str
    """The queue."""
    talk_time: float
    """Seconds connected."""
    ended_by: Ender
    """Who hung up."""

    @property
    def queue_log(self) -> str:
        """COMPLETECALLER or COMPLETEAGENT."""
        return "COMPLETECALLER" if self.ended_by is Ender.CALLER else "COMPLETEAGENT"


@dataclass(frozen=True, slots=True)
class WrapUpEnded:
    """The agent's wrap-up after a call is over (time up, ended early, or a pause or logout took over)."""

    call_id: str
    """The call wrapped up."""
    agent_id: str
    """The agent."""
    queue: str
    """The call's queue."""
    talk_time: float
    """Seconds connected."""
    wrapup_time: float
    """Seconds actually spent in wrap-up (0 when the queue has none)."""

    @property
    def handle_time(self) -> float:
        """Talk plus wrap-up: what the queue's measured handle time averages."""
        return self.talk_time + self.wrapup_time


Decision = (
    Enqueued
    | RingAgent
    | CancelRing
    | RingNoAnswer
    | Bridge
    | Announce
    | OfferCallback
    | CallbackQueued
    | StartCallback
    | Overflow
    | QueueExit
    | CallCompleted
    | WrapUpEnded
    | AgentStateChanged
)
"""Everything ``Router.next_decision()`` may return."""

__all__ = [
    "EXIT_QUEUE_LOG",
    "AgentStateChanged",
    "Announce",
    "Bridge",
    "CallCompleted",
    "CallbackQueued",
    "CancelRing",
    "Decision",
    "Ender",
    "Enqueued",
    "ExitReason",
    "OfferCallback",
    "Overflow",
    "QueueExit",
    "RingAgent",
    "RingNoAnswer",
    "StartCallback",
    "WrapUpEnded",
]
