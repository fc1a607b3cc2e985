"""Bearer tokens with roles (admin, supervisor, agent), hanging up a call, and reading CDRs, a call's timeline,
its recordings and voicemails through the API."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.api.fake import FakeControlPlane
from tests.reports.dataset import H9, load, records
from voxcenter.api import ApiSettings, create_app
from voxcenter.api.app import PERMISSIONS, ApiToken
from voxcenter.media.sealed import seal
from voxcenter.store import commands as store_commands
from voxcenter.store.db import make_engine
from voxcenter.store.models import TABLE_OF_KIND
from voxcenter.store.records import (
    CallEvent,
    CallLegRecord,
    CallRecord,
    Record,
    RecordingRecord,
    VoicemailRecord,
    record_fields,
)

ADMIN, SUPERVISOR, AGENT = "admin-token-0123456789", "supervisor-token-0123", "agent-1001-token-0123"
TOKENS = (ApiToken(SUPERVISOR, "supervisor"), ApiToken(AGENT, "agent", "1001"))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[TestClient[Any, Any], FakeControlPlane, Path]]:
    url = f"sqlite:///{tmp_path / 'records.db'}"
    assert await asyncio.to_thread(store_commands.run, ["db", "upgrade", "--database", url]) == 0
    audio = tmp_path / "c-rec.wav"
    audio.write_bytes(b"RIFF....WAVEfmt fake audio")
    extra = [
        CallEvent("e1", "A1", H9 + 1, "ENTERQUEUE", queue="sales"),
        CallEvent("e2", "A1", H9 + 5, "CONNECT", queue="sales", agent="alice"),
        RecordingRecord("r1", "A1", str(audio), "wav", 12.0, audio.stat().st_size, "0" * 64, H9 + 5),
        VoicemailRecord("v1", "A1", "sales", H9 + 30, str(tmp_path / "vm.wav"), 8.0),
    ]
    await asyncio.to_thread(lambda: asyncio.run(load(url, [*records(), *extra])))
    control = FakeControlPlane()
    control.engine = make_engine(url)
    control.staff("1001", "1002")
    control.join("live-1", "sales")
    client: TestClient[Any, Any] = TestClient(TestServer(create_app(control, ApiSettings(token=ADMIN,
                                                                                          tokens=TOKENS))))
    await client.start_server()
    yield client, control, audio
    await client.close()
    await control.engine.dispose()


async def test_each_role_reaches_what_it_may(api: tuple[TestClient[Any, Any], FakeControlPlane, Path]) -> None:
    client, _, _ = api
    expectations = [
        ("GET", "/api/queues", {ADMIN: 200, SUPERVISOR: 200, AGENT: 200}),
        ("GET", "/api/agents", {ADMIN: 200, SUPERVISOR: 200, AGENT: 403}),
        ("GET", "/api/agents/1001", {ADMIN: 200, SUPERVISOR: 200, AGENT: 200}),
        ("GET", "/api/agents/1002", {ADMIN: 200, SUPERVISOR: 200, AGENT: 403}),
        ("POST", "/api/agents/1002/pause", {AGENT: 403, SUPERVISOR: 200}),
        ("POST", "/api/agents/1001/pause", {AGENT: 200}),
        ("GET", "/api/calls", {SUPERVISOR: 200, AGENT: 403}),
        ("GET", "/metrics", {SUPERVISOR: 200, AGENT: 403}),
        ("POST", "/api/reload", {SUPERVISOR: 403, AGENT: 403, ADMIN: 200}),
        ("GET", "/api/cdrs/A1", {AGENT: 403, SUPERVISOR: 200}),
    ]
    for method, path, by_token in expectations:
        for token, status in by_token.items():
            response = await client.request(method, path, headers=bearer(token))
            assert response.status == status, (method, path, token, await response.text())
            if status == 403:
                error = (await response.json())["error"]
                assert "role" in error or "acts for agent" in error or "its own calls" in error
    assert (await client.get("/api/queues", headers=bearer("wrong-token-000000000"))).status == 401
    assert (await client.get("/api/queues")).status == 401


async def test_every_route_has_a_permission(api: tuple[TestClient[Any, Any], FakeControlPlane, Path]) -> None:
    client, _, _ = api
    routes = {(route.method, route.resource.canonical) for route in client.app.router.routes()
              if route.resource is not None and route.method != "HEAD"}
    public = {("GET", "/healthz"), ("GET", "/"), ("GET", "/wallboard"), ("GET", "/agent"), ("POST", "/api/desk/login"),
              ("GET", "/agent/cjs.js"), ("GET", "/node_modules/{path}")}
    assert routes - public <= set(PERMISSIONS), routes - public - set(PERMISSIONS)


async def test_hang_up_a_live_call(api: tuple[TestClient[Any, Any], FakeControlPlane, Path]) -> None:
    client, control, _ = api
    response = await client.post("/api/calls/live-1/hangup", headers=bearer(SUPERVISOR))
    assert response.status == 202 and control.hung_up == ["live-1"]
    missing = await client.post("/api/calls/nope/hangup", headers=bearer(SUPERVISOR))
    assert missing.status == 404 and "no call" in (await missing.json())["error"]
    assert (await client.post("/api/calls/live-1/hangup", headers=bearer(AGENT))).status == 403


async def test_cdrs_timeline_recordings_and_voicemails(api: tuple[TestClient[Any, Any], FakeControlPlane, Path],
                                                       ) -> None:
    client, _, audio = api
    listed = await (await client.get("/api/cdrs", params={"from": "2026-11-20T00:00", "limit": "5"},
                                     headers=bearer(SUPERVISOR))).json()
    assert 0 < len(listed["cdrs"]) <= 5
    times = [row["arrived_at"] for row in listed["cdrs"]]
    assert times == sorted(times, reverse=True)
    one = await (await client.get("/api/cdrs/A1", headers=bearer(SUPERVISOR))).json()
    assert [event["event"] for event in one["timeline"]] == ["ENTERQUEUE", "CONNECT"]
    assert [r["recording_id"] for r in one["recordings"]] == ["r1"] and "data" not in one["recordings"][0]
    assert [v["mailbox"] for v in one["voicemails"]] == ["sales"]
    audio_response = await client.get("/api/recordings/r1", headers=bearer(SUPERVISOR))
    assert audio_response.status == 200 and audio_response.content_type == "audio/wav"
    assert await audio_response.read() == audio.read_bytes()
    voicemails = await (await client.get("/api/voicemails", params={"mailbox": "sales"},
                                         headers=bearer(SUPERVISOR))).json()
    assert [v["voicemail_id"] for v in voicemails["voicemails"]] == ["v1"]
    assert (await client.get("/api/cdrs/none", headers=bearer(SUPERVISOR))).status == 404
    assert (await client.get("/api/recordings/none", headers=bearer(SUPERVISOR))).status == 404
    bad = await client.get("/api/cdrs", params={"from": "last tuesday"}, headers=bearer(SUPERVISOR))
    assert bad.status == 400 and "ISO 8601" in (await bad.json())["error"]
    assert (await client.get("/api/cdrs", params={"limit": "0"}, headers=bearer(SUPERVISOR))).status == 400


async def test_an_agent_token_reads_only_its_own_cdrs(api: tuple[TestClient[Any, Any], FakeControlPlane, Path],
                                                      ) -> None:
    client, _, _ = api
    everyone = await (await client.get("/api/cdrs", headers=bearer(SUPERVISOR))).json()
    assert {row["agent"] for row in everyone["cdrs"]} - {None} == {"alice", "bob"}
    mine = await (await client.get("/api/cdrs", params={"agent": "alice"}, headers=bearer(AGENT))).json()
    assert mine["cdrs"] == []  # agent 1001 answered none of the data set's calls; 'agent=' cannot widen it


async def test_pause_and_resume_a_live_calls_recording(api: tuple[TestClient[Any, Any], FakeControlPlane, Path],
                                                       ) -> None:
    client, control, _ = api
    control.answer("live-1", "1002")
    unrecorded = await client.post("/api/calls/live-1/recording/pause", headers=bearer(SUPERVISOR))
    assert unrecorded.status == 409 and "not being recorded" in (await unrecorded.json())["error"]
    control.recorded["live-1"] = False
    paused = await client.post("/api/calls/live-1/recording/pause", headers=bearer(SUPERVISOR))
    assert paused.status == 200 and await paused.json() == {"call_id": "live-1", "recording": "paused",
                                                            "changed": True}
    again = await (await client.post("/api/calls/live-1/recording/pause", headers=bearer(SUPERVISOR))).json()
    assert again["changed"] is False
    # An agent controls the recording of its own calls only.
    assert (await client.post("/api/calls/live-1/recording/resume", headers=bearer(AGENT))).status == 403
    control.answer("live-1", "1001")
    resumed = await client.post("/api/calls/live-1/recording/resume", headers=bearer(AGENT))
    assert resumed.status == 200 and (await resumed.json())["recording"] == "on"
    assert control.recording_actions == [("live-1", "pause", "api", "supervisor"),
                                         ("live-1", "pause", "api", "supervisor"),
                                         ("live-1", "resume", "api", "1001")]
    assert (await client.post("/api/calls/nope/recording/pause", headers=bearer(SUPERVISOR))).status == 404
    assert (await client.post("/api/calls/live-1/recording/stop", headers=bearer(SUPERVISOR))).status == 404


async def test_a_calls_recordings_are_listed_linked_and_served_in_ranges(
        api: tuple[TestClient[Any, Any], FakeControlPlane, Path]) -> None:
    client, _, audio = api
    listed = await (await client.get("/api/cdrs/A1/recordings", headers=bearer(SUPERVISOR))).json()
    [one] = listed["recordings"]
    assert (one["recording_id"], one["url"], one["duration_seconds"]) == ("r1", "/api/recordings/r1", 12.0)
    assert "data" not in one
    cdrs = (await (await client.get("/api/cdrs", headers=bearer(SUPERVISOR))).json())["cdrs"]
    assert {cdr["call_id"]: cdr["recordings"] for cdr in cdrs}["A1"] == ["/api/recordings/r1"]
    assert (await (await client.get("/api/cdrs/A1", headers=bearer(SUPERVISOR))).json())["recordings"][0]["url"] \
        == "/api/recordings/r1"
    assert (await client.get("/api/cdrs/nope/recordings", headers=bearer(SUPERVISOR))).status == 404
    whole = audio.read_bytes()
    part = await client.get("/api/recordings/r1", headers={**bearer(SUPERVISOR), "Range": "bytes=4-9"})
    assert part.status == 206 and await part.read() == whole[4:10]
    assert part.headers["Content-Range"] == f"bytes 4-9/{len(whole)}"
    assert (await client.get("/api/recordings/r1")).status == 401  # the bearer token, always


async def test_an_agent_hears_only_the_calls_it_took_part_in(api: tuple[TestClient[Any, Any], FakeControlPlane, Path],
                                                             tmp_path: Path) -> None:
    client, control, _ = api
    assert control.engine is not None
    blob = b"RIFF" + bytes(range(256)) * 4
    mine: list[Record] = [
        CallRecord("M1", 1, "n", "inbound", H9 + 900, agent="1001", disposition="answered"),
        CallRecord("M2", 1, "n", "inbound", H9 + 950, agent="1002", disposition="answered"),
        CallLegRecord("l1", "M2", 1, "agent", "1001", H9 + 960, "sip-m2"),  # 1001 joined M2 (a transfer)
        RecordingRecord("r2", "M1", str(tmp_path / "gone.wav"), "wav", 1.0, len(blob), "0" * 64, H9 + 901),
        RecordingRecord("r3", "M2", str(tmp_path / "gone.wav"), "wav", 1.0, len(blob), "0" * 64, H9 + 951),
    ]
    async with control.engine.begin() as connection:
        for record in mine:
            row = record_fields(record)
            if record.kind == "recording":
                row["data"] = blob  # kept in the database (storage: database)
            await connection.execute(TABLE_OF_KIND[record.kind].insert(), [row])
    for call_id, status in (("M1", 200), ("M2", 200), ("A1", 403)):
        for path in (f"/api/cdrs/{call_id}", f"/api/cdrs/{call_id}/recordings"):
            response = await client.get(path, headers=bearer(AGENT))
            assert response.status == status, (path, await response.text())
    assert (await client.get("/api/recordings/r1", headers=bearer(AGENT))).status == 403
    whole = await client.get("/api/recordings/r2", headers=bearer(AGENT))
    assert whole.status == 200 and await whole.read() == blob and whole.headers["Accept-Ranges"] == "bytes"
    tail = await client.get("/api/recordings/r3", headers={**bearer(AGENT), "Range": "bytes=-100"})
    assert tail.status == 206 and await tail.read() == blob[-100:]
    assert tail.headers["Content-Range"] == f"bytes {len(blob) - 100}-{len(blob) - 1}/{len(blob)}"
    beyond = await client.get("/api/recordings/r3", headers={**bearer(AGENT), "Range": f"bytes={len(blob)}-"})
    assert beyond.status == 416 and beyond.headers["Content-Range"] == f"bytes */{len(blob)}"


async def test_sealed_recordings_are_served_decrypted(api: tuple[TestClient[Any, Any], FakeControlPlane, Path],
                                                      tmp_path: Path) -> None:
    client, control, _ = api
    assert control.engine is not None
    key = os.urandom(32)
    audio = b"RIFF" + os.urandom(3000)
    on_disk = tmp_path / "S1.wav.enc"
    on_disk.write_bytes(seal(audio, key))
    rows: list[Record] = [
        CallRecord("S1", 1, "n", "inbound", H9 + 700, disposition="answered"),
        RecordingRecord("rs-disk", "S1", str(on_disk), "wav", 1.0, len(audio), "0" * 64, H9 + 701),
        RecordingRecord("rs-db", "S1", str(tmp_path / "gone.wav.enc"), "wav", 1.0, len(audio), "0" * 64, H9 + 702),
    ]
    async with control.engine.begin() as connection:
        for record in rows:
            row = record_fields(record)
            if record.kind == "recording":
                row["data"] = seal(audio, key) if row["recording_id"] == "rs-db" else None
            await connection.execute(TABLE_OF_KIND[record.kind].insert(), [row])
    refused = await client.get("/api/recordings/rs-disk", headers=bearer(SUPERVISOR))
    assert refused.status == 503 and "key_file" in (await refused.json())["error"]
    control.sealing_key = key
    for recording_id in ("rs-disk", "rs-db"):
        whole = await client.get(f"/api/recordings/{recording_id}", headers=bearer(SUPERVISOR))
        assert whole.status == 200 and await whole.read() == audio, recording_id
        part = await client.get(f"/api/recordings/{recording_id}", headers={**bearer(SUPERVISOR),
                                                                            "Range": "bytes=0-3"})
        assert part.status == 206 and await part.read() == b"RIFF"
    control.sealing_key = os.urandom(32)
    wrong = await client.get("/api/recordings/rs-db", headers=bearer(SUPERVISOR))
    assert wrong.status == 503 and "does not open" in (await wrong.json())["error"]
