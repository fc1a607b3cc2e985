"""What the interpreter asks the call to do, pulled with ``IvrRun.next_action()``.

Every action is a frozen, slotted dataclass. The asyncio shell carries them out (media player, ACD router,
dialog layer, customer store, CDR writer) and reports back through the run's input verbs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

TimelineValue = str | int | float | bool | None
"""A value in a timeline event's data."""


@dataclass(frozen=True, slots=True)
class Play:
    """Play prompts back to back; report the end with ``prompt_finished(now)``."""

    prompts: tuple[str, ...]
    """Prompt names (no extension) under ``prompts/<language>/``, in order."""
    language: str
    """The language directory to take them from."""
    barge_in: bool
    """A key press stops the prompts (the interpreter then sends ``StopPlayback``)."""


@dataclass(frozen=True, slots=True)
class StopPlayback:
    """Stop the prompts playing now; no ``prompt_finished`` is expected for them (one arriving is ignored)."""


@dataclass(frozen=True, slots=True)
class StartCollect:
    """Key presses are wanted from now on (the shell may start in-band DTMF detection)."""

    node: str
    """The node collecting."""
    sensitive: bool
    """The keys are secret (PIN, card number): the shell must not log their values either."""


@dataclass(frozen=True, slots=True)
class StopCollect:
    """The node that asked for keys is done with them."""

    node: str
    """The node that was collecting."""


@dataclass(frozen=True, slots=True)
class EnterQueue:
    """Put the caller into an ACD queue; report how it ended with ``queue_result(reason, now)``."""

    queue: str
    """The queue name under ``queues:``."""
    priority: int
    """Priority in the queue; a higher number is served first."""
    required_skills: Mapping[str, int]
    """Skills an agent must have, with minimum levels (the queue's own are added by the router)."""
    preferred_skills: Mapping[str, int]
    """Skills that make an agent a better match."""
    language: str
    """The caller's language (announcements, agent choice)."""
    exit_key: str | None
    """Key that lets the caller out of the queue; the interpreter watches for it."""


@dataclass(frozen=True, slots=True)
class LeaveQueue:
    """Take the caller out of the queue (the exit key was pressed); no ``queue_result`` is expected."""

    queue: str
    """The queue left."""
    reason: str
    """Why, as a ``QueueExits`` field name (``key``)."""


@dataclass(frozen=True, slots=True)
class Transfer:
    """Ring a target and connect the caller; report with ``transfer_result(answered, now)``."""

    kind: Literal["agent", "extension", "number"]
    """An agent (by extension), any local extension, or an outside number."""
    target: str
    """Extension or number."""
    route: str | None
    """Outbound route for ``number`` (the dial plan checked that it allows IVR transfers)."""
    ring_timeout: float
    """Seconds the target rings before the transfer fails."""


@dataclass(frozen=True, slots=True)
class RecordVoicemail:
    """Record a message; report with ``recording_finished(duration, reason, now)``."""

    mailbox: str
    """The mailbox it is for."""
    max_length: float
    """Longest message, seconds."""
    silence_stop: float
    """Seconds of silence that end the recording."""
    beep: bool
    """Play a beep before recording."""
    stop_key: str = "#"
    """Key that ends the recording."""


@dataclass(frozen=True, slots=True)
class RequestCallback:
    """Book a callback that keeps the caller's place in line (the router's ``callback_requested``)."""

    number: str
    """Number to call back."""
    queue: str | None
    """Queue the callback waits in; None when the call never reached one (the shell picks the default)."""


@dataclass(frozen=True, slots=True)
class LookupCaller:
    """Find (or create) the customer; report with ``lookup_result(profile, now)``."""

    key: str
    """The caller's number, or the digits of the call variable named by the node."""
    by: Literal["caller-id", "variable"]
    """What ``key`` is."""


@dataclass(frozen=True, slots=True)
class StoreSurvey:
    """Store a survey answer with the call's CDR."""

    name: str
    """Name of the answer (``nps``)."""
    score: int
    """The answer, 0-10."""


@dataclass(frozen=True, slots=True)
class RecordingControl:
    """Pause or resume the call's recording (a ``recording`` node); nothing to report back."""

    action: Literal["pause", "resume"]
    node: str
    """The node that asked (the timeline's ``who``)."""


@dataclass(frozen=True, slots=True)
class Hangup:
    """End the call."""

    cause: str
    """Why, for the CDR (``hangup node``, ``max failures``, ``queue timeout``...)."""


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """An entry of the call's timeline (CDR events): node entered, key pressed, branch taken...

    Never holds a digit entered in a ``sensitive`` node: such keys appear as ``digit-masked`` events.
    """

    name: str
    """What happened: ``node``, ``digit``, ``digit-masked``, ``digit-ignored``, ``collected``, ``invalid``..."""
    at: float
    """When (loop time)."""
    node: str | None
    """The node it happened in."""
    data: Mapping[str, TimelineValue] = field(default_factory=dict)
    """Details (flat, JSON-ready)."""


Action = (
    Play
    | StopPlayback
    | StartCollect
    | StopCollect
    | EnterQueue
    | LeaveQueue
    | Transfer
    | RecordVoicemail
    | RequestCallback
    | LookupCaller
    | StoreSurvey
    | RecordingControl
    | Hangup
    | TimelineEvent
)
"""Anything ``IvrRun.next_action()`` returns."""
