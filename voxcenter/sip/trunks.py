"""SIP trunks: outbound registration, health pings and outbound calls to a carrier or PBX.

Inbound trust (which source networks may send calls without digest) is
configured on the endpoint; this module is the outbound side. A trunk keeps
itself registered for as long as the process runs: failures back off
exponentially with jitter up to a cap and then keep retrying at the cap, since
a carrier that is down for an hour must find us registered again when it comes
back. OPTIONS pings mark the trunk up or down so routing can skip a dead one.

Outbound calls go through :meth:`Trunk.invite`; deciding *whether* a caller
may use a trunk is the dial plan's job (outbound routes), and nothing reaches
this method without having passed it.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import random
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from voxcenter.sip.auth import DigestClient
from voxcenter.sip.endpoint import RequestFailed, SipEndpoint
from voxcenter.sip.message import Response
from voxcenter.sip.session import SipSession
from voxcenter.sip.transport import Address
from voxcenter.sip.uri import NameAddr, SipUri, parse_uri

logger = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class TrunkSettings:
    name: str
    proxy: SipUri
    """Where requests go: ``sip:carrier.example:5060;transport=udp``."""
    username: str | None = None
    password: str | None = None
    register: bool = False
    register_expires: int = 600
    options_interval: float = 30.0
    """Seconds between OPTIONS health pings; 0 turns them off."""
    options_timeout: float = 5.0
    from_domain: str | None = None
    """Domain in From of outbound requests (the carrier's, or ours)."""
    backoff_base: float = 2.0
    backoff_cap: float = 300.0


def registration_backoff(failures: int, *, base: float = 2.0, cap: float = 300.0, rng: random.Random) -> float:
    """Delay before registration attempt number ``failures + 1`` after ``failures`` failures in a row.

    Exponential (base, 2·base, 4·base ...) up to ``cap`` with ±20 % jitter so that
    many nodes restarting together do not hit the carrier in step; never infinite.
    """
    if failures <= 0:
        return 0.0
    delay = min(cap, base * 2 ** min(failures - 1, 30))
    return float(delay * rng.uniform(0.8, 1.2))


def refresh_delay(granted_expires: int) -> float:
    """When to re-register: ahead of expiry by a margin that suits short and long intervals."""
    return max(1.0, min(granted_expires * 0.85, granted_expires - 30.0))


class TrunkState(enum.Enum):
    UNKNOWN = "unknown"
    UP = "up"
    DOWN = "down"


class RegistrationState(enum.Enum):
    UNREGISTERED = "unregistered"
    REGISTERING = "registering"
    REGISTERED = "registered"
    FAILED = "failed"


@dataclass(slots=True)
class TrunkStatus:
    health: TrunkState = TrunkState.UNKNOWN
    registration: RegistrationState = RegistrationState.UNREGISTERED
    last_status: int | None = None
    consecutive_failures: int = 0
    attempts: int = 0
    registered_until: float | None = None
    history: list[int] = field(default_factory=list)
    """Final statuses of the last registration attempts (newest last, bounded)."""


class Trunk:
    """One configured trunk, kept registered and watched while the endpoint runs."""

    def __init__(self, settings: TrunkSettings, endpoint: SipEndpoint, *, rng: random.Random | None = None) -> None:
        self.settings = settings
        self.endpoint = endpoint
        self.status = TrunkStatus()
        self.rng = rng or random.Random()
        self.credentials = (
            DigestClient(settings.username, settings.password)
            if settings.username is not None and settings.password is not None
            else None
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._call_id = f"reg-{self.rng.getrandbits(96):024x}"
        self._cseq = 0

    @property
    def transport(self) -> str:
        return (self.settings.proxy.params.get("transport") or "udp").lower()

    async def destination(self) -> Address:
        """Resolve the proxy to an address (A/AAAA lookup; no NAPTR/SRV)."""
        proxy = self.settings.proxy
        host = proxy.host.strip("[]")
        port = proxy.port or (5061 if self.transport == "tls" else 5060)
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM if self.transport == "udp"
                                       else socket.SOCK_STREAM)
        address = infos[0][4]
        return Address(self.transport, str(address[0]), int(address[1]))

    def start(self) -> None:
        if self.settings.register:
            self._tasks.append(asyncio.get_running_loop().create_task(self._registration_loop()))
        if self.settings.options_interval > 0:
            self._tasks.append(asyncio.get_running_loop().create_task(self._health_loop()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    def _aor(self) -> SipUri:
        domain = self.settings.from_domain or self.settings.proxy.host
        return SipUri("sip", self.settings.username or "voxcenter", None, domain, None)

    async def register_once(self) -> int:
        """One REGISTER exchange (with at most one digest answer per challenge); returns the final status."""
        self.status.registration = RegistrationState.REGISTERING
        self.status.attempts += 1
        self._cseq += 2  # leaves room for the authenticated retry's CSeq + 1
        aor = self._aor()
        registrar_uri = SipUri("sip", None, None, self.settings.proxy.host, self.settings.proxy.port,
                               {k: v for k, v in self.settings.proxy.params.items() if k == "transport"})
        try:
            destination = await self.destination()
            response = await self.endpoint.request(
                "REGISTER", registrar_uri, destination, from_user=aor.user or "voxcenter", to=NameAddr(aor),
                headers=[("Expires", str(self.settings.register_expires))], credentials=self.credentials,
                call_id=self._call_id, cseq=self._cseq,
            )
            status = response.status
        except OSError as error:
            logger.warning("trunk.resolve_failed", trunk=self.settings.name, error=str(error))
            response = None
            status = 503
        self.status.last_status = status
        self.status.history = [*self.status.history[-9:], status]
        if 200 <= status < 300 and response is not None:
            granted = self._granted_expires(response) or self.settings.register_expires
            self.status.registration = RegistrationState.REGISTERED
            self.status.consecutive_failures = 0
            self.status.registered_until = asyncio.get_running_loop().time() + granted
            logger.info("trunk.registered", trunk=self.settings.name, expires=granted)
        else:
            self.status.registration = RegistrationState.FAILED
            self.status.consecutive_failures += 1
            logger.warning("trunk.register_failed", trunk=self.settings.name, status=status,
                           failures=self.status.consecutive_failures)
        return status

    def _granted_expires(self, response: object) -> int | None:
        from voxcenter.sip.message import Response

        assert isinstance(response, Response)
        contact_uri = str(self.endpoint.contact_for(self.transport, self._aor().user or "voxcenter").uri)
        for contact in response.contacts:
            if str(contact.uri) == contact_uri and (value := contact.params.get("expires")) and value.isdigit():
                return int(value)
        header = response.headers.get("Expires")
        return int(header) if header and header.strip().isdigit() else None

    async def _registration_loop(self) -> None:
        while True:
            status = await self.register_once()
            if 200 <= status < 300:
                remaining = (self.status.registered_until or 0) - asyncio.get_running_loop().time()
                await asyncio.sleep(refresh_delay(int(max(remaining, 1))))
            else:
                await asyncio.sleep(
                    registration_backoff(self.status.consecutive_failures, base=self.settings.backoff_base,
                                         cap=self.settings.backoff_cap, rng=self.rng)
                )

    async def ping(self) -> TrunkState:
        """One OPTIONS health check: any response means the trunk is up."""
        try:
            destination = await self.destination()
            response = await asyncio.wait_for(
                self.endpoint.request("OPTIONS", self.settings.proxy.with_(user=None), destination),
                self.settings.options_timeout,
            )
            state = TrunkState.DOWN if response.status in (408, 503) else TrunkState.UP
        except (TimeoutError, OSError):
            state = TrunkState.DOWN
        if state is not self.status.health:
            logger.info("trunk.health", trunk=self.settings.name, state=state.value)
        self.status.health = state
        return state

    async def _health_loop(self) -> None:
        while True:
            await self.ping()
            await asyncio.sleep(self.settings.options_interval)

    async def invite(
        self,
        number: str,
        sdp_offer: bytes,
        *,
        caller_id: str | None = None,
        ring_timeout: float | None = None,
        cancel: asyncio.Event | None = None,
        on_provisional: Callable[[Response], None] | None = None,
    ) -> SipSession:
        """Call ``number`` through this trunk; raises RequestFailed when the far end does not answer.

        Setting ``cancel`` while it rings (the caller gave up) sends CANCEL; ``on_provisional`` sees each
        1xx (a 183 with SDP is early media)."""
        if self.status.health is TrunkState.DOWN:
            raise RequestFailed(503, f"trunk {self.settings.name} is down")
        destination = await self.destination()
        proxy = self.settings.proxy
        target = SipUri("sip", number, None, proxy.host, proxy.port,
                        {k: v for k, v in proxy.params.items() if k == "transport"})
        return await self.endpoint.invite(
            target, destination, sdp_offer, from_user=caller_id or self.settings.username or "voxcenter",
            credentials=self.credentials, ring_timeout=ring_timeout, cancel=cancel, on_provisional=on_provisional,
        )


def trunk_settings_from_uri(name: str, proxy: str, **options: object) -> TrunkSettings:
    """Convenience for tests and the API: ``TrunkSettings`` with the proxy given as text."""
    return TrunkSettings(name=name, proxy=parse_uri(proxy), **options)  # type: ignore[arg-type]
