"""A wall-clock jump during a call, forward an hour then back two: timers keep time and the CDR stays right.

The server runs in this process with ``time.time`` patched to the real time plus an offset the test moves
(what a step of the system clock does; the event loop's timers run on the monotonic clock and do not see it).
A SIPp caller reaches a baresip agent and talks 9 s; the clock jumps +1 h once the agent answers and -2 h two
seconds later. The call must end when the caller hangs up, with its CDR's times on one consistent clock: the
duration between arrival and end is the real one, the talk time runs from the agent's answer to the end, and
every timeline event lies between them, in order.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.e2e.harness import AGENT_HZ, records, served
from tests.e2e.whole_call_peers import baresip_agent, sipp_caller, write_plan
from tests.interop.audio import write_tone_wav

pytestmark = [pytest.mark.interop, pytest.mark.fault, pytest.mark.timeout(90)]

HOUR = 3600.0


async def test_a_wall_clock_jump_changes_no_duration_and_no_order(tmp_path: Path, pg_url: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    real_time = time.time
    offset = 0.0
    monkeypatch.setattr(time, "time", lambda: real_time() + offset)
    voice = write_tone_wav(tmp_path / "agent.wav", AGENT_HZ, 60.0)
    plan, sip_port = write_plan(tmp_path, pg_url)
    registrar = f"127.0.0.1:{sip_port}"
    async with served(plan, node="clock-test") as server, baresip_agent(tmp_path, "1001", registrar, voice) as agent:
        began = time.monotonic()
        caller = asyncio.get_running_loop().create_task(
            sipp_caller(tmp_path, registrar, digits="1", talk=9.0, hang_up_after=9.0))
        await agent.ctrl.wait_event("CALL_ESTABLISHED", 30)
        offset = HOUR
        await asyncio.sleep(2.0)
        offset = -HOUR
        result = await caller
        ended = time.monotonic()
        assert result.successful == 1, result.describe()  # the caller's own BYE ended the call, not a timer
        assert await server.writer.flush(10)
    elapsed = ended - began
    [cdr] = await records(pg_url, "select * from calls")
    assert (cdr["disposition"], cdr["hangup_by"], cdr["agent"]) == ("answered", "caller", "1001"), dict(cdr)
    duration = cdr["ended_at"] - cdr["arrived_at"]
    assert elapsed - 2.0 < duration <= elapsed, (duration, elapsed)  # SIPp's start-up is the only difference
    assert cdr["talk_seconds"] == pytest.approx(cdr["ended_at"] - cdr["agent_answered_at"], abs=0.5), dict(cdr)
    assert abs(cdr["arrived_at"] - real_time()) < 60  # the call's clock is the wall clock at its arrival
    events = await records(pg_url, f"select event, at from call_events where call_id = '{cdr['call_id']}'")
    names = [row["event"] for row in sorted(events, key=lambda row: row["at"])]
    assert names.index("CONNECT") < names.index("COMPLETECALLER"), names
    assert all(cdr["arrived_at"] <= row["at"] <= cdr["ended_at"] + 0.001 for row in events), [dict(r) for r in events]
    legs = await records(pg_url, f"select started_at, ended_at from call_legs where call_id = '{cdr['call_id']}'")
    assert legs and all(cdr["arrived_at"] <= leg["started_at"] <= leg["ended_at"] <= cdr["ended_at"] + 0.001
                        for leg in legs), [dict(leg) for leg in legs]
