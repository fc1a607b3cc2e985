"""The whole path in one process: caller (SIPp, from the carrier address) → queue → agent phone → CDR."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.e2e.harness import CARRIER_IP, AgentPhone, query, running_server
from tests.interop.sipp import run_sipp

pytestmark = pytest.mark.interop


async def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def test_caller_is_queued_and_bridged_to_a_logged_in_agent(tmp_path: Path) -> None:
    async with running_server(tmp_path) as server:
        address = server.endpoint.address("udp")
        async with AgentPhone("1001", "pw-1001", address) as phone:
            assert await phone.register() == 200
            assert await phone.dial("*45") == 200  # log in
            await wait_for(lambda: server.acd.router.agent_state("1001").value == "ready")
            result = await run_sipp("uac_call.xml", f"{address.host}:{address.port}", tmp_path, service="200",
                                    local_ip=CARRIER_IP, extra=["-d", "1500"])
            assert result.successful == 1, result.describe()
            assert len(phone.calls) == 1
            await wait_for(lambda: not server.calls)
        await server.writer.flush(5.0)
        db = tmp_path / "voxcenter.db"
        [(disposition, queue, agent, wait, talk, hangup_by)] = query(
            db, "select disposition, queue, agent, wait_seconds, talk_seconds, hangup_by from calls")
        assert (disposition, queue, agent, hangup_by) == ("answered", "sales", "1001", "caller")
        assert wait is not None and wait >= 0 and talk is not None and talk > 0
        events = [row[0] for row in query(db, "select event from call_events order by at")]
        assert events.index("ENTERQUEUE") < events.index("CONNECT") < events.index("COMPLETECALLER")
        states = [row[0] for row in query(db, "select state from agent_events where agent='1001' order by at")]
        assert "ready" in states and "on-call" in states
        # No RTP flows in this scenario (the audio check is the real-peer test's): the recording exists.
        [(path, digest)] = query(db, "select path, sha256 from recordings")
        assert Path(str(path)).exists() and len(str(digest)) == 64


async def test_caller_in_queue_times_out_to_the_exit_node(tmp_path: Path) -> None:
    async with running_server(tmp_path) as server:
        address = server.endpoint.address("udp")
        result = await run_sipp("uac_remote_bye.xml", f"{address.host}:{address.port}", tmp_path, service="201",
                                local_ip=CARRIER_IP, timeout=30)
        assert result.successful == 1, result.describe()
        await wait_for(lambda: not server.calls)
        await server.writer.flush(5.0)
        db = tmp_path / "voxcenter.db"
        [(disposition, hangup_by)] = query(db, "select disposition, hangup_by from calls")
        assert disposition == "timeout" and hangup_by == "system"
        events = [row[0] for row in query(db, "select event from call_events order by at")]
        assert "ENTERQUEUE" in events and "EXITWITHTIMEOUT" in events
