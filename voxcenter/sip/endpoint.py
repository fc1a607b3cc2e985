"""The SIP endpoint: sockets, one timer and the policy around the sans-IO core.

This is the asyncio shell (with ``transport.py``) of voxcenter's SIP stack.
It feeds parsed messages to the :class:`~voxcenter.sip.dialog.DialogLayer`,
sends what the layer wants sent, keeps exactly one ``loop.call_at`` armed at
the earliest deadline, and applies the server's policy to requests that start
something: who is trusted (trunk ACLs), who must authenticate (digest, with a
ban after repeated failures), REGISTER for agents, OPTIONS, overload (503).

Calls reach the application as :class:`~voxcenter.sip.session.SipSession`
objects: one task per incoming INVITE runs ``application(session)``.
"""

from __future__ import annotations

import asyncio
import contextvars
import ipaddress
import math
import secrets
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

import structlog

from voxcenter.sip.auth import AuthOutcome, DigestAuthenticator, DigestClient, claimed_username
from voxcenter.sip.certificates import certificate_validity
from voxcenter.sip.checks import build_error_response, check_request
from voxcenter.sip.dialog import (
    AckTimedOut,
    Dialog,
    DialogAckReceived,
    DialogLayer,
    DialogTerminated,
    InDialogRequest,
    new_request,
)
from voxcenter.sip.errors import LocalProtocolError, RemoteProtocolError
from voxcenter.sip.message import Request, Response, make_response
from voxcenter.sip.overload import Admission, OverloadControl, OverloadPolicy, Refusal
from voxcenter.sip.ratelimit import RateLimit, SourceRateLimiter, Verdict
from voxcenter.sip.received import stamp_received
from voxcenter.sip.registrar import Binding, BindingChanged, Registrar, RegistrarPolicy, Source
from voxcenter.sip.salvage import salvage_error_response
from voxcenter.sip.security import (
    AccountGuard,
    FailureTracker,
    parse_networks,
    security_log_fields,
    throttle_log_fields,
)
from voxcenter.sip.session import SessionEnded, SipSession
from voxcenter.sip.timers import timer_b
from voxcenter.sip.transaction import (
    CancelReceived,
    ClientTransaction,
    RequestReceived,
    ResponseReceived,
    ServerTransaction,
    TransactionLayer,
    TransactionState,
    TransactionTimedOut,
    TransportFailed,
    make_cancel,
)
from voxcenter.sip.transport import Address, SipTransports, TransportLimits
from voxcenter.sip.uri import NameAddr, SipUri, parse_uri

logger = structlog.get_logger(__name__)
security_log = structlog.get_logger("voxcenter.security")
MAX_DELAYED = 2000
"""Throttled answers waiting at once, at most (each holds a server transaction)."""
FLOOD_EVENT = "sip_flood_banned"
"""The security line logged when a source goes over its request rate and is banned."""

ALLOWED_METHODS = frozenset({"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "INFO", "UPDATE", "NOTIFY",
                             "REFER"})
ALLOW_HEADER = ", ".join(sorted(ALLOWED_METHODS))
SUPPORTED_OPTIONS = frozenset({"replaces", "norefersub"})

CredentialLookup = Callable[[str, str, str], str | None]
"""(username, realm, algorithm) → HA1 hex digest, or None for an unknown user."""
Application = Callable[[SipSession], Awaitable[None]]
"""Runs one incoming call from INVITE to hang-up."""


@dataclass(frozen=True, slots=True)
class Listener:
    """One address the endpoint listens on."""

    transport: str
    """"udp", "tcp", "tls", "ws" or "wss" (SIP over WebSocket, RFC 7118)."""
    host: str
    port: int
    certificate: str | None = None
    """PEM certificate chain (TLS and WSS only)."""
    private_key: str | None = None
    """PEM private key (TLS and WSS only)."""


