"""KPIs of a hand-made day, numbers worked out by hand, on PostgreSQL and SQLite.

The day (T = 20 s, S = 5 s), hour 09:00: A1 wait 10 answered by alice (talk 100 + hold 20 + wrap 30 = 150),
A2 wait 30 bob (240), A3 wait 20 alice (90), B1 abandoned at 3 s (short), B2 abandoned at 15 s, B3 at 45 s,
C1 left for a callback after 60 s, O1 outbound, I1 hung up in the IVR. Hour 10:00: A4 (queue sales) wait 5 bob
(300 + 60 = 360), T1 timed out after 300 s.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.reports.dataset import DAY0, H9, H10, load, records
from voxcenter.reports.kpi import KpiRow, ReportError, build_report
from voxcenter.store.db import make_engine


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    await load(database_url, records())
    engine = make_engine(database_url)
    yield engine
    await engine.dispose()


async def test_hourly_report_hand_checked(engine: AsyncEngine) -> None:
    report = await build_report(engine, DAY0, DAY0 + 86400, interval="hour", sl_threshold=20, short_abandon=5)
    nine, ten = report.rows
    assert (nine.start, ten.start) == (H9, H10)
    # 09:00: 8 inbound, 1 outbound; queued 7, short 1 -> offered 6; answered 3, abandoned 2 (B2, B3);
    # missed = B2, B3, C1.
    assert (
        nine.inbound,
        nine.outbound,
        nine.offered,
        nine.answered,
        nine.abandoned,
        nine.short_abandons,
        nine.missed,
    ) == (8, 1, 6, 3, 2, 1, 3)
    assert nine.aht == 160.0  # (150 + 240 + 90) / 3
    assert nine.asa == 20.0  # (10 + 30 + 20) / 3
    assert nine.average_wait == 30.0  # (10 + 30 + 20 + 15 + 45 + 60) / 6
    assert nine.longest_wait == 60.0
    assert nine.abandonment_rate == pytest.approx(2 / 6)
    # A1 and A3 within T (20 s counts as within) / (3 answered + B2 and B3 abandoned): what the API shows too.
    assert nine.service_level == pytest.approx(2 / 5)
    assert nine.service_level_2 == pytest.approx(0.5)  # 2 / (3 answered + B3)
    assert nine.service_level_2_asterisk == pytest.approx(0.6)  # (2 + B2) / (3 + 2)
    assert (nine.callbacks_requested, nine.callbacks_completed) == (1, 1)
    assert nine.nps == 25.0  # (2 promoters - 1 detractor) / 4
    assert (ten.inbound, ten.offered, ten.answered, ten.missed) == (2, 2, 1, 1)
    assert (ten.aht, ten.asa, ten.average_wait, ten.longest_wait) == (360.0, 5.0, 152.5, 300.0)
    assert (ten.abandonment_rate, ten.service_level, ten.service_level_2) == (0.0, 1.0, 1.0)
    assert (ten.callbacks_requested, ten.callbacks_completed, ten.nps) == (1, 0, -100.0)
    total = report.total
    assert (total.inbound, total.outbound, total.offered, total.answered, total.abandoned, total.missed) == (
        10,
        1,
        8,
        4,
        2,
        4,
    )
    assert (total.aht, total.asa, total.average_wait, total.longest_wait) == (210.0, 16.25, 60.625, 300.0)
    assert total.abandonment_rate == 0.25
    assert total.service_level == 0.5  # (A1, A3, A4) / (4 answered + 2 abandoned)
    assert total.service_level_2 == pytest.approx(0.6)
    assert total.service_level_2_asterisk == pytest.approx(4 / 6)
    assert total.nps == 0.0
    assert [(a.agent, a.calls, a.aht, a.talk_seconds) for a in report.agents] == [
        ("alice", 2, 120.0, 190.0),
        ("bob", 2, 300.0, 500.0),
    ]
    assert [(b.low, b.answered, b.abandoned, b.other) for b in report.wait_distribution] == [
        (0, 1, 0, 0),
        (10, 1, 1, 0),
        (20, 1, 0, 0),
        (30, 1, 1, 0),
        (60, 0, 0, 1),
        (120, 0, 0, 0),
        (300, 0, 0, 1),
    ]


async def test_daily_interval_equals_total_and_queue_filter(engine: AsyncEngine) -> None:
    daily = await build_report(engine, DAY0, DAY0 + 86400, interval="day")
    assert len(daily.rows) == 1 and daily.rows[0].start == DAY0
    assert daily.rows[0].as_dict() | {"start": 0} == daily.total.as_dict() | {"start": 0}
    sales = await build_report(engine, DAY0, DAY0 + 86400, queue="sales", interval="15m")
    assert [row.start for row in sales.rows] == [H10]
    assert (sales.total.answered, sales.total.aht, sales.total.nps, sales.total.callbacks_requested) == (
        1,
        360.0,
        -100.0,
        0,
    )


async def test_short_abandon_threshold_moves_b1(engine: AsyncEngine) -> None:
    report = await build_report(engine, H9, H9 + 3600, short_abandon=0)
    assert (report.total.offered, report.total.abandoned, report.total.short_abandons) == (7, 3, 0)
    assert report.total.abandonment_rate == pytest.approx(3 / 7)


async def test_bad_parameters(engine: AsyncEngine) -> None:
    with pytest.raises(ReportError, match="interval"):
        await build_report(engine, DAY0, DAY0 + 1, interval="week")
    with pytest.raises(ReportError, match="after its start"):
        await build_report(engine, DAY0, DAY0)


def test_empty_ratios_are_none() -> None:
    row = KpiRow(start=0)
    assert (row.aht, row.asa, row.service_level, row.service_level_2, row.nps) == (None, None, None, None, None)


async def test_nps_per_agent_and_per_queue(engine: AsyncEngine) -> None:
    report = await build_report(engine, DAY0, DAY0 + 86400, interval="day")
    by_agent = {a.agent: a for a in report.agents}
    # alice: S1 10, S3 7, S4 3 -> (1 - 1) / 3; bob: S2 9, S5 0 -> (1 - 1) / 2
    assert [(by_agent[n].surveys, by_agent[n].promoters, by_agent[n].detractors, by_agent[n].nps)
            for n in ("alice", "bob")] == [(3, 1, 1, 0.0), (2, 1, 1, 0.0)]
    sales = await build_report(engine, DAY0, DAY0 + 86400, interval="day", queue="sales")
    assert sales.total.nps == -100.0  # S5 only
    assert [(a.agent, a.surveys, a.nps) for a in sales.agents] == [("bob", 1, -100.0)]
