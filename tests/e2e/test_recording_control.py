"""Recording under control, with real peers: a SIPp caller (a 440 Hz tone) reaches a baresip agent (660 Hz) through
the menu and the queue; the agent pauses the recording with ``*1`` and resumes it with ``*2``, then a supervisor
pauses and resumes it through the API. The file is checked by energy and FFT: digital silence in both channels
where the timeline says the recording was paused, each party's tone in its own channel everywhere else."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest

from tests.e2e.harness import AGENT_HZ, CALLER_HZ, wait_for
from tests.e2e.whole_call_peers import baresip_agent, fetch, sipp_caller, whole_call_server
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
