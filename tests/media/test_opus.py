"""Opus on a browser's wire: a PCMU packet goes out as Opus at the 48 kHz clock and comes back as PCMU, the
tone intact; telephone-events change clock with it."""

from __future__ import annotations

import numpy as np

from tests.interop.audio import spectrum, tone
from voxcenter.media.codecs import PCMU
from voxcenter.media.opus import OpusWire
from voxcenter.media.rtp import build_rtp, parse_rtp


def test_a_tone_crosses_opus_and_back_with_its_clock_and_sequence() -> None:
    sender, receiver = OpusWire(111, 110), OpusWire(111, 110)
    samples = tone(660.0, 2.0, rate=8000)
    heard: list[np.ndarray] = []
    for index in range(100):
        pcmu = PCMU.encode(samples[index * 160:(index + 1) * 160])
        wire = sender.outgoing(build_rtp(0, index == 0, 7 + index, 1000 + 160 * index, 0xAB, pcmu))
        if wire is None:
            continue  # the encoder's first frame may come later
        packet = parse_rtp(wire)
        assert packet is not None and packet.payload_type == 111
        assert (packet.sequence, packet.timestamp) == (7 + index, (1000 + 160 * index) * 6)
        back = receiver.incoming(wire)
        assert back is not None
        narrow = parse_rtp(back)
        assert narrow is not None and narrow.payload_type == 0 and narrow.timestamp == 1000 + 160 * index
        assert len(narrow.payload) == 160
        heard.append(PCMU.decode(narrow.payload))
    assert len(heard) >= 98
    assert abs(spectrum(np.concatenate(heard[10:]), 8000).dominant - 660.0) <= 15
    event = sender.outgoing(build_rtp(110, True, 200, 16000, 0xAB, bytes([5, 0x0A, 0x01, 0x40])))
    assert event is not None
    parsed = parse_rtp(event)
    assert parsed is not None and parsed.timestamp == 96000 and parsed.payload == bytes([5, 0x0A, 0x07, 0x80])
    assert receiver.incoming(event) == build_rtp(110, True, 200, 16000, 0xAB, bytes([5, 0x0A, 0x01, 0x40]))
