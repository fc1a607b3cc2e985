"""GET /api/cluster: the nodes sharing the database, as any node's API sees them (running, stopped, dead)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from tests.api.fake import FakeControlPlane
from voxcenter.api import ApiSettings, create_app
from voxcenter.runtime.cluster import Heartbeat
from voxcenter.store import commands as store_commands
from voxcenter.store.db import make_engine
from voxcenter.store.records import CallRecord
from voxcenter.store.writer import DurableWriter

TOKEN = "admin-token-0123456789"


async def test_the_cluster_as_any_node_sees_it(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'records.db'}"
    assert await asyncio.to_thread(store_commands.run, ["db", "upgrade", "--database", url]) == 0
    writer = DurableWriter(tmp_path / "journal", url, flush_interval=0.02)
    await writer.start()
    start = time.time() - 60
    clock = [start]
    beats = {name: Heartbeat(url, name, writer, interval=3600, dead_after=5.0, clock=lambda: clock[0])
             for name in ("a", "b", "c")}
    for beat in beats.values():
        await beat.start()
    writer.submit(CallRecord(call_id="LIVE", version=1, node="a", direction="inbound", arrived_at=start))
    await beats["c"].stop()  # c stopped itself
    clock[0] = start + 30  # b fell silent at the start; a sees it dead and claims it
    await beats["a"].tick()
    assert await writer.flush(within=20)
    control = FakeControlPlane()
    control.engine = make_engine(url)
    client: TestClient[Any, Any] = TestClient(TestServer(create_app(control, ApiSettings(token=TOKEN))))
    await client.start_server()
    try:
        response = await client.get("/api/cluster", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status == 200
        nodes = {node["node"]: node for node in (await response.json())["nodes"]}
    finally:
        await client.close()
        await control.engine.dispose()
        for name in ("a", "b"):
            await beats[name].stop()
        await writer.close(within=10)
    assert {name: (node["state"], node["closed_by"]) for name, node in nodes.items()} == {
        "a": ("running", None), "b": ("dead", "a"), "c": ("stopped", "c")}
    assert nodes["a"]["calls_in_progress"] == 1 and nodes["b"]["calls_in_progress"] == 0
    assert nodes["b"]["silent_seconds"] >= 59
