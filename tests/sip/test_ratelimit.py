"""The per-source request rate limiter, on a fake clock and with hypothesis schedules."""

from __future__ import annotations

import bisect

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voxcenter.sip.errors import LocalProtocolError
from voxcenter.sip.ratelimit import RateLimit, SourceRateLimiter, Verdict

A = Verdict.ADMIT
R = Verdict.REFUSE
D = Verdict.DROP
KAMAILIO = RateLimit(16, 2.0)


def verdicts(limiter: SourceRateLimiter, source: str, times: list[float]) -> list[Verdict]:
    return [limiter.admit(source, t) for t in times]


def test_a_burst_of_the_limit_passes_and_the_next_request_bans() -> None:
    limiter = SourceRateLimiter(KAMAILIO, 300.0)
    assert verdicts(limiter, "203.0.113.9", [0.0] * 16) == [A] * 16
    assert limiter.admit("203.0.113.9", 0.01) is R
    # Banned: dropped, unanswered, until the ban ends, however slowly it sends now.
    assert verdicts(limiter, "203.0.113.9", [1.0, 60.0, 299.9]) == [D, D, D]
    assert limiter.is_banned("203.0.113.9", 299.9)
    assert limiter.admit("203.0.113.9", 300.02) is A
    assert not limiter.is_banned("203.0.113.9", 300.02)
    assert limiter.admit("203.0.113.10", 1.0) is A  # another source is not touched


def test_the_average_rate_is_requests_per_window() -> None:
    limiter = SourceRateLimiter(KAMAILIO, 300.0)
    # 8 requests a second forever is exactly 16 per 2 s: never refused.
    assert verdicts(limiter, "192.0.2.1", [i / 8 for i in range(800)]) == [A] * 800
    # 9 a second is over: refused within a few seconds of the burst allowance running out.
    limiter = SourceRateLimiter(KAMAILIO, 300.0)
    refused_at = next(i / 9 for i in range(900) if limiter.admit("192.0.2.2", i / 9) is not A)
    assert 10.0 < refused_at < 20.0


def test_a_phone_refreshing_its_registration_is_never_limited() -> None:
    limiter = SourceRateLimiter(KAMAILIO, 300.0)
    # REGISTER, 401, REGISTER every 60 s, an INVITE with its challenge, ACKs, INFO digits and a BYE now and then.
    times = []
    for minute in range(60):
        base = minute * 60.0
        times += [base, base + 0.05]
        if minute % 5 == 0:
            times += [base + 10 + step * 0.2 for step in range(12)]
    assert verdicts(limiter, "198.51.100.7", times) == [A] * len(times)


def test_networks_have_their_own_limit_or_none() -> None:
    limiter = SourceRateLimiter(
        KAMAILIO, 300.0, networks=[("10.0.0.0/8", None), ("192.0.2.0/24", RateLimit(1000, 2.0))]
    )
    # A trunk carrying 400 calls a second's worth of requests (INVITE, ACK, BYE) from one address.
    assert verdicts(limiter, "192.0.2.10", [i / 500 for i in range(1000)]) == [A] * 1000
    # Beyond its own limit it is banned like anyone: 1001 at once.
    assert verdicts(limiter, "192.0.2.10", [10.0] * 1001) == [A] * 1000 + [R]
    assert verdicts(limiter, "10.1.2.3", [0.0] * 10_000) == [A] * 10_000  # never_ban: not limited at all
    assert not limiter.is_banned("10.1.2.3", 0.0)
    assert verdicts(limiter, "203.0.113.1", [0.0] * 17) == [A] * 16 + [R]


def test_ipv6_counts_per_64_and_mapped_ipv4_per_address() -> None:
    limiter = SourceRateLimiter(RateLimit(2, 2.0), 60.0)
    assert verdicts(limiter, "2001:db8:aa:bb::1", [0.0, 0.0]) == [A, A]
    assert limiter.admit("2001:db8:aa:bb::2", 0.0) is R
    assert limiter.is_banned("2001:db8:aa:bb:ffff::9", 1.0)
    assert verdicts(limiter, "::ffff:192.0.2.1", [0.0, 0.0]) == [A, A]
    assert limiter.admit("192.0.2.1", 0.0) is R


