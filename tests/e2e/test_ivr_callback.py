"""A callback booked in the IVR (a ``callback`` node) is dialled: the agent first, then the customer.

The caller is SIPp on the carrier: it hears the offer, presses 1 (no read-back: ``confirm: false``) and is
hung up after "callback booked". The agent (the harness's softphone) is rung and answers; the customer behind
the carrier is SIPp answering. The callback ends ``completed``, booked by ``ivr`` for the caller's number.
"""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

import pytest

from tests.e2e.harness import (
    CARRIER_IP,
    AgentPhone,
    plan_sections,
    query,
    rtp_base_for_test,
    served,
    share_heard,
    voiced_frames,
    wait_for,
)
from tests.e2e.queue_peers import calling
from tests.interop.sipp import SippServer, free_port

pytestmark = [pytest.mark.interop, pytest.mark.timeout(90)]

NUMBER = "0140000888"


def ivr_callback_plan(tmp: Path, far_end: str) -> Path:
    body = textwrap.dedent(f"""\
        trunks:
          carrier:
            inbound:
              allow_from: [{CARRIER_IP}/32]
            outbound:
              proxy: sip:{far_end}
              options_interval: null
        routes:
          callbacks:
            patterns: ['0[0-9]{{9}}']
            trunk: carrier
            allow: {{ivr: true}}
        numbers:
          '310': {{node: offer}}
        ivr:
          offer: {{type: callback, prompts: callback-offer, confirm: false, queue: web}}
        queues:
          web:
            ring_timeout: 10s
            wrap_up: 0s
            join_when: always
            leave_when: never
        agents:
          '1001': {{name: Alice, password: pw-1001, queues: [web]}}
        """)
    path = tmp / "voxcenter.yaml"
    path.write_text(plan_sections(tmp, body, sip_port=free_port(), rtp_base=rtp_base_for_test()))
    return path


async def test_a_callback_booked_in_the_ivr_is_dialled(tmp_path: Path) -> None:
    offer = voiced_frames("callback-offer")
    async with (
        SippServer("uas_answer.xml", tmp_path) as customer,
        served(ivr_callback_plan(tmp_path, customer.address)) as server,
    ):
        address = server.endpoint.address("udp")
        async with AgentPhone("1001", "pw-1001", address) as phone:
            assert await phone.register() == 200  # registered, not logged in yet: the callback waits
            async with calling(server, tmp_path, "310", name="ivr-callback", number=NUMBER) as caller:
                await wait_for(lambda: share_heard(caller.media.heard, offer) > 0.3, what="offer heard")
                await caller.media.press("1")
                assert (await caller.finished()).successful == 1
            assert await phone.dial("*45") == 200
            await wait_for(lambda: len(phone.calls) == 1, what="the agent rung for the callback")
            await wait_for(lambda: server.acd.router.agent_state("1001").value == "on-call", what="customer reached",
                           timeout=30)
            await asyncio.sleep(0.5)
            await phone.calls[0].hangup()
            await wait_for(lambda: not server.acd.callback_records, what="callback settled")
        await server.writer.flush(5.0)
        result = await customer.wait(20)
        assert result.successful == 1, result.describe()
    db = tmp_path / "voxcenter.db"
    assert query(db, "select status, attempts, source, number from callbacks") == [("completed", 1, "ivr", NUMBER)]
