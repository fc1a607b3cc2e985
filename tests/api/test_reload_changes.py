"""The API answers a reload with what it changed."""

from __future__ import annotations

from tests.api.conftest import AUTH, Client
from tests.api.fake import FakeControlPlane


async def test_the_api_answers_a_reload_with_its_changes(client: Client, control: FakeControlPlane) -> None:
    body = await (await client.post("/api/reload", headers=AUTH)).json()
    assert body["status"] == "reloaded" and body["changes"] == {"agents": {"added": ["1005"]}}
