"""The wallboard websocket: first snapshot, updates on change, periodic refresh, coalescing, clean closes."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import aiohttp
from aiohttp import WSCloseCode, WSMsgType
from aiohttp.test_utils import TestServer

from tests.api.conftest import AUTH, Client, MakeClient
from tests.api.fake import FakeControlPlane
from voxcenter.api.app import HUB

RECEIVE = 10.0  # generous: a loaded machine is slow, never wrong


async def next_snapshot(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    message: dict[str, Any] = await ws.receive_json(timeout=RECEIVE)
    assert message["type"] == "snapshot"
    return message


async def test_first_message_is_a_full_snapshot(client: Client, control: FakeControlPlane) -> None:
    control.staff("1001")
    control.join("c1", "sales")
    async with client.ws_connect("/api/wallboard/ws", headers=AUTH) as ws:
        snapshot = await next_snapshot(ws)
    assert [q["name"] for q in snapshot["queues"]] == ["sales", "support"]
    assert snapshot["queues"][0]["calls_waiting"] == 1
    agents = {a["id"]: a for a in snapshot["agents"]}
    assert set(agents) == {"1001", "1002", "1003", "1004"}
    assert agents["1001"]["state"] == "reserved"
    assert snapshot["calls_in_progress"] == 1


async def test_update_follows_an_agent_command(client: Client, control: FakeControlPlane) -> None:
    async with client.ws_connect("/api/wallboard/ws", headers=AUTH) as ws:
        before = await next_snapshot(ws)
        assert {a["id"]: a["state"] for a in before["agents"]}["1003"] == "offline"
        control.register("1003")
        response = await client.post("/api/agents/1003/login", headers=AUTH)
        assert response.status == 200
        after = await next_snapshot(ws)
        while {a["id"]: a["state"] for a in after["agents"]}["1003"] != "ready":
            after = await next_snapshot(ws)  # only a periodic snapshot sent before the login can come first
        support = next(q for q in after["queues"] if q["name"] == "support")
        assert support["agents"]["ready"] == 1


async def test_a_quiet_board_still_gets_periodic_snapshots(control: FakeControlPlane, make_client: MakeClient) -> None:
    client = await make_client(control, wallboard_min_interval=0.05, wallboard_max_interval=0.1)
    async with client.ws_connect("/api/wallboard/ws", headers=AUTH) as ws:
        first = await next_snapshot(ws)
        control.clock += 7.0  # time moves without any change notification
        second = await next_snapshot(ws)
        while second["agents"] == first["agents"]:
            second = await next_snapshot(ws)  # one may have been built before the clock moved
    ages = [a["in_state"] for a in second["agents"]]
    assert ages == [age + 7.0 for age in (a["in_state"] for a in first["agents"])]


async def test_bursts_of_changes_are_coalesced_and_rate_limited(
    control: FakeControlPlane, make_client: MakeClient
) -> None:
    client = await make_client(control, wallboard_min_interval=0.3, wallboard_max_interval=60.0)
    loop = asyncio.get_running_loop()
    async with client.ws_connect("/api/wallboard/ws", headers=AUTH) as ws:
        await next_snapshot(ws)
        started = loop.time()
        for i in range(200):
            if i % 2 == 0:
                control.staff("1004")
            else:
                if i == 199:
                    control.clock += 1000.0  # marks every snapshot built after the last change
                control.agent_command("1004", "logout")
            await asyncio.sleep(0)
        received = 0
        while True:  # the last change always reaches the board
            snapshot = await next_snapshot(ws)
            received += 1
            agents = {a["id"]: a for a in snapshot["agents"]}
            if agents["1001"]["in_state"] >= 1000.0:
                assert agents["1004"]["state"] == "offline"
                break
        window = loop.time() - started
    # sends are spaced by min_interval: 200 changes became a handful of snapshots
    assert received <= window / 0.3 + 1
    assert len(control.listeners) == 1  # one subscription for the whole hub, not one per change or client


async def test_client_close_is_clean_and_forgets_the_client(client: Client) -> None:
    assert isinstance(client.server, TestServer)
    hub = client.server.app[HUB]
    ws = await client.ws_connect("/api/wallboard/ws", headers=AUTH)
    await next_snapshot(ws)
    assert hub.client_count == 1
    await ws.close()
    assert ws.close_code == WSCloseCode.OK
    for _ in range(500):
        if hub.client_count == 0:
            break
        await asyncio.sleep(0.01)
    assert hub.client_count == 0


async def test_server_shutdown_closes_boards_with_going_away(
    control: FakeControlPlane, make_client: MakeClient
) -> None:
    client = await make_client(control)
    ws = await client.ws_connect("/api/wallboard/ws", headers=AUTH)
    await next_snapshot(ws)
    closing = asyncio.ensure_future(client.server.close())
    message = await ws.receive(timeout=RECEIVE)
    while message.type is WSMsgType.TEXT:
        message = await ws.receive(timeout=RECEIVE)
    assert message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED)
    assert ws.close_code == WSCloseCode.GOING_AWAY
    await closing
    assert control.listeners == []  # the subscription ended with the application


async def test_a_message_from_the_client_asks_for_a_fresh_snapshot(
    control: FakeControlPlane, make_client: MakeClient
) -> None:
    client = await make_client(control, wallboard_min_interval=0.05, wallboard_max_interval=60.0)
    async with client.ws_connect("/api/wallboard/ws", headers=AUTH) as ws:
        await next_snapshot(ws)
        control.clock += 3.0
        await ws.send_str("refresh")
        snapshot = await next_snapshot(ws)
    assert snapshot["agents"][0]["in_state"] == 3.0


async def test_a_plain_get_on_the_websocket_path_is_400(client: Client) -> None:
    response = await client.get("/api/wallboard/ws", headers=AUTH)
    assert response.status == 400
    assert "error" in await response.json()


async def test_the_board_shows_callbacks_dialled_within_their_target(client: Client,
                                                                    control: FakeControlPlane) -> None:
    control.server_figures = replace(control.server_figures, callback_first_dials=(("sales", 9, 1),))
    async with client.ws_connect("/api/wallboard/ws", headers=AUTH) as ws:
        snapshot = await next_snapshot(ws)
    queues = {q["name"]: q for q in snapshot["queues"]}
    assert (queues["sales"]["callbacks_dialled_within_sla"], queues["sales"]["callbacks_dialled_late"]) == (9, 1)
    assert (queues["support"]["callbacks_dialled_within_sla"], queues["support"]["callbacks_dialled_late"]) == (0, 0)
