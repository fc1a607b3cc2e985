"""Recording retention: recordings older than the dial plan's days lose their audio (file, or the copy in the
database), keep their row with ``deleted_at``, and their call's timeline says so; younger ones stay."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from sqlalchemy import select

from voxcenter.runtime.retention import DAY, delete_expired, keep_recordings, prune_ended, stop_keeping
from voxcenter.store.db import make_engine, upgrade_async
from voxcenter.store.models import TABLE_OF_KIND
from voxcenter.store.records import CallRecord, DeskSessionRecord, RecordingRecord, WebhookDeliveryRecord
from voxcenter.store.writer import DurableWriter


async def test_old_recordings_are_deleted_and_say_so_in_the_timeline(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    await upgrade_async(url)
    now = time.time()
    writer = DurableWriter(tmp_path / "journal", url, recordings_in_database=True)
    await writer.start()
    files = {}
    for call_id, age_days in (("old", 31.0), ("older", 400.0), ("young", 29.0)):
        path = tmp_path / f"{call_id}.wav"
        path.write_bytes(b"RIFF" + call_id.encode())
        files[call_id] = path
        writer.submit(CallRecord(call_id=call_id, version=1, node="n", direction="inbound",
                                 arrived_at=now - age_days * DAY))
        writer.submit(RecordingRecord(f"r-{call_id}", call_id, str(path), "wav", 1.0, path.stat().st_size,
                                      "0" * 64, now - age_days * DAY, truncated=call_id == "old"))
    (tmp_path / "old.wav.truncated").write_text("repaired at start\n")
    assert await writer.flush(10.0)

    done: set[str] = set()
    assert await delete_expired(url, writer, 30, now, done) == 2
    assert await delete_expired(url, writer, 30, now, done) == 0  # rows maybe not written yet: not twice
    assert await writer.flush(10.0)
    assert await delete_expired(url, writer, 30, now) == 0  # deleted rows are not taken again
    assert await writer.close(within=10.0)

    assert not files["old"].exists() and not files["older"].exists() and files["young"].exists()
    assert not (tmp_path / "old.wav.truncated").exists()
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            recordings = {row.recording_id: row for row in await connection.execute(
                select(TABLE_OF_KIND["recording"]))}
            events = [row for row in await connection.execute(select(TABLE_OF_KIND["call_event"]))]
    finally:
        await engine.dispose()
    assert recordings["r-old"].deleted_at == recordings["r-older"].deleted_at
    assert abs(recordings["r-old"].deleted_at - now) < 1.0 and recordings["r-old"].version == 2
    assert recordings["r-old"].data is None and recordings["r-old"].truncated  # the row stays, the audio goes
    assert recordings["r-young"].deleted_at is None and recordings["r-young"].data == b"RIFFyoung"
    lines = sorted((row.call_id, row.event, json.loads(row.data)["recording_id"], json.loads(row.data)["days"])
                   for row in events)
    assert lines == [("old", "RECORDINGDELETED", "r-old", 30), ("older", "RECORDINGDELETED", "r-older", 30)]


class Sink:
    def __init__(self) -> None:
        self.records: list[object] = []

    def submit(self, record: object) -> None:
        self.records.append(record)


async def test_the_period_is_read_each_round_and_none_deletes_nothing(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    await upgrade_async(url)
    days: list[int | None] = [None]
    rounds = []

    def period() -> int | None:
        rounds.append(days[0])
        return days[0]

    sink = Sink()
    task = asyncio.get_running_loop().create_task(keep_recordings(url, sink, period, time.time, every=0.01))
    while len(rounds) < 3:
        await asyncio.sleep(0.01)
    days[0] = 7
    while len(rounds) < 6:
        await asyncio.sleep(0.01)
    await stop_keeping(task)
    assert task.cancelled() and sink.records == []  # an empty store: nothing to delete, no error
    assert None in rounds and 7 in rounds


async def test_ended_desk_sign_ins_and_webhook_deliveries_are_pruned(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    await upgrade_async(url)
    now = time.time()
    writer = DurableWriter(tmp_path / "journal", url)
    await writer.start()
    for token, expires in (("gone", now - 2 * DAY), ("recent", now - 3600), ("live", now + 3600)):
        writer.submit(DeskSessionRecord(token_hash=token, version=1, agent="1001", issued_at=expires - 43200,
                                        expires_at=expires, revoked=token == "recent"))
    for delivery, status, age in (("old-done", "delivered", 31), ("old-pending", "pending", 31),
                                  ("young-done", "gave_up", 29), ("old-refused", "refused", 40)):
        writer.submit(WebhookDeliveryRecord(delivery=delivery, url="http://crm.example/hook", version=1,
                                            event="call.ended", body="{}", attempts=1, status=status,
                                            next_attempt_at=now, at=now - age * DAY))
    assert await writer.flush(10)
    await writer.close(within=10)
    assert await prune_ended(url, now) == (1, 2)
    engine = make_engine(url)
    async with engine.connect() as connection:
        tokens = {row.token_hash for row in await connection.execute(select(TABLE_OF_KIND["desk_session"]))}
        deliveries = {row.delivery for row in await connection.execute(select(TABLE_OF_KIND["webhook_delivery"]))}
    await engine.dispose()
    assert tokens == {"recent", "live"}
    assert deliveries == {"old-pending", "young-done"}  # a pending one is kept however old: it is still owed
    assert await prune_ended(url, now) == (0, 0)
