"""Recording under control, with real peers: a SIPp caller (a 440 Hz tone) reaches a baresip agent (660 Hz) through
the menu and the queue; the agent pauses the recording with ``*1`` and resumes it with ``*2``, then a supervisor
pauses and resumes it through the API. A number that records everything records a call that never reaches an
agent, and its IVR pauses the recording around a card number. The file is checked by energy and FFT: digital
silence in both channels where the timeline says the recording was paused, each party's sound in its own channel
everywhere else."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest

from tests.e2e.harness import AGENT_HZ, CALLER_HZ, feature_code, served, wait_for
from tests.e2e.whole_call_peers import baresip_agent, fetch, sipp_caller, whole_call_server, write_plan
from tests.interop.audio import read_wav, spectrum, write_tone_wav
from tests.interop.sipp import free_port
from voxcenter.runtime.inbound import InboundCall
from voxcenter.runtime.server import Server

pytestmark = pytest.mark.interop

MARGIN = 0.25
"""Seconds kept clear of each pause's edges (the recorder's reorder window, a key press in flight)."""


async def api_post(port: int, path: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession(headers={"Authorization": "Bearer test-token"}) as session, \
            session.post(f"http://127.0.0.1:{port}{path}") as response:
        return response.status, await response.json()


def connected_call(server: Server) -> InboundCall | None:
    return next((call for call in server.calls.values() if call.recording is not None), None)


async def test_agent_code_and_api_pause_leave_silence_where_the_timeline_says(tmp_path: Path, pg_url: str) -> None:
    voice = write_tone_wav(tmp_path / "agent.wav", AGENT_HZ, 60.0)
    api_port = free_port()
    async with whole_call_server(tmp_path, pg_url, api_port=api_port) as server:
        address = server.endpoint.address("udp")
        registrar = f"{address.host}:{address.port}"
        async with baresip_agent(tmp_path, "1001", registrar, voice) as agent:
            caller = asyncio.get_running_loop().create_task(
                sipp_caller(tmp_path, registrar, digits="1", talk=27.0, hang_up_after=26.0, timeout=60.0))
            await wait_for(lambda: connected_call(server) is not None, 20, "caller connected to the agent")
            call = connected_call(server)
            assert call is not None
            await asyncio.sleep(3.0)
            await agent.send_digits("*1")
            await wait_for(lambda: call.recording is not None and call.recording.paused, 5, "paused by the agent")
            await asyncio.sleep(3.0)
            await agent.send_digits("*2")
            await wait_for(lambda: call.recording is not None and not call.recording.paused, 5, "resumed")
            await asyncio.sleep(3.0)
            status, body = await api_post(api_port, f"/api/calls/{call.call_id}/recording/pause")
            assert status == 200 and body["recording"] == "paused", body
            await asyncio.sleep(3.0)
            status, body = await api_post(api_port, f"/api/calls/{call.call_id}/recording/resume")
            assert status == 200 and body["changed"], body
            result = await caller
            assert result.successful == 1, result.describe()
            await wait_for(lambda: not server.calls, 15, "call finished")
        await server.writer.flush(10.0)
    rows = await fetch(pg_url, "select event, agent, data from call_events where call_id = $1 and event like "
                               "'RECORDING%' order by at, event_id", call.call_id)
    events = [(row["event"], row["agent"], json.loads(row["data"])) for row in rows]
    assert [(name, data["by"], data["who"]) for name, _, data in events] == [
        ("RECORDINGPAUSED", "agent", "1001"), ("RECORDINGRESUMED", "agent", "1001"),
        ("RECORDINGPAUSED", "api", "admin"), ("RECORDINGRESUMED", "api", "admin")], events
    assert events[0][1] == "1001"  # the agent's own pause carries the agent on the timeline
    pauses = [(events[i][2]["at_seconds"], events[i + 1][2]["at_seconds"]) for i in (0, 2)]
    for (start, stop), (_, _, resumed) in zip(pauses, (events[1], events[3]), strict=True):
        assert resumed["seconds"] == pytest.approx(stop - start, abs=0.02) and resumed["seconds"] > 2.0, resumed
    [recording] = await fetch(pg_url, "select * from recordings where call_id = $1", call.call_id)
    rate, samples = read_wav(Path(recording["path"]))
    for start, stop in pauses:  # digital silence in both channels
        span = samples[:, round((start + MARGIN) * rate):round((stop - MARGIN) * rate)]
        assert span.size and not np.any(span), (start, stop, int(np.abs(span).max()))
    recorded = [(0.0, pauses[0][0]), (pauses[0][1], pauses[1][0]), (pauses[1][1], samples.shape[1] / rate)]
    for start, stop in recorded:  # the middle second of each stretch: each party's tone in its own channel
        middle = (start + stop) / 2
        window = samples[:, round((middle - 0.5) * rate):round((middle + 0.5) * rate)]
        left, right = spectrum(window[0], rate), spectrum(window[1], rate)
        assert abs(left.dominant - CALLER_HZ) < 15 and left.peak_share > 0.6, (start, stop, left)
        assert abs(right.dominant - AGENT_HZ) < 15 and right.peak_share > 0.6, (start, stop, right)


IVR_PAYMENT = """\
  card-intro:
    type: play
    prompts: callback-offer
    barge_in: false
    next: card-pause
  card-pause:
    type: recording
    action: pause
    next: card-number
  card-number:
    type: collect
    prompts: callback-enter-number
    variable: card
    sensitive: true
    min_digits: 4
    max_digits: 4
    first_digit_timeout: 10s
    next: card-resume
  card-resume:
    type: recording
    action: resume
    next: card-bye
  card-bye:
    type: hangup
    prompts: goodbye
