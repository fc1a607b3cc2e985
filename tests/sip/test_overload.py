"""Overload control (``voxcenter/sip/overload.py``) on a fake clock: calls, rate and lag limits, Retry-After."""

from __future__ import annotations

import itertools
import random

from voxcenter.sip.endpoint import keepalive_offsets
from voxcenter.sip.overload import LAG_TIME_CONSTANT, OverloadControl, OverloadPolicy, Refusal


def control(**policy: object) -> OverloadControl:
    return OverloadControl(OverloadPolicy(**policy), rng=random.Random(7))  # type: ignore[arg-type]


def test_calls_in_progress_at_the_limit_are_refused() -> None:
    guard = control(max_calls=3, max_lag=None)
    assert guard.admit(0.0, 2).accepted
    verdict = guard.admit(0.0, 3)
    assert verdict.refusal is Refusal.CALLS and verdict.retry_after == 10


def test_the_rate_limit_passes_its_rate_and_a_one_second_burst_and_refuses_the_rest() -> None:
    guard = control(max_rate=10.0, max_lag=None)
    burst = [guard.admit(0.0, 0).accepted for _ in range(12)]
    assert burst.count(True) == 10 and burst[-2:] == [False, False]
    assert guard.admit(0.0, 0).refusal is Refusal.RATE
    # A second later the bucket is full again (10), then 10 per second get through, offered at 20 per second
    # for 10 s: 10 + 99.5.
    accepted = sum(guard.admit(1.0 + i * 0.05, 0).accepted for i in range(200))
    assert 109 <= accepted <= 110


def test_a_single_lag_spike_sheds_nothing_but_sustained_lag_sheds_all() -> None:
    guard = control(max_lag=0.05)
    guard.record_lag(0.0, 0.0)
    guard.record_lag(0.3, 0.05)  # one 300 ms garbage collection
    assert guard.lag < 0.05 and guard.shed_probability() == 0.0
    assert all(guard.admit(0.06, 0).accepted for _ in range(50))
    now = 0.05
    for _ in range(int(3 * LAG_TIME_CONSTANT / 0.05)):  # 1.5 s of the loop running 150 ms late
        now += 0.05
        guard.record_lag(0.15, now)
    assert guard.lag > 0.1 and guard.shed_probability() == 1.0
    assert all(guard.admit(now, 0).refusal is Refusal.LAG for _ in range(50))


def test_moderate_lag_sheds_a_share_and_recovery_sheds_none() -> None:
    guard = control(max_lag=0.05)
    now = 0.0
    for _ in range(100):
        now += 0.05
        guard.record_lag(0.075, now)  # half way from the limit to twice it
    assert abs(guard.shed_probability() - 0.5) < 0.02
    refused = sum(not guard.admit(now, 0).accepted for _ in range(1000))
    assert 440 <= refused <= 560
    for _ in range(60):  # 3 s of a punctual loop
        now += 0.05
        guard.record_lag(0.001, now)
    assert guard.shed_probability() == 0.0 and guard.admit(now, 0).accepted


def test_retry_after_grows_with_the_share_refused_and_falls_back() -> None:
    guard = control(max_calls=1, max_lag=None, retry_after=5, retry_after_max=65)
    first = guard.admit(0.0, 1)
    assert first.refusal is Refusal.CALLS and first.retry_after == 5  # nothing refused before it
    now = 0.0
    for _ in range(200):  # a long overload: everything refused
        now += 0.01
        last = guard.admit(now, 1)
    assert last.retry_after >= 64
    for _ in range(300):  # load gone: calls accepted for 30 s
        now += 0.1
        assert guard.admit(now, 0).accepted
    assert guard.admit(now, 1).retry_after == 5


def test_a_reload_changes_the_limits() -> None:
    guard = control(max_calls=1, max_lag=None)
    assert not guard.admit(0.0, 1).accepted
    guard.reconfigure(OverloadPolicy(max_calls=5, max_lag=None))
    assert guard.admit(0.1, 1).accepted


def test_keepalives_are_spread_evenly_over_the_interval() -> None:
    assert keepalive_offsets(0, 30.0) == []
    offsets = keepalive_offsets(400, 30.0)
    assert offsets[0] == 0.0 and len(offsets) == 400
    gaps = {round(b - a, 9) for a, b in itertools.pairwise(offsets)}
    assert gaps == {0.075} and offsets[-1] < 30.0


def test_shedding_starts_past_the_limit_and_ends_under_half_of_it() -> None:
    guard = control(max_lag=0.05)
    now = 0.0
    states = []
    for lag in [0.0] * 10 + [0.2] * 20 + [0.04] * 40 + [0.0] * 40:
        now += 0.05
        guard.record_lag(lag, now)
        states.append(guard.shedding)
    first_on = states.index(True)
    assert 10 < first_on < 30  # once the smoothed lag passed 50 ms
    # Still on while the smoothed lag falls from 200 ms through 50 ms and sits at 40 ms (above 25 ms) ...
    assert all(states[first_on:70])
    # ... off once it has decayed under 25 ms, and stays off.
    assert not states[-1] and states[70:].count(True) < 40
    assert not control(max_lag=None).shedding
