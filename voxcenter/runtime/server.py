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
from collections.abc import Awaitable
from dataclasses import replace
from pathlib import Path

import structlog
from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from voxcenter.acd.model import ConfigError as AcdConfigError
from voxcenter.acd.router import Router
from voxcenter.api.app import ApiSettings, ApiToken, start_api
from voxcenter.api.control import CallTally, ServerFigures, TrunkFigure
from voxcenter.api.desk import DeskSessions
from voxcenter.config import Config, ConfigError, ConfigIssue, load_config
from voxcenter.config.changes import config_changes
from voxcenter.media.player import MediaClock
from voxcenter.media.ports import PortPool
from voxcenter.media.prompts import PromptLibrary
from voxcenter.media.recorder import RecordingInfo, repair_recordings
from voxcenter.media.sealed import SealError, seal_file
from voxcenter.runtime.acd import AcdService
from voxcenter.runtime.calllog import CallLog
from voxcenter.runtime.campaigns import CampaignService
from voxcenter.runtime.cluster import Heartbeat
from voxcenter.runtime.control import ServerControl
from voxcenter.runtime.conversation import CallServices
from voxcenter.runtime.crash import close_calls_left_open, repaired_recording_record
from voxcenter.runtime.customers import CustomerDirectory
from voxcenter.runtime.dialer import Dialer
from voxcenter.runtime.featurecodes import FeatureCodeService
from voxcenter.runtime.forward import CLUSTER_USER, ENTRY_HEADER, RouterLink, parse_entry
from voxcenter.runtime.inbound import InboundCall
from voxcenter.runtime.livestate import (
    VersionStamp,
    binding_of,
    registration_record,
    restore_live_state,
    restore_router_state,
)
from voxcenter.runtime.mailbox import Mailbox
from voxcenter.runtime.mapping import credential_lookup, endpoint_settings, trunk_settings, trunk_users
from voxcenter.runtime.outbound import AgentCall
from voxcenter.runtime.recording import recording_key
from voxcenter.runtime.retention import keep_recordings, stop_keeping
from voxcenter.runtime.services import Consultations, MediaService, Records
from voxcenter.runtime.startup import StartupError, database_reason, os_reason
from voxcenter.runtime.supervise import Supervision
from voxcenter.runtime.webhooks import WebhookSender, ended_fields, endpoints_of
from voxcenter.sip.endpoint import SipEndpoint
from voxcenter.sip.registrar import BindingChange, BindingChanged
from voxcenter.sip.session import SipSession
from voxcenter.sip.trunks import Trunk
from voxcenter.store.db import upgrade_async
from voxcenter.store.journal import JournalError
from voxcenter.store.records import CallRecord, RegistrationRecord
from voxcenter.store.writer import DurableWriter

logger = structlog.get_logger(__name__)


