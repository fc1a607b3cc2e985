"""Hold inside an agent-first callback: the agent's phone holds the customer (re-INVITE ``sendonly``), voxcenter
answers ``recvonly``, the timeline says HOLD then UNHOLD, and the callback's CDR counts ``hold_seconds``; the
callback is recorded like any other call, and supervisor monitoring finds it while the parties talk."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.e2e.harness import AgentPhone, answer_sdp, query, share_heard, voiced_frames, wait_for
from tests.e2e.queue_peers import calling, queue_server
from tests.interop.sipp import SippServer
from voxcenter.runtime.supervise import MonitorRefused

pytestmark = [pytest.mark.interop, pytest.mark.timeout(90)]

NUMBER = "0612300001"


async def test_the_agent_holds_and_resumes_a_callback_conversation(tmp_path: Path) -> None:
    async with (
        SippServer("uas_answer.xml", tmp_path) as customer,
        queue_server(tmp_path, far_end=customer.address) as server,
    ):
        address = server.endpoint.address("udp")
        async with AgentPhone("1001", "pw-1001", address) as phone:
            assert await phone.register() == 200
            async with calling(server, tmp_path, "305", name="callback", number=NUMBER) as caller:
                offer = voiced_frames("callback-offer")
                await wait_for(lambda: share_heard(caller.media.heard, offer) > 0.3, what="offer heard")
                await caller.media.press("1")
                assert (await caller.finished()).successful == 1
            assert await phone.dial("*45") == 200
            await wait_for(lambda: bool(server.acd.callbacks), what="the customer answered", timeout=20)
            await wait_for(lambda: bool(server.records.talking), what="the conversation")
            # Monitoring finds the callback's conversation (the agent on it; its queue's rule applies).
            [talking] = server.records.talking.values()
            assert [leg.party for leg in talking.call.bridge.legs] == ["1001", NUMBER]
            with pytest.raises(MonitorRefused) as refused:
                server.supervision.find("1002", "1001")
            assert refused.value.status == 403  # found, but this queue names no supervisors
            session = phone.calls[0]
            held = await session.reinvite(answer_sdp(9).replace(b"a=sendrecv", b"a=sendonly"))
            assert held is not None and held.status == 200 and b"a=recvonly" in held.body
            await asyncio.sleep(1.0)
            resumed = await session.reinvite(answer_sdp(9))
            assert resumed is not None and resumed.status == 200 and b"a=sendrecv" in resumed.body
            await session.hangup()
            result = await customer.wait(20)
            assert result.successful == 1, result.describe()
            await wait_for(lambda: not server.acd.callbacks, what="callback over")
            await wait_for(lambda: not server.records.talking, what="the conversation over")
        await server.writer.flush(5.0)
    db = tmp_path / "voxcenter.db"
    [(call_id, hold_seconds, talk_seconds)] = query(
        db, "select call_id, hold_seconds, talk_seconds from calls where to_number=?", NUMBER)
    assert 0.8 < hold_seconds < 5.0 and talk_seconds >= 0.0
    events = [row[0] for row in query(db, "select event from call_events where call_id=? order by at", call_id)]
    assert events.index("CONNECT") < events.index("HOLD") < events.index("UNHOLD")
    assert query(db, "select count(*) from recordings where call_id=?", call_id) == [(1,)]
