"""Frozen inputs of the ACD router: queue policies, agent profiles, call requests, skills.

The router takes these plain dataclasses as its configuration; the YAML loader maps its
pydantic models onto them. Every duration is in seconds, every level is 1..5.

Priority direction: a **higher** ``priority`` number is served **first**.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

MIN_LEVEL = 1
MAX_LEVEL = 5


class ConfigError(ValueError):
    """A policy, profile or request handed to the router is inconsistent (the caller's fault)."""


class CallingHours(Protocol):
    """When a queue's callbacks may be dialled (its calling window), on the router's clock."""

    def next_open(self, now: float) -> float | None:
        """The first instant at or after ``now`` inside the window (``now`` when open); None: never."""
        ...


class Discipline(enum.Enum):
    """How callers of one queue are ordered."""

    LONGEST_WAIT = "longest-wait"
    PRIORITY = "priority"
    SKILLS = "skills"


class Strategy(enum.Enum):
    """How one agent is picked among the eligible free ones."""

    LONGEST_IDLE = "longest-idle"
    FEWEST_CALLS = "fewest-calls"
    LEAST_TALK_TIME = "least-talk-time"
    ROUND_ROBIN = "round-robin"
    LINEAR = "linear"
    RING_ALL = "ring-all"
    RANDOM = "random"
    WEIGHTED_RANDOM = "weighted-random"


class OverflowKind(enum.Enum):
    """Where a caller goes when a queue limit is hit."""

    QUEUE = "queue"
    AGENT_GROUP = "agent-group"
    VOICEMAIL = "voicemail"
    CALLBACK = "callback"
    HANGUP = "hangup"


def _check_level(level: int, what: str) -> None:
    if not MIN_LEVEL <= level <= MAX_LEVEL:
        raise ConfigError(f"{what}: skill level {level} is outside {MIN_LEVEL}..{MAX_LEVEL}")


def _check_duration(value: float | None, what: str) -> None:
    if value is not None and (not math.isfinite(value) or value < 0):
        raise ConfigError(f"{what} must be a finite number of seconds >= 0, not {value!r}")


@dataclass(frozen=True, slots=True)
class OverflowTarget:
    """Destination of a caller leaving a queue because of a limit."""

    kind: OverflowKind
    """What sort of destination this is."""
    target: str = ""
    """Queue name (QUEUE), agent group name (AGENT_GROUP) or mailbox (VOICEMAIL); empty otherwise."""

    def __post_init__(self) -> None:
        needs_name = self.kind in (OverflowKind.QUEUE, OverflowKind.AGENT_GROUP, OverflowKind.VOICEMAIL)
        if needs_name and not self.target:
            raise ConfigError(f"overflow to {self.kind.value} needs a target name")


HANGUP = OverflowTarget(OverflowKind.HANGUP)


@dataclass(frozen=True, slots=True)
class SkillRequirement:
    """A skill a call needs (or prefers), with the lowest acceptable level."""

    skill: str
    """Skill name, e.g. ``billing``."""
    min_level: int = MIN_LEVEL
    """Lowest agent level accepted, 1..5."""

    def __post_init__(self) -> None:
        _check_level(self.min_level, f"requirement {self.skill!r}")


@dataclass(frozen=True, slots=True)
class RelaxationStep:
    """Widens a waiting call's skill search once it has waited ``after`` seconds in the queue.

    The call keeps its place in the queue; only the set of eligible agents grows.
    """

    after: float
    """Seconds since the caller joined this queue."""
    min_level: int | None = None
    """Every required minimum above this level is lowered to it."""
    drop: frozenset[str] = frozenset()
    """Required skills no longer required."""

    def __post_init__(self) -> None:
        _check_duration(self.after, "relaxation step 'after'")
        if self.min_level is not None:
            _check_level(self.min_level, "relaxation step")


DURATION_FIELDS = (
    "ring_timeout", "retry_delay", "wrapup", "max_wait", "announce_every", "service_level", "short_abandon",
    "callback_offer_after", "callback_max_wait", "callback_retry_delay", "callback_ring_time", "default_handle_time",
    "language_relaxation",
    "backup_after", "announce_first",
)
"""QueuePolicy fields holding seconds."""


@dataclass(frozen=True, slots=True)
class QueuePolicy:
    """Everything the router needs to know about one queue."""

    name: str
    """Queue name, unique."""
    discipline: Discipline = Discipline.LONGEST_WAIT
    """Caller order: longest-wait ignores priority; priority and skills serve higher priority first."""
    strategy: Strategy = Strategy.LONGEST_IDLE
    """Agent selection among eligible free agents."""
    weight: float = 1.0
    """Cross-queue weight: an agent in several queues compares callers by weight × waited time."""
    ring_timeout: float = 15.0
    """Seconds an agent's phone rings before it counts as no answer."""
    retry_delay: float = 5.0
    """Seconds an agent who did not answer is not offered another call (the caller moves on at once)."""
    wrapup: float = 0.0
    """Wrap-up seconds after each call (an agent's own ``wrapup`` wins)."""
    max_length: int | None = None
    """Most callers waiting; the next one overflows to ``on_full``."""
    max_wait: float | None = None
    """Most seconds a caller waits; then overflows to ``on_timeout``."""
    join_empty: bool = False
    """Whether a caller may join while no agent of the queue is logged in."""
    leave_when_empty: bool = True
    """Whether waiting callers leave (to ``on_empty``) when the last agent logs out."""
    on_full: OverflowTarget = HANGUP
    """Destination when the queue is full."""
    on_timeout: OverflowTarget = HANGUP
    """Destination when ``max_wait`` is reached."""
    on_empty: OverflowTarget = HANGUP
    """Destination when no agent is logged in."""
    announce_every: float | None = 30.0
    """Seconds between position/wait announcements; None for none."""
    announce_first: float = 0.0
    """Seconds after joining of the first announcement; 0: the caller is told on joining (``Enqueued``)."""
    announce_position_limit: int = 10
    """Positions above this are announced as "more than N"."""
    service_level: float = 20.0
    """Answer-time target of the service level, seconds."""
    short_abandon: float = 5.0
    """Abandons quicker than this are excluded from abandonment and service level."""
    relaxation: tuple[RelaxationStep, ...] = ()
    """Skill relaxation steps, by increasing ``after``."""
    language_relaxation: float | None = 0.0
    """Seconds a caller whose language is known is offered only to agents who speak it (while one of them is
    logged in and serves the call); then to any agent. 0: languages are not matched; None: never relaxed."""
    skills: tuple[SkillRequirement, ...] = ()
    """Skills every call of this queue requires (besides the call's own; the higher level of the two counts)."""
    cost_aware: bool = False
    """Among the free agents of the best penalty tier and skill rank, the lowest ``cost`` is offered first."""
    backup_group: str | None = None
    """Agent group whose agents are offered a caller too once it has waited ``backup_after`` in this queue."""
    backup_after: float = 60.0
    """Seconds in this queue after which ``backup_group`` is added (the caller keeps its place)."""
    callback_offer_after: float | None = None
    """Offer a callback after this many seconds of waiting; None never offers."""
    callback_max_wait: float | None = 4 * 3600.0
    """A callback request not started within this many seconds of the request is given up."""
    callback_retry_delay: float = 60.0
    """Seconds between failed callback attempts."""
    callback_max_attempts: int = 3
    """Callback attempts before the request is given up."""
    callback_ring_time: float = 30.0
    """Seconds the customer's phone rings on each callback attempt."""
    callback_hours: CallingHours | None = field(default=None, compare=False)
    """The calling window: no callback attempt starts outside it (it waits for the window); None: any time.

    Not compared: the window is asked at each dispatch, so a reload that changes it applies at once."""
    autopause_after: int | None = 3
    """Consecutive no-answers after which an agent is paused; None never."""
    default_handle_time: float = 180.0
    """Handle time assumed by the wait estimate before any call was measured."""
    handle_time_smoothing: float = 0.005
    """Handle time of the wait estimate: the plain mean of the first ``1 / smoothing`` calls (the prior counted
    as one), then an exponential average with this factor (0..1]; 0.005 follows about the last 200 calls."""

    def __post_init__(self) -> None:
        if not self.name:
            raise ConfigError("a queue needs a name")
        for what in DURATION_FIELDS:
            _check_duration(getattr(self, what), f"queue {self.name!r}: {what}")
        if self.ring_timeout <= 0 or self.default_handle_time <= 0 or self.callback_ring_time <= 0:
            raise ConfigError(
                f"queue {self.name!r}: ring_timeout, callback_ring_time and default_handle_time must be > 0")
        if self.announce_every is not None and self.announce_every <= 0:
            raise ConfigError(f"queue {self.name!r}: announce_every must be > 0")
        if not (self.weight > 0 and math.isfinite(self.weight)):
            raise ConfigError(f"queue {self.name!r}: weight must be > 0")
        if self.max_length is not None and self.max_length < 0:
            raise ConfigError(f"queue {self.name!r}: max_length must be >= 0")
        if self.announce_position_limit < 1 or self.callback_max_attempts < 1:
            raise ConfigError(f"queue {self.name!r}: announce_position_limit and callback_max_attempts must be >= 1")
        if self.autopause_after is not None and self.autopause_after < 1:
            raise ConfigError(f"queue {self.name!r}: autopause_after must be >= 1")
        if not 0.0 < self.handle_time_smoothing <= 1.0:
            raise ConfigError(f"queue {self.name!r}: handle_time_smoothing must be in (0, 1]")
        afters = [step.after for step in self.relaxation]
        if afters != sorted(afters):
            raise ConfigError(f"queue {self.name!r}: relaxation steps must be in increasing 'after' order")


@dataclass(frozen=True, slots=True)
class AgentProfile:
    """An agent as configured: which queues, which skills, personal overrides."""

    agent_id: str
    """Agent identifier (also the login name)."""
    queues: frozenset[str] = frozenset()
    """Queues this agent serves."""
    skills: Mapping[str, int] = field(default_factory=dict)
    """Skill name → level 1..5."""
    groups: frozenset[str] = frozenset()
    """Backup groups (overflow targets of kind AGENT_GROUP) the agent belongs to."""
    wrapup: float | None = None
    """Personal wrap-up seconds, overriding the queue's."""
    weight: float = 1.0
    """Share under weighted-random selection."""
    languages: frozenset[str] = frozenset()
    """Languages the agent speaks; empty: any (the agent is offered callers of every language)."""
    """Share under weighted-random selection, in a queue ``weights`` does not name."""
    penalties: Mapping[str, int] = field(default_factory=dict)
    """Queue → penalty of the membership (0 when absent): a higher penalty is offered a call only when no
    agent of a lower one is free."""
    weights: Mapping[str, float] = field(default_factory=dict)
    """Queue → weighted-random share of the membership (``weight`` when absent)."""
    cost: float = 0.0
    """What an hour of this agent costs, compared by ``cost_aware`` queues (lower is offered first)."""
    max_calls: int = 1
    """Queue calls the agent may hold at once: above 1, an agent on a call may be offered another one on a
    free line of the phone (call waiting); wrap-up follows the last call."""

    def __post_init__(self) -> None:
        if not self.agent_id:
            raise ConfigError("an agent needs an id")
        for queue, penalty in self.penalties.items():
            if penalty < 0:
                raise ConfigError(f"agent {self.agent_id!r}: penalty in {queue!r} must be >= 0")
        for queue, share in self.weights.items():
            if not (share > 0 and math.isfinite(share)):
                raise ConfigError(f"agent {self.agent_id!r}: weight in {queue!r} must be > 0")
        if not (self.cost >= 0 and math.isfinite(self.cost)):
            raise ConfigError(f"agent {self.agent_id!r}: cost must be >= 0")
        if self.max_calls < 1:
            raise ConfigError(f"agent {self.agent_id!r}: max_calls must be >= 1")
        for skill, level in self.skills.items():
            _check_level(level, f"agent {self.agent_id!r} skill {skill!r}")
        _check_duration(self.wrapup, f"agent {self.agent_id!r}: wrapup")
        if not (self.weight > 0 and math.isfinite(self.weight)):
            raise ConfigError(f"agent {self.agent_id!r}: weight must be > 0")

    def level(self, skill: str) -> int:
        """The agent's level in ``skill``, 0 when the agent lacks it."""
        return self.skills.get(skill, 0)

    def speaks(self, language: str) -> bool:
        """Whether the agent can take a caller of ``language`` (empty: unknown, anyone can)."""
        return not language or not self.languages or language in self.languages
    def penalty(self, queue: str) -> int:
        """The penalty of the agent's membership of ``queue`` (0 when none is set, or as a backup)."""
        return self.penalties.get(queue, 0)

    def share(self, queue: str) -> float:
        """The agent's weighted-random share in ``queue``."""
        return self.weights.get(queue, self.weight)


@dataclass(frozen=True, slots=True)
class CallRequest:
    """What a caller asks for when joining a queue."""

    call_id: str
    """Call identifier, unique across the process (and nodes)."""
    queue: str
    """Queue joined."""
    priority: int = 0
    """Higher is served first (ignored by longest-wait queues)."""
    required: tuple[SkillRequirement, ...] = ()
    """Skills the agent must have at these levels."""
    preferred: tuple[SkillRequirement, ...] = ()
    """Skills that rank agents higher when present at these levels."""
    caller: str = ""
    """The caller's number, dialed back by callbacks."""
    language: str = ""
    """The caller's language (IVR choice, number, number prefix, customer record); empty: unknown."""
