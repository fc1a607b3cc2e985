"""JSON shapes of queues, waiting callers, agents and calls, shared by the REST API and the wallboard.

Times on the loop clock never leave the process: they are turned into ages (seconds ago) at
``now``, so a client needs no clock of ours. Ratios are 0..1, durations seconds.
"""

from __future__ import annotations

from voxcenter.acd import AgentState, QueueStats, WaitingView, estimate_wait
from voxcenter.acd.agents import STAFFED
from voxcenter.api.control import AgentSnapshot, CallSnapshot, ControlPlane

JsonObject = dict[str, object]


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


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
        "handle_time": _seconds(stats.handle_time),
        "agents": {state.value: stats.agents.get(state, 0) for state in AgentState},
        "exits": {reason.value: count for reason, count in stats.exits.items()},
    }


def waiting_views(
    entries: list[WaitingView], stats: QueueStats, members: list[AgentSnapshot], now: float
) -> list[JsonObject]:
    """The waiting callers of one queue in queue order, with position, wait and estimated wait.

    The estimate is the router's own model (``voxcenter.acd.estimate_wait``) fed with the same
    inputs: callers and callbacks ahead, the queue's abandonment and handle time, and its
    reachable free and staffed member agents.
    """
    free = sum(1 for a in members if a.state is AgentState.READY and a.reachable)
    staffed = sum(1 for a in members if a.state in STAFFED and a.reachable)
    calls_ahead = callbacks_ahead = 0
    result: list[JsonObject] = []
    for entry in entries:
        ewt = estimate_wait(calls_ahead, callbacks_ahead, stats.abandon_ratio, free, staffed, stats.handle_time)
        result.append({
            "call_id": entry.call_id,
            "position": entry.position,
            "priority": entry.priority,
            "wait": _seconds(now - entry.joined_at),
            "total_wait": _seconds(now - entry.virtual_start),
            "ewt": _seconds(ewt),
            "callback": entry.callback,
            "ringing": sorted(entry.ringing),
        })
        if entry.callback:
            callbacks_ahead += 1
        else:
            calls_ahead += 1
    return result


def queue_detail(control: ControlPlane, name: str) -> JsonObject | None:
    """One queue's figures and its waiting callers; None for an unknown queue."""
    now = control.now()
    stats = control.router.stats(now).get(name)
    if stats is None:
        return None
    members = [a for a in control.agents() if name in a.queues]
    view = queue_view(stats)
    view["waiting"] = waiting_views(control.router.waiting(name, now), stats, members, now)
    return view


def agent_view(agent: AgentSnapshot, now: float) -> JsonObject:
    """One agent: state, time in state, counters."""
    return {
        "id": agent.agent_id,
        "state": agent.state.value,
        "in_state": _seconds(max(0.0, now - agent.since)),
        "reason": agent.reason,
        "queues": list(agent.queues),
        "reachable": agent.reachable,
        "calls_handled": agent.calls_handled,
        "call_id": agent.call_id,
    }


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
    }


def wallboard_snapshot(control: ControlPlane) -> JsonObject:
    """Everything the wallboard shows, at the control plane's ``now``."""
    now = control.now()
    stats = control.router.stats(now)
    calls = control.calls()
    return {
        "type": "snapshot",
        "queues": [queue_view(s) for s in stats.values()],
        "agents": [agent_view(a, now) for a in control.agents()],
        "calls_in_progress": len(calls),
    }
