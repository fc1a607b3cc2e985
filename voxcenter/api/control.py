"""What the admin API needs from the running server: the ``ControlPlane`` protocol and frozen snapshots.

The runtime implements ``ControlPlane``; the API only reads the pure ACD router through it
(statistics, states, waiting callers) and changes things through its verbs (agent commands,
reload). ``AgentLedger`` is a small pure helper the runtime feeds every router decision to, so
that per-agent figures the router does not expose as a view (time in state, pause reason,
calls handled) are known without reaching into the router's internals.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from voxcenter.acd import AgentProfile, AgentState, AgentStateChanged, Bridge, Router, RouterError
from voxcenter.config import ConfigIssue
from voxcenter.store.records import CallbackRecord

AGENT_COMMANDS = frozenset({"login", "logout", "pause", "unpause", "ready"})
"""Commands accepted by ``ControlPlane.agent_command``; ``ready`` logs in, unpauses or ends wrap-up, whichever
the agent needs to take calls."""


def apply_agent_command(router: Router, agent_id: str, command: str, now: float, reason: str | None) -> None:
    """Carry out one of ``AGENT_COMMANDS`` on ``router`` for the API.

    A login is refused (``RouterError``, a 409) while the agent's phone has no registration: an agent
    logged in from a desk that nobody can ring would only be shown as ``unavailable``. A phone dialing
    the login code is another matter (its registration may follow); the router accepts that.
    """
    if command not in AGENT_COMMANDS:
        raise ValueError(f"unknown agent command {command!r}")
    offline = router.agent_state(agent_id) is AgentState.OFFLINE
    if (command == "login" or (command == "ready" and offline)) and not router.agent_reachable(agent_id):
        raise RouterError(f"agent {agent_id!r} cannot log in: its phone has no registration")
    if command == "ready":
        router.agent_ready(agent_id, now)
        return
    getattr(router, f"agent_{command}")(agent_id, now, reason or "api")


@dataclass(frozen=True, slots=True)
class CallSnapshot:
    """One live call as the API shows it."""

    call_id: str
    """Call identifier, unique across nodes."""
    caller: str
    """Calling number (From user part)."""
    called: str
    """Called number (the dialed DID)."""
    state: str
    """Where the call is: ``ivr``, ``queued``, ``ringing``, ``connected``, ``voicemail``, ..."""
    queue: str | None
    """Queue the call is in or came through, if any."""
    agent: str | None
    """Agent connected to (or being rung for) the call, if any."""
    started: float
    """When the call arrived, on the loop clock (``ControlPlane.now()``)."""
    language: str | None
    """Language chosen in the IVR, if any."""
    recording: str | None = None
    """``on`` while recorded, ``paused`` while its recording is paused, None when not recorded."""
    ivr_path: tuple[str, ...] = ()
    """The IVR nodes the caller walked, menu keys in brackets (``main [2]``)."""
    entered: tuple[tuple[str, str], ...] = ()
    """What the caller keyed in the IVR's collect nodes, by variable; a sensitive entry is masked."""
    client: str | None = None
    """The client company the called number is for (``numbers.<n>.client``)."""
    waited: float | None = None
    """How long the caller waited in the queue before an agent answered (None: not answered yet)."""
    held: bool = False
    """Someone holds the bridged call (from a phone or the agent page)."""
    talking_to: str | None = None
    monitors: tuple[tuple[str, str, str], ...] = ()
    """Supervisors monitoring the call now: (supervisor, the agent monitored, ``listen``/``whisper``/``barge``)."""
    """Who the caller talks to now (after a transfer: its target; ``agent`` stays the first agent)."""
    consulting: tuple[str, str] | None = None
    """Whom the agent consults from its page, and ``ringing`` or ``talking`` (the caller on hold meanwhile)."""


@dataclass(frozen=True, slots=True)
class AgentSnapshot:
    """One agent as the API and the wallboard show it."""

    agent_id: str
    """Agent identifier (the extension)."""
    state: AgentState
    """Current state in the router."""
    since: float
    """When the agent entered ``state``, on the loop clock."""
    reason: str
    """Pause reason while PAUSED, else empty."""
    queues: tuple[str, ...]
    """Queues the agent serves, sorted."""
    reachable: bool
    """Whether the agent's phone is registered and may be rung."""
    calls_handled: int
    """Calls connected to this agent since the router started."""
    call_id: str | None
    """The connected call, if on a call (the first connected, when it holds several)."""
    name: str = ""
    """The agent's name from the dial plan (empty when it has none)."""
    dynamic_queues: tuple[str, ...] = ()
    """Of ``queues``, those the agent was added to at run time (not in the dial plan), sorted."""
    penalties: tuple[tuple[str, int], ...] = ()
    """The agent's penalty in each queue that gives it one (the dial plan's, or a run-time member's)."""
    calls: tuple[str, ...] = ()
    """Every connected call of the agent, in the order they were connected (several with ``max_calls``)."""


