"""DTMF in its three forms, merged into one stream of digits for the IVR.

* RFC 4733 telephone-events: payload parse/build (§2.3), a receiver that reports each press once (§2.5.2) and a
  sender that produces the packet sequence of one press (§2.5.1).
* In-band tones: a Goertzel detector on 8 kHz int16 audio, after ITU-T Q.24's operating limits.
* SIP INFO bodies: ``application/dtmf-relay`` and ``application/dtmf``.

Everything here is pure: audio, payloads and bodies go in with a ``now``; digits and deadlines come out.
"""

from __future__ import annotations

import functools
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from voxcenter.media.codecs import as_int16

DIGITS = "0123456789*#ABCD"
"""The digit of each RFC 4733 DTMF event code 0..15 (RFC 4733 §3.2)."""

DtmfSource = Literal["rfc4733", "inband", "info"]

_TIMESTAMP_MASK = 0xFFFFFFFF
_MAX_DURATION = 0xFFFF


class DtmfError(ValueError):
    """The peer sent a telephone-event payload or DTMF body that cannot be parsed (the peer's fault)."""


def event_code(digit: str) -> int:
    """The RFC 4733 event code of a digit ("0"-"9", "*", "#", "A"-"D"); ValueError for anything else."""
    code = DIGITS.find(digit.upper()) if len(digit) == 1 else -1
    if code < 0:
        raise ValueError(f"not a DTMF digit: {digit!r}")
    return code


@dataclass(frozen=True, slots=True)
class DtmfEvent:
    """One telephone-event payload (RFC 4733 §2.3)::

    0                   1                   2                   3
    |     event     |E|R| volume    |          duration             |
    """

    event: int
    """Event code, 0..255; 0..15 are DTMF digits (§3.2)."""
    end: bool
    """The E bit: this packet reports the end of the event."""
    volume: int
    """Power level of the tone as -dBm0, 0..63 (0 for events without a level)."""
    duration: int
    """Duration so far in RTP timestamp units, counted from the event's RTP timestamp, 0..65535."""

    def __post_init__(self) -> None:
        if not 0 <= self.event <= 255 or not 0 <= self.volume <= 63 or not 0 <= self.duration <= _MAX_DURATION:
            raise ValueError(f"telephone-event field out of range: {self!r}")

    @classmethod
    def parse(cls, payload: bytes) -> DtmfEvent:
        """Parse the first four bytes of a telephone-event payload (§2.3); DtmfError when shorter."""
        if len(payload) < 4:
            raise DtmfError(f"telephone-event payload is {len(payload)} bytes, at least 4 are needed")
        return cls(payload[0], bool(payload[1] & 0x80), payload[1] & 0x3F, int.from_bytes(payload[2:4], "big"))

    def build(self) -> bytes:
        """The four payload bytes (§2.3); the R bit is sent as zero."""
        return bytes((self.event, (0x80 if self.end else 0) | self.volume)) + self.duration.to_bytes(2, "big")

    @property
    def digit(self) -> str | None:
        """The DTMF digit of this event, or None for non-DTMF events such as flash (16)."""
        return DIGITS[self.event] if self.event < len(DIGITS) else None


@dataclass(frozen=True, slots=True)
class DtmfReceived:
    """A digit pressed by the remote party, from whichever source reported it."""

    digit: str
    """One of ``DIGITS``."""
    source: DtmfSource
    """Where it came from: RTP telephone-event, in-band tone, or SIP INFO."""
    started: float
    """When the press began, on the caller's ``now`` clock (estimated from what the source reports)."""
    reported: float
    """The ``now`` at which the source reported it."""
    duration: float | None
    """Length of the press in seconds when the source knows it."""


# --------------------------------------------------------------------------------------------------- RFC 4733


@dataclass(slots=True)
class _ActiveEvent:
    timestamp: int
    event: int
    started: float
    last_update: float
    segment_duration: int = 0
    earlier_segments: int = 0


