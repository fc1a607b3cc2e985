"""Estimated wait time and the rule that an announced estimate does not grow without a reason."""

import pytest

from voxcenter.acd.estimate import announceable_ewt, estimate_wait, ewma


def test_free_agents_mean_no_wait() -> None:
    assert estimate_wait(calls_ahead=1, callbacks_ahead=0, abandon_ratio=0.0, free_agents=2, staffed_agents=5,
                         handle_time=180) == 0.0


def test_all_busy_is_the_mmc_conditional_mean() -> None:
    # 4 callers ahead, 10 busy agents, 180 s handle time: 5 completions at rate 10/180 s.
    assert estimate_wait(4, 0, 0.0, 0, 10, 180.0) == pytest.approx(90.0)


def test_abandonment_shrinks_callers_ahead_but_not_callbacks() -> None:
    assert estimate_wait(4, 0, 0.5, 0, 1, 100.0) == pytest.approx(300.0)
    assert estimate_wait(0, 4, 0.5, 0, 1, 100.0) == pytest.approx(500.0)


def test_nobody_staffed_gives_no_estimate() -> None:
    assert estimate_wait(3, 0, 0.0, 0, 0, 100.0) is None


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        estimate_wait(-1, 0, 0.0, 0, 1, 100.0)
    with pytest.raises(ValueError):
        estimate_wait(1, 0, 1.5, 0, 1, 100.0)


def test_ewma() -> None:
    assert ewma(100.0, 200.0, 0.1) == pytest.approx(110.0)


def test_no_growth_without_reason() -> None:
    assert announceable_ewt(120.0, 90.0, staffed_now=5, staffed_then=5).ewt == 90.0
    grown = announceable_ewt(120.0, 90.0, staffed_now=4, staffed_then=5)
    assert grown.ewt == 120.0 and grown.reason == "fewer agents are available"
    assert announceable_ewt(60.0, 90.0, 5, 5).ewt == 60.0
    assert announceable_ewt(60.0, None, 5, 5).ewt == 60.0
