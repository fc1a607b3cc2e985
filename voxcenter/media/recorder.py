"""Crash-safe stereo call recording: caller on the left, agent on the right, 8 kHz 16-bit PCM WAV.

Placement. Each channel's first packet is placed at the wall-clock offset of its arrival from the bridge start
(``now`` given to ``write``, or the recorder's ``clock``; without either, at the latest position the other channel
reached). Later packets are placed by their RTP timestamp relative to that first one (32-bit wrap-around
unwrapped), so network jitter does not move audio; a timestamp that strays more than ``resync_after`` seconds from
the wall clock (the sender restarted its timestamps) re-anchors the channel, and a sender clock drifting from ours
is followed in small steps (``_follow_drift``). Gaps, lost packets and pauses become silence, so both channels
always hold the same number of samples and stay in step.

Hot path. ``write`` only files the payload under its position. Once the wall clock (or, without one, the newest
audio) is ``reorder_window`` past the unwritten part by a block (``block`` seconds), that part is decoded with one
table lookup per codec, interleaved with numpy and appended with a plain file write; packets arriving after their
place was written are counted in ``late`` and dropped.

Crash safety. The file is written as ``<path>.part`` and renamed to ``path`` by ``close``. Its header's sizes are
rewritten every ``header_interval`` seconds of audio, so a crash loses little. ``repair_recordings`` (run at start)
finds ``*.wav.part`` files, sets their sizes from the file length cut to whole frames, renames them to ``.wav`` and
marks them with a ``<name>.wav.truncated`` text file saying what was recovered.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np
import numpy.typing as npt

from voxcenter.media.codecs import Codec
from voxcenter.media.wav import (
    DATA_SIZE_OFFSET,
    HEADER_SIZE,
    RIFF_SIZE_OFFSET,
    WavError,
    pcm_header,
    read_layout,
    sizes_fields,
)

Channel = Literal["caller", "agent"]
SAMPLE_RATE = 8000
"""Rate of every recording."""
FRAME_BYTES = 4
"""One stereo frame: two 16-bit samples."""
PART_SUFFIX = ".part"
TRUNCATED_SUFFIX = ".truncated"
_MASK = 0xFFFFFFFF
_DRIFT_PERIOD = 50  # packets (one second of 20 ms packets)


@dataclass(frozen=True, slots=True)
class RecordingInfo:
    """A finished recording."""

    path: Path
    """The recording file."""
    duration: float
    """Length in seconds."""
    size: int
    """File size in bytes."""
    sha256: str
    """Hex SHA-256 of the whole file, for the CDR and integrity checks."""
    truncated: bool = False
    """True when the recording was cut by a crash and repaired afterwards."""


@dataclass(slots=True)
class _ChannelState:
    base_timestamp: int | None = None  # extended RTP timestamp placed at ``anchor``
    anchor: int = 0
    newest_timestamp: int = 0  # extended; reference for unwrapping
    end: int = 0  # one past the last sample position received
    pending: dict[int, tuple[bytes, Codec]] = field(default_factory=dict)
    period_packets: int = 0  # clock-drift watch: packets seen in the current period
    period_min_lag: int = 0  # smallest (wall position - RTP position) in the period
    period_max_lag: int = 0


@dataclass(slots=True)
class _Pause:
    start: int
    stop: int | None = None


class CallRecorder:
    """One call's stereo recording (see the module docstring for how audio is placed and kept safe)."""

    def __init__(
        self,
        path: Path,
        now: float,
        *,
        clock: Callable[[], float] | None = None,
        reorder_window: float = 0.12,
        block: float = 0.2,
        header_interval: float = 1.0,
        resync_after: float = 1.0,
    ) -> None:
        self.path = Path(path)
        """Where the finished recording will be."""
        self.partial_path = self.path.with_name(self.path.name + PART_SUFFIX)
        """Where it is while being written."""
        self.started = now
        """The bridge start: sample 0 of the file."""
        self.late = 0
        """Packets dropped because their place in the file had already been written."""
        self.drift_corrections = 0
        """Times a channel was moved to follow its sender's clock drift."""
        self._clock = clock
        self._window = round(reorder_window * SAMPLE_RATE)
        self._block = round(block * SAMPLE_RATE)
        self._header_every = round(header_interval * SAMPLE_RATE)
        self._resync = round(resync_after * SAMPLE_RATE)
        self._channels: dict[str, _ChannelState] = {"caller": _ChannelState(), "agent": _ChannelState()}
        self._pauses: list[_Pause] = []
        self._written = 0  # frames in the file
        self._header_frames = 0  # frames the header last claimed
        self._closed = False
        self._closing = False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: BinaryIO = open(self.partial_path, "wb")  # noqa: SIM115 - lives as long as the recorder
        self._file.write(pcm_header(0, channels=2, sample_rate=SAMPLE_RATE))

    # ---------------------------------------------------------------------------------------------- inputs

    def write(
        self, channel: Channel, rtp_timestamp: int, payload: bytes, codec: Codec, now: float | None = None
    ) -> None:
        """File one RTP payload of ``channel``; cheap: decoding and writing happen per block."""
        if self._closing or self._closed or not payload:
            return
        state = self._channels.get(channel)
        if state is None:
            raise ValueError(f"recording channel must be 'caller' or 'agent', got {channel!r}")
        if now is None and self._clock is not None:
            now = self._clock()
        rate_ratio = Fraction(SAMPLE_RATE, codec.clock_rate)
        timestamp = rtp_timestamp & _MASK
        if state.base_timestamp is None:
            extended = timestamp
            state.base_timestamp, state.newest_timestamp = extended, extended
            state.anchor = self._wall_position(now) if now is not None else self._head()
        else:
            delta = ((timestamp - state.newest_timestamp + 0x80000000) & _MASK) - 0x80000000
            extended = state.newest_timestamp + delta
            state.newest_timestamp = max(state.newest_timestamp, extended)
        position = state.anchor + int((extended - state.base_timestamp) * rate_ratio)
        if now is not None and abs(position - self._wall_position(now)) > self._resync:
            state.base_timestamp, state.newest_timestamp = extended, extended
            state.anchor = position = self._wall_position(now)
        if now is not None:
            position += self._follow_drift(state, self._wall_position(now) - position)
        if position + len(payload) <= self._written:
            self.late += 1
            return
        state.pending[position] = (payload, codec)
        state.end = max(state.end, position + len(payload))
        newest = self._wall_position(now) if now is not None else max(ch.end for ch in self._channels.values())
        horizon = newest - self._window
        if horizon - self._written >= self._block:
            self._write_until(horizon)

    def pause(self, now: float) -> None:
        """Record silence from ``now`` on (e.g. while the caller reads out a card number)."""
        if not self.paused:
            self._pauses.append(_Pause(self._wall_position(now)))

    def resume(self, now: float) -> None:
        """Record audio again from ``now`` on."""
        if self.paused:
            self._pauses[-1].stop = self._wall_position(now)

    @property
    def paused(self) -> bool:
        """True between ``pause`` and ``resume``."""
        return bool(self._pauses) and self._pauses[-1].stop is None

    @property
    def duration(self) -> float:
        """Seconds of audio written to the file so far."""
        return self._written / SAMPLE_RATE

    def close(self, now: float | None = None) -> RecordingInfo:
        """Write everything pending (up to ``now``'s position when given), finish the header and rename the
        file into place. Blocking: reads the file back for its SHA-256; from the loop use ``close_async``."""
        if self._closed:
            raise RuntimeError(f"recording {self.path} is already closed")
        self._closed = True
        end = max(self._channels["caller"].end, self._channels["agent"].end)
        if now is not None:
            end = max(end, self._wall_position(now))
        self._write_until(end)
        self._update_header()
        self._file.close()
        os.replace(self.partial_path, self.path)
        return _describe(self.path, truncated=False)

    async def close_async(self, now: float | None = None) -> RecordingInfo:
        """``close`` in the default executor; packets written meanwhile are ignored."""
        if self._closed or self._closing:
            raise RuntimeError(f"recording {self.path} is already closed")
        self._closing = True  # from here on write() ignores packets: the executor thread owns the file
        return await asyncio.get_running_loop().run_in_executor(None, self.close, now)

    # ---------------------------------------------------------------------------------------------- internals

    def _follow_drift(self, state: _ChannelState, lag: int) -> int:
        """Shift a channel whose sender's clock drifts from ours; returns the shift applied (samples).

        Jitter only ever delays packets, so the smallest lag over a period of ``_DRIFT_PERIOD`` packets is the
        drift: once the whole period lagged (or led) by more than half the reorder window, move the channel by
        that much. Channels then never drift apart by more than about half the window."""
        if state.period_packets == 0:
            state.period_min_lag = state.period_max_lag = lag
        state.period_min_lag = min(state.period_min_lag, lag)
        state.period_max_lag = max(state.period_max_lag, lag)
        state.period_packets += 1
        if state.period_packets < _DRIFT_PERIOD:
            return 0
        state.period_packets = 0
        shift = 0
        if state.period_min_lag > self._window // 2:
            shift = state.period_min_lag
        elif state.period_max_lag < -(self._window // 2):
            shift = state.period_max_lag
        state.anchor += shift
        self.drift_corrections += bool(shift)
        return shift

    def _wall_position(self, now: float) -> int:
        return max(0, round((now - self.started) * SAMPLE_RATE))

    def _head(self) -> int:
        return max(self._written, self._channels["caller"].end, self._channels["agent"].end)

    def _write_until(self, until: int) -> None:
        count = until - self._written
        if count <= 0:
            return
        frames = np.empty((count, 2), dtype="<i2")
        frames[:, 0] = self._render(self._channels["caller"], self._written, until)
        frames[:, 1] = self._render(self._channels["agent"], self._written, until)
        for pause in self._pauses:
            lo = max(pause.start, self._written)
            hi = until if pause.stop is None else min(pause.stop, until)
            if hi > lo:
                frames[lo - self._written : hi - self._written] = 0
        self._file.write(frames.tobytes())
        self._written = until
        if self._written - self._header_frames >= self._header_every:
            self._update_header()

    @staticmethod
    def _render(state: _ChannelState, start: int, stop: int) -> npt.NDArray[np.int16]:
        """Decode the channel's payloads covering [start, stop); silence where there are none."""
        count = stop - start
        groups: dict[str, tuple[Codec, npt.NDArray[np.uint8], npt.NDArray[np.bool_]]] = {}
        done: list[int] = []
        for position, (payload, codec) in state.pending.items():
            end = position + len(payload)
            if position >= stop:
                continue
            if end <= stop:
                done.append(position)
            lo, hi = max(position, start), min(end, stop)
            if hi <= lo:
                continue
            group = groups.get(codec.name)
            if group is None:
                group = (codec, np.zeros(count, dtype=np.uint8), np.zeros(count, dtype=np.bool_))
                groups[codec.name] = group
            group[1][lo - start : hi - start] = np.frombuffer(payload, dtype=np.uint8)[lo - position : hi - position]
            group[2][lo - start : hi - start] = True
        for position in done:
            del state.pending[position]
        out = np.zeros(count, dtype=np.int16)
        for codec, codes, covered in groups.values():
            decoded = codec.decode_table[codes]
            out[covered] = decoded[covered]
        return out

    def _update_header(self) -> None:
        riff_size, data_size = sizes_fields(self._written * FRAME_BYTES)
        self._file.seek(RIFF_SIZE_OFFSET)
        self._file.write(riff_size)
        self._file.seek(DATA_SIZE_OFFSET)
        self._file.write(data_size)
        self._file.seek(0, os.SEEK_END)
        self._file.flush()  # into the OS: a crash of the process then loses nothing written so far
        self._header_frames = self._written


def _describe(path: Path, *, truncated: bool) -> RecordingInfo:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    duration = max(0, size - HEADER_SIZE) // FRAME_BYTES / SAMPLE_RATE
    return RecordingInfo(path, duration, size, digest.hexdigest(), truncated)


def repair_recordings(directory: Path) -> list[RecordingInfo]:
    """Finish recordings a crash left as ``*.wav.part`` under ``directory`` (run at start, before recording).

    Each gets RIFF and data sizes matching its length cut to whole frames, is renamed to ``.wav`` and gets a
    ``.wav.truncated`` marker file. A file too damaged to read is left where it is and skipped.
    """
    repaired: list[RecordingInfo] = []
    for partial in sorted(Path(directory).rglob(f"*.wav{PART_SUFFIX}")):
        final = partial.with_name(partial.name[: -len(PART_SUFFIX)])
        try:
            with open(partial, "r+b") as file:
                layout = read_layout(file)
                length = file.seek(0, os.SEEK_END)
                data_size = max(0, length - layout.data_offset)
                data_size -= data_size % layout.block_align
                file.truncate(layout.data_offset + data_size)
                file.seek(layout.riff_size_offset)
                file.write((layout.data_offset - 8 + data_size).to_bytes(4, "little"))
                file.seek(layout.data_size_offset)
                file.write(data_size.to_bytes(4, "little"))
        except (OSError, WavError):
            continue
        os.replace(partial, final)
        kept = data_size / (layout.block_align * layout.sample_rate)
        final.with_name(final.name + TRUNCATED_SUFFIX).write_text(
            f"recording cut short by a crash and repaired at start: {kept:.2f} s kept "
            f"(header claimed {layout.declared_data_size} bytes, file held {length - layout.data_offset})\n"
        )
        repaired.append(_describe(final, truncated=True))
    return repaired


CompressionFormat = Literal["flac", "opus"]
_ENCODERS: dict[str, tuple[str, str]] = {"flac": ("flac", ".flac"), "opus": ("libopus", ".opus")}


def compress_sync(info: RecordingInfo, fmt: CompressionFormat = "flac", *, remove_wav: bool = False) -> RecordingInfo:
    """Re-encode a finished WAV recording as FLAC (lossless) or Opus with PyAV (blocking)."""
    import av  # PyAV is only needed here; keep it off the hot import path

    encoder, suffix = _ENCODERS[fmt]
    target = info.path.with_suffix(suffix)
    with open(info.path, "rb") as source:
        layout = read_layout(source)
        source.seek(layout.data_offset)
        raw = source.read(layout.declared_data_size)
    samples = np.frombuffer(raw[: len(raw) - len(raw) % FRAME_BYTES], dtype="<i2").reshape(1, -1)
    with av.open(str(target), "w") as container:
        stream = container.add_stream(encoder, rate=SAMPLE_RATE, layout="stereo")
        if not isinstance(stream, av.audio.stream.AudioStream):
            raise TypeError(f"{encoder} is not an audio encoder")
        chunk = 4096 * 2
        for start in range(0, samples.shape[1], chunk):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(samples[:, start : start + chunk]), format="s16", layout="stereo"
            )
            frame.sample_rate = SAMPLE_RATE
            frame.pts = start // 2
            frame.time_base = Fraction(1, SAMPLE_RATE)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    compressed = replace(_describe(target, truncated=info.truncated), duration=info.duration)
    if remove_wav:
        info.path.unlink()
    return compressed


async def compress(info: RecordingInfo, fmt: CompressionFormat = "flac", *, remove_wav: bool = False) -> RecordingInfo:
    """``compress_sync`` in the default executor, off the event loop."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, lambda: compress_sync(info, fmt, remove_wav=remove_wav))
