"""A queue's callback settings, from the dial plan to the router's decisions, on a fake clock.

Attempts, retry delay, the customer's ring time, the calling window (a callback is never dialled outside
it: it waits for the window to open) and the expiry.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest

from voxcenter.acd import AgentProfile, CallRequest, ExitReason, QueueExit, QueuePolicy, RingAgent, StartCallback
from voxcenter.config import ConfigError, load_config
from voxcenter.runtime.mapping import ScheduleHours, queue_policies

from .driver import Harness, of_type

PLAN = """\
    schedules:
      office:
        timezone: Europe/Paris
        hours: [{days: mon-fri, open: '09:00', close: '18:00'}]
    queues:
      web:
        callback: {attempts: 5, retry_delay: 2m, ring_time: 25s, hours: office, expire_after: 1d}
      plain: {}
    agents:
      '1001': {name: Alice, password: pw, queues: [web, plain]}
"""

FRIDAY_5PM_PARIS = dt.datetime(2026, 12, 4, 16, 0, tzinfo=dt.UTC).timestamp()
"""Friday 4 December 2026, 17:00 in Paris (UTC+1)."""
MONDAY_9AM_PARIS = dt.datetime(2026, 12, 7, 8, 0, tzinfo=dt.UTC).timestamp()


def load_policies(tmp_path: Path, text: str, wall_offset: float) -> dict[str, QueuePolicy]:
    plan = tmp_path / "voxcenter.yaml"
    plan.write_text(textwrap.dedent(text))
    return {policy.name: policy for policy in queue_policies(load_config(plan, check_prompts=False), wall_offset)}


def test_every_callback_setting_of_the_dial_plan_reaches_the_router(tmp_path: Path) -> None:
    policies = load_policies(tmp_path, PLAN, wall_offset=FRIDAY_5PM_PARIS)
    web = policies["web"]
    assert (web.callback_max_attempts, web.callback_retry_delay, web.callback_ring_time, web.callback_max_wait) \
        == (5, 120.0, 25.0, 86400.0)
    assert isinstance(web.callback_hours, ScheduleHours)
    assert web.callback_hours.next_open(0.0) == 0.0  # Friday 17:00 is open
    assert web.callback_hours.next_open(3600.0) == MONDAY_9AM_PARIS - FRIDAY_5PM_PARIS
    plain = policies["plain"]  # the defaults
    assert (plain.callback_max_attempts, plain.callback_retry_delay, plain.callback_ring_time,
            plain.callback_max_wait, plain.callback_hours) == (3, 60.0, 30.0, 4 * 3600.0, None)


def test_callback_hours_must_name_a_schedule(tmp_path: Path) -> None:
    plan = tmp_path / "voxcenter.yaml"
    plan.write_text(textwrap.dedent(PLAN).replace("hours: office", "hours: ofice"))
    with pytest.raises(ConfigError, match=r"voxcenter.yaml:\d+.*unknown schedule 'ofice' \(did you mean 'office'\?\)"):
        load_config(plan, check_prompts=False)


def test_the_customer_rings_for_the_ring_time_and_attempts_are_retry_delay_apart() -> None:
    h = Harness([QueuePolicy("q", callback_ring_time=12.0, callback_retry_delay=90.0, callback_max_attempts=2)],
                [AgentProfile("a", queues=frozenset({"q"}))])
    h.staff("a")
    h.join("c1", caller="0600000000")
    h.router.callback_requested("c1", 0.0)
    assert of_type(h.drain(), RingAgent)[0].call_id == "c1"
    h.router.ring_answered("c1", "a", 1.0)
    start = of_type(h.drain(), StartCallback)[0]
    assert (start.attempt, start.ring_time, start.number) == (1, 12.0, "0600000000")
    h.router.callback_result("c1", answered=False, now=14.0)
    assert of_type(h.drain(), RingAgent) == []
    assert of_type(h.advance(103.9), RingAgent) == []
    assert of_type(h.advance(104.0), RingAgent)[0].call_id == "c1"  # 14 + 90
    h.router.ring_answered("c1", "a", 105.0)
    assert of_type(h.drain(), StartCallback)[0].attempt == 2
    h.router.callback_result("c1", answered=False, now=118.0)
    assert of_type(h.drain(), QueueExit)[0].reason is ExitReason.CALLBACK_FAILED  # attempts: 2


class Window:
    """Open from ``opens`` to ``closes`` (loop seconds), then never again."""

    def __init__(self, opens: float, closes: float) -> None:
        self.opens, self.closes = opens, closes

    def next_open(self, now: float) -> float | None:
        if now < self.opens:
            return self.opens
        return now if now < self.closes else None


def test_a_callback_booked_outside_the_window_waits_for_it_to_open() -> None:
    h = Harness([QueuePolicy("q", callback_hours=Window(1000.0, 2000.0), callback_max_wait=None)],
                [AgentProfile("a", queues=frozenset({"q"}))])
    h.staff("a")
    h.join("c1", caller="0600000000")
    h.router.callback_requested("c1", 0.0)
    assert of_type(h.drain(), RingAgent) == []  # an agent is free, but it is night
    assert h.router.get_timer() == 1000.0
    assert of_type(h.advance(999.0), RingAgent) == []
    ring = of_type(h.advance(1000.0), RingAgent)
    assert [r.call_id for r in ring] == ["c1"] and ring[0].callback


def test_a_retry_due_after_the_window_closed_is_not_dialled() -> None:
    h = Harness([QueuePolicy("q", callback_hours=Window(0.0, 100.0), callback_retry_delay=60.0,
                             callback_max_wait=None)],
                [AgentProfile("a", queues=frozenset({"q"}))])
    h.staff("a")
    h.join("c1", caller="0600000000")
    h.router.callback_requested("c1", 0.0)
    h.drain()
    h.router.ring_answered("c1", "a", 1.0)
    h.drain()
    h.router.callback_result("c1", answered=False, now=50.0)  # the retry would be at 110, past the close
    assert of_type(h.advance(20_000.0), RingAgent) == []
    assert [v.call_id for v in h.router.waiting("q", h.now)] == ["c1"]  # still owed, not lost


def test_a_callback_waiting_for_its_window_still_expires() -> None:
    h = Harness([QueuePolicy("q", callback_hours=Window(5000.0, 9000.0), callback_max_wait=600.0)],
                [AgentProfile("a", queues=frozenset({"q"}))])
    h.staff("a")
    h.join("c1", caller="0600000000")
    h.router.callback_requested("c1", 0.0)
    out = h.advance(700.0)
    assert of_type(out, RingAgent) == []
    assert of_type(out, QueueExit)[0].reason is ExitReason.CALLBACK_EXPIRED


def test_a_callback_booked_for_later_waits_for_its_due_time_and_expires_from_it() -> None:
    h = Harness([QueuePolicy("q", callback_max_wait=600.0)], [AgentProfile("a", queues=frozenset({"q"}))])
    h.staff("a")
    h.router.callback_restored(CallRequest("lead", "q", caller="0600000000"), 0.0, 0, 0.0, due_at=3600.0)
    assert of_type(h.drain(), RingAgent) == []
    assert of_type(h.advance(3599.0), RingAgent) == []
    assert [r.call_id for r in of_type(h.advance(3600.0), RingAgent)] == ["lead"]  # not expired: 600 s from due


def test_a_queue_survey_must_name_a_survey_node(tmp_path: Path) -> None:
    plan = tmp_path / "voxcenter.yaml"
    survey = "  plain: {survey: {node: nsp}}"
    plan.write_text(textwrap.dedent(PLAN).replace("  plain: {}", survey)
                    + "ivr:\n  nps: {type: survey, prompts: survey-question}\n  hello: {type: hangup}\n")
    with pytest.raises(ConfigError, match=r"survey node 'nsp' is not an IVR node \(did you mean 'nps'\?\)"):
        load_config(plan, check_prompts=False)
    plan.write_text(plan.read_text().replace("node: nsp", "node: hello"))
    with pytest.raises(ConfigError, match=r"survey node 'hello' is not of type survey"):
        load_config(plan, check_prompts=False)
