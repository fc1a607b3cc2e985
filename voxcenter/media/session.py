"""RtpSession: the asyncio shell of one media leg (RFC 3550 RTP/RTCP over UDP, RFC 5761 rtcp-mux).

Everything that decides lives in the pure cores (``rtp.py``: parsing,
learning, statistics, outbound stream; ``rtcp.py``: reports and schedule;
``dtmf.py``: telephone-events). This file owns the sockets, reads
``loop.time()``, and keeps one ``call_at`` armed at the earliest deadline
(next RTCP report, media inactivity).
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from voxcenter.media.codecs import Codec
from voxcenter.media.dtmf import DtmfReceived, Rfc4733Receiver
from voxcenter.media.ports import PortLease, PortPool
from voxcenter.media.rtcp import LegStats, RtcpReporter, is_rtcp, parse_rtcp
from voxcenter.media.rtp import (
    Address,
    InactivityWatch,
    MalformedPacketError,
    OutboundStream,
    ReceiverStats,
    RtpPacket,
    SymmetricRtpLearner,
    parse_rtp,
)
from voxcenter.media.srtp import SrtpContext

log = structlog.get_logger(__name__)

FRAME_TIME = 0.020
"""Packetization time of everything voxcenter sends (20 ms, RFC 3551 §4.5 default for G.711)."""


class WireCodec(Protocol):
    """A codec on the wire other than the leg's own (``voxcenter.media.opus.OpusWire``)."""

    def outgoing(self, data: bytes) -> bytes | None: ...

    def incoming(self, data: bytes) -> bytes | None: ...


@dataclass(frozen=True, slots=True)
class MediaTimedOut:
    """No RTP arrived for the configured time: the call should be hung up."""

    silence: float
    """Seconds since the last accepted RTP packet (or since the timeout was armed)."""
    packets_received: int
    """Packets accepted on the leg before it went silent."""
    cause: str = "media timeout"
    """Hang-up cause for the CDR."""


class _RtpProtocol(asyncio.DatagramProtocol):
    def __init__(self, session: RtpSession) -> None:
        self.session = session

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.session._rtp_datagram(data, addr)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable from a peer that left: the inactivity timer deals with dead peers.
        self.session.send_errors += 1


class _RtcpProtocol(asyncio.DatagramProtocol):
    def __init__(self, session: RtpSession) -> None:
        self.session = session

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.session._rtcp_datagram(data, addr)

    def error_received(self, exc: Exception) -> None:
        self.session.send_errors += 1


