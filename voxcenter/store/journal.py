"""Append-only local journal: what the durable writer has accepted, on disk before the database sees it.

On disk, a directory of segment files ``seg-<first sequence number>.log`` and one ``checkpoint`` file. Each record
is framed as::

    length   u32 big-endian   payload length in bytes
    seq      u64 big-endian   sequence number, +1 per record, across segments
    crc      u32 big-endian   CRC-32 of the 8 seq bytes followed by the payload
    payload  length bytes

:meth:`Journal.append` writes a batch and fsyncs it once. :meth:`Journal.commit` records in ``checkpoint`` that
everything up to a sequence number is in the database (write to a temporary file, fsync, rename, fsync the
directory) and deletes segments wholly covered by it. After a crash, the last record of the last segment may be
torn (short or failing its CRC): opening the journal detects it, truncates it away and carries on; a torn record
was never acknowledged as durable, so nothing acknowledged is lost. A write that fails (disk full) raises
:class:`OSError` and leaves the segment as it was before the batch: old records are never damaged.

Not thread-safe: the writer calls it from one executor thread. A lock file keeps a second process out.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import struct
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import structlog

_HEADER: Final = struct.Struct(">IQI")
_SEQ: Final = struct.Struct(">Q")
MAX_RECORD_BYTES: Final = 16 * 1024 * 1024
_SEGMENT_PREFIX: Final = "seg-"
_SEGMENT_SUFFIX: Final = ".log"
CHECKPOINT_NAME: Final = "checkpoint"
LOCK_NAME: Final = "lock"

log = structlog.get_logger(__name__)


class JournalError(Exception):
    """The journal directory cannot be used (already locked by another process, unreadable checkpoint...)."""


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    """What opening the journal found."""

    committed_seq: int
    """Everything up to this sequence number was in the database at the last checkpoint."""
    last_seq: int
    """Highest sequence number on disk (or the checkpoint's, when every segment was deleted)."""
    torn_bytes: int
    """Bytes of a torn last record truncated away (0 after a clean shutdown)."""
    corrupt_segments: tuple[str, ...]
    """Earlier segments whose tail failed its CRC (disk damage); their good prefix is kept."""


def _frame(seq: int, payload: bytes) -> bytes:
    seq_bytes = _SEQ.pack(seq)
    return _HEADER.pack(len(payload), seq, zlib.crc32(payload, zlib.crc32(seq_bytes))) + payload


def _scan(data: bytes) -> tuple[list[tuple[int, int, int]], int]:
    """Frames of a segment as (seq, payload start, payload end), and the offset where good data ends."""
    frames: list[tuple[int, int, int]] = []
    offset = 0
    while offset + _HEADER.size <= len(data):
        length, seq, crc = _HEADER.unpack_from(data, offset)
        start = offset + _HEADER.size
        end = start + length
        if length > MAX_RECORD_BYTES or end > len(data):
            break
        if zlib.crc32(data[start:end], zlib.crc32(_SEQ.pack(seq))) != crc:
            break
        frames.append((seq, start, end))
        offset = end
    return frames, offset


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Journal:
    """The journal in ``directory``; opening it recovers from a crash (see the module docstring)."""

    def __init__(self, directory: str | Path, segment_bytes: int = 16 * 1024 * 1024) -> None:
        if segment_bytes < 1024:
            raise ValueError("segment_bytes must be at least 1024")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.segment_bytes = segment_bytes
        self._lock_fd = os.open(self.directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(self._lock_fd)
            raise JournalError(f"journal {self.directory} is in use by another process") from exc
        self._active_fd: int | None = None
        self._active_size = 0
        self.recovery = self._recover()
        self.committed_seq = self.recovery.committed_seq
        self.last_seq = self.recovery.last_seq

    # -- opening ---------------------------------------------------------------------------------------------

    def _segments(self) -> list[tuple[int, Path]]:
        found = []
        for path in self.directory.iterdir():
            name = path.name
            if name.startswith(_SEGMENT_PREFIX) and name.endswith(_SEGMENT_SUFFIX):
                digits = name[len(_SEGMENT_PREFIX) : -len(_SEGMENT_SUFFIX)]
                if digits.isdigit():
                    found.append((int(digits), path))
        return sorted(found)

    def _read_checkpoint(self) -> int:
        path = self.directory / CHECKPOINT_NAME
        try:
            text = path.read_text().strip()
        except FileNotFoundError:
            return 0
        if not text.isdigit():
            raise JournalError(f"{path}: checkpoint must hold a sequence number, found {text[:40]!r}")
        return int(text)

    def _recover(self) -> RecoveryReport:
        committed = self._read_checkpoint()
        segments = self._segments()
        last = committed
        torn = 0
        corrupt: list[str] = []
        for index, (_first, path) in enumerate(segments):
            data = path.read_bytes()
            frames, good_end = _scan(data)
            if frames:
                last = max(last, frames[-1][0])
            if good_end < len(data):
                if index == len(segments) - 1:
                    torn = len(data) - good_end
                    with path.open("r+b") as handle:
                        handle.truncate(good_end)
                        handle.flush()
                        os.fsync(handle.fileno())
                    log.warning("journal.torn_record_dropped", segment=path.name, bytes=torn)
                else:
                    corrupt.append(path.name)
                    log.error("journal.corrupt_segment", segment=path.name, good_bytes=good_end, size=len(data))
        return RecoveryReport(committed, last, torn, tuple(corrupt))

    # -- writing ---------------------------------------------------------------------------------------------

    def _open_segment(self, first_seq: int) -> None:
        if self._active_fd is not None:
            os.close(self._active_fd)
        path = self.directory / f"{_SEGMENT_PREFIX}{first_seq:020d}{_SEGMENT_SUFFIX}"
        self._active_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._active_size = os.fstat(self._active_fd).st_size
        _fsync_dir(self.directory)

    def append(self, payloads: Sequence[bytes]) -> int:
        """Append ``payloads`` as consecutive records, fsync once; returns the sequence number of the last one."""
        if not payloads:
            return self.last_seq
        for payload in payloads:
            if len(payload) > MAX_RECORD_BYTES:
                raise ValueError(f"journal record of {len(payload)} bytes exceeds {MAX_RECORD_BYTES}")
        if self._active_fd is None or self._active_size >= self.segment_bytes:
            self._open_segment(self.last_seq + 1)
        assert self._active_fd is not None
        seq = self.last_seq
        chunks = []
        for payload in payloads:
            seq += 1
            chunks.append(_frame(seq, payload))
        blob = b"".join(chunks)
        view = memoryview(blob)
        try:
            while view:
                written = os.write(self._active_fd, view)
                view = view[written:]
            os.fsync(self._active_fd)
        except OSError:
            # Disk full or failing: cut off the part of the batch that went in, so the segment still ends on a
            # whole record and a later append (once there is room) follows the last good one. Nothing of the
            # batch was acknowledged; the caller keeps it and tries again.
            with contextlib.suppress(OSError):
                os.ftruncate(self._active_fd, self._active_size)
            raise
        self._active_size += len(blob)
        self.last_seq = seq
        return seq

    def uncommitted(self) -> Iterator[tuple[int, bytes]]:
        """Every record after the checkpoint, in order, as (sequence number, payload)."""
        for _first, path in self._segments():
            data = path.read_bytes()
            frames, _end = _scan(data)
            if not frames or frames[-1][0] <= self.committed_seq:
                continue
            for seq, start, end in frames:
                if seq > self.committed_seq:
                    yield seq, data[start:end]

    def commit(self, seq: int) -> None:
        """Record that everything up to ``seq`` is in the database; delete segments no longer needed."""
        if seq <= self.committed_seq:
            return
        if seq > self.last_seq:
            raise ValueError(f"cannot commit sequence {seq}: the journal only reaches {self.last_seq}")
        tmp = self.directory / (CHECKPOINT_NAME + ".tmp")
        with tmp.open("w") as handle:
            handle.write(f"{seq}\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.directory / CHECKPOINT_NAME)
        _fsync_dir(self.directory)
        self.committed_seq = seq
        segments = self._segments()
        # A segment can go once the next one starts at or below committed+1, i.e. all its records are committed;
        # the active (last) segment stays, appends continue into it.
        for (_first, path), (next_first, _next) in itertools.pairwise(segments):
            if next_first - 1 <= seq:
                path.unlink()

    def pending_bytes(self) -> int:
        """Bytes of segment files on disk (committed segments not yet deleted included)."""
        return sum(path.stat().st_size for _first, path in self._segments())

    def close(self) -> None:
        """Close the files and release the directory lock."""
        if self._active_fd is not None:
            os.close(self._active_fd)
            self._active_fd = None
        if self._lock_fd >= 0:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = -1
