"""The example dial plan (config/voxcenter.yaml) walked with scripted keys to the right destinations."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from voxcenter.config import Config, load_config
from voxcenter.ivr import EnterQueue, Play, RecordVoicemail
from voxcenter.ivr.hours import wall_clock_from_offset

from .driver import Driver

ROOT = Path(__file__).resolve().parents[2]
WEEKDAY_OPEN = dt.datetime(2026, 6, 3, 10, 0, tzinfo=dt.UTC)  # Wednesday, 12:00 in Paris
SUNDAY = dt.datetime(2026, 6, 7, 10, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def plan() -> Config:
    return load_config(ROOT / "config" / "voxcenter.yaml")


def walk(plan: Config, keys: str, start_at: dt.datetime = WEEKDAY_OPEN) -> Driver:
    d = Driver(plan, plan.numbers["100"].node, start_at=start_at)
    d.start()
    for key in keys:
        d.finish_prompt()
        d.press(key)
    return d


def queued(d: Driver) -> EnterQueue:
    last = d.actions[-1]
    assert isinstance(last, EnterQueue), d.actions
    return last


def test_sales_when_open(plan: Config) -> None:
    assert queued(walk(plan, "1")).queue == "sales"


def test_sales_when_closed_leads_to_voicemail(plan: Config) -> None:
    d = walk(plan, "1", start_at=SUNDAY)
    assert d.actions[-1] == Play(("closed",), "en", False)
    d.finish_prompt()
    d.finish_prompt()  # the voicemail greeting
    assert isinstance(d.actions[-1], RecordVoicemail)


def test_support_billing_needs_the_skill(plan: Config) -> None:
    entered = queued(walk(plan, "21"))
    assert (entered.queue, dict(entered.required_skills)) == ("support", {"billing": 2})


def test_french_then_operator(plan: Config) -> None:
    d = walk(plan, "32")
    assert d.actions[-1] == Play(("main-menu",), "fr", True)
    d.finish_prompt()
    d.press("0")
    entered = queued(d)
    assert (entered.queue, entered.language) == ("support", "fr")


def test_silent_caller_reaches_the_operator(plan: Config) -> None:
    d = walk(plan, "")
    for _ in range(3):
        d.finish_prompt()
        d.advance(8.0)
    assert queued(d).queue == "support"
    assert len(d.events("timeout")) == 3


def test_vip_line_looks_the_caller_up(plan: Config) -> None:
    d = Driver(plan, plan.numbers["101"].node)
    d.start()
    d.run.lookup_result(None, d.now)
    d.pull()
    assert queued(d).priority == 10


def test_wall_clock_from_offset() -> None:
    wall = wall_clock_from_offset(1_780_000_000.0)
    assert wall(5.0) == dt.datetime.fromtimestamp(1_780_000_005.0, tz=dt.UTC)


@pytest.mark.parametrize("moment", [SUNDAY.replace(hour=2), dt.datetime(2026, 12, 25, 12, 0, tzinfo=dt.UTC),
                                    WEEKDAY_OPEN])
def test_the_readme_first_call_number_is_open_at_any_hour(plan: Config, moment: dt.datetime) -> None:
    """README "Your first call": 101 reaches a queue agent 1001 serves at night, on Sundays and on holidays."""
    d = Driver(plan, plan.numbers["101"].node, start_at=moment)
    d.start()
    d.run.lookup_result(None, d.now)
    d.pull()
    entered = queued(d)
    assert entered.queue == "vip" and not d.events("hours")
    assert "vip" in {entry if isinstance(entry, str) else entry.queue for entry in plan.agents["1001"].queues}
