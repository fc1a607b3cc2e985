"""Queues, agents and agent feature codes: what the ACD router is configured with.

Priority everywhere: a higher number is served first. Skill levels go from 1 (beginner) to 5 (expert).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from voxcenter.config.base import DialString, Digit, Duration, Kind, LanguageCode, Model, Name, PromptName, SkillLevel


class OverflowTarget(Model):
    """Where an overflowing caller goes: exactly one of the keys."""

    queue: Name | None = None
    """Another queue (the caller keeps the time already waited for statistics, not the place)."""
    voicemail: str | None = None
    """A mailbox."""
    callback: bool | None = None
    """Offer a callback (true)."""
    node: Name | None = None
    """An IVR node."""

    @model_validator(mode="after")
    def _exactly_one(self) -> OverflowTarget:
        chosen = [name for name, value in self.model_dump().items() if value not in (None, False)]
        if len(chosen) != 1:
            raise ValueError("an overflow target needs exactly one of 'queue', 'voicemail', 'callback' or 'node'")
        return self


class Overflow(Model):
    """Overflow target per reason; none means the caller hears a goodbye and is hung up."""

    timeout: OverflowTarget | None = None
    """``max_wait`` passed."""
    full: OverflowTarget | None = None
    """``max_length`` reached when joining."""
    empty: OverflowTarget | None = None
    """``join_when`` refused the caller or ``leave_when`` sent them out."""


class Announcements(Model):
    """What a waiting caller hears."""

    music_on_hold: PromptName | None = "moh"
    """Music prompt looped while waiting; none means silence."""
    position_every: Duration | None = 30.0
    """Announce position (and wait) this often; none never announces."""
    announce_position: bool = True
    """Say "you are caller number 3"."""
    estimated_wait: bool = True
    """Say the estimated wait."""
    position_limit: int | None = Field(default=10, ge=1)
    """Above this position say "more than N callers ahead" instead."""
    first_after: Duration = 0.0
    """The first announcement comes this long after joining (then every ``position_every``); 0: on joining."""


class CallbackOffer(Model):
    """Callbacks of this queue: the offer to waiting callers, and how every callback is dialled.

    The dialling settings apply to each callback of the queue, however it was booked (the queue's offer,
    an IVR ``callback`` node, the API). An attempt rings the first free agent; once the agent answers,
    the customer's number is dialled.
    """

    enabled: bool = False
    """Offer callbacks to callers waiting in this queue."""
    offer_after: Duration = 60.0
    """Offer once the caller has waited this long."""
    key: Digit = "1"
    """Key that accepts the offer."""
    prompt: PromptName = "callback-offer"
    """The offer prompt."""
    sla: Duration = 300.0
    """Target: the customer is first dialled within this long of the callback being due (its booking, or
    its due time); ``voxcenter report`` and the metrics measure how often it is met."""
    attempts: int = Field(default=3, ge=1)
    """Attempts (the customer's phone dialled) before the callback is given up as failed."""
    retry_delay: Duration = 60.0
    """Wait between an unanswered attempt and the next one."""
    ring_time: Annotated[Duration, Field(gt=0)] = 30.0
    """How long the customer's phone rings on each attempt."""
    hours: Name | None = None
    """The calling window: a schedule of ``schedules``; no attempt starts outside it, the callback waits
    for it to open. None: any time."""
    expire_after: Duration | None = 4 * 3600.0
    """A callback not answered this long after it was booked (or its due time) is given up as expired;
    none: never."""


class PostCallSurvey(Model):
    """After the agent hangs up, the caller goes to a survey node instead of hearing the call end."""

    node: Name
    """The IVR node (``type: survey``) the caller is sent to."""
    every: int = Field(default=1, ge=1)
    """Survey every Nth eligible caller (1: all of them)."""
    min_talk: Duration = 0.0
    """Calls whose talk time is shorter than this are not surveyed."""
    not_within: Duration | None = 7 * 86400.0
    """The same number is not surveyed twice within this (remembered until a restart); none: no limit."""


class Relaxation(Model):
    """One skill-relaxation step: after a wait, accept less skilled agents or drop a skill."""

    after: Duration
    """Waited time at which the step applies."""
    min_level: SkillLevel | None = None
    """Every required skill is lowered to at most this level."""
    drop: Name | None = None
    """This skill is no longer required."""

    @model_validator(mode="after")
    def _does_something(self) -> Relaxation:
        if (self.min_level is None) == (self.drop is None):
            raise ValueError("a relaxation step needs exactly one of 'min_level' or 'drop'")
        return self


class Queue(Model):
    """A queue of callers and the agents who serve it. Priority: a higher number is served first."""

    strategy: Literal["longest-wait", "priority", "skills"] = "longest-wait"
    """Caller order: ``longest-wait`` (FIFO), ``priority`` (higher first, FIFO within), ``skills`` (best match)."""
    selection: Literal[
        "longest-idle",
        "fewest-calls",
        "least-talk-time",
        "round-robin",
        "linear",
        "ring-all",
        "random",
        "weighted-random",
    ] = "longest-idle"
    """Which free agent rings first, among the free agents of the best tier: the lowest membership ``penalty``,
    then (every strategy) the best skill match, then the lowest ``cost`` when ``cost_aware``."""
    skills: dict[Name, SkillLevel] = Field(default_factory=dict)
    """Skills every call in this queue requires, with minimum level (with the call's own required skills; a
    skill both name needs the higher level). Relaxation steps relax them too."""
    cost_aware: bool = False
    """Among the free agents of the best penalty and skill match, offer the call to the lowest agent ``cost``
    first (the queue's ``selection`` chooses among equal costs)."""
    ring_timeout: Duration = 15.0
    """How long an agent rings before the next one is tried."""
    retry_delay: Duration = 5.0
    """An agent who did not answer is offered no call for this long; the caller goes on to the next agent at once."""
    wrap_up: Duration = 10.0
    """After-call work time before an agent gets the next call."""
    max_length: int | None = Field(default=None, ge=1)
    """Most callers waiting; none means unlimited."""
    max_wait: Duration | None = None
    """Longest wait before overflow ``timeout``; none means unlimited."""
    join_when: Literal["always", "agents-logged-in", "agents-available"] = "agents-logged-in"
    """Callers may join: always, when an agent is logged in (even paused/busy; not ``unavailable``), or when one is
    ready."""
    leave_when: Literal["never", "no-agents-logged-in", "no-agents-available"] = "no-agents-logged-in"
    """Waiting callers are sent to overflow ``empty`` when this becomes true."""
    overflow: Overflow = Overflow()
    """Overflow target per reason."""
    backup_group: Name | None = None
    """Agent group (``groups``) whose agents are offered a caller too, in the queue's ``selection``, once it has
    waited ``backup_after`` in this queue; the caller keeps its place."""
    backup_after: Duration = 60.0
    """Wait in the queue after which the backup group is added."""
    announcements: Announcements = Announcements()
    """Music and position announcements."""
    callback: CallbackOffer = CallbackOffer()
    """Callback offer."""
    survey: PostCallSurvey | None = None
    """Post-call survey of answered calls the agent hung up; none: the call ends with the agent."""
    record: Literal["conversation", "everything", "off"] = "conversation"
    """What of its calls is recorded (when ``recording.enabled``): ``conversation`` from the agent's answer,
    ``everything`` from joining the queue (music, announcements, then the conversation), ``off`` not the
    conversation either. A number's ``record: everything`` records its calls whatever their queue says."""
    service_level: Duration = 20.0
    """Service-level threshold: answered within it / (answered + abandoned), short abandons left out."""
    relaxation: tuple[Relaxation, ...] = ()
    """Skill-relaxation steps, by increasing ``after``."""
    language_relaxation: Duration | None = 30.0
    """A caller is offered only to agents who speak the call's language (``agents.languages``: the IVR
    choice, the number's or the caller prefix's language, the customer record's) for this long after joining,
    then to any agent. Only while such an agent is logged in; 0: languages are not matched; none: never
    relaxed."""
    auto_pause_after: int | None = Field(default=3, ge=1)
    """Pause an agent after this many consecutive unanswered rings; none never does."""
    weight: int = Field(default=0, ge=0)
    """Among queues sharing agents, calls of a higher-weight queue are offered first."""
    supervisors: tuple[Name, ...] = ()
    """Agent groups (``groups``) whose members may listen to, whisper to and barge into this queue's calls (and
    into the agents' internal and outside calls of the agents who serve it)."""

    @model_validator(mode="after")
    def _relaxation_sorted(self) -> Queue:
        afters = [step.after for step in self.relaxation]
        if afters != sorted(afters):
            raise ValueError("relaxation steps must be listed by increasing 'after'")
        return self


class AgentQueue(Model):
    """An agent's membership of one queue."""

    queue: Name
    """The queue."""
    penalty: int = Field(default=0, ge=0)
    """Penalty tier: an agent is offered a call of this queue only when no free agent of a lower penalty can
    take it (every ``selection``; ``linear`` rings by penalty, then in file order)."""
    weight: int = Field(default=1, ge=1)
    """Share of the calls under ``weighted-random`` selection (``weight: 2`` is offered twice as often as 1)."""


def _agent_queue(value: Any) -> Any:
    return {"queue": value} if isinstance(value, str) else value


HA1 = Annotated[str, Field(pattern=r"^([0-9a-fA-F]{32}|[0-9a-fA-F]{64})$"), Kind("hex digest")]


class FollowMe(Model):
    """An agent's personal number (a mobile), rung through a trunk for the agent's queue calls."""

    number: DialString
    """The number, as dialled through ``route``."""
    route: Name
    """The outbound route that carries it (its patterns must match the number)."""
    after: Duration | None = None
    """Also ring the number this long after the softphone started ringing (in parallel); none: only while
    the softphone is not registered."""
    confirm_key: Digit = "1"
    """The key the agent presses on the personal phone to take the call (so its voicemail never does)."""
    confirm_within: Duration = 10.0
    """How long voxcenter waits for that key after the personal phone answered."""


class Agent(Model):
    """An agent, keyed by the extension the softphone registers as."""

    name: str
    """Display name."""
    password: str | None = None
    """Digest password (give ``password`` or ``ha1``, not both)."""
    ha1: HA1 | None = None
    """MD5 (32 hex) or SHA-256 (64 hex) of ``extension:realm:password`` (RFC 3261 §22.4, RFC 8760)."""
    skills: dict[Name, SkillLevel] = Field(default_factory=dict)
    """Skill -> level 1-5."""
    queues: tuple[Annotated[AgentQueue, BeforeValidator(_agent_queue)], ...] = ()
    """Queues served: a name, or ``{queue, penalty, weight}``."""
    wrap_up: Duration | None = None
    """Wrap-up time overriding the queues'."""
    max_calls: int = Field(default=1, ge=1)
    """Queue calls the agent's phone may hold at once: with 2, an agent on a call may be offered a second one
    (call waiting: a second INVITE rings the phone); wrap-up follows the last call. Callbacks wait for an agent
    on no call."""
    cost: float = Field(default=0.0, ge=0)
    """What the agent costs (per hour, in any one unit): a ``cost_aware`` queue offers a call to the cheapest
    of the free agents of the best skill match."""
    languages: tuple[LanguageCode, ...] = ()
    """Languages spoken (``[pl, en]``): callers of another language come to the agent only after their queue's
    ``language_relaxation``; none listed means any."""
    follow_me: FollowMe | None = None
    """A personal number rung for the agent's queue calls (see FollowMe)."""

    @model_validator(mode="after")
    def _one_secret(self) -> Agent:
        if (self.password is None) == (self.ha1 is None):
            raise ValueError("an agent needs exactly one of 'password' or 'ha1'")
        return self


class FeatureCodes(Model):
    """Codes an agent dials from the softphone."""

    login: DialString = "*45"
    """Log in to the agent's queues."""
    logout: DialString = "*46"
    """Log out."""
    pause: DialString = "*47"
    """Pause, or unpause when paused; followed by a digit of ``pause_reasons``, pause for that reason."""
    pause_reasons: dict[Annotated[str, Field(pattern=r"^[0-9]$")], str] = Field(default_factory=dict)
    """Pause reasons by digit (``{'1': lunch, '2': training}``): ``*471`` pauses for lunch, and the API shows it."""
    wrap_up_end: DialString | None = "*48"
    """End wrap-up early."""
    voicemail: DialString | None = "*98"
    """Listen to the agent's voicemail."""
    echo_test: DialString | None = "*43"
    """Echo test: hear yourself."""
    listen: DialString | None = "*51"
    """Followed by an agent's extension (``*511001``): a supervisor listens to that agent's call (heard by
    nobody). During the session the keys 1, 2 and 3 switch to listen, whisper and barge."""
    whisper: DialString | None = "*52"
    """Followed by an agent's extension: a supervisor whispers to that agent (heard by the agent only)."""
    barge: DialString | None = "*53"
    """Followed by an agent's extension: a supervisor barges into that agent's call (heard by both)."""


class Transfers(Model):
    """Transfers agents make from their phones (REFER, RFC 3515; attended with Replaces, RFC 3891)."""

    ring_timeout: Duration = 30.0
    """How long a transfer target rings before the transfer fails."""
    on_failure: Literal["agent", "queue"] = "agent"
    """Where the caller goes when a blind transfer's target is busy, does not answer or does not exist: back
    to the transferring ``agent`` (rung again if their phone already hung up), or back into the call's
    ``queue`` (a call that was in no queue goes back to the agent)."""
    conference: DialString | None = "*3"
    """Keyed by the agent during a call, then a number and ``#``: that party (an agent, or an outside number
    a route allows the agent) joins a three-way call. The agent may then hang up and leave the two talking."""


class InternalCalls(Model):
    """Agents dialling each other's extensions."""

    busy: Literal["reject", "voicemail"] = "reject"
    """A busy (or unreachable) agent: ``reject`` answers 486 Busy Here (480 when not registered), ``voicemail``
    takes a message in the called agent's mailbox."""
    paused_reachable: bool = True
    """A paused agent still receives internal calls (they are not queue calls)."""
    ring_timeout: Duration = 30.0
    """How long the called phone rings before the call counts as not answered."""
