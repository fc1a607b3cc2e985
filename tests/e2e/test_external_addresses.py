"""``sip.external_address`` and ``rtp.external_address``: what voxcenter writes where a phone answers it (Via,
Contact, the SDP's connection address), seen in the INVITE that rings an agent's phone."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.e2e.harness import CARRIER_IP, AgentPhone, plan_sections, rtp_base_for_test, served, wait_for
from tests.e2e.queue_peers import calling
from tests.interop.sipp import free_port

pytestmark = [pytest.mark.interop, pytest.mark.timeout(60)]

SIP_HOST, RTP_HOST = "127.0.0.5", "127.0.0.6"
"""Advertised addresses: loopback aliases, not where voxcenter listens (127.0.0.1)."""


def plan(tmp: Path) -> Path:
    body = f"trunks:\n  carrier:\n    inbound:\n      allow_from: [{CARRIER_IP}/32]\n" + textwrap.dedent("""\
        numbers:
          '400': {node: q}
        ivr:
          q: {type: queue, queue: help}
        queues:
          help: {join_when: always, leave_when: never, ring_timeout: 30s}
        agents:
          '1001': {name: Alice, password: pw-1001, queues: [help]}
        """)
    text = plan_sections(tmp, body, sip_port=free_port(), rtp_base=rtp_base_for_test())
    text = text.replace("sip:\n", f"sip:\n  external_address: {SIP_HOST}\n", 1)
    text = text.replace("rtp:\n", f"rtp:\n  external_address: {RTP_HOST}\n", 1)
    path = tmp / "voxcenter.yaml"
    path.write_text(text)
    return path


async def test_the_invite_to_an_agent_names_the_external_addresses(tmp_path: Path) -> None:
    async with (
        served(plan(tmp_path)) as server,
        AgentPhone("1001", "pw-1001", server.endpoint.address("udp"), answer=False) as alice,
    ):
        assert await alice.register() == 200 and await alice.dial("*45") == 200
        async with calling(server, tmp_path, "400", name="caller", number="0600000001", hold=30.0):
            await wait_for(lambda: bool(alice.calls), what="Alice's phone rings")
            invite = alice.calls[0].invite
            for call in list(server.calls.values()):
                call.end("seen")
        await wait_for(lambda: not server.calls, what="calls finished")
    assert invite.top_via.host == SIP_HOST
    assert [contact.uri.host for contact in invite.contacts] == [SIP_HOST]
    assert f"c=IN IP4 {RTP_HOST}" in invite.body.decode()
