"""RTP packets, sequence extension, loss and jitter arithmetic (RFC 3550 §5.1, A.1, A.3, A.8)."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from voxcenter.media.rtp import InactivityWatch, OutboundStream, ReceiverStats, build_rtp, parse_rtp


def test_parse_fixed_header() -> None:
    data = bytes([0x80, 0x80 | 8]) + struct.pack("!HII", 0xBEEF, 0x01020304, 0xCAFEBABE) + b"\xd5" * 160
    packet = parse_rtp(data)
    assert packet is not None
    assert (packet.payload_type, packet.marker, packet.sequence) == (8, True, 0xBEEF)
    assert (packet.timestamp, packet.ssrc) == (0x01020304, 0xCAFEBABE)
    assert packet.payload == b"\xd5" * 160
    assert packet.csrcs == () and packet.extension is None


def test_parse_csrc_extension_and_padding() -> None:
    data = build_rtp(0, False, 7, 160, 1, b"abcd", csrcs=(11, 22), extension=(0xBEDE, b"\x01\x02\x03\x04"), padding=3)
    assert data[0] == 0x80 | 0x20 | 0x10 | 2
    assert data[-1] == 3 and len(data) == 12 + 8 + 8 + 4 + 3
    packet = parse_rtp(data)
    assert packet is not None
    assert packet.csrcs == (11, 22)
    assert packet.extension == (0xBEDE, b"\x01\x02\x03\x04")
    assert packet.payload == b"abcd"


def test_bad_packets_are_dropped_not_raised() -> None:
    good = build_rtp(0, False, 1, 2, 3, b"x" * 10)
    assert parse_rtp(b"") is None
    assert parse_rtp(good[:11]) is None
    assert parse_rtp(bytes([0x40]) + good[1:]) is None  # version 1
    assert parse_rtp(bytes([0x8F]) + good[1:]) is None  # 15 CSRCs announced, 10 octets follow
    assert parse_rtp(bytes([0x90]) + good[1:12] + b"\x00\x00\x00\x09") is None  # extension longer than the packet
    assert parse_rtp(bytes([0xA0]) + good[1:-1] + b"\x00") is None  # padding count 0
    assert parse_rtp(bytes([0xA0]) + good[1:-1] + b"\xff") is None  # padding longer than the packet


@given(st.binary(max_size=80))
def test_parse_never_raises(data: bytes) -> None:
    parse_rtp(data)


@given(
    pt=st.integers(0, 127),
    marker=st.booleans(),
    seq=st.integers(0, 0xFFFF),
    ts=st.integers(0, 0xFFFFFFFF),
    ssrc=st.integers(0, 0xFFFFFFFF),
    payload=st.binary(max_size=200),
    csrcs=st.lists(st.integers(0, 0xFFFFFFFF), max_size=15),
    padding=st.integers(0, 255),
)
def test_build_parse_roundtrip(
    pt: int, marker: bool, seq: int, ts: int, ssrc: int, payload: bytes, csrcs: list[int], padding: int
) -> None:
    packet = parse_rtp(build_rtp(pt, marker, seq, ts, ssrc, payload, tuple(csrcs), padding=padding))
    assert packet is not None
    assert (packet.payload_type, packet.marker, packet.sequence, packet.timestamp, packet.ssrc) == (
        pt, marker, seq, ts, ssrc,
    )
    assert packet.payload == payload and packet.csrcs == tuple(csrcs)


def test_outbound_stream_wraps_and_counts() -> None:
    stream = OutboundStream(ssrc=5, initial_sequence=0xFFFF, initial_timestamp=0xFFFFFF00, clock_rate=8000)
    first = parse_rtp(stream.build_next(b"a" * 160, 0, 160, False, now=0.0))
    second = parse_rtp(stream.build_next(b"b" * 160, 0, 160, False, now=0.02))
    assert first is not None and second is not None
    assert (first.sequence, second.sequence) == (0xFFFF, 0)
    assert second.timestamp == (first.timestamp + 160) & 0xFFFFFFFF
    assert stream.packets_sent == 2 and stream.octets_sent == 320


def test_talkspurt_after_silence_advances_by_elapsed_time() -> None:
    stream = OutboundStream(ssrc=5, initial_sequence=10, initial_timestamp=1000)
    stream.build_next(b"a", 0, 160, True, now=1.0)
    base = stream.timestamp
    # 2.5 s later a new talkspurt: 20 000 samples at 8 kHz, marker set, sequence still +1.
    packet = parse_rtp(stream.build_next(b"b", 0, 160, True, now=3.5))
    assert packet is not None and packet.marker
    assert packet.timestamp == base + 20000
    assert packet.sequence == 11


def _feed(stats: ReceiverStats, seqs: list[int], ssrc: int = 1) -> None:
    for i, seq in enumerate(seqs):
        stats.update(ssrc, seq & 0xFFFF, 160 * i, 0.02 * i, 160)


def test_sequence_extension_across_wrap() -> None:
    stats = ReceiverStats()
    _feed(stats, list(range(65530, 65536 + 10)))
    # A.1 probation: the first packet only starts probation, the second is the base.
    assert stats.base_seq == 65531
    assert stats.cycles == 1 << 16
    assert stats.extended_max == 65536 + 9
    assert stats.received == stats.expected == 15  # 65531 … 65536 + 9
    assert stats.cumulative_lost == 0


def test_loss_and_fraction_lost() -> None:
    stats = ReceiverStats()
    # 0..99 without 10, 20, …, 90. Packet 0 only opens probation (A.1), so the base is 1:
    # expected 99, received 90, lost 9.
    _feed(stats, [s for s in range(100) if s == 0 or s % 10])
    assert stats.expected == 99
    assert stats.received == 90
    assert stats.cumulative_lost == 9
    assert stats.take_fraction_lost() == 23  # floor(9 × 256 / 99): 9.0 %
    assert stats.take_fraction_lost() == 0  # a new interval with nothing expected


def test_duplicates_count_as_negative_loss_and_clamp_fraction() -> None:
    stats = ReceiverStats()
    _feed(stats, [1, 2, 3, 3, 3, 4])
    assert stats.cumulative_lost == -2  # RFC 3550 A.3: duplicates make the count negative
    assert stats.take_fraction_lost() == 0


def test_big_jump_then_sequential_restarts_the_stream() -> None:
    stats = ReceiverStats()
    _feed(stats, [1, 2, 3, 4])
    assert not stats.update(1, 20000, 0, 1.0, 160)  # a lone jump is rejected
    assert stats.update(1, 20001, 160, 1.02, 160)  # followed by its successor: the source restarted
    assert stats.base_seq == 20001 and stats.received == 1


def test_jitter_against_hand_computed_transits() -> None:
    # Packets 20 ms apart in timestamps (160 at 8 kHz), arrivals with known deviations.
    stats = ReceiverStats(8000)
    arrivals_ms = [0.0, 20.0, 45.0, 60.0, 80.0]
    for i, arrival in enumerate(arrivals_ms):
        stats.update(9, 100 + i, 160 * i, arrival / 1000, 160)
    # Transit (arrival×8000 − ts) in samples: 0, 0, 40, 0, 0 → |D| = 0, 40, 40, 0 (first packet has no D).
    expected = 0.0
    for d in (0, 40, 40, 0):
        expected += (d - expected) / 16
    assert abs(stats.jitter - expected) < 1e-9
    assert abs(expected - 4.541015625) < 1e-9  # 2.5, then 2.5 + 37.5/16, then ×15/16


def test_new_ssrc_restarts_statistics() -> None:
    stats = ReceiverStats()
    _feed(stats, [1, 2, 3])
    _feed(stats, [500, 501, 502], ssrc=2)
    assert stats.ssrc == 2 and stats.base_seq == 501 and stats.received == 2


def test_inactivity_watch() -> None:
    watch = InactivityWatch(5.0, now=0.0)
    assert watch.deadline() == 5.0 and not watch.expired(4.9)
    watch.packet(3.0)
    assert watch.deadline() == 8.0 and watch.expired(8.0)
    watch.rearm(None, 9.0)
    assert watch.deadline() is None and not watch.expired(1000.0)
