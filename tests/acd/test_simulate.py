"""The simulator drives the real router; M/M/c results must match Erlang C within sampling error."""

import argparse
import csv
import math
from pathlib import Path

import pytest

from voxcenter.acd.commands import add_commands
from voxcenter.acd.simulate import (
    DAY,
    HandleDistribution,
    Peak,
    SimConfig,
    batch_standard_error,
    goals,
    rate_factor,
    simulate,
)
from voxcenter.acd.stats import ewt_hit

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
    assert 0 < report.ewt_samples < n and report.ewt_accuracy is not None  # only callers who waited count


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


def test_impatient_callers_match_erlang_a() -> None:
    report = simulate(SimConfig(calls=12000, agents=10, load=9.5, patience=300.0, seed=4))
    assert report.theory == "Erlang A"
    n = report.measured_calls
    abandoned = report.abandoned / n
    assert abs(abandoned - report.erlang_abandoned) <= Z * math.sqrt(abandoned * (1 - abandoned) / n) * 3
    assert abs(report.p_wait - report.erlang_p_wait) <= tolerance(report.p_wait, report.p_wait_se, n)
    assert abs(report.service_level - report.erlang_service_level) <= tolerance(
        report.service_level, report.service_level_se, n
    )


def test_ewt_accuracy_is_the_one_measure_over_answered_callers_who_waited() -> None:
    report = simulate(SimConfig(calls=3000, agents=5, load=4.5, patience=300.0, seed=6))
    judged = [r for r in report.callers if r.measured and r.wait is not None and r.wait > 0 and r.ewt is not None]
    assert report.ewt_samples == len(judged) < report.answered  # callers answered at once are left out
    assert report.ewt_hits == sum(1 for r in judged if ewt_hit(r.ewt or 0.0, r.wait or 0.0))
    assert report.ewt_accuracy == report.ewt_hits / report.ewt_samples
    assert sum(row.judged for row in report.by_position) == report.ewt_samples
    assert sum(row.hits for row in report.by_position) == report.ewt_hits
    assert [row.label for row in report.by_position][:3] == ["1", "2", "3"]


def test_arrival_profile_peaks_every_day() -> None:
    profile = (Peak(36000.0, 39600.0, 1.6),)
    assert rate_factor(profile, 100.0) == (1.0, 36000.0)
    assert rate_factor(profile, 36000.0) == (1.6, 39600.0)
    assert rate_factor(profile, DAY + 39600.0) == (1.0, 2 * DAY)
    flat = simulate(SimConfig(calls=6000, agents=10, load=8.0, patience=300.0, seed=8))
    peaked = simulate(SimConfig(calls=6000, agents=10, load=8.0, patience=300.0, seed=8, profile=profile))
    assert peaked.simulated_seconds < flat.simulated_seconds  # more callers per hour during the peaks
    assert peaked.abandoned > flat.abandoned
    with pytest.raises(ValueError):
        Peak(39600.0, 36000.0, 1.6)


def test_goal_rows_are_the_issue_traffic() -> None:
    rows = goals()
    assert [(g.config.agents, g.config.load, g.goal) for g in rows] == [
        (10, 8.5, 0.78), (10, 9.5, 0.75), (10, 8.0, 0.80), (30, 27.0, 0.96)]
    assert all(g.config.patience == 300.0 and g.config.handle_time == 180.0 and g.config.calls == 20000
               for g in rows)
    assert rows[2].config.profile == (Peak(36000.0, 39600.0, 1.6),)


def test_bad_config_is_refused() -> None:
    with pytest.raises(ValueError):
        SimConfig(agents=0)


def test_command_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    parser = argparse.ArgumentParser(prog="voxcenter")
    add_commands(parser.add_subparsers(dest="command", required=True))
    csv_path = tmp_path / "callers.csv"
    args = parser.parse_args(["simulate", "--calls", "400", "--agents", "4", "--load", "3", "--patience", "1m",
                              "--profile", "1h-2h:1.5", "--csv", str(csv_path)])
    assert args.handler(args) == 0
    out = capsys.readouterr().out
    assert "Erlang A" in out and "Erlang C" not in out and "EWT accuracy" in out
    assert "position at join" in out and "| 4 agents, 75% load, 1 h peak at ×1.5" in out
    with csv_path.open() as f:
        lines = list(csv.DictReader(f))
    assert len(lines) == 400 and {"position", "ewt", "wait", "outcome", "hit"} <= lines[0].keys()
    args = parser.parse_args(["simulate", "--calls", "400", "--agents", "4", "--load", "3"])
    assert args.handler(args) == 0
    assert "Erlang C" in capsys.readouterr().out
    args = parser.parse_args(["simulate", "--goals", "--calls", "200"])
    args.handler(args)
    table = capsys.readouterr().out
    assert table.count("| 10 agents") == 3 and "| 30 agents, 90% load |" in table and "≥ 96%" in table
    args = parser.parse_args(["simulate", "--calls", "400", "--agents", "0"])
    assert args.handler(args) == 2
    with pytest.raises(SystemExit):
        parser.parse_args(["simulate", "--profile", "10h:1.6"])
