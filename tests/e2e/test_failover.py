"""Trunk failover: a route lists trunks in order, and a call passes to the next when one is down or refuses.

Three carriers: one where nothing listens (its OPTIONS pings go unanswered, so it is marked down and never
tried), a SIPp carrier that answers 503, and a SIPp carrier that answers. An agent's outside call reaches
the third; the CDR names the trunk that carried it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.e2e.harness import AgentPhone, answer_sdp, query, running_server, wait_for
from tests.interop.sipp import SippServer, free_port
from voxcenter.sip.trunks import TrunkState

pytestmark = [pytest.mark.interop, pytest.mark.timeout(60)]


async def test_a_call_passes_over_a_dead_trunk_and_a_503_to_the_next(tmp_path: Path) -> None:
    dead = f"127.0.0.1:{free_port()}"
    async with SippServer("uas_unavailable.xml", tmp_path) as refusing, SippServer("uas_answer.xml",
                                                                                  tmp_path) as answering:
        trunks = (
            "  carrier:\n    inbound:\n      allow_from: [127.0.0.2/32]\n"
            f"  dead:\n    outbound:\n      proxy: sip:{dead}\n      options_interval: 1s\n"
            f"  refusing:\n    outbound:\n      proxy: sip:{refusing.address}\n      options_interval: 0s\n"
            f"  answering:\n    outbound:\n      proxy: sip:{answering.address}\n      options_interval: 0s\n"
        )
        routes = (
            "routes:\n  out:\n    patterns: ['0[0-9]{9}']\n    trunk: dead\n    failover: [refusing, answering]\n"
            "    allow:\n      agents: ['1001']\n"
        )
        async with running_server(tmp_path, trunks=trunks, extra=routes) as server:
            await wait_for(lambda: server.trunks["dead"].status.health is TrunkState.DOWN, 15, "dead trunk down")
            address = server.endpoint.address("udp")
            async with AgentPhone("1001", "pw-1001", address) as alice:
                assert await alice.register() == 200
                assert alice.endpoint is not None
                session = await alice.endpoint.invite(
                    alice._server_uri("0612345678"), address, answer_sdp(9), from_user="1001",
                    credentials=alice.credentials, ring_timeout=15)
                await asyncio.sleep(0.3)
                await session.hangup()
            assert (await refusing.wait()).successful == 1  # it was asked, and said 503
            result = await answering.wait()
            assert result.successful == 1, result.describe()
            await wait_for(lambda: not server.endpoint.sessions, what="the call's end")
            await server.writer.flush(5.0)
    [(trunk, disposition, direction)] = query(tmp_path / "voxcenter.db",
                                              "select trunk, disposition, direction from calls")
    assert (trunk, disposition, direction) == ("answering", "answered", "outbound")


async def test_a_callee_that_rang_and_did_not_answer_is_not_called_again_through_the_next_trunk(
        tmp_path: Path) -> None:
    async with SippServer("uas_rang_no_answer.xml", tmp_path) as rang, SippServer("uas_answer.xml",
                                                                                 tmp_path) as spare:
        trunks = (
            "  carrier:\n    inbound:\n      allow_from: [127.0.0.2/32]\n"
            f"  first:\n    outbound:\n      proxy: sip:{rang.address}\n      options_interval: 0s\n"
            f"  spare:\n    outbound:\n      proxy: sip:{spare.address}\n      options_interval: 0s\n"
        )
        routes = ("routes:\n  out:\n    patterns: ['0[0-9]{9}']\n    trunk: first\n    failover: [spare]\n"
                  "    allow:\n      agents: ['1001']\n")
        async with running_server(tmp_path, trunks=trunks, extra=routes) as server:
            address = server.endpoint.address("udp")
            async with AgentPhone("1001", "pw-1001", address) as alice:
                assert await alice.register() == 200
                # The callee's answer reaches the agent; had the spare been tried, it would have answered (200).
                assert await alice.dial("0612345678") == 408
            assert (await rang.wait()).successful == 1
            await server.writer.flush(5.0)
    [(trunk, disposition)] = query(tmp_path / "voxcenter.db", "select trunk, disposition from calls")
    assert (trunk, disposition) == ("first", "failed")
