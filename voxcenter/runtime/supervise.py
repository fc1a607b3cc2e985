"""Supervisor monitoring, the running half: find the agent's call, check the dial plan, run the session.

A session starts from the supervisor's phone (``*51`` listen, ``*52`` whisper, ``*53`` barge, then the
agent's extension: voxcenter answers and the supervisor is on the call) or from the API (voxcenter
rings the supervisor's phone, which joins when answered). The supervisor's leg is a monitor of the
call's bridge (:meth:`~voxcenter.runtime.call.CallBridge.monitor`); keys 1, 2, 3 switch the mode
(:data:`~voxcenter.runtime.monitoring.MODE_KEYS`). The session ends when the supervisor hangs up or the
monitored agent or the caller leaves the call. The call's timeline gets MONITORSTART (supervisor,
mode, how it started), MONITORMODE at each switch and MONITOREND (seconds monitored; with ``"cause":
"server shutdown"`` when the server stops mid-session, which hangs up the supervisor's phone first).

Besides inbound queue calls, agents' own calls may be monitored while their parties talk: internal
calls (either agent), outside calls and callbacks (:class:`~voxcenter.runtime.services.Conversation`).
A callback follows its queue's rule; a call in no queue, the supervisors of a queue the agent serves
(:func:`~voxcenter.runtime.monitoring.may_monitor_agent`).

Refusals: 404 when the agent is on no call voxcenter can monitor, 403 when the supervisor may not
monitor that call (:func:`~voxcenter.runtime.monitoring.may_monitor_agent`), 486 when the supervisor
is in a session already. A supervisor who is also a ready agent is paused for the queues while
monitoring (reason ``on a direct call``), as on any direct call.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from voxcenter.config import Config
from voxcenter.runtime.call import Call, Leg
from voxcenter.runtime.calllog import CallLog
from voxcenter.runtime.dialer import Dialer
from voxcenter.runtime.legmedia import LegMedia, MediaSetupError
from voxcenter.runtime.monitoring import (
    MODE_KEYS,
    MonitorMode,
    may_monitor_agent,
    monitorable_agents,
    monitorable_queues,
)
from voxcenter.runtime.services import MediaService
from voxcenter.sip.endpoint import RequestFailed
from voxcenter.sip.session import SipSession

logger = structlog.get_logger(__name__)

RING_TIMEOUT = 30.0
"""How long the supervisor's phone rings for a session started through the API."""


class MonitoredCall(Protocol):
    """What monitoring needs of a live call (an :class:`~voxcenter.runtime.inbound.InboundCall`, or an agent's
    own :class:`~voxcenter.runtime.services.Conversation`)."""

    call_id: str
    call: Call
    log: CallLog
    queue: str | None
    session: SipSession
    """The caller's (the far party's) SIP side."""


class Engagement(Protocol):
    """Tells the ACD a supervisor is in a conversation (an :class:`~voxcenter.runtime.acd.AcdService`)."""

    def engage(self, agent_id: str) -> None: ...

    def disengage(self, agent_id: str) -> None: ...