class Server:
    """See the module docstring."""

    def __init__(self, config_path: str | Path, *, node: str | None = None, database_url: str | None = None) -> None:
        self.config_path = Path(config_path)
        self.database_url = database_url
        """The database given on the command line (None: the dial plan's ``database.url`` or SQLite next to it);
        after ``start``, the one in use."""
        self.node = node or socket.gethostname()
        self.config: Config
        self.writer: DurableWriter
        self.endpoint: SipEndpoint
        self.acd: AcdService
        self.ports: PortPool
        self.clock: MediaClock
        self.prompts: PromptLibrary
        self.customers: CustomerDirectory
        self.media: MediaService
        self.dialer: Dialer
        self.records: Records
        self.services: CallServices
        self.trunks: dict[str, Trunk] = {}
        self.calls: dict[str, InboundCall] = {}
        self.tally = CallTally()
        self.last_reload_changes: dict[str, object] = {}
        """What the last reload changed (``voxcenter.config.changes.config_changes``)."""
        """Inbound calls ended since start, by disposition and wait (for ``/metrics``)."""
        self.started_at = 0.0
        self._tasks: set[asyncio.Task[None]] = set()
        self._api: web.AppRunner | None = None
        self.heartbeat: Heartbeat | None = None
        self.api_address: str | None = None
        """``host:port`` the admin API listens on (None: no API)."""
        """This node's heartbeat and watch over the others (``cluster.heartbeat``)."""
        self._retention: asyncio.Task[None] | None = None
        """Deletes recordings older than ``recording.retention_days`` (voxcenter.runtime.retention)."""
        self._control: ServerControl | None = None
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
        try:
            key = recording_key(config.recording)
        except SealError as error:
            raise StartupError(str(error)) from error
        url = self.database_url or config.database.url or \
            f"sqlite+aiosqlite:///{self.config_path.parent / 'voxcenter.db'}"
        self.database_url = url
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
                if key is not None:  # sealed like every finished recording
                    info = replace(info, path=await asyncio.to_thread(seal_file, info.path, key))
                logger.warning("recording.repaired", path=str(info.path), seconds=round(info.duration, 1))
                self.writer.submit(repaired_recording_record(info))
        await close_calls_left_open(self.writer, url, self.node)
        self.ports = PortPool(config.rtp.port_min, config.rtp.port_max)
        self.clock = MediaClock()
        self.prompts = PromptLibrary(Path(config.prompts.directory))
        self.customers = CustomerDirectory(url, self.writer)
        self._lookup = credential_lookup(config)
        self.endpoint = SipEndpoint(
            endpoint_settings(config), credentials=lambda *args: self._lookup(*args),
            application=self._on_call, on_binding_change=self._on_binding,
        )
        # The narrow services each part is handed (none of them sees this object).
        self.media = MediaService(self.ports, self.prompts, self.clock, config)
        self.dialer = Dialer(self.endpoint, self.media, self.trunks, config)
        self.records = Records(self.writer, self.node)
        self.consultations = Consultations()
        self.acd = AcdService(config, self.dialer, self.records, self.spawn)
        shared = config.cluster.shared_queues
        self.acd.routing = not shared  # a cluster's router node is known at the first heartbeat
        self.webhooks = WebhookSender(endpoints_of(config.webhooks), sink=self.writer.submit)
        self.desk_sessions = DeskSessions(sink=self.writer.submit)
        self.acd.events = self.webhooks.emit
        self.services = CallServices(self.media, self.dialer, self.acd, self.records, self.customers,
                                     self.consultations, router=RouterLink(
                                         config.cluster.secret or "", self._routes_here, self._router_address,
                                         self._router_node, self._latest_call, self._node_alive)
                                     if shared else None)
        self.campaigns = CampaignService(lambda: self.config, self.services, self.calls, self.spawn)
        self.supervision = Supervision(self.calls, lambda: self.config, self.media, self.dialer,
                                       lambda: self.acd.dynamic, self.acd, self.records.talking)
        self.feature_codes = FeatureCodeService(self.media, self.acd,
                                                Mailbox(url, self.writer, config.prompts.default_language),
                                                self.supervision)
        try:
            addresses = await self.endpoint.start()
        except OSError as error:
            listener = self.endpoint.settings.listeners[len(self.endpoint.addresses)]
            await self._abandon_start()
            raise StartupError(f"cannot listen on {listener.transport}:{listener.host}:{listener.port}: "
                               f"{os_reason(error)}") from error
        await restore_live_state(self, url, router_state=not shared)
        for settings in trunk_settings(config):
            trunk = Trunk(settings, self.endpoint)
            self.trunks[settings.name] = trunk
            trunk.start()
        await self._start_api(config)
        self._retention = loop.create_task(keep_recordings(url, self.writer,
                                                           lambda: self.config.recording.retention_days, time.time))
        if config.cluster.heartbeat:
            self.heartbeat = Heartbeat(url, self.node, self.writer, interval=config.cluster.heartbeat,
                                       dead_after=config.cluster.dead_after, router_lease=shared,
                                       sip_address=self._sip_address(config), api_address=self._api_address(config))
            self.heartbeat.on_registrations = self._share_registrations
            if shared:
                self.heartbeat.on_router = self._router_changed
                self.heartbeat.on_router_inputs = lambda inputs: self.acd.adopt(inputs.agent_states,
                                                                                inputs.callbacks)
                self.heartbeat.on_router_seen = self._watch_relays
            await self.heartbeat.start()
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
        if self.heartbeat is not None and self.config.cluster.shared_queues and self.acd.routing:
            await self._hand_over_router()
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
        await self.acd.end_callbacks("server shutdown")  # they are not in self.calls: nothing drained them
        for trunk in self.trunks.values():
            await trunk.stop()
        if self._api is not None:
            await self._api.cleanup()
        self.campaigns.close()
        await self.supervision.close()
        if self._control is not None:
            await self._control.close()
        await self.endpoint.stop()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5.0)
        await stop_keeping(self._retention)
        if self.heartbeat is not None:
            await self.heartbeat.stop()
        self.acd.close()
        await self.webhooks.close()
        flushed = await self.writer.close(within=10.0)
        await self.customers.close()
        logger.info("voxcenter.stopped", records_flushed=flushed)

    async def _start_api(self, config: Config) -> None:
        api = config.api
        if not api.enabled:
            return
        token = os.environ.get("VOXCENTER_API_TOKEN") or api.token
        settings = ApiSettings(host=str(api.address), port=api.port, token=token,
                               tokens=tuple(ApiToken(t.token, t.role, t.agent) for t in api.tokens),
                               router=self._router_api if config.cluster.shared_queues else None)
        try:
            control = ServerControl(self.acd, self.calls, lambda: self.config, self.reload,
                                    database_url=self.database_url, figures=self.figures,
                                    reload_changes=lambda: self.last_reload_changes, sink=self.writer.submit,
                                    events=self.webhooks.emit)
            self._control = control
            self._api, port = await start_api(control, settings, desk=control, monitoring=self.supervision,
                                              campaigns=self.campaigns, sessions=self.desk_sessions)
        except OSError as error:
            # Calls matter more than the admin API: keep serving them and say loudly what is missing.
            logger.error("api.unavailable", address=f"{api.address}:{api.port}", error=str(error))
            return
        self.api_address = f"{api.address}:{port}"
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
            changes = config_changes(self.config, config)
            self.config = config
            self.last_reload_changes = changes
            self.media.reconfigure(config)
            self.dialer.reconfigure(config)
            self.webhooks.reconfigure(endpoints_of(config.webhooks))
            self._lookup = credential_lookup(config)
            for note in self.endpoint.update_settings(endpoint_settings(config)):
                logger.warning("config.reload_partial", note=note)
            self.prompts.clear()
            logger.info("config.reloaded", warnings=len(config.warnings), changes=changes or "none",
                        queues=sorted(config.queues), agents=len(config.agents), calls=len(self.calls))
            return list(config.warnings)

    # --- new calls ------------------------------------------------------------------------------------------------

    async def _on_call(self, session: SipSession) -> None:
        config = self.config
        called = session.called
        if session.user == CLUSTER_USER:
            await self._on_sent_on(session, config)
            return
        if session.trunk is None and session.user is not None and session.user not in config.agents:
            trunk_name = trunk_users(config).get(session.user)
            if trunk_name is not None and not self._trunk_source_allowed(trunk_name, session.remote.host):
                session.reject(403, "Forbidden")
                return
            session.trunk = trunk_name  # a carrier that authenticates with digest instead of (or besides) its IP
        is_agent = session.user is not None and session.user in config.agents and not session.trunk
        if is_agent and await self.feature_codes.handle(config.feature_codes, session, str(session.user), called):
            return
        if is_agent and called not in config.numbers and called in config.agents:
            if called == session.user:
                session.reject(486, "Busy Here")  # an agent calling themselves
                return
            await AgentCall.internal(config, self.dialer, self.records, self.acd, session, str(session.user),
                                     called, self.consultations).run()
            return
        if is_agent and called not in config.numbers:
            route = self.dialer.route_allowed(str(session.user), called)
            if route is None:
                session.reject(403 if config.routes else 404, "Not Allowed")
                return
            await AgentCall.outside(config, self.dialer, self.records, session, str(session.user), called,
                                    route, self.consultations, self.acd).run()
            return
        number = config.numbers.get(called)
        if number is None:
            session.reject(404, "Not Found")
            return
        if number.trunk is not None and session.trunk is not None and number.trunk != session.trunk:
            session.reject(404, "Not Found")
            return
        await self._run_call(InboundCall(self.services, config, session, number.node, number.language))

    async def _run_call(self, call: InboundCall) -> None:
        self.calls[call.call_id] = call
        try:
            await call.run()
        finally:
            self.calls.pop(call.call_id, None)
            if not call.log.handed_over:  # a caller sent on to the router node ends there
                self.tally.call_ended(call.disposition, call.log.cdr.wait_seconds)
                self.webhooks.emit("call.ended", ended_fields(call.log.cdr))
            if not self.calls:
                self._drained.set()

    # --- one router for every node (cluster.shared_queues) ---------------------------------------------------------

    async def _on_sent_on(self, session: SipSession, config: Config) -> None:
        """Another node sent a caller on to this node's queues (it is the router): go on with the call."""
        try:
            entry = parse_entry(session.invite.headers.get(ENTRY_HEADER) or "")
        except ValueError as error:
            session.reject(400, "Bad Entry")
            logger.warning("cluster.bad_entry", reason=str(error))
            return
        if entry.node not in config.ivr or entry.queue not in config.queues:
            session.reject(404, "Not Found")
            return
        session.trunk = entry.trunk or None
        log = CallLog.taken_over(self.writer, CallRecord(
            call_id=entry.call_id, version=entry.version, node=self.node, direction="inbound",
            arrived_at=entry.arrived_at, answered_at=entry.answered_at, from_number=entry.from_number,
            to_number=entry.to_number, trunk=entry.trunk, sip_call_id=entry.sip_call_id))
        await self._run_call(InboundCall(self.services, config, session, entry.node, entry.language or None,
                                         log=log, forwarded=entry))

    def _routes_here(self) -> bool | None:
        return None if self.heartbeat is None else self.heartbeat.routes_here(time.time())

    def _router_address(self) -> str | None:
        router = None if self.heartbeat is None else self.heartbeat.router
        return None if router is None else router.address

    def _router_node(self) -> str | None:
        router = None if self.heartbeat is None else self.heartbeat.router
        return None if router is None else router.holder

    async def _latest_call(self, call_id: str) -> CallRecord | None:
        if self.heartbeat is None:
            return None
        return await self.heartbeat.latest_call(call_id)

    def _node_alive(self, node: str) -> bool:
        return self.heartbeat is not None and node in self.heartbeat.alive_nodes

    def _watch_relays(self) -> None:
        """Callers sent on to a router node that no longer holds the lease are queued again (InboundCall)."""
        holder = self._router_node()
        if holder is None or self._routes_here() is None:
            return
        for call in list(self.calls.values()):
            if call.relayed_to_node is not None and call.relayed_to_node != holder:
                call.router_lost()

    def _router_api(self) -> tuple[str, str] | None:
        """The router node and its API's base URL while it is another node (api/cluster.py)."""
        router = None if self.heartbeat is None else self.heartbeat.router
        if router is None or router.api_address is None or self._routes_here() is not False:
            return None
        return router.holder, f"http://{router.api_address}"

    def _api_address(self, config: Config) -> str | None:
        """Where the other nodes reach this node's API: its address, or the host of ``cluster.address`` when it
        listens on every address."""
        if self.api_address is None:
            return None
        host, _, port = self.api_address.rpartition(":")
        if host in ("0.0.0.0", "::", "[::]"):
            host = self._sip_address(config).rpartition(":")[0]
        return f"{host}:{port}"

    def _sip_address(self, config: Config) -> str:
        """Where the other nodes send this node SIP: ``cluster.address``, or the UDP listener's."""
        if config.cluster.address:
            return config.cluster.address
        local = self.endpoint.address("udp")
        host = self.endpoint.settings.advertised_host or local.host
        if config.cluster.shared_queues and host in ("0.0.0.0", "::", "[::]"):
            raise StartupError(f"cluster.shared_queues: the UDP listener is on {host}; set cluster.address "
                               "to where the other nodes reach this node")
        return f"{host}:{local.port}"

    async def _router_changed(self, routing: bool, handed_over: bool) -> None:
        """This node became the cluster's router (it takes every agent's state and the callbacks owed), or
        another node took the lease (this node's callers go there from now on). ``handed_over``: the last
        router let the lease go as it stopped, and its calls in progress go on (their agents are busy)."""
        self.acd.routing = routing
        if routing:
            await restore_router_state(self, str(self.database_url), handed_over=handed_over)

    async def _hand_over_router(self) -> None:
        """This router node stops: let the lease go and send every caller waiting in its queues on to the next
        router (callers relayed here go back to their entry node, which queues them again), so that one router
        offers every agent while this node's calls in progress finish."""
        assert self.heartbeat is not None
        self.acd.routing = False
        # The next router reads who is on a call here from the database: every agent state written so far must
        # be there before the lease goes.
        await self.writer.flush(5.0)
        try:
            await self.heartbeat.yield_lease()
        except Exception as error:  # the database is away: the lease runs out by itself
            logger.warning("cluster.router_not_released", error=repr(error))
        moved = [call.call_id for call in list(self.calls.values()) if call.leave_for_router()]
        dropped = self.acd.drop_callbacks()
        logger.warning("cluster.router_handed_over", node=self.node, callers=len(moved), callbacks=dropped)

    def figures(self) -> ServerFigures:
        """Trunks, registrations, the live calls' RTP quality and the calls ended so far (for ``/metrics``)."""
        trunks = tuple(TrunkFigure(name, trunk.status.health.value,
                                   trunk.status.registration.value if trunk.settings.register else None)
                       for name, trunk in self.trunks.items())
        bindings = list(self.endpoint.registrar.bindings())
        rtp = []
        for call in list(self.calls.values()):
            if call.leg is not None:
                stats = call.leg.session.stats
                rtp.append((stats.jitter_ms, stats.fraction_lost))
        first_dials = tuple((queue, within, after)
                            for queue, (within, after) in sorted(self.acd.callback_first_dials.items()))
        return ServerFigures(trunks, len(bindings), sum(1 for b in bindings if b.reachable), tuple(rtp), self.tally,
                             first_dials)

    def _trunk_source_allowed(self, trunk_name: str, host: str) -> bool:
        """A digest trunk with ``allow_from`` must also come from those networks."""
        inbound = self.config.trunks[trunk_name].inbound
        if inbound is None or not inbound.allow_from:
            return True
        address = ipaddress.ip_address(host)
        return any(address in ipaddress.ip_network(str(network), strict=False) for network in inbound.allow_from)

    def _on_binding(self, change: BindingChanged) -> None:
        # A restored binding is in the database already; a shared one is another node's (its row is there).
        if change.change not in (BindingChange.RESTORED, BindingChange.SHARED):
            self.writer.submit(registration_record(change, node=self.node, version=self._versions.next(),
                                                   wall_now=time.time(), loop_now=self.endpoint.now()))
        if hasattr(self, "acd"):
            self.acd.binding_changed(change)

    def _share_registrations(self, records: list[RegistrationRecord]) -> None:
        """Keep a copy of the other nodes' UDP bindings made through a trusted proxy (the only ones this node
        can reach: it rings them through the proxy, which knows the phone), ended ones removed."""
        latest: dict[tuple[str, str], RegistrationRecord] = {}
        for record in records:  # the phone may have moved between nodes: the row that lasts longest is the truth
            key = (record.aor, record.contact_uri)
            if key not in latest or record.expires_at > latest[key].expires_at:
                latest[key] = record
        wall_now, loop_now = time.time(), self.endpoint.now()
        shared = [binding for record in latest.values()
                  if record.transport == "udp" and self.endpoint.trunk_of_host(record.host) is not None
                  and (binding := binding_of(record, wall_now=wall_now, loop_now=loop_now)) is not None]
        if shared:
            self.endpoint.share_bindings(shared)

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
