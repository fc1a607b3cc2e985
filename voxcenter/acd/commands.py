"""``voxcenter simulate``: run the ACD simulator from the command line.

``add_commands(subparsers)`` registers the subcommand; each parser stores its entry point as
``handler`` (``args.handler(args) -> int``).
"""

from __future__ import annotations

import argparse
import dataclasses
import time

from voxcenter.acd.model import Strategy
from voxcenter.acd.simulate import (
    HandleDistribution,
    Peak,
    SimConfig,
    SimReport,
    format_goal_table,
    format_report,
    goals,
    simulate,
    write_callers_csv,
)
from voxcenter.config.durations import cli_duration


def peak(text: str) -> Peak:
    """``--profile FROM-TO:FACTOR`` (argparse type)."""
    try:
        return Peak.parse(text, cli_duration)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``simulate`` on the CLI's subparsers."""
    parser = subparsers.add_parser(
        "simulate", help="drive the ACD router with Poisson callers and compare with Erlang C / Erlang A",
        description="Drive the real ACD router with simulated callers and agents (no network).",
    )
    parser.add_argument("--calls", type=int, default=None,
                        help="callers to generate (default 5000; 20000 per row with --goals)")
    parser.add_argument("--agents", type=int, default=10, help="agents logged in (default 10)")
    parser.add_argument("--load", type=float, default=8.0, help="offered traffic in erlangs (default 8)")
    parser.add_argument("--aht", type=cli_duration, default="3m", help="mean handle time (default: %(default)s)")
    parser.add_argument(
        "--distribution", choices=[d.value for d in HandleDistribution], default="exponential",
        help="handle-time distribution",
    )
    parser.add_argument("--sigma", type=float, default=0.6, help="log-normal shape (default 0.6)")
    parser.add_argument("--patience", type=cli_duration, default=None,
                        help="mean patience, e.g. 1m (default: never abandon)")
    parser.add_argument("--wrapup", type=cli_duration, default="0s", help="wrap-up time (default: %(default)s)")
    parser.add_argument("--answer-delay", type=cli_duration, default="0s", help="time before an agent answers")
    parser.add_argument("--no-answer", type=float, default=0.0, help="probability a ring is never answered")
    parser.add_argument("--service-level", type=cli_duration, default="20s",
                        help="answer-time target (default: %(default)s)")
    parser.add_argument("--strategy", choices=[s.value for s in Strategy], default="longest-idle")
    parser.add_argument("--announce-every", type=cli_duration, default=None, help="announcement period, e.g. 30s")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", type=peak, action="append", default=[], metavar="FROM-TO:FACTOR",
                        help="arrival-rate peak repeated every simulated day, e.g. 10h-11h:1.6 (repeatable)")
    parser.add_argument("--csv", metavar="FILE", default=None,
                        help="write one line per caller (position and estimate at join, wait, outcome, hit)")
    parser.add_argument("--goals", action="store_true",
                        help="run the wait estimate's goal traffic rows (--calls and --seed apply) and print the table")
    parser.set_defaults(handler=run_simulate)


def run_simulate(args: argparse.Namespace) -> int:
    """Entry point of ``voxcenter simulate``; returns the exit status."""
    if args.goals:
        return run_goals(args)
    try:
        config = SimConfig(
            calls=5000 if args.calls is None else args.calls, agents=args.agents, load=args.load, handle_time=args.aht,
            distribution=HandleDistribution(args.distribution), lognormal_sigma=args.sigma, patience=args.patience,
            wrapup=args.wrapup, answer_delay=args.answer_delay, no_answer_probability=args.no_answer,
            service_level=args.service_level, strategy=Strategy(args.strategy),
            announce_every=args.announce_every, seed=args.seed, profile=tuple(args.profile),
        )
    except ValueError as exc:
        print(f"voxcenter simulate: {exc}")
        return 2
    started = time.perf_counter()
    report = simulate(config)
    elapsed = time.perf_counter() - started
    print(format_report(report))
    print()
    print(format_goal_table([(config, report, goal_of(config))]))
    print(f"wall time      {elapsed:.2f} s")
    if args.csv:
        write_csv(report, args.csv)
    return 0


def goal_of(config: SimConfig) -> float | None:
    """The goal of the goal row with this traffic (callers and seed aside), if it is one."""
    for goal in goals():
        if dataclasses.replace(goal.config, calls=config.calls, seed=config.seed) == config:
            return goal.goal
    return None


def run_goals(args: argparse.Namespace) -> int:
    """``voxcenter simulate --goals``: every goal row, then the table (exit status 1 when a goal is missed)."""
    rows: list[tuple[SimConfig, SimReport, float | None]] = []
    started = time.perf_counter()
    calls = 20000 if args.calls is None else args.calls
    for goal in goals(calls, args.seed):
        report = simulate(goal.config)
        rows.append((goal.config, report, goal.goal))
        if args.csv:
            write_csv(report, f"{args.csv.removesuffix('.csv')}-{len(rows)}.csv")
    print(format_goal_table(rows))
    print(f"callers per row {calls}, seed {args.seed}, wall time {time.perf_counter() - started:.1f} s")
    met = all(r.ewt_accuracy is not None and r.ewt_accuracy >= g for _, r, g in rows if g is not None)
    return 0 if met else 1


def write_csv(report: SimReport, path: str) -> None:
    with open(path, "w", encoding="utf-8", newline="") as out:
        write_callers_csv(report, out)
