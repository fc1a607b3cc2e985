"""Erlang C against published values."""

import math

import pytest

from voxcenter.acd.erlang import (
    agents_for_service_level,
    average_speed_of_answer,
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
