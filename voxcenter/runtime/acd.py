"""The asyncio shell of the ACD: feeds the pure router, keeps its one timer, carries out its decisions.

The router decides (who to ring, what to announce, when to give up); this
shell rings agents' phones through the SIP endpoint, tells the waiting call
what to play, bridges the answered agent to the caller, and writes the queue
events (named as operators know them from Asterisk's queue_log) and agent
state changes to the store.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Protocol

import structlog

from voxcenter.acd.agents import AgentState, AgentStateChanged
from voxcenter.acd.events import (
    EXIT_QUEUE_LOG,
    Announce,
    Bridge,
    CallbackQueued,
    CallCompleted,
    CancelRing,
    Ender,
    Enqueued,
    ExitReason,
    OfferCallback,
    Overflow,
    QueueExit,
    RingAgent,
    RingNoAnswer,
    StartCallback,
    WrapUpEnded,
)
from voxcenter.acd.model import CallRequest, OverflowKind
from voxcenter.acd.router import Router, RouterError
from voxcenter.api.control import AgentLedger, apply_agent_command
from voxcenter.config import Config
from voxcenter.runtime.callback import connect_callback
from voxcenter.runtime.calllog import CallLog, agent_event
from voxcenter.runtime.dialer import Dialer
from voxcenter.runtime.followme import ring_agent
from voxcenter.runtime.legmedia import LegMedia
from voxcenter.runtime.livestate import BUSY_ELSEWHERE, BUSY_STATES, VersionStamp, agent_state_record
from voxcenter.runtime.mapping import agent_profiles, queue_policies, static_members, with_members
from voxcenter.runtime.services import Records
from voxcenter.runtime.webhooks import call_fields
from voxcenter.sip.endpoint import RequestFailed
from voxcenter.sip.registrar import BindingChange, BindingChanged
from voxcenter.sip.session import SipSession
from voxcenter.store.records import AgentStateRecord, CallbackRecord, CallEvent, QueueMemberRecord, new_id

logger = structlog.get_logger(__name__)


class MemberError(ValueError):
    """A queue membership change that makes no sense now (already a member, a member from the dial plan)."""

Spawn = Callable[[Awaitable[None]], "asyncio.Task[None]"]
"""Starts a task the server waits for at shutdown."""


class QueuedCall(Protocol):
    """What the ACD asks of a call it queues: the inbound call implements it (the ACD never imports it)."""

    call_id: str
    log: CallLog

    @property
    def caller(self) -> str: ...

    def enqueued(self, decision: Enqueued) -> None: ...

    def announce(self, decision: Announce) -> None: ...

    def offer_callback(self, decision: OfferCallback) -> None: ...

    def callback_queued(self, decision: CallbackQueued) -> None: ...

    def queue_exit(self, reason: str) -> None: ...

    def connect_agent(self, decision: Bridge, agent_leg: LegMedia, agent_session: SipSession) -> None: ...


@dataclass(slots=True)
class RingAttempt:
    """One agent's phone being rung for one call."""

    call_id: str
    agent_id: str
    cancel: asyncio.Event = field(default_factory=asyncio.Event)
    leg: LegMedia | None = None
    session: SipSession | None = None
    task: asyncio.Task[None] | None = None