class RtpSession:
    """One leg's RTP (and RTCP) endpoint. Create with ``await RtpSession.open(...)``; ``close()`` when done.

    Callbacks (assign at any time; exceptions in them are logged, never raised into the loop):
    ``on_packet(packet)`` for every packet accepted by symmetric-RTP learning,
    ``on_dtmf(DtmfReceived)`` for each RFC 4733 digit (once per press),
    ``on_timeout(MediaTimedOut)`` once when media stops.
    """

    def __init__(
        self,
        lease: PortLease,
        codec: Codec,
        remote: Address | None,
        *,
        telephone_event_pt: int | None,
        rtcp_mux: bool,
        remote_rtcp: Address | None,
        inactivity_timeout: float | None,
        cname: str,
        rtcp_interval: float,
        loop: asyncio.AbstractEventLoop,
        rng: random.Random,
    ) -> None:
        self._loop = loop
        now = loop.time()
        self._wall_offset = time.time() - now  # NTP fields of SRs need wall-clock time; only differences matter
        self.lease = lease
        """The port pair this leg holds."""
        self.codec = codec
        """The negotiated audio codec."""
        self.telephone_event_pt = telephone_event_pt
        """The negotiated RFC 4733 payload type, or ``None`` when the peer offered none."""
        self.rtcp_mux = rtcp_mux
        """RTP and RTCP share one port (RFC 5761)."""
        self.frame_step = round(codec.clock_rate * FRAME_TIME)
        """Timestamp increment of one 20 ms frame."""
        self.learner = SymmetricRtpLearner(remote)
        """Strict symmetric RTP: who we hear and where we send."""
        self.outbound = OutboundStream(rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(32), codec.clock_rate)
        """Our outgoing stream, shared by the player and the bridge."""
        self.inbound = ReceiverStats(codec.clock_rate)
        """Statistics of the peer's stream."""
        self.rtcp = RtcpReporter(self.outbound, self.inbound, cname, now, rng, rtcp_interval)
        """RTCP reports and the peer's view of us."""
        self.packets_dropped = 0
        """Malformed packets and packets from sources other than the learned one."""
        self.send_errors = 0
        """ICMP errors reported by the kernel for our sends."""
        self.on_packet: Callable[[RtpPacket], None] | None = None
        self.on_dtmf: Callable[[DtmfReceived], None] | None = None
        self.on_timeout: Callable[[MediaTimedOut], None] | None = None
        self.on_sent: Callable[[bytes], None] | None = None
        """Called with each audio payload ``send_payload`` sends (prompts, music, the mix): a call recorded
        while no bridge carries it hears what we play."""
        self.encrypted = False
        """The stream is SRTP: nothing goes out or is taken in until ``srtp`` holds its keys."""
        self.srtp: SrtpContext | None = None
        """The leg's SRTP keys (SDES, or from the DTLS handshake)."""
        self.wire: WireCodec | None = None
        """Converts our packets for the wire and the peer's back (Opus to a browser), or None."""
        self.on_other: Callable[[bytes, Address], None] | None = None
        """Datagrams on the RTP port that are not RTP or RTCP (RFC 7983: STUN, DTLS), for the WebRTC leg."""
        self._remote_rtcp = remote_rtcp
        self._inactivity = InactivityWatch(inactivity_timeout, now)
        self._dtmf = Rfc4733Receiver(clock_rate=codec.clock_rate)
        self._transport: asyncio.DatagramTransport | None = None
        self._rtcp_transport: asyncio.DatagramTransport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._timed_out = False
        self.closed = False
        """True once ``close()`` ran."""

    @classmethod
    async def open(
        cls,
        pool: PortPool,
        local_host: str,
        codec: Codec,
        remote: Address | None,
        *,
        telephone_event_pt: int | None = 101,
        rtcp_mux: bool = False,
        remote_rtcp: Address | None = None,
        inactivity_timeout: float | None = 30.0,
        cname: str | None = None,
        rtcp_interval: float = 5.0,
        rng: random.Random | None = None,
        lease: PortLease | None = None,
        start: bool = True,
    ) -> RtpSession:
        """Bind a port pair from ``pool`` on ``local_host`` and start receiving.

        ``remote`` is the peer's SDP address (``None`` until known: nothing is
        sent until a source is learned); ``telephone_event_pt`` the negotiated
        RFC 4733 payload type; ``rtcp_mux`` per RFC 5761; ``remote_rtcp`` from
        ``a=rtcp`` (RFC 3605), else RTP port + 1; ``inactivity_timeout`` in
        seconds or ``None``; ``rtcp_interval`` the base report interval.
        ``lease``: a pair already taken from the pool (reserved or bound) instead of a new one; with
        ``start=False`` nothing is bound, sent or received until :meth:`start` (a leg that may never need
        media costs no socket). Raises :class:`~voxcenter.media.ports.PortPoolExhaustedError`.
        """
        loop = asyncio.get_running_loop()
        if lease is None:
            lease = pool.allocate(local_host, rtcp_mux=rtcp_mux)
        session = cls(
            lease, codec, remote,
            telephone_event_pt=telephone_event_pt, rtcp_mux=rtcp_mux, remote_rtcp=remote_rtcp,
            inactivity_timeout=inactivity_timeout, cname=cname or f"voxcenter-{secrets.token_hex(6)}",
            rtcp_interval=rtcp_interval, loop=loop, rng=rng or random.Random(secrets.randbits(64)),
        )
        if start:
            try:
                await session.start()
            except BaseException:
                session.close()
                raise
        return session

    @property
    def started(self) -> bool:
        """Receiving and sending (:meth:`start` ran)."""
        return self._transport is not None

    async def start(self) -> None:
        """Bind the lease's ports when only reserved, open the transports and arm RTCP and the media timeout.

        Raises ``OSError`` when a reserved port turned out to be held by another process. Idempotent."""
        if self._transport is not None or self.closed:
            return
        lease = self.lease
        if not lease.bind(self.rtcp_mux):
            raise OSError(f"RTP port {lease.port} on {lease.host} is held by another process")
        assert lease.rtp_socket is not None
        try:
            self._transport, _ = await self._loop.create_datagram_endpoint(
                lambda: _RtpProtocol(self), sock=lease.rtp_socket
            )
            if lease.rtcp_socket is not None:
                self._rtcp_transport, _ = await self._loop.create_datagram_endpoint(
                    lambda: _RtcpProtocol(self), sock=lease.rtcp_socket
                )
        except BaseException:
            for transport in (self._transport, self._rtcp_transport):
                if transport is not None:
                    transport.close()
            self._transport = self._rtcp_transport = None
            for sock in (lease.rtp_socket, lease.rtcp_socket):
                if sock is not None:
                    sock.close()
            raise
        self._inactivity.rearm(self._inactivity.timeout, self._loop.time())
        self._arm_timer()

    @property
    def local_address(self) -> Address:
        """The (host, port) to put in our SDP."""
        return (self.lease.host, self.lease.port)

    @property
    def remote(self) -> Address | None:
        """Where our RTP goes now (the SDP address, or the learned one)."""
        return self.learner.target

    # ---- sending -----------------------------------------------------------------------------------------------

    def send_payload(
        self, payload: bytes, payload_type: int | None = None, timestamp_step: int | None = None, marker: bool = False
    ) -> bool:
        """Send one frame, timestamp ``timestamp_step`` (default 20 ms) after the last; False if nowhere to send."""
        if self.on_sent is not None and payload_type is None:
            self.on_sent(payload)
        target = self.learner.target
        transport = self._transport
        if target is None or transport is None:
            return False
        data = self.outbound.build_next(
            payload,
            self.codec.payload_type if payload_type is None else payload_type,
            self.frame_step if timestamp_step is None else timestamp_step,
            marker,
            self._loop.time(),
        )
        return self._send_rtp(transport, data, target)

    def send_at(self, payload: bytes, payload_type: int, timestamp: int, marker: bool) -> bool:
        """Send one packet with an explicit timestamp in our stream's space (bridge relay, DTMF events)."""
        target = self.learner.target
        transport = self._transport
        if target is None or transport is None:
            return False
        return self._send_rtp(transport, self.outbound.build_at(payload, payload_type, timestamp, marker,
                                                                self._loop.time()), target)

    def _send_rtp(self, transport: asyncio.DatagramTransport, data: bytes, target: Address) -> bool:
        if self.wire is not None:
            converted = self.wire.outgoing(data)
            if converted is None:
                return False
            data = converted
        if self.encrypted:
            protected = self.srtp.protect(data) if self.srtp is not None else None
            if protected is None:
                return False
            data = protected
        transport.sendto(data, target)
        return True

    def send_raw(self, data: bytes, target: Address) -> None:
        """Send a datagram as it is from the RTP port (STUN answers, DTLS records)."""
        if self._transport is not None:
            self._transport.sendto(data, target)

    def lock_remote(self, remote: Address) -> None:
        """Send to and hear only ``remote`` from now on (the address an ICE check proved)."""
        if self.learner.target != remote:
            self.learner.reset(remote)

    def skip_frame(self) -> None:
        """Let one frame's worth of time pass without sending (the player dropped a late frame)."""
        self.outbound.skip(self.frame_step)

    def talkspurt_timestamp(self) -> int:
        """The timestamp a talkspurt starting now would carry (the bridge anchors its mapping on it)."""
        return self.outbound.talkspurt_timestamp(self._loop.time(), self.frame_step)

    def now(self) -> float:
        """The loop's clock, for pure cores driven by this session's users."""
        return self._loop.time()

    # ---- control -----------------------------------------------------------------------------------------------

    def update_remote(self, remote: Address | None, remote_rtcp: Address | None = None) -> None:
        """The peer's SDP changed (re-INVITE): learn again from the new address."""
        self.learner.reset(remote)
        self._remote_rtcp = remote_rtcp
        self._inactivity.rearm(self._inactivity.timeout, self._loop.time())
        self._arm_timer()

    def set_inactivity_timeout(self, timeout: float | None) -> None:
        """Change the media timeout (``None`` while on hold) and count silence from now."""
        self._inactivity.rearm(timeout, self._loop.time())
        self._timed_out = False
        self._arm_timer()

    @property
    def stats(self) -> LegStats:
        """Per-leg figures (ours and the peer's view from its RTCP)."""
        return self.rtcp.stats(self.packets_dropped)

    def close(self, reason: str = "") -> None:
        """Send RTCP BYE, close the sockets and give the ports back. Idempotent."""
        if self.closed:
            return
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._transport is not None:
            self._send_rtcp(self.rtcp.build_bye(reason))
        for transport in (self._transport, self._rtcp_transport):
            if transport is not None:
                transport.close()
        self._transport = self._rtcp_transport = None
        self.on_packet = self.on_dtmf = self.on_timeout = self.on_sent = None
        self.lease.release()

    # ---- receiving ---------------------------------------------------------------------------------------------

    def _rtp_datagram(self, data: bytes, addr: Address) -> None:
        if self.on_other is not None and data and not 128 <= data[0] <= 191:
            self.on_other(data, addr[:2])
            return
        if self.rtcp_mux and is_rtcp(data):
            self._rtcp_datagram(data, addr)
            return
        if self.encrypted:
            plain = self.srtp.unprotect(data) if self.srtp is not None else None
            if plain is None:
                self.packets_dropped += 1
                return
            data = plain
        if self.wire is not None:
            converted = self.wire.incoming(data)
            if converted is None:
                self.packets_dropped += 1
                return
            data = converted
        packet = parse_rtp(data)
        if packet is None:
            self.packets_dropped += 1
            return
        now = self._loop.time()
        if len(addr) != 2:
            addr = addr[:2]  # IPv6 adds flow info and scope id
        if not self.learner.receive(addr, packet.ssrc, packet.sequence, now):
            self.packets_dropped += 1
            return
        self._inactivity.packet(now)
        self.inbound.update(packet.ssrc, packet.sequence, packet.timestamp, now, len(packet.payload))
        try:
            if packet.payload_type == self.telephone_event_pt:
                self._dtmf_packet(packet, now)
            callback = self.on_packet
            if callback is not None:
                callback(packet)
        except Exception:
            log.exception("media_callback_failed", local_port=self.lease.port)

    def _dtmf_packet(self, packet: RtpPacket, now: float) -> None:
        self._report_digits(self._dtmf.feed(packet.timestamp, packet.marker, packet.payload, now))
        if self._dtmf.get_timer() != self._timer_at:
            self._arm_timer()  # an event without end packets is reported by the timer

    def _report_digits(self, digits: list[DtmfReceived]) -> None:
        callback = self.on_dtmf
        if callback is not None:
            for digit in digits:
                callback(digit)

    def _rtcp_datagram(self, data: bytes, addr: Address) -> None:
        target = self.learner.target
        if target is None or addr[0] != target[0]:
            self.packets_dropped += 1
            return
        if self.encrypted:
            plain = self.srtp.unprotect_rtcp(data) if self.srtp is not None else None
            if plain is None:
                self.packets_dropped += 1
                return
            data = plain
        try:
            packets = parse_rtcp(data)
        except MalformedPacketError:
            self.packets_dropped += 1
            return
        now = self._loop.time()
        self.rtcp.receive(packets, now, now + self._wall_offset)

    # ---- timers ------------------------------------------------------------------------------------------------

    def _send_rtcp(self, data: bytes) -> None:
        target = self.learner.target
        if target is None:
            return
        if self.encrypted:
            protected = self.srtp.protect_rtcp(data) if self.srtp is not None else None
            if protected is None:
                return
            data = protected
        if self.rtcp_mux:
            if self._transport is not None:
                self._transport.sendto(data, target)
        elif self._rtcp_transport is not None:
            self._rtcp_transport.sendto(data, self._remote_rtcp or (target[0], target[1] + 1))

    def _deadline(self) -> float:
        deadline = self.rtcp.next_report_at
        for other in (None if self._timed_out else self._inactivity.deadline(), self._dtmf.get_timer()):
            if other is not None and other < deadline:
                deadline = other
        return deadline

    def _arm_timer(self) -> None:
        if self.closed or self._transport is None:
            return
        deadline = self._deadline()
        if self._timer is not None:
            if self._timer_at == deadline:
                return
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = self._loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        now = self._loop.time()
        try:
            if now >= self.rtcp.next_report_at:
                self._send_rtcp(self.rtcp.build_report(now, now + self._wall_offset))
            self._report_digits(self._dtmf.handle_timer(now))
            if not self._timed_out and self._inactivity.expired(now):
                self._timed_out = True
                deadline = self._inactivity.deadline() or now
                event = MediaTimedOut(now - deadline + (self._inactivity.timeout or 0.0), self.inbound.received)
                if self.on_timeout is not None:
                    self.on_timeout(event)
        except Exception:
            log.exception("media_timer_failed", local_port=self.lease.port)
        self._arm_timer()
