"""Attended transfer with SIPp playing the agent's phone: two SIPp processes, the phone's two lines, linked
as a 3PCC twin pair (``agent_transferor.xml`` answers the caller's call and sends the REFER with Replaces,
``agent_consult.xml`` calls the target and tells its twin the consultation's tags). The target is the
harness's softphone speaking 880 Hz; the caller must end up hearing it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.e2e.harness import CALLER_HZ, query, running_server, wait_for
from tests.e2e.queue_peers import CallerMedia, call_of, calling, timeline
from tests.e2e.test_hold import SpeakingAgent
from tests.e2e.test_transfer import TARGET_HZ, heard_share
from tests.interop.sipp import free_port, run_sipp

pytestmark = [pytest.mark.interop, pytest.mark.timeout(90)]


async def test_attended_transfer_from_a_sipp_phone(tmp_path: Path) -> None:
    async with running_server(tmp_path) as server, CallerMedia() as bob_media:
        address = server.endpoint.address("udp")
        target = f"{address.host}:{address.port}"
        bob_media.speak(TARGET_HZ, 60.0)
        bob = SpeakingAgent("1002", "pw-1002", address)
        bob.media = bob_media
        async with bob:
            assert await bob.register() == 200
            phone_port, twin_port = free_port(), free_port()
            registered = await run_sipp("register_auth.xml", target, tmp_path, service="1001",
                                        extra=["-au", "1001", "-ap", "pw-1001", "-p", str(phone_port)])
            assert registered.successful == 1, registered.describe()
            loop = asyncio.get_running_loop()
            consult = loop.create_task(run_sipp(
                "agent_consult.xml", target, tmp_path, timeout=40,
                extra=["-3pcc", f"127.0.0.1:{twin_port}", "-au", "1001", "-ap", "pw-1001",
                       "-auth_uri", f"1002@{target}",  # SIPp puts sip:host:port in the digest uri otherwise
                       "-set", "target", "1002", "-set", "agent", "1001", "-mp", str(free_port() & ~1)]))
            await asyncio.sleep(0.5)  # controller B listens for its twin before A connects
            transferor = loop.create_task(run_sipp(
                "agent_transferor.xml", target, tmp_path, timeout=40,
                extra=["-3pcc", f"127.0.0.1:{twin_port}", "-p", str(phone_port), "-set", "target", "1002",
                       "-mp", str(free_port() & ~1)]))
            async with calling(server, tmp_path, "202", name="sipp-attended", number="0600000009") as caller:
                caller.media.speak(CALLER_HZ, 40.0)
                result = await asyncio.wait_for(transferor, 40)
                assert result.successful == 1, result.describe()
                consulted = await asyncio.wait_for(consult, 20)
                assert consulted.successful == 1, consulted.describe()
                since = len(caller.media.heard)
                await wait_for(lambda: len(caller.media.heard) - since >= 60, what="a second of Bob")
                assert heard_share(caller.media.heard[since + 10:], TARGET_HZ) > 0.8
                await bob.calls[0].hangup()
                assert (await caller.finished()).successful == 1
            await wait_for(lambda: not server.calls and not server.endpoint.sessions, what="calls finished")
        await server.writer.flush(5.0)
    db = tmp_path / "voxcenter.db"
    call_id = call_of(db, "0600000009")
    [data] = [json.loads(str(data)) for event, _, _, _, data in timeline(db, call_id) if event == "ATTENDEDTRANSFER"]
    assert data == {"target": "1002", "kind": "agent"}
    legs = query(db, "select role, peer from call_legs where call_id=? order by started_at", call_id)
    assert legs == [("caller", "0600000009"), ("agent", "1001"), ("agent", "1002")]
