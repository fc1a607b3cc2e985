"""G.711 μ-law and A-law (ITU-T G.711) with numpy lookup tables.

Encoding follows the segment and quantization rules of G.711 Tables 1a/2a applied to the magnitude of the
16-bit sample, so the code of ``-x`` is the code of ``x`` with only the sign bit changed:

* μ-law works on a 14-bit scale (``|x| / 4``); with the bias of 33 the eight segments start at 0, 31, 95, 223,
  479, 991, 2015 and 4063 and have steps of 2, 4, ..., 256. The code's bits are inverted on the line.
* A-law works on a 13-bit scale (``|x| / 8``); segments 0 and 1 both have a step of 2, then the step doubles per
  segment up to 128. Even bits are inverted on the line (XOR 0x55).

The decoders return the middle of each quantization interval scaled back to 16 bits (μ-law 0x80 → 32124,
0xFF → 0; A-law 0xD5 → 8, 0x55 → -8). Encoding is one lookup in a 65536-entry table indexed by the sample's bit
pattern; decoding one lookup in a 256-entry table; PCMU↔PCMA transcoding one lookup in a 256-entry table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

Int16Array = npt.NDArray[np.int16]
_UInt8Array = npt.NDArray[np.uint8]

SAMPLE_RATE = 8000
"""Clock rate and sample rate of both G.711 laws (RFC 3551 §4.5.14)."""


def _build_ulaw_encode_table() -> _UInt8Array:
    samples = np.arange(-32768, 32768, dtype=np.int64)
    magnitude = np.minimum(np.abs(samples), 32635) + 0x84  # bias 33 on the 14-bit scale is 132 on 16 bits
    # Segment = position of the highest set bit above bit 7 of the biased magnitude (0..7).
    segment = np.floor(np.log2(magnitude >> 7)).astype(np.int64)
    mantissa = (magnitude >> (segment + 3)) & 0x0F
    sign = np.where(samples < 0, 0x80, 0x00)
    codes = ~(sign | (segment << 4) | mantissa) & 0xFF
    return _by_bit_pattern(samples, codes)


def _build_alaw_encode_table() -> _UInt8Array:
    samples = np.arange(-32768, 32768, dtype=np.int64)
    magnitude = np.minimum(np.abs(samples) >> 3, 4095)  # 12-bit magnitude on the 13-bit scale
    segment = np.where(magnitude < 32, 0, np.floor(np.log2(np.maximum(magnitude >> 4, 1))).astype(np.int64))
    segment = np.minimum(segment, 7)
    mantissa = np.where(segment == 0, magnitude >> 1, magnitude >> np.maximum(segment, 1)) & 0x0F
    sign = np.where(samples < 0, 0x00, 0x80)  # A-law: sign bit set means positive
    codes = (sign | (segment << 4) | mantissa) ^ 0x55
    return _by_bit_pattern(samples, codes)


def _by_bit_pattern(samples: npt.NDArray[np.int64], codes: npt.NDArray[np.int64]) -> _UInt8Array:
    """Reorder a table built over -32768..32767 so it is indexed by the sample's uint16 bit pattern."""
    table = np.empty(65536, dtype=np.uint8)
    table[samples.astype(np.int16).view(np.uint16)] = codes.astype(np.uint8)
    return table


def _build_ulaw_decode_table() -> Int16Array:
    codes = ~np.arange(256, dtype=np.int64) & 0xFF
    segment = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << segment) - 0x84
    return np.where(codes & 0x80, -magnitude, magnitude).astype(np.int16)


def _build_alaw_decode_table() -> Int16Array:
    codes = np.arange(256, dtype=np.int64) ^ 0x55
    segment = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    # Middle of the interval on the 13-bit scale, times 8: segment 0 starts at 0, segment s≥1 at 16 << s.
    magnitude = np.where(segment == 0, (mantissa << 4) + 8, ((mantissa << 4) + 0x108) << np.maximum(segment - 1, 0))
    return np.where(codes & 0x80, magnitude, -magnitude).astype(np.int16)


ULAW_ENCODE_TABLE: _UInt8Array = _build_ulaw_encode_table()
"""μ-law code for every int16 sample, indexed by the sample's uint16 bit pattern."""
ALAW_ENCODE_TABLE: _UInt8Array = _build_alaw_encode_table()
"""A-law code for every int16 sample, indexed by the sample's uint16 bit pattern."""
ULAW_DECODE_TABLE: Int16Array = _build_ulaw_decode_table()
"""Linear int16 value of each μ-law code."""
ALAW_DECODE_TABLE: Int16Array = _build_alaw_decode_table()
"""Linear int16 value of each A-law code."""
ULAW_TO_ALAW: _UInt8Array = ALAW_ENCODE_TABLE[ULAW_DECODE_TABLE.view(np.uint16)]
"""A-law code for each μ-law code (decode, then encode)."""
ALAW_TO_ULAW: _UInt8Array = ULAW_ENCODE_TABLE[ALAW_DECODE_TABLE.view(np.uint16)]
"""μ-law code for each A-law code (decode, then encode)."""

