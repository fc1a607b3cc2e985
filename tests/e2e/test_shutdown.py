"""SIGTERM drains ``voxcenter run``: new calls get 503, calls in progress go on, records and recordings are kept.

The server runs as its own process (the command line operators use), recording into PostgreSQL; the agent is
baresip and the callers are SIPp on the carrier address, plus one late INVITE sent by voxcenter's own SIP
endpoint from the carrier address while the server drains.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from tests.e2e.harness import AGENT_HZ, CALLER_HZ, CARRIER_IP, ServerProcess
from tests.e2e.whole_call_peers import baresip_agent, events_of, fetch, sipp_caller, write_plan
from tests.interop.audio import wav_spectra, write_tone_wav
from voxcenter.sip.endpoint import EndpointSettings, Listener, RequestFailed, SipEndpoint
from voxcenter.sip.session import SipSession
from voxcenter.sip.transport import Address
from voxcenter.sip.uri import SipUri

pytestmark = pytest.mark.interop

OFFER = (b"v=0\r\no=late 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\n"
         b"m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")


@asynccontextmanager
async def server_process(directory: Path, url: str, drain: float) -> AsyncIterator[tuple[ServerProcess, int]]:
    config, sip_port = write_plan(directory, url)
    server = ServerProcess(config, directory / "server.log", drain=drain, node="drain-test")
    try:
        await server.start()
        yield server, sip_port
    finally:
        await server.kill()


async def late_invite(sip_port: int) -> tuple[int, int]:
    """An OPTIONS (as a proxy pings its nodes), then an INVITE from the carrier address; the status each got."""
    endpoint = SipEndpoint(EndpointSettings(listeners=[Listener("udp", CARRIER_IP, 0)], realm="carrier"),
                           credentials=lambda *_: None, application=_refuse)
    await endpoint.start()
    target = SipUri("sip", None, None, "127.0.0.1", sip_port)
    try:
        ping = (await endpoint.request("OPTIONS", target, Address("udp", "127.0.0.1", sip_port))).status
        await endpoint.invite(SipUri("sip", "100", None, "127.0.0.1", sip_port),
                              Address("udp", "127.0.0.1", sip_port), OFFER, from_user="+33140009999",
                              ring_timeout=10)
    except RequestFailed as failure:
        return ping, failure.status
    finally:
        await endpoint.stop()
    return ping, 200


async def _refuse(session: SipSession) -> None:
    session.reject(403, "Not Here")


async def test_sigterm_refuses_new_calls_and_lets_the_live_call_finish(tmp_path: Path, pg_url: str) -> None:
    agent_voice = write_tone_wav(tmp_path / "agent.wav", AGENT_HZ, 60.0)
    async with server_process(tmp_path, pg_url, drain=30.0) as (server, sip_port):
        registrar = f"127.0.0.1:{sip_port}"
        async with baresip_agent(tmp_path, "1001", registrar, agent_voice) as agent:
            call = asyncio.get_running_loop().create_task(
                sipp_caller(tmp_path, registrar, digits="1", talk=11.0, hang_up_after=10.0))
            await agent.ctrl.wait_event("CALL_ESTABLISHED", 20)
            server.terminate()
            await server.logged("voxcenter.stopping", 10)
            assert await late_invite(sip_port) == (503, 503)  # a proxy takes the node out, and fails over
            assert server.process is not None and server.process.returncode is None  # still serving the call
            result = await call
            assert result.successful == 1, result.describe()  # the caller's BYE got its 200: not cut off
            assert await server.exit_status(30) == 0, server.log()[-4000:]
    log = server.log()
    assert '"event": "voxcenter.stopped"' in log and "drain_deadline" not in log
    [cdr] = await fetch(pg_url, "select * from calls")
    assert (cdr["disposition"], cdr["agent"], cdr["hangup_by"], cdr["node"]) == ("answered", "1001", "caller",
                                                                                "drain-test"), dict(cdr)
    assert cdr["talk_seconds"] > 3.0 and cdr["ended_at"] is not None
    events = await events_of(pg_url, cdr["call_id"])
    assert events.index("CONNECT") < events.index("COMPLETECALLER"), events
    [recording] = await fetch(pg_url, "select * from recordings")
    assert recording["call_id"] == cdr["call_id"] and not recording["truncated"]
    left, right = wav_spectra(Path(recording["path"]))
    assert abs(left.dominant - CALLER_HZ) < 15 and abs(right.dominant - AGENT_HZ) < 15, (left, right)


async def test_calls_still_up_at_the_drain_deadline_are_ended_and_recorded(tmp_path: Path, pg_url: str) -> None:
    agent_voice = write_tone_wav(tmp_path / "agent.wav", AGENT_HZ, 60.0)
    async with server_process(tmp_path, pg_url, drain=3.0) as (server, sip_port):
        registrar = f"127.0.0.1:{sip_port}"
        async with baresip_agent(tmp_path, "1001", registrar, agent_voice) as agent:
            # The caller would talk for 40 s; the drain deadline (3 s) ends the call first, with a BYE.
            call = asyncio.get_running_loop().create_task(
                sipp_caller(tmp_path, registrar, digits="1", talk=40.0, timeout=50.0))
            await agent.ctrl.wait_event("CALL_ESTABLISHED", 20)
            await asyncio.sleep(1.0)
            server.terminate()
            assert await server.exit_status(40) == 0, server.log()[-4000:]
            result = await call
            assert result.successful == 1, result.describe()  # the caller got voxcenter's BYE
            await agent.ctrl.wait_event("CALL_CLOSED", 10)
    assert "drain_deadline" in server.log()
    [cdr] = await fetch(pg_url, "select * from calls")
    assert (cdr["disposition"], cdr["agent"], cdr["hangup_by"]) == ("answered", "1001", "system"), dict(cdr)
    assert cdr["ended_at"] is not None and cdr["talk_seconds"] > 1.0
    [recording] = await fetch(pg_url, "select * from recordings")
    assert recording["call_id"] == cdr["call_id"] and Path(recording["path"]).exists()
    assert recording["duration_seconds"] > 1.0


async def test_sigterm_while_the_server_starts_stops_it_once_started(tmp_path: Path, pg_url: str) -> None:
    """A SIGTERM that arrives while ``voxcenter run`` is still starting (its SIP socket open, its start not yet
    finished) is not the default kill: the server finishes starting, then stops cleanly (exit 0)."""
    config, _ = write_plan(tmp_path, pg_url)
    server = ServerProcess(config, tmp_path / "server.log", node="early-stop")
    with (tmp_path / "server.log").open("wb") as log:
        server.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "voxcenter.cli", "run", "--config", str(config), "--log-json", "--drain", "0s",
            "--node", "early-stop", stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=asyncio.subprocess.STDOUT)
    try:
        await server.logged("sip.listening", 30)  # half-way through the start
        server.terminate()
        assert await server.exit_status(30) == 0, server.log()[-3000:]
        events = [line.get("event") for line in server.lines()]
        assert events.index("voxcenter.started") < events.index("voxcenter.stopping") < \
            events.index("voxcenter.stopped")
    finally:
        await server.kill()
