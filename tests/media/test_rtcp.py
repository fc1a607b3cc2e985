"""RTCP packets and arithmetic (RFC 3550 §6): SR/RR/SDES/BYE, compound parsing, intervals, RTT, figures."""

from __future__ import annotations

import contextlib
import random
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxcenter.media.rtcp import (
    Bye,
    ReceiverReport,
    ReportBlock,
    RtcpReporter,
    SenderReport,
    SourceDescription,
    build_rtcp,
    is_rtcp,
    ntp_middle,
    ntp_timestamp,
    parse_rtcp,
    report_interval,
    round_trip_time,
)
from voxcenter.media.rtp import MalformedPacketError, OutboundStream, ReceiverStats, build_rtp


def test_sr_layout_and_roundtrip() -> None:
    block = ReportBlock(0x11111111, 25, -3, 70000, 42, 0xAABBCCDD, 65536)
    sr = SenderReport(0x22222222, 0x0102030405060708, 1600, 50, 8000, (block,))
    data = build_rtcp(sr)
    assert data[:4] == bytes([0x81, 200]) + struct.pack("!H", 12)  # 1 block; 52 bytes = 13 words → length 12
    assert len(data) == 52
    # cumulative lost −3 is a signed 24-bit field after the fraction octet.
    assert data[32:36] == bytes([25, 0xFF, 0xFF, 0xFD])
    assert parse_rtcp(data) == [sr]


def test_compound_rr_sdes_bye() -> None:
    rr = ReceiverReport(7, (ReportBlock(9, 0, 0, 1, 2, 0, 0),))
    sdes = SourceDescription(((7, "voxcenter-abc@host"),))
    bye = Bye((7,), "media timeout")
    data = build_rtcp(rr) + build_rtcp(sdes) + build_rtcp(bye)
    assert len(data) % 4 == 0
    assert parse_rtcp(data) == [rr, sdes, bye]


def test_unknown_packet_types_are_skipped() -> None:
    app = bytes([0x80, 204, 0, 2]) + b"\x00\x00\x00\x07" + b"name"
    rr = build_rtcp(ReceiverReport(7))
    assert parse_rtcp(rr + app) == [ReceiverReport(7)]


@pytest.mark.parametrize(
    "data",
    [
        b"\x80\xc9",  # shorter than a header
        bytes([0x40, 201, 0, 1]) + bytes(4),  # version 1
        bytes([0x80, 201, 0, 5]) + bytes(4),  # length past the datagram
        bytes([0x81, 201, 0, 1]) + bytes(4),  # one report block announced, none present
        bytes([0xA0, 201, 0, 1]) + bytes(4) + build_rtcp(ReceiverReport(1)),  # padding on a non-last packet
        bytes([0x81, 202, 0, 2]) + b"\x00\x00\x00\x01" + b"\x01\x09ab",  # SDES item past the end
        build_rtcp(ReceiverReport(1)) + b"\x80",  # trailing garbage
    ],
)
def test_malformed_compound_packets_raise_the_remote_error(data: bytes) -> None:
    with pytest.raises(MalformedPacketError):
        parse_rtcp(data)


@given(st.binary(max_size=120))
def test_parse_rtcp_raises_only_malformed(data: bytes) -> None:
    with contextlib.suppress(MalformedPacketError):
        parse_rtcp(data)


def test_rtcp_mux_demultiplexing() -> None:
    assert is_rtcp(build_rtcp(ReceiverReport(1)))
    assert is_rtcp(build_rtcp(Bye((1,))))
    assert not is_rtcp(build_rtp(0, True, 1, 2, 3, b"x"))  # PT 0 with marker: 0x80
    assert not is_rtcp(build_rtp(101, True, 1, 2, 3, b"x"))  # telephone-event with marker: 0xE5 = 229
    assert not is_rtcp(build_rtp(96, False, 1, 2, 3, b"x"))
    assert not is_rtcp(b"\x80")


