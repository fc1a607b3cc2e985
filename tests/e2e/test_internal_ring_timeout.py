"""``internal_calls.ring_timeout``: an agent's call to a colleague who does not answer ends when it says."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.harness import AgentPhone, answer_sdp, records, served, wait_for
from tests.e2e.test_internal_calls import plan_with
from tests.interop.sipp import free_port
from voxcenter.sip.endpoint import RequestFailed

pytestmark = [pytest.mark.interop, pytest.mark.timeout(60)]

RING = 2.0
"""``internal_calls.ring_timeout``, seconds (the default is 30 s)."""


async def test_an_unanswered_internal_call_rings_for_the_dial_plans_ring_timeout(tmp_path: Path) -> None:
    plan = plan_with(tmp_path, f"internal_calls:\n  ring_timeout: {RING:g}s\n")
    async with served(plan) as server:
        address = server.endpoint.address("udp")
        async with AgentPhone("1001", "pw-1001", address, answer=False) as alice, \
                AgentPhone("1002", "pw-1002", address) as bob:
            assert await alice.register() == 200 and await bob.register() == 200
            assert bob.endpoint is not None
            with pytest.raises(RequestFailed) as failed:  # Bob's phone itself would wait a minute
                await bob.endpoint.invite(bob._server_uri("1001"), address, answer_sdp(free_port()),
                                          from_user="1002", credentials=bob.credentials, ring_timeout=60)
            assert failed.value.status == 408  # voxcenter's "No Answer"
            await wait_for(lambda: bool(alice.calls) and alice.calls[0].is_ended, what="Alice's phone stops ringing")
        await wait_for(lambda: not server.calls, what="the call's end")
        await server.writer.flush(5.0)
    [call] = await records(f"sqlite+aiosqlite:///{tmp_path / 'voxcenter.db'}",
                           "select direction, disposition, hangup_cause, arrived_at, ended_at from calls")
    assert (call["direction"], call["disposition"], call["hangup_cause"]) == ("internal", "failed", "408")
    assert RING <= call["ended_at"] - call["arrived_at"] < 30.0  # rung for the dial plan's time, not the default
