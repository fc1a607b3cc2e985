"""The whole path in one process: caller (SIPp, from the carrier address) → queue → agent phone → CDR."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.e2e.harness import CARRIER_IP, AgentPhone, answer_sdp, query, running_server, wait_for
from tests.interop.sipp import SippServer, free_port, run_sipp

pytestmark = pytest.mark.interop


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
        [(disposition, queue, agent, wait, talk, hangup_by, ewt)] = query(
            db, "select disposition, queue, agent, wait_seconds, talk_seconds, hangup_by, ewt_seconds from calls")
        assert (disposition, queue, agent, hangup_by) == ("answered", "sales", "1001", "caller")
        assert wait is not None and wait >= 0 and talk is not None and talk > 0
        # the estimate at join is kept with the call (an agent was free: no wait), as the ENTERQUEUE event says
        [(entered,)] = query(db, "select value from call_events where event = 'ENTERQUEUE'")
        assert ewt == entered == 0.0
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


async def test_admin_api_serves_the_running_server(tmp_path: Path) -> None:
    import aiohttp

    api_port = free_port()
    async with running_server(tmp_path, api_port=api_port) as server:
        address = server.endpoint.address("udp")
        base = f"http://127.0.0.1:{api_port}"
        headers = {"Authorization": "Bearer test-token"}
        async with AgentPhone("1001", "pw-1001", address) as phone, aiohttp.ClientSession() as http:
            assert await phone.register() == 200
            async with http.get(f"{base}/healthz") as response:
                assert response.status == 200
            async with http.get(f"{base}/api/agents", headers={"Authorization": "Bearer wrong"}) as response:
                assert response.status == 401
            async with http.post(f"{base}/api/agents/1001/login", headers=headers, json={}) as response:
                assert response.status == 200
            assert server.acd.router.agent_state("1001").value == "ready"
            async with http.get(f"{base}/api/agents/1001", headers=headers) as response:
                body = await response.json()
                assert response.status == 200 and body["state"] == "ready"
            async with http.get(f"{base}/metrics", headers=headers) as response:
                exposition = await response.text()
                assert 'voxcenter_agents{state="ready"} 1.0' in exposition
                # The server's own figures are wired in (no call has ended yet).
                assert 'voxcenter_registrations{reachable="true"} ' in exposition
                assert "voxcenter_queue_wait_seconds_count 0.0" in exposition



DIGEST_TRUNKS = """\
  carrier:
    inbound:
      allow_from: [127.0.0.2/32]
  carrier-digest:
    inbound:
      auth: digest
      username: carrier7
      password: trunk-secret
      allow_from: [127.0.0.3/32]
"""


async def test_digest_trunk_calls_are_accepted_and_attributed(tmp_path: Path) -> None:
    async with running_server(tmp_path, trunks=DIGEST_TRUNKS) as server:
        address = server.endpoint.address("udp")
        target = f"{address.host}:{address.port}"
        # SIPp puts sip:host:port in the digest uri unless told the Request-URI (-auth_uri); we check it.
        credentials = ["-au", "carrier7", "-ap", "trunk-secret", "-auth_uri", f"201@{target}"]  # SIPp adds "sip:"
        ok = await run_sipp("uac_call_auth.xml", target, tmp_path, service="201", local_ip="127.0.0.3",
                            extra=credentials, timeout=20)
        assert ok.successful == 1, ok.describe()
        # The right password from an address the trunk does not own is refused (403).
        elsewhere = await run_sipp("uac_call_auth.xml", target, tmp_path, service="201", local_ip="127.0.0.4",
                                   extra=credentials, timeout=10)
        assert elsewhere.failed == 1 and elsewhere.successful == 0
        await wait_for(lambda: not server.calls)
        await server.writer.flush(5.0)
        assert query(tmp_path / "voxcenter.db", "select trunk from calls") == [("carrier-digest",)]


async def test_agent_dials_out_through_an_allowed_route_and_can_hold(tmp_path: Path) -> None:
    async with SippServer("uas_answer.xml", tmp_path) as far_end:
        trunks = (
            "  carrier:\n    inbound:\n      allow_from: [127.0.0.2/32]\n"
            f"    outbound:\n      proxy: sip:{far_end.address}\n      options_interval: 0s\n"
            "      caller_id: '0155501234'\n"
        )
        routes = (
            "routes:\n  out:\n    patterns: ['0[0-9]{9}']\n    trunk: carrier\n"
            "    allow:\n      agents: ['1001']\n"
        )
        async with running_server(tmp_path, trunks=trunks, extra=routes) as server:
            address = server.endpoint.address("udp")
            async with AgentPhone("1001", "pw-1001", address) as alice, AgentPhone("1002", "pw-1002",
                                                                                   address) as bob:
                assert await alice.register() == 200 and await bob.register() == 200
                # Bob is in no route's allow list: toll fraud stops at the dial plan.
                assert await bob.dial("0612345678") == 403
                assert alice.endpoint is not None
                session = await alice.endpoint.invite(
                    alice._server_uri("0612345678"), address, answer_sdp(9), from_user="1001",
                    credentials=alice.credentials, ring_timeout=10,
                )
                # Hold: the phone re-offers sendonly; voxcenter answers recvonly and keeps the call.
                held = answer_sdp(9).replace(b"a=sendrecv", b"a=sendonly")
                response = await session.reinvite(held)
                assert response is not None and response.status == 200 and b"a=recvonly" in response.body
                await asyncio.sleep(0.2)
                await session.hangup()
            result = await far_end.wait()
            assert result.successful == 1, result.describe()
            await server.writer.flush(5.0)
    rows = query(tmp_path / "voxcenter.db",
                 "select direction, from_number, to_number, trunk, disposition, hangup_by from calls")
    assert ("outbound", "1001", "0612345678", "carrier", "answered", "agent") in rows


async def test_ivr_transfer_rings_the_agent_and_bridges(tmp_path: Path) -> None:
    async with running_server(tmp_path) as server:
        address = server.endpoint.address("udp")
        async with AgentPhone("1001", "pw-1001", address) as alice:
            assert await alice.register() == 200
            result = await run_sipp("uac_call.xml", f"{address.host}:{address.port}", tmp_path, service="202",
                                    local_ip=CARRIER_IP, extra=["-d", "1000"])
            assert result.successful == 1, result.describe()
            assert len(alice.calls) == 1  # rung directly: a transfer needs no queue login
            await wait_for(lambda: not server.calls)
        await server.writer.flush(5.0)
        db = tmp_path / "voxcenter.db"
        [(disposition, agent, hangup_by)] = query(db, "select disposition, agent, hangup_by from calls")
        assert (disposition, agent, hangup_by) == ("answered", "1001", "caller")
        assert "TRANSFER" in [row[0] for row in query(db, "select event from call_events")]


async def test_ivr_transfer_to_an_unregistered_agent_takes_the_failure_branch(tmp_path: Path) -> None:
    async with running_server(tmp_path) as server:
        address = server.endpoint.address("udp")
        result = await run_sipp("uac_remote_bye.xml", f"{address.host}:{address.port}", tmp_path, service="202",
                                local_ip=CARRIER_IP, timeout=20)
        assert result.successful == 1, result.describe()  # the goodbye node hangs up
        await wait_for(lambda: not server.calls)
        await server.writer.flush(5.0)
        events = [row[0] for row in query(tmp_path / "voxcenter.db", "select event from call_events order by at")]
        assert "TRANSFERFAILED" in events