def test_unban_and_ban_listing() -> None:
    limiter = SourceRateLimiter(RateLimit(1, 1.0), 100.0)
    verdicts(limiter, "192.0.2.1", [0.0, 0.0])
    verdicts(limiter, "192.0.2.2", [5.0, 5.0])
    assert [b.source for b in limiter.bans(6.0)] == ["192.0.2.1", "192.0.2.2"]
    assert limiter.unban("192.0.2.1") and not limiter.unban("192.0.2.1")
    assert limiter.admit("192.0.2.1", 6.0) is A
    assert [b.source for b in limiter.bans(104.0)] == ["192.0.2.2"]
    assert limiter.bans(105.0) == []


def test_memory_is_bounded_whatever_the_number_of_sources() -> None:
    limiter = SourceRateLimiter(RateLimit(1, 10.0), 100.0, max_sources=100, max_bans=10)
    for i in range(5000):
        source = f"10.{i // 65536}.{i // 256 % 256}.{i % 256}"
        limiter.admit(source, 0.0)
        limiter.admit(source, 0.0)
    assert limiter.tracked_sources <= 100
    assert len(limiter.bans(0.0)) == 10


def test_reconfigure_keeps_bans() -> None:
    limiter = SourceRateLimiter(RateLimit(1, 1.0), 100.0)
    verdicts(limiter, "192.0.2.1", [0.0, 0.0])
    limiter.reconfigure(RateLimit(100, 1.0), 50.0, [("198.51.100.0/24", None)])
    assert limiter.admit("192.0.2.1", 1.0) is D
    assert verdicts(limiter, "192.0.2.2", [1.0] * 100) == [A] * 100
    assert verdicts(limiter, "198.51.100.1", [1.0] * 1000) == [A] * 1000


def test_bad_settings_are_refused() -> None:
    with pytest.raises(LocalProtocolError):
        RateLimit(0, 2.0)
    with pytest.raises(LocalProtocolError):
        RateLimit(16, 0.0)
    with pytest.raises(LocalProtocolError):
        SourceRateLimiter(KAMAILIO, 0.0)
    with pytest.raises(LocalProtocolError):
        SourceRateLimiter(KAMAILIO, 300.0, networks=[("10.0.0.0/33", None)])


# --- properties -----------------------------------------------------------------------------------------------------

limits = st.builds(RateLimit, st.integers(1, 40), st.sampled_from([0.5, 1.0, 2.0, 10.0]))
gaps = st.lists(st.floats(0.0, 3.0, allow_nan=False), min_size=1, max_size=300)


def schedule(steps: list[float]) -> list[float]:
    times, now = [], 0.0
    for gap in steps:
        now += gap
        times.append(round(now, 3))
    return times


def within_limit(times: list[float], limit: RateLimit) -> list[float]:
    """The requests of ``times`` kept by dropping any that would put more than ``limit.requests`` in some window."""
    kept: list[float] = []
    for t in times:
        # The requests kept in (t - window, t]: adding t must leave at most `requests` there.
        if len(kept) - bisect.bisect_right(kept, t - limit.window) < limit.requests:
            kept.append(t)
    return kept


@settings(max_examples=200, deadline=None)
@given(limits, gaps)
def test_traffic_within_the_limit_is_never_refused(limit: RateLimit, steps: list[float]) -> None:
    times = within_limit(schedule(steps), limit)
    limiter = SourceRateLimiter(limit, 300.0)
    assert verdicts(limiter, "192.0.2.1", times) == [A] * len(times)


@settings(max_examples=200, deadline=None)
@given(limits, gaps, st.floats(0.1, 20.0))
def test_a_flooder_gets_at_most_the_bucket_through(limit: RateLimit, steps: list[float], span: float) -> None:
    times = schedule([gap / 50 for gap in steps])  # denser: up to 50 times faster than the limit
    limiter = SourceRateLimiter(limit, 1000.0)
    results = verdicts(limiter, "192.0.2.1", times)
    admitted = [t for t, v in zip(times, results, strict=True) if v is A]
    # In any `span` seconds at most `requests + span * requests / window` get through ...
    for start in admitted:
        inside = sum(1 for t in admitted if start <= t <= start + span)
        assert inside <= limit.requests + span / limit.interval + 1e-6
    # ... and once refused, nothing gets through for the whole ban.
    if R in results:
        refused = results.index(R)
        assert results.count(R) == 1
        assert all(v is D for t, v in zip(times[refused + 1:], results[refused + 1:], strict=True)
                   if t < times[refused] + 1000.0)
