"""``voxcenter report`` and ``voxcenter staffing``."""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy.exc import DBAPIError

from voxcenter.reports.charts import render_png
from voxcenter.reports.kpi import INTERVALS, ReportError, build_report, interval_seconds
from voxcenter.reports.render import (
    report_csv,
    report_json,
    report_table,
    staffing_csv,
    staffing_json,
    staffing_table,
)
from voxcenter.reports.staffing import staffing_plan
from voxcenter.store.commands import add_database_options, database_url
from voxcenter.store.db import DatabaseUrlError, make_engine

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$")


def parse_duration(text: str) -> float:
    """``20``, ``20s``, ``2m``, ``1h`` → seconds."""
    match = _DURATION.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 20s, 2m or 1h")
    return float(match.group(1)) * {"s": 1, "m": 60, "h": 3600, None: 1}[match.group(2)]


def parse_fraction(text: str) -> float:
    """``80%`` or ``0.8`` → 0.8; ``+30%`` → 0.3."""
    stripped = text.strip()
    try:
        return float(stripped[:-1]) / 100 if stripped.endswith("%") else float(stripped)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a fraction like 0.8 or 80%") from None


def parse_offset(text: str) -> float:
    """``+02:00``, ``-5``, ``0`` → seconds east of UTC."""
    match = re.match(r"^([+-]?)(\d{1,2})(?::?(\d{2}))?$", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a UTC offset like +02:00")
    seconds = int(match.group(2)) * 3600 + int(match.group(3) or 0) * 60
    return -seconds if match.group(1) == "-" else seconds


def parse_time(text: str, utc_offset: float) -> float:
    """ISO date/time (in the ``--utc-offset`` zone unless it says otherwise) or POSIX seconds."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ReportError(f"{text!r} is not a date like 2026-11-20 or 2026-11-20T09:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone(timedelta(seconds=utc_offset)) if utc_offset else UTC)
    return moment.timestamp()


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="start", required=True, help="start, e.g. 2026-11-20 (inclusive)")
    parser.add_argument("--to", dest="end", required=True, help="end, e.g. 2026-11-21 (exclusive)")
    parser.add_argument("--queue", help="only this queue")
    parser.add_argument(
        "--utc-offset",
        type=parse_offset,
        default=0.0,
        help="time zone of dates and intervals, e.g. +01:00 (default: UTC)",
    )
    parser.add_argument("--output", "-o", metavar="PATH", help="write here instead of standard output")
    add_database_options(parser)


def _emit(args: argparse.Namespace, content: str | bytes) -> None:
    if args.output:
        Path(args.output).write_bytes(content if isinstance(content, bytes) else content.encode())
    elif isinstance(content, bytes):
        sys.stdout.buffer.write(content)
    else:
        sys.stdout.write(content)


async def _report(args: argparse.Namespace) -> str | bytes:
    engine = make_engine(database_url(args))
    try:
        report = await build_report(
            engine,
            parse_time(args.start, args.utc_offset),
            parse_time(args.end, args.utc_offset),
            queue=args.queue,
            interval=args.interval,
            sl_threshold=args.sl_threshold,
            short_abandon=args.short_abandon,
            utc_offset=args.utc_offset,
        )
    finally:
        await engine.dispose()
    if args.format == "png":
        return await asyncio.get_running_loop().run_in_executor(None, render_png, report)
    return {"table": report_table, "csv": report_csv, "json": report_json}[args.format](report)


async def _staffing(args: argparse.Namespace) -> str:
    engine = make_engine(database_url(args))
    try:
        plan = await staffing_plan(
            engine,
            parse_time(args.start, args.utc_offset),
            parse_time(args.end, args.utc_offset),
            queue=args.queue,
            interval=interval_seconds(args.interval),
            target=args.target,
            within=args.within,
            growth=args.growth,
            max_occupancy=args.max_occupancy,
            utc_offset=args.utc_offset,
        )
    finally:
        await engine.dispose()
    return {"table": staffing_table, "csv": staffing_csv, "json": staffing_json}[args.format](plan)


def _run(name: str, args: argparse.Namespace, work: str) -> int:
    try:
        content = asyncio.run(_report(args) if work == "report" else _staffing(args))
    except (ReportError, DatabaseUrlError) as exc:
        print(f"voxcenter {name}: {exc}", file=sys.stderr)
        return 2
    except (DBAPIError, OSError) as exc:
        print(f"voxcenter {name}: cannot read the database: {exc}", file=sys.stderr)
        return 1
    if args.format == "png" and not args.output and sys.stdout.isatty():
        print(f"voxcenter {name}: a PNG needs --output FILE (or a pipe)", file=sys.stderr)
        return 2
    _emit(args, content)
    return 0


def run_report(args: argparse.Namespace) -> int:
    """Handler of ``voxcenter report``."""
    return _run("report", args, "report")


def run_staffing(args: argparse.Namespace) -> int:
    """Handler of ``voxcenter staffing``."""
    return _run("staffing", args, "staffing")


def add_commands(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``report`` and ``staffing``; each sets ``handler`` (call ``args.handler(args)``, an exit status)."""
    report = subparsers.add_parser("report", help="KPIs per interval: volume, AHT, abandonment, SL, NPS...")
    _common(report)
    report.add_argument("--interval", choices=list(INTERVALS), default="hour")
    report.add_argument("--format", choices=["table", "csv", "json", "png"], default="table")
    report.add_argument(
        "--sl-threshold",
        type=parse_duration,
        default=20.0,
        metavar="DURATION",
        help="answered within this counts for the service level (default: 20s)",
    )
    report.add_argument(
        "--short-abandon",
        type=parse_duration,
        default=5.0,
        metavar="DURATION",
        help="abandons quicker than this are left out (default: 5s)",
    )
    report.set_defaults(handler=run_report)
    staffing = subparsers.add_parser("staffing", help="agents needed per interval for a service level (Erlang C)")
    _common(staffing)
    staffing.add_argument("--interval", choices=[n for n in INTERVALS if n != "day"], default="30m")
    staffing.add_argument("--format", choices=["table", "csv", "json"], default="table")
    staffing.add_argument("--target", type=parse_fraction, default=0.8, help="service-level goal (default: 80%%)")
    staffing.add_argument(
        "--within", type=parse_duration, default=20.0, metavar="DURATION", help="answer-time threshold (default: 20s)"
    )
    staffing.add_argument(
        "--growth", type=parse_fraction, default=0.0, help="what-if volume change, e.g. 30%% (default: 0)"
    )
    staffing.add_argument(
        "--max-occupancy", type=parse_fraction, default=1.0, help="cap on agent occupancy, e.g. 85%% (default: none)"
    )
    staffing.set_defaults(handler=run_staffing)


def run(argv: list[str]) -> int:
    """Parse ``argv`` with only these commands and run the handler (for tests and scripts)."""
    parser = argparse.ArgumentParser(prog="voxcenter")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    status: int = args.handler(args)
    return status
