"""JSON shapes of queues, waiting callers, agents and calls, shared by the REST API and the wallboard.

Times on the loop clock never leave the process: they are turned into ages (seconds ago) at
``now``, so a client needs no clock of ours. Ratios are 0..1, durations seconds.
"""

from __future__ import annotations

from voxcenter.acd import AgentState, QueueStats, WaitingView
from voxcenter.acd.events import ExitReason
from voxcenter.api.control import AgentSnapshot, CallSnapshot, ControlPlane

JsonObject = dict[str, object]


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


LOST_TO_OVERFLOW = frozenset({ExitReason.TIMEOUT, ExitReason.QUEUE_FULL, ExitReason.OVERFLOW_LOOP})
"""Exits that sent the caller elsewhere because the queue kept them too long or was full."""
LOST_TO_EMPTY = frozenset({ExitReason.JOIN_EMPTY, ExitReason.EMPTY})
"""Exits because no agent could take calls in the queue (on joining, or while waiting)."""


def queue_view(stats: QueueStats) -> JsonObject:
    """One queue's live figures."""
    return {
        "name": stats.queue,
        "calls_waiting": stats.calls_waiting,
        "callbacks_waiting": stats.callbacks_waiting,
        "longest_wait": _seconds(stats.longest_wait),
        "offered": stats.offered,
        "answered": stats.answered,
        "abandoned": stats.abandoned,
        "short_abandoned": stats.short_abandoned,
        "service_level": stats.service_level,
        "asa": _seconds(stats.asa),
        "abandon_ratio": stats.abandon_ratio,
        "handle_time": _seconds(stats.handle_time.seconds),
        "handle_time_is_prior": stats.handle_time.is_prior,
        "handle_time_calls": stats.handle_time.calls,
        "agents": {state.value: stats.agents.get(state, 0) for state in AgentState},
        "exits": {reason.value: count for reason, count in stats.exits.items()},
        "lost_to_overflow": sum(count for reason, count in stats.exits.items() if reason in LOST_TO_OVERFLOW),
        "lost_to_empty": sum(count for reason, count in stats.exits.items() if reason in LOST_TO_EMPTY),
    }


def waiting_views(
    entries: list[WaitingView], stats: QueueStats, members: list[AgentSnapshot], now: float
) -> list[JsonObject]:
    """The waiting callers of one queue in queue order, with position, wait and estimated wait.

    The estimate is the router's own (``voxcenter.acd.estimate``), the one callers are told.
    """
    return [
        {
            "call_id": entry.call_id,
            "position": entry.position,
            "priority": entry.priority,
            "wait": _seconds(now - entry.joined_at),
            "total_wait": _seconds(now - entry.virtual_start),
            "ewt": _seconds(entry.ewt),
            "callback": entry.callback,
            "ringing": sorted(entry.ringing),
        }
        for entry in entries
    ]


def queue_detail(control: ControlPlane, name: str) -> JsonObject | None:
    """One queue's figures and its waiting callers; None for an unknown queue."""
    now = control.now()
    stats = control.router.stats(now).get(name)
    if stats is None:
        return None
    members = [a for a in control.agents() if name in a.queues]
    view = queue_view(stats)
    view["waiting"] = waiting_views(control.router.waiting(name, now), stats, members, now)
    view["members"] = [{"agent": a.agent_id, "name": a.name, "state": a.state.value,
                        "dynamic": name in a.dynamic_queues, "penalty": dict(a.penalties).get(name, 0)}
                       for a in members]
    return view


def agent_view(agent: AgentSnapshot, now: float, call: CallSnapshot | None = None) -> JsonObject:
    """One agent: state, time in state, counters; with ``call`` (the agent's live call), its queue, caller,
    recording state and the supervisors monitoring the agent on it."""
    return {
        "id": agent.agent_id,
        "name": agent.name,
        "state": agent.state.value,
        "in_state": _seconds(max(0.0, now - agent.since)),
        "reason": agent.reason,
        "queues": list(agent.queues),
        "dynamic_queues": list(agent.dynamic_queues),
        "reachable": agent.reachable,
        "calls_handled": agent.calls_handled,
        "call_id": agent.call_id,
        "calls": list(agent.calls),
        "call_queue": call.queue if call is not None else None,
        "caller": call.caller if call is not None else None,
        "recording": call.recording if call is not None else None,
        "monitored_by": [{"supervisor": supervisor, "mode": mode} for supervisor, monitored, mode
                         in (call.monitors if call is not None else ()) if monitored == agent.agent_id],
    }


def agent_views(control: ControlPlane, now: float) -> list[JsonObject]:
    """Every agent, each on a call with that call's queue and caller."""
    calls = {call.call_id: call for call in control.calls()}
    by_agent = {call.agent: call for call in calls.values() if call.agent is not None}
    views = []
    for agent in control.agents():
        call = calls.get(agent.call_id or "") or by_agent.get(agent.agent_id)
        views.append(agent_view(agent, now, call))
    return views


def call_view(call: CallSnapshot, now: float) -> JsonObject:
    """One live call."""
    return {
        "call_id": call.call_id,
        "caller": call.caller,
        "called": call.called,
        "state": call.state,
        "queue": call.queue,
        "agent": call.agent,
        "duration": _seconds(max(0.0, now - call.started)),
        "language": call.language,
        "recording": call.recording,
        "monitored_by": [{"supervisor": supervisor, "agent": agent, "mode": mode}
                         for supervisor, agent, mode in call.monitors],
    }


def waiting_callers(control: ControlPlane, now: float) -> list[JsonObject]:
    """The callers waiting in every queue (queue order within each queue), with queue and calling number."""
    stats = control.router.stats(now)
    callers = {call.call_id: call.caller for call in control.calls()}
    agents = control.agents()
    waiting: list[JsonObject] = []
    for name, queue_stats in stats.items():
        members = [a for a in agents if name in a.queues]
        for entry in waiting_views(control.router.waiting(name, now), queue_stats, members, now):
            waiting.append({"queue": name, "caller": callers.get(str(entry["call_id"])), **entry})
    return waiting


def wallboard_snapshot(control: ControlPlane) -> JsonObject:
    """Everything the wallboard shows, at the control plane's ``now``."""
    now = control.now()
    stats = control.router.stats(now)
    calls = control.calls()
    first_dials = {queue: (within, after) for queue, within, after in control.figures().callback_first_dials}
    queues = []
    for s in stats.values():
        view = queue_view(s)
        within, after = first_dials.get(s.queue, (0, 0))
        # Callbacks first dialled since start, within the queue's callback.sla or after it (the live side of
        # the report's callback SLA, which also counts those never dialled once past their target).
        view["callbacks_dialled_within_sla"], view["callbacks_dialled_late"] = within, after
        queues.append(view)
    return {
        "type": "snapshot",
        "timezone": control.timezone,
        "queues": queues,
        "agents": agent_views(control, now),
        "waiting": waiting_callers(control, now),
        "calls_in_progress": len(calls),
    }
