"""One call's stereo recording, from the bridge tap to its row in the store.

Started when two legs are bridged (the caller side on the left, everybody
else on the right), or earlier when the number or the queue records
everything, and tapped on the call's bridge, so it follows the call through
transfers and conferences; while no bridge carries the call (the IVR, the
queue, voicemail) it listens to the customer's leg instead; finished after the call: the WAV is
closed, re-encoded when the dial plan asks for FLAC or MP3 (the WAV stays if
that fails: a recording is never lost to a re-encode), and its metadata is
handed to the durable writer.

A recording can be paused (PCI: a card number read out) by the agent's code, the API or an IVR node: the file
holds silence meanwhile, and the call's timeline says who paused, when (``at_seconds`` into the file) and for how
long (``RECORDINGPAUSED``, then ``RECORDINGRESUMED`` with ``seconds``; a pause still on when the call ends is
closed by ``end of call``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Protocol

import structlog

from voxcenter.config import Config
from voxcenter.config.schema import Recording as RecordingSettings
from voxcenter.media.bridge import Tap
from voxcenter.media.dtmf import DtmfReceived
from voxcenter.media.recorder import CallRecorder, compress
from voxcenter.media.rtp import RtpPacket
from voxcenter.media.sealed import SealError, load_key, seal_file
from voxcenter.runtime.calllog import CallLog, RecordSink
from voxcenter.runtime.featurecodes import InCallKeys
from voxcenter.runtime.legmedia import LegMedia
from voxcenter.store.records import RecordingRecord, new_id

logger = structlog.get_logger(__name__)


_KEYS: dict[Path, bytes] = {}


def recording_key(settings: RecordingSettings) -> bytes | None:
    """The key recordings are sealed with (``recording.key_file``, read once), or None: kept plain.
    Raises SealError for a key file that is missing or not a key (the start checks it first)."""
    if settings.key_file is None:
        return None
    path = Path(settings.key_file)
    key = _KEYS.get(path)
    if key is None:
        key = _KEYS[path] = load_key(path)
    return key


class Tappable(Protocol):
    """Where a recording listens: a call's bridge (relay or mixer alike)."""

    def add_tap(self, tap: Tap) -> None: ...


class CallRecording:
    """A recording tapped on a bridge; :meth:`start` returns None when the dial plan records nothing."""

    def __init__(self, recorder: CallRecorder, call_id: str, fmt: str, log: CallLog | None = None, *,
                 clock: Callable[[], float] | None = None) -> None:
        self.recorder = recorder
        self._clock = clock or asyncio.get_running_loop().time
        """The recorder's clock (the loop's)."""
        self.call_id = call_id
        self.format = fmt
        self.log = log
        """Where pauses and resumes go (the call's timeline)."""
        self.started_at = time.time()
        self._paused_by: tuple[str, str | None, float] | None = None  # (by, who, loop time)
        self._followed: LegMedia | None = None
        self.key: bytes | None = None
        """Seal the finished file with this key (``recording.key_file``)."""

    @classmethod
    def start(cls, config: Config, call_id: str, bridge: Tappable, log: CallLog | None = None) -> CallRecording | None:
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
        started = cls(recorder, call_id, recording.format, log)
        try:
            started.key = recording_key(recording)
        except SealError as error:  # a reload brought a bad key file: record, but say the file stays plain
            logger.error("recording.not_sealed", path=str(path), reason=str(error))
        return started

    def follow(self, leg: LegMedia, carried: Callable[[], bool]) -> None:
        """Record the customer's ``leg`` whenever no bridge carries the call (``carried()`` false): what the
        caller says on the left, what we play to them on the right (the IVR's prompts, queue announcements
        and music, a voicemail greeting). So a call recorded from the answer, or sent back to the IVR by a
        transfer, keeps one file."""
        recorder, clock = self.recorder, self._clock

        def heard(packet: RtpPacket) -> None:
            if not carried():
                recorder.write("caller", packet.timestamp, packet.payload, leg.session.codec)

        def sent(payload: bytes) -> None:
            if not carried():  # our own stream: placed by the clock it is paced by
                codec = leg.session.codec
                recorder.write("agent", round(clock() * codec.clock_rate) & 0xFFFFFFFF, payload, codec)

        leg.on_heard = heard
        leg.session.on_sent = sent
        self._followed = leg

    def agent_keys(self, codes: RecordingSettings, agent: str) -> Callable[[DtmfReceived], None]:
        """What an agent's phone's keys do on a call with no other code: the pause and resume codes."""
        keys = InCallKeys({"pause_recording": codes.pause_code, "resume_recording": codes.resume_code}, None)

        def key(event: DtmfReceived) -> None:
            keyed = keys.feed(event.digit)
            if keyed is not None and keyed.name == "pause_recording":
                self.pause("agent", agent)
            elif keyed is not None and keyed.name == "resume_recording":
                self.resume("agent", agent)

        return key

    @property
    def paused(self) -> bool:
        """True between a pause and its resume."""
        return self._paused_by is not None

    def pause(self, by: str, who: str | None = None) -> bool:
        """Record silence from now on; ``by`` is ``agent``, ``api`` or ``ivr``, ``who`` the agent, the token's role
        or the node. False when already paused (nothing changes)."""
        if self._paused_by is not None:
            return False
        now = self._clock()
        self.recorder.pause(now)
        self._paused_by = (by, who, now)
        logger.info("recording.paused", call_id=self.call_id, by=by, who=who)
        if self.log is not None:
            self.log.event("RECORDINGPAUSED", agent=who if by == "agent" else None,
                           data={"by": by, "who": who, "at_seconds": round(now - self.recorder.started, 2)})
        return True

    def resume(self, by: str, who: str | None = None) -> bool:
        """Record the conversation again; False when not paused."""
        if self._paused_by is None:
            return False
        paused_by, paused_who, since = self._paused_by
        self._paused_by = None
        now = self._clock()
        self.recorder.resume(now)
        seconds = round(now - since, 2)
        logger.info("recording.resumed", call_id=self.call_id, by=by, who=who, seconds=seconds)
        if self.log is not None:
            self.log.event("RECORDINGRESUMED", agent=who if by == "agent" else None, value=seconds,
                           data={"by": by, "who": who, "at_seconds": round(now - self.recorder.started, 2),
                                 "seconds": seconds, "paused_by": paused_by, "paused_who": paused_who})
        return True

    async def finish(self, sink: RecordSink) -> None:
        """Close, re-encode if asked, and write the recording's row."""
        self.resume("end of call")
        if self._followed is not None:
            self._followed.on_heard = None
            self._followed.session.on_sent = None
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
        if self.key is not None:
            try:
                info = replace(info, path=await asyncio.to_thread(seal_file, info.path, self.key))
            except OSError:  # the plain file stays: a recording is never lost to encryption
                logger.exception("call.recording_seal_failed", path=str(info.path))
        sink.submit(RecordingRecord(
            recording_id=new_id(), call_id=self.call_id, path=str(info.path), format=fmt,
            duration_seconds=info.duration, size_bytes=info.size, sha256=info.sha256,
            started_at=self.started_at, truncated=info.truncated,
        ))