def test_rtt_from_lsr_and_dlsr_rfc3550_example() -> None:
    # RFC 3550 §6.4.1 figure: A = 0xb710:8000 (46864.500 s), LSR = 0xb705:2000 (46853.125 s),
    # DLSR = 0x0005:4000 (5.250 s) → RTT = 0x0006:2000 = 6.125 s.
    assert round_trip_time(0xB7108000, 0xB7052000, 0x00054000) == 6.125
    assert round_trip_time(0xB7108000, 0xB7052000, 0x00254000) is None  # DLSR longer than elapsed


def test_ntp_conversion() -> None:
    ntp = ntp_timestamp(0.5)  # 1970-01-01T00:00:00.5Z
    assert ntp >> 32 == 2208988800 and ntp & 0xFFFFFFFF == 0x80000000
    assert ntp_middle(ntp) == (2208988800 & 0xFFFF) << 16 | 0x8000


def test_report_interval_is_randomized_around_the_base() -> None:
    rng = random.Random(1)
    intervals = [report_interval(rng, 5.0) for _ in range(500)]
    assert min(intervals) >= 2.5 and max(intervals) <= 7.5
    assert 4.5 < sum(intervals) / len(intervals) < 5.5
    assert max(report_interval(rng, 5.0, initial=True) for _ in range(100)) <= 3.75


def _pair() -> tuple[RtcpReporter, RtcpReporter]:
    rng = random.Random(7)
    a = RtcpReporter(OutboundStream(0xA, 1, 1000), ReceiverStats(), "a@x", 0.0, rng)
    b = RtcpReporter(OutboundStream(0xB, 1, 5000), ReceiverStats(), "b@y", 0.0, rng)
    return a, b


def test_reporters_exchange_loss_jitter_and_rtt() -> None:
    a, b = _pair()
    # a sends 100 packets, b receives all but 5; b's stats see a's stream.
    for i in range(100):
        packet = a.outbound.build_next(b"\xff" * 160, 0, 160, False, now=i * 0.02)
        if i % 20 != 10:
            b.inbound.update(0xA, (1 + i) & 0xFFFF, 1000 + 160 * (i + 1), i * 0.02, 160)
        assert packet
    # a's SR at t=2.0 (wall clock 1000.0); it reaches b 40 ms later.
    sr_bytes = a.build_report(now=2.0, ntp_now=1000.0)
    assert isinstance(parse_rtcp(sr_bytes)[0], SenderReport)
    b.receive(parse_rtcp(sr_bytes), now=2.04, ntp_now=1000.04)
    assert b.remote_cname == "a@x"
    # b holds it 0.5 s, then reports; a gets it 40 ms later: RTT 80 ms.
    rr_bytes = b.build_report(now=2.54, ntp_now=1000.54)
    first = parse_rtcp(rr_bytes)[0]
    assert isinstance(first, ReceiverReport)  # b sent nothing: RR, not SR
    (block,) = first.reports
    assert block.ssrc == 0xA and block.delay_since_last_sr == 32768
    a.receive(parse_rtcp(rr_bytes), now=2.58, ntp_now=1000.58)
    assert a.rtt is not None and abs(a.rtt - 0.080) < 1e-3
    stats_a = a.stats()
    assert stats_a.packets_sent == 100 and stats_a.octets_sent == 16000
    assert stats_a.remote_cumulative_lost == 5
    assert stats_a.rtt_ms is not None and abs(stats_a.rtt_ms - 80) < 1
    stats_b = b.stats()
    # Received 95 of which the first only opened probation: 94 counted of 99 expected.
    assert stats_b.packets_received == 94 and stats_b.cumulative_lost == 5
    assert stats_b.fraction_lost == (5 * 256 // 99) / 256
    assert stats_b.rtt_ms is None


def test_bye_is_last_and_marks_the_peer() -> None:
    a, b = _pair()
    packets = parse_rtcp(a.build_bye("bye now"))
    assert isinstance(packets[-1], Bye) and packets[-1].reason == "bye now"
    b.receive(packets, 1.0, 1.0)
    assert b.bye_received
