"""One call's stereo recording, from the bridge tap to its row in the store.

Started when two legs are bridged (the caller side on the left, everybody
else on the right) and tapped on the call's bridge, so it follows the call
through transfers and conferences; finished after the call: the WAV is
closed, re-encoded when the dial plan asks for FLAC or MP3 (the WAV stays if
that fails: a recording is never lost to a re-encode), and its metadata is
handed to the durable writer.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Protocol

import structlog

from voxcenter.config import Config
from voxcenter.media.bridge import Tap
from voxcenter.media.recorder import CallRecorder, compress
from voxcenter.runtime.calllog import RecordSink
from voxcenter.store.records import RecordingRecord, new_id

logger = structlog.get_logger(__name__)


class Tappable(Protocol):
    """Where a recording listens: a call's bridge (relay or mixer alike)."""

    def add_tap(self, tap: Tap) -> None: ...


class CallRecording:
    """A recording tapped on a bridge; :meth:`start` returns None when the dial plan records nothing."""

    def __init__(self, recorder: CallRecorder, call_id: str, fmt: str) -> None:
        self.recorder = recorder
        self.call_id = call_id
        self.format = fmt
        self.started_at = time.time()

    @classmethod
    def start(cls, config: Config, call_id: str, bridge: Tappable) -> CallRecording | None:
        recording = config.recording
        if not recording.enabled:
            return None
        path = Path(recording.directory) / time.strftime("%Y/%m/%d", time.gmtime()) / f"{call_id}.wav"
        loop = asyncio.get_running_loop()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            recorder = CallRecorder(path, loop.time(), clock=loop.time)
        except OSError as error:  # a full or read-only disk: the call goes on unrecorded, and says why
            logger.error("recording.not_started", path=str(path), reason=error.strerror or str(error))
            return None
        bridge.add_tap(recorder.write)
        return cls(recorder, call_id, recording.format)

    async def finish(self, sink: RecordSink) -> None:
        """Close, re-encode if asked, and write the recording's row."""
        try:
            info = await self.recorder.close_async()
        except Exception:
            logger.exception("call.recording_close_failed")
            return
        fmt = self.format
        if fmt != "wav":
            try:
                info = await compress(info, fmt, remove_wav=True)  # type: ignore[arg-type]
            except Exception:
                logger.exception("call.recording_compress_failed", format=fmt)
                fmt = "wav"
        sink.submit(RecordingRecord(
            recording_id=new_id(), call_id=self.call_id, path=str(info.path), format=fmt,
            duration_seconds=info.duration, size_bytes=info.size, sha256=info.sha256,
            started_at=self.started_at, truncated=info.truncated,
        ))