"""


async def test_a_number_recorded_from_the_answer_pauses_around_the_card_number(tmp_path: Path, pg_url: str) -> None:
    path, sip_port = write_plan(tmp_path, pg_url)
    text = path.read_text()
    text = text.replace("numbers:\n", "numbers:\n  '104': {node: card-intro, record: everything}\n", 1)
    path.write_text(text.replace("ivr:\n", "ivr:\n" + IVR_PAYMENT, 1))
    async with served(path, node="whole-call") as server:
        result = await sipp_caller(tmp_path, f"127.0.0.1:{sip_port}", number="104", digits="1234",
                                   first_digit_at=6.0, talk=14.0, timeout=40.0)
        assert result.successful == 1, result.describe()
        await wait_for(lambda: not server.calls, 15, "call finished")
        await server.writer.flush(10.0)
    [cdr] = await fetch(pg_url, "select * from calls")
    assert cdr["disposition"] == "ivr_completed" and cdr["agent"] is None, dict(cdr)  # no agent: recorded anyway
    rows = await fetch(pg_url, "select event, data from call_events where call_id = $1 and event like "
                               "'RECORDING%' order by at, event_id", cdr["call_id"])
    events = [(row["event"], json.loads(row["data"])) for row in rows]
    assert [(name, data.get("by"), data.get("who")) for name, data in events] == [
        ("RECORDING", None, None), ("RECORDINGPAUSED", "ivr", "card-pause"),
        ("RECORDINGRESUMED", "ivr", "card-resume")], events
    assert events[0][1] == {"from": "answer"}
    start, stop = events[1][1]["at_seconds"], events[2][1]["at_seconds"]
    assert stop - start > 1.0, events  # the prompt and the four keys
    timeline = await fetch(pg_url, "select data from call_events where call_id = $1", cdr["call_id"])
    assert "1234" not in " ".join(str(row["data"]) for row in timeline)
    [recording] = await fetch(pg_url, "select * from recordings where call_id = $1", cdr["call_id"])
    rate, samples = read_wav(Path(recording["path"]))
    span = samples[:, round((start + MARGIN) * rate):round((stop - MARGIN) * rate)]
    assert span.size and not np.any(span), int(np.abs(span).max())  # the prompt and the caller: silence
    for first, last in ((1.0, start - MARGIN), (stop + MARGIN, min(stop + 2.0, samples.shape[1] / rate))):
        window = samples[:, round(first * rate):round(last * rate)]
        caller = spectrum(window[0], rate)
        assert abs(caller.dominant - CALLER_HZ) < 15 and caller.peak_share > 0.6, (first, last, caller)
        prompt = spectrum(window[1], rate)  # what the IVR played the caller, on the right
        assert prompt.rms > 300, (first, last, prompt)


async def test_a_queue_recorded_from_the_queue_keeps_the_wait_and_the_conversation_in_one_file(
        tmp_path: Path, pg_url: str) -> None:
    voice = write_tone_wav(tmp_path / "agent.wav", AGENT_HZ, 60.0)
    path, sip_port = write_plan(tmp_path, pg_url)
    text = path.read_text()
    path.write_text(text.replace("    wrap_up: 1s\n", "    wrap_up: 1s\n    record: everything\n", 1))
    registrar = f"127.0.0.1:{sip_port}"
    async with served(path, node="whole-call") as server, \
            baresip_agent(tmp_path, "1001", registrar, voice, login=False) as agent:
        caller = asyncio.get_running_loop().create_task(
            sipp_caller(tmp_path, registrar, digits="1", talk=16.0, hang_up_after=15.0, timeout=40.0))
        await wait_for(lambda: any(c.queued for c in server.calls.values()), 15, "caller queued")
        await asyncio.sleep(4.0)  # music and announcements, recorded
        await feature_code(agent, "*45", registrar)
        result = await caller
        assert result.successful == 1, result.describe()
        await wait_for(lambda: not server.calls, 15, "call finished")
        await server.writer.flush(10.0)
    [cdr] = await fetch(pg_url, "select * from calls")
    assert cdr["agent"] == "1001", dict(cdr)
    rows = await fetch(pg_url, "select event, at, data from call_events where call_id = $1 and event in "
                               "('RECORDING', 'CONNECT') order by at, event_id", cdr["call_id"])
    assert [(row["event"], json.loads(row["data"]) if row["event"] == "RECORDING" else None) for row in rows] == [
        ("RECORDING", {"from": "queue"}), ("CONNECT", None)]
    connected = (rows[1]["at"] - rows[0]["at"]).total_seconds()  # where the conversation starts in the file
    [recording] = await fetch(pg_url, "select * from recordings where call_id = $1", cdr["call_id"])
    rate, samples = read_wav(Path(recording["path"]))
    waiting = samples[:, round(0.5 * rate):round((connected - 0.5) * rate)]
    assert waiting.shape[1] > 2 * rate, connected
    heard = spectrum(waiting[0], rate)
    assert abs(heard.dominant - CALLER_HZ) < 15 and heard.peak_share > 0.6, heard
    assert spectrum(waiting[1], rate).rms > 300  # the music and announcements the caller heard
    talking = samples[:, round((connected + 1.0) * rate):round((connected + 4.0) * rate)]
    left, right = spectrum(talking[0], rate), spectrum(talking[1], rate)
    assert abs(left.dominant - CALLER_HZ) < 15 and left.peak_share > 0.6, left
    assert abs(right.dominant - AGENT_HZ) < 15 and right.peak_share > 0.6, right


async def test_a_caller_who_leaves_a_voicemail_is_recorded_when_the_number_records_everything(
        tmp_path: Path, pg_url: str) -> None:
    path, sip_port = write_plan(tmp_path, pg_url)
    text = path.read_text()
    path.write_text(text.replace("numbers:\n", "numbers:\n  '106': {node: leave-message, record: everything}\n", 1))
    async with served(path, node="whole-call") as server:
        result = await sipp_caller(tmp_path, f"127.0.0.1:{sip_port}", number="106", talk=12.0, timeout=40.0)
        assert result.successful == 1, result.describe()
        await wait_for(lambda: not server.calls, 15, "call finished")
        await server.writer.flush(10.0)
    [cdr] = await fetch(pg_url, "select * from calls")
    [voicemail] = await fetch(pg_url, "select * from voicemails where call_id = $1", cdr["call_id"])
    assert voicemail["mailbox"] == "sales"
    [recording] = await fetch(pg_url, "select * from recordings where call_id = $1", cdr["call_id"])
    rate, samples = read_wav(Path(recording["path"]))
    greeting = spectrum(samples[1, round(0.3 * rate):round(2.5 * rate)], rate)
    assert greeting.rms > 300, greeting  # the greeting the caller heard, on the right
    caller = spectrum(samples[0, round(1.0 * rate):round(4.0 * rate)], rate)
    assert abs(caller.dominant - CALLER_HZ) < 15 and caller.peak_share > 0.6, caller  # and the caller's message
