"""Supervisor monitoring, the pure rules: the three modes, who hears whom, who may monitor which call.

**Listen**: the supervisor hears every party and nobody hears the supervisor. **Whisper**: the
supervisor hears every party and only the monitored agent hears the supervisor. **Barge**: the
supervisor joins the conversation (everybody hears everybody else). :func:`hearing_matrix` turns the
call's parties and its monitors into the mixer's who-hears-whom matrix (row ``i``: whom party ``i``
hears). During a session the supervisor switches mode with a key (:data:`MODE_KEYS`).

Who may monitor is the dial plan's: ``queues.<name>.supervisors`` names agent groups (``groups``)
whose members may monitor that queue's calls (an inbound queue call, or a callback of that queue). An
agent's own call in no queue (to another agent, or to an outside number) may be monitored by the
supervisors of any queue the monitored agent serves (:func:`may_monitor_agent`). Anyone else is refused
(403).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from voxcenter.config import Config


class MonitorMode(StrEnum):
    LISTEN = "listen"
    """Hear both, heard by none."""
    WHISPER = "whisper"
    """Hear both, heard by the agent only."""
    BARGE = "barge"
    """Hear both, heard by both."""


MODE_KEYS: dict[str, MonitorMode] = {"1": MonitorMode.LISTEN, "2": MonitorMode.WHISPER, "3": MonitorMode.BARGE}
"""The key a supervisor presses during a session to switch to each mode."""


@dataclass(frozen=True, slots=True)
class Monitor:
    """One supervisor on a call, as the matrix needs it."""

    target: int | None
    """Index of the monitored agent among the conversation's parties (None: that agent has left)."""
    mode: MonitorMode


def hearing_matrix(parties: int, monitors: Sequence[Monitor]) -> npt.NDArray[np.int32]:
    """Who hears whom among ``parties`` conversation parties followed by ``monitors`` (in that order).

    The conversation's parties hear each other (mix-minus) and each monitor whose mode reaches them;
    every monitor hears the whole conversation and the other monitors that speak into it.
    """
    size = parties + len(monitors)
    matrix = np.zeros((size, size), dtype=np.int32)
    matrix[:parties, :parties] = 1
    matrix[parties:, :parties] = 1  # a supervisor hears every party, whatever the mode
    for offset, monitor in enumerate(monitors):
        column = parties + offset
        if monitor.mode is MonitorMode.BARGE:
            matrix[:, column] = 1
        elif monitor.mode is MonitorMode.WHISPER and monitor.target is not None:
            matrix[monitor.target, column] = 1
            matrix[parties:, column] = 1  # the other supervisors hear the whisper too
    np.fill_diagonal(matrix, 0)
    return matrix


def parse_monitor_code(prefixes: dict[MonitorMode, str | None], dialed: str) -> tuple[MonitorMode, str] | None:
    """``*511001`` → (listen, ``1001``) for the dial plan's codes; None when ``dialed`` is none of them."""
    for mode, prefix in prefixes.items():
        if prefix and dialed.startswith(prefix) and len(dialed) > len(prefix):
            return mode, dialed[len(prefix):]
    return None


def may_monitor(config: Config, supervisor: str, queue: str | None) -> bool:
    """``supervisor`` is in one of the groups ``queue`` lets monitor its calls."""
    settings = config.queues.get(queue or "")
    if settings is None:
        return False
    return any(supervisor in config.groups.get(group, ()) for group in settings.supervisors)


def may_monitor_agent(config: Config, supervisor: str, queue: str | None, agent: str,
                      members: Sequence[tuple[str, str]] = ()) -> bool:
    """``supervisor`` may monitor ``agent``'s call in ``queue``: the queue's rule (:func:`may_monitor`), or for a
    call in no queue, ``agent`` serves a queue ``supervisor`` may monitor (``members``: run-time members too)."""
    if queue is not None:
        return may_monitor(config, supervisor, queue)
    return agent in monitorable_agents(config, supervisor, members)


def monitorable_queues(config: Config, supervisor: str) -> list[str]:
    """The queues whose calls ``supervisor`` may monitor, by name."""
    return sorted(name for name in config.queues if may_monitor(config, supervisor, name))


def monitorable_agents(config: Config, supervisor: str, members: Sequence[tuple[str, str]] = ()) -> list[str]:
    """The agents serving a queue ``supervisor`` may monitor (``members``: run-time (queue, agent) pairs too)."""
    queues = set(monitorable_queues(config, supervisor))
    agents = {agent_id for agent_id, agent in config.agents.items()
              if any(membership.queue in queues for membership in agent.queues)}
    agents |= {agent_id for queue, agent_id in members if queue in queues}
    agents.discard(supervisor)
    return sorted(agents)
