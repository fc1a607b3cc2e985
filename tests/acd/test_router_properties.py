"""Hypothesis: random event schedules against the router, invariants checked after every step.

- every agent transition is in the table, and the reported changes chain up;
- no agent is rung for two calls at once; a ringing agent is rung by exactly one entry; an agent on a call
  is rung only on a free line (``max_calls``), and never holds more calls than that;
- an unreachable phone is never rung;
- no free agent is left idle next to a waiting caller it could take (work conservation);
- an agent of a higher penalty is rung only when nobody of a lower one is free for the call;
- order is respected across queues: no caller ahead of a rung one is left waiting for that agent;
- announced positions never go backwards; an announced estimate grows only with a reason;
- every call is accounted for, and once agents are available every caller is served or exits.
"""

from __future__ import annotations

from typing import Any, TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voxcenter.acd import (
    TRANSITIONS,
    AgentInput,
    AgentProfile,
    AgentState,
    AgentStateChanged,
    Announce,
    Bridge,
    CallCompleted,
    CallRequest,
    Decision,
    Discipline,
    Enqueued,
    Overflow,
    OverflowKind,
    OverflowTarget,
    QueueExit,
    QueuePolicy,
    RelaxationStep,
    RingAgent,
    SkillRequirement,
    StartCallback,
    Strategy,
    WaitingView,
)

from .driver import Harness

QUEUES = [
    QueuePolicy("q1", discipline=Discipline.PRIORITY, max_wait=200.0, announce_every=20.0,
                on_timeout=OverflowTarget(OverflowKind.QUEUE, "q2"), callback_offer_after=50.0, autopause_after=2,
                callback_max_wait=300.0, backup_group="helpers", backup_after=40.0, announce_first=10.0,
                strategy=Strategy.LINEAR, wrapup=5.0),
    QueuePolicy("q2", discipline=Discipline.SKILLS, weight=2.0, max_length=3, announce_every=25.0,
                on_full=OverflowTarget(OverflowKind.CALLBACK), relaxation=(RelaxationStep(30.0, min_level=1),),
                strategy=Strategy.FEWEST_CALLS, callback_max_attempts=2, callback_retry_delay=10.0,
                callback_max_wait=300.0, cost_aware=True, skills=(SkillRequirement("x", 1),)),
    QueuePolicy("q3", strategy=Strategy.RING_ALL, join_empty=True, announce_every=15.0, max_wait=100.0,
                on_timeout=OverflowTarget(OverflowKind.AGENT_GROUP, "helpers"), announce_position_limit=2,
                callback_max_wait=300.0),
]
AGENTS = [
    AgentProfile("a0", queues=frozenset({"q1", "q2"}), skills={"x": 3}, penalties={"q1": 1}, cost=5.0),
    AgentProfile("a1", queues=frozenset({"q1"}), skills={"x": 1}, wrapup=0.0, max_calls=2),
    AgentProfile("a2", queues=frozenset({"q2", "q3"}), skills={"x": 5, "y": 2}, weights={"q3": 3.0}),
    AgentProfile("a3", queues=frozenset({"q3"}), groups=frozenset({"helpers"})),
]
profiles_by_id = {a.agent_id: a for a in AGENTS}
Item = TypeVar("Item")

CANCELLING = {("unpause", "pause"), ("ready", "pause"), ("login", "logout")}
"""(operation, pending change) pairs where the operation cancels the pending change."""
TERMINAL_OVERFLOWS = (OverflowKind.HANGUP, OverflowKind.VOICEMAIL)
AGENT_OPS = ["login", "logout", "pause", "unpause", "register", "unreach", "wrapdone", "ready"]

def terminal(decision: object) -> bool:
    """Whether the decision ends the call's life in the router."""
    if isinstance(decision, Overflow):
        return decision.target.kind in TERMINAL_OVERFLOWS
    return isinstance(decision, QueueExit | CallCompleted)


