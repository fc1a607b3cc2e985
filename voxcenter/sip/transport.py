"""asyncio SIP transports: UDP, TCP, TLS and WebSocket listeners and connections (RFC 3261 §18, RFC 7118).

The only SIP code besides ``endpoint.py`` that touches sockets. It turns bytes
into parsed messages (UDP: one datagram, one message; TCP/TLS: the stream
framer; WebSocket: one WebSocket message, one SIP message) and hands them to
the endpoint with the address they came from, and sends bytes to an
:class:`Address`, reusing the connection a request arrived on (RFC 3261
§18.2.2) or opening one when it is gone. A WebSocket client (a browser) cannot
be connected to: a message for one whose connection is gone fails at once.

Nothing raised while handling input escapes a protocol callback: a bad
message is reported to the endpoint (which may answer 400) and, on a stream,
the connection is closed, since its framing can no longer be trusted.
"""

from __future__ import annotations

import asyncio
import contextvars
import socket
import ssl
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import structlog
from aiohttp import WSMsgType, web

from voxcenter.sip.errors import RemoteProtocolError
from voxcenter.sip.framing import StreamParser
from voxcenter.sip.message import Request, Response, parse_message

logger = structlog.get_logger(__name__)

RELIABLE = frozenset({"tcp", "tls", "ws", "wss"})
WEBSOCKET = frozenset({"ws", "wss"})
WEBSOCKET_PROTOCOL = "sip"
"""The WebSocket subprotocol of SIP (RFC 7118 §4.1): a handshake that does not ask for it is refused."""
MAX_KNOWN_SOURCES = 4096
"""UDP peers whose Address object is reused; past this many the table starts over (a scan cannot grow it)."""


@dataclass(frozen=True, slots=True)
class Address:
    """A transport address: where a message came from or is sent to."""

    transport: str
    """"udp", "tcp", "tls", "ws" or "wss" (lower case)."""
    host: str
    """IP address (v4, or v6 without brackets)."""
    port: int

    @property
    def reliable(self) -> bool:
        return self.transport in RELIABLE

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.transport}:{host}:{self.port}"


@dataclass(slots=True)
class TransportLimits:
    idle_timeout: float = 900.0
    """A TCP/TLS connection with no traffic for this long is closed (phones send CRLF keepalives)."""
    message_timeout: float = 5.0
    """A message on TCP/TLS must be complete this long after its first byte, or the connection is closed:
    a peer trickling bytes would otherwise hold it until ``idle_timeout``."""
    tls_handshake_timeout: float = 5.0
    """A TLS connection that has not finished its handshake this long after it opened is closed."""
    max_connections_per_source: int = 32
    """More connections from one IP address are refused at once."""
    max_connections: int = 10_000
    udp_buffer_size: int = 4 * 1024 * 1024
    """SO_RCVBUF and SO_SNDBUF asked for each UDP socket (Linux caps them at net.core.rmem_max / wmem_max).

    The default (~200 KB) holds about 100 datagrams: one 100 ms pause of the
    loop at a few hundred calls per second overflows it, and every lost INVITE
    costs the caller a 500 ms retransmission."""
    udp_overload_buffer_size: int = 256 * 1024
    """SO_RCVBUF while new calls are shed on event-loop lag: about 300 INVITEs, a fraction of a second of
    backlog, instead of the seconds ``udp_buffer_size`` holds when the loop cannot keep up."""


MessageHandler = Callable[[Request | Response, Address], None]
ErrorHandler = Callable[[bytes, RemoteProtocolError, Address], None]
SendFailureHandler = Callable[[Address], None]


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, owner: SipTransports) -> None:
        self.owner = owner
        self.transport: asyncio.DatagramTransport | None = None
        # One Address per peer, shared by its datagrams: every transaction keeps its source for 32 s or so, and a
        # trunk sends from one address, so this spares an object per transaction for the garbage collector to walk.
        self._sources: dict[tuple[str | int, ...], Address] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        source = self._sources.get(addr)
        if source is None:
            if len(self._sources) >= MAX_KNOWN_SOURCES:
                self._sources.clear()
            source = self._sources[addr] = Address("udp", str(addr[0]), int(addr[1]))
        if not data.strip(b"\r\n\x00 "):
            return  # keepalive: a bare CRLF or NUL datagram
        try:
            message = parse_message(data, datagram=True)
        except RemoteProtocolError as error:
            self.owner.report_error(data, error, source)
            return
        except Exception:  # a parser bug must not stop the listener
            logger.exception("sip.parse_crash", source=str(source))
            return
        self.owner.deliver(message, source)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable and the like: the transaction layer's timers handle the loss.
        logger.debug("sip.udp_error", error=str(exc))