class Rfc4733Receiver:
    """Reports each telephone-event once (RFC 4733 §2.5.2).

    All packets of one event carry the event's RTP timestamp, so the timestamp is the event's key: updates and the
    retransmitted end packets (§2.5.1.4) of a reported event are ignored, and a new press of the same digit, which
    has a new timestamp, is a new digit. A digit is reported when its first end packet arrives, or — when all end
    packets were lost — when another event starts or when no packet updated it for ``stale_after`` seconds
    (``handle_timer``). A long event split into segments (§2.5.2.3: a new timestamp ``0xFFFF`` later, same code,
    no marker) stays one press.
    """

    def __init__(self, *, clock_rate: int = 8000, stale_after: float = 0.3, remember: int = 16) -> None:
        self.clock_rate = clock_rate
        """RTP clock rate of the telephone-event payload type."""
        self.stale_after = stale_after
        """Seconds without an update after which an event without end packet is reported."""
        self.malformed = 0
        """Payloads dropped because they could not be parsed."""
        self._current: _ActiveEvent | None = None
        self._finished: deque[int] = deque(maxlen=remember)

    def feed(self, rtp_timestamp: int, marker: bool, payload: bytes, now: float) -> list[DtmfReceived]:
        """Take one telephone-event packet; returns the digits it completes (usually none or one)."""
        try:
            packet = DtmfEvent.parse(payload)
        except DtmfError:
            self.malformed += 1
            return []
        timestamp = rtp_timestamp & _TIMESTAMP_MASK
        if timestamp in self._finished:
            return []  # a retransmitted end packet or a late update of an event already reported
        reported: list[DtmfReceived] = []
        current = self._current
        if current is not None and timestamp != current.timestamp:
            if self._continues(current, timestamp, marker, packet):
                self._finished.append(current.timestamp)
                current.earlier_segments += current.segment_duration
                current.timestamp, current.segment_duration = timestamp, 0
            else:
                reported.extend(self._finish(current, now))
                current = None
        if current is None:
            current = _ActiveEvent(timestamp, packet.event, now - packet.duration / self.clock_rate, now)
            self._current = current
        if packet.event != current.event:
            return reported  # a different code under the same timestamp: the sender is confused, keep the first
        current.segment_duration = max(current.segment_duration, packet.duration)
        current.last_update = now
        if packet.end:
            reported.extend(self._finish(current, now))
        return reported

    def handle_timer(self, now: float) -> list[DtmfReceived]:
        """Report an event whose end packets were all lost once it stopped being updated."""
        current = self._current
        if current is not None and now >= current.last_update + self.stale_after:
            return self._finish(current, now)
        return []

    def get_timer(self) -> float | None:
        """When ``handle_timer`` has something to do, or None."""
        return None if self._current is None else self._current.last_update + self.stale_after

    @staticmethod
    def _continues(current: _ActiveEvent, timestamp: int, marker: bool, packet: DtmfEvent) -> bool:
        # §2.5.2.3: the segment before ran up to the duration limit and the next one starts right after it.
        step = (timestamp - current.timestamp) & _TIMESTAMP_MASK
        return (
            not marker
            and packet.event == current.event
            and current.segment_duration >= _MAX_DURATION - 1600
            and _MAX_DURATION - 1600 <= step <= _MAX_DURATION + 1600
        )

    def _finish(self, event: _ActiveEvent, now: float) -> list[DtmfReceived]:
        self._current = None
        self._finished.append(event.timestamp)
        digit = DIGITS[event.event] if event.event < len(DIGITS) else None
        if digit is None:
            return []
        duration = (event.earlier_segments + event.segment_duration) / self.clock_rate
        return [DtmfReceived(digit, "rfc4733", event.started, now, duration)]


@dataclass(frozen=True, slots=True)
class DtmfPacket:
    """One telephone-event RTP packet to send."""

    payload: bytes
    """The four-byte telephone-event payload."""
    marker: bool
    """RTP marker bit: set on the first packet of an event only (§2.5.1.2)."""
    timestamp: int
    """RTP timestamp: the start of the event (or of its segment, for events longer than 0xFFFF units)."""
    send_at: float
    """Seconds after the event's first packet at which to send this one."""


