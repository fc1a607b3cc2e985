"""The mixer: three or more legs that hear each other (conference, consult with the customer, three-way).

Every 20 ms tick of the shared :class:`~voxcenter.media.player.MediaClock`, each party's next
160 samples (what it sent since the last tick, decoded once) are stacked into one ``(parties, 160)``
array; the sum over parties is taken once, and each party is sent the sum *minus its own row*, so
nobody hears themselves. Clipping to int16 and encoding in each party's codec are whole-array numpy
operations: no Python loop runs per sample. A party that sent nothing this tick (a lost packet,
silence suppression) contributes silence; one that sent more than ``max_backlog`` frames ahead (a
burst after a stall) has the oldest audio dropped, so the mix never falls behind real time.

Telephone-events are not mixed (RFC 4733 digits have no meaning to the other parties of a
conference); the runtime reads each leg's digits from its own session. Taps see the mix as the
recorder wants it: the ``caller`` channel is the party marked as the call's customer, the ``agent``
channel what the customer hears (everybody else, in a conference), each stamped on its own continuous
20 ms timeline.

Who hears whom can be set per party (:meth:`Mixer.set_hearing`): a square matrix of 0/1 where row ``i``
says whom party ``i`` hears. Each party's frame is then one matrix product over the stacked frames
(:func:`mix_heard`), still without a per-sample loop; a supervisor who listens is a column of zeros,
one who whispers a column with a 1 in the agent's row only. Without a matrix it is mix-minus.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from voxcenter.media.bridge import Direction, Tap
from voxcenter.media.codecs import Codec
from voxcenter.media.player import MediaClock
from voxcenter.media.rtp import RtpPacket

FRAME_SAMPLES = 160
"""Samples per 20 ms frame at 8 kHz (the G.711 clock)."""


class MixerLeg(Protocol):
    """What the mixer needs of a leg (an :class:`~voxcenter.media.session.RtpSession`)."""

    codec: Codec
    on_packet: Callable[[RtpPacket], None] | None

    def send_payload(
        self, payload: bytes, payload_type: int | None = None, timestamp_step: int | None = None, marker: bool = False
    ) -> bool:
        """Send one 20 ms frame."""


def _saturate(wide: npt.NDArray[np.generic]) -> npt.NDArray[np.int16]:
    """``wide`` clipped to int16 in place, then as int16 (two ufuncs: ``np.clip`` costs more on 160 samples)."""
    np.maximum(wide, -32768, out=wide)
    np.minimum(wide, 32767, out=wide)
    clipped: npt.NDArray[np.int16] = wide.astype(np.int16)
    return clipped


def mix_minus(frames: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
    """Each row's output: the sum of all rows but itself, clipped to int16 (``frames`` is parties × samples)."""
    wide = frames.astype(np.int32)
    total = wide.sum(axis=0)
    return _saturate(total[np.newaxis, :] - wide)


