"""The durable writer against real PostgreSQL and SQLite: every table, idempotence, versions, replay."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from tests.store.lifecycle import call_lifecycle
from voxcenter.store.db import make_engine, upgrade_async
from voxcenter.store.journal import Journal
from voxcenter.store.models import TABLE_OF_KIND, Call, CallEventRow, Recording
from voxcenter.store.records import CallRecord, SurveyRecord, encode_record
from voxcenter.store.writer import REJECTED_NAME, DurableWriter, WriterClosedError


async def table_counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return {
                table.name: (await conn.execute(select(func.count()).select_from(table))).scalar_one()
                for table in TABLE_OF_KIND.values()
            }
    finally:
        await engine.dispose()


async def test_call_lifecycle_writes_every_table(database_url: str, tmp_path: Path) -> None:
    writer = DurableWriter(
        tmp_path / "journal", database_url, batch_size=7, flush_interval=0.02, recordings_in_database=True
    )
    await writer.start()
    records = call_lifecycle(1_700_000_000.0, tmp_path)
    for record in records:
        writer.submit(record)
    assert await writer.flush(within=20)
    assert await writer.close(within=5)
    counts = await table_counts(database_url)
    assert counts == {
        "calls": 1,
        "call_legs": 2,
        "call_events": 6,
        "agent_events": 4,
        "recordings": 1,
        "customers": 1,
        "interactions": 1,
        "callbacks": 1,
        "voicemails": 1,
        "surveys": 1,
        "registrations": 1,
        "agent_states": 1,
        "queue_members": 1,
        "campaign_contacts": 1,
        "do_not_call": 1,
        "campaign_states": 1,
        "desk_sessions": 1,
        "webhook_deliveries": 1,
    }
    engine = make_engine(database_url)
    async with engine.connect() as conn:
        call = (await conn.execute(select(Call))).one()
        assert (call.version, call.disposition, call.agent, call.wait_seconds) == (3, "answered", "alice", 30.0)
        estimate = (await conn.execute(select(CallEventRow.value).where(CallEventRow.event == "ESTIMATEDWAIT"))).one()
        assert estimate.value == 45.0
        blob = (await conn.execute(select(Recording.data))).scalar_one()
        assert blob == b"RIFF" + bytes(100)
    await engine.dispose()
    stats = writer.stats()
    assert (stats.submitted, stats.journaled, stats.written, stats.pending) == (
        len(records),
        len(records),
        len(records),
        0,
    )


async def test_older_version_never_replaces_newer(database_url: str, tmp_path: Path) -> None:
    v1 = CallRecord("C1", 1, "n", "inbound", 100.0)
    v2 = dataclasses.replace(v1, version=2, disposition="abandoned_queue", ended_at=130.0)
    writer = DurableWriter(tmp_path / "j", database_url, flush_interval=0.02)
    await writer.start()
    writer.submit(v2)
    assert await writer.flush(within=20)
    writer.submit(v1)  # arrives late (another batch, or a replay)
    writer.submit(v2)
    writer.submit(v1)  # and within one batch
    assert await writer.close(within=20)
    engine = make_engine(database_url)
    async with engine.connect() as conn:
        rows = (await conn.execute(select(Call.version, Call.disposition))).all()
    await engine.dispose()
    assert rows == [(2, "abandoned_queue")]


async def test_replay_after_crash_between_insert_and_checkpoint(database_url: str, tmp_path: Path) -> None:
    records = call_lifecycle(1_700_000_000.0, tmp_path)
    writer = DurableWriter(tmp_path / "j", database_url, flush_interval=0.02)
    await writer.start()
    for record in records:
        writer.submit(record)
    assert await writer.close(within=20)
    # Simulate the crash: the rows are in, but the checkpoint is lost, so everything is replayed.
    (tmp_path / "j" / "checkpoint").write_text("0\n")
    again = DurableWriter(tmp_path / "j", database_url, flush_interval=0.02)
    await again.start()
    assert again.stats().replayed == len(records)
    assert await again.close(within=20)
    counts = await table_counts(database_url)
    assert sum(counts.values()) == 27  # one row per table entry of the lifecycle, replayed idempotently


async def test_refused_record_is_set_aside_and_others_written(database_url: str, tmp_path: Path) -> None:
    writer = DurableWriter(tmp_path / "j", database_url, flush_interval=0.02)
    await writer.start()
    good = SurveyRecord("S1", "C1", 1.0, 7)
    # A record that passes Python checks but not the schema: a 40-character id in a 32-character column is
    # refused by PostgreSQL; SQLite does not check lengths, so there a NUL-free oversized key still inserts.
    bad = SurveyRecord("S" * 40, "C1", 1.0, 8) if "postgresql" in database_url else None
    writer.submit(good)
    if bad is not None:
        writer.submit(bad)
    writer.submit(SurveyRecord("S2", "C1", 1.0, 9))
    assert await writer.close(within=20)
    counts = await table_counts(database_url)
    if bad is not None:
        assert counts["surveys"] == 2
        rejected = (tmp_path / "j" / REJECTED_NAME).read_text()
        assert "S" * 40 in rejected
        assert writer.stats().rejected == 1
    else:
        assert counts["surveys"] == 2


async def test_submit_after_close_is_a_caller_bug(tmp_path: Path) -> None:
    writer = DurableWriter(tmp_path / "j", f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    await writer.start()
    await writer.close(within=1)
    with pytest.raises(WriterClosedError):
        writer.submit(SurveyRecord("S1", "C1", 1.0, 7))
    with pytest.raises(TypeError):
        DurableWriter(tmp_path / "k", "sqlite:///x.db").submit("not a record")  # type: ignore[arg-type]


async def test_missing_schema_is_retried_not_rejected(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    writer = DurableWriter(tmp_path / "j", url, flush_interval=0.02, max_backoff=0.05)
    await writer.start()
    writer.submit(SurveyRecord("S1", "C1", 1.0, 7))
    assert not await writer.flush(within=0.5)
    assert writer.stats().database_failures >= 1
    assert writer.stats().rejected == 0
    assert not await writer.close(within=0.2)
    journal = Journal(tmp_path / "j")
    assert [encode_record(SurveyRecord("S1", "C1", 1.0, 7))] == [p for _s, p in journal.uncommitted()]
    journal.close()


async def test_engine_survives_text_query(database_url: str) -> None:
    engine = make_engine(database_url)
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
    await engine.dispose()


async def test_unencodable_record_is_set_aside(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    await upgrade_async(url)
    writer = DurableWriter(tmp_path / "j", url, flush_interval=0.02)
    await writer.start()
    writer.submit(CallRecord("C1", 1, "n", "inbound", 1.0, mos=complex(4, 1)))  # type: ignore[arg-type]
    writer.submit(CallRecord("C2", 1, "n", "inbound", 2.0))
    assert await writer.close(within=10)
    assert (await table_counts(url))["calls"] == 1
    assert "cannot encode call record" in (tmp_path / "j" / REJECTED_NAME).read_text()
