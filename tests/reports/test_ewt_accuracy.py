"""EWT accuracy from real calls, per queue: the estimate stored at join against the actual wait, on both databases.

Support: S1 waited 100 s on an estimate of 120 s (within 30 s: hit), S2 400 s on 300 s (off 100 s, 25 % of 400 s:
hit), S3 400 s on 299 s (off 101 s: miss), S4 answered at once (not judged), S5 abandoned (not judged), S6 no
estimate (not judged). Sales: L1 60 s on 200 s (miss). Support 2/3, sales 0/1.
"""

from __future__ import annotations

import dataclasses

import pytest

from tests.reports.dataset import DAY0, H9, load, queued
from voxcenter.acd.stats import ewt_hit
from voxcenter.reports.kpi import build_report
from voxcenter.reports.render import report_json, report_table
from voxcenter.store.db import make_engine
from voxcenter.store.records import CallRecord


def estimated(call_id: str, at: float, wait: float, ewt: float | None, queue: str = "support",
              disposition: str = "answered") -> CallRecord:
    agent = "alice" if disposition == "answered" else None
    return dataclasses.replace(queued(call_id, at, wait, disposition, queue=queue, agent=agent, talk=60),
                               ewt_seconds=ewt)


async def test_ewt_accuracy_per_queue(database_url: str) -> None:
    await load(database_url, [
        estimated("S1", H9, 100, 120),
        estimated("S2", H9 + 10, 400, 300),
        estimated("S3", H9 + 20, 400, 299),
        estimated("S4", H9 + 30, 0, 0),
        estimated("S5", H9 + 40, 90, 30, disposition="abandoned_queue"),
        estimated("S6", H9 + 50, 80, None),
        estimated("L1", H9 + 60, 60, 200, queue="sales"),
    ])
    assert [ewt_hit(e, w) for e, w in ((120, 100), (300, 400), (299, 400), (200, 60))] == [True, True, False, False]
    engine = make_engine(database_url)
    try:
        report = await build_report(engine, DAY0, DAY0 + 86400, interval="hour")
        only_sales = await build_report(engine, DAY0, DAY0 + 86400, interval="hour", queue="sales")
    finally:
        await engine.dispose()
    rows = {row.queue: row for row in report.ewt}
    assert (rows["support"].judged, rows["support"].hits) == (3, 2)
    assert rows["support"].accuracy == pytest.approx(2 / 3)
    assert rows["support"].mean_ewt == pytest.approx((120 + 300 + 299) / 3)
    assert (rows["sales"].judged, rows["sales"].hits, rows["sales"].accuracy) == (1, 0, 0.0)
    assert [row.queue for row in only_sales.ewt] == ["sales"]
    text = report_table(report)
    assert "EWT accuracy" in text and "66.7%" in text
    assert '"accuracy": 0.0' in report_json(report)
