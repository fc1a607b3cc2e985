"""Early media on an agent's outside call: the carrier's 183 with SDP is relayed, so the agent hears its
ringback or announcement (here a 1 kHz tone from SIPp's rtp_stream) before the far end answers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.e2e.harness import AgentPhone, query, running_server, wait_for
from tests.e2e.queue_peers import CallerMedia
from tests.e2e.test_hold import agent_sdp
from tests.e2e.test_transfer import heard_share
from tests.interop.sipp import SippServer
from voxcenter.sip.message import Response

pytestmark = [pytest.mark.interop, pytest.mark.timeout(60)]

ANNOUNCEMENT_HZ = 1000.0


async def test_the_agent_hears_the_carriers_early_media_before_the_answer(tmp_path: Path) -> None:
    sox = await asyncio.create_subprocess_exec(
        "sox", "-n", "-r", "8000", "-c", "1", "-e", "u-law", "-b", "8", str(tmp_path / "early.wav"),
        "synth", "8", "sine", str(ANNOUNCEMENT_HZ), "vol", "0.5")  # what SIPp's rtp_stream plays
    assert await sox.wait() == 0
    async with SippServer("uas_early_media.xml", tmp_path, extra=["-mi", "127.0.0.1"]) as carrier:
        trunks = (
            "  carrier:\n    inbound:\n      allow_from: [127.0.0.2/32]\n"
            f"    outbound:\n      proxy: sip:{carrier.address}\n      options_interval: 0s\n"
        )
        routes = ("routes:\n  out:\n    patterns: ['0[0-9]{9}']\n    trunk: carrier\n"
                  "    allow:\n      agents: ['1001']\n")
        async with running_server(tmp_path, trunks=trunks, extra=routes) as server, CallerMedia() as phone_media:
            address = server.endpoint.address("udp")
            async with AgentPhone("1001", "pw-1001", address) as alice:
                assert await alice.register() == 200 and alice.endpoint is not None
                provisional: list[Response] = []
                call = asyncio.get_running_loop().create_task(alice.endpoint.invite(
                    alice._server_uri("0612345678"), address, agent_sdp(phone_media.port, 1, "sendrecv"),
                    from_user="1001", credentials=alice.credentials, ring_timeout=15,
                    on_provisional=provisional.append))
                await wait_for(lambda: any(r.status == 183 and r.body for r in provisional), 10, "183 with SDP")
                await wait_for(lambda: heard_share(phone_media.heard, ANNOUNCEMENT_HZ) > 0.8, 10,
                               "the announcement before the answer")
                assert not call.done(), "answered already: that was not early media"
                session = await asyncio.wait_for(call, 10)
                await asyncio.sleep(0.3)
                await session.hangup()
            result = await carrier.wait()
            assert result.successful == 1, result.describe()
            await wait_for(lambda: not server.endpoint.sessions, what="the call's end")
            await server.writer.flush(5.0)
    events = [row[0] for row in query(tmp_path / "voxcenter.db", "select event from call_events order by at")]
    assert "EARLYMEDIA" in events
