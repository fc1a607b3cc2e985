"""Agent-first callbacks that do not reach the customer: each attempt rings for the queue's ring time, the
next one follows after its retry delay, and the callback is given up after its attempts (all from the dial plan).

The customer's phone behind the carrier is SIPp ringing and never answering (``uas_ringing.xml``: 180, then
CANCEL/487); the agent is the harness's softphone, which answers each callback ring. The ``callbacks`` queue
says ``callback: {attempts: 2, retry_delay: 1s, ring_time: 2s}``. What is checked is what the peers saw and
what the store holds: the CallbackRecord ends ``failed`` after two attempts, each attempt left its own
outbound CDR that rang for about two seconds, the attempts were at least the retry delay apart, and the
agent is free again.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.harness import AgentPhone, query, share_heard, voiced_frames, wait_for
from tests.e2e.queue_peers import calling, queue_server
from tests.interop.sipp import SippServer
from voxcenter.store.types import from_iso_text

pytestmark = [pytest.mark.interop, pytest.mark.timeout(90)]

NUMBER = "0612300000"
SETTINGS = "{enabled: true, offer_after: 1s, key: '1', attempts: 2, retry_delay: 1s, ring_time: 2s}"


async def test_unanswered_callback_rings_its_ring_time_is_retried_then_recorded_as_failed(tmp_path: Path) -> None:
    async with (
        SippServer("uas_ringing.xml", tmp_path, calls=2) as far_end,
        queue_server(tmp_path, far_end=far_end.address, callback=SETTINGS) as server,
    ):
        address = server.endpoint.address("udp")
        async with AgentPhone("1001", "pw-1001", address) as phone:
            assert await phone.register() == 200  # registered, not logged in: the caller waits
            async with calling(server, tmp_path, "305", name="callback", number=NUMBER) as caller:
                offer = voiced_frames("callback-offer")
                await wait_for(lambda: share_heard(caller.media.heard, offer) > 0.3, what="offer heard")
                await caller.media.press("1")
                assert (await caller.finished()).successful == 1
            assert phone.calls == []
            assert await phone.dial("*45") == 200  # the agent is free: called first, then the customer (rings)
            await wait_for(lambda: len(phone.calls) == 2 and all(call.is_ended for call in phone.calls),
                           what="two callback attempts", timeout=40)
            await wait_for(lambda: not server.acd.callback_records, what="callback settled")
            result = await far_end.wait(30)
            assert result.successful == 2, result.describe()
            await wait_for(lambda: server.acd.router.agent_state("1001").value == "ready", what="agent free")
            assert len(phone.calls) == 2  # no third attempt
        await server.writer.flush(5.0)
    db = tmp_path / "voxcenter.db"
    [(callback_status, attempts, completed_at, result_call_id)] = query(
        db, "select status, attempts, completed_at, result_call_id from callbacks where number=?", NUMBER)
    assert (callback_status, attempts, completed_at, result_call_id) == ("failed", 2, None, None)
    outbound = query(db, "select direction, agent, disposition, arrived_at, ended_at from calls "
                         "where to_number=? order by arrived_at", NUMBER)
    assert len(outbound) == 2
    assert all(row[:3] == ("outbound", "1001", "failed") for row in outbound), outbound
    times = [(from_iso_text(row[3]), from_iso_text(row[4])) for row in outbound]
    rang = [ended - arrived for arrived, ended in times]
    assert all(1.8 <= seconds <= 3.5 for seconds in rang), rang  # ring_time 2s, not the 30 s default
    gap = times[1][0] - times[0][1]
    assert gap >= 0.9, gap  # retry_delay 1s (then the agent is rung again before the customer)
