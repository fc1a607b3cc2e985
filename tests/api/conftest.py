"""Fixtures: the fake control plane and an API client in the test's event loop."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tests.api.fake import FakeControlPlane
from voxcenter.api import ApiSettings, create_app

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

Client = TestClient[web.Request, web.Application]
MakeClient = Callable[..., Awaitable[Client]]


@pytest.fixture
def control() -> FakeControlPlane:
    return FakeControlPlane()


@pytest.fixture
async def make_client() -> AsyncIterator[MakeClient]:
    clients: list[Client] = []

    async def make(control: FakeControlPlane, **settings: object) -> Client:
        options: dict[str, Any] = {"token": TOKEN, "wallboard_min_interval": 0.05, "wallboard_max_interval": 5.0}
        options.update(settings)
        client: Client = TestClient(TestServer(create_app(control, ApiSettings(**options))))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def client(control: FakeControlPlane, make_client: MakeClient) -> Client:
    return await make_client(control)