class Rfc4733Sender:
    """Turns a key press into its telephone-event packets (RFC 4733 §2.5.1).

    One packet per ``packet_interval``, all with the event's start as RTP timestamp, the duration growing by one
    interval each time (packet k, sent at k intervals, reports k+1 intervals, like an audio frame sent at the start
    of the span it carries); the marker bit on the first; the final packet, with the E bit and the total
    duration, is sent three times (§2.5.1.4). An event longer than 0xFFFF units is split in segments (§2.5.2.3):
    a segment ends at duration 0xFFFF without the E bit and the next starts 0xFFFF units later, without marker.
    Audio resumes at ``next_audio_timestamp``.
    """

    def __init__(self, *, clock_rate: int = 8000, packet_interval: float = 0.020, volume: int = 10) -> None:
        if not 0 <= volume <= 63:
            raise ValueError(f"telephone-event volume is 0..63 (-dBm0), got {volume}")
        self.clock_rate = clock_rate
        self.packet_interval = packet_interval
        self.volume = volume
        self.step = round(clock_rate * packet_interval)
        """Timestamp units per packet interval."""

    def total_units(self, duration: float) -> int:
        """The press length in timestamp units: whole packet intervals, at least one."""
        if not math.isfinite(duration) or duration < 0:
            raise ValueError(f"DTMF duration must be a non-negative number of seconds, got {duration}")
        return max(1, round(duration * self.clock_rate / self.step)) * self.step

    def packets(self, digit: str, duration: float, timestamp: int) -> list[DtmfPacket]:
        """All packets for ``digit`` pressed for ``duration`` seconds, starting at RTP ``timestamp``."""
        code = event_code(digit)
        total = self.total_units(duration)
        out: list[DtmfPacket] = []
        elapsed = 0  # units sent in earlier segments
        index = 0
        while True:
            segment_ts = (timestamp + elapsed) & _TIMESTAMP_MASK
            remaining = total - elapsed
            last_segment = remaining <= _MAX_DURATION
            length = remaining if last_segment else _MAX_DURATION
            reported = 0
            while reported < length:
                reported = min(reported + self.step, length)
                ending = last_segment and reported == length
                payload = DtmfEvent(code, ending, self.volume, reported).build()
                repeats = 3 if ending else 1
                for _ in range(repeats):
                    out.append(DtmfPacket(payload, index == 0, segment_ts, index * self.packet_interval))
                    index += 1
            if last_segment:
                return out
            elapsed += _MAX_DURATION

    def next_audio_timestamp(self, duration: float, timestamp: int) -> int:
        """RTP timestamp of the first audio packet after the event (its start plus its length)."""
        return (timestamp + self.total_units(duration)) & _TIMESTAMP_MASK


# --------------------------------------------------------------------------------------------------- in-band

ROW_FREQUENCIES = (697.0, 770.0, 852.0, 941.0)
"""Low-group DTMF frequencies in Hz (ITU-T Q.23)."""
COLUMN_FREQUENCIES = (1209.0, 1336.0, 1477.0, 1633.0)
"""High-group DTMF frequencies in Hz (ITU-T Q.23)."""
_KEYPAD = ("123A", "456B", "789C", "*0#D")


@dataclass(frozen=True, slots=True)
class GoertzelSettings:
    """Acceptance limits of the in-band detector."""

    block: int = 106
    """Samples per analysis block (13.25 ms): bins 75 Hz wide separate neighbouring DTMF tones (≥ 73 Hz apart)
    and two whole blocks always fit in a 40 ms tone."""
    min_tone_dbm0: float = -36.0
    """Weakest tone accepted, per frequency, in dBm0 (a 0 dBm0 sine peaks at about 22 700 in 16 bits)."""
    max_low_over_high_db: float = 8.0
    """Forward ("normal") twist: how much louder the low-group tone may be."""
    max_high_over_low_db: float = 4.0
    """Reverse twist: how much louder the high-group tone may be."""
    relative_peak_db: float = 6.0
    """The chosen tone of each group must beat the other three of its group by this much."""
    min_tone_share: float = 0.8
    """Share of the block's energy the two tones must carry; speech, noise and music spread theirs wider. It also
    rejects blocks less than 80 % covered by a tone, so a press shorter than 1.6 blocks (21 ms) is never seen twice."""
    max_harmonic_db: float = -10.0
    """Second harmonic of each tone, relative to the tone: DTMF is two pure sines, voices and instruments are not."""


@functools.lru_cache(maxsize=8)
def _goertzel_basis(block: int, sample_rate: int) -> npt.NDArray[np.float64]:
    """The (32, block) matrix of cosines and sines of the DTMF frequencies and their harmonics: built once per
    block size and rate, shared by every detector (read only)."""
    fundamentals = np.array(ROW_FREQUENCIES + COLUMN_FREQUENCIES)
    frequencies = np.concatenate([fundamentals, 2.0 * fundamentals])
    phase = 2.0 * np.pi * np.outer(frequencies, np.arange(block)) / sample_rate
    basis = np.concatenate([np.cos(phase), np.sin(phase)])  # real and imaginary parts
    basis.setflags(write=False)
    return basis


