"""Brute-force ban tracker and the security log line."""

from __future__ import annotations

import ipaddress
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxcenter.sip.errors import LocalProtocolError
from voxcenter.sip.security import SECURITY_EVENT, FailureTracker, security_log_fields


def fail(tracker: FailureTracker, ip: str, times: list[float]) -> list[bool]:
    return [tracker.record_failure(ip, t, "1001", "wrong_password") is not None for t in times]


def test_ban_after_max_failures_within_the_window() -> None:
    tracker = FailureTracker(max_failures=3, window=60.0, ban_time=600.0)
    assert fail(tracker, "203.0.113.9", [0.0, 10.0]) == [False, False]
    assert not tracker.is_banned("203.0.113.9", 10.0)
    ban = tracker.record_failure("203.0.113.9", 20.0, "1001", "wrong_password")
    assert ban is not None and ban.until == 620.0 and ban.last_user == "1001" and ban.source == "203.0.113.9"
    assert tracker.is_banned("203.0.113.9", 21.0)
    assert not tracker.is_banned("203.0.113.10", 21.0)


def test_failures_spread_beyond_the_window_do_not_ban() -> None:
    tracker = FailureTracker(max_failures=3, window=60.0)
    assert fail(tracker, "198.51.100.1", [0.0, 40.0, 80.0, 120.0, 160.0]) == [False] * 5
    assert not tracker.is_banned("198.51.100.1", 160.0)
    assert fail(tracker, "198.51.100.1", [161.0]) == [True]


def test_ban_expires_and_counting_starts_again() -> None:
    tracker = FailureTracker(max_failures=2, window=60.0, ban_time=100.0)
    assert fail(tracker, "192.0.2.1", [0.0, 1.0]) == [False, True]
    assert fail(tracker, "192.0.2.1", [50.0]) == [False]  # failures while banned are not counted again
    assert tracker.is_banned("192.0.2.1", 100.9)
    assert not tracker.is_banned("192.0.2.1", 101.0)
    assert tracker.bans(101.0) == []
    assert fail(tracker, "192.0.2.1", [102.0, 103.0]) == [False, True]


def test_allowlisted_trunks_are_never_banned() -> None:
    tracker = FailureTracker(max_failures=1, allowlist=("10.20.0.0/16", ipaddress.ip_network("2001:db8:1::/48")))
    assert fail(tracker, "10.20.3.4", [0.0, 1.0, 2.0]) == [False] * 3
    assert not tracker.is_banned("10.20.3.4", 2.0)
    assert fail(tracker, "2001:db8:1::7", [0.0]) == [False]
    assert fail(tracker, "::ffff:10.20.3.4", [0.0]) == [False]  # IPv4-mapped is the same host
    assert fail(tracker, "10.21.0.1", [0.0]) == [True]


def test_ipv6_counts_per_64_and_mapped_ipv4_per_address() -> None:
    tracker = FailureTracker(max_failures=2)
    assert fail(tracker, "2001:db8:aa:bb::1", [0.0]) == [False]
    assert fail(tracker, "2001:db8:aa:bb::2", [1.0]) == [True]
    assert tracker.is_banned("2001:db8:aa:bb:ffff::9", 2.0)
    assert not tracker.is_banned("2001:db8:aa:bc::1", 2.0)
    assert fail(tracker, "::ffff:192.0.2.7", [0.0]) == [False]
    assert fail(tracker, "192.0.2.7", [1.0]) == [True]


def test_unban_and_listing() -> None:
    tracker = FailureTracker(max_failures=1, ban_time=10.0)
    fail(tracker, "192.0.2.1", [0.0])
    fail(tracker, "192.0.2.2", [5.0])
    assert [b.source for b in tracker.bans(6.0)] == ["192.0.2.1", "192.0.2.2"]
    assert tracker.unban("192.0.2.1") and not tracker.unban("192.0.2.1")
    assert not tracker.is_banned("192.0.2.1", 6.0)


def test_memory_is_bounded_under_a_spray_of_sources() -> None:
    tracker = FailureTracker(max_failures=3, max_sources=100, max_bans=10)
    for i in range(5000):
        tracker.record_failure(str(ipaddress.IPv4Address(0x0A000000 + i)), float(i) / 100, None, "unknown_user")
    assert tracker.tracked_sources == 100
    for i in range(30):  # 30 bans, only 10 kept: the latest to end
        fail(tracker, f"192.0.2.{i}", [1000.0 + i] * 3)
    bans = tracker.bans(1000.0)
    assert len(bans) == 10 and bans[0].source == "192.0.2.20"


def test_bad_arguments_are_our_bug() -> None:
    with pytest.raises(LocalProtocolError):
        FailureTracker(max_failures=0)
    with pytest.raises(LocalProtocolError):
        FailureTracker(allowlist=("10.0.0.0/33",))
    with pytest.raises(LocalProtocolError):
        FailureTracker().record_failure("not-an-ip", 0.0, None, "x")


@given(st.lists(st.tuples(st.ip_addresses(v=4).map(str), st.floats(0, 1000)), max_size=60))
def test_never_banned_without_enough_failures(events: list[tuple[str, float]]) -> None:
    tracker = FailureTracker(max_failures=3, window=60.0, ban_time=600.0)
    counts: dict[str, int] = {}
    for ip, now in sorted(events, key=lambda e: e[1]):
        tracker.record_failure(ip, now, None, "wrong_password")
        counts[ip] = counts.get(ip, 0) + 1
        if counts[ip] < 3:
            assert not tracker.is_banned(ip, now)


FAIL2BAN = re.compile(r"event=sip_auth_failed src_ip=(?P<host>\S+) ")


def test_security_log_fields_are_fail2ban_parsable() -> None:
    fields = security_log_fields("203.0.113.9", 5060, "1001", "wrong_password", method="REGISTER",
                                 realm="voxcenter.example", banned=True)
    assert list(fields)[:2] == ["event", "src_ip"]
    assert fields == {"event": SECURITY_EVENT, "src_ip": "203.0.113.9", "src_port": 5060, "user": "1001",
                      "reason": "wrong_password", "method": "REGISTER", "realm": "voxcenter.example", "banned": True}
    line = " ".join(f"{k}={v}" for k, v in fields.items())
    match = FAIL2BAN.search(line)
    assert match is not None and match["host"] == "203.0.113.9"


def test_hostile_usernames_cannot_forge_log_lines() -> None:
    user = '1001 src_ip=10.0.0.1\nevent=sip_auth_failed "x' + "a" * 200
    fields = security_log_fields("198.51.100.3", None, user, "unknown_user")
    text = str(fields["user"])
    assert "\n" not in text and " " not in text and '"' not in text and "=" not in text
    assert len(text) <= 65
    line = " ".join(f"{k}={v}" for k, v in fields.items())
    assert [m["host"] for m in FAIL2BAN.finditer(line)] == ["198.51.100.3"]
    assert security_log_fields("198.51.100.3", None, None, "no_credentials")["user"] == "-"
