"""Authentication, CORS, settings and serving: secure by default."""

from __future__ import annotations

import logging

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

import voxcenter.api.app as app_module
from tests.api.conftest import AUTH, TOKEN, Client, MakeClient
from tests.api.fake import FakeControlPlane
from voxcenter.api import ApiSettings, StructuredAccessLogger, is_loopback, start_api

PROTECTED = [
    ("GET", "/metrics"),
    ("GET", "/api/queues"),
    ("GET", "/api/queues/sales"),
    ("GET", "/api/agents"),
    ("GET", "/api/agents/1001"),
    ("POST", "/api/agents/1001/login"),
    ("GET", "/api/calls"),
    ("POST", "/api/reload"),
    ("GET", "/api/wallboard/ws"),
]


async def test_healthz_needs_no_token(client: Client) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}


@pytest.mark.parametrize(("method", "path"), PROTECTED)
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}, {"Authorization": "Bearer "},
     {"Authorization": f"Bearer {TOKEN}x"}],
)
async def test_protected_endpoints_refuse_without_the_token(
    client: Client, control: FakeControlPlane, method: str, path: str, headers: dict[str, str]
) -> None:
    response = await client.request(method, path, headers=headers)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    body = await response.json()
    assert "bearer token" in body["error"]
    assert control.commands == [] and control.reloads == 0


async def test_scheme_is_case_insensitive(client: Client) -> None:
    response = await client.get("/api/queues", headers={"Authorization": f"bearer {TOKEN}"})
    assert response.status == 200


async def test_query_token_only_counts_for_the_websocket(client: Client) -> None:
    assert (await client.get("/api/queues", params={"token": TOKEN})).status == 401
    ws = await client.ws_connect("/api/wallboard/ws", params={"token": TOKEN})
    assert (await ws.receive_json(timeout=10))["type"] == "snapshot"
    await ws.close()


async def test_websocket_with_a_wrong_token_is_refused_before_the_upgrade(client: Client) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/api/wallboard/ws", params={"token": "nope"})
    assert refused.value.status == 401


async def test_without_a_configured_token_requests_pass(control: FakeControlPlane, make_client: MakeClient) -> None:
    client = await make_client(control, token=None)
    assert (await client.get("/api/agents")).status == 200


async def test_wallboard_page_is_public_and_holds_no_data(client: Client) -> None:
    response = await client.get("/wallboard")
    assert response.status == 200
    assert response.content_type == "text/html"
    page = await response.text()
    assert "/api/wallboard/ws" in page and "1001" not in page
    assert "http://" not in page and "https://" not in page  # self-contained: nothing fetched elsewhere


async def test_cors_is_off_by_default(client: Client) -> None:
    response = await client.get("/api/queues", headers={**AUTH, "Origin": "http://board.example"})
    assert "Access-Control-Allow-Origin" not in response.headers
    preflight = await client.options("/api/queues", headers={
        "Origin": "http://board.example", "Access-Control-Request-Method": "GET"})
    assert preflight.status == 401  # no preflight answer: the unauthenticated OPTIONS is refused
    assert "Access-Control-Allow-Origin" not in preflight.headers


async def test_cors_when_enabled(control: FakeControlPlane, make_client: MakeClient) -> None:
    client = await make_client(control, cors=True)
    preflight = await client.options("/api/agents/1001/pause", headers={
        "Origin": "http://board.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    refused = await client.get("/api/queues", headers={"Origin": "http://board.example"})
    assert refused.status == 401 and refused.headers["Access-Control-Allow-Origin"] == "*"
    allowed = await client.get("/api/queues", headers={**AUTH, "Origin": "http://board.example"})
    assert allowed.status == 200 and allowed.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize(
    "options",
    [{"token": ""}, {"token": "   "}, {"port": 70000}, {"port": -1}, {"wallboard_min_interval": 0},
     {"wallboard_min_interval": 6.0, "wallboard_max_interval": 5.0}],
)
def test_bad_settings_are_refused(options: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ApiSettings(**{"token": TOKEN, **options})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.9.9.9", True), ("::1", True), ("localhost", True), ("0.0.0.0", False),
     ("::", False), ("192.0.2.7", False), ("example.com", False)],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


async def test_start_api_without_token_binds_loopback_only(control: FakeControlPlane) -> None:
    runner, port = await start_api(control, ApiSettings(host="0.0.0.0", port=0, token=None))
    try:
        assert [address[0] for address in runner.addresses] == ["127.0.0.1"]
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/api/queues") as resp:
            assert resp.status == 200
    finally:
        await runner.cleanup()


async def test_start_api_with_token(control: FakeControlPlane) -> None:
    runner, port = await start_api(control, ApiSettings(host="127.0.0.1", port=0, token=TOKEN))
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/api/queues") as refused:
                assert refused.status == 401
            async with session.get(f"http://127.0.0.1:{port}/api/queues", headers=AUTH) as allowed:
                assert allowed.status == 200
    finally:
        await runner.cleanup()


def test_settings_need_an_explicit_token_choice() -> None:
    with pytest.raises(TypeError):
        ApiSettings()  # type: ignore[call-arg]
    assert ApiSettings(token=None).host == "127.0.0.1"


async def test_access_log_never_shows_the_query(monkeypatch: pytest.MonkeyPatch) -> None:
    lines: list[dict[str, object]] = []

    class Recorder:
        def info(self, event: str, **fields: object) -> None:
            lines.append({"event": event, **fields})

    monkeypatch.setattr(app_module, "logger", Recorder())
    request = make_mocked_request("GET", f"/api/wallboard/ws?token={TOKEN}")
    StructuredAccessLogger(logging.getLogger("test"), "").log(request, web.Response(status=101), 0.25)
    assert lines == [{"event": "api.request", "method": "GET", "path": "/api/wallboard/ws", "status": 101,
                      "seconds": 0.25, "peer": None}]
    assert TOKEN not in repr(lines)
