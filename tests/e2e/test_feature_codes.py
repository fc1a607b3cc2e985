"""Agents' feature codes from real phones: pause reasons, echo test, own voicemail, 404 and 403.

baresip is the agent's phone for what is heard (``*43`` echoes its microphone back; ``*98`` plays the
mailbox and takes keys as RFC 4733 events); the status codes of refused codes are read with the
harness's phone (voxcenter's own SIP endpoint over UDP), which reports the final status exactly.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.e2e.harness import AGENT_HZ, AgentPhone, query, running_server, wait_for
from tests.interop.audio import wav_spectra, write_tone_wav
from tests.interop.baresip import Account, Baresip
from voxcenter.runtime.server import Server
from voxcenter.store.records import VoicemailRecord, new_id

pytestmark = [pytest.mark.interop, pytest.mark.timeout(120)]

REASONS = "feature_codes:\n  pause_reasons: {'1': lunch, '2': training}\n"
MESSAGE_HZ = 500.0


def reason_shown(server: Server, agent_id: str) -> str:
    """The pause reason as the admin API shows it."""
    [agent] = [a for a in server.acd.ledger.snapshots(server.acd.router) if a.agent_id == agent_id]
    return agent.reason


async def test_pause_reasons_unknown_code_and_codes_not_allowed_now(tmp_path: Path) -> None:
    async with running_server(tmp_path, extra=REASONS) as server:
        async with AgentPhone("1001", "pw-1001", server.endpoint.address("udp")) as phone:
            assert await phone.register() == 200
            assert await phone.dial("*47") == 403  # logged out: pausing is not allowed now
            assert await phone.dial("*45") == 200
            assert await phone.dial("*471") == 200
            assert (server.acd.router.agent_state("1001").value, reason_shown(server, "1001")) == ("paused", "lunch")
            assert await phone.dial("*472") == 200  # paused already: the reason changes
            assert reason_shown(server, "1001") == "training"
            assert await phone.dial("*479") == 404  # no reason 9 in the dial plan
            assert await phone.dial("*99") == 404  # no such code
            assert await phone.dial("*47") == 200  # resume
            assert server.acd.router.agent_state("1001").value == "ready"
            assert await phone.dial("*46") == 200
            assert await phone.dial("*48") == 403  # not in wrap-up, not even logged in
        await server.writer.flush(5.0)
    reasons = [r for (r,) in query(tmp_path / "voxcenter.db",
                                   "select reason from agent_events where state='paused' order by at, rowid")]
    assert reasons == ["lunch", "training"]


async def test_echo_test_sends_the_phone_its_own_voice(tmp_path: Path) -> None:
    voice = write_tone_wav(tmp_path / "voice.wav", AGENT_HZ, 30.0)
    async with running_server(tmp_path) as server:
        address = server.endpoint.address("udp")
        registrar = f"{address.host}:{address.port}"
        async with Baresip(tmp_path, "echo", Account("1001", registrar, "pw-1001"), voice) as phone:
            await phone.registered()
            await phone.dial(f"sip:*43@{registrar}", timeout=15)  # answered: no login needed
            await asyncio.sleep(3.0)
            await phone.hang_up()
            heard = phone.recording("dec")
    [left, *_] = wav_spectra(heard, skip=0.5)
    assert abs(left.dominant - AGENT_HZ) < 15 and left.rms > 300, left


async def test_own_voicemail_plays_messages_and_deletes_by_key(tmp_path: Path) -> None:
    silence = write_tone_wav(tmp_path / "silence.wav", 0.0, 30.0, amplitude=0.0)
    async with running_server(tmp_path) as server:
        messages = []
        for index in range(2):
            path = write_tone_wav(tmp_path / f"message-{index}.wav", MESSAGE_HZ, 1.5, rate=8000)
            message = VoicemailRecord(voicemail_id=new_id(), call_id=new_id(), mailbox="1001",
                                      at=time.time() + index, path=str(path), duration_seconds=1.5)
            server.writer.submit(message)
            messages.append(message)
        server.writer.submit(VoicemailRecord(voicemail_id=new_id(), call_id=new_id(), mailbox="1002",
                                             at=time.time(), path=str(path), duration_seconds=1.5))
        assert await server.writer.flush(5.0)
        address = server.endpoint.address("udp")
        registrar = f"{address.host}:{address.port}"
        async with Baresip(tmp_path, "mailbox", Account("1001", registrar, "pw-1001"), silence) as phone:
            await phone.registered()
            await phone.dial(f"sip:*98@{registrar}", timeout=15)
            await asyncio.sleep(1.0)
            await phone.send_digits("7")  # taken once the first message has played: delete it, hear the next
            await phone.ctrl.wait_event("CALL_CLOSED", 40)  # no key after the second: the end, goodbye
            heard = phone.recording("dec")
        await wait_for(lambda: not Path(messages[0].path).exists(), what="first message's file removed")
        await server.writer.flush(5.0)
    rows = dict(query(tmp_path / "voxcenter.db",
                      "select voicemail_id, deleted_at from voicemails where mailbox='1001'"))
    assert rows[messages[0].voicemail_id] is not None and rows[messages[1].voicemail_id] is None, rows
    assert Path(messages[1].path).exists()
    [left, *_] = wav_spectra(heard)
    assert abs(left.dominant - MESSAGE_HZ) < 15, left  # the messages are most of what was heard
