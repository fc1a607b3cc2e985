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


def mix_minus(frames: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
    """Each row's output: the sum of all rows but itself, clipped to int16 (``frames`` is parties × samples)."""
    wide = frames.astype(np.int32)
    total = wide.sum(axis=0)
    mixed: npt.NDArray[np.int16] = np.clip(total[np.newaxis, :] - wide, -32768, 32767).astype(np.int16)
    return mixed


def mix_heard(hearing: npt.NDArray[np.int32], frames: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
    """Each row's output: the sum of the rows it hears (``hearing[i, j]`` is 1 when party ``i`` hears ``j``)."""
    mixed: npt.NDArray[np.int16] = np.clip(hearing @ frames.astype(np.int32), -32768, 32767).astype(np.int16)
    return mixed


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
        self.hearing: npt.NDArray[np.int32] | None = None
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
            hearing = np.asarray(hearing, dtype=np.int32)
            if hearing.shape != (len(self.legs), len(self.legs)):
                raise ValueError(f"a hearing matrix for {len(self.legs)} legs is {len(self.legs)}×{len(self.legs)}")
            hearing = hearing * (1 - np.eye(len(self.legs), dtype=np.int32))  # nobody hears themselves
        self.hearing = hearing

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
        for index, party in enumerate(parties):
            codec = party.leg.codec
            party.leg.send_payload(codec.encode(mixed[index]), marker=party.marker)
            party.marker = False
        self.ticks += 1
        if self._taps:
            self._tap(frames, parties)

    def _tap(self, frames: npt.NDArray[np.int16], parties: list[_Party]) -> None:
        left = [i for i, party in enumerate(parties) if party.leg is self.customer]
        right = [i for i in range(len(parties)) if i not in left]
        if left and self.hearing is not None:  # what the customer hears: a listening supervisor is not recorded
            right = [i for i in right if self.hearing[left[0], i]]
        codec = parties[left[0]].codec if left else parties[0].codec
        timestamp = self._tap_timestamp
        self._tap_timestamp = (timestamp + FRAME_SAMPLES) & 0xFFFFFFFF
        channels: tuple[tuple[Direction, list[int]], ...] = (("caller", left), ("agent", right))
        for direction, rows in channels:
            if not rows:
                continue
            wide = frames[rows].astype(np.int32).sum(axis=0)
            payload = codec.encode(np.clip(wide, -32768, 32767).astype(np.int16))
            for tap in self._taps:
                tap(direction, timestamp, payload, codec)
