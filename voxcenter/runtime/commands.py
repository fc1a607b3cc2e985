"""``voxcenter run``: the server in the foreground, with SIGHUP reload and SIGTERM drain."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import signal
from typing import Any

import structlog

from voxcenter.config import ConfigError
from voxcenter.config.durations import cli_duration
from voxcenter.logs import configure_logging

logger = structlog.get_logger(__name__)

GC_THRESHOLDS = (1000, 15, 100)
"""The collector's thresholds once running (Python's are 700, 10, 10). Every tenth young-generation pass walked
the middle one and every tenth of those could walk everything alive: with calls lingering in the SIP layer for
32 s (RFC 6026) that full collection stopped the loop for hundreds of milliseconds every couple of seconds.
Here a full collection is considered ten times less often and the young ones are barely longer
(docs/benchmarks.md: GC CPU 3.3 s → 0.8 s over a 20 s step at 300 calls per second)."""


def add_commands(subparsers: Any) -> None:
    run = subparsers.add_parser("run", help="run the server with a dial plan")
    run.add_argument("--config", default="config/voxcenter.yaml", help="the dial plan (default: %(default)s)")
    run.add_argument("--log-level", default="info", help="debug, info, warning, error (default: %(default)s)")
    run.add_argument("--log-json", action="store_true", default=None, help="JSON logs even on a terminal")
    run.add_argument("--drain", type=cli_duration, default="30s",
                     help="how long calls in progress may continue after SIGTERM (default: %(default)s)")
    run.add_argument("--node", default=None, help="node name in CDRs (default: the host name)")
    run.add_argument("--database", metavar="URL", default=None,
                     help="postgresql://... or sqlite:///path (default: $VOXCENTER_DATABASE_URL, else the dial "
                          "plan's database.url, else a SQLite file next to it), as the reports find it")
    run.set_defaults(handler=run_server)


def run_server(args: argparse.Namespace) -> int:
    configure_logging(args.log_level, json=args.log_json)
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:  # uvloop is optional (not on Windows)
        runner = asyncio.run
    try:
        database = args.database or os.environ.get("VOXCENTER_DATABASE_URL") or None
        return int(runner(_serve(args.config, args.drain, args.node, database)))
    except KeyboardInterrupt:
        return 0


async def _serve(config_path: str, drain: float, node: str | None, database: str | None) -> int:
    from voxcenter.runtime.server import Server
    from voxcenter.runtime.startup import StartupError

    server = Server(config_path, node=node, database_url=database)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # SIGTERM and SIGINT are handled from the first moment: one that arrives while the server starts (a
    # supervisor, a rolling restart) stops it once started, where the default action would kill the process
    # half-way, its journal and listeners open.
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await server.start()
    except ConfigError as error:
        for issue in error.errors:
            print(issue)
        return 2
    except StartupError as error:
        logger.error("voxcenter.start_failed", error=str(error))
        return 1

    def reload() -> None:
        async def do_reload() -> None:
            try:
                await server.reload()
            except ConfigError as error:
                logger.error("config.reload_refused", errors=[str(issue) for issue in error.errors])

        server.spawn(do_reload())

    with contextlib.suppress(NotImplementedError):
        loop.add_signal_handler(signal.SIGHUP, reload)
    # Everything built at start-up (config, prompts, modules) lives as long as the process: take it out of
    # the collector's walks, which otherwise pause the loop in proportion to the heap (bench/sip_cps.py).
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    await stop.wait()
    await server.stop(drain)
    return 0
