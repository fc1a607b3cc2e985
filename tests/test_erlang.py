"""Erlang C against published values."""

import math

import pytest

from voxcenter.acd.erlang import (
    agents_for_service_level,
    answered_wait_cdf,
    answered_wait_mean,
    average_speed_of_answer,
    erlang_a,
    erlang_b,
    erlang_c,
    service_level,
)


def test_erlang_b_textbook_value() -> None:
    # 10 erlangs offered to 10 trunks: blocking 0.2146 (standard Erlang B tables).
    assert erlang_b(10, 10.0) == pytest.approx(0.2146, abs=1e-4)


def test_erlang_c_worked_example() -> None:
    # The widely reproduced staffing example: 100 calls in 30 min, AHT 180 s, so
    # A = 10 erlangs. Published table: 11 agents -> P(wait) 68.21 %, SL(20 s) 39.0 %,
    # ASA 122.8 s; 13 -> 28.53 %, 79.6 %, 17.1 s; 14 -> 17.41 %, 88.8 %, 7.8 s.
    traffic = 100 * 180 / 1800
    assert traffic == 10
    assert erlang_c(11, traffic) == pytest.approx(0.6821, abs=1e-4)
    assert service_level(11, traffic, 180, 20) == pytest.approx(0.390, abs=5e-4)
    assert average_speed_of_answer(11, traffic, 180) == pytest.approx(122.8, abs=0.05)
    assert erlang_c(13, traffic) == pytest.approx(0.2853, abs=1e-4)
    assert service_level(13, traffic, 180, 20) == pytest.approx(0.796, abs=5e-4)
    assert average_speed_of_answer(13, traffic, 180) == pytest.approx(17.1, abs=0.05)
    assert erlang_c(14, traffic) == pytest.approx(0.1741, abs=1e-4)
    assert service_level(14, traffic, 180, 20) == pytest.approx(0.888, abs=5e-4)
    assert agents_for_service_level(traffic, 180, 20, 0.8) == 14


def test_unstable_queue() -> None:
    assert erlang_c(5, 5.0) == 1.0
    assert math.isinf(average_speed_of_answer(5, 6.0, 100))
    assert service_level(4, 5.0, 100, 20) == 0.0


def test_occupancy_cap_adds_agents() -> None:
    assert agents_for_service_level(10, 180, 20, 0.8, max_occupancy=0.6) == 17


def test_bad_goal() -> None:
    with pytest.raises(ValueError):
        agents_for_service_level(10, 180, 20, 1.5)


def test_erlang_a_without_abandonment_is_erlang_c() -> None:
    a = erlang_a(10, 8.0, 180.0, patience=1e12, target=20.0)
    assert a.p_wait == pytest.approx(erlang_c(10, 8.0), rel=1e-6)
    assert a.service_level == pytest.approx(service_level(10, 8.0, 180.0, 20.0), rel=1e-6)
    assert a.asa == pytest.approx(average_speed_of_answer(10, 8.0, 180.0), rel=1e-5)
    assert a.p_abandon < 1e-6


def test_erlang_a_carries_overload() -> None:
    a = erlang_a(10, 12.0, 180.0, patience=300.0, target=20.0)  # Erlang C has no steady state here
    # Flow balance: the callers answered keep the 10 agents' capacity at most busy.
    assert 12.0 * (1 - a.p_abandon) < 10.0
    assert 0.0 < a.service_level < 1.0 - a.p_abandon


def test_answered_wait_closed_forms() -> None:
    r, th, t = 10 / 180, 1 / 300, 45.0
    assert answered_wait_cdf(1, r, th, t) == pytest.approx(1 - math.exp(-(r + th) * t))
    a, b = r + th, r + 2 * th  # two steps: the hypoexponential distribution
    assert answered_wait_cdf(2, r, th, t) == pytest.approx(1 - (b * math.exp(-a * t) - a * math.exp(-b * t)) / (b - a))
    assert answered_wait_cdf(3, r, 0.0, t) == pytest.approx(
        1 - math.exp(-r * t) * (1 + r * t + (r * t) ** 2 / 2))
    assert answered_wait_mean(3, r, th) == pytest.approx(1 / (r + th) + 1 / (r + 2 * th) + 1 / (r + 3 * th))
    assert answered_wait_cdf(400, r, th, 1e6) == pytest.approx(1.0)
    assert answered_wait_cdf(400, r, th, 1.0) == pytest.approx(0.0, abs=1e-12)
    assert answered_wait_cdf(5, r, th, 0.0) == 0.0
