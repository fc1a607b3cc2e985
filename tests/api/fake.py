"""A fake ControlPlane around a real ACD Router, driven by a fake clock (no SIP, no media)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncEngine

from voxcenter.acd import AgentProfile, CallRequest, Ender, QueuePolicy, Router
from voxcenter.api import AgentLedger, AgentSnapshot, CallSnapshot, apply_agent_command
from voxcenter.api.control import ServerFigures
from voxcenter.config import ConfigError, ConfigIssue

POLICIES = [
    QueuePolicy("sales", service_level=20.0, announce_every=None, wrapup=10.0),
    QueuePolicy("support", service_level=30.0, announce_every=None, join_empty=True),
]
AGENTS = [
    AgentProfile("1001", queues=frozenset({"sales"})),
    AgentProfile("1002", queues=frozenset({"sales", "support"})),
    AgentProfile("1003", queues=frozenset({"support"})),
    AgentProfile("1004", queues=frozenset({"support"})),
]


class FakeControlPlane:
    """The running server as the API sees it, with scripted callers and a clock moved by hand."""

    def __init__(self, policies: list[QueuePolicy] | None = None, agents: list[AgentProfile] | None = None,
                 names: dict[str, str] | None = None, timezone: str = "Europe/Paris") -> None:
        self.clock = 1000.0
        self.names = names or {}
        self.hung_up: list[str] = []
        self.engine: AsyncEngine | None = None
        self.server_figures = ServerFigures()
        self.zone = timezone
        self.profiles = AGENTS if agents is None else agents
        self._router = Router(POLICIES if policies is None else policies, self.profiles, now=self.clock)
        self.ledger = AgentLedger(self.profiles, self.clock)
        self.live: dict[str, CallSnapshot] = {}
        self.reload_warnings: list[ConfigIssue] = []
        self.reload_error: ConfigError | None = None
        self.reload_gate: asyncio.Event | None = None
        self.reloads = 0
        self.listeners: list[asyncio.Queue[dict[str, object]]] = []
        self.commands: list[tuple[str, str, str | None]] = []
        self.recorded: dict[str, bool] = {}
        self.sealing_key: bytes | None = None
        """Live calls being recorded: call id -> paused."""
        self.recording_actions: list[tuple[str, str, str, str | None]] = []

    # --- the protocol ---------------------------------------------------------------------------------

    @property
    def router(self) -> Router:
        return self._router

    def now(self) -> float:
        return self.clock

    @property
    def timezone(self) -> str:
        return self.zone

    def agent_command(self, agent_id: str, command: str, reason: str | None = None) -> None:
        if agent_id not in {a.agent_id for a in self.profiles}:
            raise KeyError(agent_id)
        apply_agent_command(self._router, agent_id, command, self.clock, reason)
        self.commands.append((agent_id, command, reason))
        self.pump()

    async def reload(self) -> list[ConfigIssue]:
        self.reloads += 1
        if self.reload_gate is not None:
            await self.reload_gate.wait()
        if self.reload_error is not None:
            raise self.reload_error
        return self.reload_warnings

    def calls(self) -> list[CallSnapshot]:
        return list(self.live.values())

    def hang_up(self, call_id: str) -> bool:
        if call_id not in self.live:
            return False
        self.hung_up.append(call_id)
        return True

    def recording_key(self) -> bytes | None:
        return self.sealing_key

    def recording_control(self, call_id: str, action: str, by: str, who: str | None) -> bool:
        if call_id not in self.live:
            raise KeyError(call_id)
        if call_id not in self.recorded:
            raise LookupError("the call is not being recorded")
        paused = action == "pause"
        changed = self.recorded[call_id] != paused
        self.recorded[call_id] = paused
        self.recording_actions.append((call_id, action, by, who))
        return changed

    @property
    def database(self) -> AsyncEngine | None:
        return self.engine

    def figures(self) -> ServerFigures:
        return self.server_figures

    def reload_changes(self) -> dict[str, object]:
        return {"agents": {"added": ["1005"]}} if self.reloads else {}

    def agents(self) -> list[AgentSnapshot]:
        snapshots = self.ledger.snapshots(self._router)
        return [replace(agent, name=self.names.get(agent.agent_id, "")) for agent in snapshots]

    async def subscribe(self) -> AsyncIterator[dict[str, object]]:
        queue: asyncio.Queue[dict[str, object]] = asyncio.Queue(maxsize=1)
        self.listeners.append(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self.listeners.remove(queue)

    # --- scripting ------------------------------------------------------------------------------------

    def pump(self) -> None:
        while (decision := self._router.next_decision()) is not None:
            self.ledger.observe(decision)
        for queue in self.listeners:
            if queue.empty():
                queue.put_nowait({"type": "changed"})

    def advance(self, seconds: float) -> None:
        target = self.clock + seconds
        while (timer := self._router.get_timer()) is not None and timer <= target:
            self.clock = max(self.clock, timer)
            self._router.handle_timer(self.clock)
            self.pump()
        self.clock = target

    def register(self, *agent_ids: str) -> None:
        for agent_id in agent_ids:
            self._router.agent_registered(agent_id, self.clock)
        self.pump()

    def unregister(self, *agent_ids: str) -> None:
        for agent_id in agent_ids:
            self._router.agent_unreachable(agent_id, self.clock)
        self.pump()

    def staff(self, *agent_ids: str) -> None:
        for agent_id in agent_ids:
            self._router.agent_registered(agent_id, self.clock)
            self._router.agent_login(agent_id, self.clock)
        self.pump()

    def join(self, call_id: str, queue: str, caller: str = "+15550100") -> None:
        self.live[call_id] = CallSnapshot(call_id, caller, "+15551000", "queued", queue, None, self.clock, "en")
        self._router.caller_joined(CallRequest(call_id, queue, caller=caller), self.clock)
        self.pump()

    def answer(self, call_id: str, agent_id: str) -> None:
        self._router.ring_answered(call_id, agent_id, self.clock)
        old = self.live[call_id]
        self.live[call_id] = CallSnapshot(old.call_id, old.caller, old.called, "connected", old.queue, agent_id,
                                          old.started, old.language)
        self.pump()

    def hang_up_caller(self, call_id: str) -> None:
        self._router.caller_left(call_id, self.clock)
        self._router.call_ended(call_id, self.clock, Ender.CALLER)
        self.live.pop(call_id, None)
        self.pump()

    def ringing_agent(self, call_id: str) -> str:
        for view in self._router.waiting(self.live[call_id].queue or "", self.clock):
            if view.call_id == call_id and view.ringing:
                return sorted(view.ringing)[0]
        raise AssertionError(f"{call_id} is not ringing anyone")
