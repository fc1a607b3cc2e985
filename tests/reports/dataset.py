"""A hand-made day of calls whose KPIs were worked out by hand (see test_kpi.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from voxcenter.store.db import make_engine
from voxcenter.store.models import TABLE_OF_KIND
from voxcenter.store.records import CallbackRecord, CallRecord, Record, SurveyRecord, record_fields

DAY0 = datetime(2026, 11, 20, tzinfo=UTC).timestamp()
H9 = DAY0 + 9 * 3600
H10 = DAY0 + 10 * 3600


def queued(
    call_id: str,
    at: float,
    wait: float,
    disposition: str,
    queue: str = "support",
    agent: str | None = None,
    talk: float = 0.0,
    hold: float = 0.0,
    wrapup: float = 0.0,
) -> CallRecord:
    entered = at + 10
    answered = entered + wait if agent else None
    end = (answered or entered + wait) + talk + hold
    return CallRecord(
        call_id,
        3,
        "n1",
        "inbound",
        at,
        "+1555",
        "+1800",
        "carrier",
        answered_at=at + 1,
        queue=queue,
        queue_entered_at=entered,
        agent=agent,
        agent_answered_at=answered,
        ended_at=end,
        wait_seconds=wait,
        talk_seconds=talk,
        hold_seconds=hold,
        wrapup_seconds=wrapup,
        disposition=disposition,
    )


def records() -> list[Record]:
    return [
        queued("A1", H9 + 0, 10, "answered", agent="alice", talk=100, hold=20, wrapup=30),
        queued("A2", H9 + 60, 30, "answered", agent="bob", talk=200, wrapup=40),
        queued("A3", H9 + 120, 20, "answered", agent="alice", talk=90),
        queued("B1", H9 + 300, 3, "abandoned_queue"),
        queued("B2", H9 + 400, 15, "abandoned_queue"),
        queued("B3", H9 + 500, 45, "abandoned_queue"),
        queued("C1", H9 + 600, 60, "callback"),
        CallRecord(
            "O1",
            2,
            "n1",
            "outbound",
            H9 + 700,
            answered_at=H9 + 710,
            ended_at=H9 + 800,
            talk_seconds=90,
            disposition="answered",
        ),
        CallRecord("I1", 2, "n1", "inbound", H9 + 800, ended_at=H9 + 830, disposition="abandoned_ivr"),
        queued("A4", H10 + 0, 5, "answered", queue="sales", agent="bob", talk=300, hold=60),
        queued("T1", H10 + 100, 300, "timeout"),
        # Outside the day: must not count.
        queued("X1", DAY0 - 1, 10, "answered", agent="alice", talk=10),
        queued("X2", DAY0 + 86400, 10, "answered", agent="alice", talk=10),
        CallbackRecord("CB1", 2, "C1", "+1555", "support", H9 + 620, status="completed", completed_at=H9 + 900),
        CallbackRecord("CB2", 1, "T1", "+1555", "support", H10 + 50),
        SurveyRecord("S1", "A1", H9 + 200, 10, "alice", "support"),
        SurveyRecord("S2", "A2", H9 + 300, 9, "bob", "support"),
        SurveyRecord("S3", "A3", H9 + 400, 7, "alice", "support"),
        SurveyRecord("S4", "A3", H9 + 401, 3, "alice", "support"),
        SurveyRecord("S5", "A4", H10 + 500, 0, "bob", "sales"),
    ]


async def load(url: str, items: list[Record]) -> None:
    engine = make_engine(url)
    async with engine.begin() as conn:
        for record in items:
            row = record_fields(record)
            if record.kind == "recording":
                row["data"] = None
            await conn.execute(TABLE_OF_KIND[record.kind].insert(), [row])
    await engine.dispose()
