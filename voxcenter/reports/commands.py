"""``voxcenter report`` and ``voxcenter staffing``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import sys
import time
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.exc import DBAPIError

from voxcenter.config.durations import cli_duration
from voxcenter.reports.charts import render_png
from voxcenter.reports.kpi import INTERVALS, ReportError, build_report, interval_seconds
from voxcenter.reports.period import resolve_period
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
from voxcenter.store.db import DatabaseUrlError, make_engine, normalize_url

parse_duration = cli_duration
"""``20s``, ``2m``, ``1h30m`` → seconds; a bare number is refused, as in the dial plan."""


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


def zone_of(args: argparse.Namespace) -> tuple[tzinfo, str]:
    """The time zone of dates and intervals: ``--utc-offset``, else ``--timezone``, else the dial plan's."""
    if args.utc_offset is not None:
        zone = timezone(timedelta(seconds=args.utc_offset))
        return zone, str(zone)
    name = args.timezone
    if name is None:
        path = Path(args.config)
        name = "UTC"
        if path.is_file():
            from voxcenter.config import ConfigError, load_config

            with contextlib.suppress(ConfigError):
                name = load_config(path, check_prompts=False).timezone
    try:
        return ZoneInfo(name), name
    except (ZoneInfoNotFoundError, ValueError):
        raise ReportError(f"{name!r} is not an IANA time zone (e.g. Europe/Paris)") from None


def period_of(args: argparse.Namespace) -> tuple[float, float, float, str]:
    """``--from``/``--to`` as POSIX seconds, the UTC offset at the start and the zone's name."""
    zone, name = zone_of(args)
    start, end = resolve_period(args.start, args.end, zone, datetime.now(zone))
    offset = datetime.fromtimestamp(start, zone).utcoffset()
    return start, end, offset.total_seconds() if offset is not None else 0.0, name


def check_sqlite_exists(url: str) -> None:
    """A SQLite file that is not there is a mistyped path, not a new empty database (the report would be empty)."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:") \
            and not Path(str(parsed.database)).is_file():
        raise ReportError(f"no database at {parsed.database} (give the one voxcenter run writes to with "
                          f"--database or --config)")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="start", required=True,
                        help="start: today, yesterday, this-week, last-week, a date (2026-11-20) or a date and "
                             "time (2026-11-20T09:00), inclusive")
    parser.add_argument("--to", dest="end", default=None,
                        help="end, exclusive: a date, a date and time, or now (default: the end of the day or "
                             "week --from names, or now after a date and time)")
    parser.add_argument("--queue", help="only this queue")
    parser.add_argument("--timezone", default=None, metavar="ZONE",
                        help="IANA time zone of dates and intervals (default: the dial plan's, from its first "
                             "schedule; UTC without one)")
    parser.add_argument("--utc-offset", type=parse_offset, default=None,
                        help="a fixed offset instead of a time zone, e.g. +01:00")
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
    start, end, utc_offset, zone = period_of(args)
    url = database_url(args)
    check_sqlite_exists(url)
    engine = make_engine(url)
    try:
        report = await build_report(
            engine,
            start,
            end,
            queue=args.queue,
            interval=args.interval,
            sl_threshold=args.sl_threshold,
            short_abandon=args.short_abandon,
            utc_offset=utc_offset,
            timezone=zone,
            now=time.time(),
        )
    finally:
        await engine.dispose()
    if args.format == "png":
        return await asyncio.get_running_loop().run_in_executor(None, render_png, report, args.sl_target)
    return {"table": report_table, "csv": report_csv, "json": report_json}[args.format](report)


async def _staffing(args: argparse.Namespace) -> str:
    start, end, utc_offset, zone = period_of(args)
    url = database_url(args)
    check_sqlite_exists(url)
    engine = make_engine(url)
    try:
        plan = await staffing_plan(
            engine,
            start,
            end,
            queue=args.queue,
            interval=interval_seconds(args.interval),
            target=args.target,
            within=args.within,
            growth=args.growth,
            max_occupancy=args.max_occupancy,
            utc_offset=utc_offset,
            shrinkage=args.shrinkage,
            timezone=zone,
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
    report.add_argument("--sl-target", type=parse_fraction, default=0.8,
                        help="service-level goal drawn on the chart (default: 80%%)")
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
    staffing.add_argument(
        "--shrinkage", type=parse_fraction, default=0.0,
        help="share of paid time off the phones (absence, breaks, training), e.g. 30%%: the plan adds the agents "
             "to schedule (default: 0)",
    )
    staffing.set_defaults(handler=run_staffing)


def run(argv: list[str]) -> int:
    """Parse ``argv`` with only these commands and run the handler (for tests and scripts)."""
    parser = argparse.ArgumentParser(prog="voxcenter")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    status: int = args.handler(args)
    return status
