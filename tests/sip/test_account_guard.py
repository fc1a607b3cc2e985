"""Per-account throttling of password guessing, on a fake clock and with hypothesis schedules."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voxcenter.sip.errors import LocalProtocolError
from voxcenter.sip.security import THROTTLE_EVENT, AccountGuard, Throttle, ThrottleStarted, throttle_log_fields

PHONE = "198.51.100.20"


def test_failures_from_many_sources_throttle_the_account_and_raise_one_alert() -> None:
    guard = AccountGuard(max_failures=10, window=600.0, delay=2.0)
    alerts = [guard.record_failure("1001", f"203.0.113.{i % 40}", float(i)) for i in range(40)]
    # 40 sources, one guess each within the window: the 10th failure starts the throttle, once.
    assert [i for i, alert in enumerate(alerts) if alert is not None] == [9]
    assert alerts[9] == ThrottleStarted("1001", 10, 10)
    assert guard.is_throttled("1001", 40.0)
    assert not guard.is_throttled("1002", 40.0)  # other accounts are not touched


def test_a_throttled_account_checks_one_attempt_per_delay_from_unknown_addresses() -> None:
    guard = AccountGuard(max_failures=3, window=60.0, delay=2.0)
    for t in (0.0, 1.0, 2.0):
        guard.record_failure("1001", "203.0.113.1", t)
    assert guard.check("1001", "203.0.113.2", 3.0) == Throttle(2.0, verify=True)
    assert guard.check("1001", "203.0.113.3", 3.5) == Throttle(2.0, verify=False)
    assert guard.check("1001", "203.0.113.2", 4.9) == Throttle(2.0, verify=False)
    assert guard.check("1001", "203.0.113.4", 5.0) == Throttle(2.0, verify=True)


def test_the_phone_at_a_known_address_is_never_slowed() -> None:
    guard = AccountGuard(max_failures=3, window=60.0, delay=2.0)
    guard.record_success("1001", PHONE, 0.0)
    for t in (1.0, 2.0, 3.0):
        guard.record_failure("1001", "203.0.113.1", t)
    assert guard.is_throttled("1001", 3.0)
    assert guard.check("1001", PHONE, 3.0) is None  # no lockout: the agent's desk phone registers as usual
    assert guard.check("1001", "198.51.100.21", 3.0, known=True) is None  # registered from there right now
    assert guard.check("1001", "203.0.113.1", 3.0) is not None
    # An address many clients share (a proxy, an office's NAT) proves nothing: throttled there too.
    assert guard.check("1001", PHONE, 3.0, shared=True) is not None
    assert guard.check("1001", PHONE, 3.1, known=True, shared=True) is not None


def test_the_throttle_lifts_when_the_attempts_stop() -> None:
    guard = AccountGuard(max_failures=3, window=60.0, delay=2.0)
    for t in (0.0, 1.0, 2.0):
        guard.record_failure("1001", "203.0.113.1", t)
    assert guard.is_throttled("1001", 60.0)
    assert not guard.is_throttled("1001", 60.1)
    assert guard.check("1001", "203.0.113.9", 61.0) is None


def test_known_addresses_are_forgotten_after_known_for_and_bounded() -> None:
    guard = AccountGuard(max_failures=1, known_for=100.0, max_known=2)
    guard.record_success("1001", "192.0.2.1", 0.0)
    assert guard.is_known("1001", "192.0.2.1", 100.0) and not guard.is_known("1001", "192.0.2.1", 100.1)
    for n, t in ((2, 1.0), (3, 2.0), (4, 3.0)):
        guard.record_success("1001", f"192.0.2.{n}", t)
    assert [guard.is_known("1001", f"192.0.2.{n}", 4.0) for n in (2, 3, 4)] == [False, True, True]


def test_memory_is_bounded_whatever_the_usernames_tried() -> None:
    guard = AccountGuard(max_failures=2, max_accounts=100)
    for i in range(5000):
        guard.record_failure(f"user{i}", "203.0.113.1", float(i))
        guard.record_success(f"user{i}", "203.0.113.1", float(i))
    assert guard.tracked_accounts == 100


def test_reconfigure_keeps_known_addresses() -> None:
    guard = AccountGuard(max_failures=2, window=60.0)
    guard.record_success("1001", PHONE, 0.0)
    guard.record_failure("1001", "203.0.113.1", 1.0)
    guard.reconfigure(3, 60.0, 1.0)
    assert guard.is_known("1001", PHONE, 2.0) and guard.delay == 1.0
    assert guard.record_failure("1001", "203.0.113.1", 2.0) is None  # counting restarted for the new limit
    with pytest.raises(LocalProtocolError):
        guard.reconfigure(0, 60.0, 1.0)
    with pytest.raises(LocalProtocolError):
        AccountGuard(delay=0.0)


FAIL2BAN_ALERT = re.compile(r'[{,] ?"src_ip": "(?P<host>[^"]+)",.*"event": "sip_(?:auth_failed|account_throttled)"')


def test_the_alert_line_is_fail2ban_parsable_and_cannot_be_forged() -> None:
    import json

    alert = ThrottleStarted('1001", "src_ip": "10.0.0.1', 10, 7)
    fields = throttle_log_fields(alert, "203.0.113.9", 600.0, 2.0)
    assert fields["event"] == THROTTLE_EVENT and fields["failures"] == 10 and fields["sources"] == 7
    # As the JSON renderer writes it: src_ip first, event last.
    line = json.dumps({k: v for k, v in fields.items() if k != "event"} | {"event": fields["event"]})
    assert [m["host"] for m in FAIL2BAN_ALERT.finditer(line)] == ["203.0.113.9"]


attempts = st.lists(
    st.tuples(st.floats(0.0, 5.0, allow_nan=False), st.sampled_from(["fail", "try", "phone"]),
              st.integers(0, 50)),
    max_size=200,
)


@settings(max_examples=200, deadline=None)
@given(attempts)
def test_guessing_is_bounded_and_the_phone_always_gets_through(steps: list[tuple[float, str, int]]) -> None:
    guard = AccountGuard(max_failures=5, window=60.0, delay=2.0)
    guard.record_success("1001", PHONE, 0.0)
    now = 0.0
    checked: list[float] = []
    for gap, kind, source in steps:
        now += gap
        if kind == "phone":
            assert guard.check("1001", PHONE, now) is None
            continue
        throttle = guard.check("1001", f"203.0.113.{source}", now)
        if (throttle is None or throttle.verify) and guard.is_throttled("1001", now):
            checked.append(now)
        if kind == "fail":
            guard.record_failure("1001", f"203.0.113.{source}", now)
    # While throttled, at most one attempt per delay is checked, whatever the number of sources.
    assert all(later - earlier >= 2.0 for earlier, later in itertools.pairwise(checked))
