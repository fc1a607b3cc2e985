"""Encrypted media with real peers: an agent's baresip on SIP over TLS with SDES-SRTP (its ``srtp`` module,
``mediaenc=srtp-mand``) takes a queue call from a SIPp caller on the plain G.711 trunk.

The caller's side is plain RTP, byte for byte what the test socket hears; the agent's side is SRTP, which
baresip refuses to do without (it never falls back to plain RTP); both tones are in the stereo recording.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.e2e.harness import AGENT_HZ, CALLER_HZ, feature_code, query, rtp_base_for_test, served, wait_for
from tests.e2e.queue_peers import call_of, calling, queue_dial_plan
from tests.interop.audio import spectrum, wav_spectra, write_tone_wav
from tests.interop.baresip import Account, Baresip
from tests.interop.certificates import certificate
from tests.interop.sipp import free_port
from voxcenter.media.codecs import PCMU

pytestmark = [pytest.mark.interop, pytest.mark.timeout(90)]


def secure_plan(tmp: Path, extra_listen: str) -> Path:
    """The queue suite's plan with more listeners (TLS with a fresh certificate, WebSocket ...)."""
    sip_port = free_port()
    plan = queue_dial_plan(tmp, sip_port=sip_port, rtp_base=rtp_base_for_test())
    udp = f"    - {{transport: udp, address: 127.0.0.1, port: {sip_port}}}\n"
    text = plan.read_text()
    assert udp in text
    plan.write_text(text.replace(udp, udp + extra_listen))
    return plan


async def test_an_srtp_phone_on_tls_takes_a_queue_call_from_a_plain_trunk(tmp_path: Path) -> None:
    cert, key = certificate(tmp_path)
    tls_port = free_port()
    plan = secure_plan(tmp_path, f"    - {{transport: tls, address: 127.0.0.1, port: {tls_port}, "
                                 f"cert: {cert}, key: {key}}}\n")
    voice = write_tone_wav(tmp_path / "agent.wav", AGENT_HZ, 60.0)
    async with served(plan) as server:
        registrar = f"127.0.0.1:{tls_port}"
        account = Account("1001", registrar, "pw-1001", transport="tls", mediaenc="srtp-mand")
        async with Baresip(tmp_path, "alice", account, voice, cafile=cert) as alice:
            await alice.registered()
            [binding] = server.endpoint.registrar.lookup("1001")
            assert binding.source.transport == "tls"
            # The login feature code is a call too: baresip offers RTP/SAVP with its key, voxcenter answers it.
            await feature_code(alice, "*45", f"{registrar};transport=tls")
            await wait_for(lambda: server.acd.router.agent_state("1001").value == "ready", what="1001 ready")
            async with calling(server, tmp_path, "300", name="caller", number="0100000001") as caller:
                await alice.ctrl.wait_event("CALL_ESTABLISHED", 15)
                caller.media.speak(CALLER_HZ, 30.0)
                await asyncio.sleep(3.0)
                await alice.hang_up()
                assert (await caller.finished()).successful == 1
            await wait_for(lambda: not server.calls, what="calls finished")
        await server.writer.flush(5.0)
    # Both calls (the login feature code, the queue call) were SRTP: srtp-mand takes nothing else.
    assert alice.log().count("SRTP is Enabled (cryptosuite=AES_CM_128_HMAC_SHA1_80)") == 2, alice.log()
    # The agent heard the caller through SRTP (its decoded audio), the caller heard the agent in plain G.711.
    heard_by_agent = wav_spectra(alice.recording("dec"))[0]
    assert abs(heard_by_agent.dominant - CALLER_HZ) <= 15, heard_by_agent
    assert abs(spectrum(PCMU.decode(b"".join(caller.media.heard)), 8000).dominant - AGENT_HZ) <= 15
    db = tmp_path / "voxcenter.db"
    call_id = call_of(db, "0100000001")
    [(disposition, agent)] = query(db, "select disposition, agent from calls where call_id=?", call_id)
    assert (disposition, agent) == ("answered", "1001")
    [(recording,)] = query(db, "select path from recordings where call_id=?", call_id)
    left, right = wav_spectra(Path(str(recording)))
    assert abs(left.dominant - CALLER_HZ) <= 15 and abs(right.dominant - AGENT_HZ) <= 15, (left, right)