class GoertzelDetector:
    """In-band DTMF detector for 8 kHz int16 audio, fed one frame (e.g. 20 ms) at a time.

    Each block of ``settings.block`` samples is tested with one DFT bin per frequency (the value the Goertzel
    recurrence computes; one matrix product computes all sixteen bins at once) against the four DTMF
    frequencies of each group and their second harmonics: level, twist, relative peak, share of the block's
    energy and harmonics. Two consecutive accepted blocks with the same digit make a press, reported once; the
    press ends after two blocks without it, so a short dropout does not split it.
    """

    def __init__(self, settings: GoertzelSettings | None = None, *, sample_rate: int = 8000) -> None:
        self.settings = settings or GoertzelSettings()
        self.sample_rate = sample_rate
        n = self.settings.block
        self._basis = _goertzel_basis(n, sample_rate)
        full_scale = 22_700.0 * 10 ** (self.settings.min_tone_dbm0 / 20.0)
        self._min_energy = full_scale**2 * n / 2.0  # energy of that sine over one block
        self._pending = np.zeros(0, dtype=np.float64)
        self._pending_start = 0.0
        self._previous: str | None = None
        self._previous_start = 0.0
        self._pressed: str | None = None
        self._misses = 0

    def feed(self, frame: npt.ArrayLike, now: float) -> list[DtmfReceived]:
        """Take the next frame of audio whose first sample was heard at ``now``; returns digits detected."""
        samples = as_int16(frame).astype(np.float64)
        if self._pending.size == 0:
            self._pending_start = now
        self._pending = np.concatenate([self._pending, samples])
        n = self.settings.block
        reported: list[DtmfReceived] = []
        while self._pending.size >= n:
            block, self._pending = self._pending[:n], self._pending[n:]
            block_start = self._pending_start
            self._pending_start += n / self.sample_rate
            digit = self.classify(block)
            event = self._track(digit, block_start, now)
            if event is not None:
                reported.append(event)
        return reported

    def classify(self, block: npt.NDArray[np.float64]) -> str | None:
        """The digit a block holds, or None when it fails any check."""
        s = self.settings
        n = self.settings.block
        total = float(np.dot(block, block))
        if total < 2.0 * self._min_energy:
            return None
        projections = self._basis @ block
        energy = 2.0 * (projections[:16] ** 2 + projections[16:] ** 2) / n  # tone energy estimate per frequency
        rows, cols, harmonics = energy[:4], energy[4:8], energy[8:]
        row, col = int(np.argmax(rows)), int(np.argmax(cols))
        low, high = float(rows[row]), float(cols[col])
        if low < self._min_energy or high < self._min_energy:
            return None
        if low > high * _db(s.max_low_over_high_db) or high > low * _db(s.max_high_over_low_db):
            return None
        peak = _db(s.relative_peak_db)
        if any(float(rows[i]) * peak > low for i in range(4) if i != row):
            return None
        if any(float(cols[i]) * peak > high for i in range(4) if i != col):
            return None
        if (low + high) < s.min_tone_share * total:
            return None
        harmonic_limit = _db(s.max_harmonic_db)
        if float(harmonics[4 + col]) > high * harmonic_limit:
            return None
        # A row's second harmonic (1394..1882 Hz) lies within 100 Hz of some columns; the column tone itself then
        # leaks into that bin, so it is only checked when the detected column is not a neighbour.
        if abs(2.0 * ROW_FREQUENCIES[row] - COLUMN_FREQUENCIES[col]) > 100.0 and float(harmonics[row]) > (
            low * harmonic_limit
        ):
            return None
        return _KEYPAD[row][col]

    def _track(self, digit: str | None, block_start: float, now: float) -> DtmfReceived | None:
        previous, previous_start = self._previous, self._previous_start
        self._previous, self._previous_start = digit, block_start
        if digit is not None and digit == self._pressed:
            self._misses = 0
            return None
        if self._pressed is not None:
            self._misses += 1
            if self._misses < 2:
                return None
            self._pressed = None
        if digit is not None and digit == previous:
            self._pressed, self._misses = digit, 0
            return DtmfReceived(digit, "inband", previous_start, now, None)
        return None


def _db(decibels: float) -> float:
    """Power ratio of a level difference in dB."""
    return float(10.0 ** (decibels / 10.0))


# --------------------------------------------------------------------------------------------------- SIP INFO

