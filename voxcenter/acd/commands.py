"""``voxcenter simulate``: run the ACD simulator from the command line.

``add_commands(subparsers)`` registers the subcommand; each parser stores its entry point as
``handler`` (``args.handler(args) -> int``).
"""

from __future__ import annotations

import argparse
import time

from voxcenter.acd.model import Strategy
from voxcenter.acd.simulate import HandleDistribution, SimConfig, format_report, simulate
from voxcenter.config.durations import cli_duration


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``simulate`` on the CLI's subparsers."""
    parser = subparsers.add_parser(
        "simulate", help="drive the ACD router with Poisson callers and compare with Erlang C",
        description="Drive the real ACD router with simulated callers and agents (no network).",
    )
    parser.add_argument("--calls", type=int, default=5000, help="callers to generate (default 5000)")
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
    parser.set_defaults(handler=run_simulate)


def run_simulate(args: argparse.Namespace) -> int:
    """Entry point of ``voxcenter simulate``; returns the exit status."""
    try:
        config = SimConfig(
            calls=args.calls, agents=args.agents, load=args.load, handle_time=args.aht,
            distribution=HandleDistribution(args.distribution), lognormal_sigma=args.sigma, patience=args.patience,
            wrapup=args.wrapup, answer_delay=args.answer_delay, no_answer_probability=args.no_answer,
            service_level=args.service_level, strategy=Strategy(args.strategy),
            announce_every=args.announce_every, seed=args.seed,
        )
    except ValueError as exc:
        print(f"voxcenter simulate: {exc}")
        return 2
    started = time.perf_counter()
    report = simulate(config)
    elapsed = time.perf_counter() - started
    print(format_report(report))
    print(f"wall time      {elapsed:.2f} s")
    return 0
