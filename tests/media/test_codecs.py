"""G.711 against a slow scalar reference written from the standard's decision and reconstruction tables."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxcenter.media.codecs import (
    CODECS,
    PCMA,
    PCMU,
    alaw_decode,
    alaw_encode,
    codec_by_name,
    codec_for_payload_type,
    transcode,
    ulaw_decode,
    ulaw_encode,
)

# G.711 Table 2a (μ-law), magnitudes on the 14-bit scale (16-bit value / 4): segment s starts at ULAW_START[s]
# and has 16 intervals of width 2 << s, except that segment 0's first interval is [0, 1). Values at or past 8159
# fall in the last interval. The reconstruction value is the middle of the interval.
ULAW_START = [0, 31, 95, 223, 479, 991, 2015, 4063]
# G.711 Table 1a (A-law), magnitudes on the 13-bit scale (16-bit value / 8): segments 0 and 1 have steps of 2
# starting at 0 and 32, then segment s starts at 16 << s with a step of 1 << s.
ALAW_START = [0, 32, 64, 128, 256, 512, 1024, 2048]


def ulaw_interval(magnitude: float) -> tuple[int, int]:
    for segment in reversed(range(8)):
        if magnitude >= ULAW_START[segment]:
            break
    step = 2 << segment
    offset = 1 if segment == 0 else 0  # segment 0 is shifted: its first interval is half wide
    return segment, min(15, int((magnitude - ULAW_START[segment] + offset) // step))


def ref_ulaw_encode(sample: int) -> int:
    segment, level = ulaw_interval(abs(sample) / 4)
    sign = 0x80 if sample < 0 else 0x00
    return 0xFF ^ (sign | segment << 4 | level)  # all bits inverted on the line


def ref_ulaw_decode(code: int) -> int:
    code ^= 0xFF
    segment, level = (code >> 4) & 7, code & 15
    if segment == 0:
        value14 = 2 * level  # intervals [2l-1, 2l+1) centered on 2l; level 0 is [0, 1) → 0
    else:
        width = 2 << segment
        value14 = ULAW_START[segment] + level * width + width // 2
    return -4 * value14 if code & 0x80 else 4 * value14


def ref_alaw_encode(sample: int) -> int:
    magnitude = abs(sample) / 8
    for segment in reversed(range(8)):
        if magnitude >= ALAW_START[segment]:
            break
    step = 2 if segment < 2 else 1 << segment
    level = min(15, int((magnitude - ALAW_START[segment]) // step))
    sign = 0x80 if sample >= 0 else 0x00  # A-law: sign bit set for positive
    return (sign | segment << 4 | level) ^ 0x55  # even bits inverted on the line


def ref_alaw_decode(code: int) -> int:
    code ^= 0x55
    segment, level = (code >> 4) & 7, code & 15
    step = 2 if segment < 2 else 1 << segment
    value13 = ALAW_START[segment] + level * step + step // 2
    return 8 * value13 if code & 0x80 else -8 * value13


ALL_SAMPLES = np.arange(-32768, 32768, dtype=np.int16)


def test_known_code_points():
    assert ulaw_decode(bytes([0xFF, 0x80, 0x7F, 0x00])).tolist() == [0, 32124, 0, -32124]
    assert alaw_decode(bytes([0xD5, 0x55])).tolist() == [8, -8]
    assert ulaw_encode(np.array([0, 32124, -32124], dtype=np.int16)) == bytes([0xFF, 0x80, 0x00])
    assert alaw_encode(np.array([8, -8, 0], dtype=np.int16)) == bytes([0xD5, 0x55, 0xD5])


def test_ulaw_decode_all_codes():
    expected = [ref_ulaw_decode(code) for code in range(256)]
    assert ulaw_decode(bytes(range(256))).tolist() == expected
    assert PCMU.decode(bytes(range(256))).tolist() == expected


def test_alaw_decode_all_codes():
    expected = [ref_alaw_decode(code) for code in range(256)]
    assert alaw_decode(bytes(range(256))).tolist() == expected
    assert PCMA.decode(bytes(range(256))).tolist() == expected


def test_ulaw_encode_all_samples():
    expected = bytes(ref_ulaw_encode(int(x)) for x in ALL_SAMPLES)
    assert ulaw_encode(ALL_SAMPLES) == expected
    assert PCMU.encode(ALL_SAMPLES) == expected


def test_alaw_encode_all_samples():
    expected = bytes(ref_alaw_encode(int(x)) for x in ALL_SAMPLES)
    assert alaw_encode(ALL_SAMPLES) == expected
    assert PCMA.encode(ALL_SAMPLES) == expected


@pytest.mark.parametrize("codec", [PCMU, PCMA])
def test_decode_then_encode_is_identity_except_negative_zero(codec):
    codes = bytes(range(256))
    again = codec.encode(codec.decode(codes))
    changed = [c for c in range(256) if again[c] != c]
    assert changed == ([0x7F] if codec is PCMU else [])  # μ-law has +0 and -0; both decode to 0


def test_transcode_matches_decode_encode():
    codes = bytes(range(256))
    assert transcode(codes, PCMU, PCMA) == alaw_encode(ulaw_decode(codes))
    assert transcode(codes, PCMA, PCMU) == ulaw_encode(alaw_decode(codes))
    assert transcode(codes, PCMU, PCMU) is codes
    assert transcode(b"", PCMA, PCMU) == b""


def test_codec_registry_and_silence():
    assert CODECS["PCMU"] is PCMU and CODECS["PCMA"] is PCMA
    assert (PCMU.payload_type, PCMA.payload_type, PCMU.clock_rate) == (0, 8, 8000)
    assert codec_for_payload_type(0) is PCMU and codec_for_payload_type(8) is PCMA
    assert codec_for_payload_type(101) is None
    assert codec_by_name("pcma") is PCMA and codec_by_name("opus") is None
    assert PCMU.silence(3) == b"\xff\xff\xff" and PCMA.silence(2) == b"\xd5\xd5"
    assert not PCMU.decode(PCMU.silence(160)).any()
    with pytest.raises(ValueError):
        PCMU.silence(-1)


def test_non_int16_input_is_clipped_not_wrapped():
    wide = np.array([40000, -40000, 1.6], dtype=np.float64)
    assert PCMU.encode(wide) == PCMU.encode(np.array([32767, -32768, 2], dtype=np.int16))
    with pytest.raises(TypeError):
        PCMU.encode(np.array(["a"]))


@given(st.lists(st.integers(-32768, 32767), max_size=64))
def test_quantization_error_bounded_by_half_a_step(samples):
    array = np.array(samples, dtype=np.int16)
    for codec, top in ((PCMU, 32124), (PCMA, 32256)):
        decoded = codec.decode(codec.encode(array)).astype(np.int64)
        magnitude = np.minimum(np.abs(array.astype(np.int64)), top)
        # the step is at most 1/16 of the magnitude's segment, plus the smallest step near zero
        assert np.all(np.abs(decoded - np.sign(array) * magnitude) <= magnitude / 16 + 16)