def mix_heard(hearing: npt.NDArray[np.generic], frames: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
    """Each row's output: the sum of the rows it hears (``hearing[i, j]`` is 1 when party ``i`` hears ``j``).

    One float32 matrix product (BLAS): exact, since sums of a few int16 samples stay far below 2**24.
    """
    return _saturate(hearing.astype(np.float32, copy=False) @ frames.astype(np.float32))


def mix_minus_matrix(parties: int) -> npt.NDArray[np.int32]:
    """The hearing matrix of a conference: everybody hears everybody else."""
    matrix: npt.NDArray[np.int32] = np.ones((parties, parties), dtype=np.int32) - np.eye(parties, dtype=np.int32)
    return matrix


class _Party:
    __slots__ = ("backlog", "codec", "leg", "marker", "max_backlog", "receiver")

    def __init__(self, leg: MixerLeg, max_backlog: int) -> None:
        self.leg = leg
        self.codec = leg.codec
        self.backlog = np.zeros(0, dtype=np.int16)
        """Samples received and not yet mixed."""
        self.max_backlog = max_backlog * FRAME_SAMPLES
        self.marker = True
        self.receiver: Callable[[RtpPacket], None] = self._packet

    def _packet(self, packet: RtpPacket) -> None:
        if packet.payload_type != self.codec.payload_type or not packet.payload:
            return  # telephone-events, comfort noise: not mixed
        samples = self.codec.decode(packet.payload)
        backlog = np.concatenate((self.backlog, samples)) if self.backlog.size else samples
        if backlog.size > self.max_backlog:
            backlog = backlog[-self.max_backlog:]
        self.backlog = backlog

    def take(self) -> npt.NDArray[np.int16]:
        """The next frame of this party's audio (silence where it sent none)."""
        backlog = self.backlog
        if backlog.size >= FRAME_SAMPLES:
            frame, self.backlog = backlog[:FRAME_SAMPLES], backlog[FRAME_SAMPLES:]
            return frame
        frame = np.zeros(FRAME_SAMPLES, dtype=np.int16)
        frame[: backlog.size] = backlog
        self.backlog = backlog[:0]
        return frame


class Mixer:
    """Mixes ``legs`` while started; ``start()`` / ``stop()`` may alternate with players on the legs."""

    def __init__(self, legs: Sequence[MixerLeg], clock: MediaClock, *, customer: MixerLeg | None = None,
                 max_backlog: int = 3, hearing: npt.NDArray[np.int32] | None = None) -> None:
        if len(legs) < 2:
            raise ValueError("a mixer needs at least two legs")
        self.legs = list(legs)
        self.clock = clock
        self.customer = customer
        """The leg recorded on the ``caller`` channel; the others are summed on ``agent``."""
        self.max_backlog = max_backlog
        self.hearing: npt.NDArray[np.float32] | None = None
        """Who hears whom (``legs`` order); None: mix-minus."""
        self.set_hearing(hearing)
        self._parties: list[_Party] = []
        self._taps: list[Tap] = []
        self._tap_timestamp = 0
        self.ticks = 0
        """Frames mixed since the mixer was made."""
        self.active = False

    def set_hearing(self, hearing: npt.NDArray[np.int32] | None) -> None:
        """Who hears whom from the next tick on (row ``i``: whom ``legs[i]`` hears); None: everybody else."""
        if hearing is not None:
            matrix = np.asarray(hearing, dtype=np.float32)
            if matrix.shape != (len(self.legs), len(self.legs)):
                raise ValueError(f"a hearing matrix for {len(self.legs)} legs is {len(self.legs)}×{len(self.legs)}")
            np.fill_diagonal(matrix := matrix.copy(), 0.0)  # nobody hears themselves
            self.hearing = matrix
        else:
            self.hearing = None

    def add_tap(self, tap: Tap) -> None:
        """Listen to the mix (recorder): ``caller`` = the customer's audio, ``agent`` = everybody else's."""
        self._taps.append(tap)

    def remove_tap(self, tap: Tap) -> None:
        if tap in self._taps:
            self._taps.remove(tap)

    def start(self) -> None:
        """Mix from the next tick on; each leg's stream starts a new talkspurt."""
        self.stop()
        self._parties = [_Party(leg, self.max_backlog) for leg in self.legs]
        for party in self._parties:
            party.leg.on_packet = party.receiver
        self.active = True
        self.clock.add(self)

    def stop(self) -> None:
        """Stop mixing; the legs keep their streams for the next player, bridge or mixer."""
        if not self.active:
            return
        self.clock.remove(self)
        for party in self._parties:
            if party.leg.on_packet is party.receiver:
                party.leg.on_packet = None
        self._parties = []
        self.active = False

    def tick(self, now: float) -> None:
        """One 20 ms frame to every party (called by the clock)."""
        parties = self._parties
        if not parties:
            return
        frames = np.stack([party.take() for party in parties])
        mixed = mix_minus(frames) if self.hearing is None else mix_heard(self.hearing, frames)
        codecs = [party.leg.codec for party in parties]
        first = codecs[0]
        if all(codec is first for codec in codecs):  # one table lookup for every party
            encoded = first.encode_table[mixed.view(np.uint16)]
            payloads = [row.tobytes() for row in encoded]
        else:
            payloads = [codec.encode(mixed[index]) for index, codec in enumerate(codecs)]
        for party, payload in zip(parties, payloads, strict=True):
            party.leg.send_payload(payload, marker=party.marker)
            party.marker = False
        self.ticks += 1
        if self._taps:
            self._tap(frames, payloads, codecs)

    def _tap(self, frames: npt.NDArray[np.int16], payloads: list[bytes], codecs: list[Codec]) -> None:
        timestamp = self._tap_timestamp
        self._tap_timestamp = (timestamp + FRAME_SAMPLES) & 0xFFFFFFFF
        customer = next((i for i, party in enumerate(self._parties) if party.leg is self.customer), None)
        channels: list[tuple[Direction, bytes, Codec]]
        if customer is not None:
            # The agent channel is what the customer hears (sent to them just now): a listening supervisor is
            # not on the recording, nor a whisper.
            codec = codecs[customer]
            channels = [("caller", codec.encode(frames[customer]), codec), ("agent", payloads[customer], codec)]
        else:
            codec = codecs[0]
            channels = [("agent", codec.encode(_saturate(frames.astype(np.int32).sum(axis=0))), codec)]
        for direction, payload, codec in channels:
            for tap in self._taps:
                tap(direction, timestamp, payload, codec)
