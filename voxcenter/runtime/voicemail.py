"""Voicemail: a beep, then the caller's voice into a WAV until '#', silence, the time limit or hang-up."""

from __future__ import annotations

import asyncio
import time
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np

from voxcenter.ivr import RecordVoicemail
from voxcenter.runtime.calllog import CallLog, RecordSink
from voxcenter.runtime.legmedia import LegMedia, tone_frames
from voxcenter.sip.session import SipSession
from voxcenter.store.records import VoicemailRecord, new_id

SILENCE_RMS = 300.0
"""Frames quieter than this (about -41 dBFS) count as silence."""


async def record_voicemail(
    leg: LegMedia, session: SipSession, action: RecordVoicemail, *, log: CallLog, sink: RecordSink,
    directory: Path, route_digits: Callable[[Callable[[str], None] | None], None],
) -> tuple[float, str]:
    """Record one message; returns its duration and why it stopped ("key", "silence", "max-length", "hangup").

    ``route_digits`` sends the caller's digits to the recording (the stop key) and, given None, back.
    """
    loop = asyncio.get_running_loop()
    codec = leg.session.codec
    if action.beep:
        await leg.play_frames([tone_frames(codec, 1000.0, 0.4)]).wait()
    chunks: list[np.ndarray] = []
    stop = loop.create_future()
    silent_since = loop.time()
    frame_seconds = 0.02

    def audio(payload: bytes) -> None:
        nonlocal silent_since
        samples = codec.decode(payload)
        chunks.append(samples)
        if float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) >= SILENCE_RMS:
            silent_since = loop.time()
        elif loop.time() - silent_since >= action.silence_stop and not stop.done():
            stop.set_result("silence")
        if len(chunks) * frame_seconds >= action.max_length and not stop.done():
            stop.set_result("max-length")

    def digit(key: str) -> None:
        if key == action.stop_key and not stop.done():
            stop.set_result("key")

    def hung_up(_: object) -> None:
        if not stop.done():
            stop.set_result("hangup")

    leg.on_audio = audio
    route_digits(digit)
    session.ended.add_done_callback(hung_up)
    try:
        reason = await asyncio.wait_for(stop, action.max_length + 5.0)
    except TimeoutError:
        reason = "max-length"  # no audio arrived at all
    finally:
        leg.on_audio = None
        route_digits(None)
    audio_samples = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
    duration = len(audio_samples) / codec.clock_rate
    path = directory / "voicemail" / action.mailbox / f"{log.call_id}.wav"
    await loop.run_in_executor(None, _write_wav, path, audio_samples, codec.clock_rate)
    sink.submit(VoicemailRecord(
        voicemail_id=new_id(), call_id=log.call_id, mailbox=action.mailbox, at=time.time(), path=str(path),
        duration_seconds=duration,
    ))
    log.event("VOICEMAIL", data={"mailbox": action.mailbox, "seconds": round(duration, 1), "stop": reason})
    return duration, reason


def _write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(samples.astype("<i2").tobytes())