class _StreamProtocol(asyncio.Protocol):
    """One TCP or TLS connection, inbound or outbound.

    An inbound TLS connection is accepted as TCP and upgraded here (``loop.start_tls``), so that it counts
    against the per-source and total connection limits while its handshake is under way, and a handshake
    that does not finish within ``tls_handshake_timeout`` is closed: a handshake flood holds nothing long.
    """

    def __init__(self, owner: SipTransports, transport_name: str, server_tls: ssl.SSLContext | None = None, *,
                 inbound: bool = False) -> None:
        self.owner = owner
        self.transport_name = transport_name
        self.inbound = inbound
        """Accepted by one of our listeners (rather than opened by us)."""
        self.server_tls = server_tls
        self.parser = StreamParser()
        self.transport: asyncio.Transport | None = None
        self.remote: Address | None = None
        self.last_activity = 0.0
        self.pending: list[bytes] = []
        self._raw: asyncio.Transport | None = None
        """The TCP transport under a TLS handshake still under way."""
        self._message_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        stream = cast(asyncio.Transport, transport)
        peer = stream.get_extra_info("peername")
        self.remote = Address(self.transport_name, str(peer[0]), int(peer[1]))
        self.last_activity = self.owner.loop.time()
        if not self.owner.adopt(self):
            stream.abort()
            return
        if self.server_tls is not None:
            stream.pause_reading()  # not a byte of the ClientHello for us: start_tls takes the stream over
            self._raw = stream
            self.owner.keep(self.owner.loop.create_task(self._handshake(stream, self.server_tls)))
            return
        self._ready(stream)

    def _ready(self, stream: asyncio.Transport) -> None:
        self.transport = stream
        for chunk in self.pending:
            stream.write(chunk)
        self.pending.clear()

    async def _handshake(self, raw: asyncio.Transport, context: ssl.SSLContext) -> None:
        loop = self.owner.loop
        try:
            secured = await loop.start_tls(raw, self, context, server_side=True,
                                           ssl_handshake_timeout=self.owner.limits.tls_handshake_timeout)
        except (OSError, ssl.SSLError, TimeoutError, ConnectionError) as error:
            logger.info("sip.tls_handshake_failed", remote=str(self.remote), error=str(error) or type(error).__name__)
            self._raw = None
            raw.abort()
            self.owner.forget(self)  # the TLS layer never hands us connection_lost for a failed handshake
            return
        self._raw = None
        if secured is None:  # the connection went away meanwhile
            self.owner.forget(self)
            return
        self.last_activity = loop.time()
        self._ready(secured)

    def data_received(self, data: bytes) -> None:
        assert self.remote is not None
        self.last_activity = self.owner.loop.time()
        try:
            messages = self.parser.feed(data)
        except RemoteProtocolError as error:
            self.owner.report_error(data, error, self.remote)
            self.close()
            return
        except Exception:
            logger.exception("sip.parse_crash", source=str(self.remote))
            self.close()
            return
        if self.parser.pings_received:
            # RFC 5626 §4.4.1: answer a double-CRLF ping with a single CRLF pong.
            self.parser.pings_received = 0
            self.write(b"\r\n")
        self._time_message(restart=bool(messages))
        for message in messages:
            self.owner.deliver(message, self.remote)

    def _time_message(self, *, restart: bool) -> None:
        """Arm the partial-message deadline at a message's first byte; disarm it when no message is pending."""
        if (not self.parser.in_message or restart) and self._message_deadline is not None:
            self._message_deadline.cancel()
            self._message_deadline = None
        if self.parser.in_message and self._message_deadline is None:
            self._message_deadline = self.owner.loop.call_later(self.owner.limits.message_timeout,
                                                                self._message_timed_out)

    def _message_timed_out(self) -> None:
        self._message_deadline = None
        logger.info("sip.message_timeout", remote=str(self.remote), buffered=self.parser.buffered,
                    timeout=self.owner.limits.message_timeout)
        if self.transport is not None:
            self.transport.abort()

    def write(self, data: bytes) -> None:
        if self.transport is None:
            self.pending.append(data)
        elif not self.transport.is_closing():
            self.transport.write(data)
            self.last_activity = self.owner.loop.time()

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()
        elif self._raw is not None:
            self._raw.abort()  # still in its TLS handshake

    def connection_lost(self, exc: Exception | None) -> None:
        if self._message_deadline is not None:
            self._message_deadline.cancel()
            self._message_deadline = None
        self.owner.forget(self)


