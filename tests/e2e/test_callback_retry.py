"""Agent-first callbacks that do not reach the customer: retried after the delay, then given up.

The customer's phone behind the carrier is SIPp answering every INVITE with 486 Busy Here
(``uas_busy.xml``); the agent is the harness's softphone, which answers each callback ring. The queue's
callback policy is shortened through the router's public ``reconfigure`` (retry after 1 s, 2 attempts).
What is checked is what the peers saw and what the store holds: the CallbackRecord ends ``failed`` after
two attempts, each attempt left its own outbound CDR, and the agent is free again.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tests.e2e.harness import AgentPhone, query, share_heard, voiced_frames, wait_for
from tests.e2e.queue_peers import calling, queue_server
from tests.interop.sipp import SippServer
from voxcenter.runtime.mapping import agent_profiles, queue_policies
from voxcenter.runtime.server import Server

pytestmark = [pytest.mark.interop, pytest.mark.timeout(90)]

NUMBER = "0612300000"


def shorten_callback_policy(server: Server, *, retry_delay: float, max_attempts: int) -> None:
    policies = [replace(policy, callback_retry_delay=retry_delay, callback_max_attempts=max_attempts)
                for policy in queue_policies(server.config)]
    server.acd.router.reconfigure(policies, agent_profiles(server.config), server.acd.now())


async def test_unanswered_callback_is_retried_then_recorded_as_failed(tmp_path: Path) -> None:
    async with (
        SippServer("uas_busy.xml", tmp_path, calls=2) as far_end,
        queue_server(tmp_path, far_end=far_end.address) as server,
    ):
        shorten_callback_policy(server, retry_delay=1.0, max_attempts=2)
        address = server.endpoint.address("udp")
        async with AgentPhone("1001", "pw-1001", address) as phone:
            assert await phone.register() == 200  # registered, not logged in: the caller waits
            async with calling(server, tmp_path, "305", name="callback", number=NUMBER) as caller:
                offer = voiced_frames("callback-offer")
                await wait_for(lambda: share_heard(caller.media.heard, offer) > 0.3, what="offer heard")
                await caller.media.press("1")
                assert (await caller.finished()).successful == 1
            assert phone.calls == []
            assert await phone.dial("*45") == 200  # the agent is free: called first, then the customer (busy)
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
    outbound = query(db, "select direction, agent, disposition, hangup_cause from calls where to_number=?", NUMBER)
    assert len(outbound) == 2
    assert all(row[:3] == ("outbound", "1001", "failed") and "486" in str(row[3]) for row in outbound), outbound
