"""Campaign pacing: progressive lines, the predictive model, and the abandon cap held in a simulation."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from voxcenter.acd.campaign_sim import simulate_campaign
from voxcenter.acd.pacing import (
    WARMUP_DIALS,
    DialStats,
    Measures,
    Staffing,
    binomial_pmf,
    expected_abandon_share,
    predictive_lines,
    progressive_lines,
)


def measures(rate: float = 0.3, abandon: float = 0.0, dials: int = 100) -> Measures:
    return Measures(dials=dials, answer_rate=rate, answer_time=8.0, handle_time=120.0, abandon_rate=abandon)


def test_progressive_dials_one_customer_per_free_agent_not_covered_by_a_dial() -> None:
    assert progressive_lines(Staffing(free=5), in_flight=2) == 3
    assert progressive_lines(Staffing(free=1), in_flight=3) == 0


def test_predictive_is_progressive_until_measured_and_when_the_budget_is_spent() -> None:
    staffing = Staffing(free=4, talking=6)
    assert predictive_lines(staffing, 0, measures(dials=WARMUP_DIALS - 1), 0.03) == 4
    assert predictive_lines(staffing, 0, measures(abandon=0.03), 0.03) == 4
    assert predictive_lines(staffing, 0, measures(abandon=0.05), 0.03) == 4


def test_predictive_dials_ahead_more_when_fewer_dials_are_answered() -> None:
    staffing = Staffing(free=4, talking=6)
    few = predictive_lines(staffing, 0, measures(rate=0.4), 0.03)
    many = predictive_lines(staffing, 0, measures(rate=0.2), 0.03)
    assert 4 < few < many


def test_agents_about_to_free_up_count() -> None:
    idle = predictive_lines(Staffing(free=2), 0, measures(), 0.03)
    wrapping = predictive_lines(Staffing(free=2, wrapping_up=(1.0, 2.0, 3.0)), 0, measures(), 0.03)
    assert wrapping > idle


def test_binomial_pmf_sums_to_one_and_has_the_mean() -> None:
    pmf = binomial_pmf(40, 0.3)
    assert math.isclose(pmf.sum(), 1.0) and math.isclose(float((pmf * range(41)).sum()), 12.0)


@given(st.integers(1, 60), st.floats(0.05, 1.0), st.integers(0, 20))
def test_the_expected_abandon_share_grows_with_the_dials(dials: int, rate: float, free: int) -> None:
    free_then = np.concatenate([np.zeros(free), [1.0]])  # exactly ``free`` agents free
    share = expected_abandon_share(dials, rate, free_then)
    assert 0.0 <= share <= 1.0 + 1e-9
    assert expected_abandon_share(dials + 1, rate, free_then) >= share - 1e-12
    if dials <= free:
        assert share < 1e-12  # never more answers than agents: nobody waits


def test_dial_stats_measure_over_their_windows() -> None:
    stats = DialStats(window=4, abandon_window=60.0, settle=30.0)
    for started, after in ((0.0, None), (1.0, 5.0), (2.0, None), (3.0, 7.0), (4.0, None)):
        stats.dial_ended(started, after)
    stats.dial_ended(20.0, None)  # too recent: a dial started with it may still ring
    stats.connected(0.0, abandoned=True)
    stats.connected(30.0, abandoned=False)
    now = stats.measures(40.0)
    assert (now.dials, now.answer_rate, now.answer_time, now.abandon_rate) == (4, 0.5, 6.0, 0.5)  # the last 4 started
    assert stats.measures(61.0).abandon_rate == 0.0  # the abandon of t=0 left the window


def test_the_answer_rate_is_not_biased_towards_quick_outcomes() -> None:
    # Half the customers answer after 15 s; the others are busy at once. Ten seconds in, every ended dial is a
    # busy one: the rate of the settled dials only is the true one.
    stats = DialStats(settle=20.0)
    for started in range(0, 40, 2):
        stats.dial_ended(float(started), None)  # busy, at once
        if started + 15 <= 60:
            stats.dial_ended(float(started), 15.0)
    assert stats.measures(60.0).answer_rate == 0.5


def test_one_short_call_does_not_make_the_handle_time_short() -> None:
    stats = DialStats(handle_prior=180.0)
    stats.handled(8.0)
    assert stats.measures(0.0).handle_time > 150.0
    for _ in range(95):
        stats.handled(30.0)
    assert abs(stats.measures(0.0).handle_time - 37.0) < 1.0


def test_predictive_holds_the_abandon_cap_and_keeps_agents_busier_than_progressive() -> None:
    for agents in (10, 50):
        predictive = simulate_campaign(agents=agents, mode="predictive", answer_rate=0.35, hours=1.0, seed=7)
        progressive = simulate_campaign(agents=agents, mode="progressive", answer_rate=0.35, hours=1.0, seed=7)
        assert predictive.abandon_rate <= 0.03, predictive
        assert progressive.abandon_rate == 0.0
        assert predictive.occupancy > progressive.occupancy + 0.05, (predictive, progressive)
