"""Crash-safe stereo call recording: caller on the left, agent on the right, 8 kHz 16-bit PCM WAV.

Placement. Each channel's first packet is placed at the wall-clock offset of its arrival from the bridge start
(``now`` given to ``write``, or the recorder's ``clock``; without either, at the latest position the other channel
reached). Later packets are placed by their RTP timestamp relative to that first one (32-bit wrap-around
unwrapped), so network jitter does not move audio; a timestamp that strays more than ``resync_after`` seconds from
the wall clock (the sender restarted its timestamps) re-anchors the channel, and a sender clock drifting from ours
is followed in small steps (``_follow_drift``). Gaps, lost packets and pauses become silence, so both channels
always hold the same number of samples and stay in step.

Hot path. ``write`` runs once per bridged packet, so it only places the payload (integer arithmetic; exact
rational arithmetic only for a codec whose clock is not 8 kHz) and appends ``(position, payload, codec)`` to its
channel's list: no decoding, no numpy, no file access. Audio older than ``reorder_window`` is final: a packet
arriving after its place left the window is counted in ``late`` and dropped. Once a block (``block`` seconds) of
final audio has gathered, it is written in one go: contiguous payloads are joined, decoded with one table lookup
per channel, interleaved with numpy and appended with one file write. The first block of each recorder is cut
short by a random fraction (``first_block``), so recorders started together (a burst of calls, a benchmark) do
not all decode and write in the same loop iteration every second.

Crash safety. The file is written as ``<path>.part`` and renamed to ``path`` by ``close``. Each block goes to the
OS as soon as it is written, and the header's sizes are rewritten (one ``pwrite``) every ``header_interval``
seconds of audio, so a crash loses at most about a block. ``repair_recordings`` (run at start) finds
``*.wav.part`` files, sets their sizes from the file length cut to whole frames, renames them to ``.wav`` and
marks them with a ``<name>.wav.truncated`` text file saying what was recovered. A write that fails (disk full)
stops the recording and is kept in ``error``; ``close`` still finishes the file, marked truncated.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np
import numpy.typing as npt
import structlog

from voxcenter.media.codecs import Codec
from voxcenter.media.wav import HEADER_SIZE, RIFF_SIZE_OFFSET, WavError, pcm_header, read_layout

log = structlog.get_logger(__name__)

Channel = Literal["caller", "agent"]
SAMPLE_RATE = 8000
"""Rate of every recording."""
FRAME_BYTES = 4
"""One stereo frame: two 16-bit samples."""
PART_SUFFIX = ".part"
TRUNCATED_SUFFIX = ".truncated"
_MASK = 0xFFFFFFFF
_HALF = 0x80000000
_DRIFT_PERIOD = 50  # packets (one second of 20 ms packets)

# (sample position, payload, index in the channel's ``codecs``), in arrival order. No object the garbage collector
# tracks: a tuple of ints and bytes is untracked at its first collection, so the thousands of payloads waiting for
# their block are never promoted and walked by the full collections that pause the loop.
_Pending = tuple[int, bytes, int]


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
    """True when the recording was cut by a crash or a failed write, and finished afterwards."""


@dataclass(slots=True)
class _ChannelState:
    base_timestamp: int | None = None  # extended RTP timestamp placed at ``anchor``
    anchor: int = 0
    newest_timestamp: int = 0  # extended; reference for unwrapping
    end: int = 0  # one past the last sample position received
    pending: list[_Pending] = field(default_factory=list)
    codecs: list[Codec] = field(default_factory=list)  # every codec the channel used, indexed by ``pending``
    codec: Codec | None = None  # the last packet's codec, and its index in ``codecs``
    codec_index: int = 0
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
        block: float = 1.0,
        first_block: float | None = None,
        header_interval: float = 1.0,
        resync_after: float = 1.0,
    ) -> None:
        if reorder_window < 0 or block <= 0 or header_interval < 0 or resync_after <= 0:
            raise ValueError(
                "CallRecorder: reorder_window >= 0, block > 0, header_interval >= 0 and resync_after > 0 seconds"
            )
        if first_block is not None and not 0 < first_block <= 1:
            raise ValueError(f"CallRecorder: first_block is a fraction of a block in (0, 1], got {first_block}")
        self.path = Path(path)
        """Where the finished recording will be."""
        self.partial_path = self.path.with_name(self.path.name + PART_SUFFIX)
        """Where it is while being written."""
        self.started = now
        """The bridge start: sample 0 of the file."""
        self.late = 0
        """Packets dropped because they arrived after their place left the reorder window."""
        self.drift_corrections = 0
        """Times a channel was moved to follow its sender's clock drift."""
        self.error: OSError | None = None
        """The write failure that stopped the recording (disk full, I/O error), if any."""
        self._clock = clock
        self._window = round(reorder_window * SAMPLE_RATE)
        self._block = max(1, round(block * SAMPLE_RATE))
        self._header_every = round(header_interval * SAMPLE_RATE)
        self._resync = round(resync_after * SAMPLE_RATE)
        self._channels: dict[str, _ChannelState] = {"caller": _ChannelState(), "agent": _ChannelState()}
        self._pauses: list[_Pause] = []
        self._written = 0  # frames in the file
        self._final = 0  # audio before this position is final (left the reorder window)
        self._newest_end = 0  # furthest position any packet reached (the horizon without a clock)
        fraction = 1.0 - random.random() if first_block is None else first_block  # in (0, 1]
        self._next_block = max(1, round(self._block * fraction))  # write once ``_final`` reaches this
        self._header_frames = 0  # frames the header last claimed
        self._accepting = True  # false once closing or after a write error: write() ignores packets
        self._closing = False
        self._closed = False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Unbuffered: each block reaches the OS at once, and a failed write leaves nothing behind in a buffer.
        self._file: BinaryIO = open(self.partial_path, "wb", buffering=0)  # noqa: SIM115 - lives as the recorder
        self._append(pcm_header(0, channels=2, sample_rate=SAMPLE_RATE))

    # ---------------------------------------------------------------------------------------------- inputs

    def write(
        self, channel: Channel, rtp_timestamp: int, payload: bytes, codec: Codec, now: float | None = None
    ) -> None:
        """File one RTP payload of ``channel`` (a bridge tap: runs per packet, so it only places and appends)."""
        if not self._accepting or not payload:
            return
        state = self._channels.get(channel)
        if state is None:
            raise ValueError(f"recording channel must be 'caller' or 'agent', got {channel!r}")
        if now is None and self._clock is not None:
            now = self._clock()
        wall: int | None = None
        if now is not None:
            wall = round((now - self.started) * SAMPLE_RATE)
            if wall < 0:
                wall = 0
        timestamp = rtp_timestamp & _MASK
        base = state.base_timestamp
        if base is None:
            state.base_timestamp = state.newest_timestamp = timestamp
            state.anchor = position = wall if wall is not None else self._head()
        else:
            newest = state.newest_timestamp
            extended = newest + (((timestamp - newest + _HALF) & _MASK) - _HALF)
            if extended > newest:
                state.newest_timestamp = extended
            offset = extended - base
            if codec.clock_rate != SAMPLE_RATE:
                offset = int(offset * Fraction(SAMPLE_RATE, codec.clock_rate))
            position = state.anchor + offset
            if wall is not None and abs(position - wall) > self._resync:
                state.base_timestamp = state.newest_timestamp = extended
                state.anchor = position = wall
        if wall is not None:  # clock-drift watch (see _follow_drift), its per-packet part inline
            lag = wall - position
            count = state.period_packets
            if count == 0:
                state.period_min_lag = state.period_max_lag = lag
            elif lag < state.period_min_lag:
                state.period_min_lag = lag
            elif lag > state.period_max_lag:
                state.period_max_lag = lag
            if count + 1 < _DRIFT_PERIOD:
                state.period_packets = count + 1
            else:
                position += self._follow_drift(state)
        end = position + len(payload)
        if end <= self._final:
            self.late += 1
            return
        if codec is not state.codec:
            if codec not in state.codecs:
                state.codecs.append(codec)
            state.codec, state.codec_index = codec, state.codecs.index(codec)
        state.pending.append((position, payload, state.codec_index))
        if end > state.end:
            state.end = end
        if wall is None:
            if end > self._newest_end:
                self._newest_end = end
            horizon = self._newest_end - self._window
        else:
            horizon = wall - self._window
        if horizon > self._final:
            self._final = horizon
            if horizon >= self._next_block:
                try:
                    self._write_until(horizon)
                except OSError as exc:
                    self.error = exc
                    self._accepting = False  # keep what is in the file; close() finishes it
                    log.error("recording.stopped", path=str(self.path), reason=os.strerror(exc.errno)
                              if exc.errno else str(exc), seconds_kept=round(self.duration, 2))
                self._next_block = horizon + self._block

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
        file into place. Blocking: reads the file back for its SHA-256; from the loop use ``close_async``.

        After a failed write (``error``) the audio written before it is kept and the result is marked
        truncated. When finishing the file fails too, the ``.part`` file stays for ``repair_recordings``."""
        if self._closed:
            raise RuntimeError(f"recording {self.path} is already closed")
        self._closed = True
        self._accepting = False
        try:
            if self.error is None:
                end = max(self._channels["caller"].end, self._channels["agent"].end)
                if now is not None:
                    end = max(end, self._wall_position(now))
                self._write_until(end)
            self._update_header()
        finally:
            self._file.close()
        os.replace(self.partial_path, self.path)
        return _describe(self.path, truncated=self.error is not None)

    async def close_async(self, now: float | None = None) -> RecordingInfo:
        """``close`` in the default executor; packets written meanwhile are ignored."""
        if self._closed or self._closing:
            raise RuntimeError(f"recording {self.path} is already closed")
        self._closing = True
        self._accepting = False  # from here on write() ignores packets: the executor thread owns the file
        return await asyncio.get_running_loop().run_in_executor(None, self.close, now)

    # ---------------------------------------------------------------------------------------------- internals

    def _follow_drift(self, state: _ChannelState) -> int:
        """End a drift-watch period of a channel; shift it when its sender's clock drifts from ours and return the
        shift applied (samples).

        Jitter only ever delays packets, so the smallest lag (wall position - RTP position) over a period of
        ``_DRIFT_PERIOD`` packets is the drift: once the whole period lagged (or led) by more than half the reorder
        window, move the channel by that much. Channels then never drift apart by more than about half the
        window."""
        state.period_packets = 0
        shift = 0
        if state.period_min_lag > self._window // 2:
            shift = state.period_min_lag
        elif state.period_max_lag < -(self._window // 2):
            shift = state.period_max_lag
        if shift:
            state.anchor += shift
            self.drift_corrections += 1
        return shift

    def _wall_position(self, now: float) -> int:
        return max(0, round((now - self.started) * SAMPLE_RATE))

    def _head(self) -> int:
        return max(self._written, self._channels["caller"].end, self._channels["agent"].end)

    def _write_until(self, until: int) -> None:
        """Decode, interleave and append the audio of [written, until); silence where a channel has none.

        Both channels' codes go into one (frames, 2) array, so one table lookup yields interleaved samples."""
        start = self._written
        count = until - start
        if count <= 0:
            return
        runs = [
            (column, run)
            for column, name in enumerate(("caller", "agent"))
            for run in _take_runs(self._channels[name], start, until)
        ]
        if runs:
            codecs: list[Codec] = []
            for _, (_, _, _, codec) in runs:
                if codec not in codecs:
                    codecs.append(codec)
            codes = np.full((count, 2), 256 * len(codecs), dtype=np.uint16)
            for column, (first, last, payloads, codec) in runs:
                lo, hi = max(first, start), min(last, until)
                data = payloads[0] if len(payloads) == 1 else b"".join(payloads)
                segment = codes[lo - start : hi - start, column]
                segment[:] = np.frombuffer(data, dtype=np.uint8, count=hi - lo, offset=lo - first)
                index = codecs.index(codec)
                if index:
                    segment += 256 * index
            frames = _decode_table(codecs)[codes]
        else:
            frames = np.zeros((count, 2), dtype=np.int16)
        for pause in self._pauses:
            lo = max(pause.start, start)
            hi = until if pause.stop is None else min(pause.stop, until)
            if hi > lo:
                frames[lo - start : hi - start] = 0
        self._append(frames.astype("<i2", copy=False).tobytes())  # a crash of the process loses none of it
        self._written = until
        if until - self._header_frames >= self._header_every:
            self._update_header()

    def _append(self, data: bytes) -> None:
        """Write ``data`` at the end of the file; on failure (disk full) cut off whatever part of it went in,
        so the file ends on the last whole block and its header's sizes stay true."""
        view = memoryview(data)
        try:
            while view:
                view = view[self._file.write(view):]  # unbuffered: a short write says how much went in
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(self._file.fileno(), HEADER_SIZE + self._written * FRAME_BYTES)
            raise

    def _update_header(self) -> None:
        """Rewrite the RIFF and data sizes in place (one ``pwrite`` of the header after ``RIFF``)."""
        header = pcm_header(self._written * FRAME_BYTES, channels=2, sample_rate=SAMPLE_RATE)[RIFF_SIZE_OFFSET:]
        if os.pwrite(self._file.fileno(), header, RIFF_SIZE_OFFSET) != len(header):
            raise OSError(f"short write of the header of {self.partial_path}")
        self._header_frames = self._written


