"""The mixer: each party hears the sum of the others and never itself (checked by FFT), in its own codec."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from voxcenter.media.codecs import PCMA, PCMU, Codec
from voxcenter.media.mixer import FRAME_SAMPLES, Mixer, mix_minus
from voxcenter.media.rtp import RtpPacket

from .test_bridge import FakeLeg
from .test_player import FakeClock

TONES = {"customer": 440.0, "agent": 660.0, "senior": 1000.0}


def tone_frames(frequency: float, codec: Codec, count: int, level: float = 0.2) -> list[bytes]:
    t = np.arange(count * FRAME_SAMPLES) / 8000.0
    wave = (np.sin(2 * np.pi * frequency * t) * level * 32767).astype(np.int16)
    return [codec.encode(wave[i * FRAME_SAMPLES:(i + 1) * FRAME_SAMPLES]) for i in range(count)]


def strengths(samples: np.ndarray) -> dict[str, float]:
    """Spectral magnitude at each party's tone, relative to the strongest of them."""
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64) * np.hanning(len(samples))))
    freqs = np.fft.rfftfreq(len(samples), 1 / 8000.0)
    values = {name: float(spectrum[np.argmin(np.abs(freqs - hz))]) for name, hz in TONES.items()}
    top = max(values.values()) or 1.0
    return {name: value / top for name, value in values.items()}


def run_conference(codecs: dict[str, Codec], frames: int = 50) -> tuple[dict[str, FakeLeg], Mixer]:
    clock = FakeClock()
    legs = {name: FakeLeg(codec, 101, ssrc) for ssrc, (name, codec) in enumerate(codecs.items(), start=1)}
    mixer = Mixer(list(legs.values()), clock, customer=legs["customer"])  # type: ignore[arg-type]
    mixer.start()
    assert clock.clients == [mixer]
    spoken = {name: tone_frames(TONES[name], leg.codec, frames) for name, leg in legs.items()}
    for i in range(frames):
        for name, leg in legs.items():
            leg.deliver(RtpPacket(leg.codec.payload_type, i == 0, i, i * 160, 99, spoken[name][i]))
        mixer.tick(100.0 + i * 0.02)
    return legs, mixer


@pytest.mark.parametrize("codecs", [
    {"customer": PCMU, "agent": PCMU, "senior": PCMU},
    {"customer": PCMA, "agent": PCMU, "senior": PCMA},
])
def test_each_party_hears_the_other_two_and_not_itself(codecs: dict[str, Codec]) -> None:
    legs, _ = run_conference(codecs)
    for name, leg in legs.items():
        assert len(leg.sent) == 50
        assert leg.sent[0].marker and not any(p.marker for p in leg.sent[1:])
        assert {p.payload_type for p in leg.sent} == {leg.codec.payload_type}
        heard = np.concatenate([leg.codec.decode(p.payload) for p in leg.sent])
        levels = strengths(heard)
        others = [other for other in TONES if other != name]
        assert all(levels[other] > 0.5 for other in others), (name, levels)
        assert levels[name] < 0.02, (name, levels)


def test_a_silent_party_is_silence_and_a_burst_is_bounded() -> None:
    clock = FakeClock()
    a, b, c = (FakeLeg(PCMU, 101, ssrc) for ssrc in (1, 2, 3))
    mixer = Mixer([a, b, c], clock, max_backlog=3)  # type: ignore[list-item]
    mixer.start()
    burst = tone_frames(440.0, PCMU, 10)
    for i, payload in enumerate(burst):  # ten frames at once: only the newest three are kept
        a.deliver(RtpPacket(0, False, i, i * 160, 7, payload))
    a.deliver(RtpPacket(101, False, 11, 1600, 7, b"\x01\x0a\x00\xa0"))  # a digit is not mixed
    for i in range(5):
        mixer.tick(100.0 + i * 0.02)
    heard_by_b = [PCMU.decode(p.payload) for p in b.sent]
    assert [bool(np.abs(frame).max() > 1000) for frame in heard_by_b] == [True, True, True, False, False]
    assert all(np.abs(PCMU.decode(p.payload)).max() < 50 for p in a.sent)  # a hears the silent b and c


def test_stop_gives_the_legs_back_and_taps_split_customer_from_the_rest() -> None:
    legs, mixer = run_conference({"customer": PCMU, "agent": PCMU, "senior": PCMU}, frames=1)
    tapped: list[tuple[str, int]] = []
    mixer.add_tap(lambda direction, ts, payload, codec: tapped.append((direction, ts)))
    for _ in range(2):
        mixer.tick(0.0)
    assert tapped == [("caller", 0), ("agent", 0), ("caller", 160), ("agent", 160)]
    mixer.stop()
    assert all(leg.on_packet is None for leg in legs.values())
    assert not mixer.active


@given(arrays(np.int16, st.tuples(st.integers(2, 6), st.just(FRAME_SAMPLES))))
def test_mix_minus_is_the_sum_of_the_others_clipped(frames: np.ndarray) -> None:
    mixed = mix_minus(frames)
    wide = frames.astype(np.int64)
    for row in range(frames.shape[0]):
        expected = np.clip(wide.sum(axis=0) - wide[row], -32768, 32767)
        assert np.array_equal(mixed[row], expected)
