"""Agents are matched to the caller's language: a caller from +48 (Polish by the number prefix rule) is
offered first to the agent who speaks Polish; after the queue's ``language_relaxation`` any agent may take it.

Callers are SIPp from the carrier (``queue_peers.calling``); agents are baresip phones registered with digest,
logged in with ``*45``, answering automatically. Who took which call is read from the store.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.e2e.harness import AGENT_HZ, CARRIER_IP, plan_sections, query, rtp_base_for_test, served, wait_for
from tests.e2e.queue_peers import call_of, calling, timeline
from tests.e2e.whole_call_peers import baresip_agent
from tests.interop.audio import write_tone_wav
from tests.interop.sipp import free_port
from voxcenter.runtime.server import Server

pytestmark = [pytest.mark.interop, pytest.mark.timeout(120)]

RELAXATION = 3.0
"""The queue's ``language_relaxation``, seconds."""


def language_plan(tmp: Path, sip_port: int) -> Path:
    body = f"trunks:\n  carrier:\n    inbound:\n      allow_from: [{CARRIER_IP}/32]\n" + textwrap.dedent(f"""\
        numbers:
          '400': {{node: help}}
        ivr:
          help: {{type: queue, queue: help}}
        queues:
          help:
            selection: longest-idle
            ring_timeout: 10s
            wrap_up: 0s
            join_when: always
            leave_when: never
            language_relaxation: {RELAXATION:g}s
            announcements: {{position_every: null}}
        agents:
          '1001': {{name: Alice, password: pw-1001, queues: [help], languages: [pl]}}
          '1002': {{name: Bob, password: pw-1002, queues: [help], languages: [en]}}
        """)
    text = plan_sections(tmp, body, sip_port=sip_port, rtp_base=rtp_base_for_test(), inactivity_timeout="60s")
    text = text.replace("  languages: [en]\n", "  languages: [en, pl]\n  caller_languages: {'+48': pl}\n")
    path = tmp / "voxcenter.yaml"
    path.write_text(text)
    return path


def state(server: Server, agent_id: str) -> str:
    return server.acd.router.agent_state(agent_id).value


def waiting(server: Server) -> int:
    return len(server.acd.router.waiting("help", server.acd.now()))


async def test_a_polish_caller_goes_to_the_polish_speaker_then_to_anyone_after_the_relaxation(tmp_path: Path) -> None:
    sip_port = free_port()
    voice = write_tone_wav(tmp_path / "agent.wav", AGENT_HZ, 60.0)
    registrar = f"127.0.0.1:{sip_port}"
    async with served(language_plan(tmp_path, sip_port)) as server:
        # Bob logs in first: idle the longest, the strategy alone would give him the first call.
        async with baresip_agent(tmp_path, "1002", registrar, voice):
            await wait_for(lambda: state(server, "1002") == "ready", what="Bob ready")
            async with baresip_agent(tmp_path, "1001", registrar, voice):
                await wait_for(lambda: state(server, "1001") == "ready", what="Alice ready")
                async with calling(server, tmp_path, "400", name="first", number="+48221234567") as first:
                    await wait_for(lambda: state(server, "1001") == "on-call", what="Alice on the first call")
                    assert state(server, "1002") == "ready"
                    async with calling(server, tmp_path, "400", name="second", number="+48227654321") as second:
                        await wait_for(lambda: waiting(server) == 1, what="the second caller waiting")
                        # The Polish speaker is busy: the second caller is kept for her, Bob is not offered it...
                        assert state(server, "1002") == "ready"
                        # ...until the relaxation is over; then Bob takes it.
                        await wait_for(lambda: state(server, "1002") == "on-call", what="Bob on the second call")
                        for call in list(server.calls.values()):
                            call.end("test over")
                        assert (await second.finished()).successful == 1
                    assert (await first.finished()).successful == 1
                await wait_for(lambda: not server.calls, what="calls finished")
        await server.writer.flush(5.0)
    db = tmp_path / "voxcenter.db"
    answered = {number: query(db, "select disposition, agent from calls where call_id=?", call_of(db, number))
                for number in ("+48221234567", "+48227654321")}
    assert answered == {"+48221234567": [("answered", "1001")], "+48227654321": [("answered", "1002")]}, answered
    events = timeline(db, call_of(db, "+48227654321"))
    [entered] = [at for event, at, *_ in events if event == "ENTERQUEUE"]
    [connected] = [at for event, at, *_ in events if event == "CONNECT"]
    assert connected - entered >= RELAXATION, events  # not offered to Bob before the relaxation was over
