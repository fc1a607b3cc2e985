"""Callback SLA, outcomes and attempts in the report: a hand-made hour, worked out by hand, on both databases.

Every callback below is booked in hour 09:00 with a 300 s target; the report is asked at ``NOW``:
CB1 first dialled after 120 s (within), CB2 after 400 s (late, failed after 3 attempts), CB3 booked for
an hour later and dialled 10 s after its due time (within), CB4 cancelled undialled (not judged), CB5 never
dialled and past its target (judged, missed), CB6 due at 09:15, undialled, its target not passed (not judged).
"""

from __future__ import annotations

import pytest

from tests.reports.dataset import DAY0, H9, load
from voxcenter.reports.kpi import build_report
from voxcenter.reports.render import report_table
from voxcenter.store.db import make_engine
from voxcenter.store.records import CallbackRecord

NOW = H9 + 1000


def booked(callback_id: str, at: float, status: str, attempts: int, first: float | None,
           due: float | None = None) -> CallbackRecord:
    return CallbackRecord(callback_id, 3, callback_id, "+1555", "support", at, status=status, attempts=attempts,
                          due_at=due, sla_seconds=300.0, first_dialled_at=first, source="api")


async def test_callback_sla_is_first_dials_within_target_over_those_judged(database_url: str) -> None:
    await load(database_url, [
        booked("CB1", H9, "completed", 1, H9 + 120),
        booked("CB2", H9 + 60, "failed", 3, H9 + 460),
        booked("CB3", H9 + 100, "completed", 1, H9 + 3610, due=H9 + 3600),
        booked("CB4", H9 + 200, "cancelled", 0, None),
        booked("CB5", H9 + 300, "pending", 0, None),
        booked("CB6", H9 + 400, "pending", 0, None, due=H9 + 900),
    ])
    engine = make_engine(database_url)
    try:
        report = await build_report(engine, DAY0, DAY0 + 86400, interval="hour", now=NOW)
    finally:
        await engine.dispose()
    total = report.total
    assert (total.callbacks_requested, total.callbacks_completed, total.callbacks_failed,
            total.callbacks_cancelled, total.callback_attempts) == (6, 2, 1, 1, 5)
    assert (total.callbacks_within_sla, total.callbacks_judged) == (2, 4)  # CB1, CB3 of CB1, CB2, CB3, CB5
    assert total.callback_sla == pytest.approx(0.5)
    assert total.as_dict()["callback_sla"] == pytest.approx(0.5)
    text = report_table(report)
    assert "2/4" in text and "50.0%" in text and "CB SLA" in text