_DECODE_TABLES: dict[tuple[str, ...], npt.NDArray[np.int16]] = {}


def _decode_table(codecs: list[Codec]) -> npt.NDArray[np.int16]:
    """The codecs' 256-entry decode tables end to end, then one 0 (index ``256 * len(codecs)``: no audio)."""
    key = tuple(codec.name for codec in codecs)
    table = _DECODE_TABLES.get(key)
    if table is None:
        table = np.concatenate([*(codec.decode_table for codec in codecs), np.zeros(1, dtype=np.int16)])
        _DECODE_TABLES[key] = table
    return table


_Run = tuple[int, int, list[bytes], Codec]  # (first position, one past the last, payloads end to end, codec)


def _take_runs(state: _ChannelState, start: int, stop: int) -> list[_Run]:
    """The channel's audio covering [start, stop) as runs of payloads that follow each other without a gap (the
    usual case: one run per block), in arrival order, so where payloads overlap the later one wins. Payloads
    reaching past ``stop`` stay pending for the next block."""
    runs: list[_Run] = []
    kept: list[_Pending] = []
    parts: list[bytes] = []
    run_start = run_end = 0
    run_codec = -1
    for item in state.pending:
        position, payload, codec = item
        if position >= stop:
            kept.append(item)
            continue
        end = position + len(payload)
        if end > stop:
            kept.append(item)  # its tail belongs to the next block
        elif end <= start:
            continue
        if parts and position == run_end and codec == run_codec:
            parts.append(payload)
            run_end = end
            continue
        if parts:
            runs.append((run_start, run_end, parts, state.codecs[run_codec]))
        parts, run_start, run_end, run_codec = [payload], position, end, codec
    if parts:
        runs.append((run_start, run_end, parts, state.codecs[run_codec]))
    state.pending = kept
    return runs


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


CompressionFormat = Literal["flac", "opus", "mp3"]
_ENCODERS: dict[str, tuple[str, str]] = {
    "flac": ("flac", ".flac"),
    "opus": ("libopus", ".opus"),
    "mp3": ("libmp3lame", ".mp3"),
}


def compress_sync(info: RecordingInfo, fmt: CompressionFormat = "flac", *, remove_wav: bool = False) -> RecordingInfo:
    """Re-encode a finished WAV recording as FLAC (lossless), Opus or MP3 with PyAV (blocking)."""
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