class _WebSocketConnection:
    """One SIP-over-WebSocket connection (RFC 7118), always opened by the client.

    Each WebSocket message carries one SIP message, whole (§5.1), so a bad one is answered and the connection
    stays: its framing is the WebSocket's, not ours. Messages go out as text frames (binary when a body is not
    UTF-8), in order, through one writer task.
    """

    def __init__(self, owner: SipTransports, remote: Address, socket: web.WebSocketResponse) -> None:
        self.owner = owner
        self.remote: Address | None = remote
        self.inbound = True
        self.socket = socket
        self.last_activity = owner.loop.time()
        self._outgoing: asyncio.Queue[bytes | None] = asyncio.Queue()

    async def run(self) -> None:
        """Read messages until the client closes; the writer runs beside."""
        writer = asyncio.ensure_future(self._write_loop())
        try:
            async for frame in self.socket:
                if frame.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    break
                data = frame.data.encode() if frame.type is WSMsgType.TEXT else frame.data
                self._received(data)
        finally:
            writer.cancel()

    def _received(self, data: bytes) -> None:
        assert self.remote is not None
        self.last_activity = self.owner.loop.time()
        if not data.strip(b"\r\n\x00 "):
            return  # keepalive
        try:
            message = parse_message(data, datagram=True)
        except RemoteProtocolError as error:
            self.owner.report_error(data, error, self.remote)
            return
        except Exception:
            logger.exception("sip.parse_crash", source=str(self.remote))
            return
        self.owner.deliver(message, self.remote)

    async def _write_loop(self) -> None:
        while (data := await self._outgoing.get()) is not None:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                await self.socket.send_bytes(data)
            else:
                await self.socket.send_str(text)
        await self.socket.close()

    def write(self, data: bytes) -> None:
        if not self.socket.closed:
            self._outgoing.put_nowait(data)
            self.last_activity = self.owner.loop.time()

    def close(self) -> None:
        self._outgoing.put_nowait(None)


