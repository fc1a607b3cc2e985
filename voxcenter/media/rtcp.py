"""RTCP (RFC 3550 §6): SR/RR/SDES/BYE packets, compound packets, the report schedule and per-leg figures.

Pure: the reporter takes ``now`` (monotonic seconds, for intervals and
DLSR) and ``ntp_now`` (wall-clock seconds since the Unix epoch, for the
NTP fields) from its caller and returns bytes and deadlines.
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass

from voxcenter.media.rtp import MalformedPacketError, OutboundStream, ReceiverStats

RTCP_SR = 200
RTCP_RR = 201
RTCP_SDES = 202
RTCP_BYE = 203
RTCP_APP = 204
SDES_CNAME = 1

_NTP_EPOCH_OFFSET = 2208988800  # seconds from 1900-01-01 (NTP) to 1970-01-01 (Unix), RFC 5905
_HEADER = struct.Struct("!BBH")
_SENDER_INFO = struct.Struct("!IIIII")
_REPORT_BLOCK = struct.Struct("!IIIIII")


def is_rtcp(data: bytes) -> bool:
    """RFC 5761 §4 demultiplexing on one port: RTCP packet types 192–223 are RTP payload types 64–95 with M set."""
    return len(data) >= 2 and 192 <= data[1] <= 223


def ntp_timestamp(unix_seconds: float) -> int:
    """The 64-bit NTP timestamp (RFC 3550 §4) of a Unix time."""
    return round((unix_seconds + _NTP_EPOCH_OFFSET) * (1 << 32)) & 0xFFFFFFFFFFFFFFFF


def ntp_middle(ntp: int) -> int:
    """The middle 32 bits of an NTP timestamp, the unit of LSR and of RTT arithmetic (RFC 3550 §6.4.1)."""
    return (ntp >> 16) & 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class ReportBlock:
    """One reception report block (RFC 3550 §6.4.1)."""

    ssrc: int
    """The source this block reports on."""
    fraction_lost: int
    """Packets lost since the previous report, as a fixed-point fraction ×256 (0..255)."""
    cumulative_lost: int
    """Packets lost since the beginning (signed 24 bits)."""
    highest_sequence: int
    """Extended highest sequence number received."""
    jitter: int
    """Interarrival jitter in timestamp units."""
    last_sr: int
    """LSR: middle 32 bits of the NTP timestamp of the last SR received from that source, or 0."""
    delay_since_last_sr: int
    """DLSR: delay since that SR, in units of 1/65536 s, or 0."""


@dataclass(frozen=True, slots=True)
class SenderReport:
    """SR packet (RFC 3550 §6.4.1)."""

    ssrc: int
    """The sender."""
    ntp_timestamp: int
    """64-bit NTP wall-clock time of the report."""
    rtp_timestamp: int
    """The same instant in the sender's RTP timestamp units."""
    packet_count: int
    """Packets sent since starting transmission."""
    octet_count: int
    """Payload octets sent since starting transmission."""
    reports: tuple[ReportBlock, ...] = ()
    """Reception report blocks."""


@dataclass(frozen=True, slots=True)
class ReceiverReport:
    """RR packet (RFC 3550 §6.4.2)."""

    ssrc: int
    """The reporter."""
    reports: tuple[ReportBlock, ...] = ()
    """Reception report blocks."""


@dataclass(frozen=True, slots=True)
class SourceDescription:
    """SDES packet (RFC 3550 §6.5); only CNAME items are kept."""

    cnames: tuple[tuple[int, str], ...]
    """(SSRC, CNAME) per chunk that carried one."""


@dataclass(frozen=True, slots=True)
class Bye:
    """BYE packet (RFC 3550 §6.6)."""

    ssrcs: tuple[int, ...]
    """Sources leaving."""
    reason: str = ""
    """Optional reason for leaving."""


RtcpPacket = SenderReport | ReceiverReport | SourceDescription | Bye


def _pad32(data: bytes) -> bytes:
    return data + bytes(-len(data) % 4)