class AcdService:
    """Queues and agents of the running server (see the module docstring)."""

    def __init__(self, config: Config, dialer: Dialer, records: Records, spawn: Spawn) -> None:
        self.config = config
        """The current dial plan (feature codes, agents); replaced by ``reconfigure``."""
        self.dialer = dialer
        self.records = records
        self.spawn = spawn
        loop = asyncio.get_running_loop()
        self.loop = loop
        self.dynamic: set[tuple[str, str]] = set()
        self.dynamic_penalties: dict[tuple[str, str], int] = {}
        """The penalty of each run-time member that has one (none: 0)."""
        """Queue members added at run time, ``(queue, agent)`` (the dial plan's own are in its agents)."""
        self.wall_offset = time.time() - loop.time()
        """Unix time minus loop time, measured once: the router's calling hours read the wall clock through it."""
        self.router = Router(queue_policies(config, self.wall_offset), agent_profiles(config), loop.time())
        self.ledger = AgentLedger(agent_profiles(config), loop.time())
        """Per-agent facts the router does not keep (time in state, calls handled) for the API."""
        self.calls: dict[str, QueuedCall] = {}
        """Callers this service knows: waiting, ringing or connected."""
        self.rings: dict[tuple[str, str], RingAttempt] = {}
        self.callback_phones: dict[str, SipSession] = {}
        """The agent's phone of each callback being dialled or talking (what a stop hangs up)."""
        self.callbacks: set[str] = set()
        """Callbacks whose customer answered and who are talking to their agent now."""
        self.engaged: dict[str, int] = {}
        """Agents on direct calls (internal calls, transfer targets) and how many: busy for the next one."""
        self.callback_records: dict[str, CallbackRecord] = {}
        """The newest version of each callback not yet settled (completed, failed or cancelled)."""
        self.callback_first_dials: dict[str, list[int]] = {}
        """Per queue, callbacks first dialled [within, after] their target since start (for the metrics)."""
        self.callback_settled: dict[str, CallbackRecord] = {}
        """The last version of the most recently settled callbacks (at most ``SETTLED_KEPT``), for the API."""
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self.listeners: list[asyncio.Queue[dict[str, object]]] = []
        self.closed = False
        """Set by ``close()``: decisions are no longer carried out."""
        self.wrapping: dict[str, CallLog] = {}
        """CDRs of ended calls whose agent is still in wrap-up (``wrapup_seconds`` comes when it ends)."""
        self.versions = VersionStamp()
        """Versions of the agent state rows this node writes."""
        self.events: Callable[[str, dict[str, object]], None] = lambda name, data: None
        """Where call events go (the webhooks): ``call.offered`` and ``call.answered``; must never block."""
        self.routing = True
        """This node's router serves the queues; False on a node of a cluster whose router runs on another node
        (``cluster.shared_queues``): callbacks booked here are written for the router node to take."""
        self.agent_states_seen: dict[str, int] = {}
        """The newest version of each agent's state row written by another node that this router applied."""
        self.callbacks_taken: set[str] = set()
        """Every callback this router took from the database (once: a settled one may still read as pending)."""
        self._mark_followers()

    def now(self) -> float:
        return self.loop.time()

    # --- the pump -----------------------------------------------------------------------------------------------

    async def end_callbacks(self, reason: str) -> None:
        """The server stops: every callback conversation ends as if its agent hung up (its CDR is finished)."""
        await asyncio.gather(*(phone.hangup(reason, wait=2.0) for phone in list(self.callback_phones.values())))

    def close(self) -> None:
        """The server stops: no timer fires after its records are flushed (the writer is closed by then)."""
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._timer_at = None

    def pump(self) -> None:
        """Carry out every pending decision, then re-arm the one timer."""
        if self.closed:
            return
        while (decision := self.router.next_decision()) is not None:
            self.ledger.observe(decision)
            # Call A's task may feed the router an input that decides for call B: each decision is carried
            # out in a fresh context bound to its own call, so its lines (and the tasks it starts) carry
            # B's call_id, never A's.
            contextvars.Context().run(self._carry_out_for_its_call, decision)
        deadline = self.router.get_timer()
        if deadline != self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer_at = deadline
            self._timer = None if deadline is None else \
                self.loop.call_at(deadline, self._on_timer, context=contextvars.Context())
        self._notify()

    def _carry_out_for_its_call(self, decision: object) -> None:
        call_id = getattr(decision, "call_id", None)
        if call_id:
            structlog.contextvars.bind_contextvars(call_id=call_id)
        try:
            self._carry_out(decision)
        except Exception:
            logger.exception("acd.decision_failed", decision=type(decision).__name__)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        self.router.handle_timer(self.now())
        self.pump()

    def _notify(self) -> None:
        for queue in self.listeners:
            if queue.empty():
                queue.put_nowait({"type": "changed"})

    # --- inputs from calls --------------------------------------------------------------------------------------------

    def join(self, call: QueuedCall, request: CallRequest, waited: float = 0.0) -> None:
        """A caller enters a queue; ``waited``: how long ago they entered it (on another node) keeps their place."""
        self.calls[call.call_id] = call
        now = self.now()
        try:
            self.router.caller_joined(request, now, now - waited if waited > 0 else None)
        except RouterError as error:  # a reload removed the queue after this call started on the old plan
            logger.info("acd.join_refused", call_id=call.call_id, queue=request.queue, reason=str(error))
            call.log.event("EXITEMPTY", queue=request.queue, data={"reason": "queue removed from the dial plan"})
            call.queue_exit("empty")
            return
        self.pump()

    def leave(self, call_id: str) -> None:
        """The caller hung up (or left with a key) while waiting."""
        for key, ring in list(self.rings.items()):
            if key[0] == call_id:
                ring.cancel.set()
        self.router.caller_left(call_id, self.now())
        self.pump()

    def request_callback(self, call_id: str, number: str) -> None:
        self.router.callback_requested(call_id, self.now(), number)
        self.pump()

    def call_ended(self, call_id: str, ended_by: Ender) -> None:
        """A connected call ended (either side hung up); its CDR learns the wrap-up time once it is over."""
        call = self.calls.pop(call_id, None)
        if call is not None:
            self.wrapping[call_id] = call.log
        self.router.call_ended(call_id, self.now(), ended_by)
        self.pump()

    def forget(self, call_id: str) -> None:
        self.calls.pop(call_id, None)

    def ringing_for(self, call_id: str) -> bool:
        """Some agent's phone is being rung for ``call_id`` now."""
        return any(ring_call == call_id for ring_call, _ in self.rings)

    # --- agents on calls the router does not route (internal calls, transfer targets) --------------------------------

    def busy_status(self, agent_id: str, *, paused_reachable: bool) -> int | None:
        """Why ``agent_id`` cannot take a direct call now (486 busy, 480 paused), or None when it can."""
        if self.engaged.get(agent_id, 0) > 0:
            return 486
        if not self.router.knows_agent(agent_id):
            return None
        state = self.router.agent_state(agent_id)
        if state in (AgentState.RESERVED, AgentState.RINGING, AgentState.ON_CALL):
            return 486
        if state is AgentState.PAUSED and not paused_reachable:
            return 480
        return None

    def engage(self, agent_id: str) -> None:
        """``agent_id`` is on a direct call (placed, or answered, outside the router's own routing).

        A ready agent is paused for the queues meanwhile (reason ``DIRECT_CALL``), so no queue call rings a
        phone that is already in a conversation; the pause ends with the last direct call.
        """
        self.engaged[agent_id] = self.engaged.get(agent_id, 0) + 1
        if self.router.knows_agent(agent_id) and self.router.agent_state(agent_id) is AgentState.READY:
            self.router.agent_pause(agent_id, self.now(), DIRECT_CALL)
            self.pump()

    def disengage(self, agent_id: str) -> None:
        count = self.engaged.get(agent_id, 0) - 1
        if count > 0:
            self.engaged[agent_id] = count
            return
        self.engaged.pop(agent_id, None)
        if self.router.knows_agent(agent_id) and self.router.agent_pause_reason(agent_id) == DIRECT_CALL:
            self.router.agent_unpause(agent_id, self.now(), "direct call ended")
            self.pump()

    # --- inputs from agents -------------------------------------------------------------------------------------------

    def feature_code(self, agent_id: str, name: str, reason: str | None = None) -> bool:
        """An ACD feature code (by its dial-plan key) dialed by an authenticated agent; False if not allowed now.

        Raises the router's error for a transition its table forbids.
        """
        now = self.now()
        if name == "pause" and reason is not None:
            self.router.agent_pause(agent_id, now, reason)  # paused already: the reason changes
            handled = True
        else:
            canonical = {"login": "*45", "logout": "*46", "pause": "*47", "wrap_up_end": "*48"}[name]
            handled = self.router.agent_feature_code(agent_id, canonical, now)
        self.pump()
        return handled

    def agent_command(self, agent_id: str, command: str, reason: str | None = None) -> None:
        if agent_id not in self.config.agents:
            raise KeyError(agent_id)
        apply_agent_command(self.router, agent_id, command, self.now(), reason)
        self.pump()

    def reconfigure(self, config: Config) -> None:
        """A reloaded dial plan: new queue policies and agent profiles, callers and agent states kept.

        Raises the router's ``ConfigError`` (and changes nothing) when the two do not fit together.
        Agents new to the plan start OFFLINE; one whose phone is already registered may be rung once
        logged in.
        """
        known = {agent_id for agent_id in config.agents if self._known(agent_id)}
        now = self.now()
        kept = {(queue, agent) for queue, agent in self.dynamic if queue in config.queues and agent in config.agents
                and (queue, agent) not in static_members(config)}
        self.dynamic_penalties = {member: p for member, p in self.dynamic_penalties.items() if member in kept}
        profiles = with_members(agent_profiles(config), kept, self.dynamic_penalties)
        self.router.reconfigure(queue_policies(config, self.wall_offset), profiles, now)
        self.ledger.reconfigure(profiles, now)
        for queue, agent in sorted(self.dynamic - kept):  # gone from the plan, or written into it: not dynamic
            logger.info("acd.member_dropped", queue=queue, agent=agent, reason="the reloaded dial plan")
            self._member_record(queue, agent, active=False)
        self.dynamic = kept
        self.config = config
        self._mark_followers()
        for agent_id in config.agents:
            if agent_id not in known and self.dialer.registered(agent_id):
                self.router.agent_registered(agent_id, now)
        self.pump()

    def _follows(self, agent_id: str) -> bool:
        """The agent has a personal number: reachable for the router even while no softphone is registered."""
        agent = self.config.agents.get(agent_id)
        return agent is not None and agent.follow_me is not None

    def _mark_followers(self) -> None:
        for agent_id in self.config.agents:
            if self._follows(agent_id):
                self.router.agent_registered(agent_id, self.now())

    # --- run-time queue members ---------------------------------------------------------------------------------------

    def add_member(self, queue: str, agent: str, penalty: int = 0) -> None:
        """Make ``agent`` a member of ``queue`` now (persisted); KeyError for an unknown one, MemberError if it is."""
        self._check_member(queue, agent)
        if (queue, agent) in static_members(self.config) or (queue, agent) in self.dynamic:
            raise MemberError(f"agent {agent} is already a member of queue {queue}")
        self.dynamic.add((queue, agent))
        self._set_penalty(queue, agent, penalty)
        self._apply_members()
        self._member_record(queue, agent, active=True)
        logger.info("acd.member_added", queue=queue, agent=agent, penalty=penalty)

    def set_penalty(self, queue: str, agent: str, penalty: int) -> None:
        """A run-time member's penalty from now on (persisted), as Asterisk's QueuePenalty; the dial plan's own
        members keep the plan's (MemberError: edit it there and reload)."""
        self._check_member(queue, agent)
        if (queue, agent) in static_members(self.config):
            raise MemberError(f"agent {agent}'s penalty in queue {queue} is the dial plan's: edit it there and reload")
        if (queue, agent) not in self.dynamic:
            raise MemberError(f"agent {agent} is not a member of queue {queue}")
        self._set_penalty(queue, agent, penalty)
        self._apply_members()
        self._member_record(queue, agent, active=True)
        logger.info("acd.member_penalty", queue=queue, agent=agent, penalty=penalty)

    def _set_penalty(self, queue: str, agent: str, penalty: int) -> None:
        if penalty < 0:
            raise ValueError("a penalty is 0 or more")
        if penalty:
            self.dynamic_penalties[(queue, agent)] = penalty
        else:
            self.dynamic_penalties.pop((queue, agent), None)

    def remove_member(self, queue: str, agent: str) -> None:
        """Take a run-time member out of ``queue``; the dial plan's own members stay (edit the plan for them)."""
        self._check_member(queue, agent)
        if (queue, agent) in static_members(self.config):
            raise MemberError(f"agent {agent} is a member of queue {queue} in the dial plan: edit it there and reload")
        if (queue, agent) not in self.dynamic:
            raise MemberError(f"agent {agent} is not a member of queue {queue}")
        self.dynamic.discard((queue, agent))
        self.dynamic_penalties.pop((queue, agent), None)
        self._apply_members()
        self._member_record(queue, agent, active=False)
        logger.info("acd.member_removed", queue=queue, agent=agent)

    def restore_members(self, members: dict[tuple[str, str], int]) -> None:
        """Members read back at start, with their penalties; those the dial plan no longer allows are left out."""
        self.dynamic = {(q, a) for q, a in members if q in self.config.queues and a in self.config.agents
                        and (q, a) not in static_members(self.config)}
        self.dynamic_penalties = {member: members[member] for member in self.dynamic if members[member]}
        self._apply_members()

    def _check_member(self, queue: str, agent: str) -> None:
        if queue not in self.config.queues:
            raise KeyError(f"unknown queue {queue!r}")
        if agent not in self.config.agents:
            raise KeyError(f"unknown agent {agent!r}")

    def _apply_members(self) -> None:
        now = self.now()
        profiles = with_members(agent_profiles(self.config), self.dynamic, self.dynamic_penalties)
        self.router.reconfigure(queue_policies(self.config, self.wall_offset), profiles, now)
        self.ledger.reconfigure(profiles, now)
        self._mark_followers()
        self.pump()

    def _member_record(self, queue: str, agent: str, *, active: bool) -> None:
        self.records.sink.submit(QueueMemberRecord(queue=queue, agent=agent, version=self.versions.next(),
                                                   active=active, at=time.time(), node=self.records.node,
                                                   penalty=self.dynamic_penalties.get((queue, agent), 0)))

    def _known(self, agent_id: str) -> bool:
        return self.router.knows_agent(agent_id)

    def binding_changed(self, change: BindingChanged) -> None:
        agent_id = change.binding.aor
        if agent_id not in self.config.agents:
            return
        reachable = self.dialer.registered(agent_id) or self._follows(agent_id)
        if change.change in (BindingChange.ADDED, BindingChange.REFRESHED, BindingChange.REACHABLE) or reachable:
            self.router.agent_registered(agent_id, self.now())
        else:
            self.router.agent_unreachable(agent_id, self.now())
        self.pump()

    # --- decisions ----------------------------------------------------------------------------------------------------

    def _carry_out(self, decision: object) -> None:
        if isinstance(decision, AgentStateChanged):
            self._agent_state_changed(decision)
            return
        call_id = getattr(decision, "call_id", "")
        call = self.calls.get(call_id)
        if isinstance(decision, RingAgent):
            self._ring(decision, call)
        elif isinstance(decision, CancelRing):
            ring = self.rings.get((decision.call_id, decision.agent_id))
            if ring is not None:
                ring.cancel.set()
                if ring.session is not None:  # answered too late: the phone is off hook, hang it up
                    self._spawn(ring.session.hangup("answered too late"))
                    self.rings.pop((decision.call_id, decision.agent_id), None)
                    if ring.leg is not None:
                        ring.leg.close("answered too late")
        elif isinstance(decision, RingNoAnswer):
            if call is not None:
                call.log.event("RINGNOANSWER", queue=decision.queue, agent=decision.agent_id,
                               value=decision.rang_for, data={"reason": decision.reason})
        elif isinstance(decision, Bridge):
            if decision.call_id in self.callbacks:  # the callback task holds both legs and bridged them
                logger.info("acd.callback_connected", call_id=decision.call_id, agent=decision.agent_id)
                return
            ring = self.rings.pop((decision.call_id, decision.agent_id), None)
            if call is None or ring is None or ring.session is None or ring.leg is None:
                logger.warning("acd.bridge_without_legs", call_id=decision.call_id, agent=decision.agent_id)
                self.router.call_ended(decision.call_id, self.now(), Ender.CALLER)
                return
            call.connect_agent(decision, ring.leg, ring.session)
            self.events("call.answered", {"call_id": decision.call_id, "agent": decision.agent_id,
                                          "queue": decision.queue, "waited": round(decision.waited, 3)})
        elif isinstance(decision, Enqueued):
            if call is not None:
                call.enqueued(decision)
        elif isinstance(decision, Announce):
            if call is not None:
                call.announce(decision)
        elif isinstance(decision, OfferCallback):
            if call is not None:
                call.offer_callback(decision)
        elif isinstance(decision, CallbackQueued):
            if call is not None:
                call.callback_queued(decision)
        elif isinstance(decision, StartCallback):
            self._callback_progress(decision.call_id, status="dialing", attempts=decision.attempt)
            self._spawn(self._start_callback(decision))
        elif isinstance(decision, Overflow):
            logger.info("call.overflowed", queue=decision.queue, reason=decision.reason.value,
                        to=f"{decision.target.kind.value} {decision.target.target}", waited=round(decision.waited, 1))
            if call is not None:
                call.log.event(EXIT_QUEUE_LOG.get(decision.reason, "EXITWITHTIMEOUT"), queue=decision.queue,
                               value=decision.waited, data={"overflow": decision.target.kind.value,
                                                            "target": decision.target.target})
                call.log.update(wait_seconds=decision.waited)  # reports tell short from real abandons by it
                if decision.target.kind is not OverflowKind.QUEUE:
                    call.queue_exit(decision.reason.value)
        elif isinstance(decision, QueueExit):
            logger.info("call.left_queue", queue=decision.queue, reason=decision.reason.value,
                        waited=round(decision.waited, 1), position=decision.position)
            settled = _CALLBACK_SETTLED.get(decision.reason)
            if settled is not None:
                self._callback_progress(decision.call_id, status=settled)
            if call is not None:
                call.log.event(EXIT_QUEUE_LOG.get(decision.reason, "ABANDON"), queue=decision.queue,
                               value=decision.waited, data={"position": decision.position, "short": decision.short})
                call.log.update(wait_seconds=decision.waited)
                call.queue_exit(decision.reason.value)
        elif isinstance(decision, WrapUpEnded):
            log = self.wrapping.pop(decision.call_id, None)
            if log is not None:
                log.update(wrapup_seconds=decision.wrapup_time)
        elif isinstance(decision, CallCompleted):
            logger.info("acd.call_completed", call_id=decision.call_id, agent=decision.agent_id,
                        talk=round(decision.talk_time, 1), ended_by=decision.ended_by.value)
            log = call.log if call is not None else self.wrapping.get(decision.call_id)
            self.records.sink.submit(CallEvent(
                event_id=new_id(), call_id=decision.call_id, at=log.now() if log is not None else time.time(),
                event=decision.queue_log,
                queue=decision.queue, agent=decision.agent_id, value=decision.talk_time))

    def _agent_state_changed(self, change: AgentStateChanged) -> None:
        logger.info("acd.agent_state", agent=change.agent_id, old=change.old.value, new=change.new.value,
                    reason=change.reason)
        agent_event(self.records.sink, node=self.records.node, agent=change.agent_id, state=change.new.value,
                    reason=change.reason, call_id=change.call_id)
        self.records.sink.submit(agent_state_record(
            change, node=self.records.node, version=self.versions.next(), wall_now=time.time(),
            pause_reason=self.router.agent_pause_reason(change.agent_id)))

    # --- ringing ------------------------------------------------------------------------------------------------------

    def _ring(self, decision: RingAgent, call: QueuedCall | None) -> None:
        logger.info("call.offered", agent=decision.agent_id, queue=decision.queue, callback=decision.callback or None)
        ring = RingAttempt(decision.call_id, decision.agent_id)
        self.rings[(decision.call_id, decision.agent_id)] = ring
        caller = call.caller if call is not None else ""
        ring.task = self._spawn(self._ring_phone(ring, caller))
        snapshot = getattr(call, "snapshot", None)
        self.events("call.offered", {"call_id": decision.call_id, "agent": decision.agent_id,
                                     "callback": bool(decision.callback),
                                     **(call_fields(snapshot()) if callable(snapshot) else {"queue": decision.queue})})

    async def _ring_phone(self, ring: RingAttempt, caller: str) -> None:
        """INVITE the agent's registered phone; report alerting, answer or failure to the router."""
        key = (ring.call_id, ring.agent_id)
        try:
            agent = self.config.agents.get(ring.agent_id)
            leg, session = await ring_agent(
                self.dialer, ring.agent_id, agent.follow_me if agent is not None else None,
                caller_id=caller or "queue", cancel=ring.cancel, on_alerting=lambda: self._alerting(ring),
            )
        except RequestFailed as failure:
            self.rings.pop(key, None)
            if not ring.cancel.is_set():
                self.router.ring_rejected(ring.call_id, ring.agent_id, self.now(), f"{failure.status}")
                self.pump()
            return
        if ring.cancel.is_set() or key not in self.rings:
            await session.hangup("cancelled")
            leg.close("cancelled")
            self.rings.pop(key, None)
            return
        ring.leg, ring.session = leg, session
        self.router.ring_answered(ring.call_id, ring.agent_id, self.now())
        self.pump()

    def _alerting(self, ring: RingAttempt) -> None:
        if (ring.call_id, ring.agent_id) in self.rings:
            self.router.ring_alerting(ring.call_id, ring.agent_id, self.now())
            self.pump()

    async def _start_callback(self, decision: StartCallback) -> None:
        """Agent-first callback: the agent has answered; now dial the customer through a trunk."""
        ring = self.rings.pop((decision.call_id, decision.agent_id), None)
        call_id = decision.call_id

        def answered(result_call_id: str) -> None:  # the customer picked up: agent and customer are connected
            self.callbacks.add(call_id)
            self._callback_progress(call_id, status="completed", completed_at=time.time(),
                                    result_call_id=result_call_id)
            self.router.callback_result(call_id, True, self.now())
            self.pump()

        ender = None
        try:
            if ring is not None and ring.leg is not None and ring.session is not None:
                self.callback_phones[call_id] = ring.session
                ender = await connect_callback(self.dialer, self.records, decision, ring.leg, ring.session,
                                               answered)
        finally:
            self.callback_phones.pop(call_id, None)
            if call_id in self.callbacks:
                self.callbacks.discard(call_id)
                self.router.call_ended(call_id, self.now(), ender or Ender.CALLER)
            else:
                self._callback_progress(call_id, status="pending")  # the router retries, or gives up (QueueExit)
                self.router.callback_result(call_id, False, self.now())
            self.pump()

    # --- callback records ---------------------------------------------------------------------------------------------

    def callback_booked(self, record: CallbackRecord) -> None:
        """A caller booked a callback: its first version is written, and later ones follow its progress."""
        queue = self.config.queues.get(record.queue)
        if queue is not None:  # the target in force when it was booked: a later reload does not rewrite history
            record = replace(record, sla_seconds=queue.callback.sla)
        self.callback_records[record.callback_id] = record
        self.records.sink.submit(record)

    def book_callback(self, number: str, queue: str, due_at: float | None, customer_data: str | None,
                      source: str = "api", callback_id: str | None = None) -> CallbackRecord:
        """Book a callback from outside a call (a web form, a CRM): ``due_at`` is Unix time, None is now.

        KeyError: unknown queue; ValueError: no outbound route takes ``number``. The callback waits in
        ``queue`` like any other (its place from its due time), follows the queue's callback settings and
        survives a restart.
        """
        if queue not in self.config.queues:
            raise KeyError(f"unknown queue {queue!r}")
        try:
            self.dialer.route_for(number, None)
        except RequestFailed:
            raise ValueError(f"no outbound route takes the number {number!r}") from None
        wall_now, loop_now = time.time(), self.now()
        callback_id = callback_id or new_id()  # also the router's call id: the outbound calls' CONNECT names it
        record = CallbackRecord(callback_id=callback_id, version=1, call_id=callback_id, number=number, queue=queue,
                                requested_at=wall_now, due_at=due_at, source=source, customer_data=customer_data)
        if not self.routing:  # the router node takes it from the database at its next heartbeat
            queue_settings = self.config.queues[queue]
            self.records.sink.submit(replace(record, sla_seconds=queue_settings.callback.sla))
            logger.info("callback.booked", callback_id=record.callback_id, queue=queue, source=source,
                        router="elsewhere")
            return record
        request = CallRequest(record.callback_id, queue, caller=number)
        self.router.callback_restored(request, loop_now, 0, loop_now,
                                      None if due_at is None else loop_now + (due_at - wall_now))
        self.callback_booked(record)
        logger.info("callback.booked", callback_id=record.callback_id, queue=queue, source=source,
                    due_in=None if due_at is None else round(max(0.0, due_at - wall_now)))
        self.pump()
        return record

    def take_callback(self, record: CallbackRecord, *, wall_now: float, loop_now: float) -> bool:
        """A callback owed, read from the database (a restart, or booked on another node), joins its queue at
        the place its request time gives it; False if it was taken before or the router refuses it."""
        if record.callback_id in self.callbacks_taken or record.callback_id in self.callback_records:
            return False
        self.callbacks_taken.add(record.callback_id)
        request = CallRequest(record.callback_id, record.queue, caller=record.number)
        try:
            self.router.callback_restored(request, loop_now - (wall_now - record.requested_at), record.attempts,
                                          loop_now, None if record.due_at is None
                                          else loop_now - (wall_now - record.due_at))
        except RouterError as error:
            logger.warning("restore.callback_refused", callback_id=record.callback_id, reason=str(error))
            return False
        self.callback_records[record.callback_id] = record
        return True

    def adopt(self, agent_states: Iterable[AgentStateRecord], callbacks: Iterable[CallbackRecord]) -> None:
        """This node is the cluster's router: apply the logins, logouts and pauses other nodes took, and take
        the callbacks they booked (both read from the database at the heartbeat)."""
        now, wall_now = self.now(), time.time()
        for record in agent_states:
            if record.version <= self.agent_states_seen.get(record.agent, 0) or not self._known(record.agent):
                continue
            self.agent_states_seen[record.agent] = record.version
            try:
                self._follow_state(record, now)
            except RouterError as error:
                logger.warning("acd.agent_state_refused", agent=record.agent, node=record.node, reason=str(error))
        taken = [record.callback_id for record in callbacks
                 if record.queue in self.config.queues and self.take_callback(record, wall_now=wall_now,
                                                                              loop_now=now)]
        if taken:
            logger.info("callback.taken", callback_ids=taken, router="here")
        self.pump()

    def _follow_state(self, record: AgentStateRecord, now: float) -> None:
        """Bring the router's agent to the login and pause another node recorded (an agent on a call there,
        the last router's as it stopped, is held out of the queues until that node writes the agent free)."""
        state = self.router.agent_state(record.agent)
        offline = record.state == AgentState.OFFLINE.value
        reason = f"on node {record.node}"
        if offline:
            if state is not AgentState.OFFLINE:
                self.router.agent_logout(record.agent, now, reason)
            return
        if state is AgentState.OFFLINE:
            self.router.agent_login(record.agent, now, reason)
        wanted = record.pause_reason or (BUSY_ELSEWHERE if record.state in BUSY_STATES else None)
        paused = self.router.agent_pause_reason(record.agent)
        if wanted and paused != wanted:
            self.router.agent_pause(record.agent, now, wanted)
        elif not wanted and paused is not None:
            self.router.agent_unpause(record.agent, now, reason)

    def move_caller(self, call_id: str) -> bool:
        """The caller leaves this router to wait in another (see ``Router.caller_moved``); False: not waiting."""
        moved = self.router.caller_moved(call_id, self.now())
        if moved:
            self.calls.pop(call_id, None)
        self.pump()
        return moved

    def drop_callbacks(self) -> int:
        """This router node stops: the callbacks waiting here are left to the next router (which takes them
        from the database, where they are ``pending``); one being dialled now goes on here. How many left."""
        dropped = [callback_id for callback_id, record in self.callback_records.items()
                   if record.status == "pending" and self.router.caller_moved(callback_id, self.now())]
        for callback_id in dropped:
            del self.callback_records[callback_id]
        self.pump()
        return len(dropped)

    def cancel_callback(self, callback_id: str) -> CallbackRecord:
        """Cancel a pending callback; KeyError: none pending by that id; ValueError: an attempt is under way."""
        record = self.callback_records.get(callback_id)
        if record is None:
            raise KeyError(f"no pending callback {callback_id!r}")
        if record.status == "dialing":
            raise ValueError(f"callback {callback_id!r} is being dialled now; it cannot be cancelled")
        self.router.caller_left(callback_id, self.now())  # its QueueExit settles the record as cancelled
        self.pump()
        return self.callback_settled.get(callback_id, record)

    def _callback_progress(self, callback_id: str, **changes: object) -> None:
        """A new version of a callback's record; settled ones (no longer pending or dialing) are forgotten."""
        record = self.callback_records.get(callback_id)
        if record is None:
            return
        if record.status not in ("pending", "dialing"):  # settled already: a late event changes nothing
            return
        if changes.get("status") == "dialing" and record.first_dialled_at is None:
            first = time.time()
            changes["first_dialled_at"] = first
            self._first_dialled(record, first)
        record = replace(record, version=record.version + 1, **changes)  # type: ignore[arg-type]
        self.records.sink.submit(record)
        if record.status in ("pending", "dialing"):
            self.callback_records[callback_id] = record
        else:
            del self.callback_records[callback_id]
            self.callback_settled[callback_id] = record
            while len(self.callback_settled) > SETTLED_KEPT:
                del self.callback_settled[next(iter(self.callback_settled))]

    def _first_dialled(self, record: CallbackRecord, at: float) -> None:
        """Count a callback's first attempt against its target (the ``callback SLA`` of the reports)."""
        due = record.due_at if record.due_at is not None else record.requested_at
        within = at - due <= record.sla_seconds
        counts = self.callback_first_dials.setdefault(record.queue, [0, 0])
        counts[0 if within else 1] += 1
        logger.info("callback.first_dial", callback_id=record.callback_id, queue=record.queue,
                    late=round(max(0.0, at - due), 1), within_sla=within)

    def _spawn(self, coroutine: object) -> asyncio.Task[None]:
        return self.spawn(coroutine)  # type: ignore[arg-type]


SETTLED_KEPT = 1000
"""Settled callbacks remembered in memory (older ones are in the database only)."""

DIRECT_CALL = "on a direct call"
"""The pause reason of an agent taken out of the queues while on an internal call or a transfer."""

_CALLBACK_SETTLED = {
    ExitReason.CALLBACK_FAILED: "failed",
    ExitReason.CALLBACK_EXPIRED: "failed",
    ExitReason.CALLBACK_CANCELLED: "cancelled",
}
"""The callback record's final status when the router gives a callback request up."""