WAIT_BUCKETS: tuple[float, ...] = (5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)
"""Upper bounds (seconds) of the wait-time histogram: around the usual service-level targets."""


@dataclass(slots=True)
class CallTally:
    """Calls ended since the server started: by disposition, and a histogram of queued callers' waits (pure)."""

    dispositions: dict[str, int] = field(default_factory=dict)
    wait_counts: list[int] = field(default_factory=lambda: [0] * (len(WAIT_BUCKETS) + 1))
    """Per bucket (not cumulative), the last one for waits above the largest bound."""
    wait_sum: float = 0.0

    def call_ended(self, disposition: str, wait: float | None) -> None:
        """Count one ended call; ``wait`` is None for a call that never queued."""
        self.dispositions[disposition] = self.dispositions.get(disposition, 0) + 1
        if wait is not None:
            index = next((i for i, bound in enumerate(WAIT_BUCKETS) if wait <= bound), len(WAIT_BUCKETS))
            self.wait_counts[index] += 1
            self.wait_sum += wait


@dataclass(frozen=True, slots=True)
class TrunkFigure:
    """One trunk's health as the metrics show it."""

    name: str
    health: str
    """``up``, ``down`` or ``unknown`` (no OPTIONS answer yet)."""
    registration: str | None
    """``registered``, ``registering``, ``failed``…; None for a trunk that does not register."""


@dataclass(frozen=True, slots=True)
class ServerFigures:
    """What the metrics read of the server besides the router, at scrape time."""

    trunks: tuple[TrunkFigure, ...] = ()
    registrations: int = 0
    """Phone registrations (bindings) held by the registrar."""
    reachable_registrations: int = 0
    """Of those, the ones whose phone answers."""
    rtp: tuple[tuple[float, float], ...] = ()
    """(jitter in ms, fraction lost 0..1) of each live call's caller leg."""
    tally: CallTally = field(default_factory=CallTally)
    callback_first_dials: tuple[tuple[str, int, int], ...] = ()
    """(queue, first dialled within target, after it) of the callbacks dialled since start."""


class ControlPlane(Protocol):
    """The running server as the admin API sees it."""

    @property
    def router(self) -> Router:
        """The live pure ACD router (read-only use: stats, states, waiting)."""
        ...

    def now(self) -> float:
        """The loop clock the router runs on."""
        ...

    @property
    def timezone(self) -> str:
        """The dial plan's IANA time zone (``Config.timezone``): the wallboard shows its clock in it."""
        ...

    def agent_command(self, agent_id: str, command: str, reason: str | None = None) -> None:
        """Apply ``command`` (one of ``AGENT_COMMANDS``) through the router and record the AgentEvent.

        Raises KeyError for an unknown agent, ValueError for an unknown command and
        ``voxcenter.acd.RouterError`` (or another LocalProtocolError) for an illegal transition.
        """
        ...

    async def reload(self) -> list[ConfigIssue]:
        """Reload the dial plan; returns its warnings, raises ``voxcenter.config.ConfigError``."""
        ...

    def hang_up(self, call_id: str) -> bool:
        """End the live call ``call_id`` from the server's side (its CDR says the system hung up); False if unknown."""
        ...

    def recording_key(self) -> bytes | None:
        """The key sealed recordings open with (``recording.key_file``), or None."""
        ...

    def recording_control(self, call_id: str, action: str, by: str, who: str | None) -> bool:
        """``pause`` or ``resume`` the live call's recording; False when it already was.

        KeyError: no such live call; LookupError: the call is not being recorded."""
        ...

    def add_member(self, queue: str, agent_id: str, penalty: int = 0) -> None:
        """Add ``agent_id`` to ``queue`` at run time, with ``penalty`` (kept across restarts).

        KeyError: unknown queue or agent; ValueError: a member already.
        """
        ...

    def set_penalty(self, queue: str, agent_id: str, penalty: int) -> None:
        """A run-time member's penalty from now on (kept across restarts).

        KeyError: unknown queue or agent; ValueError: not a run-time member (the dial plan's own keep its).
        """
        ...

    def remove_member(self, queue: str, agent_id: str) -> None:
        """Take a run-time member out; ValueError for the dial plan's own members and non-members."""
        ...

    def book_callback(self, number: str, queue: str, due_at: float | None,
                      customer_data: str | None) -> CallbackRecord:
        """Book a callback (``due_at`` Unix time, None now); KeyError: unknown queue; ValueError: no route."""
        ...

    def pending_callbacks(self) -> list[CallbackRecord]:
        """Callbacks still owed (pending or being dialled), oldest booking first."""
        ...

    def cancel_callback(self, callback_id: str) -> CallbackRecord:
        """Cancel a pending callback; KeyError: none pending by that id; ValueError: being dialled now."""
        ...

    def reload_changes(self) -> dict[str, object]:
        """What the last reload changed: agents and queues added, removed or changed (``config_changes``)."""
        ...

    def figures(self) -> ServerFigures:
        """Trunks, registrations, live RTP quality and ended calls, for ``/metrics``."""
        ...

    @property
    def database(self) -> AsyncEngine | None:
        """The records (CDRs, timelines, recordings, voicemails) for the API's reads; None: not available."""
        ...

    def calls(self) -> list[CallSnapshot]:
        """Live calls."""
        ...

    def agents(self) -> list[AgentSnapshot]:
        """Every configured agent (``AgentLedger.snapshots`` builds this list)."""
        ...

    def subscribe(self) -> AsyncIterator[dict[str, object]]:
        """Change notifications for the wallboard; the content is not used, only the arrival."""
        ...