for _table in (ULAW_ENCODE_TABLE, ALAW_ENCODE_TABLE, ULAW_DECODE_TABLE, ALAW_DECODE_TABLE, ULAW_TO_ALAW, ALAW_TO_ULAW):
    _table.flags.writeable = False


def as_int16(samples: npt.ArrayLike) -> Int16Array:
    """Samples as a contiguous int16 array; wider integer or float input is clipped to the int16 range."""
    array = np.asarray(samples)
    if array.dtype == np.int16:
        return np.ascontiguousarray(array, dtype=np.int16)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"audio samples must be numbers, got an array of {array.dtype}")
    if array.dtype.kind == "f":
        array = np.rint(array)
    clipped: Int16Array = np.clip(array, -32768, 32767).astype(np.int16)
    return clipped


def ulaw_decode(payload: bytes) -> Int16Array:
    """Decode μ-law bytes to int16 samples (G.711 Table 2a)."""
    return ULAW_DECODE_TABLE[np.frombuffer(payload, dtype=np.uint8)]


def ulaw_encode(samples: npt.ArrayLike) -> bytes:
    """Encode int16 samples to μ-law bytes (G.711 Table 2a)."""
    return ULAW_ENCODE_TABLE[as_int16(samples).view(np.uint16)].tobytes()


def alaw_decode(payload: bytes) -> Int16Array:
    """Decode A-law bytes to int16 samples (G.711 Table 1a)."""
    return ALAW_DECODE_TABLE[np.frombuffer(payload, dtype=np.uint8)]


def alaw_encode(samples: npt.ArrayLike) -> bytes:
    """Encode int16 samples to A-law bytes (G.711 Table 1a)."""
    return ALAW_ENCODE_TABLE[as_int16(samples).view(np.uint16)].tobytes()


@dataclass(frozen=True, slots=True)
class Codec:
    """One G.711 law as RTP knows it (RFC 3551 §4.5.14, static payload types 0 and 8)."""

    name: str
    """Encoding name as in SDP ``a=rtpmap`` ("PCMU" or "PCMA")."""
    payload_type: int
    """Static RTP payload type (0 for PCMU, 8 for PCMA)."""
    clock_rate: int
    """RTP clock rate in Hz; one timestamp tick per sample."""
    silence_code: int
    """The code of digital silence (the code of sample 0)."""
    decode_table: Int16Array = field(repr=False, compare=False)
    """Linear value of each of the 256 codes."""
    encode_table: _UInt8Array = field(repr=False, compare=False)
    """Code of each int16 sample, indexed by the sample's uint16 bit pattern."""

    def decode(self, payload: bytes) -> Int16Array:
        """Decode one payload to int16 samples, one per byte."""
        return self.decode_table[np.frombuffer(payload, dtype=np.uint8)]

    def encode(self, samples: npt.ArrayLike) -> bytes:
        """Encode int16 samples to one byte each."""
        return self.encode_table[as_int16(samples).view(np.uint16)].tobytes()

    def silence(self, samples: int) -> bytes:
        """A payload of ``samples`` samples of silence."""
        if samples < 0:
            raise ValueError(f"silence length must not be negative, got {samples}")
        return bytes((self.silence_code,)) * samples


PCMU = Codec("PCMU", 0, SAMPLE_RATE, int(ULAW_ENCODE_TABLE[0]), ULAW_DECODE_TABLE, ULAW_ENCODE_TABLE)
"""G.711 μ-law."""
PCMA = Codec("PCMA", 8, SAMPLE_RATE, int(ALAW_ENCODE_TABLE[0]), ALAW_DECODE_TABLE, ALAW_ENCODE_TABLE)
"""G.711 A-law."""

CODECS: dict[str, Codec] = {PCMU.name: PCMU, PCMA.name: PCMA}
"""The codecs voxcenter speaks, keyed by upper-case encoding name."""

_BY_PAYLOAD_TYPE: dict[int, Codec] = {codec.payload_type: codec for codec in CODECS.values()}
_TRANSCODE_TABLES: dict[tuple[str, str], _UInt8Array] = {("PCMU", "PCMA"): ULAW_TO_ALAW, ("PCMA", "PCMU"): ALAW_TO_ULAW}


def codec_for_payload_type(payload_type: int) -> Codec | None:
    """The codec of a static payload type, or None when it is not one of ours."""
    return _BY_PAYLOAD_TYPE.get(payload_type)


def codec_by_name(name: str) -> Codec | None:
    """The codec for an SDP encoding name (case-insensitive), or None."""
    return CODECS.get(name.upper())


def transcode(payload: bytes, src: Codec, dst: Codec) -> bytes:
    """Convert a payload between laws with one 256-entry table lookup; the same law returns it unchanged."""
    if src.name == dst.name:
        return payload
    table = _TRANSCODE_TABLES.get((src.name, dst.name))
    if table is None:
        raise ValueError(f"no transcoding table from {src.name} to {dst.name}")
    return table[np.frombuffer(payload, dtype=np.uint8)].tobytes()
