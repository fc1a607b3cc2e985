"""The dial plan's ``api.tokens``: each token acts with its role, an agent token only for its agent."""

from __future__ import annotations

import textwrap
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.harness import CARRIER_IP, plan_sections, rtp_base_for_test, served
from tests.interop.sipp import free_port

pytestmark = pytest.mark.timeout(60)

SUPERVISOR, AGENT = "supervisor-token-0123456789", "agent-1001-token-0123456789"


def token_plan(tmp: Path, api_port: int) -> Path:
    body = f"trunks:\n  carrier:\n    inbound:\n      allow_from: [{CARRIER_IP}/32]\n" + textwrap.dedent("""\
        numbers:
          '400': {node: q}
        ivr:
          q: {type: queue, queue: sales}
        queues:
          sales: {join_when: always, leave_when: never}
        agents:
          '1001': {name: Alice, password: pw-1001, queues: [sales]}
          '1002': {name: Bob, password: pw-1002, queues: [sales]}
        """)
    text = plan_sections(tmp, body, sip_port=free_port(), rtp_base=rtp_base_for_test(), api_port=api_port)
    text += textwrap.indent(textwrap.dedent(f"""\
        tokens:
          - {{token: {SUPERVISOR}, role: supervisor}}
          - {{token: {AGENT}, role: agent, agent: '1001'}}
        """), "  ")
    path = tmp / "voxcenter.yaml"
    path.write_text(text)
    return path


async def test_each_dial_plan_token_has_its_role_and_an_agent_token_its_agent(tmp_path: Path) -> None:
    api_port = free_port()
    expectations = [
        ("GET", "/api/queues", {"test-token": 200, SUPERVISOR: 200, AGENT: 200, "not-a-token": 401}),
        ("GET", "/api/agents", {SUPERVISOR: 200, AGENT: 403}),
        ("GET", "/api/agents/1001", {AGENT: 200}),
        ("GET", "/api/agents/1002", {SUPERVISOR: 200, AGENT: 403}),
        ("POST", "/api/reload", {SUPERVISOR: 403, AGENT: 403}),
    ]
    seen = []
    async with served(token_plan(tmp_path, api_port)), aiohttp.ClientSession() as http:
        for method, path, by_token in expectations:
            for token, _ in by_token.items():
                async with http.request(method, f"http://127.0.0.1:{api_port}{path}",
                                        headers={"Authorization": f"Bearer {token}"}) as response:
                    seen.append((method, path, token, response.status))
    assert seen == [(method, path, token, status) for method, path, by_token in expectations
                    for token, status in by_token.items()]