@dataclass(slots=True)
class _AgentFacts:
    since: float
    reason: str
    calls_handled: int


class AgentLedger:
    """Per-agent facts gathered from router decisions (pure: no clock, no I/O).

    Feed it every decision pulled from ``Router.next_decision()``; it keeps when each agent
    entered its state, its pause reason and the calls connected to it. The state itself is
    always read from the router, which stays the one authority.
    """

    __slots__ = ("_facts", "_queues")

    def __init__(self, profiles: Iterable[AgentProfile], now: float) -> None:
        self._queues: dict[str, tuple[str, ...]] = {}
        self._facts: dict[str, _AgentFacts] = {}
        for profile in profiles:
            self._queues[profile.agent_id] = tuple(sorted(profile.queues))
            self._facts[profile.agent_id] = _AgentFacts(now, "", 0)

    def reconfigure(self, profiles: Iterable[AgentProfile], now: float) -> None:
        """Follow a reloaded plan: kept agents keep their facts, new ones start now, removed ones go."""
        queues: dict[str, tuple[str, ...]] = {}
        facts: dict[str, _AgentFacts] = {}
        for profile in profiles:
            queues[profile.agent_id] = tuple(sorted(profile.queues))
            facts[profile.agent_id] = self._facts.get(profile.agent_id) or _AgentFacts(now, "", 0)
        self._queues, self._facts = queues, facts

    def observe(self, decision: object) -> None:
        """Take note of one router decision; decisions about unknown agents are ignored."""
        if isinstance(decision, AgentStateChanged):
            facts = self._facts.get(decision.agent_id)
            if facts is not None:
                facts.since = decision.at
                facts.reason = decision.reason if decision.new in (AgentState.PAUSED, AgentState.UNAVAILABLE) else ""
        elif isinstance(decision, Bridge):
            facts = self._facts.get(decision.agent_id)
            if facts is not None:
                facts.calls_handled += 1

    def snapshots(self, router: Router) -> list[AgentSnapshot]:
        """Every agent of the ledger with its live state from ``router``, in configuration order."""
        on_call: dict[str, list[str]] = {}
        for call_id, agent_id in router.connected_calls().items():
            on_call.setdefault(agent_id, []).append(call_id)
        return [
            AgentSnapshot(
                agent_id=agent_id,
                state=router.agent_state(agent_id),
                since=facts.since,
                reason=facts.reason,
                queues=self._queues[agent_id],
                reachable=router.agent_reachable(agent_id),
                calls_handled=facts.calls_handled,
                call_id=on_call[agent_id][0] if agent_id in on_call else None,
                calls=tuple(on_call.get(agent_id, ())),
            )
            for agent_id, facts in self._facts.items()
            if router.knows_agent(agent_id)
        ]
