"""Migration 0005 on rows written in the old format (POSIX-second doubles): the same instants come out as
``timestamptz`` (PostgreSQL) or ISO 8601 text (SQLite), durations rounded to the millisecond, and reports and
reads through the models keep working."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from tests.store.databases import fresh_schema
from voxcenter.reports.kpi import build_report
from voxcenter.store.db import alembic_config, make_engine, upgrade_async
from voxcenter.store.models import Call, Callback
from voxcenter.store.types import from_iso_text, iso_text

T0 = 1_700_000_000.12345
"""2023-11-14 22:13:20.123 UTC (and 0.45 ms that the millisecond rounding drops)."""

OLD_CALL = (
    "INSERT INTO calls (call_id, version, node, direction, arrived_at, from_number, to_number, trunk, sip_call_id,"
    " answered_at, queue, queue_entered_at, agent, agent_answered_at, ended_at, wait_seconds, talk_seconds,"
    " hold_seconds, wrapup_seconds, disposition) VALUES ('C1', 3, 'n', 'inbound', :t0, '100', '200', 'carrier',"
    " 's1', :t1, 'sales', :t2, 'alice', :t12, :t100, 10.4999, 87.12345, 0, 4.0006,"
    " 'answered')"
)
OLD_CALLBACK = (
    "INSERT INTO callbacks (callback_id, version, call_id, number, queue, requested_at, status, attempts)"
    " VALUES ('B1', 1, 'C1', '100', 'sales', :t5, 'pending', 0)"
)
OLD_EVENT = (
    "INSERT INTO call_events (event_id, call_id, at, event, queue, value)"
    " VALUES ('E1', 'C1', :t12, 'CONNECT', 'sales', 10.4999)"
)


@pytest.fixture(params=["sqlite", "postgresql"])
async def old_database(request: pytest.FixtureRequest, pg_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """A database at revision 0002 holding a call, its CONNECT event and a callback in the old format."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    else:
        await fresh_schema(pg_url)
        url = pg_url
    await upgrade_async(url, "0002")
    engine = make_engine(url)
    async with engine.begin() as conn:
        for statement in (OLD_CALL, OLD_CALLBACK, OLD_EVENT):
            times = {"t0": T0, "t1": T0 + 1, "t2": T0 + 2, "t5": T0 + 5, "t12": T0 + 12.5, "t100": T0 + 100}
            await conn.execute(text(statement), {k: v for k, v in times.items() if f":{k}" in statement})
    await engine.dispose()
    yield url


def test_iso_text_is_fixed_width_utc_milliseconds() -> None:
    assert iso_text(T0) == "2023-11-14T22:13:20.123Z"
    assert iso_text(0.9996) == "1970-01-01T00:00:01.000Z"  # rounds, carrying into the seconds
    assert from_iso_text(iso_text(T0)) == 1_700_000_000.123
    assert from_iso_text("2023-11-14T23:13:20.123+01:00") == 1_700_000_000.123


async def test_old_rows_keep_their_instants_and_reports_still_count_them(old_database: str) -> None:
    await upgrade_async(old_database)
    engine = make_engine(old_database)
    postgresql = engine.dialect.name == "postgresql"
    async with engine.connect() as conn:
        stored = (await conn.execute(text("SELECT arrived_at, ended_at, talk_seconds, wait_seconds,"
                                          " wrapup_seconds FROM calls"))).one()
        [connect_at] = (await conn.execute(text("SELECT at FROM call_events"))).scalars()
        if postgresql:
            types = dict((await conn.execute(text(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'calls'"))).all())
            assert types["arrived_at"] == types["ended_at"] == "timestamp with time zone"
            assert stored.arrived_at == datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)
        else:
            assert (stored.arrived_at, stored.ended_at) == ("2023-11-14T22:13:20.123Z", "2023-11-14T22:15:00.123Z")
            assert connect_at == "2023-11-14T22:13:32.623Z"
        assert (stored.talk_seconds, stored.wait_seconds, stored.wrapup_seconds) == (87.123, 10.5, 4.001)
        # Read through the models: POSIX seconds again, as every record carries them.
        call = (await conn.execute(select(Call.arrived_at, Call.agent_answered_at, Call.ended_at))).one()
        assert tuple(call) == (1_700_000_000.123, 1_700_000_012.623, 1_700_000_100.123)
        requested = (await conn.execute(select(Callback.requested_at))).scalar_one()
        assert requested == 1_700_000_005.123
    report = await build_report(engine, T0 - 3600, T0 + 3600, interval="hour", sl_threshold=20)
    await engine.dispose()
    total = report.total
    assert (total.inbound, total.answered, total.callbacks_requested) == (1, 1, 1)
    assert total.asa == 10.5 and total.aht == pytest.approx(87.123 + 4.001)
    assert [row.start for row in report.rows] == [1_699_999_200.0]  # 22:00 UTC, the hour of the call


async def test_downgrade_gives_the_seconds_back(old_database: str) -> None:
    await upgrade_async(old_database)
    engine = make_engine(old_database)

    def downgrade(connection: Connection) -> None:
        config = alembic_config(engine.url)
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")

    async with engine.begin() as conn:
        await conn.run_sync(downgrade)
    async with engine.connect() as conn:
        arrived = (await conn.execute(text("SELECT arrived_at FROM calls"))).scalar_one()
    await engine.dispose()
    assert float(arrived) == pytest.approx(1_700_000_000.123, abs=1e-6)
