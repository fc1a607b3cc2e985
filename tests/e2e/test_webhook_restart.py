"""A webhook delivery still being retried when the server stops is sent again by the next start (a real
``voxcenter run`` child process): the same delivery, its tries counted on, until the endpoint takes it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.harness import CARRIER_IP, ServerProcess, plan_sections, query, rtp_base_for_test, wait_for
from tests.interop.sipp import free_port
from tests.runtime.webhook_receiver import Receiver

pytestmark = pytest.mark.timeout(90)

SECRET = "crm-secret-for-the-restart-test"


def hook_plan(tmp: Path, api_port: int, url: str) -> Path:
    body = f"trunks:\n  carrier:\n    inbound:\n      allow_from: [{CARRIER_IP}/32]\n" + textwrap.dedent(f"""\
        numbers:
          '400': {{node: q}}
        ivr:
          q: {{type: queue, queue: sales}}
        queues:
          sales: {{join_when: always, leave_when: never}}
        agents:
          '1001': {{name: Alice, password: pw-1001, queues: [sales]}}
        webhooks:
          - {{url: '{url}', secret: {SECRET}, events: [interaction.saved]}}
        """)
    path = tmp / "voxcenter.yaml"
    path.write_text(plan_sections(tmp, body, sip_port=free_port(), rtp_base=rtp_base_for_test(), api_port=api_port))
    return path


async def test_a_delivery_being_retried_at_a_restart_is_delivered_by_the_next_start(tmp_path: Path) -> None:
    api_port = free_port()
    async with Receiver(SECRET) as hooks:
        hooks.statuses = [503] * 1000  # the CRM is down until the server has restarted
        server = ServerProcess(hook_plan(tmp_path, api_port, hooks.url), tmp_path / "server.log")
        try:
            await server.start()
            async with aiohttp.ClientSession(headers={"Authorization": "Bearer test-token"}) as http, \
                    http.post(f"http://127.0.0.1:{api_port}/api/interactions",
                              json={"call_id": "01CALLBEFORETHERESTART", "agent": "1001", "notes": "refund"}) as answer:
                assert answer.status == 201
            await wait_for(lambda: len(hooks.received) >= 1, what="the first try")
            server.terminate()
            assert await server.exit_status(30) == 0
            before = list(hooks.received)
            assert {(r.event, r.signed) for r in before} == {("interaction.saved", True)}
            [(status, attempts)] = query(tmp_path / "voxcenter.db", "select status, attempts from webhook_deliveries")
            assert status == "pending" and attempts <= before[-1].attempt
            hooks.statuses = []  # the CRM is back
            await server.start()
            await wait_for(lambda: len(hooks.received) > len(before), what="the try after the restart")
            server.terminate()
            assert await server.exit_status(30) == 0
        finally:
            await server.kill()
    after = hooks.received[len(before)]
    assert after.delivery == before[0].delivery and after.attempt > before[-1].attempt and after.signed
    assert after.body == before[0].body and after.body["data"]["notes"] == "refund"
    assert len(hooks.received) == len(before) + 1  # taken: not sent again
    assert query(tmp_path / "voxcenter.db", "select status, attempts from webhook_deliveries") == [
        ("delivered", after.attempt)]
