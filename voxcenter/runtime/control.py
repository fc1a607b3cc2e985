"""The running server as the admin API sees it (:class:`voxcenter.api.control.ControlPlane`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import TYPE_CHECKING

from voxcenter.acd.router import Router
from voxcenter.api.control import AgentSnapshot, CallSnapshot
from voxcenter.config import ConfigIssue

if TYPE_CHECKING:
    from voxcenter.runtime.server import Server


class ServerControl:
    """Adapts :class:`~voxcenter.runtime.server.Server` to the API's control plane."""

    def __init__(self, server: Server) -> None:
        self.server = server

    @property
    def router(self) -> Router:
        return self.server.acd.router

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def agent_command(self, agent_id: str, command: str, reason: str | None = None) -> None:
        self.server.acd.agent_command(agent_id, command, reason)

    @property
    def timezone(self) -> str:
        return self.server.config.timezone

    def agents(self) -> list[AgentSnapshot]:
        configured = self.server.config.agents
        return [replace(agent, name=configured[agent.agent_id].name if agent.agent_id in configured else "")
                for agent in self.server.acd.ledger.snapshots(self.server.acd.router)]

    def calls(self) -> list[CallSnapshot]:
        return [call.snapshot() for call in list(self.server.calls.values())]

    async def reload(self) -> list[ConfigIssue]:
        return await self.server.reload()

    async def subscribe(self) -> AsyncIterator[dict[str, object]]:
        queue: asyncio.Queue[dict[str, object]] = asyncio.Queue(maxsize=1)
        listeners = self.server.acd.listeners
        listeners.append(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            listeners.remove(queue)
