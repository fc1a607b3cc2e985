"""``/api/supervisors/...``: whom a supervisor may monitor, starting and switching a session; refusals mapped to
HTTP statuses, bad bodies answered 400, and only supervisor and admin tokens reach it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.api.fake import FakeControlPlane
from voxcenter.api import ApiSettings, create_app
from voxcenter.api.app import ApiToken

ADMIN, SUPERVISOR, AGENT = "admin-token-0123456789", "supervisor-token-0123", "agent-1001-token-0123"


class FakeMonitoring:
    def __init__(self) -> None:
        self.started: list[tuple[str, str, str]] = []
        self.mode: str | None = None

    def overview(self, supervisor: str) -> dict[str, object] | None:
        return {"supervisor": supervisor, "queues": ["support"]} if supervisor == "1009" else None

    def api_monitor(self, supervisor: str, agent: str, mode: str) -> tuple[int, dict[str, object]]:
        if supervisor != "1009":
            return 403, {"error": "Not Allowed To Monitor"}
        if agent != "1001":
            return 404, {"error": "Agent Not On A Call"}
        if self.mode is not None:
            return 486, {"error": "Already Monitoring"}
        self.started.append((supervisor, agent, mode))
        self.mode = mode
        return 202, {"supervisor": supervisor, "agent": agent, "mode": mode}

    def api_mode(self, supervisor: str, mode: str) -> tuple[int, dict[str, object]]:
        if self.mode is None:
            return 404, {"error": "monitoring no call"}
        self.mode = mode
        return 200, {"supervisor": supervisor, "mode": mode}


@pytest.fixture
async def api() -> AsyncIterator[tuple[TestClient[Any, Any], FakeMonitoring]]:
    monitoring = FakeMonitoring()
    settings = ApiSettings(token=ADMIN, tokens=(ApiToken(SUPERVISOR, "supervisor"), ApiToken(AGENT, "agent", "1001")))
    client: TestClient[Any, Any] = TestClient(TestServer(create_app(FakeControlPlane(), settings,
                                                                    monitoring=monitoring)))
    await client.start_server()
    yield client, monitoring
    await client.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_supervisor_sees_starts_and_switches(api: tuple[TestClient[Any, Any], FakeMonitoring]) -> None:
    client, monitoring = api
    auth = bearer(SUPERVISOR)
    response = await client.get("/api/supervisors/1009", headers=auth)
    assert response.status == 200 and (await response.json())["queues"] == ["support"]
    assert (await client.get("/api/supervisors/4444", headers=auth)).status == 404
    response = await client.post("/api/supervisors/1009/monitor", json={"agent": "1001", "mode": "whisper"},
                                 headers=auth)
    assert response.status == 202 and (await response.json())["mode"] == "whisper"
    assert monitoring.started == [("1009", "1001", "whisper")]
    response = await client.post("/api/supervisors/1009/monitor", json={"agent": "1001"}, headers=auth)
    assert response.status == 409 and (await response.json()) == {"error": "Already Monitoring"}
    response = await client.post("/api/supervisors/1009/mode", json={"mode": "barge"}, headers=auth)
    assert response.status == 200 and monitoring.mode == "barge"


async def test_refusals_and_bad_bodies(api: tuple[TestClient[Any, Any], FakeMonitoring]) -> None:
    client, _ = api
    auth = bearer(ADMIN)
    cases = [
        ("/api/supervisors/1008/monitor", {"agent": "1001"}, 403),
        ("/api/supervisors/1009/monitor", {"agent": "1002"}, 404),
        ("/api/supervisors/1009/monitor", {"agent": "1001", "mode": "shout"}, 400),
        ("/api/supervisors/1009/monitor", {"mode": "listen"}, 400),
        ("/api/supervisors/1009/mode", {"mode": "barge"}, 404),  # no session
    ]
    for path, body, status in cases:
        response = await client.post(path, json=body, headers=auth)
        assert response.status == status, (path, body, await response.text())
    response = await client.post("/api/supervisors/1009/mode", data=b"[1]", headers=auth)
    assert response.status == 400


async def test_agent_tokens_may_not_monitor(api: tuple[TestClient[Any, Any], FakeMonitoring]) -> None:
    client, monitoring = api
    auth = bearer(AGENT)
    assert (await client.get("/api/supervisors/1009", headers=auth)).status == 403
    response = await client.post("/api/supervisors/1009/monitor", json={"agent": "1001"}, headers=auth)
    assert response.status == 403 and not monitoring.started
