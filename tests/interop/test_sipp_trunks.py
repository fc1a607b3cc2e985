"""Trunks against SIPp playing the carrier: outbound registration with digest, outbound calls."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.interop.apps import answer_and_wait, running_endpoint
from tests.interop.sipp import SippServer
from voxcenter.sip.trunks import RegistrationState, Trunk, TrunkState, trunk_settings_from_uri

pytestmark = pytest.mark.interop


async def test_trunk_registers_with_digest(tmp_path: Path) -> None:
    keys = {"user": "vox", "pass": "carrier-secret", "expires": "120"}
    async with running_endpoint(answer_and_wait) as endpoint, SippServer("uas_registrar.xml", tmp_path,
                                                                         keys=keys) as carrier:
        trunk = Trunk(trunk_settings_from_uri("carrier", f"sip:{carrier.address}", username="vox",
                                              password="carrier-secret", register=True, options_interval=0),
                      endpoint)
        status = await trunk.register_once()
        assert status == 200
        assert trunk.status.registration is RegistrationState.REGISTERED
        remaining = (trunk.status.registered_until or 0) - asyncio.get_running_loop().time()
        assert 110 < remaining <= 120  # the carrier granted 120 s
        result = await carrier.wait()
        assert result.successful == 1, result.describe()


async def test_trunk_with_wrong_password_fails_and_keeps_trying(tmp_path: Path) -> None:
    keys = {"user": "vox", "pass": "carrier-secret", "expires": "120"}
    async with running_endpoint(answer_and_wait) as endpoint, SippServer("uas_registrar.xml", tmp_path, calls=3,
                                                                         keys=keys, extra=["-deadcall_wait", "1"]
                                                                         ) as carrier:
        trunk = Trunk(trunk_settings_from_uri("carrier", f"sip:{carrier.address}", username="vox",
                                              password="wrong", register=True, options_interval=0,
                                              backoff_base=0.1, backoff_cap=0.2), endpoint)
        trunk.start()
        try:
            for _ in range(100):
                if len(trunk.status.history) >= 3:
                    break
                await asyncio.sleep(0.1)
        finally:
            await trunk.stop()
        # 403 each time (one digest answer per challenge, never a loop), and it never gave up. The
        # same Call-ID is kept across attempts (RFC 3261 §10.2); -deadcall_wait lets SIPp take it again.
        assert trunk.status.attempts >= 3
        assert trunk.status.history[:3] == [403, 403, 403]
        assert trunk.status.registration is RegistrationState.FAILED


async def test_outbound_call_through_trunk(tmp_path: Path) -> None:
    async with running_endpoint(answer_and_wait) as endpoint, SippServer("uas_answer.xml", tmp_path) as far_end:
        trunk = Trunk(trunk_settings_from_uri("carrier", f"sip:{far_end.address}", options_interval=0), endpoint)
        offer = (
            b"v=0\r\no=vox 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            b"m=audio 40002 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
        )
        session = await trunk.invite("0123456789", offer, ring_timeout=5)
        assert session.answered and session.remote_sdp and b"m=audio" in session.remote_sdp
        await asyncio.sleep(0.2)
        await session.hangup()
        result = await far_end.wait()
        assert result.successful == 1, result.describe()


async def test_trunk_answering_options_is_up(tmp_path: Path) -> None:
    # SIPp's built-in UAS answers OPTIONS with 200 when started with -aa.
    async with running_endpoint(answer_and_wait) as endpoint, SippServer("uas", tmp_path, extra=["-aa"]) as peer:
        trunk = Trunk(trunk_settings_from_uri("carrier", f"sip:{peer.address}", options_interval=0), endpoint)
        assert await trunk.ping() is TrunkState.UP


async def test_dead_trunk_is_marked_down(tmp_path: Path) -> None:
    async with running_endpoint(answer_and_wait) as endpoint:
        # Nothing listens there: ICMP unreachable or silence; either way the ping times out.
        trunk = Trunk(trunk_settings_from_uri("carrier", "sip:127.0.0.1:9", options_interval=0, options_timeout=0.5),
                      endpoint)
        assert await trunk.ping() is TrunkState.DOWN
