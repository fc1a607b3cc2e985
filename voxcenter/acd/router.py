"""The ACD router: pure, driven by verbs with ``now``, outputs pulled.

Inputs are calls such as ``caller_joined(request, now)``, ``ring_answered(call_id, agent_id, now)``
and ``handle_timer(now)``; outputs are pulled with ``next_decision()`` and the earliest deadline
with ``get_timer()`` (ring timeouts, retry delays, wrap-up ends, announcements, maximum waits,
callback offers and relaxation steps). No I/O, no clock: the asyncio shell keeps one timer armed
at ``get_timer()`` and executes the decisions.

Who is offered to whom is decided by ``dispatch.assign`` (THE queue order across queues, then
skills and the queue's selection strategy); what callers hear by ``announce.py``; wait
estimates by ``estimate.py``; the agent state machine is the table in ``agents.py``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from voxcenter.acd.agents import PRESENT, Agent, AgentInput, AgentState
from voxcenter.acd.announce import AnnouncementMemory
from voxcenter.acd.dispatch import assign, serves
from voxcenter.acd.estimate import AbandonRate, SteadyMean
from voxcenter.acd.events import (
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
)
from voxcenter.acd.model import (
    HANGUP,
    AgentProfile,
    CallRequest,
    OverflowKind,
    OverflowTarget,
    QueuePolicy,
    Strategy,
)
from voxcenter.acd.ordering import order_key
from voxcenter.acd.state import RouterError, RouterState
from voxcenter.acd.stats import QueueCounters
from voxcenter.acd.waiting import Entry

__all__ = ["MAX_OVERFLOW_HOPS", "Router", "RouterError"]

MAX_OVERFLOW_HOPS = 5
"""Queue-to-queue overflows one caller may take before the router stops a loop."""


CLOSED_RECHECK = 3600.0
"""Seconds before a callback of a queue whose calling window never opens is looked at again."""


class Router(RouterState):
    """Queues, agents and their decisions; see the module docstring."""

    def caller_joined(self, request: CallRequest, now: float, virtual_start: float | None = None) -> None:
        """A caller enters ``request.queue`` (``virtual_start`` keeps an earlier place, e.g. a transfer)."""
        self._policy(request.queue)
        if request.call_id in self._entries or request.call_id in self._connected:
            raise RouterError(f"call id {request.call_id!r} is already in the router")
        self._seq += 1
        entry = Entry(request, self._seq, now if virtual_start is None else virtual_start)
        self._enqueue(entry, request.queue, now)
        self._dispatch(now)

    def caller_left(self, call_id: str, now: float) -> None:
        """The caller hung up (or the callback request was withdrawn); a connected call ends."""
        if call_id in self._connected:
            self.call_ended(call_id, now, Ender.CALLER)
            return
        entry = self._entries.get(call_id)
        if entry is None:
            return  # already gone: the exit was decided before the hangup arrived
        policy = self._policies[entry.queue]
        self._cancel_rings(entry, now, "caller left")
        if entry.callback_agent is not None:
            return  # the attempt in flight ends through callback_result
        reason = ExitReason.CALLBACK_CANCELLED if entry.callback else ExitReason.ABANDONED
        short = not entry.callback and now - entry.joined_at < policy.short_abandon
        self._exit(entry, reason, now, short)
        self._dispatch(now)

    def caller_moved(self, call_id: str, now: float) -> bool:
        """The caller goes on waiting in another router (a cluster's router node handing its queues over as it
        stops): its rings are withdrawn and its entry removed, with no exit counted. False: it is not waiting
        here (connected, being called back now, or gone)."""
        entry = self._entries.get(call_id)
        if entry is None or entry.callback_agent is not None:
            return False
        self._cancel_rings(entry, now, "caller moved to another router")
        self._remove(entry)
        return True

    def callback_requested(self, call_id: str, now: float, number: str | None = None) -> None:
        """The caller asked to be called back: the request keeps the caller's place."""
        entry = self._entry(call_id)
        if entry.callback:
            return
        self._to_callback(entry, now, number or entry.number)
        self._dispatch(now)

    def callback_restored(self, request: CallRequest, requested_at: float, attempts: int, now: float,
                          due_at: float | None = None) -> None:
        """A callback request kept across a restart (or booked from outside, with ``attempts`` 0) joins its
        queue, at the place its request time (or its due time, when later) gives it.

        No join or leave rules apply (the caller was accepted before the restart); the expiry counts from
        ``requested_at`` or ``due_at`` (the later), ``attempts`` already made count towards the maximum, and
        no attempt starts before ``due_at``.
        """
        policy = self._policy(request.queue)
        if request.call_id in self._entries or request.call_id in self._connected:
            raise RouterError(f"call id {request.call_id!r} is already in the router")
        start = requested_at if due_at is None else max(requested_at, due_at)
        self._seq += 1
        entry = Entry(request, self._seq, start)
        entry.callback = True
        entry.callback_attempts = attempts
        entry.timeout_at = None if policy.callback_max_wait is None else start + policy.callback_max_wait
        if due_at is not None and due_at > now:
            entry.not_before = due_at
        self._arm_backup(entry, policy, now)
        self._insert(entry, now)
        self._counters[request.queue].offered += 1
        self._dispatch(now)

    def callback_result(self, call_id: str, answered: bool, now: float) -> None:
        """The customer leg of an agent-first callback was answered, or failed."""
        orphaned = self._orphaned_callbacks.pop(call_id, None)
        if orphaned is not None:  # its queue was removed by a reload while the customer was dialed
            agent = self._agents[orphaned]
            self._change(agent, AgentInput.HANGUP, now, "callback of a removed queue")
            self._end_wrapup(agent, now, "no wrap-up after a callback of a removed queue")
            self._dispatch(now)
            return
        entry = self._entry(call_id)
        agent_id = entry.callback_agent
        if agent_id is None:
            raise RouterError(f"no callback attempt is in flight for {call_id!r}")
        entry.callback_agent = None
        policy = self._policies[entry.queue]
        if answered:
            self._remove(entry)
            self._connect(entry, agent_id, now)
        else:
            agent = self._agents[agent_id]
            if agent.extra_calls:  # the agent took a call on another line meanwhile: still on that one
                if agent.call_id == call_id:
                    agent.call_id = agent.extra_calls.pop(0)
                elif call_id in agent.extra_calls:
                    agent.extra_calls.remove(call_id)
            else:
                if agent.line_ring is not None:  # a second line rings: the agent is free of calls now
                    self._withdraw_line_ring(agent, now, "the agent's callback was not answered")
                self._change(agent, AgentInput.HANGUP, now, "callback not answered")
                self._end_wrapup(agent, now, "no wrap-up after an unanswered callback")
            if entry.callback_attempts >= policy.callback_max_attempts:
                self._exit(entry, ExitReason.CALLBACK_FAILED, now, short=False)
            else:
                entry.not_before = now + policy.callback_retry_delay
        self._dispatch(now)

    def ring_alerting(self, call_id: str, agent_id: str, now: float) -> None:
        """The agent's phone is ringing (180); RESERVED becomes RINGING."""
        agent = self._agent(agent_id)
        if agent.state is AgentState.RESERVED and agent.call_id == call_id:
            self._change(agent, AgentInput.ALERT, now, "phone alerting")

    def ring_answered(self, call_id: str, agent_id: str, now: float) -> None:
        """The agent picked up; a late answer (ring already cancelled) gets a CancelRing back."""
        agent = self._agent(agent_id)
        entry = self._entries.get(call_id)
        if entry is None or agent_id not in entry.ringing:
            self._decisions.append(CancelRing(call_id, agent_id, "answered too late"))
            return
        del entry.ringing[agent_id]
        self._cancel_rings(entry, now, "answered by another agent")
        agent.consecutive_no_answers = 0
        if agent.line_ring == call_id:  # a second line: the agent stays ON_CALL (callbacks never come this way)
            agent.line_ring = None
            self._remove(entry)
            self._connect(entry, agent_id, now)
            self._dispatch(now)
            return
        self._change(agent, AgentInput.ANSWER, now, "answered")
        if entry.callback:
            entry.callback_agent = agent_id
            entry.callback_attempts += 1
            self._decisions.append(
                StartCallback(call_id, agent_id, entry.queue, entry.number, entry.callback_attempts,
                              self._policies[entry.queue].callback_ring_time)
            )
        else:
            self._remove(entry)
            self._connect(entry, agent_id, now)
        self._dispatch(now)

    def ring_rejected(self, call_id: str, agent_id: str, now: float, reason: str = "rejected") -> None:
        """The agent's phone declined (busy, 486/603, 408 from the phone itself)."""
        self._agent(agent_id)
        entry = self._entries.get(call_id)
        if entry is not None and agent_id in entry.ringing:
            self._no_answer(entry, agent_id, now, reason)
            self._dispatch(now)

    def ring_timed_out(self, call_id: str, agent_id: str, now: float) -> None:
        """The shell saw the ring time out on its side."""
        self.ring_rejected(call_id, agent_id, now, "timeout")

    def call_ended(self, call_id: str, now: float, ended_by: Ender = Ender.CALLER) -> None:
        """A connected call ended; the agent goes to wrap-up."""
        if call_id not in self._connected:
            return
        agent_id, queue, since = self._connected.pop(call_id)
        agent = self._agents[agent_id]
        policy = self._policies.get(queue) or self._retired_policies[queue]
        talk = now - since
        agent.talk_time += talk
        if agent.extra_calls:  # the agent holds another call: no wrap-up yet, that follows the last call
            if call_id == agent.call_id:
                agent.call_id = agent.extra_calls.pop(0)
            else:
                agent.extra_calls.remove(call_id)
            if queue in self._handle_time:
                self._handle_time[queue].add(talk)
            self._decisions.append(CallCompleted(call_id, agent_id, queue, talk, ended_by))
            self._wrapping[agent_id] = (call_id, queue, talk)
            self._wrapped_up(agent_id, 0.0)
            self._dispatch(now)
            return
        if agent.line_ring is not None:  # its last call is over: wrap-up comes before another call
            self._withdraw_line_ring(agent, now, "the agent's call ended: wrap-up first")
        wrapup = agent.profile.wrapup if agent.profile.wrapup is not None else policy.wrapup
        if queue in self._handle_time:  # not for a queue a reload removed during the call
            self._handle_time[queue].add(talk + wrapup)
        self._decisions.append(CallCompleted(call_id, agent_id, queue, talk, ended_by))
        self._wrapping[agent_id] = (call_id, queue, talk)
        self._change(agent, AgentInput.HANGUP, now, f"call ended by {ended_by.value}")
        if wrapup > 0:
            agent.wrapup_until = now + wrapup
        else:
            self._end_wrapup(agent, now, "no wrap-up configured")
        self._dispatch(now)

    def wrapup_done(self, agent_id: str, now: float) -> None:
        """The agent ends wrap-up early (feature code or API)."""
        agent = self._agent(agent_id)
        if agent.state is AgentState.WRAP_UP:
            self._end_wrapup(agent, now, "wrap-up ended by the agent")
            self._dispatch(now)

    def agent_login(self, agent_id: str, now: float, reason: str = "login") -> None:
        """The agent logs in (feature code, e.g. ``*45``, or API); a repeated login changes nothing."""
        agent = self._agent(agent_id)
        if agent_id in self._retiring:
            raise RouterError(f"agent {agent_id!r} was removed from the dial plan and cannot log in")
        agent.pending_logout = None
        if agent.state is AgentState.OFFLINE:
            agent.consecutive_no_answers = 0
            self._change(agent, AgentInput.LOGIN, now, reason)
            self._dispatch(now)

    def agent_logout(self, agent_id: str, now: float, reason: str = "logout") -> None:
        """The agent logs out; during a call the logout waits for the call's end."""
        agent = self._agent(agent_id)
        if agent.state is AgentState.OFFLINE:
            return
        if agent.state is AgentState.ON_CALL:
            agent.pending_logout = reason
            if agent.line_ring is not None:
                self._withdraw_line_ring(agent, now, "agent logging out")
                self._dispatch(now)
            return
        if agent.state in (AgentState.RESERVED, AgentState.RINGING):
            self._withdraw_ring(agent, now, "agent logged out")
        self._change(agent, AgentInput.LOGOUT, now, reason)
        self._leave_empty_queues(now)
        self._dispatch(now)

    def agent_pause(self, agent_id: str, now: float, reason: str) -> None:
        """The agent pauses (with a reason); during a ring or call the pause waits for its end."""
        agent = self._agent(agent_id)
        if agent.state is AgentState.OFFLINE:
            raise RouterError(f"agent {agent_id!r} is not logged in and cannot pause")
        if agent.state in (AgentState.RESERVED, AgentState.RINGING, AgentState.ON_CALL):
            agent.pending_pause = reason
            if agent.line_ring is not None:
                self._withdraw_line_ring(agent, now, "agent pausing")
                self._dispatch(now)
            return
        self._change(agent, AgentInput.PAUSE, now, reason)

    def agent_unpause(self, agent_id: str, now: float, reason: str = "unpause") -> None:
        """The agent is ready again; a pending pause is cancelled."""
        agent = self._agent(agent_id)
        pending, agent.pending_pause = agent.pending_pause, None
        if agent.state is AgentState.PAUSED or (agent.state is AgentState.UNAVAILABLE and agent.pause_reason):
            agent.consecutive_no_answers = 0
            self._change(agent, AgentInput.UNPAUSE, now, reason)
            self._dispatch(now)
        elif pending is not None:  # an agent on a call with a free line may be offered calls again
            agent.consecutive_no_answers = 0
            self._dispatch(now)

    def agent_ready(self, agent_id: str, now: float) -> None:
        """Make the agent available: log in if offline, unpause if paused, end wrap-up."""
        agent = self._agent(agent_id)
        if agent.state is AgentState.OFFLINE:
            self.agent_login(agent_id, now)
        elif agent.state is AgentState.PAUSED:
            self.agent_unpause(agent_id, now)
        elif agent.state is AgentState.WRAP_UP:
            self.wrapup_done(agent_id, now)

    def agent_feature_code(self, agent_id: str, code: str, now: float) -> bool:
        """A feature code dialed from the agent's softphone; False when the code is not an agent code.

        ``*45`` logs in, ``*46`` logs out, ``*47`` pauses (or unpauses when paused), ``*48`` ends wrap-up
        (False outside wrap-up: not allowed now).
        """
        agent = self._agent(agent_id)
        if code == "*45":
            self.agent_login(agent_id, now, "feature code *45")
        elif code == "*46":
            self.agent_logout(agent_id, now, "feature code *46")
        elif code == "*47" and (agent.state is AgentState.PAUSED or agent.pause_reason):
            self.agent_unpause(agent_id, now, "feature code *47")
        elif code == "*47" and agent.state is not AgentState.OFFLINE:
            self.agent_pause(agent_id, now, "feature code *47")
        elif code == "*48" and agent.state is AgentState.WRAP_UP:
            self.wrapup_done(agent_id, now)
        else:
            return False
        return True

    def agent_registered(self, agent_id: str, now: float) -> None:
        """The agent's phone registered (or answered an OPTIONS ping): it may be rung; an UNAVAILABLE agent
        is back in its logged-in state (ready, or paused with the reason it had)."""
        agent = self._agent(agent_id)
        agent.reachable = True
        if agent.state is AgentState.UNAVAILABLE:
            self._change(agent, AgentInput.PHONE_BACK, now, "phone registered")
        self._dispatch(now)

    def agent_unreachable(self, agent_id: str, now: float) -> None:
        """The agent's phone unregistered or stopped answering: never ring it; a ring in progress fails; a
        logged-in agent not on a call becomes UNAVAILABLE (a call in progress goes on)."""
        agent = self._agent(agent_id)
        agent.reachable = False
        if agent.state in (AgentState.RESERVED, AgentState.RINGING) or agent.line_ring is not None:
            entry = self._entries[agent.line_ring or agent.call_id or ""]
            self._decisions.append(CancelRing(entry.call_id, agent_id, "phone unreachable"))
            self._no_answer(entry, agent_id, now, "unreachable")
        elif agent.state in (AgentState.READY, AgentState.PAUSED):
            self._change(agent, AgentInput.PHONE_LOST, now, "phone not registered")
        self._leave_empty_queues(now)
        self._dispatch(now)

    def handle_timer(self, now: float) -> None:
        """Act on every deadline at or before ``now``."""
        for agent in list(self._agents.values()):
            if agent.wrapup_until is not None and agent.wrapup_until <= now:
                self._end_wrapup(agent, now, "wrap-up time over")
            if agent.retry_until is not None and agent.retry_until <= now:
                agent.retry_until = None
        for entry in list(self._entries.values()):
            if entry.call_id not in self._entries:
                continue
            for agent_id, (_, deadline) in list(entry.ringing.items()):
                if deadline <= now and agent_id in entry.ringing:
                    self._decisions.append(CancelRing(entry.call_id, agent_id, "ring timeout"))
                    self._no_answer(entry, agent_id, now, "timeout")
            if self._entries.get(entry.call_id) is not entry:
                continue  # an auto-pause or logout just emptied the queue and moved the caller on
            policy = self._policies[entry.queue]
            if entry.not_before is not None and entry.not_before <= now:
                entry.not_before = None
            if entry.relax_at is not None and entry.relax_at <= now:
                entry.relax_index += 1
                self._arm_relaxation(entry, policy)
            if entry.language_until is not None and entry.language_until <= now:
                entry.language_until = None  # any agent may take the call now
            if entry.backup_at is not None and entry.backup_at <= now:
                entry.backup_at = None
                if policy.backup_group is not None:
                    entry.backup_groups = entry.backup_groups | {policy.backup_group}
            if entry.offer_at is not None and entry.offer_at <= now:
                entry.offer_at = None
                self._decisions.append(OfferCallback(entry.call_id, entry.queue, self._estimate(entry, now)))
            if entry.announce_at is not None and entry.announce_at <= now:
                entry.announce_at = None if policy.announce_every is None else now + policy.announce_every
                self._announce(entry, now)
            if entry.timeout_at is not None and entry.timeout_at <= now:
                entry.timeout_at = None
                if not entry.callback:
                    self._overflow(entry, policy.on_timeout, ExitReason.TIMEOUT, now)
                elif entry.callback_agent is None:
                    self._exit(entry, ExitReason.CALLBACK_EXPIRED, now, short=False)
        self._dispatch(now)

    def reconfigure(self, policies: Iterable[QueuePolicy], agents: Iterable[AgentProfile], now: float) -> None:
        """Apply a reloaded dial plan's queues and agents without losing anyone.

        All or nothing: an inconsistent set raises ``ConfigError`` and changes nothing. Then:

        - queues kept: waiting callers keep their entry (same virtual start, so the same place under
          the same discipline), rings in progress keep their deadline, counters and the measured
          handle time are kept; under a changed policy the maximum wait, callback offer and
          relaxation steps count from the caller's join time, the next announcement from now, and
          a callback request keeps its expiry;
        - queues removed: their waiting callers leave as if the last agent had logged out
          (``QueueExit`` with ``ExitReason.EMPTY``: the IVR goes on at the queue node's empty exit);
          calls already connected from them end normally;
        - agents kept: state, statistics and phone reachability are kept, the new profile
          (queues, skills, wrap-up) applies to the next offer;
        - agents added start OFFLINE (and unreachable until their phone registers);
        - agents removed are logged out at once when idle, after their call (and wrap-up) otherwise,
          are never offered another call, and are forgotten once OFFLINE;
        - a kept queue that no logged-in agent serves any more applies its ``leave_when_empty`` policy.
        """
        new_policies, profiles = self._validated(policies, agents)
        removed_queues = [name for name in self._policies if name not in new_policies]
        for name in removed_queues:
            for entry in list(self._queues[name]):
                self._cancel_rings(entry, now, "queue removed from the dial plan")
                if entry.callback_agent is not None:
                    self._orphaned_callbacks[entry.call_id] = entry.callback_agent
                self._exit(entry, ExitReason.EMPTY, now, short=False)
            self._retired_policies[name] = self._policies[name]
        still_connected = {queue for _, queue, _ in self._connected.values()}
        self._retired_policies = {n: p for n, p in self._retired_policies.items() if n in still_connected}
        old_policies = self._policies
        self._policies = new_policies
        for name, policy in new_policies.items():
            self._retired_policies.pop(name, None)
            if name not in self._queues:
                self._queues[name] = []
                self._counters[name] = QueueCounters()
                self._handle_time[name] = SteadyMean(policy.default_handle_time, policy.handle_time_smoothing)
                self._patience[name] = AbandonRate()
                self._handled[name] = (0, 0.0)
            elif old_policies[name] != policy:
                self._rearm(name, old_policies[name], policy, now)
        for name in removed_queues:
            del self._queues[name], self._counters[name], self._handled[name], self._patience[name]
            self._last_rung.pop(name, None)
        self._update_agents(profiles, now)
        self._leave_empty_queues(now)  # a kept queue nobody logged in serves any more follows its policy
        self._dispatch(now)

    def _rearm(self, queue: str, old: QueuePolicy, policy: QueuePolicy, now: float) -> None:
        """Re-sort one kept queue under its new policy and re-arm its entries' policy timers."""
        entries = self._queues[queue]
        entries.sort(key=lambda e: order_key(e, policy.discipline, policy.weight, now))
        for entry in entries:
            if not entry.callback and not entry.backup_groups:  # (a callback's expiry stays as it was)
                entry.timeout_at = None if policy.max_wait is None else entry.joined_at + policy.max_wait
            if not entry.callback and policy.announce_every != old.announce_every:
                entry.announce_at = None if policy.announce_every is None else now + policy.announce_every
            if not entry.callback and policy.callback_offer_after != old.callback_offer_after and (
                    entry.offer_at is not None or old.callback_offer_after is None):
                after = policy.callback_offer_after
                entry.offer_at = None if after is None else max(now, entry.joined_at + after)
            if policy.relaxation != old.relaxation or policy.skills != old.skills:
                entry.relax_index = sum(1 for step in policy.relaxation if entry.joined_at + step.after <= now)
                self._arm_relaxation(entry, policy)
            if policy.language_relaxation != old.language_relaxation:
                self._arm_language(entry, policy, now)
            if (policy.backup_group, policy.backup_after) != (old.backup_group, old.backup_after):
                if old.backup_group is not None and old.backup_group != policy.backup_group:
                    entry.backup_groups = entry.backup_groups - {old.backup_group}
                self._arm_backup(entry, policy, now)

    def _update_agents(self, profiles: list[AgentProfile], now: float) -> None:
        wanted = {profile.agent_id for profile in profiles}
        for order, profile in enumerate(profiles):
            agent = self._agents.get(profile.agent_id)
            if agent is None:
                agent = Agent(profile, order)
                agent.state_since = agent.idle_since = now
                self._agents[profile.agent_id] = agent
            else:
                agent.profile, agent.order = profile, order
            self._retiring.discard(profile.agent_id)
        for agent_id, agent in list(self._agents.items()):
            if agent_id in wanted:
                continue
            # Serving nothing, the agent is never offered another call; its call in progress goes on.
            agent.profile = AgentProfile(agent_id, wrapup=agent.profile.wrapup)
            agent.order = len(self._agents)
            if agent.state is AgentState.OFFLINE:
                del self._agents[agent_id]
            else:
                self._retiring.add(agent_id)
                self.agent_logout(agent_id, now, "removed from the dial plan")

    def _enqueue(self, entry: Entry, queue: str, now: float) -> None:
        policy = self._policies[queue]
        entry.queue = queue
        entry.joined_at = now
        entry.tried.clear()
        entry.relax_index = 0
        logged_in = [a for a in self._members(queue) if a.state in PRESENT]
        if not logged_in and not policy.join_empty and not entry.backup_groups:
            self._overflow(entry, policy.on_empty, ExitReason.JOIN_EMPTY, now, queued=False)
            return
        live = sum(1 for e in self._queues[queue] if not e.callback)
        if not entry.callback and policy.max_length is not None and live >= policy.max_length:
            self._overflow(entry, policy.on_full, ExitReason.QUEUE_FULL, now, queued=False)
            return
        self._insert(entry, now)
        self._counters[queue].offered += 1
        told = policy.announce_first <= 0
        if not entry.callback:
            entry.timeout_at = None if policy.max_wait is None else now + policy.max_wait
            if told:
                entry.announce_at = None if policy.announce_every is None else now + policy.announce_every
            else:
                entry.announce_at = now + policy.announce_first
            entry.offer_at = None if policy.callback_offer_after is None else now + policy.callback_offer_after
        self._arm_relaxation(entry, policy)
        self._arm_language(entry, policy, now)
        self._arm_backup(entry, policy, now)
        ewt = self._estimate(entry, now)
        if entry.first_ewt is None:
            entry.first_ewt = ewt
        position = self._position(entry)
        entry.told = AnnouncementMemory(position, ewt, self._staffed(queue), policy.announce_position_limit, now,
                                        told)
        self._decisions.append(Enqueued(entry.call_id, queue, position, ewt, now, announce=told))

    def _exit(self, entry: Entry, reason: ExitReason, now: float, short: bool) -> None:
        position = self._position(entry)
        self._observe_wait(entry, now, abandoned=reason is ExitReason.ABANDONED)
        self._remove(entry)
        self._counters[entry.queue].record_exit(reason, short)
        self._decisions.append(
            QueueExit(entry.call_id, entry.queue, reason, position, now - entry.virtual_start, entry.first_ewt, short)
        )

    def _overflow(
        self, entry: Entry, target: OverflowTarget, reason: ExitReason, now: float, queued: bool = True
    ) -> None:
        """Send ``entry`` to ``target`` (queued: it currently sits in its queue)."""
        if target.kind is OverflowKind.CALLBACK and not entry.number:
            target = HANGUP  # nobody to call back
        self._cancel_rings(entry, now, "caller overflowed")
        if queued and target.kind is not OverflowKind.AGENT_GROUP and target.kind is not OverflowKind.CALLBACK:
            self._observe_wait(entry, now, abandoned=False)
            self._remove(entry)
        self._counters[entry.queue].record_exit(reason, short=False)
        self._decisions.append(Overflow(entry.call_id, entry.queue, target, reason, now - entry.joined_at))
        if target.kind is OverflowKind.QUEUE:
            entry.hops += 1
            if entry.hops > MAX_OVERFLOW_HOPS:
                self._decisions.append(
                    QueueExit(entry.call_id, entry.queue, ExitReason.OVERFLOW_LOOP, 0,
                              now - entry.virtual_start, entry.first_ewt, False)
                )
                return
            entry.timeout_at = entry.announce_at = entry.offer_at = None
            self._enqueue(entry, target.target, now)
        elif target.kind is OverflowKind.AGENT_GROUP:
            entry.backup_groups = entry.backup_groups | {target.target}
            if not queued:
                self._insert(entry, now)
                self._counters[entry.queue].offered += 1
                self._decisions.append(Enqueued(entry.call_id, entry.queue, self._position(entry), None, now))
        elif target.kind is OverflowKind.CALLBACK:
            if not queued:
                self._insert(entry, now)
                self._counters[entry.queue].offered += 1
            self._to_callback(entry, now, entry.number)

    def _to_callback(self, entry: Entry, now: float, number: str) -> None:
        self._cancel_rings(entry, now, "caller chose a callback")
        policy = self._policies[entry.queue]
        entry.callback = True
        entry.number = number
        entry.announce_at = entry.offer_at = None
        entry.timeout_at = None if policy.callback_max_wait is None else now + policy.callback_max_wait
        self._decisions.append(CallbackQueued(entry.call_id, entry.queue, number))

    def _leave_empty_queues(self, now: float) -> None:
        for name, policy in self._policies.items():
            if not policy.leave_when_empty or not self._queues[name]:
                continue
            if any(a.state in PRESENT for a in self._members(name)):
                continue
            for entry in list(self._queues[name]):
                if not entry.callback and not entry.backup_groups:
                    self._overflow(entry, policy.on_empty, ExitReason.EMPTY, now)

    def _end_wrapup(self, agent: Agent, now: float, reason: str) -> None:
        if agent.pending_logout is None and agent.pending_pause is None:
            self._change(agent, AgentInput.WRAPUP_DONE, now, reason)
        else:
            self._settle(agent, now)

    def _settle(self, agent: Agent, now: float) -> None:
        """Apply a pause or logout that waited for the ring, the call or its wrap-up to end."""
        if agent.pending_logout is not None:
            self._change(agent, AgentInput.LOGOUT, now, agent.pending_logout)
            agent.pending_logout = agent.pending_pause = None
            self._leave_empty_queues(now)
        elif agent.pending_pause is not None:
            self._change(agent, AgentInput.PAUSE, now, agent.pending_pause)
            agent.pending_pause = None

    def _cancel_rings(self, entry: Entry, now: float, reason: str) -> None:
        for agent_id in list(entry.ringing):
            del entry.ringing[agent_id]
            self._decisions.append(CancelRing(entry.call_id, agent_id, reason))
            agent = self._agents[agent_id]
            if agent.line_ring == entry.call_id:
                agent.line_ring = None  # the agent's own call goes on
                continue
            self._change(agent, AgentInput.CANCEL, now, reason)
            self._settle(agent, now)

    def _withdraw_line_ring(self, agent: Agent, now: float, reason: str) -> None:
        """Stop ringing the agent's free line (the caller is offered to others)."""
        entry = self._entries[agent.line_ring or ""]
        del entry.ringing[agent.agent_id]
        agent.line_ring = None
        self._decisions.append(CancelRing(entry.call_id, agent.agent_id, reason))

    def _withdraw_ring(self, agent: Agent, now: float, reason: str) -> None:
        entry = self._entries[agent.call_id or ""]
        del entry.ringing[agent.agent_id]
        self._decisions.append(CancelRing(entry.call_id, agent.agent_id, reason))
        self._change(agent, AgentInput.CANCEL, now, reason)

    def _no_answer(self, entry: Entry, agent_id: str, now: float, reason: str) -> None:
        started, _ = entry.ringing.pop(agent_id)
        agent = self._agents[agent_id]
        policy = self._policies[entry.queue]
        self._decisions.append(RingNoAnswer(entry.call_id, agent_id, entry.queue, now - started, reason))
        agent.consecutive_no_answers += 1
        line = agent.line_ring == entry.call_id
        if line:
            agent.line_ring = None  # (ON_CALL goes on)
        else:
            self._change(agent, AgentInput.NO_ANSWER, now, f"ring {reason}")
        # The retry delay is the agent's, not the caller's: the caller stays first in line and is offered
        # to the next free agent at once, while the agent who did not answer is left alone for a while.
        if policy.retry_delay > 0:
            agent.retry_until = now + policy.retry_delay
        if (
            policy.autopause_after is not None
            and agent.consecutive_no_answers >= policy.autopause_after
            and agent.pending_logout is None
        ):
            agent.pending_pause = f"auto-pause after {agent.consecutive_no_answers} unanswered calls"
        if not line:
            self._settle(agent, now)

    def _connect(self, entry: Entry, agent_id: str, now: float) -> None:
        agent = self._agents[agent_id]
        policy = self._policies[entry.queue]
        agent.calls_taken += 1
        if agent.state is AgentState.ON_CALL and agent.call_id is not None and agent.call_id != entry.call_id:
            agent.extra_calls.append(entry.call_id)  # a second line
        else:
            agent.call_id = entry.call_id
        self._observe_wait(entry, now, abandoned=False)
        self._connected[entry.call_id] = (agent_id, entry.queue, now)
        self._counters[entry.queue].record_answer(now - entry.joined_at, policy.service_level)
        self._decisions.append(
            Bridge(entry.call_id, agent_id, entry.queue, now - entry.virtual_start, entry.first_ewt, now)
        )

    def _arm_relaxation(self, entry: Entry, policy: QueuePolicy) -> None:
        steps = policy.relaxation
        entry.relax_at = None
        if (entry.request.required or policy.skills) and entry.relax_index < len(steps):
            entry.relax_at = entry.joined_at + steps[entry.relax_index].after

    def _arm_language(self, entry: Entry, policy: QueuePolicy, now: float) -> None:
        """Hold the entry for agents who speak its caller's language for the queue's language relaxation,
        counted from its join (already over: any agent)."""
        wait = policy.language_relaxation
        if not entry.request.language or wait == 0:
            entry.language_until = None
        elif wait is None:
            entry.language_until = math.inf
        else:
            entry.language_until = entry.joined_at + wait if entry.joined_at + wait > now else None
    def _arm_backup(self, entry: Entry, policy: QueuePolicy, now: float) -> None:
        """Open the queue's backup group to ``entry`` once it has waited ``backup_after`` in the queue (at
        once when it has waited that long already: no backup wait, a restored callback, a reload)."""
        entry.backup_at = None
        if policy.backup_group is None or policy.backup_group in entry.backup_groups:
            return
        at = entry.joined_at + policy.backup_after
        if at <= now:
            entry.backup_groups = entry.backup_groups | {policy.backup_group}
        else:
            entry.backup_at = at

    def _share_ring_all(self, now: float) -> None:
        """Ring-all callers ringing more agents than their share give the excess back when callers behind them in
        the same queue ring nobody.

        The share is the queue's free and ringing agents ÷ its ringing and waiting callers (at least 1). Rings are
        taken back, one at a time from the caller ringing the most (the later in queue order on a tie), the ring
        last added first and only of an agent a waiting caller can take, until the waiting callers' shares are
        free; dispatch then splits the free agents among them (``dispatch.assign``).
        """
        for name, policy in self._policies.items():
            if policy.strategy is not Strategy.RING_ALL:
                continue
            entries = self._queues[name]
            waiting = [e for e in entries if e.dispatchable(now)]
            if not waiting:
                continue
            ringing = [e for e in entries if e.ringing and e.callback_agent is None]
            if not any(len(e.ringing) > 1 for e in ringing):
                continue
            free = sum(1 for a in self._members(name) if a.offerable(now))
            share = max(1, (free + sum(len(e.ringing) for e in ringing)) // (len(ringing) + len(waiting)))
            need = share * len(waiting) - free
            movable = {
                e.call_id: [agent_id for agent_id in e.ringing
                            if self._agents[agent_id].line_ring != e.call_id  # (a second line stays)
                            and any(serves(self._agents[agent_id], w, self._policies[w.queue]) for w in waiting)]
                for e in ringing
            }
            while need > 0:
                donors = [e for e in reversed(ringing) if len(e.ringing) > share and movable[e.call_id]]
                if not donors:
                    break
                entry = max(donors, key=lambda e: len(e.ringing))
                agent_id = movable[entry.call_id].pop()
                agent = self._agents[agent_id]
                del entry.ringing[agent_id]
                entry.tried.discard(agent_id)
                reason = "ring shared with the callers behind"
                self._decisions.append(CancelRing(entry.call_id, agent_id, reason))
                self._change(agent, AgentInput.CANCEL, now, reason)
                self._settle(agent, now)
                need -= 1

    def _dispatch(self, now: float) -> None:
        self._share_ring_all(now)
        free = {a.agent_id: a for a in self._agents.values() if a.offerable(now)}
        if not free or not self._entries:
            return
        self._hold_outside_hours(now)
        pairs = assign(list(self._entries.values()), free, self._policies, self._rng, self._last_rung, now,
                       self._held_for_speakers(now))
        for entry, agents in pairs:
            policy = self._policies[entry.queue]
            for agent in agents:
                if agent.state is AgentState.ON_CALL:
                    agent.line_ring = entry.call_id  # call waiting: a free line of an agent on a call
                else:
                    agent.call_id = entry.call_id  # before the change, so that it names the call offered
                    self._change(agent, AgentInput.RESERVE, now, f"offered call {entry.call_id}")
                deadline = now + policy.ring_timeout
                entry.ringing[agent.agent_id] = (now, deadline)
                entry.tried.add(agent.agent_id)
                self._last_rung[entry.queue] = agent.order
                self._decisions.append(RingAgent(entry.call_id, agent.agent_id, entry.queue, deadline, entry.callback))

    def _hold_outside_hours(self, now: float) -> None:
        """Callbacks of a queue whose calling window is closed wait for it to open (never dialled outside)."""
        for entry in self._entries.values():
            if not entry.callback or not entry.dispatchable(now):
                continue
            hours = self._policies[entry.queue].callback_hours
            if hours is None:
                continue
            opens = hours.next_open(now)
            if opens is None:  # never opens: look again later (a reload may give hours), until the expiry
                entry.not_before = now + CLOSED_RECHECK
            elif opens > now:
                entry.not_before = opens

    def _announce(self, entry: Entry, now: float) -> None:
        """Periodic announcement, by the rules of ``announce.py``."""
        if entry.callback or entry.ringing or entry.told is None:
            return
        limit = self._policies[entry.queue].announce_position_limit
        said = entry.told.next(self._position(entry), self._estimate(entry, now), self._staffed(entry.queue), limit,
                               now)
        if said is not None:
            self._decisions.append(
                Announce(entry.call_id, entry.queue, said.position, said.more_than, said.ewt, said.ewt_reason, now)
            )