class MonitorRefused(Exception):
    """The session cannot start; ``status`` is the SIP (and HTTP) answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(eq=False)
class MonitorSession:
    """One supervisor on one call."""

    supervisor: str
    agent: Leg
    call: MonitoredCall
    mode: MonitorMode
    via: str
    """``phone`` or ``api``."""
    leg: Leg | None = None
    started: float = 0.0
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def view(self) -> dict[str, object]:
        return {"supervisor": self.supervisor, "agent": self.agent.party, "call_id": self.call.call_id,
                "queue": self.call.queue, "mode": self.mode.value, "via": self.via,
                "connected": self.leg is not None}


class Supervision:
    """Starts and runs monitoring sessions on the server's live calls (see the module docstring)."""

    def __init__(self, calls: Mapping[str, MonitoredCall], config: Callable[[], Config], media: MediaService,
                 dialer: Dialer, members: Callable[[], Iterable[tuple[str, str]]] = lambda: (),
                 engagement: Engagement | None = None,
                 conversations: Mapping[str, MonitoredCall] | None = None) -> None:
        self.calls = calls
        """Inbound calls by id."""
        self.conversations: Mapping[str, MonitoredCall] = conversations if conversations is not None else {}
        """Agents' own calls (internal, outside, callbacks) by id."""
        self.engagement = engagement
        """A supervisor who is also a ready agent is paused for the queues while monitoring (as on a direct
        call), so no queue call rings the phone in the middle of a session."""
        self.config = config
        self.media = media
        self.dialer = dialer
        self.members = members
        """Run-time queue members, (queue, agent)."""
        self.sessions: dict[str, MonitorSession] = {}
        """Sessions in progress (ringing the supervisor's phone, or connected), by supervisor."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        """Set by :meth:`close`: connected sessions end (the server stops)."""

    def live(self) -> list[MonitoredCall]:
        """The calls in progress that a supervisor could monitor."""
        return [*self.calls.values(), *self.conversations.values()]

    # --- who may monitor what ------------------------------------------------------------------------------------

    def find(self, supervisor: str, agent: str) -> tuple[MonitoredCall, Leg]:
        """The call ``agent`` is talking on, if ``supervisor`` may monitor it; MonitorRefused otherwise."""
        if supervisor in self.sessions:
            raise MonitorRefused(486, "Already Monitoring")
        for call in self.live():
            for leg in call.call.bridge.legs:
                if leg.role == "agent" and leg.party == agent and not leg.session.is_ended:
                    if not may_monitor_agent(self.config(), supervisor, call.queue, agent, list(self.members())):
                        raise MonitorRefused(403, "Not Allowed To Monitor")
                    return call, leg
        raise MonitorRefused(404, "Agent Not On A Call")

    def overview(self, supervisor: str) -> dict[str, object] | None:
        """Whom ``supervisor`` may monitor: queues, agents, the calls in progress now, their own session (None:
        no such agent)."""
        config = self.config()
        if supervisor not in config.agents:
            return None
        queues = monitorable_queues(config, supervisor)
        agents = monitorable_agents(config, supervisor, list(self.members()))
        calls = []
        for call in self.live():
            for leg in call.call.bridge.legs:
                if leg.role == "agent" and not leg.session.is_ended and \
                        (call.queue in queues if call.queue is not None else leg.party in agents):
                    calls.append({"call_id": call.call_id, "queue": call.queue, "agent": leg.party,
                                  "caller": call.session.caller,
                                  "monitored_by": sorted(s.supervisor for s in self.sessions.values()
                                                         if s.call is call)})
        session = self.sessions.get(supervisor)
        return {"supervisor": supervisor, "queues": queues,
                "agents": agents,
                "calls": calls, "session": session.view() if session is not None else None}

    # --- starting ------------------------------------------------------------------------------------------------

    async def from_phone(self, session: SipSession, supervisor: str, mode: MonitorMode, agent: str) -> None:
        """The supervisor dialled a monitoring code and an extension: answer and monitor, or refuse."""
        try:
            call, agent_leg = self.find(supervisor, agent)
        except MonitorRefused as refused:
            logger.info("monitor.refused", supervisor=supervisor, agent=agent, status=refused.status,
                        reason=refused.reason)
            session.reject(refused.status, refused.reason)
            return
        if session.remote_sdp is None:
            session.reject(488, "Not Acceptable Here")
            return
        monitoring = MonitorSession(supervisor, agent_leg, call, mode, "phone")
        self.sessions[supervisor] = monitoring
        try:
            try:
                media, answer = await self.media.answer(session.remote_sdp, watch_silence=False)
            except MediaSetupError as error:
                session.reject(error.status, error.reason[:80])
                return
            session.answer(answer)
            await session.confirmed.wait()
            await self._run(monitoring, session, media)
        finally:
            self.sessions.pop(supervisor, None)
            monitoring.done.set()

    def from_api(self, supervisor: str, agent: str, mode: MonitorMode) -> MonitorSession:
        """Ring the supervisor's phone; once answered it monitors ``agent``'s call. MonitorRefused at once
        when the session cannot start (the phone not registered is 480)."""
        if supervisor not in self.config().agents:
            raise MonitorRefused(404, f"no agent {supervisor!r} to monitor from")
        call, agent_leg = self.find(supervisor, agent)
        if not self.dialer.endpoint.registrar.lookup(supervisor):
            raise MonitorRefused(480, f"the phone of {supervisor} is not registered")
        monitoring = MonitorSession(supervisor, agent_leg, call, mode, "api")
        self.sessions[supervisor] = monitoring
        task = asyncio.get_running_loop().create_task(self._ring(monitoring))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return monitoring

    async def _ring(self, monitoring: MonitorSession) -> None:
        gone = asyncio.Event()
        caller = monitoring.call.session
        caller.ended.add_done_callback(lambda _: gone.set())
        try:
            media, session = await self.dialer.call_extension(
                monitoring.supervisor, caller_id=monitoring.agent.party, cancel=gone, ring_timeout=RING_TIMEOUT)
        except RequestFailed as failure:
            logger.info("monitor.not_answered", supervisor=monitoring.supervisor, status=failure.status)
            self.sessions.pop(monitoring.supervisor, None)
            monitoring.done.set()
            return
        try:
            await self._run(monitoring, session, media)
        finally:
            self.sessions.pop(monitoring.supervisor, None)
            monitoring.done.set()

    # --- during the session ---------------------------------------------------------------------------------------

    def set_mode(self, supervisor: str, mode: MonitorMode) -> MonitorSession:
        """Switch a session's mode (a key on the supervisor's phone, or the API); KeyError: no session."""
        monitoring = self.sessions[supervisor]
        if mode is monitoring.mode:
            return monitoring
        monitoring.mode = mode
        if monitoring.leg is not None:
            monitoring.call.call.bridge.monitor(monitoring.leg, monitoring.agent, mode)
            monitoring.call.log.event("MONITORMODE", queue=monitoring.call.queue, agent=monitoring.agent.party,
                                      data={"supervisor": supervisor, "mode": mode.value})
            logger.info("monitor.mode", supervisor=supervisor, agent=monitoring.agent.party, mode=mode.value)
        return monitoring

    async def _run(self, monitoring: MonitorSession, session: SipSession, media: LegMedia) -> None:
        call, agent = monitoring.call, monitoring.agent
        loop = asyncio.get_running_loop()
        bridge = call.call.bridge
        stopping = asyncio.ensure_future(self._stopping.wait())
        ended: list[asyncio.Future[Any]] = [session.ended, agent.session.ended, call.session.ended, stopping]
        try:
            if any(future.done() for future in ended) or agent not in bridge.legs:
                return  # the call moved on while the phone was answering
            leg = Leg("supervisor", monitoring.supervisor, session, media)
            monitoring.leg = leg
            monitoring.started = loop.time()
            bridge.monitor(leg, agent, monitoring.mode)
            if self.engagement is not None:
                self.engagement.engage(monitoring.supervisor)
            call.log.event("MONITORSTART", queue=call.queue, agent=agent.party,
                           data={"supervisor": monitoring.supervisor, "mode": monitoring.mode.value,
                                 "via": monitoring.via})
            logger.info("monitor.start", call_id=call.call_id, supervisor=monitoring.supervisor, agent=agent.party,
                        mode=monitoring.mode.value, via=monitoring.via)

            def key(event: object) -> None:
                mode = MODE_KEYS.get(str(getattr(event, "digit", "")))
                if mode is not None:
                    self.set_mode(monitoring.supervisor, mode)

            media.on_digit = key
            await asyncio.wait(ended, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if monitoring.leg is not None:  # written whatever ended the session, a cancelled task included
                bridge.unmonitor(monitoring.leg)
                if self.engagement is not None:
                    self.engagement.disengage(monitoring.supervisor)
                seconds = round(loop.time() - monitoring.started, 3)
                data: dict[str, object] = {"supervisor": monitoring.supervisor, "mode": monitoring.mode.value}
                if self._stopping.is_set():
                    data["cause"] = "server shutdown"
                call.log.event("MONITOREND", queue=call.queue, agent=agent.party, value=seconds, data=data)
                logger.info("monitor.end", call_id=call.call_id, supervisor=monitoring.supervisor, seconds=seconds)
            if not session.is_ended:
                with contextlib.suppress(Exception):
                    await session.hangup("server shutdown" if self._stopping.is_set() else "monitoring over")
            media.close()

    # --- for the admin API (voxcenter.api.monitoring) -------------------------------------------------------------

    def api_monitor(self, supervisor: str, agent: str, mode: str) -> tuple[int, dict[str, object]]:
        try:
            return 202, self.from_api(supervisor, agent, MonitorMode(mode)).view()
        except MonitorRefused as refused:
            return refused.status, {"error": refused.reason}

    def api_mode(self, supervisor: str, mode: str) -> tuple[int, dict[str, object]]:
        try:
            return 200, self.set_mode(supervisor, MonitorMode(mode)).view()
        except KeyError:
            return 404, {"error": f"{supervisor} is monitoring no call"}

    async def close(self) -> None:
        """Server shutdown: connected sessions end (MONITOREND, the supervisor's phone hung up), ringing stops."""
        self._stopping.set()
        connected = [asyncio.ensure_future(s.done.wait()) for s in self.sessions.values() if s.leg is not None]
        if connected:
            await asyncio.wait(connected, timeout=5.0)
            for waiting in connected:
                waiting.cancel()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5.0)
