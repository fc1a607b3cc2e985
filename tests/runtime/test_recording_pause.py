"""PCI pause and resume of a call's recording: the codes an agent keys during a call, silence in the file, and
the timeline lines that say who paused, where in the file and for how long."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np

from tests.interop.audio import read_wav
from voxcenter.config.schema import Recording
from voxcenter.media.codecs import PCMU
from voxcenter.media.dtmf import DtmfReceived
from voxcenter.media.recorder import CallRecorder
from voxcenter.runtime.calllog import CallLog
from voxcenter.runtime.featurecodes import InCallKeys, KeyedCode
from voxcenter.runtime.recording import CallRecording
from voxcenter.store.records import CallEvent


def keyed(keys: InCallKeys, digits: str) -> list[KeyedCode]:
    return [code for digit in digits if (code := keys.feed(digit)) is not None]


def test_in_call_codes_pause_resume_and_conference() -> None:
    keys = InCallKeys({"pause_recording": "*1", "resume_recording": "*2"}, "*3")
    assert keyed(keys, "*1") == [KeyedCode("pause_recording")]
    assert keyed(keys, "*2") == [KeyedCode("resume_recording")]
    assert keyed(keys, "*31002#") == [KeyedCode("conference", "1002")]
    assert keyed(keys, "*3#") == []  # a conference code without a number adds nobody
    assert keyed(keys, "5*1") == [KeyedCode("pause_recording")]  # a stray key before the code is dropped
    assert keyed(keys, "**2") == [KeyedCode("resume_recording")]  # a second star starts the code again
    assert keyed(keys, "12#") == []


def test_codes_left_out_of_the_dial_plan_do_nothing() -> None:
    keys = InCallKeys({"pause_recording": None, "resume_recording": "*2"}, None)
    assert keyed(keys, "*1*3123#") == []
    assert keyed(keys, "*2") == [KeyedCode("resume_recording")]


class Sink:
    def __init__(self) -> None:
        self.records: list[object] = []

    def submit(self, record: object) -> None:
        self.records.append(record)


async def test_a_pause_is_silence_in_the_file_and_two_lines_in_the_timeline(tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    clock = [loop.time()]
    sink = Sink()
    log = CallLog(sink, node="n", call_id="c1", direction="inbound", from_number="+1", to_number="100",
                  trunk="t", sip_call_id="s")
    recorder = CallRecorder(tmp_path / "c1.wav", clock[0], first_block=1.0)
    recording = CallRecording(recorder, "c1", "wav", log, clock=lambda: clock[0])
    tone = PCMU.encode((8000 * np.sin(2 * np.pi * 440 * np.arange(160) / 8000)).astype(np.int16))
    start = recorder.started

    def talk(first: int, last: int) -> None:  # 20 ms packets, both channels, positions first..last-1
        for index in range(first, last):
            now = start + index * 0.02
            recorder.write("caller", index * 160, tone, PCMU, now)
            recorder.write("agent", index * 160, tone, PCMU, now)

    talk(0, 100)  # 2 s
    clock[0] = start + 2.0
    assert recording.pause("agent", "1001") and not recording.pause("api", "supervisor")
    talk(100, 200)
    clock[0] = start + 4.0
    assert recording.resume("api", "supervisor") and not recording.resume("api", "supervisor")
    talk(200, 300)
    clock[0] = start + 6.0
    assert recording.pause("ivr", "card")
    talk(300, 350)
    clock[0] = start + 7.0
    await recording.finish(sink)  # the call ends while paused: the pause is closed by "end of call"
    events = [(r.event, json.loads(r.data or "{}"), r.value) for r in sink.records if isinstance(r, CallEvent)]
    assert events == [
        ("RECORDINGPAUSED", {"by": "agent", "who": "1001", "at_seconds": 2.0}, None),
        ("RECORDINGRESUMED", {"by": "api", "who": "supervisor", "at_seconds": 4.0, "seconds": 2.0,
                              "paused_by": "agent", "paused_who": "1001"}, 2.0),
        ("RECORDINGPAUSED", {"by": "ivr", "who": "card", "at_seconds": 6.0}, None),
        ("RECORDINGRESUMED", {"by": "end of call", "who": None, "at_seconds": 7.0, "seconds": 1.0,
                              "paused_by": "ivr", "paused_who": "card"}, 1.0),
    ]
    agent_events = [r.agent for r in sink.records if isinstance(r, CallEvent)]
    assert agent_events == ["1001", None, None, None]
    _, samples = read_wav(tmp_path / "c1.wav")
    energy = [float(np.sqrt(np.mean(samples[:, i * 4000:(i + 1) * 4000].astype(np.float64) ** 2)))
              for i in range(samples.shape[1] // 4000)]  # per half second
    assert all(e > 1000 for e in energy[:4]) and all(e == 0 for e in energy[4:8]), energy
    assert all(e > 1000 for e in energy[8:12]) and all(e == 0 for e in energy[12:]), energy


async def test_the_agents_codes_on_its_own_calls_out_and_callbacks(tmp_path: Path) -> None:
    sink = Sink()
    log = CallLog(sink, node="n", call_id="c2", direction="outbound", from_number="1001", to_number="+331",
                  trunk="t", sip_call_id="s")
    clock = [100.0]
    recorder = CallRecorder(tmp_path / "c2.wav", clock[0])
    recording = CallRecording(recorder, "c2", "wav", log, clock=lambda: clock[0])
    key = recording.agent_keys(Recording(pause_code="*7", resume_code="*8"), "1001")
    for digit in "*7":
        key(DtmfReceived(digit, "rfc4733", clock[0], clock[0], 0.1))
    assert recording.paused
    clock[0] += 1.5
    for digit in "3*8":  # a stray key, then the resume code
        key(DtmfReceived(digit, "rfc4733", clock[0], clock[0], 0.1))
    assert not recording.paused
    await recording.finish(sink)
    events = [(r.event, r.agent, r.value) for r in sink.records if isinstance(r, CallEvent)]
    assert events == [("RECORDINGPAUSED", "1001", None), ("RECORDINGRESUMED", "1001", 1.5)]
