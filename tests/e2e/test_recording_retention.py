"""``recording.retention_days`` on a running server: at start, recordings older than the period lose their audio,
keep their row with ``deleted_at``, and their call's timeline and the API say so; a younger one stays playable."""

from __future__ import annotations

import json
import time
from pathlib import Path

import aiohttp

from tests.e2e.harness import dial_plan, query, rtp_base_for_test, served, wait_for
from tests.interop.sipp import free_port
from voxcenter.runtime.retention import DAY
from voxcenter.store.db import upgrade_async
from voxcenter.store.records import CallRecord, RecordingRecord
from voxcenter.store.writer import DurableWriter


async def test_recordings_older_than_the_period_are_deleted_at_start(tmp_path: Path) -> None:
    api_port = free_port()
    plan = dial_plan(tmp_path, sip_port=free_port(), rtp_base=rtp_base_for_test(), api_port=api_port)
    text = plan.read_text()
    assert "recording:\n  enabled: true\n" in text
    plan.write_text(text.replace("recording:\n  enabled: true\n", "recording:\n  enabled: true\n"
                                 "  retention_days: 30\n"))
    db = tmp_path / "voxcenter.db"
    url = f"sqlite+aiosqlite:///{db}"
    await upgrade_async(url)
    writer = DurableWriter(tmp_path / "seed-journal", url)
    await writer.start()
    now = time.time()
    paths = {}
    for call_id, age in (("old-call", 45), ("new-call", 2)):
        path = tmp_path / "recordings" / f"{call_id}.wav"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"RIFF" + bytes(64))
        paths[call_id] = path
        writer.submit(CallRecord(call_id=call_id, version=1, node="test", direction="inbound",
                                 arrived_at=now - age * DAY, ended_at=now - age * DAY + 60, disposition="answered"))
        writer.submit(RecordingRecord(f"rec-{call_id}", call_id, str(path), "wav", 60.0, 68, "0" * 64,
                                      now - age * DAY))
    assert await writer.close(within=10.0)

    async with served(plan):
        await wait_for(lambda: not paths["old-call"].exists(), 20, "the old recording deleted")

        def deleted() -> bool:
            rows = query(db, "select deleted_at from recordings where recording_id = 'rec-old-call'")
            return bool(rows) and rows[0][0] is not None

        await wait_for(deleted, 20, "its row marked deleted")
        headers = {"Authorization": "Bearer test-token"}
        async with aiohttp.ClientSession(headers=headers, base_url=f"http://127.0.0.1:{api_port}") as session:
            async with session.get("/api/recordings/rec-old-call") as gone:
                assert gone.status == 410 and "retention_days" in (await gone.json())["error"]
            async with session.get("/api/recordings/rec-new-call") as kept:
                assert kept.status == 200 and await kept.read() == paths["new-call"].read_bytes()
            async with session.get("/api/cdrs/old-call") as cdr:
                record = await cdr.json()
    assert paths["new-call"].exists()
    [recording] = record["recordings"]
    assert recording["url"] is None and recording["deleted_at"] is not None
    [line] = [event for event in record["timeline"] if event["event"] == "RECORDINGDELETED"]
    assert json.loads(line["data"]) == {"recording_id": "rec-old-call", "reason": "retention", "days": 30,
                                        "recorded_at": recording["started_at"]}
