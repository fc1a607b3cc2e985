"""Staffing from history against published Erlang C values, the what-if growth, and peak concurrency."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.reports.dataset import DAY0, load
from voxcenter.reports.kpi import ReportError
from voxcenter.reports.staffing import peak_concurrency, plan_interval, staffing_plan
from voxcenter.store.db import make_engine
from voxcenter.store.records import CallRecord

H9 = DAY0 + 9 * 3600


def history() -> list[CallRecord]:
    """100 calls between 09:00 and 09:30 (one every 18 s), each answered at once and handled in 180 s."""
    return [
        CallRecord(
            f"H{i:03d}",
            2,
            "n",
            "inbound",
            H9 + 18 * i,
            queue="support",
            queue_entered_at=H9 + 18 * i,
            agent="a",
            agent_answered_at=H9 + 18 * i,
            ended_at=H9 + 18 * i + 180,
            wait_seconds=0.0,
            talk_seconds=150.0,
            wrapup_seconds=30.0,
            disposition="answered",
        )
        for i in range(100)
    ]


async def test_plan_matches_published_erlang_c(database_url: str) -> None:
    await load(database_url, list(history()))
    engine = make_engine(database_url)
    plan = await staffing_plan(engine, DAY0, DAY0 + 86400, interval=1800, target=0.8, within=20)
    # The textbook case: 100 calls in 30 min, AHT 180 s -> 10 erlangs -> 14 agents, SL 88.8 %, ASA 7.8 s.
    (row,) = plan.rows
    assert (row.slot_start, row.arrivals, row.aht, row.traffic) == (9 * 3600, 100.0, 180.0, 10.0)
    assert row.agents == 14
    assert row.service_level == pytest.approx(0.888, abs=5e-4)
    assert row.asa == pytest.approx(7.8, abs=0.05)
    assert row.occupancy == pytest.approx(10 / 14)
    assert row.peak_concurrent == 10  # a call every 18 s lasting 180 s
    grown = await staffing_plan(engine, DAY0, DAY0 + 86400, interval=1800, target=0.8, within=20, growth=0.3)
    # +30 %: 13 erlangs. 16 agents give SL 76.0 %, 17 give 86.0 % (Erlang C by the factorial formula), so 17.
    assert grown.rows[0].traffic == pytest.approx(13.0)
    assert grown.rows[0].agents == 17
    assert grown.peak_agents == 17
    two_days = await staffing_plan(engine, DAY0, DAY0 + 2 * 86400, interval=1800)
    assert two_days.days == 2 and two_days.rows[0].arrivals == 50.0
    await engine.dispose()


def test_plan_interval_values() -> None:
    traffic, agents, sl, asa, occupancy = plan_interval(130, 180, 1800, 0.8, 20)
    assert (traffic, agents, occupancy) == (13.0, 17, 13 / 17)
    assert asa == pytest.approx(0.2185 * 180 / 4, abs=0.01)  # P(wait) x AHT / (N - A)
    assert sl == pytest.approx(0.8599, abs=1e-4)  # P(wait) 0.2185 (factorial formula)
    assert plan_interval(0, 180, 1800, 0.8, 20) == (0.0, 0, 1.0, 0.0, 0.0)


async def test_bad_parameters(database_url: str) -> None:
    engine = make_engine(database_url)
    with pytest.raises(ReportError, match="divide a day"):
        await staffing_plan(engine, 0, 86400, interval=7000)
    with pytest.raises(ReportError, match="target"):
        await staffing_plan(engine, 0, 86400, target=80)
    await engine.dispose()


def brute_peaks(spans: list[tuple[float, float]], interval: int) -> dict[int, int]:
    peaks: dict[int, int] = {}
    kept = [(s, e) for s, e in spans if e > s]
    if not kept:
        return peaks
    lo = int(min(s for s, _ in kept) // interval)
    hi = int(max(e for _, e in kept) // interval)
    for k in range(lo, hi + 1):
        slot_start, slot_end = k * interval, (k + 1) * interval
        moments = [slot_start] + [s for s, _ in kept if slot_start <= s < slot_end]
        best = max(sum(1 for s, e in kept if s <= t < e) for t in moments)
        slot = k % (86400 // interval)
        if best or any(slot_start <= t < slot_end for span in kept for t in span):
            peaks[slot] = max(peaks.get(slot, 0), best)
    return peaks


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20_000), st.integers(0, 4000)), max_size=25))
def test_peak_concurrency_matches_brute_force(raw: list[tuple[int, int]]) -> None:
    spans = [(float(start), float(start + length)) for start, length in raw]
    found = {slot: peak for slot, peak in peak_concurrency(spans, 3600, 0.0).items() if peak}
    assert found == {slot: peak for slot, peak in brute_peaks(spans, 3600).items() if peak}