@dataclass(slots=True)
class EndpointSettings:
    listeners: list[Listener]
    realm: str = "voxcenter"
    """Digest realm agents authenticate in."""
    user_agent: str = "voxcenter"
    advertised_host: str | None = None
    """Host put in Contact and Via (the public address behind NAT); the listener's address by default."""
    trusted_networks: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Trunk name → source networks whose INVITEs are accepted without digest (carriers, PBXs)."""
    agent_trunks: frozenset[str] = frozenset()
    """Trusted trunks that are a SIP proxy agents' phones call through too: an INVITE from one whose From user
    is an account of the realm is digest-checked as that agent's own call, not taken as a carrier's."""
    max_calls: int = 500
    """Above this many calls in progress new INVITEs get 503 with Retry-After. Legs that ring agents' phones
    (``invite(..., agent_leg=True)``) belong to a call already counted and are not counted again."""
    retry_after: int = 10
    """Retry-After of a refused call while refusals are rare; it rises with the share refused."""
    retry_after_max: int = 60
    """Retry-After when every recent call was refused."""
    max_call_rate: float | None = None
    """New calls accepted per second at most; None means no limit."""
    max_loop_lag: float | None = 0.05
    """Smoothed event-loop lag (s) past which new calls are shed (all at twice this); None: never on lag."""
    lag_probe_interval: float = 0.05
    """How often the event-loop lag is sampled."""
    nonce_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    nonce_lifetime: float = 300.0
    auth_algorithms: tuple[str, ...] = ("MD5",)
    """Digest algorithms offered, in challenge order. MD5 alone by default: baresip 1.0 gives up on a 401 that
    also offers SHA-256, and SIPp and many desk phones answer only the first challenge."""
    auth_max_failures: int = 5
    auth_window: float = 60.0
    auth_ban_time: float = 600.0
    never_ban: tuple[str, ...] = ()
    """Networks exempt from source bans (authentication failures and floods); never from the account throttle."""
    flood_requests: int = 16
    """Requests one source may send within ``flood_window`` (Kamailio's antiflood default)."""
    flood_window: float = 2.0
    flood_ban_time: float = 300.0
    """How long a source over its request rate is dropped."""
    trunk_networks: tuple[str, ...] = ()
    """Networks trunks send from (besides ``trusted_networks``): they get ``trunk_flood_requests``."""
    trunk_flood_requests: int = 5000
    """The request limit per ``flood_window`` for trunk sources; 0 means no limit."""
    account_max_failures: int = 10
    """Failures on one account, from any sources, within ``account_window`` that start its throttle."""
    account_window: float = 600.0
    account_delay: float = 2.0
    """While throttled, attempts from addresses the account is not known at wait this long; one per delay is
    checked."""
    registrar: RegistrarPolicy = field(default_factory=RegistrarPolicy)
    keepalive_interval: float = 30.0
    """OPTIONS to each registered phone this often; an unanswered one marks it unreachable."""
    keepalive_timeout: float = 8.0
    transport_limits: TransportLimits = field(default_factory=TransportLimits)


class RequestFailed(Exception):
    """An outbound request ended without a 2xx."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason


class SipEndpoint:
    """voxcenter's SIP endpoint (see the module docstring)."""

    def __init__(
        self,
        settings: EndpointSettings,
        *,
        credentials: CredentialLookup,
        application: Application,
        on_binding_change: Callable[[BindingChanged], None] | None = None,
        ua: DialogLayer | None = None,
    ) -> None:
        self.settings = settings
        self.credentials = credentials
        self.application = application
        self.on_binding_change = on_binding_change
        self.ua = ua or DialogLayer(TransactionLayer())
        self.authenticator = DigestAuthenticator(
            settings.realm, settings.nonce_secret, settings.nonce_lifetime, settings.auth_algorithms
        )
        self.failures = FailureTracker(
            settings.auth_max_failures, settings.auth_window, settings.auth_ban_time, _never_banned(settings)
        )
        self.flood = SourceRateLimiter(
            RateLimit(settings.flood_requests, settings.flood_window), settings.flood_ban_time,
            networks=_flood_networks(settings),
        )
        self.accounts = AccountGuard(settings.account_max_failures, settings.account_window, settings.account_delay)
        self.overload = OverloadControl(_overload_policy(settings))
        self._refusal_logged_at = -math.inf
        self._refused_unlogged = 0
        self._admitted: Request | None = None
        """The new call from a trunk admitted on arrival (``_shed_at_once``), on its way to ``_on_invite``."""
        self._counted: set[str] = set()
        self._lag_probe: asyncio.TimerHandle | None = None
        self._short_queue = False
        self._delayed: set[asyncio.TimerHandle] = set()
        self.registrar = Registrar(settings.registrar)
        self._trusted = [
            (name, ipaddress.ip_network(network, strict=False))
            for name, networks in settings.trusted_networks.items()
            for network in networks
        ]
        self.transports: SipTransports | None = None
        self.addresses: list[Address] = []
        self.sessions: dict[str, SipSession] = {}
        """Calls in progress by session key (Call-ID + INVITE From tag)."""
        self.draining = False
        """Set on shutdown: new calls get 503, calls in progress go on."""
        self._by_dialog: dict[tuple[str, str, str], SipSession] = {}
        self._by_server_tx: dict[ServerTransaction, SipSession] = {}
        self._client_waiters: dict[ClientTransaction, asyncio.Future[Response]] = {}
        self._provisional: dict[ClientTransaction, Callable[[Response], None]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._keepalive_task: asyncio.Task[None] | None = None
        self._pings: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.stats = {"received": 0, "sent": 0, "rejected_overload": 0, "rejected_rate": 0, "rejected_lag": 0,
                      "parse_errors": 0, "rejected_flood": 0, "dropped_flood": 0}

    # --- life cycle -------------------------------------------------------------------------------------------------

    async def start(self) -> list[Address]:
        """Open every listener; returns the bound addresses (port 0 → the real port)."""
        self._loop = asyncio.get_running_loop()
        self.transports = SipTransports(
            self._on_message, self._on_parse_error, self._on_send_failure, limits=self.settings.transport_limits,
            source_refused=self._is_banned, on_websocket_closed=self._websocket_closed,
        )
        for listener in self.settings.listeners:
            context = None
            if listener.transport in ("tls", "wss"):
                context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                context.load_cert_chain(listener.certificate or "", listener.private_key)
                _warn_if_expired(listener.certificate or "", time.time())
            self.addresses.append(
                await self.transports.listen(listener.transport, listener.host, listener.port, context)
            )
        self._keepalive_task = self._loop.create_task(self._keepalive_loop())
        self._schedule_lag_probe()
        return list(self.addresses)

    async def stop(self, drain_timeout: float = 0.0) -> None:
        """Refuse new calls, give calls in progress up to ``drain_timeout`` s, then hang up the rest and close."""
        self.draining = True
        if drain_timeout > 0 and self.sessions:
            await asyncio.wait(
                [asyncio.ensure_future(s.ended) for s in self.sessions.values()], timeout=drain_timeout
            )
        # BYE every call left, together, without waiting out Timer F for peers that do not answer.
        await asyncio.gather(*(session.hangup("shutdown", wait=2.0, ack_wait=2.0)
                               for session in list(self.sessions.values())))
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2.0)
        if self._keepalive_task is not None:
            self._keepalive_task.cancel()
        for ping in list(self._pings):
            ping.cancel()
        if self._lag_probe is not None:
            self._lag_probe.cancel()
            self._lag_probe = None
        for handle in self._delayed:
            handle.cancel()
        self._delayed.clear()
        if self._timer is not None:
            self._timer.cancel()
        # Give final messages (BYE, 200) a moment to leave before the sockets close.
        await asyncio.sleep(0.05)
        if self.transports is not None:
            await self.transports.close()

    def update_settings(self, settings: EndpointSettings) -> list[str]:
        """Apply a reloaded configuration: trusted trunk networks, limits, digest policy.

        Bans and failure counts are kept; so are nonces unless the realm or the algorithms change.
        Listeners cannot move while calls use them: the returned notes name what needs a restart.
        """
        notes: list[str] = []
        if settings.listeners != self.settings.listeners:
            notes.append("listen addresses changed: they take effect at the next restart")
        if (settings.realm, settings.auth_algorithms, settings.nonce_lifetime) != (
            self.settings.realm, self.settings.auth_algorithms, self.settings.nonce_lifetime
        ):
            self.authenticator = DigestAuthenticator(
                settings.realm, self.settings.nonce_secret, settings.nonce_lifetime, settings.auth_algorithms
            )
        self.failures.allowlist = parse_networks(_never_banned(settings))
        self.accounts.reconfigure(settings.account_max_failures, settings.account_window, settings.account_delay)
        self.flood.reconfigure(
            RateLimit(settings.flood_requests, settings.flood_window), settings.flood_ban_time,
            _flood_networks(settings),
        )
        self._trusted = [
            (name, ipaddress.ip_network(network, strict=False))
            for name, networks in settings.trusted_networks.items()
            for network in networks
        ]
        if self.transports is not None:
            self.transports.limits = settings.transport_limits
        self.overload.reconfigure(_overload_policy(settings))
        settings.listeners = self.settings.listeners
        settings.nonce_secret = self.settings.nonce_secret
        self.settings = settings
        return notes

    def address(self, transport: str = "udp") -> Address:
        for address in self.addresses:
            if address.transport == transport:
                return address
        raise LookupError(f"no {transport} listener")

    def contact_for(self, transport: str, user: str = "voxcenter") -> NameAddr:
        local = self.address(transport)
        host = self.settings.advertised_host or local.host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        params: dict[str, str | None] = {} if transport == "udp" else {"transport": transport}
        # sip: with transport=tls rather than sips: (RFC 5630 §3.1.3): baresip and many desk phones end a call
        # whose Contact is a sips: URI ("Function not implemented"), and the hop is TLS either way.
        return NameAddr(SipUri("sip", user, None, host, local.port, params))

    def via_sent_by(self, transport: str) -> str:
        local = self.address(transport)
        host = self.settings.advertised_host or local.host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"{host}:{local.port}"

    @property
    def calls_in_progress(self) -> int:
        """Customer calls up now: inbound calls and outbound ones, not the legs ringing agents' phones."""
        return len(self._counted)

    def _schedule_lag_probe(self) -> None:
        assert self._loop is not None
        interval = self.settings.lag_probe_interval
        due = self._loop.time() + interval
        self._lag_probe = self._loop.call_at(due, self._probe_lag, due, context=contextvars.Context())

    def _probe_lag(self, due: float) -> None:
        """How late this callback runs is how long anything ready waited for the loop."""
        now = self._now()
        self.overload.record_lag(now - due, now)
        if self.overload.shedding != self._short_queue:
            self._short_queue = self.overload.shedding
            if self.transports is not None:
                self.transports.set_receive_buffer(self._short_queue)
            logger.warning("sip.overload_started" if self._short_queue else "sip.overload_ended",
                           loop_lag_ms=round(1000 * self.overload.lag, 1), calls=len(self._counted),
                           refused=self.stats["rejected_overload"])
        self._schedule_lag_probe()

    # --- the pump: after every input, flush outputs, hand out events, re-arm the timer -------------------------------

    def _now(self) -> float:
        assert self._loop is not None
        return self._loop.time()

    def now(self) -> float:
        """The endpoint's clock (the loop's): the one binding expiries are on."""
        return self._now()

    def _pump(self) -> None:
        while (event := self.ua.next_event()) is not None:
            try:
                self._dispatch(event)
            except Exception:
                logger.exception("sip.event_handler_crash", event=type(event).__name__)
        self._flush()
        self._arm_timer()

    def _flush(self) -> None:
        assert self.transports is not None
        for data, destination in self.ua.datagrams_to_send():
            assert isinstance(destination, Address)
            self.stats["sent"] += 1
            self.transports.send(data, destination)

    def _arm_timer(self) -> None:
        deadline = self.ua.get_timer()
        registrar_deadline = self.registrar.get_timer()
        if registrar_deadline is not None and (deadline is None or registrar_deadline < deadline):
            deadline = registrar_deadline
        if deadline == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = deadline
        if deadline is not None:
            assert self._loop is not None
            # The one timer serves every call: it must not run in the context of the call that armed it.
            self._timer = self._loop.call_at(deadline, self._on_timer, context=contextvars.Context())

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        now = self._now()
        self.ua.handle_timer(now)
        self.registrar.handle_timer(now)
        self._drain_registrar_events()
        self._pump()

    # --- input ------------------------------------------------------------------------------------------------------

    def _on_message(self, message: Request | Response, source: Address) -> None:
        self.stats["received"] += 1
        now = self._now()
        if isinstance(message, Request):
            verdict = self.flood.admit(source.host, now)
            if verdict is not Verdict.ADMIT:
                self._refuse_flood(message, source, verdict)
                return
            if self.failures.is_banned(source.host, time.time()):
                return  # banned sources are ignored, not answered
            if message.method == "INVITE" and self._shed_at_once(message, source):
                return
            stamp_received(message, source.host, source.port)
        self.ua.receive(message, source, now, reliable=source.reliable)
        self._pump()

    def _is_banned(self, host: str) -> bool:
        """Whether ``host`` is banned, for a flood or for failed authentications: its connections are refused."""
        return self.flood.is_banned(host, self._now()) or self.failures.is_banned(host, time.time())

    def _refuse_flood(self, request: Request | None, source: Address, verdict: Verdict) -> None:
        """A source over its request rate: its first request over gets a 503 (sent once), then nothing."""
        if verdict is Verdict.DROP:
            self.stats["dropped_flood"] += 1
            return
        self.stats["rejected_flood"] += 1
        ban_time = self.settings.flood_ban_time
        security_log.warning(event=FLOOD_EVENT, src_ip=source.host, src_port=source.port,
                             limit=self.settings.flood_requests, window=self.settings.flood_window,
                             ban_seconds=ban_time)
        if request is None or request.method == "ACK" or self.transports is None:
            return
        try:
            response = make_response(request, 503, to_tag=secrets.token_hex(6))
        except RemoteProtocolError:
            return
        response.headers.add("Retry-After", str(int(ban_time)))
        response.headers.add("Server", self.settings.user_agent)
        self.stats["sent"] += 1
        self.transports.send(response.encode(), source)

    def _on_parse_error(self, data: bytes, error: RemoteProtocolError, source: Address) -> None:
        self.stats["parse_errors"] += 1
        logger.info("sip.bad_message", source=str(source), reason=error.reason)
        verdict = self.flood.admit(source.host, self._now())
        if verdict is not Verdict.ADMIT:
            self._refuse_flood(None, source, verdict)
            return
        if error.status_hint is None or self.failures.is_banned(source.host, time.time()):
            return
        response = salvage_error_response(data, error.status_hint, error.reason, secrets.token_hex(6))
        if response is not None and self.transports is not None:
            self.transports.send(response.encode(), source)

    def _on_send_failure(self, destination: Address) -> None:
        self.ua.transport_failed(destination, self._now())  # through the dialog layer: its events reach us now
        self._pump()

    def _dispatch(self, event: object) -> None:
        if isinstance(event, RequestReceived):
            self._on_request(event)
        elif isinstance(event, InDialogRequest):
            self._on_in_dialog_request(event)
        elif isinstance(event, ResponseReceived):
            self._on_response(event.transaction, event.response)
        elif isinstance(event, CancelReceived):
            self._on_cancel(event)
        elif isinstance(event, DialogAckReceived):
            session = self._by_dialog.get(event.dialog.id)
            if session is not None:
                session._acked(event.request)
        elif isinstance(event, AckTimedOut):
            session = self._by_dialog.get(event.dialog.id)
            if session is not None:
                session.ack_timed_out = True
                session.confirmed.set()  # a hang-up waiting for the ACK may send its BYE now
                self._spawn(session.hangup("no ACK"))
        elif isinstance(event, DialogTerminated):
            session = self._by_dialog.pop(event.dialog.id, None)
            if session is not None:
                session._end(event.reason)
        elif isinstance(event, TransactionTimedOut | TransportFailed):
            transaction = event.transaction
            if isinstance(transaction, ClientTransaction):
                status = 408 if isinstance(event, TransactionTimedOut) else 503
                self._fail_waiter(transaction, status, "Request Timeout" if status == 408 else "Transport Failed")
            elif isinstance(transaction, ServerTransaction):
                session = self._by_server_tx.pop(transaction, None)
                if session is not None and not session.answered:
                    session._end("transaction timed out")

    # --- out-of-dialog requests -------------------------------------------------------------------------------------

    def _respond(self, transaction: ServerTransaction, response: Response) -> Dialog | None:
        self._finish_response(response)
        return self.ua.send_response(transaction, response, self._now())

    def _respond_statelessly(self, transaction: ServerTransaction, response: Response) -> None:
        """Answer once and keep nothing (RFC 3261 §8.2.7): challenges and refusals that a flood must not multiply.

        A stateful INVITE 401 is retransmitted until ACKed (Timer G, about 10 times over 32 s on UDP): a flooder
        that never ACKs, or a spoofed source, would get one request amplified tenfold. A retransmitted request
        finds no transaction and is answered again, once.
        """
        self._finish_response(response)
        self.ua.send_response_statelessly(transaction, response, self._now())

    def _finish_response(self, response: Response) -> None:
        if response.status != 100 and response.to.tag is None:
            response.headers.set("To", f"{response.headers.get('To')};tag={secrets.token_hex(6)}")
        response.headers.add("Server", self.settings.user_agent)

    def _on_request(self, event: RequestReceived) -> None:
        request, transaction = event.request, event.transaction
        source = event.source
        assert isinstance(source, Address)
        error = check_request(request, supported=SUPPORTED_OPTIONS, methods=ALLOWED_METHODS)
        if error is not None:
            response = build_error_response(request, error)
            if response is not None:
                self._respond(transaction, response)
            return
        method = request.method
        if method == "OPTIONS" and self.draining:
            # A proxy pinging its nodes (Kamailio's dispatcher) takes this one out before it stops.
            response = make_response(request, 503)
            response.headers.add("Retry-After", str(self.settings.retry_after))
            self._respond(transaction, response)
        elif method == "OPTIONS":
            response = make_response(request, 200)
            response.headers.add("Allow", ALLOW_HEADER)
            response.headers.add("Accept", "application/sdp")
            response.headers.add("Supported", ", ".join(sorted(SUPPORTED_OPTIONS)))
            self._respond(transaction, response)
        elif method == "REGISTER":
            self._on_register(transaction, request, source)
        elif method == "INVITE":
            if request.to.tag is not None:
                self._respond(transaction, make_response(request, 481))  # a re-INVITE for a dialog we don't know
            else:
                self._on_invite(transaction, request, source)
        else:
            # BYE, INFO, UPDATE, NOTIFY outside a dialog.
            self._respond(transaction, make_response(request, 481 if method in ("BYE", "INFO", "UPDATE") else 405))

    def _authenticate(
        self, transaction: ServerTransaction, request: Request, source: Address
    ) -> str | None:
        """Digest-check a request; answers it (401/400) and returns None unless it authenticated.

        An account under attack (``AccountGuard``) is answered slowly, and mostly unchecked, from addresses
        it is not known at; from its phone's address it works as usual.
        """
        now, clock = time.time(), self._now()
        authorization = request.headers.get_all("Authorization")
        account = claimed_username(authorization) if authorization else None
        throttle = None
        if account is not None:
            # never_ban and trunk addresses are shared (a proxy, an office's NAT): never "known" for one account.
            shared = self.failures.is_exempt(source.host)
            throttle = self.accounts.check(account, source.host, clock, shared=shared,
                                           known=not shared and self._registered_from(account, source))
        if throttle is not None and not throttle.verify:
            assert account is not None
            self._account_failure(account, source, clock)
            # Counted against the source as a failure too: guessing at an account under attack from an address
            # it is not known at is how the attack goes on.
            ban = self.failures.record_failure(source.host, now, account, "account_throttled")
            security_log.warning(**security_log_fields(source.host, source.port, account, "account_throttled",
                                                       method=request.method, realm=self.settings.realm,
                                                       banned=ban is not None))
            response = make_response(request, 401)
            for value in self.authenticator.challenge(now):
                response.headers.add("WWW-Authenticate", value)
            self._answer_later(transaction, response, throttle.delay)
            return None
        result = self.authenticator.verify(request.method, authorization, self.credentials, now,
                                           request_uri=str(request.uri))
        if result.ok:
            assert result.username is not None
            self.accounts.record_success(result.username, source.host, clock)
            return result.username
        if result.counts_as_failure:
            reason = result.cause.value if result.cause else "failed"
            ban = self.failures.record_failure(source.host, now, result.username, reason)
            security_log.warning(
                **security_log_fields(
                    source.host, source.port, result.username, reason,
                    method=request.method, realm=self.settings.realm, banned=ban is not None,
                )
            )
            if result.username is not None:
                self._account_failure(result.username, source, clock)
        if result.outcome is AuthOutcome.BAD_REQUEST:
            response = make_response(request, 400, "Malformed Credentials")
        else:
            response = make_response(request, 401)
            for value in result.challenge:
                response.headers.add("WWW-Authenticate", value)
        if throttle is not None:
            self._answer_later(transaction, response, throttle.delay)
        else:
            self._respond_statelessly(transaction, response)
        return None

    def _account_failure(self, account: str, source: Address, clock: float) -> None:
        alert = self.accounts.record_failure(account, source.host, clock)
        if alert is not None:
            security_log.warning(**throttle_log_fields(alert, source.host, self.accounts.window, self.accounts.delay))

    def _registered_from(self, account: str, source: Address) -> bool:
        """Whether a phone of ``account`` is registered from this address right now (it is the agent's)."""
        return any(binding.source.host == source.host for binding in self.registrar.lookup(account,
                                                                                           reachable_only=False))

    def _answer_later(self, transaction: ServerTransaction, response: Response, delay: float) -> None:
        """Send a stateless answer after ``delay`` seconds (a throttled account); past ``MAX_DELAYED`` waiting
        answers the rest go at once, so that an attack cannot make us hold transactions without bound."""
        if len(self._delayed) >= MAX_DELAYED or self._loop is None:
            self._respond_statelessly(transaction, response)
            return

        def answer() -> None:
            self._delayed.discard(handle)
            if transaction.state is TransactionState.TERMINATED:
                return
            try:
                self._respond_statelessly(transaction, response)
            except LocalProtocolError:
                return  # answered meanwhile (a CANCEL's 487)
            self._pump()

        handle = self._loop.call_later(delay, answer)
        self._delayed.add(handle)

    def _on_register(self, transaction: ServerTransaction, request: Request, source: Address) -> None:
        user = self._authenticate(transaction, request, source)
        if user is None:
            return
        response = self.registrar.register(
            request, Source(source.transport, source.host, source.port), user, self._now()
        )
        self._respond(transaction, response)
        self._drain_registrar_events()

    def trunk_of_host(self, host: str) -> str | None:
        """The trusted trunk whose addresses hold ``host`` (``trunks.<name>.inbound.allow_from``), if any."""
        return self._trunk_of(Address("udp", host, 0))

    def share_bindings(self, bindings: Iterable[Binding]) -> int:
        """Hold copies of bindings other nodes keep (expiries on this endpoint's clock; an expired one removes
        its copy); how many came or went (see ``Registrar.share``)."""
        now = self._now()
        changed = sum(1 for binding in bindings if self.registrar.share(binding, now))
        self._drain_registrar_events()
        self._arm_timer()
        return changed

    def _trunk_of(self, source: Address) -> str | None:
        address = ipaddress.ip_address(source.host)
        for name, network in self._trusted:
            if address in network:
                return name
        return None

    def _shed_at_once(self, request: Request, source: Address) -> bool:
        """Admission for a new call from a trunk, decided before any transaction or dialog is made: a refused one
        gets its 503 built from its own headers and sent back where it came from, the cheapest answer there is
        while shedding load (it cost about three times as much through the transaction layer). True: refused."""
        if self.draining or self.transports is None or self._trunk_of(source) is None:
            return False
        try:
            if request.to.tag is not None or self.ua.transactions.has_server(request):
                return False  # a re-INVITE, or a retransmission of a call taken
        except RemoteProtocolError:
            return False  # malformed: the full path answers it
        admission = self.overload.admit(self._now(), len(self._counted))
        if admission.refusal is None:
            self._admitted = request  # _on_invite takes it without counting it twice
            return False
        self._count_refusal(admission.refusal)
        self.stats["rejected_overload"] += 1
        stamp_received(request, source.host, source.port)  # RFC 3581: the Via of the answer says where it went
        try:
            response = make_response(request, 503, to_tag=secrets.token_hex(6))
        except RemoteProtocolError:
            return True  # too broken to answer, and refused anyway
        response.headers.add("Retry-After", str(admission.retry_after))
        response.headers.add("Server", self.settings.user_agent)
        self.stats["sent"] += 1
        self.transports.send(response.encode(), source)
        return True

    def _count_refusal(self, refusal: Refusal | None) -> None:
        if refusal is Refusal.RATE:
            self.stats["rejected_rate"] += 1
        elif refusal is Refusal.LAG:
            self.stats["rejected_lag"] += 1
        if refusal is not None:
            self._log_refusal(refusal)

    def _on_invite(self, transaction: ServerTransaction, request: Request, source: Address) -> None:
        if self.draining:
            self._refuse_call(transaction, request, self.settings.retry_after)
            return
        trunk = self._trunk_of(source)
        # Load is shed on the customers' calls that trunks bring; an agent's phone (a login, a call out) is
        # only held to the limit of calls in progress: refusing agents would leave the queues less staffed.
        if trunk is not None and self._admitted is request:
            admission: Admission | None = Admission(None)  # admitted on arrival (_shed_at_once)
        else:
            admission = self.overload.admit(self._now(), len(self._counted)) if trunk is not None else None
        self._admitted = None
        if admission is None and len(self._counted) >= self.overload.policy.max_calls:
            admission = Admission(Refusal.CALLS, self.overload.policy.retry_after)
        if admission is not None and admission.refusal is not None:
            self._count_refusal(admission.refusal)
            self._refuse_call(transaction, request, admission.retry_after)
            return
        user: str | None = None
        if trunk in self.settings.agent_trunks and self._is_account(request.from_.uri.user):
            trunk = None  # an agent's phone behind the proxy: its login, feature codes and calls out
        if trunk is None:
            user = self._authenticate(transaction, request, source)
            if user is None:
                return
        session = SipSession(self, request, transaction, source, inbound=True, trunk=trunk, user=user)
        self.sessions[session.key] = session
        self._counted.add(session.key)
        self._by_server_tx[transaction] = session
        self._spawn(self._run_application(session))

    def _is_account(self, user: str | None) -> bool:
        return user is not None and self.credentials(user, self.settings.realm, "MD5") is not None

    def _log_refusal(self, refusal: Refusal) -> None:
        """One line a second at most while calls are refused, with how many were."""
        self._refused_unlogged += 1
        now = self._now()
        if now - self._refusal_logged_at >= 1.0:
            logger.warning("sip.overload", reason=refusal.value, refused=self._refused_unlogged,
                           calls=len(self._counted), loop_lag_ms=round(self.overload.lag * 1000, 1))
            self._refusal_logged_at, self._refused_unlogged = now, 0

    def _refuse_call(self, transaction: ServerTransaction, request: Request, retry_after: int) -> None:
        self.stats["rejected_overload"] += 1
        response = make_response(request, 503)
        response.headers.add("Retry-After", str(retry_after))
        self._respond_statelessly(transaction, response)

    async def _run_application(self, session: SipSession) -> None:
        with structlog.contextvars.bound_contextvars(sip_call_id=session.call_id):
            try:
                await self.application(session)
            except Exception:
                logger.exception("call.application_crash")
            finally:
                if not session.is_ended:
                    await session.hangup("application finished")

    def _on_cancel(self, event: CancelReceived) -> None:
        session = self._by_server_tx.get(event.invite_transaction)
        cancelled = session is not None and not session.answered
        # An INVITE answered meanwhile has let its request go: only the CANCEL's 200 is owed then.
        ok, terminated = event.responses() if cancelled else (event.ok(), None)
        ok.headers.add("Server", self.settings.user_agent)
        self.ua.send_response(event.transaction, ok, self._now())
        if session is not None and terminated is not None:
            self.ua.send_response(event.invite_transaction, terminated, self._now())
            session._end("cancelled")

    # --- in-dialog requests -----------------------------------------------------------------------------------------

    def _on_in_dialog_request(self, event: InDialogRequest) -> None:
        request, transaction = event.request, event.transaction
        session = self._by_dialog.get(event.dialog.id)
        method = request.method
        if session is None:
            self.ua.send_response(transaction, make_response(request, 481), self._now())
            return
        if method == "BYE":
            self.ua.send_response(transaction, make_response(request, 200), self._now())
            session.remote_reason = request.headers.get("Reason")
            session._end("remote hangup")
        elif method in ("INVITE", "UPDATE"):
            answer = session._offer_received(request)
            if answer is None:
                self._respond(transaction, make_response(request, 488))
            else:
                response = make_response(request, 200)
                response.headers.add("Contact", session.local_contact)
                response.headers.add("Content-Type", "application/sdp")
                response.body = answer
                self.ua.send_response(transaction, response, self._now())
        elif method == "INFO":
            session._info_received(request)
            self.ua.send_response(transaction, make_response(request, 200), self._now())
        elif method == "REFER":
            status = session._refer_received(request)
            response = make_response(request, status)
            if status == 405:
                response.headers.add("Allow", ALLOW_HEADER)
            if status == 202 and not session.refer_subscription(request):
                response.headers.add("Refer-Sub", "false")  # RFC 4488: the phone asked for no NOTIFYs
            self.ua.send_response(transaction, response, self._now())
        elif method == "NOTIFY":
            session._notify_received(request)
            self.ua.send_response(transaction, make_response(request, 200), self._now())
        elif method == "OPTIONS":
            self.ua.send_response(transaction, make_response(request, 200), self._now())
        else:
            response = make_response(request, 405)
            response.headers.add("Allow", ALLOW_HEADER)
            self.ua.send_response(transaction, response, self._now())

    # --- client side ------------------------------------------------------------------------------------------------

    def send(
        self,
        request: Request,
        destination: Address,
        *,
        on_provisional: Callable[[Response], None] | None = None,
    ) -> tuple[ClientTransaction, asyncio.Future[Response]]:
        """Send a request in a new client transaction; the future gets its final response."""
        assert self._loop is not None
        transaction = self.ua.send_request(request, destination, self._now(), reliable=destination.reliable)
        future: asyncio.Future[Response] = self._loop.create_future()
        self._client_waiters[transaction] = future
        if on_provisional is not None:
            self._provisional[transaction] = on_provisional
        self._pump()
        return transaction, future

    async def request(
        self,
        method: str,
        uri: SipUri,
        destination: Address,
        *,
        from_user: str = "voxcenter",
        to: NameAddr | None = None,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        content_type: str | None = None,
        credentials: DigestClient | None = None,
        call_id: str | None = None,
        cseq: int = 1,
    ) -> Response:
        """Send an out-of-dialog request (OPTIONS, REGISTER, MESSAGE ...) and return its final response.

        A 401/407 is answered once per challenge when ``credentials`` are given.
        """
        attempts: list[str] = []
        request = self._new_request(method, uri, destination, from_user=from_user, to=to, call_id=call_id,
                                    cseq=cseq, body=body, content_type=content_type)
        for name, value in headers:
            request.headers.add(name, value)
        while True:
            _, future = self.send(request, destination)
            response = await future
            if response.status not in (401, 407) or credentials is None:
                return response
            header = "WWW-Authenticate" if response.status == 401 else "Proxy-Authenticate"
            answer = credentials.authorize(method, str(request.uri), response.headers.get_all(header), attempts)
            if answer is None:
                return response
            attempts.append(answer)
            request = self._next_attempt(request, "Authorization" if response.status == 401
                                         else "Proxy-Authorization", answer)

    def _new_request(
        self, method: str, uri: SipUri, destination: Address, *, from_user: str, to: NameAddr | None,
        call_id: str | None = None, cseq: int = 1, body: bytes = b"", content_type: str | None = None,
    ) -> Request:
        transport = destination.transport
        contact = self.contact_for(transport, from_user)
        from_ = NameAddr(SipUri("sip", from_user, None, contact.uri.host, None))
        request = new_request(
            method, uri, from_=from_, to=to or NameAddr(uri.with_(params={}, headers={})),
            via_sent_by=self.via_sent_by(transport), rng=self.ua.rng, transport=transport.upper(),
            contact=contact if method in ("INVITE", "REGISTER", "SUBSCRIBE") else None,
            call_id=call_id, cseq=cseq, body=body, content_type=content_type,
        )
        request.headers.add("User-Agent", self.settings.user_agent)
        return request

    @staticmethod
    def _next_attempt(request: Request, auth_header: str, answer: str) -> Request:
        """The same request again with credentials: same Call-ID and tags, CSeq + 1, new branch (§22.2)."""
        retry = Request(method=request.method, uri=request.uri, headers=request.headers.copy(), body=request.body)
        cseq = request.cseq
        retry.headers.set("CSeq", f"{cseq.number + 1} {cseq.method}")
        via = request.headers.values("Via")[0]
        retry.headers.remove_first("Via")
        retry.headers.prepend("Via", via.split(";branch=")[0] + ";branch=z9hG4bK-unset")
        retry.headers.remove("Authorization")
        retry.headers.remove("Proxy-Authorization")
        retry.headers.add(auth_header, answer)
        return retry

    async def invite(
        self,
        target: SipUri,
        destination: Address,
        sdp_offer: bytes,
        *,
        from_user: str = "voxcenter",
        from_display: str | None = None,
        to: NameAddr | None = None,
        headers: Iterable[tuple[str, str]] = (),
        credentials: DigestClient | None = None,
        on_provisional: Callable[[Response], None] | None = None,
        ring_timeout: float | None = None,
        cancel: asyncio.Event | None = None,
        agent_leg: bool = False,
    ) -> SipSession:
        """Place a call; returns the answered session or raises RequestFailed (busy, no answer, timeout ...).

        Setting ``cancel`` while it rings sends CANCEL (RFC 3261 §9.1): RequestFailed(487) follows.
        ``agent_leg``: the call rings a phone for a call already in progress (not counted in
        :attr:`calls_in_progress`).
        """
        request = self._new_request("INVITE", target, destination, from_user=from_user, to=to, body=sdp_offer,
                                    content_type="application/sdp")
        if from_display:
            from_ = request.from_
            request.headers.set("From", str(NameAddr(from_.uri, from_display, from_.params)))
        for name, value in headers:
            request.headers.add(name, value)
        attempts: list[str] = []
        session = SipSession(self, request, None, destination, inbound=False, trunk=None, user=from_user)
        self.sessions[session.key] = session
        if not agent_leg:
            self._counted.add(session.key)
        try:
            while True:
                transaction, future = self.send(request, destination, on_provisional=on_provisional)
                session._client_invite = transaction
                waiters: set[asyncio.Future[object]] = {future}  # type: ignore[arg-type]
                cancel_wait = asyncio.ensure_future(cancel.wait()) if cancel is not None else None
                if cancel_wait is not None:
                    waiters.add(cancel_wait)  # type: ignore[arg-type]
                try:
                    await asyncio.wait(waiters, timeout=ring_timeout, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    if cancel_wait is not None:
                        cancel_wait.cancel()
                if not future.done():
                    # Ring timeout or cancelled by the application: CANCEL, then take the final answer.
                    cancelled = cancel is not None and cancel.is_set()
                    self._cancel(transaction)
                    try:
                        response = await asyncio.wait_for(asyncio.shield(future),
                                                          timer_b(self.ua.transactions.timers))
                    except TimeoutError:
                        # RFC 3261 §9.1: no final response 64·T1 after our CANCEL (a far end that never sends
                        # its 487): the INVITE is given up, or the call would ring here for ever.
                        self._fail_waiter(transaction, 408, "No final response after CANCEL")
                        response = future.result()
                    if 200 <= response.status < 300:
                        # The 200 crossed our CANCEL: take the call and end it properly.
                        self._accept_answer(session, request, response, destination)
                        await session.hangup("cancelled" if cancelled else "ring timeout")
                    raise RequestFailed(487, "Request Terminated") if cancelled else RequestFailed(408, "No Answer")
                response = future.result()
                if response.status in (401, 407) and credentials is not None:
                    header = "WWW-Authenticate" if response.status == 401 else "Proxy-Authenticate"
                    answer = credentials.authorize("INVITE", str(request.uri), response.headers.get_all(header),
                                                   attempts)
                    if answer is not None:
                        attempts.append(answer)
                        request = self._next_attempt(
                            request, "Authorization" if response.status == 401 else "Proxy-Authorization", answer
                        )
                        session.invite = request
                        continue
                if not 200 <= response.status < 300:
                    raise RequestFailed(response.status, response.reason)
                self._accept_answer(session, request, response, destination)
                return session
        except BaseException:
            if not session.answered:
                session._end("not answered")
            raise

    def _accept_answer(self, session: SipSession, request: Request, response: Response, destination: Address) -> None:
        dialog_id = (request.call_id, request.from_.tag or "", response.to.tag or "")
        dialog = self.ua.dialogs.get(dialog_id)
        if dialog is None:
            raise RequestFailed(500, "No dialog for 2xx")
        self.ua.send_ack(dialog, destination, self._now())
        session._answered_outbound(dialog, response)
        self._by_dialog[dialog.id] = session
        self._pump()

    def cancel(self, session: SipSession) -> None:
        if session._client_invite is not None:
            self._cancel(session._client_invite)

    def _cancel(self, transaction: ClientTransaction) -> None:
        cancel = make_cancel(transaction.request)
        destination = transaction.destination
        assert isinstance(destination, Address)
        transaction_cancel = self.ua.send_request(cancel, destination, self._now(), reliable=destination.reliable)
        assert self._loop is not None
        self._client_waiters[transaction_cancel] = self._loop.create_future()
        self._pump()

    def _on_response(self, transaction: ClientTransaction, response: Response) -> None:
        if response.status < 200:
            callback = self._provisional.get(transaction)
            if callback is not None:
                callback(response)
            return
        future = self._client_waiters.pop(transaction, None)
        self._provisional.pop(transaction, None)
        if not transaction.is_invite:
            transaction.release()  # it lingers for Timer K, absorbing retransmitted answers only
        if future is not None and not future.done():
            future.set_result(response)

    def _fail_waiter(self, transaction: ClientTransaction, status: int, reason: str) -> None:
        future = self._client_waiters.pop(transaction, None)
        self._provisional.pop(transaction, None)
        if future is not None and not future.done():
            response = make_response(transaction.request, status, reason)
            future.set_result(response)

    # --- sessions (called by SipSession) ----------------------------------------------------------------------------

    def _session_respond(self, session: SipSession, response: Response) -> None:
        assert session.server_transaction is not None
        dialog = self._respond(session.server_transaction, response)
        if dialog is not None:
            self._by_dialog[dialog.id] = session
            session.dialog = dialog
        if response.status >= 300:
            self._by_server_tx.pop(session.server_transaction, None)
        self._pump()

    def _session_request(self, session: SipSession, request: Request) -> asyncio.Future[Response]:
        _, future = self.send(request, session.remote)
        return future

    def _session_ended(self, session: SipSession) -> None:
        self.sessions.pop(session.key, None)
        self._counted.discard(session.key)
        if session.server_transaction is not None:
            self._by_server_tx.pop(session.server_transaction, None)
        if session.dialog is not None:
            self._by_dialog.pop(session.dialog.id, None)

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        assert self._loop is not None
        # A task of its own context: a session's work never carries the call_id of the task that started it.
        task: asyncio.Task[None] = self._loop.create_task(coroutine, context=contextvars.Context())  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- registrar --------------------------------------------------------------------------------------------------

    def restore_bindings(self, bindings: Iterable[Binding]) -> int:
        """Put back registrations kept across a restart (expiries on this endpoint's clock); how many were."""
        now = self._now()
        restored = sum(1 for binding in bindings if self.registrar.restore(binding, now))
        self._drain_registrar_events()
        self._arm_timer()
        return restored

    def _drain_registrar_events(self) -> None:
        while (change := self.registrar.next_event()) is not None:
            logger.info("sip.binding", aor=change.binding.aor, change=change.change.value,
                        source=f"{change.binding.source.host}:{change.binding.source.port}")
            if self.on_binding_change is not None:
                try:
                    self.on_binding_change(change)
                except Exception:
                    logger.exception("sip.binding_handler_crash")

    def _websocket_closed(self, remote: Address) -> None:
        """A browser's connection is gone: its bindings are unreachable at once (nobody can connect to it), so
        no call rings it; a new connection registers anew."""
        for binding in list(self.registrar.bindings()):
            source = binding.source
            if (source.transport, source.host, source.port) == (remote.transport, remote.host, remote.port):
                self.registrar.set_reachable(binding.aor, str(binding.contact.uri), False)
        self._drain_registrar_events()

    async def _keepalive_loop(self) -> None:
        """OPTIONS every registered phone once per interval; one that stops answering is marked unreachable (and
        never rung). The pings of one round are spread evenly over the interval, not sent in one burst."""
        assert self._loop is not None
        loop = self._loop
        round_start = loop.time()
        while True:
            interval = self.settings.keepalive_interval
            round_start += interval
            await asyncio.sleep(max(0.0, round_start - loop.time()))
            bindings = list(self.registrar.bindings())
            for offset, binding in zip(keepalive_offsets(len(bindings), interval), bindings, strict=True):
                await asyncio.sleep(max(0.0, round_start + offset - loop.time()))
                ping = loop.create_task(self._ping(binding.aor, str(binding.contact.uri), binding.source,
                                                   binding.contact.uri), context=contextvars.Context())
                self._pings.add(ping)
                ping.add_done_callback(self._pings.discard)
            if loop.time() > round_start + interval:
                round_start = loop.time() - interval  # a round that ran late starts the next one afresh

    async def _ping(self, aor: str, key: str, source: Source, uri: SipUri) -> None:
        destination = Address(source.transport, source.host, source.port)
        try:
            response = await asyncio.wait_for(
                self.request("OPTIONS", uri, destination), self.settings.keepalive_timeout
            )
            reachable = response.status != 408 and response.status != 503
        except TimeoutError:
            reachable = False
        self.registrar.set_reachable(aor, key, reachable)
        self._drain_registrar_events()

    def session_ended_future(self, session: SipSession) -> asyncio.Future[SessionEnded]:
        return session.ended


def _warn_if_expired(path: str, now: float) -> None:
    """Log loudly when a listener's certificate is not valid now: every TLS phone will refuse it.

    The listener still opens (UDP and TCP phones, and a fixed certificate after a restart, need no more)."""
    try:
        not_before, not_after = certificate_validity(path)
    except (OSError, ValueError) as error:
        logger.warning("sip.tls_certificate_unreadable", certificate=path, error=str(error))
        return
    if now > not_after:
        logger.error("sip.tls_certificate_expired", certificate=path,
                     expired=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(not_after)))
    elif now < not_before:
        logger.error("sip.tls_certificate_not_yet_valid", certificate=path,
                     valid_from=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(not_before)))


