"""After ``kill -9`` with bridged calls, the restart closes what the dead process left open; a silent caller is hung
up by the system.

The server is ``voxcenter run`` in its own process, on PostgreSQL and on SQLite. Two SIPp callers on the carrier
address reach two baresip agents through the menu; while both are talking the server gets SIGKILL, then starts
again under the same node name. Each CDR must then be ended (no longer ``in_progress``) at the last moment any
record of the call holds, ``hangup_by: system`` with a cause saying the server stopped; each recording the crash
cut short is repaired, playable, and has its ``recordings`` row, linked to its call, with ``truncated`` set.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import AGENT_HZ, CALLER_HZ, ServerProcess, records, rtp_base_for_test, served
from tests.e2e.whole_call_peers import baresip_agent, plan_text, sipp_caller
from tests.interop.audio import wav_spectra, write_tone_wav
from tests.interop.sipp import free_port
from voxcenter.runtime.conversation import MEDIA_TIMEOUT_CAUSE
from voxcenter.store.recovery import CRASH_CAUSE

pytestmark = [pytest.mark.interop, pytest.mark.timeout(150)]

NODE = "crash-test"


async def last_record_of(url: str, call_id: str) -> float:
    """The latest time any record of the call holds (what the restart must take as its end)."""
    [cdr] = await records(url, f"select * from calls where call_id = '{call_id}'")
    moments = [cdr[name] for name in ("arrived_at", "answered_at", "queue_entered_at", "agent_answered_at")]
    for table, columns in (("call_events", ("at",)), ("agent_events", ("at",)),
                           ("call_legs", ("started_at", "answered_at"))):
        for row in await records(url, f"select {', '.join(columns)} from {table} where call_id = '{call_id}'"):
            moments.extend(row.values())
    return max(moment for moment in moments if moment is not None)


def write_plan(directory: Path, url: str, *, inactivity_timeout: str = "30s") -> tuple[Path, int]:
    sip_port = free_port()
    text = plan_text(sip_port=sip_port, rtp_base=rtp_base_for_test(), database_url=url, directory=directory)
    text = text.replace("inactivity_timeout: 30s", f"inactivity_timeout: {inactivity_timeout}")
    path = directory / "voxcenter.yaml"
    path.write_text(text)
    return path, sip_port


async def kill_9_with_bridged_calls(directory: Path, url: str) -> None:
    voice = write_tone_wav(directory / "agent.wav", AGENT_HZ, 60.0)
    plan, sip_port = write_plan(directory, url)
    registrar = f"127.0.0.1:{sip_port}"
    first = ServerProcess(plan, directory / "first.log", node=NODE)
    second = ServerProcess(plan, directory / "second.log", node=NODE)
    loop = asyncio.get_running_loop()
    callers: list[asyncio.Task[object]] = []
    try:
        await first.start()
        async with AsyncExitStack() as phones:
            agents = [await phones.enter_async_context(baresip_agent(directory, extension, registrar, voice))
                      for extension in ("1001", "1002")]
            # Each caller presses 1 at the menu, reaches an agent and would talk for 12 s; its BYE then reaches
            # the restarted server, which knows nothing of the call (481) and SIPp ends.
            callers = [loop.create_task(sipp_caller(directory, registrar, digits="1", talk=12.0, hang_up_after=12.0,
                                                    timeout=30.0, name=f"caller{index}")) for index in range(2)]
            for agent in agents:
                await agent.ctrl.wait_event("CALL_ESTABLISHED", 30)
            await asyncio.sleep(3.0)  # a few seconds of conversation reach the recordings' files
            open_cdrs = await records(url, "select call_id from calls where disposition = 'in_progress'")
            assert len(open_cdrs) == 2, open_cdrs
            await first.kill()
            killed_at = loop.time()
            await second.start()
            started = loop.time()
            await asyncio.gather(*callers, return_exceptions=True)
    finally:
        await first.kill()
        await second.kill()
        for task in callers:
            task.cancel()
    assert started - killed_at < 30
    [closed] = [line for line in second.lines() if line.get("event") == "crash.calls_closed"]
    assert closed["calls"] == 2, closed
    cdrs = await records(url, "select * from calls order by call_id")
    assert len(cdrs) == 2, cdrs
    for cdr in cdrs:
        assert (cdr["disposition"], cdr["hangup_by"], cdr["node"]) == ("answered", "system", NODE), cdr
        assert cdr["hangup_cause"] == CRASH_CAUSE.format(node=NODE)
        assert cdr["agent"] in ("1001", "1002") and cdr["agent_answered_at"] is not None
        assert cdr["ended_at"] == pytest.approx(await last_record_of(url, cdr["call_id"]), abs=2e-3), cdr
        assert cdr["talk_seconds"] == pytest.approx(cdr["ended_at"] - cdr["agent_answered_at"], abs=2e-3)
        legs = await records(url, f"select ended_at from call_legs where call_id = '{cdr['call_id']}'")
        assert legs and all(leg["ended_at"] is not None for leg in legs), legs
    recordings = await records(url, "select * from recordings order by call_id")
    assert [r["call_id"] for r in recordings] == [cdr["call_id"] for cdr in cdrs], recordings
    for recording in recordings:
        assert recording["truncated"] and recording["format"] == "wav", recording
        path = Path(recording["path"])
        assert path.exists() and path.stat().st_size == recording["size_bytes"]
        assert recording["duration_seconds"] > 1.0, recording
        left, right = wav_spectra(path)  # the repaired file is playable: both voices are there
        assert abs(left.dominant - CALLER_HZ) < 15 and abs(right.dominant - AGENT_HZ) < 15, (left, right)
        assert path.with_name(path.name + ".truncated").exists()


async def test_kill_9_then_restart_closes_the_calls_left_open_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    await kill_9_with_bridged_calls(tmp_path, pg_url)


async def test_kill_9_then_restart_closes_the_calls_left_open_on_sqlite(tmp_path: Path) -> None:
    await kill_9_with_bridged_calls(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'voxcenter.db'}")


async def test_a_caller_whose_rtp_stops_is_hung_up_by_the_system(tmp_path: Path, pg_url: str) -> None:
    """SIPp talks 4 s (menu key 1 included) then sends nothing and waits for voxcenter's BYE; the agent talks on."""
    voice = write_tone_wav(tmp_path / "agent.wav", AGENT_HZ, 60.0)
    plan, sip_port = write_plan(tmp_path, pg_url, inactivity_timeout="3s")
    registrar = f"127.0.0.1:{sip_port}"
    async with served(plan, node=NODE), baresip_agent(tmp_path, "1001", registrar, voice) as agent:
        caller = asyncio.get_running_loop().create_task(sipp_caller(tmp_path, registrar, digits="1", talk=4.0))
        await agent.ctrl.wait_event("CALL_ESTABLISHED", 30)
        result = await caller
        assert result.successful == 1, result.describe()  # voxcenter's BYE came and got its 200
        await agent.ctrl.wait_event("CALL_CLOSED", 15)

        await wait_for_async(lambda: call_ended(pg_url), "the CDR's last version")
    [cdr] = await records(pg_url, "select * from calls")
    assert (cdr["disposition"], cdr["hangup_by"], cdr["hangup_cause"]) == ("answered", "system",
                                                                          MEDIA_TIMEOUT_CAUSE), cdr


async def test_a_caller_whose_rtp_stops_while_queued_is_hung_up_by_the_system(tmp_path: Path, pg_url: str) -> None:
    """No agent: the caller waits in the queue, goes silent after 4 s, and voxcenter hangs up at the timeout."""
    plan, sip_port = write_plan(tmp_path, pg_url, inactivity_timeout="3s")
    async with served(plan, node=NODE):
        result = await sipp_caller(tmp_path, f"127.0.0.1:{sip_port}", digits="1", talk=4.0)
        assert result.successful == 1, result.describe()
        await wait_for_async(lambda: call_ended(pg_url), "the CDR's last version")
    [cdr] = await records(pg_url, "select * from calls")
    assert (cdr["queue"], cdr["hangup_by"], cdr["hangup_cause"]) == ("sales", "system", MEDIA_TIMEOUT_CAUSE), cdr


async def call_ended(url: str) -> bool:
    return bool(await records(url, "select 1 from calls where ended_at is not null"))


async def wait_for_async(check: Any, what: str, timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        await asyncio.sleep(0.1)

