"""The running server as the admin API sees it (:class:`voxcenter.api.control.ControlPlane`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from voxcenter.acd.router import Router
from voxcenter.api.control import AgentSnapshot, CallSnapshot, ServerFigures
from voxcenter.api.desk import AgentSecret, DeskSettings, TransferNotPossible
from voxcenter.config import Config, ConfigIssue
from voxcenter.media.sealed import SealError
from voxcenter.runtime.acd import AcdService
from voxcenter.runtime.recording import recording_key
from voxcenter.runtime.transfer import TransferRefused
from voxcenter.store.db import make_engine
from voxcenter.store.records import CallbackRecord, Record


class LiveCall(Protocol):
    def snapshot(self) -> CallSnapshot: ...

    def end(self, cause: str) -> None: ...

    def pause_recording(self, by: str, who: str | None = None) -> bool: ...

    def resume_recording(self, by: str, who: str | None = None) -> bool: ...

    def desk_hold(self, agent_id: str, held: bool) -> bool: ...

    def desk_transfer(self, agent_id: str, number: str) -> object: ...

    def desk_conference(self, agent_id: str, number: str) -> object: ...

    def desk_consult(self, agent_id: str, number: str) -> object: ...

    def desk_consult_end(self, agent_id: str, complete: bool) -> None: ...


class ServerControl:
    """Adapts the server's parts (the ACD, the calls in progress, reload) to the API's control plane."""

    def __init__(self, acd: AcdService, calls: Mapping[str, LiveCall], config: Callable[[], Config],
                 reload: Callable[[], Awaitable[list[ConfigIssue]]], *, database_url: str | None = None,
                 figures: Callable[[], ServerFigures] | None = None,
                 reload_changes: Callable[[], dict[str, object]] | None = None,
                 sink: Callable[[Record], None] | None = None,
                 events: Callable[[str, dict[str, object]], None] | None = None) -> None:
        self._reload_changes = reload_changes
        self._sink = sink
        self._events = events
        self.acd = acd
        self._figures = figures
        self._database_url = database_url
        self._engine: AsyncEngine | None = None
        self.config = config
        """The current dial plan (it changes on reload)."""
        self.live_calls = calls
        self._reload = reload

    @property
    def router(self) -> Router:
        return self.acd.router

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def agent_command(self, agent_id: str, command: str, reason: str | None = None) -> None:
        self.acd.agent_command(agent_id, command, reason)

    @property
    def timezone(self) -> str:
        return self.config().timezone

    def agents(self) -> list[AgentSnapshot]:
        configured = self.config().agents
        dynamic = self.acd.dynamic
        penalties: dict[str, dict[str, int]] = {}
        for extension, settings in configured.items():
            penalties[extension] = {m.queue: m.penalty for m in settings.queues if m.penalty}
        for (queue, agent_id), penalty in self.acd.dynamic_penalties.items():
            penalties.setdefault(agent_id, {})[queue] = penalty
        return [replace(agent, name=configured[agent.agent_id].name if agent.agent_id in configured else "",
                        dynamic_queues=tuple(sorted(q for q, a in dynamic if a == agent.agent_id)),
                        penalties=tuple(sorted(penalties.get(agent.agent_id, {}).items())))
                for agent in self.acd.ledger.snapshots(self.acd.router)]

    def calls(self) -> list[CallSnapshot]:
        return [call.snapshot() for call in list(self.live_calls.values())]

    async def reload(self) -> list[ConfigIssue]:
        return await self._reload()

    def add_member(self, queue: str, agent_id: str, penalty: int = 0) -> None:
        self.acd.add_member(queue, agent_id, penalty)

    def set_penalty(self, queue: str, agent_id: str, penalty: int) -> None:
        self.acd.set_penalty(queue, agent_id, penalty)

    def remove_member(self, queue: str, agent_id: str) -> None:
        self.acd.remove_member(queue, agent_id)

    def book_callback(self, number: str, queue: str, due_at: float | None,
                      customer_data: str | None) -> CallbackRecord:
        return self.acd.book_callback(number, queue, due_at, customer_data)

    def pending_callbacks(self) -> list[CallbackRecord]:
        return sorted(self.acd.callback_records.values(), key=lambda record: record.requested_at)

    def cancel_callback(self, callback_id: str) -> CallbackRecord:
        return self.acd.cancel_callback(callback_id)

    def reload_changes(self) -> dict[str, object]:
        return self._reload_changes() if self._reload_changes is not None else {}

    def figures(self) -> ServerFigures:
        return self._figures() if self._figures is not None else ServerFigures()

    def hang_up(self, call_id: str) -> bool:
        call = self.live_calls.get(call_id)
        if call is None:
            return False
        call.end("hung up through the API")
        return True

    def recording_key(self) -> bytes | None:
        try:
            return recording_key(self.config().recording)
        except SealError:
            return None

    def recording_control(self, call_id: str, action: str, by: str, who: str | None) -> bool:
        call = self.live_calls.get(call_id)
        if call is None:
            raise KeyError(call_id)
        if action == "pause":
            return call.pause_recording(by, who)
        return call.resume_recording(by, who)

    # --- the agent desk (voxcenter.api.desk.DeskBackend) ------------------------------------------------------

    def desk_settings(self) -> DeskSettings:
        config = self.config()
        realm = config.security.realm
        return DeskSettings(
            outcomes=dict(config.desk.outcomes),
            pause_reasons=tuple(dict.fromkeys(config.feature_codes.pause_reasons.values())),
            secrets={extension: AgentSecret(agent.password, agent.ha1, realm)
                     for extension, agent in config.agents.items()},
            phone=browser_phone_listener(config),
            phone_library=config.desk.phone_library,
        )

    def hold_call(self, call_id: str, agent_id: str, held: bool) -> bool:
        call = self.live_calls.get(call_id)
        if call is None:
            raise LookupError(f"no call {call_id!r} in progress")
        return call.desk_hold(agent_id, held)

    def transfer_call(self, call_id: str, agent_id: str, number: str, *, conference: bool = False,
                      consult: bool = False) -> None:
        call = self.live_calls.get(call_id)
        if call is None:
            raise LookupError(f"no call {call_id!r} in progress")
        try:
            if conference:
                call.desk_conference(agent_id, number)
            elif consult:
                call.desk_consult(agent_id, number)
            else:
                call.desk_transfer(agent_id, number)
        except TransferRefused as refused:
            raise TransferNotPossible(refused.status, refused.reason) from None

    def end_consultation(self, call_id: str, agent_id: str, complete: bool) -> None:
        call = self.live_calls.get(call_id)
        if call is None:
            raise LookupError(f"no call {call_id!r} in progress")
        try:
            call.desk_consult_end(agent_id, complete)
        except TransferRefused as refused:
            raise TransferNotPossible(refused.status, refused.reason) from None

    def submit(self, record: Record) -> None:
        if self._sink is None:
            raise RuntimeError("this server keeps no records")
        self._sink(record)

    def event(self, name: str, data: dict[str, object]) -> None:
        if self._events is not None:
            self._events(name, data)

    @property
    def database(self) -> AsyncEngine | None:
        if self._engine is None and self._database_url is not None:
            self._engine = make_engine(self._database_url)
        return self._engine

    async def close(self) -> None:
        """Release the database connections the API's reads opened."""
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    async def subscribe(self) -> AsyncIterator[dict[str, object]]:
        queue: asyncio.Queue[dict[str, object]] = asyncio.Queue(maxsize=1)
        listeners = self.acd.listeners
        listeners.append(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            listeners.remove(queue)


def browser_phone_listener(config: Config) -> dict[str, object] | None:
    """Where a browser phone registers: the first ``wss`` listener, else the first ``ws`` one (None: neither)."""
    for transport in ("wss", "ws"):
        for listen in config.sip.listen:
            if listen.transport == transport:
                host = str(listen.address)
                return {"transport": transport, "port": listen.port or (7443 if transport == "wss" else 5066),
                        "host": None if host in ("0.0.0.0", "::") else host}
    return None