def _packet(count: int, packet_type: int, body: bytes) -> bytes:
    if len(body) % 4:
        raise ValueError("RTCP packet body must be a whole number of 32-bit words")
    return _HEADER.pack(0x80 | count, packet_type, (len(body) + 4) // 4 - 1) + body


def _block_bytes(block: ReportBlock) -> bytes:
    lost = block.cumulative_lost & 0xFFFFFF
    return _REPORT_BLOCK.pack(
        block.ssrc,
        (block.fraction_lost & 0xFF) << 24 | lost,
        block.highest_sequence & 0xFFFFFFFF,
        block.jitter & 0xFFFFFFFF,
        block.last_sr & 0xFFFFFFFF,
        block.delay_since_last_sr & 0xFFFFFFFF,
    )


def build_rtcp(packet: RtcpPacket) -> bytes:
    """Serialize one RTCP packet (RFC 3550 §6.4–6.6). Concatenate them to form a compound packet (§6.1)."""
    if isinstance(packet, SenderReport):
        if len(packet.reports) > 31:
            raise ValueError("an SR carries at most 31 report blocks")
        ntp = packet.ntp_timestamp
        body = struct.pack("!I", packet.ssrc) + _SENDER_INFO.pack(
            ntp >> 32, ntp & 0xFFFFFFFF, packet.rtp_timestamp & 0xFFFFFFFF,
            packet.packet_count & 0xFFFFFFFF, packet.octet_count & 0xFFFFFFFF,
        )
        body += b"".join(_block_bytes(b) for b in packet.reports)
        return _packet(len(packet.reports), RTCP_SR, body)
    if isinstance(packet, ReceiverReport):
        if len(packet.reports) > 31:
            raise ValueError("an RR carries at most 31 report blocks")
        body = struct.pack("!I", packet.ssrc) + b"".join(_block_bytes(b) for b in packet.reports)
        return _packet(len(packet.reports), RTCP_RR, body)
    if isinstance(packet, SourceDescription):
        chunks = []
        for ssrc, cname in packet.cnames:
            text = cname.encode()
            if len(text) > 255:
                raise ValueError("an SDES CNAME is at most 255 octets")
            # Item list ends with a null octet, then the chunk pads to 32 bits (§6.5).
            chunks.append(_pad32(struct.pack("!IBB", ssrc, SDES_CNAME, len(text)) + text + b"\x00"))
        return _packet(len(packet.cnames), RTCP_SDES, b"".join(chunks))
    reason = packet.reason.encode()
    if len(reason) > 255:
        raise ValueError("a BYE reason is at most 255 octets")
    body = b"".join(struct.pack("!I", s) for s in packet.ssrcs)
    if reason:
        body += _pad32(bytes([len(reason)]) + reason)
    return _packet(len(packet.ssrcs), RTCP_BYE, body)


def _parse_blocks(data: bytes, offset: int, count: int) -> tuple[ReportBlock, ...]:
    blocks = []
    for i in range(count):
        ssrc, lost_word, highest, jitter, lsr, dlsr = _REPORT_BLOCK.unpack_from(data, offset + 24 * i)
        lost = lost_word & 0xFFFFFF
        if lost & 0x800000:
            lost -= 0x1000000
        blocks.append(ReportBlock(ssrc, lost_word >> 24, lost, highest, jitter, lsr, dlsr))
    return tuple(blocks)


def _parse_sdes(body: bytes, count: int) -> SourceDescription:
    cnames = []
    offset = 0
    for _ in range(count):
        if offset + 4 > len(body):
            raise MalformedPacketError("RTCP SDES: chunk runs past the packet")
        (ssrc,) = struct.unpack_from("!I", body, offset)
        offset += 4
        while True:
            if offset >= len(body):
                raise MalformedPacketError("RTCP SDES: item list not terminated")
            item = body[offset]
            if item == 0:
                offset += 1
                offset += -offset % 4
                break
            if offset + 2 > len(body) or offset + 2 + body[offset + 1] > len(body):
                raise MalformedPacketError("RTCP SDES: item runs past the packet")
            length = body[offset + 1]
            if item == SDES_CNAME:
                cnames.append((ssrc, body[offset + 2 : offset + 2 + length].decode("utf-8", "replace")))
            offset += 2 + length
    return SourceDescription(tuple(cnames))


def parse_rtcp(data: bytes) -> list[RtcpPacket]:
    """Parse a compound RTCP packet (RFC 3550 §6.1, validity checks of A.2).

    Unknown packet types (APP, XR, feedback) are skipped. Raises
    :class:`MalformedPacketError` (the remote's fault) when the compound
    packet is not well formed.
    """
    packets: list[RtcpPacket] = []
    offset = 0
    size = len(data)
    if size < 4:
        raise MalformedPacketError("RTCP: shorter than a header")
    while offset < size:
        if offset + 4 > size:
            raise MalformedPacketError("RTCP: trailing octets after the last packet")
        b0, packet_type, words = _HEADER.unpack_from(data, offset)
        if b0 >> 6 != 2:
            raise MalformedPacketError(f"RTCP: version {b0 >> 6}, expected 2")
        end = offset + 4 * (words + 1)
        if end > size:
            raise MalformedPacketError("RTCP: packet length runs past the datagram")
        body_end = end
        if b0 & 0x20:
            if end != size:
                raise MalformedPacketError("RTCP: padding is only allowed on the last packet (A.2)")
            padding = data[end - 1]
            if padding == 0 or padding > end - offset - 4:
                raise MalformedPacketError("RTCP: bad padding count")
            body_end -= padding
        count = b0 & 0x1F
        body = data[offset + 4 : body_end]
        if packet_type in (RTCP_SR, RTCP_RR):
            fixed = 24 if packet_type == RTCP_SR else 4
            if len(body) < fixed + 24 * count:
                raise MalformedPacketError("RTCP: report blocks run past the packet")
            (ssrc,) = struct.unpack_from("!I", body)
            blocks = _parse_blocks(body, fixed, count)
            if packet_type == RTCP_SR:
                msw, lsw, rtp_ts, packets_sent, octets = _SENDER_INFO.unpack_from(body, 4)
                packets.append(SenderReport(ssrc, msw << 32 | lsw, rtp_ts, packets_sent, octets, blocks))
            else:
                packets.append(ReceiverReport(ssrc, blocks))
        elif packet_type == RTCP_SDES:
            packets.append(_parse_sdes(body, count))
        elif packet_type == RTCP_BYE:
            if len(body) < 4 * count:
                raise MalformedPacketError("RTCP BYE: SSRC list runs past the packet")
            ssrcs = struct.unpack_from(f"!{count}I", body)
            reason = ""
            if len(body) > 4 * count:
                length = body[4 * count]
                reason = body[4 * count + 1 : 4 * count + 1 + length].decode("utf-8", "replace")
            packets.append(Bye(ssrcs, reason))
        offset = end
    return packets


def report_interval(rng: random.Random, base: float = 5.0, initial: bool = False) -> float:
    """RTCP report interval for a two-party session (RFC 3550 §6.3, simplified).

    With two participants the bandwidth term is below the 5 s minimum, so the
    deterministic interval is ``base`` (halved for the first report, §6.2),
    randomized uniformly over [0.5, 1.5] of it (§6.3.1) so that legs started
    together do not report in lockstep. Timer reconsideration and the e−3/2
    compensation only matter for large groups and are left out.
    """
    interval = base / 2 if initial else base
    return interval * rng.uniform(0.5, 1.5)


@dataclass(frozen=True, slots=True)
class LegStats:
    """Per-leg media figures, for CDRs, logs and metrics."""

    packets_sent: int
    """RTP packets we sent."""
    octets_sent: int
    """RTP payload octets we sent."""
    packets_received: int
    """RTP packets received and accepted."""
    octets_received: int
    """RTP payload octets received and accepted."""
    cumulative_lost: int
    """Packets the peer sent that never reached us."""
    fraction_lost: float
    """Share lost in the last report interval, 0..1."""
    jitter_ms: float
    """Interarrival jitter of what we receive, in ms."""
    rtt_ms: float | None
    """Round-trip time from the peer's last report on us, or ``None`` before one arrived."""
    remote_cumulative_lost: int | None
    """The peer's view: our packets it never got (from its RR/SR)."""
    remote_fraction_lost: float | None
    """The peer's view: share of ours lost in its last interval."""
    remote_jitter_ms: float | None
    """The peer's view: jitter of our stream, in ms."""
    packets_dropped: int
    """Packets dropped before accounting: malformed, or from a source other than the learned one."""


class RtcpReporter:
    """The RTCP side of one leg (RFC 3550 §6): when to report, what to say, what the peer said back."""

    def __init__(
        self,
        outbound: OutboundStream,
        inbound: ReceiverStats,
        cname: str,
        now: float,
        rng: random.Random,
        base_interval: float = 5.0,
    ) -> None:
        self.outbound = outbound
        """Our sending stream (SSRC and sender counts)."""
        self.inbound = inbound
        """Reception statistics of the peer's stream."""
        self.cname = cname
        """Our canonical name (SDES CNAME, RFC 3550 §6.5.1)."""
        self.rng = rng
        self.base_interval = base_interval
        self.next_report_at = now + report_interval(rng, base_interval, initial=True)
        """Deadline of the next compound report."""
        self.rtt: float | None = None
        """Round-trip time in seconds from the last usable report block about us."""
        self.remote_report: ReportBlock | None = None
        """The peer's last report block about our SSRC."""
        self.remote_cname: str | None = None
        """The peer's CNAME."""
        self.bye_received = False
        """The peer sent an RTCP BYE."""
        self.last_fraction_lost = 0
        """The fraction we put in our last report (×256)."""
        self._last_sr: int = 0
        self._last_sr_at = 0.0
        self._packets_at_last_report = 0

    def build_report(self, now: float, ntp_now: float) -> bytes:
        """Build the compound SR-or-RR + SDES CNAME (RFC 3550 §6.1) and schedule the next one."""
        self.next_report_at = now + report_interval(self.rng, self.base_interval)
        blocks: tuple[ReportBlock, ...] = ()
        inbound = self.inbound
        if inbound.ssrc is not None and inbound.received:
            self.last_fraction_lost = inbound.take_fraction_lost()
            dlsr = round((now - self._last_sr_at) * 65536) if self._last_sr else 0
            blocks = (
                ReportBlock(
                    inbound.ssrc, self.last_fraction_lost, inbound.cumulative_lost, inbound.extended_max,
                    int(inbound.jitter), self._last_sr, dlsr,
                ),
            )
        out = self.outbound
        first: RtcpPacket
        if out.packets_sent != self._packets_at_last_report:
            first = SenderReport(
                out.ssrc, ntp_timestamp(ntp_now), out.talkspurt_timestamp(now, 0),
                out.packets_sent, out.octets_sent, blocks,
            )
        else:
            first = ReceiverReport(out.ssrc, blocks)
        self._packets_at_last_report = out.packets_sent
        return build_rtcp(first) + build_rtcp(SourceDescription(((out.ssrc, self.cname),)))

    def build_bye(self, reason: str = "") -> bytes:
        """A compound RR + SDES + BYE for leaving the session (RFC 3550 §6.6: BYE goes last)."""
        out = self.outbound
        return (
            build_rtcp(ReceiverReport(out.ssrc))
            + build_rtcp(SourceDescription(((out.ssrc, self.cname),)))
            + build_rtcp(Bye((out.ssrc,), reason))
        )

    def receive(self, packets: list[RtcpPacket], now: float, ntp_now: float) -> None:
        """Take the peer's compound packet: remember its SR for our LSR/DLSR, its view of us, and RTT."""
        for packet in packets:
            if isinstance(packet, SenderReport):
                self._last_sr = ntp_middle(packet.ntp_timestamp)
                self._last_sr_at = now
                self._take_blocks(packet.reports, ntp_now)
            elif isinstance(packet, ReceiverReport):
                self._take_blocks(packet.reports, ntp_now)
            elif isinstance(packet, SourceDescription):
                for _, cname in packet.cnames[:1]:
                    self.remote_cname = cname
            else:
                self.bye_received = True

    def _take_blocks(self, blocks: tuple[ReportBlock, ...], ntp_now: float) -> None:
        for block in blocks:
            if block.ssrc != self.outbound.ssrc:
                continue
            self.remote_report = block
            if block.last_sr:
                rtt = round_trip_time(ntp_middle(ntp_timestamp(ntp_now)), block.last_sr, block.delay_since_last_sr)
                if rtt is not None:
                    self.rtt = rtt

    def stats(self, packets_dropped: int = 0) -> LegStats:
        """The leg's figures now."""
        rate = self.inbound.clock_rate
        remote = self.remote_report
        return LegStats(
            packets_sent=self.outbound.packets_sent,
            octets_sent=self.outbound.octets_sent,
            packets_received=self.inbound.received,
            octets_received=self.inbound.bytes_received,
            cumulative_lost=max(0, self.inbound.cumulative_lost),
            fraction_lost=self.last_fraction_lost / 256,
            jitter_ms=self.inbound.jitter * 1000 / rate,
            rtt_ms=None if self.rtt is None else self.rtt * 1000,
            remote_cumulative_lost=None if remote is None else remote.cumulative_lost,
            remote_fraction_lost=None if remote is None else remote.fraction_lost / 256,
            remote_jitter_ms=None if remote is None else remote.jitter * 1000 / self.outbound.clock_rate,
            packets_dropped=packets_dropped,
        )


def round_trip_time(arrival_middle: int, last_sr: int, delay_since_last_sr: int) -> float | None:
    """RTT = A − LSR − DLSR in seconds (RFC 3550 §6.4.1), all in 1/65536 s; ``None`` if it comes out negative."""
    rtt = (arrival_middle - last_sr - delay_since_last_sr) & 0xFFFFFFFF
    if rtt >= 0x80000000:  # a DLSR larger than the elapsed time: clock trouble, not a real RTT
        return None
    return rtt / 65536
