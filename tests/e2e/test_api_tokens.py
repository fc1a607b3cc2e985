"""The dial plan's ``api.tokens``: each token acts with its role, an agent token only for its agent."""

from __future__ import annotations

import textwrap
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.harness import CARRIER_IP, ServerProcess, plan_sections, query, rtp_base_for_test, served
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


async def test_desk_sign_ins_survive_a_restart_of_the_server_until_the_agent_signs_out(tmp_path: Path) -> None:
    api_port = free_port()
    base = f"http://127.0.0.1:{api_port}"
    server = ServerProcess(token_plan(tmp_path, api_port), tmp_path / "server.log")

    async def desk_status(http: aiohttp.ClientSession, token: str) -> int:
        async with http.get(f"{base}/api/desk", headers={"Authorization": f"Bearer {token}"}) as response:
            return response.status

    async def restart() -> None:
        server.terminate()
        assert await server.exit_status(30) == 0
        await server.start()

    try:
        await server.start()
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{base}/api/desk/login", json={"agent": "1001", "password": "pw-1001"}) as response:
                assert response.status == 200
                alice = (await response.json())["token"]
            async with http.post(f"{base}/api/desk/tokens", json={"agent": "1002"},
                                 headers={"Authorization": f"Bearer {SUPERVISOR}"}) as response:
                assert response.status == 201
                bob = (await response.json())["token"]
            assert (await desk_status(http, alice), await desk_status(http, bob)) == (200, 200)
        await restart()
        async with aiohttp.ClientSession() as http:
            assert (await desk_status(http, alice), await desk_status(http, bob)) == (200, 200)
            async with http.get(f"{base}/api/desk", headers={"Authorization": f"Bearer {alice}"}) as response:
                assert (await response.json())["agent"]["id"] == "1001"
            async with http.post(f"{base}/api/desk/logout", headers={"Authorization": f"Bearer {alice}"}) as response:
                assert response.status == 200
            assert await desk_status(http, alice) == 401
        await restart()
        async with aiohttp.ClientSession() as http:
            assert (await desk_status(http, alice), await desk_status(http, bob)) == (401, 200)
    finally:
        await server.kill()
    rows = query(tmp_path / "voxcenter.db", "select agent, revoked from desk_sessions order by agent")
    assert rows == [("1001", 1), ("1002", 0)]
    stored = query(tmp_path / "voxcenter.db", "select token_hash from desk_sessions")
    assert alice not in str(stored) and bob not in str(stored)  # only their digests are kept