class _UpgradeGate(asyncio.Protocol):
    """Stands before aiohttp's HTTP protocol on a WebSocket listener until the upgrade: counts the connection
    against the per-source limit, refuses banned sources, and closes a connection whose HTTP request is not
    complete within ``message_timeout`` (nothing holds a socket by trickling its headers)."""

    def __init__(self, owner: SipTransports, inner: asyncio.Protocol) -> None:
        self.owner = owner
        self.inner = inner
        self.source: str | None = None
        self.transport: asyncio.Transport | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._counted = False
        """Counted among the connections upgrading (until the upgrade or the end)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        stream = cast(asyncio.Transport, transport)
        peer = stream.get_extra_info("peername")
        self.transport = stream
        self.source = str(peer[0]) if peer else None
        if self.source is None or not self.owner.admit_upgrade(self):
            self.source = None
            stream.abort()
            return
        self._counted = True
        self._deadline = self.owner.loop.call_later(self.owner.limits.message_timeout, self._timed_out)
        self.inner.connection_made(transport)

    def upgraded(self) -> None:
        """The WebSocket is open: from now on it is a SIP connection, limited as one."""
        self._release()

    def _release(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        if self._counted:
            self._counted = False
            self.owner.release_upgrade(self)

    def _timed_out(self) -> None:
        self._deadline = None
        logger.info("sip.message_timeout", remote=self.source, buffered=-1,
                    timeout=self.owner.limits.message_timeout)
        if self.transport is not None:
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._release()
        if self.source is not None:  # aiohttp saw the connection open
            self.inner.connection_lost(exc)


_Connection = _StreamProtocol | _WebSocketConnection


class SipTransports:
    """Every SIP listener and connection of the process."""

    def __init__(
        self,
        on_message: MessageHandler,
        on_error: ErrorHandler,
        on_send_failure: SendFailureHandler | None = None,
        *,
        limits: TransportLimits | None = None,
        tls_client_context: ssl.SSLContext | None = None,
        source_refused: Callable[[str], bool] | None = None,
        on_websocket_closed: Callable[[Address], None] | None = None,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.on_websocket_closed = on_websocket_closed
        """Told when a WebSocket connection is gone: nothing can reach the browser behind it any more."""
        self.source_refused = source_refused
        """Whether connections from an address are refused at once (a banned source)."""
        self.on_message = on_message
        self.on_error = on_error
        self.on_send_failure = on_send_failure
        self.limits = limits or TransportLimits()
        self.tls_client_context = tls_client_context
        self.local: dict[str, Address] = {}
        self._udp: dict[tuple[str, int], _UdpProtocol] = {}
        self._servers: list[asyncio.base_events.Server] = []
        self._web_servers: list[web.Server] = []
        self._connections: dict[Address, _Connection] = {}
        self._per_source: dict[str, int] = defaultdict(int)
        self._upgrading: dict[str, int] = defaultdict(int)
        """WebSocket listener connections whose HTTP upgrade is under way, by source."""
        self._gates: dict[asyncio.BaseTransport, _UpgradeGate] = {}
        self._connecting: dict[Address, _StreamProtocol] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.server_contexts: dict[Address, ssl.SSLContext] = {}
        """The TLS context of each TLS listener (its certificate, its SNI callback)."""
        self._sweeper: asyncio.TimerHandle | None = None

    # --- listening ------------------------------------------------------------

    async def listen(
        self, transport: str, host: str, port: int, ssl_context: ssl.SSLContext | None = None
    ) -> Address:
        """Start a listener; returns its bound address (port 0 picks a free one)."""
        transport = transport.lower()
        if transport == "udp":
            _, protocol = await self.loop.create_datagram_endpoint(
                lambda: _UdpProtocol(self), local_addr=(host, port)
            )
            assert protocol.transport is not None
            self._size_udp_buffers(protocol.transport)
            bound = protocol.transport.get_extra_info("sockname")
            address = Address("udp", str(bound[0]), int(bound[1]))
            self._udp[(address.host, address.port)] = protocol
        elif transport in WEBSOCKET:
            address = await self._listen_websocket(transport, host, port, ssl_context)
        elif transport in RELIABLE:
            if transport == "tls" and ssl_context is None:
                raise ValueError("a TLS listener needs a certificate (ssl_context)")
            server = await self.loop.create_server(
                lambda: _StreamProtocol(self, transport, ssl_context, inbound=True), host, port, reuse_address=True
            )
            self._servers.append(server)
            bound = server.sockets[0].getsockname()
            address = Address(transport, str(bound[0]), int(bound[1]))
            if ssl_context is not None:
                self.server_contexts[address] = ssl_context
        else:
            raise ValueError(f"unknown transport {transport!r}")
        self.local.setdefault(transport, address)
        if self._sweeper is None:
            self._schedule_sweep()
        logger.info("sip.listening", address=str(address))
        return address

    async def _listen_websocket(self, transport: str, host: str, port: int,
                                ssl_context: ssl.SSLContext | None) -> Address:
        if transport == "wss" and ssl_context is None:
            raise ValueError("a WSS listener needs a certificate (ssl_context)")

        async def accept(request: web.BaseRequest) -> web.StreamResponse:
            return await self._accept_websocket(request, transport)

        web_server = web.Server(accept, access_log=None)
        handshake_timeout = self.limits.tls_handshake_timeout if ssl_context is not None else None
        server = await self.loop.create_server(lambda: _UpgradeGate(self, web_server()), host, port,
                                               ssl=ssl_context, reuse_address=True,
                                               ssl_handshake_timeout=handshake_timeout)
        self._servers.append(server)
        self._web_servers.append(web_server)
        bound = server.sockets[0].getsockname()
        address = Address(transport, str(bound[0]), int(bound[1]))
        if ssl_context is not None:
            self.server_contexts[address] = ssl_context
        return address

    async def _accept_websocket(self, request: web.BaseRequest, transport: str) -> web.StreamResponse:
        """An HTTP request on a WebSocket listener: upgrade it when it asks for SIP, refuse it otherwise."""
        socket = web.WebSocketResponse(protocols=(WEBSOCKET_PROTOCOL,), max_msg_size=64 * 1024)
        ready = socket.can_prepare(request)
        if not ready.ok or ready.protocol != WEBSOCKET_PROTOCOL:
            return web.Response(status=400, text="SIP over WebSocket: ask for the 'sip' subprotocol (RFC 7118)\n")
        peer = request.transport.get_extra_info("peername") if request.transport is not None else None
        if peer is None:
            return web.Response(status=400)
        gate = self._gates.get(request.transport) if request.transport is not None else None
        if gate is not None:
            gate.upgraded()
        connection = _WebSocketConnection(self, Address(transport, str(peer[0]), int(peer[1])), socket)
        if not self.adopt(connection):
            return web.Response(status=503, text="too many connections\n")
        try:
            await socket.prepare(request)
            await connection.run()
        finally:
            self.forget(connection)
            if self.on_websocket_closed is not None and connection.remote is not None:
                try:
                    self.on_websocket_closed(connection.remote)
                except Exception:
                    logger.exception("sip.handler_crash", source=str(connection.remote))
        return socket

    def set_receive_buffer(self, overloaded: bool) -> None:
        """Every UDP listener's SO_RCVBUF: ``udp_overload_buffer_size`` while overloaded, else ``udp_buffer_size``
        (what is queued stays; new datagrams beyond the smaller size are dropped by the kernel)."""
        size = self.limits.udp_overload_buffer_size if overloaded else self.limits.udp_buffer_size
        if size <= 0:
            return
        for protocol in self._udp.values():
            sock = protocol.transport.get_extra_info("socket") if protocol.transport is not None else None
            if sock is not None:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
                except OSError as error:
                    logger.warning("sip.udp_buffer_not_set", size=size, error=str(error))

    def _size_udp_buffers(self, transport: asyncio.DatagramTransport) -> None:
        sock = transport.get_extra_info("socket")
        size = self.limits.udp_buffer_size
        if sock is None or size <= 0:
            return
        for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
            try:
                sock.setsockopt(socket.SOL_SOCKET, option, size)
            except OSError as error:  # not fatal: the kernel's default still works, with less headroom
                logger.warning("sip.udp_buffer_not_set", size=size, error=str(error))

    # --- sending --------------------------------------------------------------

    def send(self, data: bytes, destination: Address) -> None:
        """Send bytes; on a stream transport reuse the connection or open one."""
        if destination.transport == "udp":
            protocol = self._udp_for(destination)
            if protocol is None or protocol.transport is None:
                self._send_failed(destination)
                return
            protocol.transport.sendto(data, (destination.host, destination.port))
            return
        connection = self._connections.get(destination) or self._connecting.get(destination)
        if connection is None:
            if destination.transport in WEBSOCKET:  # a browser is only reached on the connection it opened
                self._send_failed(destination)
                return
            connection = self._connect(destination)
        connection.write(data)

    def _udp_for(self, destination: Address) -> _UdpProtocol | None:
        # Send from the listener of the same address family; the first one otherwise.
        family_v6 = ":" in destination.host
        for (host, _), protocol in self._udp.items():
            if (":" in host) == family_v6:
                return protocol
        return next(iter(self._udp.values()), None)

    def _connect(self, destination: Address) -> _StreamProtocol:
        protocol = _StreamProtocol(self, destination.transport)
        self._connecting[destination] = protocol
        context: ssl.SSLContext | None = None
        if destination.transport == "tls":
            context = self.tls_client_context or ssl.create_default_context()

        async def open_connection() -> None:
            try:
                await self.loop.create_connection(lambda: protocol, destination.host, destination.port, ssl=context)
            except (OSError, ssl.SSLError) as error:
                logger.info("sip.connect_failed", destination=str(destination), error=str(error))
                self._send_failed(destination)
            finally:
                self._connecting.pop(destination, None)

        # The connection serves every call after this one: its callbacks must not carry this call's context.
        self.keep(self.loop.create_task(open_connection(), context=contextvars.Context()))
        return protocol

    def keep(self, task: asyncio.Task[None]) -> None:
        """Hold a strong reference to a background task until it ends (the loop keeps only a weak one)."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _send_failed(self, destination: Address) -> None:
        if self.on_send_failure is not None:
            self.on_send_failure(destination)

    # --- connection bookkeeping (called by the protocols) ---------------------

    def admit_upgrade(self, gate: _UpgradeGate) -> bool:
        """A connection to a WebSocket listener, before its upgrade: within the limits, not banned?"""
        source = gate.source or ""
        upgrading = self._upgrading[source]
        if (upgrading + self._per_source[source] >= self.limits.max_connections_per_source
                or len(self._connections) + len(self._gates) >= self.limits.max_connections):
            logger.warning("sip.connection_refused", source=source, reason="connection limit")
            return False
        if self.source_refused is not None and self.source_refused(source):
            logger.info("sip.connection_refused", source=source, reason="banned")
            return False
        self._upgrading[source] = upgrading + 1
        assert gate.transport is not None
        self._gates[gate.transport] = gate
        return True

    def release_upgrade(self, gate: _UpgradeGate) -> None:
        source = gate.source or ""
        if gate.transport is not None:
            self._gates.pop(gate.transport, None)
        self._upgrading[source] -= 1
        if self._upgrading[source] <= 0:
            del self._upgrading[source]

    def adopt(self, connection: _Connection) -> bool:
        assert connection.remote is not None
        source = connection.remote.host
        if (
            self._per_source[source] >= self.limits.max_connections_per_source
            or len(self._connections) >= self.limits.max_connections
        ):
            logger.warning("sip.connection_refused", source=source, reason="connection limit")
            return False
        if connection.inbound and self.source_refused is not None and self.source_refused(source):
            logger.info("sip.connection_refused", source=source, reason="banned")
            return False
        self._per_source[source] += 1
        self._connections[connection.remote] = connection
        return True

    def forget(self, connection: _Connection) -> None:
        remote = connection.remote
        if remote is None or self._connections.get(remote) is not connection:
            return
        del self._connections[remote]
        self._per_source[remote.host] -= 1
        if self._per_source[remote.host] <= 0:
            del self._per_source[remote.host]

    def deliver(self, message: Request | Response, source: Address) -> None:
        try:
            self.on_message(message, source)
        except Exception:
            logger.exception("sip.handler_crash", source=str(source))

    def report_error(self, data: bytes, error: RemoteProtocolError, source: Address) -> None:
        try:
            self.on_error(data, error, source)
        except Exception:
            logger.exception("sip.error_handler_crash", source=str(source))

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    def _schedule_sweep(self) -> None:
        interval = min(30.0, max(0.5, self.limits.idle_timeout / 4))
        self._sweeper = self.loop.call_later(interval, self._sweep, context=contextvars.Context())

    def _sweep(self) -> None:
        deadline = self.loop.time() - self.limits.idle_timeout
        for connection in list(self._connections.values()):
            if connection.last_activity < deadline:
                logger.info("sip.connection_idle_closed", remote=str(connection.remote))
                connection.close()
        self._schedule_sweep()

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for protocol in self._udp.values():
            if protocol.transport is not None:
                protocol.transport.close()
        for connection in list(self._connections.values()):
            connection.close()
        for web_server in self._web_servers:
            await web_server.shutdown(0.5)
        for server in self._servers:
            server.close()
        for server in self._servers:
            await server.wait_closed()
        self._web_servers.clear()
        self._udp.clear()
        self._servers.clear()