_INFO_EVENT_NUMBERS = {str(code): digit for code, digit in enumerate(DIGITS)}


def parse_sip_info_dtmf(content_type: str, body: bytes | str) -> str | None:
    """The digit in a SIP INFO body, or None when the body is not DTMF or cannot be read.

    ``application/dtmf-relay`` carries ``Signal=5`` and ``Duration=160`` lines (some phones send ``Signal=10``
    for ``*`` and ``11`` for ``#``, the RFC 4733 event codes); ``application/dtmf`` carries the digit alone.
    """
    media_type = content_type.split(";", 1)[0].strip().lower()
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return None
    else:
        text = body
    if media_type == "application/dtmf-relay":
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if sep and key.strip().lower() == "signal":
                return _info_digit(value.strip())
        return None
    if media_type == "application/dtmf":
        return _info_digit(text.strip())
    return None


def _info_digit(value: str) -> str | None:
    if len(value) == 1 and value.upper() in DIGITS:
        return value.upper()
    return _INFO_EVENT_NUMBERS.get(value) if value.isdigit() else None


# --------------------------------------------------------------------------------------------------- merging


@dataclass(slots=True)
class _Accepted:
    event: DtmfReceived
    absorbed: set[str] = field(default_factory=set)


class DigitStream:
    """One stream of digits for the IVR, from RFC 4733, in-band tones and SIP INFO.

    A phone may send one press both as telephone-events and as tones. A digit from one source is dropped when a
    digit already taken from *another* source has the same value and a start within ``dedupe_window`` seconds;
    each taken digit absorbs at most one duplicate per other source, so "1 1" pressed quickly stays two digits.
    Digits from the same source are never merged: each source already reports a press once.
    """

    def __init__(self, *, dedupe_window: float = 0.25, inband: bool = True, clock_rate: int = 8000) -> None:
        self.dedupe_window = dedupe_window
        self.rfc4733 = Rfc4733Receiver(clock_rate=clock_rate)
        """The telephone-event receiver fed by ``receive_rfc4733``."""
        self.detector: GoertzelDetector | None = GoertzelDetector() if inband else None
        """The in-band detector fed by ``receive_audio``; None when in-band detection is off."""
        self.duplicates = 0
        """Digits dropped as the same press seen from another source."""
        self._accepted: deque[_Accepted] = deque(maxlen=32)
        self._ready: deque[DtmfReceived] = deque()

    def receive_rfc4733(self, rtp_timestamp: int, marker: bool, payload: bytes, now: float) -> None:
        """Take a telephone-event RTP packet (RFC 4733)."""
        for event in self.rfc4733.feed(rtp_timestamp, marker, payload, now):
            self.push(event)

    def receive_audio(self, samples: npt.ArrayLike, now: float) -> None:
        """Take decoded 8 kHz audio for in-band detection (ignored when it is off)."""
        if self.detector is not None:
            for event in self.detector.feed(samples, now):
                self.push(event)

    def receive_info(self, content_type: str, body: bytes | str, now: float) -> bool:
        """Take a SIP INFO body; True when it carried a digit (the caller then answers 200)."""
        digit = parse_sip_info_dtmf(content_type, body)
        if digit is None:
            return False
        self.push(DtmfReceived(digit, "info", now, now, None))
        return True

    def handle_timer(self, now: float) -> None:
        """Drive the RFC 4733 receiver's timer."""
        for event in self.rfc4733.handle_timer(now):
            self.push(event)

    def get_timer(self) -> float | None:
        """The next deadline for ``handle_timer``, or None."""
        return self.rfc4733.get_timer()

    def push(self, event: DtmfReceived) -> bool:
        """Offer a digit found elsewhere (e.g. by a session's own receiver); False when it was a duplicate."""
        best: _Accepted | None = None
        for taken in self._accepted:
            if (
                taken.event.digit == event.digit
                and taken.event.source != event.source
                and event.source not in taken.absorbed
                and abs(taken.event.started - event.started) <= self.dedupe_window
                and (best is None or abs(taken.event.started - event.started) < abs(best.event.started - event.started))
            ):
                best = taken
        if best is not None:
            best.absorbed.add(event.source)
            self.duplicates += 1
            return False
        self._accepted.append(_Accepted(event))
        self._ready.append(event)
        return True

    def next_digit(self) -> DtmfReceived | None:
        """The oldest digit not yet taken, or None."""
        return self._ready.popleft() if self._ready else None
