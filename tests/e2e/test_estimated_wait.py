"""``announcements.estimated_wait``: a waiting caller hears the estimated wait, or not, as the queue says.

Two queues alike but for that key, each with its one agent on a call (a softphone of the harness) and a
second SIPp caller waiting behind it; what the waiting callers hear is searched for the prompt frames.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.e2e.harness import (
    CARRIER_IP,
    AgentPhone,
    plan_sections,
    rtp_base_for_test,
    served,
    share_heard,
    voiced_frames,
    wait_for,
)
from tests.e2e.queue_peers import calling
from tests.interop.sipp import free_port
from voxcenter.runtime.server import Server

pytestmark = [pytest.mark.interop, pytest.mark.timeout(90)]


def plan(tmp: Path) -> Path:
    body = f"trunks:\n  carrier:\n    inbound:\n      allow_from: [{CARRIER_IP}/32]\n" + textwrap.dedent("""\
        numbers:
          '500': {node: told}
          '501': {node: quiet}
        ivr:
          told: {type: queue, queue: told}
          quiet: {type: queue, queue: quiet}
        queues:
          told:
            join_when: always
            leave_when: never
            announcements: {music_on_hold: moh, estimated_wait: true, position_every: 60s}
          quiet:
            join_when: always
            leave_when: never
            announcements: {music_on_hold: moh, estimated_wait: false, position_every: 60s}
        agents:
          '1001': {name: Alice, password: pw-1001, queues: [told]}
          '1002': {name: Bob, password: pw-1002, queues: [quiet]}
        """)
    text = plan_sections(tmp, body, sip_port=free_port(), rtp_base=rtp_base_for_test(), inactivity_timeout="60s")
    path = tmp / "voxcenter.yaml"
    path.write_text(text)
    return path


def on_call(server: Server, agent_id: str) -> bool:
    return server.acd.router.agent_state(agent_id).value == "on-call"


async def test_the_estimated_wait_is_said_only_where_the_queue_says_so(tmp_path: Path) -> None:
    wait, music = voiced_frames("expected-wait"), voiced_frames("moh")[:50]
    async with served(plan(tmp_path)) as server:
        address = server.endpoint.address("udp")
        async with AgentPhone("1001", "pw-1001", address) as alice, AgentPhone("1002", "pw-1002", address) as bob:
            for phone in (alice, bob):
                assert await phone.register() == 200 and await phone.dial("*45") == 200
            async with (
                calling(server, tmp_path, "500", name="told-first", number="0600000001"),
                calling(server, tmp_path, "501", name="quiet-first", number="0600000002"),
            ):
                await wait_for(lambda: on_call(server, "1001") and on_call(server, "1002"), what="both agents busy")
                async with (
                    calling(server, tmp_path, "500", name="told", number="0600000003") as told,
                    calling(server, tmp_path, "501", name="quiet", number="0600000004") as quiet,
                ):
                    await wait_for(lambda: share_heard(told.media.heard, music) == 1.0
                                   and share_heard(quiet.media.heard, music) == 1.0, what="both hear the music")
                    for call in list(server.calls.values()):
                        call.end("heard enough")
            await wait_for(lambda: not server.calls, what="calls finished")
    assert share_heard(told.media.heard, wait) == 1.0  # "the expected wait is about N minutes", then music
    assert share_heard(quiet.media.heard, wait) == 0.0  # music only