def keepalive_offsets(count: int, interval: float) -> list[float]:
    """When, within one keep-alive round of ``interval`` seconds, each of ``count`` phones is pinged: evenly
    spaced from the round's start, so that 400 phones on a 30 s interval get one OPTIONS every 75 ms."""
    return [interval * index / count for index in range(count)]


def _overload_policy(settings: EndpointSettings) -> OverloadPolicy:
    return OverloadPolicy(max_calls=settings.max_calls, max_rate=settings.max_call_rate,
                          max_lag=settings.max_loop_lag, retry_after=settings.retry_after,
                          retry_after_max=settings.retry_after_max)


def _never_banned(settings: EndpointSettings) -> tuple[str, ...]:
    """Networks no authentication ban applies to: ``never_ban`` and the trusted trunks'."""
    return (*settings.never_ban, *(n for nets in settings.trusted_networks.values() for n in nets))


def _flood_networks(settings: EndpointSettings) -> list[tuple[str, RateLimit | None]]:
    """Sources with their own request limit: ``never_ban`` (none), then every trunk network (the trunk limit)."""
    trunk_limit = (
        RateLimit(settings.trunk_flood_requests, settings.flood_window) if settings.trunk_flood_requests > 0 else None
    )
    trunks = (*(n for nets in settings.trusted_networks.values() for n in nets), *settings.trunk_networks)
    return [*((network, None) for network in settings.never_ban), *((network, trunk_limit) for network in trunks)]


def parse_target(text: str) -> SipUri:
    """A SIP URI from configuration or an API ("sip:1001@host:port")."""
    return parse_uri(text)
