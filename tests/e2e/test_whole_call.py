"""The whole call with real peers, recorded in PostgreSQL: SIPp callers from the carrier, baresip agents.

Each test runs voxcenter in this process on a fresh PostgreSQL schema, lets real peers place and take the
calls, then reads back what a contact center would look at afterwards: one CDR per call with its queue, agent,
wait, talk time and disposition; the timeline in order; the stereo recording (caller left, agent right).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import (
    AGENT_HZ,
    CALLER_HZ,
    CARRIER_IP,
    feature_code,
    first_heard,
    share_heard,
    voiced_frames,
    wait_for,
)
from tests.e2e.whole_call_peers import (
    baresip_agent,
    captured_rtp,
    events_of,
    fetch,
    heard_audio,
    sipp_caller,
    whole_call_server,
)
from tests.interop.audio import spectrum, wav_spectra, write_tone_wav
from tests.interop.sipp import free_port
from voxcenter.media.codecs import PCMU

pytestmark = pytest.mark.interop


def near(frequency: float, expected: float, tolerance: float = 15.0) -> bool:
    return abs(frequency - expected) <= tolerance


def in_order(events: list[str], *names: str) -> bool:
    """``names`` occur in ``events`` in this order (other events may come between)."""
    positions = [events.index(name) if name in events else -1 for name in names]
    return -1 not in positions and positions == sorted(positions)


async def test_caller_menu_queue_agent_recording_and_cdr(tmp_path: Path, pg_url: str) -> None:
    agent_voice = write_tone_wav(tmp_path / "agent.wav", AGENT_HZ, 60.0)
    async with whole_call_server(tmp_path, pg_url) as server:
        address = server.endpoint.address("udp")
        registrar = f"{address.host}:{address.port}"
        loop = asyncio.get_running_loop()
        async with baresip_agent(tmp_path, "1001", registrar, agent_voice, login=False) as agent:
            # Someone is already waiting (and gives up after 5 s), so our caller joins second and is told so.
            # Our caller presses 1 in the menu, waits (announcement, music) until the agent logs in and answers
            # at once; they talk; the caller hangs up.
            first = loop.create_task(sipp_caller(tmp_path, registrar, digits="1", talk=5.0, hang_up_after=5.0,
                                                 name="first"))
            await wait_for(lambda: any(c.queued for c in server.calls.values()), 15, "first caller queued")
            media_port = free_port()
            async with captured_rtp(tmp_path / "caller-heard.pcap", CARRIER_IP, media_port) as capture:
                call = loop.create_task(sipp_caller(tmp_path, registrar, digits="1", talk=16.0,
                                                    hang_up_after=15.0, media_port=media_port))
                assert (await first).successful == 1
                await asyncio.sleep(1.0)  # alone in the queue now, with music
                await feature_code(agent, "*45", registrar)
                result = await call
            assert result.successful == 1, result.describe()
            await agent.ctrl.wait_event("CALL_CLOSED", 15)
            agent_heard = agent.recording("dec")
            await wait_for(lambda: not server.calls, 15, "calls finished")
        await server.writer.flush(10.0)
    [gave_up] = await fetch(pg_url, "select * from calls where disposition <> 'answered'")
    assert (gave_up["disposition"], gave_up["queue"], gave_up["agent"]) == ("abandoned_queue", "sales", None)
    [cdr] = await fetch(pg_url, "select * from calls where disposition = 'answered'")
    assert (cdr["queue"], cdr["agent"], cdr["hangup_by"]) == ("sales", "1001", "caller"), dict(cdr)
    assert cdr["to_number"] == "100" and cdr["trunk"] == "carrier"
    assert cdr["wait_seconds"] >= 2.0, dict(cdr)  # queued until the agent logged in
    assert cdr["talk_seconds"] > 3.0, dict(cdr)
    events = await events_of(pg_url, cdr["call_id"])
    assert in_order(events, "node", "digit", "ENTERQUEUE", "CONNECT", "COMPLETECALLER"), events
    [recording] = await fetch(pg_url, "select * from recordings where call_id = $1", cdr["call_id"])
    left, right = wav_spectra(Path(recording["path"]))
    assert near(left.dominant, CALLER_HZ) and left.peak_share > 0.6, left
    assert near(right.dominant, AGENT_HZ) and right.peak_share > 0.6, right
    [heard] = wav_spectra(agent_heard)
    assert near(heard.dominant, CALLER_HZ), heard
    # The caller heard the menu (cut short by the key), "caller number two", music, then the agent's voice.
    caller_heard = heard_audio(capture)
    menu, position, music = voiced_frames("main-menu"), voiced_frames("caller-number"), voiced_frames("moh")
    assert share_heard(caller_heard, menu[:20]) > 0.8, share_heard(caller_heard, menu)
    assert share_heard(caller_heard, position) > 0.8 and share_heard(caller_heard, voiced_frames("num-2")) > 0.8
    starts = [first_heard(caller_heard, frames) for frames in (menu, position, music)]
    assert -1 not in starts and starts == sorted(starts), starts
    tail = PCMU.decode(b"".join(caller_heard[-150:]))  # the last 3 s: the conversation
    assert near(spectrum(tail, 8000).dominant, AGENT_HZ), spectrum(tail, 8000)


async def only_call(url: str) -> tuple[dict[str, Any], list[str]]:
    [cdr] = await fetch(url, "select * from calls")
    return dict(cdr), await events_of(url, str(cdr["call_id"]))


async def lone_call(tmp_path: Path, pg_url: str, **caller: Any) -> tuple[dict[str, Any], list[str]]:
    """One SIPp caller (``sipp_caller`` options) on a fresh server: its CDR and timeline once written."""
    async with whole_call_server(tmp_path, pg_url) as server:
        address = server.endpoint.address("udp")
        result = await sipp_caller(tmp_path, f"{address.host}:{address.port}", **caller)
        assert result.successful == 1, result.describe()
        await wait_for(lambda: not server.calls, 15, "call finished")
        await server.writer.flush(10.0)
    return await only_call(pg_url)


async def test_caller_hangs_up_in_the_menu(tmp_path: Path, pg_url: str) -> None:
    cdr, events = await lone_call(tmp_path, pg_url, talk=2.0, hang_up_after=2.0)
    assert (cdr["disposition"], cdr["hangup_by"], cdr["queue"], cdr["agent"]) == ("abandoned_ivr", "caller", None,
                                                                                 None), cdr
    assert cdr["talk_seconds"] == 0 and cdr["ended_at"] is not None
    assert events[0] == "node" and "ENTERQUEUE" not in events, events
    assert await fetch(pg_url, "select * from recordings") == []


async def test_caller_hangs_up_while_waiting_in_the_queue(tmp_path: Path, pg_url: str) -> None:
    cdr, events = await lone_call(tmp_path, pg_url, digits="1", talk=5.0, hang_up_after=5.0)
    assert (cdr["disposition"], cdr["hangup_by"], cdr["queue"], cdr["agent"]) == ("abandoned_queue", "caller",
                                                                                 "sales", None), cdr
    assert cdr["queue_entered_at"] is not None and cdr["agent_answered_at"] is None
    assert in_order(events, "digit", "ENTERQUEUE", "ABANDON"), events
    assert "CONNECT" not in events


async def test_agent_who_does_not_answer_is_skipped_for_the_next(tmp_path: Path, pg_url: str) -> None:
    voice = write_tone_wav(tmp_path / "agent.wav", AGENT_HZ, 60.0)
    async with whole_call_server(tmp_path, pg_url) as server:
        address = server.endpoint.address("udp")
        registrar = f"{address.host}:{address.port}"
        async with (
            baresip_agent(tmp_path, "1001", registrar, voice, answer="manual") as absent,
            baresip_agent(tmp_path, "1002", registrar, voice) as present,
        ):
            # Linear selection rings 1001 first: it rings 3 s unanswered, then 1002 answers.
            result = await sipp_caller(tmp_path, registrar, digits="1", talk=12.0, hang_up_after=11.0)
            assert result.successful == 1, result.describe()
            await present.ctrl.wait_event("CALL_CLOSED", 15)
            await wait_for(lambda: not server.calls, 15, "call finished")
            assert any(event.get("type") == "CALL_INCOMING" for event in absent.ctrl.history), absent.log()
        await server.writer.flush(10.0)
    cdr, events = await only_call(pg_url)
    assert (cdr["disposition"], cdr["queue"], cdr["agent"], cdr["hangup_by"]) == ("answered", "sales", "1002",
                                                                                 "caller"), cdr
    assert cdr["wait_seconds"] >= 2.5, cdr  # the 3 s ring timeout of the first agent
    assert in_order(events, "ENTERQUEUE", "RINGNOANSWER", "CONNECT", "COMPLETECALLER"), events
    [(agent,)] = [tuple(row) for row in await fetch(
        pg_url, "select agent from call_events where event = 'RINGNOANSWER' and call_id = $1", cdr["call_id"])]
    assert agent == "1001"
    assert len(await fetch(pg_url, "select * from recordings where call_id = $1", cdr["call_id"])) == 1


async def test_max_wait_overflows_to_voicemail(tmp_path: Path, pg_url: str) -> None:
    # Queue "short" gives up after 2 s; its overflow is the voicemail node (3 s at most), then goodbye.
    cdr, events = await lone_call(tmp_path, pg_url, number="102", talk=20.0, timeout=40.0)
    assert (cdr["disposition"], cdr["queue"], cdr["agent"], cdr["hangup_by"]) == ("voicemail", "short", None,
                                                                                 "system"), cdr
    assert in_order(events, "ENTERQUEUE", "EXITWITHTIMEOUT", "VOICEMAIL"), events
    [message] = await fetch(pg_url, "select * from voicemails")
    assert message["call_id"] == cdr["call_id"] and message["mailbox"] == "sales"
    assert 1.0 < message["duration_seconds"] <= 4.0, dict(message)


async def test_callback_request_keeps_a_callback_and_ends_the_call(tmp_path: Path, pg_url: str) -> None:
    # The callback offer comes 1 s after joining; the caller accepts with 1 at 5 s.
    cdr, events = await lone_call(tmp_path, pg_url, number="103", digits="1", first_digit_at=5.0, talk=20.0,
                                  timeout=40.0)
    assert (cdr["disposition"], cdr["queue"], cdr["agent"]) == ("callback", "callback", None), cdr
    assert in_order(events, "ENTERQUEUE", "CALLBACKOFFER", "EXITWITHKEY"), events
    [callback] = await fetch(pg_url, "select * from callbacks")
    assert callback["call_id"] == cdr["call_id"] and callback["number"] == cdr["from_number"]
    assert callback["queue"] == "callback"
