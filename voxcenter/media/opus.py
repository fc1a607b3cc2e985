"""Opus (RFC 7587) on a browser's wire, G.711 μ-law at 8 kHz everywhere else in voxcenter.

A leg whose peer chose Opus keeps PCMU as its codec for the player, the bridge, the recorder and the mixer;
:class:`OpusWire` converts each packet at the socket, as SRTP protection does: ours from PCMU (8 kHz clock) to
Opus (48 kHz clock), the peer's from Opus to PCMU. libopus does the coding (through PyAV); the rate changes by
6 are linear interpolation up and a 6-sample mean down (a low-pass with its first zero at 8 kHz), which is
enough for a call bridged to G.711 anyway. Sequence numbers, SSRC and marker pass through; timestamps are
scaled by 6, and so are the timestamps and durations of telephone-events (RFC 4733 at the 48 kHz clock on the
wire, at 8 kHz above).
"""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import structlog

from voxcenter.media.codecs import PCMU
from voxcenter.media.rtp import build_rtp, parse_rtp

log = structlog.get_logger(__name__)

WIRE_RATE = 48000
"""RTP clock and sample rate of Opus (RFC 7587 §4.1), whatever the audio bandwidth."""
RATIO = WIRE_RATE // PCMU.clock_rate
COMPLEXITY = 5
"""libopus's encoder complexity (0..10): its default, 10, costs about a third more CPU per packet than 5
(docs/benchmarks.md), for speech that is bridged to G.711 at 8 kHz anyway."""


class OpusWire:
    """Opus coding of one leg: ``outgoing`` for the packets we send, ``incoming`` for the peer's."""

    def __init__(self, payload_type: int, telephone_event_pt: int | None = None, *, bit_rate: int = 32000,
                 complexity: int = COMPLEXITY) -> None:
        self.payload_type = payload_type
        """Opus's payload type on this leg (dynamic, the one the SDP named)."""
        self.telephone_event_pt = telephone_event_pt
        """The telephone-event payload type at 48 kHz, when one was negotiated."""
        self._encoder = av.CodecContext.create("libopus", "w")
        self._encoder.sample_rate = WIRE_RATE
        self._encoder.layout = "mono"
        self._encoder.format = "s16"
        self._encoder.bit_rate = bit_rate
        self._encoder.time_base = Fraction(1, WIRE_RATE)
        self._encoder.options = {"compression_level": str(complexity)}
        self._encoder.open()
        self._decoder = av.CodecContext.create("opus", "r")
        self._decoder.sample_rate = WIRE_RATE
        self._decoder.layout = "stereo"  # RFC 7587 §7: opus/48000/2 whatever is sent
        self._decoder.open()
        self._last_out = 0.0
        """The last 8 kHz sample we sent (the interpolation continues from it)."""
        self._pts = 0
        self.failed = 0
        """Packets that could not be converted (dropped)."""

    def outgoing(self, data: bytes) -> bytes | None:
        """Our PCMU packet as Opus; other payload types pass as they are."""
        packet = parse_rtp(data)
        if packet is not None and packet.payload_type == self.telephone_event_pt:
            return _scaled_event(packet.payload_type, packet.marker, packet.sequence, packet.timestamp * RATIO,
                                 packet.ssrc, packet.payload, RATIO, 1)
        if packet is None or packet.payload_type != PCMU.payload_type:
            return data
        samples = PCMU.decode(packet.payload).astype(np.float64)
        if samples.size == 0:
            return None
        points = np.concatenate(([self._last_out], samples))
        wide = np.interp(np.arange(1, samples.size * RATIO + 1) / RATIO, np.arange(points.size), points)
        self._last_out = float(samples[-1])
        frame = av.AudioFrame.from_ndarray(wide.astype(np.int16).reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = WIRE_RATE
        frame.pts = self._pts
        self._pts += wide.size
        try:
            encoded = self._encoder.encode(frame)
        except (av.FFmpegError, ValueError):
            self.failed += 1
            return None
        if not encoded:
            return None
        return build_rtp(self.payload_type, packet.marker, packet.sequence, packet.timestamp * RATIO & 0xFFFFFFFF,
                         packet.ssrc, bytes(encoded[0]))

    def incoming(self, data: bytes) -> bytes | None:
        """The peer's Opus packet as PCMU (8 kHz clock); other payload types pass as they are."""
        packet = parse_rtp(data)
        if packet is not None and packet.payload_type == self.telephone_event_pt:
            return _scaled_event(packet.payload_type, packet.marker, packet.sequence, packet.timestamp // RATIO,
                                 packet.ssrc, packet.payload, 1, RATIO)
        if packet is None or packet.payload_type != self.payload_type:
            return data
        try:
            frames = self._decoder.decode(av.Packet(packet.payload))
        except (av.FFmpegError, ValueError):
            self.failed += 1
            return None
        if not frames:
            return None
        scale = 32767.0 if frames[0].format.name.startswith("flt") else 1.0
        wide = np.concatenate([frame.to_ndarray().astype(np.float64).mean(axis=0) for frame in frames]) * scale
        narrow = wide[: wide.size - wide.size % RATIO].reshape(-1, RATIO).mean(axis=1)
        payload = PCMU.encode(np.clip(narrow, -32768, 32767).astype(np.int16))
        return build_rtp(PCMU.payload_type, packet.marker, packet.sequence, packet.timestamp // RATIO,
                         packet.ssrc, payload)


def _scaled_event(payload_type: int, marker: bool, sequence: int, timestamp: int, ssrc: int, payload: bytes,
                  multiply: int, divide: int) -> bytes | None:
    """A telephone-event packet with its duration (RFC 4733 §2.3.5) moved to the other clock."""
    if len(payload) < 4:
        return None
    duration = min(0xFFFF, int.from_bytes(payload[2:4], "big") * multiply // divide)
    return build_rtp(payload_type, marker, sequence, timestamp & 0xFFFFFFFF, ssrc,
                     payload[:2] + duration.to_bytes(2, "big") + payload[4:])
