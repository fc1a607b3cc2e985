"""The router's state and its bookkeeping: entries in queue order, agents, counters, views.

``RouterState`` owns the data (queues of waiting entries kept in THE queue order, agents,
connected calls, statistics, the decision queue) and the read-only views of it; ``Router``
(in ``router.py``) adds the inputs and the routing rules. Nothing here does I/O or reads a clock.
"""

from __future__ import annotations

import bisect
import logging
import math
import random
from collections import deque
from collections.abc import Iterable

from voxcenter.acd.agents import PRESENT, STAFFED, Agent, AgentInput, AgentState
from voxcenter.acd.dispatch import requirements, serves
from voxcenter.acd.estimate import AbandonRate, SteadyMean, estimate_wait
from voxcenter.acd.events import Decision, WrapUpEnded
from voxcenter.acd.model import AgentProfile, ConfigError, OverflowKind, QueuePolicy
from voxcenter.acd.ordering import OrderKey, order_key
from voxcenter.acd.stats import HandleTime, QueueCounters, QueueStats, snapshot
from voxcenter.acd.waiting import Entry, WaitingView
from voxcenter.sip.errors import LocalProtocolError

log = logging.getLogger("voxcenter.acd.router")


class RouterError(LocalProtocolError):
    """The router was asked about an unknown queue, agent or call, or a call id was reused."""