join = st.tuples(st.just("join"), st.integers(0, 2), st.integers(0, 3), st.integers(0, 4))
op = st.one_of(
    join,
    join,
    st.tuples(st.just("tick"), st.sampled_from([5.0, 20.0, 30.0])),
    st.tuples(st.sampled_from(AGENT_OPS), st.integers(0, 3)),
    st.tuples(st.sampled_from(["answer", "reject", "alert", "timeout"]), st.integers(0, 7)),
    st.tuples(st.sampled_from(["leave", "end", "cbreq"]), st.integers(0, 7)),
    st.tuples(st.just("cbres"), st.integers(0, 3), st.booleans()),
    st.tuples(st.just("tick"), st.sampled_from([0.5, 3.0, 10.0, 16.0, 40.0])),
)


class Checker:
    def __init__(self, staffed: list[bool]) -> None:
        self.h = Harness(QUEUES, AGENTS, seed=1)
        self.states = {a.agent_id: AgentState.OFFLINE for a in AGENTS}
        self.pending: dict[str, str] = {}  # agent → "pause" | "logout" asked during a ring or call
        self.told_position: dict[str, int] = {}
        self.told_ewt: dict[str, float | None] = {}
        self.joined: set[str] = set()
        self.finished: set[str] = set()
        self.inflight: list[str] = []
        self.count = 0
        for agent, on in zip(AGENTS, staffed, strict=True):
            if on:
                self.h.router.agent_registered(agent.agent_id, 0.0)
                self.h.router.agent_login(agent.agent_id, 0.0)
        self.check(self.h.drain())

    # --- helpers ---------------------------------------------------------------------
    def rings(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for q in QUEUES:
            for v in self.h.router.waiting(q.name, self.h.now):
                out.extend((v.call_id, a) for a in sorted(v.ringing))
        return out

    def waiting(self) -> list[WaitingView]:
        return [v for q in QUEUES for v in self.h.router.waiting(q.name, self.h.now)]

    def pick(self, items: list[Item], k: int) -> Item | None:
        return items[k % len(items)] if items else None

    # --- one step ----------------------------------------------------------------------
    def step(self, action: tuple[Any, ...]) -> None:
        r, h = self.h.router, self.h
        kind = action[0]
        if kind == "join":
            self.count += 1
            new_id = f"c{self.count}"
            need = (SkillRequirement("x", action[3]),) if action[3] else ()
            self.joined.add(new_id)
            r.caller_joined(CallRequest(new_id, QUEUES[action[1]].name, priority=action[2], required=need,
                                        caller="555"), h.now)
        elif kind in AGENT_OPS:
            agent_id = AGENTS[action[1]].agent_id
            busy = r.agent_state(agent_id) in (AgentState.RESERVED, AgentState.RINGING, AgentState.ON_CALL)
            if kind in ("pause", "logout") and busy and self.pending.get(agent_id) != "logout":
                self.pending[agent_id] = kind
            elif (kind, self.pending.get(agent_id)) in CANCELLING:
                del self.pending[agent_id]
            if kind == "login":
                r.agent_login(agent_id, h.now)
            elif kind == "logout":
                r.agent_logout(agent_id, h.now)
            elif kind == "pause":
                if r.agent_state(agent_id) is not AgentState.OFFLINE:
                    r.agent_pause(agent_id, h.now, "break")
            elif kind == "unpause":
                r.agent_unpause(agent_id, h.now)
            elif kind == "register":
                r.agent_registered(agent_id, h.now)
            elif kind == "unreach":
                r.agent_unreachable(agent_id, h.now)
            elif kind == "wrapdone":
                r.wrapup_done(agent_id, h.now)
            else:
                r.agent_ready(agent_id, h.now)
        elif kind in ("answer", "reject", "alert", "timeout"):
            ring = self.pick(self.rings(), action[1])
            if ring is not None:
                {"answer": r.ring_answered, "reject": r.ring_rejected, "alert": r.ring_alerting,
                 "timeout": r.ring_timed_out}[kind](ring[0], ring[1], h.now)
        elif kind == "leave":
            live = [v.call_id for v in self.waiting()] + sorted(r.connected_calls())
            call_id = self.pick(live, action[1])
            if call_id is not None:
                r.caller_left(call_id, h.now)
        elif kind == "end":
            call_id = self.pick(sorted(r.connected_calls()), action[1])
            if call_id is not None:
                r.call_ended(call_id, h.now)
        elif kind == "cbreq":
            waiting = [v.call_id for v in self.waiting() if not v.callback]
            call_id = self.pick(waiting, action[1])
            if call_id is not None:
                r.callback_requested(call_id, h.now)
        elif kind == "cbres":
            call_id = self.pick(self.inflight, action[1])
            if call_id is not None:
                self.inflight.remove(call_id)
                r.callback_result(call_id, action[2], h.now)
        else:
            self.tick(action[1])
            return
        self.check(h.drain())

    def tick(self, dt: float) -> None:
        """Advance the clock, checking after every deadline the router acts on."""
        h = self.h
        end = h.now + dt
        while (timer := h.router.get_timer()) is not None and timer <= end:
            h.now = max(h.now, timer)
            h.router.handle_timer(h.now)
            self.check(h.drain())
        h.now = end

    # --- invariants ----------------------------------------------------------------------
    def check(self, decisions: list[Decision]) -> None:
        r, now = self.h.router, self.h.now
        for d in decisions:
            if isinstance(d, AgentStateChanged):
                expected = TRANSITIONS[d.old][d.via]
                if d.new is AgentState.UNAVAILABLE and expected is AgentState.READY:
                    assert not r.agent_reachable(d.agent_id), "an agent with a phone went unavailable"
                elif d.new is AgentState.PAUSED and expected is AgentState.READY:
                    assert d.via is AgentInput.PHONE_BACK, "only a returning phone brings a kept pause back"
                else:
                    assert expected is d.new
                assert self.states[d.agent_id] is d.old, f"{d.agent_id} jumped from {self.states[d.agent_id]}"
                self.states[d.agent_id] = d.new
                if d.new is AgentState.OFFLINE or (d.new, self.pending.get(d.agent_id)) == (AgentState.PAUSED, "pause"):
                    self.pending.pop(d.agent_id, None)
            elif isinstance(d, Enqueued):
                if d.announce:
                    self.told_position[d.call_id] = d.position
                    self.told_ewt[d.call_id] = d.ewt
                else:  # nothing said yet: the first announcement has no earlier one to go back on
                    self.told_position.pop(d.call_id, None)
                    self.told_ewt.pop(d.call_id, None)
            elif isinstance(d, Announce):
                if d.call_id in self.told_position:
                    assert d.position <= self.told_position[d.call_id], "a position went backwards"
                self.told_position[d.call_id] = d.position
                last = self.told_ewt.get(d.call_id)
                if d.ewt is not None and last is not None and d.ewt > last:
                    assert d.ewt_reason, "an estimate grew without a reason"
                self.told_ewt[d.call_id] = d.ewt
            elif isinstance(d, RingAgent):
                assert r.agent_reachable(d.agent_id), "an unreachable phone was rung"
            elif isinstance(d, StartCallback):
                self.inflight.append(d.call_id)
            elif terminal(d):
                self.finished.add(d.call_id)
        for agent_id, state in self.states.items():
            assert r.agent_state(agent_id) is state
        for agent_id, what in self.pending.items():
            assert self.states[agent_id] is not AgentState.READY, f"{agent_id}'s {what} was forgotten"
        waiting = self.waiting()
        rung: dict[str, str] = {}
        for v in waiting:
            for agent_id in v.ringing:
                assert agent_id not in rung, f"{agent_id} rung for {rung.get(agent_id)} and {v.call_id}"
                rung[agent_id] = v.call_id
        for agent_id, state in self.states.items():
            if state in (AgentState.RESERVED, AgentState.RINGING):
                assert agent_id in rung
            elif agent_id in rung:  # a free line of an agent on a call (call waiting)
                assert state is AgentState.ON_CALL, f"{agent_id} rung while {state.value}"
        on_calls: dict[str, int] = {}
        for agent_id in r.connected_calls().values():
            on_calls[agent_id] = on_calls.get(agent_id, 0) + 1
        for agent_id, calls in on_calls.items():
            assert calls <= profiles_by_id[agent_id].max_calls, f"{agent_id} holds {calls} calls"
            assert self.states[agent_id] is AgentState.ON_CALL
        free = [a.agent_id for a in AGENTS if r.agent_offerable(a.agent_id, now)]

        def takes(agent_id: str, view: WaitingView) -> bool:  # a callback waits for an agent on no call
            on_call = self.states[agent_id] is AgentState.ON_CALL
            return r.serves(agent_id, view.call_id) and not (view.callback and on_call)

        for v in waiting:
            if v.dispatchable:
                idle = [a for a in free if takes(a, v)]
                assert not idle, f"{idle} idle while {v.call_id} waits"
        profiles = {a.agent_id: a for a in AGENTS}
        for d in decisions:
            if isinstance(d, RingAgent) and any(w.call_id == d.call_id for w in waiting):
                [entry] = [w for w in waiting if w.call_id == d.call_id]
                better = [a for a in free if takes(a, entry) and a not in entry.tried
                          and profiles[a].penalty(d.queue) < profiles[d.agent_id].penalty(d.queue)]
                assert not better, f"{d.agent_id} rung for {d.call_id} while {better} of a lower penalty were free"
                key = r.order_key_of(d.call_id, now)
                for w in waiting:
                    if w.dispatchable and takes(d.agent_id, w) and d.agent_id not in w.tried:
                        assert r.order_key_of(w.call_id, now) > key, f"{w.call_id} skipped for {d.call_id}"
        connected = set(r.connected_calls())
        queued = {v.call_id for v in waiting}
        assert not (connected & queued) and not (self.finished & queued) and not (self.finished & connected)
        assert self.joined == connected | queued | self.finished | self.completed_or_gone()

    def completed_or_gone(self) -> set[str]:
        return {d.call_id for d in self.h.log if isinstance(d, Bridge)} - set(self.h.router.connected_calls())

    def serve_everyone(self) -> None:
        """Make every agent available and take every call until nobody waits; starving fails."""
        r, h = self.h.router, self.h
        for _ in range(400):
            if not self.waiting() and not r.connected_calls():
                return
            self.pending.clear()  # whatever was pending is overridden by making everyone ready
            for a in AGENTS:
                r.agent_registered(a.agent_id, h.now)
                r.agent_ready(a.agent_id, h.now)
                self.check(h.drain())
            for call_id, agent_id in self.rings():
                if (call_id, agent_id) in self.rings():
                    r.ring_answered(call_id, agent_id, h.now)
                    self.check(h.drain())
            for call_id in list(self.inflight):
                self.inflight.remove(call_id)
                r.callback_result(call_id, True, h.now)
                self.check(h.drain())
            for call_id in sorted(r.connected_calls()):
                r.call_ended(call_id, h.now)
                self.check(h.drain())
            self.tick(5.0)
        raise AssertionError(f"callers starved: {[v.call_id for v in self.waiting()]}")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.booleans(), min_size=len(AGENTS), max_size=len(AGENTS)), st.lists(op, max_size=60))
def test_random_schedules_keep_every_invariant_and_nobody_starves(
    staffed: list[bool], actions: list[tuple[Any, ...]]
) -> None:
    checker = Checker(staffed)
    for action in actions:
        checker.step(action)
    checker.serve_everyone()
    assert checker.joined == checker.finished  # completed, or left with a reason
