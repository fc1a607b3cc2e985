"""The simulator drives the real router; M/M/c results must match Erlang C within sampling error."""

import argparse
import math

import pytest

from voxcenter.acd.commands import add_commands
from voxcenter.acd.simulate import (
    HandleDistribution,
    SimConfig,
    batch_standard_error,
    ewt_within,
    simulate,
)

Z = 4.0
"""Allowed deviation in standard errors: a false alarm about once in 16 000 runs of a correct router."""


def tolerance(measured: float, batch_se: float, samples: int) -> float:
    # The batch-means error accounts for the correlation between consecutive callers; the
    # binomial error of independent samples is a floor under it.
    binomial = math.sqrt(max(measured * (1 - measured), 1e-12) / samples)
    return Z * max(batch_se, binomial)


@pytest.mark.parametrize(("agents", "load", "calls", "seed"), [(10, 8.0, 20000, 11), (3, 2.0, 12000, 5)])
def test_mmc_matches_erlang_c(agents: int, load: float, calls: int, seed: int) -> None:
    report = simulate(SimConfig(calls=calls, agents=agents, load=load, handle_time=180.0, seed=seed))
    n = report.measured_calls
    assert report.answered == n and report.abandoned == 0
    assert abs(report.p_wait - report.erlang_p_wait) <= tolerance(report.p_wait, report.p_wait_se, n)
    assert abs(report.service_level - report.erlang_service_level) <= tolerance(
        report.service_level, report.service_level_se, n
    )
    assert report.ewt_samples == n and report.ewt_accuracy is not None


def test_overload_is_told_apart_from_theory() -> None:
    # The same check must fail when the router is given fewer agents than the theory assumes.
    report = simulate(SimConfig(calls=6000, agents=9, load=8.0, seed=3))
    from voxcenter.acd import erlang

    theory_for_ten = erlang.erlang_c(10, 8.0)
    assert abs(report.p_wait - theory_for_ten) > tolerance(report.p_wait, report.p_wait_se, report.measured_calls)


def test_impatient_callers_lognormal_handle_times_wrapup_and_missed_rings() -> None:
    config = SimConfig(
        calls=3000, agents=8, load=7.5, distribution=HandleDistribution.LOGNORMAL, patience=90.0, wrapup=15.0,
        answer_delay=4.0, no_answer_probability=0.05, announce_every=30.0, seed=2,
    )
    report = simulate(config)
    assert report.answered + report.abandoned == report.measured_calls
    assert report.abandoned > 0
    assert 0.0 <= report.service_level <= 1.0
    assert report == simulate(config)  # a seed reproduces a run exactly


def test_batch_standard_error() -> None:
    samples = [0.0] * 50 + [1.0] * 50
    # two batches with means 0 and 1: stdev 0.707, over sqrt(2)
    assert batch_standard_error(samples, 2) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        batch_standard_error([1.0], 2)


def test_ewt_accuracy_band() -> None:
    assert ewt_within(100.0, 129.0)  # ±30 s
    assert ewt_within(400.0, 500.0)  # ±25 %
    assert not ewt_within(400.0, 501.0)


def test_bad_config_is_refused() -> None:
    with pytest.raises(ValueError):
        SimConfig(agents=0)


def test_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="voxcenter")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["simulate", "--calls", "400", "--agents", "4", "--load", "3", "--patience", "1m"])
    assert args.handler(args) == 0
    out = capsys.readouterr().out
    assert "Erlang C" in out and "EWT accuracy" in out
    args = parser.parse_args(["simulate", "--calls", "400", "--agents", "0"])
    assert args.handler(args) == 2