class RouterState:
    """Data and views of the router; see the module docstring."""

    def __init__(
        self, policies: Iterable[QueuePolicy], agents: Iterable[AgentProfile], now: float, seed: int = 0
    ) -> None:
        self._policies, profiles = self._validated(policies, agents)
        self._agents: dict[str, Agent] = {}
        for order, profile in enumerate(profiles):
            agent = Agent(profile, order)
            agent.state_since = agent.idle_since = now
            self._agents[profile.agent_id] = agent
        self._retiring: set[str] = set()
        """Agents a reload removed, logged out after their call and then forgotten."""
        self._retired_policies: dict[str, QueuePolicy] = {}
        """Policies of queues a reload removed while calls from them were still connected."""
        self._orphaned_callbacks: dict[str, str] = {}
        """Callback call id → agent, for callbacks in flight when a reload removed their queue."""
        self._queues: dict[str, list[Entry]] = {name: [] for name in self._policies}
        self._entries: dict[str, Entry] = {}
        self._connected: dict[str, tuple[str, str, float]] = {}  # call → (agent, queue, since)
        self._counters = {name: QueueCounters() for name in self._policies}
        self._handle_time = {name: SteadyMean(p.default_handle_time, p.handle_time_smoothing)
                             for name, p in self._policies.items()}
        """Smoothed handle time per queue (from the prior), what wait estimates use."""
        self._patience = {name: AbandonRate() for name in self._policies}
        """Hang-up rate of waiting callers per queue, what wait estimates use."""
        self._handled: dict[str, tuple[int, float]] = {name: (0, 0.0) for name in self._policies}
        """Calls wrapped up and their total handle time (talk + real wrap-up) per queue: the measured average."""
        self._wrapping: dict[str, tuple[str, str, float]] = {}
        """Agent in wrap-up → (call, queue, talk seconds) of the call it wraps up."""
        self._last_rung: dict[str, int] = {}
        self._decisions: deque[Decision] = deque()
        self._rng = random.Random(seed)
        self._seq = 0

    @staticmethod
    def _validated(
        policies: Iterable[QueuePolicy], agents: Iterable[AgentProfile]
    ) -> tuple[dict[str, QueuePolicy], list[AgentProfile]]:
        """Policies by name and the agent profiles, once checked against each other (ConfigError if not)."""
        by_name: dict[str, QueuePolicy] = {}
        for policy in policies:
            if policy.name in by_name:
                raise ConfigError(f"queue {policy.name!r} is listed twice")
            by_name[policy.name] = policy
        profiles = list(agents)
        seen: set[str] = set()
        for profile in profiles:
            if profile.agent_id in seen:
                raise ConfigError(f"agent {profile.agent_id!r} is listed twice")
            seen.add(profile.agent_id)
            unknown = profile.queues - by_name.keys()
            if unknown:
                raise ConfigError(f"agent {profile.agent_id!r} serves unknown queues {sorted(unknown)}")
        for policy in by_name.values():
            for target in (policy.on_full, policy.on_timeout, policy.on_empty):
                if target.kind is OverflowKind.QUEUE and target.target not in by_name:
                    raise ConfigError(f"queue {policy.name!r} overflows to unknown queue {target.target!r}")
        return by_name, profiles

    def next_decision(self) -> Decision | None:
        """The next decision to execute, or None."""
        return self._decisions.popleft() if self._decisions else None

    def get_timer(self) -> float | None:
        """The earliest deadline the router wants ``handle_timer`` called at, or None."""
        best = math.inf
        for entry in self._entries.values():
            for _, deadline in entry.ringing.values():
                best = min(best, deadline)
            for at in (entry.timeout_at, entry.announce_at, entry.offer_at, entry.not_before, entry.relax_at,
                       entry.language_until, entry.backup_at):
                if at is not None and at < best:
                    best = at
        for agent in self._agents.values():
            if agent.wrapup_until is not None and agent.wrapup_until < best:
                best = agent.wrapup_until
            if agent.retry_until is not None and agent.retry_until < best:
                best = agent.retry_until
        return None if best == math.inf else best

    def stats(self, now: float) -> dict[str, QueueStats]:
        """Live statistics per queue."""
        result: dict[str, QueueStats] = {}
        for name, entries in self._queues.items():
            live = [e for e in entries if not e.callback]
            by_state = {state: 0 for state in AgentState}
            for agent in self._agents.values():
                if name in agent.profile.queues:
                    by_state[agent.state] += 1
            longest = max((now - e.joined_at for e in live), default=0.0)
            calls, total = self._handled[name]
            prior = self._policies[name].default_handle_time
            measured = HandleTime(total / calls, calls) if calls else HandleTime(prior, 0)
            result[name] = snapshot(
                name, self._counters[name], longest, len(live), len(entries) - len(live),
                measured, self._handle_time[name].value, by_state,
            )
        return result

    def waiting(self, queue: str, now: float) -> list[WaitingView]:
        """The entries of ``queue`` in queue order."""
        policy = self._policy(queue)
        return [
            WaitingView(
                e.call_id, e.queue, i + 1, e.priority, e.virtual_start, e.joined_at, e.callback,
                frozenset(e.ringing), frozenset(e.tried), requirements(e, policy), e.backup_groups,
                e.dispatchable(now), self._estimate(e, now),
            )
            for i, e in enumerate(self._queues[queue])
        ]

    def knows_agent(self, agent_id: str) -> bool:
        """Whether the router has this agent (a reload may have removed it)."""
        return agent_id in self._agents

    def members_of(self, queue: str) -> list[str]:
        """The agents who serve ``queue`` (the dial plan's members and those added at run time)."""
        return [agent.agent_id for agent in self._members(queue)]

    def penalty_of(self, agent_id: str, queue: str) -> int:
        """The agent's penalty in ``queue`` (0: none)."""
        return self._agent(agent_id).profile.penalty(queue)

    def agent_state(self, agent_id: str) -> AgentState:
        """The agent's current state."""
        return self._agent(agent_id).state

    def agent_pause_reason(self, agent_id: str) -> str | None:
        """Why the agent is paused, or will be once its ring, call or wrap-up ends; None otherwise."""
        agent = self._agents.get(agent_id)
        if agent is None:
            return None
        if agent.state is AgentState.PAUSED or (agent.state is AgentState.UNAVAILABLE and agent.pause_reason):
            return agent.pause_reason
        return agent.pending_pause

    def agent_wrapup_until(self, agent_id: str) -> float | None:
        """When the agent's wrap-up ends by itself (None: not in a timed wrap-up)."""
        agent = self._agents.get(agent_id)
        if agent is None or agent.state is not AgentState.WRAP_UP:
            return None
        return agent.wrapup_until

    def agent_reachable(self, agent_id: str) -> bool:
        """Whether the agent's phone may be rung."""
        return self._agent(agent_id).reachable

    def agent_offerable(self, agent_id: str, now: float) -> bool:
        """Whether the agent could be offered a call now: ready, reachable, past its retry delay."""
        return self._agent(agent_id).offerable(now)

    def connected_calls(self) -> dict[str, str]:
        """Connected call → agent."""
        return {call_id: agent_id for call_id, (agent_id, _, _) in self._connected.items()}

    def order_key_of(self, call_id: str, now: float) -> OrderKey:
        """THE order key of a waiting entry at ``now`` (exposed for checks)."""
        entry = self._entry(call_id)
        policy = self._policies[entry.queue]
        return order_key(entry, policy.discipline, policy.weight, now)

    def serves(self, agent_id: str, call_id: str) -> bool:
        """Whether the agent is a member (or backup) of the entry's queue with the skills it needs now (the
        language hold of ``_held_for_speakers`` aside)."""
        entry = self._entry(call_id)
        return serves(self._agent(agent_id), entry, self._policies[entry.queue])

    def _policy(self, queue: str) -> QueuePolicy:
        try:
            return self._policies[queue]
        except KeyError:
            raise RouterError(f"unknown queue {queue!r}") from None

    def _agent(self, agent_id: str) -> Agent:
        try:
            return self._agents[agent_id]
        except KeyError:
            raise RouterError(f"unknown agent {agent_id!r}") from None

    def _entry(self, call_id: str) -> Entry:
        try:
            return self._entries[call_id]
        except KeyError:
            raise RouterError(f"call {call_id!r} is not waiting in any queue") from None

    def _held_for_speakers(self, now: float) -> set[str]:
        """Waiting calls only agents who speak the caller's language may be offered now: within their queue's
        language relaxation, and while an agent who speaks it and serves the call is logged in (else nobody
        could be offered it first, and any agent may take it at once)."""
        held: set[str] = set()
        for entry in self._entries.values():
            if entry.language_until is None or entry.language_until <= now or not entry.dispatchable(now):
                continue
            policy, language = self._policies[entry.queue], entry.request.language
            if any(a.state in PRESENT and a.profile.speaks(language) and serves(a, entry, policy)
                   for a in self._agents.values()):
                held.add(entry.call_id)
        return held

    def _members(self, queue: str) -> list[Agent]:
        return [a for a in self._agents.values() if queue in a.profile.queues]

    def _insert(self, entry: Entry, now: float) -> None:
        policy = self._policies[entry.queue]
        entries = self._queues[entry.queue]
        keys = [order_key(e, policy.discipline, policy.weight, now) for e in entries]
        index = bisect.bisect(keys, order_key(entry, policy.discipline, policy.weight, now))
        entries.insert(index, entry)
        self._entries[entry.call_id] = entry

    def _remove(self, entry: Entry) -> None:
        self._queues[entry.queue].remove(entry)
        del self._entries[entry.call_id]

    def _position(self, entry: Entry) -> int:
        return self._queues[entry.queue].index(entry) + 1

    def _change(self, agent: Agent, via: AgentInput, now: float, reason: str) -> None:
        """The one place agent states change: every change is logged and reported."""
        since = agent.state_since
        change = agent.apply(via, now, reason)
        self._decisions.append(change)
        if change.old is AgentState.WRAP_UP:
            self._wrapped_up(agent.agent_id, now - since)
        if change.new is AgentState.OFFLINE and agent.agent_id in self._retiring:
            self._retiring.discard(agent.agent_id)
            del self._agents[agent.agent_id]  # removed by a reload, now logged out: forgotten
        if log.isEnabledFor(logging.DEBUG):
            log.debug("agent %s: %s -> %s (%s) at %.3f", change.agent_id, change.old.value, change.new.value,
                      reason, now)

    def _wrapped_up(self, agent_id: str, wrapup_time: float) -> None:
        """The wrap-up of the agent's last call is over: its real handle time is known."""
        wrapping = self._wrapping.pop(agent_id, None)
        if wrapping is None:  # (a callback not answered: no call was handled)
            return
        call_id, queue, talk = wrapping
        ended = WrapUpEnded(call_id, agent_id, queue, talk, wrapup_time)
        self._decisions.append(ended)
        if queue in self._handled:
            calls, total = self._handled[queue]
            self._handled[queue] = (calls + 1, total + ended.handle_time)

    def _staffed(self, queue: str) -> int:
        return sum(1 for a in self._members(queue) if a.state in STAFFED and a.reachable)

    def _observe_wait(self, entry: Entry, now: float, abandoned: bool) -> None:
        """A live caller left its queue (answered, hung up, or moved on): the hang-up rate learns from it."""
        patience = self._patience.get(entry.queue)
        if patience is not None and not entry.callback:
            patience.add(now - entry.joined_at, abandoned)

    def _estimate(self, entry: Entry, now: float) -> float | None:
        """THE wait estimate of a waiting entry (``estimate.py``): the agents that can take it, the callers of
        every queue they would take first (each for the share of its agents that are among them), the
        queue's handle time and hang-up rate."""
        policy = self._policies[entry.queue]
        pool = {a.agent_id for a in self._agents.values()
                if a.state in STAFFED and a.reachable and serves(a, entry, policy)}
        free = sum(1 for agent_id in pool if self._agents[agent_id].ringable)
        key = order_key(entry, policy.discipline, policy.weight, now)
        staffed_by_queue: dict[str, set[str]] = {}
        calls_ahead = callbacks_ahead = 0.0
        for other in self._entries.values():
            if other is entry or other.ringing or other.callback_agent is not None:
                continue  # (an entry being rung or dialled holds its agent already)
            other_policy = self._policies[other.queue]
            if order_key(other, other_policy.discipline, other_policy.weight, now) >= key:
                continue
            share = self._share(other, other_policy, pool, staffed_by_queue)
            if other.callback:
                callbacks_ahead += share
            else:
                calls_ahead += share
        return estimate_wait(
            calls_ahead, callbacks_ahead, free, len(pool), self._handle_time[entry.queue].value,
            self._patience[entry.queue].rate, patient=entry.callback,
        )

    def _share(self, entry: Entry, policy: QueuePolicy, pool: set[str],
               staffed_by_queue: dict[str, set[str]]) -> float:
        """The share of ``entry``'s staffed agents that are in ``pool`` (0 when none can take it)."""
        if entry.request.required or entry.backup_groups:
            eligible = {a.agent_id for a in self._agents.values()
                        if a.state in STAFFED and a.reachable and serves(a, entry, policy)}
        else:
            if entry.queue not in staffed_by_queue:
                staffed_by_queue[entry.queue] = {
                    a.agent_id for a in self._members(entry.queue) if a.state in STAFFED and a.reachable}
            eligible = staffed_by_queue[entry.queue]
        if not eligible:
            return 0.0
        return len(eligible & pool) / len(eligible)
