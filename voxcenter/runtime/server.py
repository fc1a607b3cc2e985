"""The running server: one asyncio process holding every part, and the routing of new calls.

Start: load and check the dial plan, bring the database schema up to date,
replay the journal (records a crash left behind), repair recordings a crash
cut short, open the SIP listeners, start trunks. Run: every INVITE becomes an
:class:`InboundCall` (or a feature code, for agents). Reload (SIGHUP or the
API): a valid dial plan is swapped in for new calls; calls in progress keep
theirs; callers in queues keep their place and agents their state. Stop
(SIGTERM): new calls get 503, calls in progress get a deadline, records are
flushed and recordings closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import re
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import structlog
from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from voxcenter.acd.events import CallCompleted, Ender, StartCallback
from voxcenter.acd.model import ConfigError as AcdConfigError
from voxcenter.acd.router import Router
from voxcenter.api.app import ApiSettings, start_api
from voxcenter.config import Config, ConfigError, ConfigIssue, load_config
from voxcenter.media.player import MediaClock
from voxcenter.media.ports import PortPool
from voxcenter.media.prompts import PromptLibrary
from voxcenter.media.recorder import RecordingInfo, repair_recordings
from voxcenter.runtime.acd import AcdService
from voxcenter.runtime.calllog import CallLog
from voxcenter.runtime.control import ServerControl
from voxcenter.runtime.customers import CustomerDirectory
from voxcenter.runtime.inbound import InboundCall
from voxcenter.runtime.legmedia import LegMedia, MediaSetupError, tone_frames
from voxcenter.runtime.livestate import VersionStamp, registration_record, restore_live_state
from voxcenter.runtime.mapping import credential_lookup, endpoint_settings, trunk_settings, trunk_users
from voxcenter.runtime.outbound import OutboundCall
from voxcenter.runtime.startup import StartupError, database_reason, os_reason
from voxcenter.sip.endpoint import RequestFailed, SipEndpoint
from voxcenter.sip.registrar import BindingChange, BindingChanged
from voxcenter.sip.session import SipSession
from voxcenter.sip.transport import Address
from voxcenter.sip.trunks import Trunk
from voxcenter.store.db import upgrade_async
from voxcenter.store.journal import JournalError
from voxcenter.store.records import CallEvent, new_id
from voxcenter.store.writer import DurableWriter

logger = structlog.get_logger(__name__)


class Server:
    """See the module docstring."""

    def __init__(self, config_path: str | Path, *, node: str | None = None) -> None:
        self.config_path = Path(config_path)
        self.node = node or socket.gethostname()
        self.config: Config
        self.writer: DurableWriter
        self.endpoint: SipEndpoint
        self.acd: AcdService
        self.ports: PortPool
        self.clock: MediaClock
        self.prompts: PromptLibrary
        self.customers: CustomerDirectory
        self.trunks: dict[str, Trunk] = {}
        self.calls: dict[str, InboundCall] = {}
        self.started_at = 0.0
        self._tasks: set[asyncio.Task[None]] = set()
        self._api: web.AppRunner | None = None
        self._drained = asyncio.Event()
        """Set whenever the last call in progress ends (what a draining stop waits for)."""
        self._credentials = credential_lookup  # replaced by the mapped lookup at start and reload
        self._reload_lock = asyncio.Lock()
        self._versions = VersionStamp()
        """Versions of the registration rows this node writes."""

    # --- life cycle -------------------------------------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.config = await loop.run_in_executor(None, load_config, self.config_path)
        for warning in self.config.warnings:
            logger.warning("config.warning", issue=str(warning))
        config = self.config
        url = config.database.url or f"sqlite+aiosqlite:///{self.config_path.parent / 'voxcenter.db'}"
        try:
            await upgrade_async(url)
        except (OSError, SQLAlchemyError) as error:
            raise StartupError(f"database {_safe(url)} unreachable: {database_reason(error)}") from error
        self.writer = DurableWriter(config.database.journal_directory, url,
                                    recordings_in_database=config.recording.storage == "database")
        try:
            await self.writer.start()
        except JournalError as error:
            raise StartupError(str(error)) from error
        except OSError as error:
            raise StartupError(f"journal {config.database.journal_directory}: {os_reason(error)}") from error
        if config.recording.enabled:
            repaired = await loop.run_in_executor(None, _repair, Path(config.recording.directory))
            for info in repaired:
                logger.warning("recording.repaired", path=str(info.path), seconds=round(info.duration, 1))
        self.ports = PortPool(config.rtp.port_min, config.rtp.port_max)
        self.clock = MediaClock()
        self.prompts = PromptLibrary(Path(config.prompts.directory))
        self.customers = CustomerDirectory(url, self.writer)
        self._lookup = credential_lookup(config)
        self.endpoint = SipEndpoint(
            endpoint_settings(config), credentials=lambda *args: self._lookup(*args),
            application=self._on_call, on_binding_change=self._on_binding,
        )
        self.acd = AcdService(self)
        try:
            addresses = await self.endpoint.start()
        except OSError as error:
            listener = self.endpoint.settings.listeners[len(self.endpoint.addresses)]
            await self._abandon_start()
            raise StartupError(f"cannot listen on {listener.transport}:{listener.host}:{listener.port}: "
                               f"{os_reason(error)}") from error
        await restore_live_state(self, url)
        for settings in trunk_settings(config):
            trunk = Trunk(settings, self.endpoint)
            self.trunks[settings.name] = trunk
            trunk.start()
        await self._start_api(config)
        self.started_at = time.time()
        logger.info("voxcenter.started", node=self.node, sip=[str(a) for a in addresses],
                    rtp=f"{config.rtp.address}:{config.rtp.port_min}-{config.rtp.port_max}", database=_safe(url))

    async def _abandon_start(self) -> None:
        """Undo a start that failed after the journal opened: release it (and its lock) and close listeners."""
        with contextlib.suppress(Exception):
            await self.endpoint.stop()
        self.acd.close()
        await self.writer.close(within=2.0)

    async def stop(self, drain_timeout: float = 10.0) -> None:
        """Drain: refuse new calls, let calls in progress finish (up to the deadline), flush records."""
        logger.info("voxcenter.stopping", calls=len(self.calls), drain_timeout=drain_timeout)
        self.endpoint.draining = True
        if self.calls and drain_timeout > 0:
            self._drained.clear()
            try:
                await asyncio.wait_for(self._drained.wait(), drain_timeout)
            except TimeoutError:
                logger.warning("voxcenter.drain_deadline", calls=len(self.calls))
                # End them ourselves (BYE to both legs, CDR closed by the system) before the endpoint goes.
                for call in list(self.calls.values()):
                    call.end("server shutdown")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._drained.wait(), 10.0)
        for trunk in self.trunks.values():
            await trunk.stop()
        if self._api is not None:
            await self._api.cleanup()
        await self.endpoint.stop()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5.0)
        self.acd.close()
        flushed = await self.writer.close(within=10.0)
        await self.customers.close()
        logger.info("voxcenter.stopped", records_flushed=flushed)

    async def _start_api(self, config: Config) -> None:
        api = config.api
        if not api.enabled:
            return
        token = os.environ.get("VOXCENTER_API_TOKEN") or api.token
        settings = ApiSettings(host=str(api.address), port=api.port, token=token)
        try:
            self._api, port = await start_api(ServerControl(self), settings)
        except OSError as error:
            # Calls matter more than the admin API: keep serving them and say loudly what is missing.
            logger.error("api.unavailable", address=f"{api.address}:{api.port}", error=str(error))
            return
        logger.info("api.listening", url=f"http://{api.address}:{port}/", wallboard=f"http://{api.address}:{port}/wallboard")

    async def reload(self) -> list[ConfigIssue]:
        """Swap in a valid new dial plan for new calls; raise ConfigError (and keep the old one) otherwise.

        The swap is atomic (no await between its steps): new calls, credentials, queue policies and
        agent profiles change together. Calls in progress keep the config they started with; the
        ACD keeps its waiting callers (same places) and agent states (see ``Router.reconfigure``).
        """
        async with self._reload_lock:  # two SIGHUPs in a row: one reload after the other
            loop = asyncio.get_running_loop()
            config = await loop.run_in_executor(None, load_config, self.config_path)
            for warning in config.warnings:
                logger.warning("config.warning", issue=str(warning))
            try:
                self.acd.reconfigure(config)
            except AcdConfigError as error:  # the loader's checks should make this unreachable
                raise ConfigError([ConfigIssue(str(self.config_path), 1, 1, f"the ACD refused it: {error}")]) \
                    from error
            self.config = config
            self._lookup = credential_lookup(config)
            for note in self.endpoint.update_settings(endpoint_settings(config)):
                logger.warning("config.reload_partial", note=note)
            self.prompts.clear()
            logger.info("config.reloaded", warnings=len(config.warnings), queues=sorted(config.queues),
                        agents=len(config.agents), calls=len(self.calls))
            return list(config.warnings)

    # --- new calls ------------------------------------------------------------------------------------------------

    async def _on_call(self, session: SipSession) -> None:
        config = self.config
        called = session.called
        if session.trunk is None and session.user is not None and session.user not in config.agents:
            trunk_name = trunk_users(config).get(session.user)
            if trunk_name is not None and not self._trunk_source_allowed(trunk_name, session.remote.host):
                session.reject(403, "Forbidden")
                return
            session.trunk = trunk_name  # a carrier that authenticates with digest instead of (or besides) its IP
        is_agent = session.user is not None and session.user in config.agents and not session.trunk
        if is_agent and await self._feature_code(session, str(session.user), called):
            return
        if is_agent and called not in config.numbers:
            route = self.route_allowed(str(session.user), called)
            if route is None:
                session.reject(403 if config.routes else 404, "Not Allowed")
                return
            await OutboundCall(self, session, str(session.user), called, route).run()
            return
        number = config.numbers.get(called)
        if number is None:
            session.reject(404, "Not Found")
            return
        if number.trunk is not None and session.trunk is not None and number.trunk != session.trunk:
            session.reject(404, "Not Found")
            return
        call = InboundCall(self, session, number.node, number.language)
        self.calls[call.call_id] = call
        try:
            await call.run()
        finally:
            self.calls.pop(call.call_id, None)
            if not self.calls:
                self._drained.set()

    def _trunk_source_allowed(self, trunk_name: str, host: str) -> bool:
        """A digest trunk with ``allow_from`` must also come from those networks."""
        inbound = self.config.trunks[trunk_name].inbound
        if inbound is None or not inbound.allow_from:
            return True
        address = ipaddress.ip_address(host)
        return any(address in ipaddress.ip_network(str(network), strict=False) for network in inbound.allow_from)

    async def _feature_code(self, session: SipSession, agent_id: str, code: str) -> bool:
        """Agent feature codes (*45 login, *46 logout, *47 pause): a short tone confirms, then hang up."""
        codes = self.config.feature_codes
        if code not in {codes.login, codes.logout, codes.pause, codes.wrap_up_end}:
            return False
        try:
            handled = self.acd.feature_code(agent_id, code)
        except Exception as error:  # an illegal transition: say no, plainly
            logger.info("acd.feature_code_refused", agent=agent_id, code=code, reason=str(error))
            session.reject(403, "Not Allowed Now")
            return True
        if not handled:
            session.reject(403, "Not Allowed Now")
            return True
        assert session.remote_sdp is not None
        try:
            leg, answer = await LegMedia.answer(session.remote_sdp, self.ports, self.media_host, self.prompts,
                                                self.clock, inactivity_timeout=None,
                                                advertised_host=self.media_advertised)
        except MediaSetupError as error:
            session.reject(error.status, error.reason[:80])
            return True
        session.answer(answer)
        await session.confirmed.wait()
        await leg.play_frames([tone_frames(leg.session.codec, 880.0, 0.3)]).wait()
        await session.hangup("feature code done")
        leg.close()
        return True

    def _on_binding(self, change: BindingChanged) -> None:
        if change.change is not BindingChange.RESTORED:  # a restored binding is in the database already
            self.writer.submit(registration_record(change, node=self.node, version=self._versions.next(),
                                                   wall_now=time.time(), loop_now=self.endpoint.now()))
        if hasattr(self, "acd"):
            self.acd.binding_changed(change)

    # --- outbound legs --------------------------------------------------------------------------------------------

    @property
    def media_host(self) -> str:
        return str(self.config.rtp.address)

    @property
    def media_advertised(self) -> str | None:
        external = self.config.rtp.external_address
        return str(external) if external else None

    async def call_extension(
        self, extension: str, *, caller_id: str, cancel: asyncio.Event | None = None,
        on_alerting: Callable[[], None] | None = None, ring_timeout: float | None = None,
    ) -> tuple[LegMedia, SipSession]:
        """Ring a registered phone (an agent's) and return its answered leg; RequestFailed otherwise."""
        bindings = self.endpoint.registrar.lookup(extension)
        if not bindings:
            raise RequestFailed(480, "Not Registered")
        binding = bindings[0]
        destination = Address(binding.source.transport, binding.source.host, binding.source.port)
        try:
            leg, offer = await LegMedia.offer(self.ports, self.media_host, self.prompts, self.clock,
                                              inactivity_timeout=self.config.rtp.inactivity_timeout,
                                              advertised_host=self.media_advertised)
        except Exception as error:
            raise RequestFailed(503, f"no media: {error}") from error

        def provisional(response: object) -> None:
            if on_alerting is not None and getattr(response, "status", 0) in (180, 183):
                on_alerting()

        try:
            session = await self.endpoint.invite(
                binding.contact.uri, destination, offer, from_user=re.sub(r"[^0-9A-Za-z+*#._-]", "", caller_id)
                or "anonymous", on_provisional=provisional, ring_timeout=ring_timeout, cancel=cancel,
            )
        except BaseException:
            leg.close("not answered")
            raise
        try:
            leg.accept(session.remote_sdp or b"")
        except Exception as error:
            await session.hangup("bad SDP answer")
            leg.close("bad SDP answer")
            raise RequestFailed(488, f"unusable answer: {error}") from error
        return leg, session

    def route_for(self, number: str, route_name: str | None) -> tuple[Trunk, str]:
        """The trunk and the number to send for an outside call (the dial plan checked who may use it)."""
        routes = self.config.routes
        candidates = [(route_name, routes[route_name])] if route_name in routes else list(routes.items())
        for _, route in candidates:
            if any(re.fullmatch(pattern, number) for pattern in route.patterns):
                trunk = self.trunks.get(route.trunk)
                if trunk is not None:
                    return trunk, (route.prepend or "") + number[route.strip:]
        raise RequestFailed(404, "No Route")

    def route_allowed(self, agent_id: str, number: str) -> str | None:
        """The first outbound route that lets ``agent_id`` dial ``number``, or None (toll fraud stops here)."""
        groups = {name for name, members in self.config.groups.items() if agent_id in members}
        for name, route in self.config.routes.items():
            allowed = agent_id in route.allow.agents or bool(groups & set(route.allow.groups))
            if allowed and any(re.fullmatch(pattern, number) for pattern in route.patterns):
                return name
        return None

    async def call_number(self, number: str, route: str | None, *, ring_timeout: float | None = None,
                          caller_id: str | None = None, cancel: asyncio.Event | None = None,
                          ) -> tuple[LegMedia, SipSession]:
        trunk, dialed = self.route_for(number, route)
        outbound = self.config.trunks[trunk.settings.name].outbound
        caller_id = (outbound.caller_id if outbound is not None and outbound.caller_id else None) or caller_id
        leg, offer = await LegMedia.offer(self.ports, self.media_host, self.prompts, self.clock,
                                          inactivity_timeout=self.config.rtp.inactivity_timeout,
                                          advertised_host=self.media_advertised)
        try:
            session = await trunk.invite(dialed, offer, ring_timeout=ring_timeout, caller_id=caller_id,
                                         cancel=cancel)
        except BaseException:
            leg.close("not answered")
            raise
        leg.accept(session.remote_sdp or b"")
        return leg, session

    async def connect_callback(
        self, decision: StartCallback, agent_leg: LegMedia, agent_session: SipSession,
        on_answered: Callable[[str], None] | None = None,
    ) -> Ender | None:
        """Agent-first callback: dial the customer and bridge them to the waiting agent until one hangs up.

        ``on_answered`` runs with the outbound call's id as soon as the customer answers (the ACD counts
        the agent on a call from then on). Returns who hung up, or None when the customer was not reached.
        The outbound call leaves its own CDR (direction ``outbound``; its CONNECT event names the callback's call id).
        """
        from voxcenter.media.bridge import Bridge as MediaBridge

        number = decision.number
        log = CallLog(self.writer, node=self.node, call_id=new_id(), direction="outbound",
                      from_number=decision.agent_id, to_number=number, trunk="", sip_call_id="")
        log.update(queue=decision.queue, agent=decision.agent_id, agent_answered_at=time.time())
        agent_gone = asyncio.Event()  # the agent hung up while the customer's phone rang: CANCEL it
        agent_session.ended.add_done_callback(lambda _: agent_gone.set())
        try:
            leg, session = await self.call_number(number, None, ring_timeout=30.0, cancel=agent_gone)
        except RequestFailed as failure:
            logger.info("callback.failed", number=number, status=failure.status)
            await agent_session.hangup("callback not answered")
            agent_leg.close()
            log.finish("failed", hangup_by="system", cause=f"customer not reached ({failure.status})")
            return None
        loop = asyncio.get_running_loop()
        connected_at = loop.time()
        log.update(answered_at=time.time(), sip_call_id=session.call_id)
        log.event("CONNECT", queue=decision.queue, agent=decision.agent_id,
                  data={"callback_for": decision.call_id, "attempt": decision.attempt})
        if on_answered is not None:
            on_answered(log.call_id)
        bridge = MediaBridge(agent_leg.session, leg.session)
        bridge.start()
        await asyncio.wait([agent_session.ended, session.ended], return_when=asyncio.FIRST_COMPLETED)
        ender = Ender.AGENT if agent_session.ended.done() else Ender.CALLER
        bridge.stop()
        for other in (agent_session, session):
            await other.hangup("callback finished")
        agent_leg.close()
        leg.close()
        log.update(talk_seconds=loop.time() - connected_at)
        log.finish("answered", hangup_by=ender.value, cause=f"{ender.value} hung up")
        return ender

    def record_completion(self, decision: CallCompleted) -> None:
        self.writer.submit(CallEvent(event_id=new_id(), call_id=decision.call_id, at=time.time(),
                                     event=decision.queue_log, queue=decision.queue, agent=decision.agent_id,
                                     value=decision.talk_time))

    def spawn(self, coroutine: Awaitable[None]) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coroutine)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- for the admin API (voxcenter.runtime.control) -------------------------------------------------------------

    @property
    def router(self) -> Router:
        return self.acd.router


def _repair(directory: Path) -> list[RecordingInfo]:
    directory.mkdir(parents=True, exist_ok=True)
    return list(repair_recordings(directory))


def _safe(url: str) -> str:
    """A database URL without its password, for logs."""
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)
