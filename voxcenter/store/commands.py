"""``voxcenter db upgrade``: migrate the database to the schema this version of voxcenter needs.
``voxcenter db close-calls --node NAME``: end the calls a node that will not start again left open."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from alembic.util.exc import CommandError
from sqlalchemy.exc import DBAPIError

from voxcenter.store.db import DatabaseUrlError, default_database_url, upgrade

DEFAULT_CONFIG = "config/voxcenter.yaml"


def add_database_options(parser: argparse.ArgumentParser) -> None:
    """``--database`` and ``--config``, shared by every command that opens the database."""
    parser.add_argument(
        "--database",
        metavar="URL",
        help="postgresql://... or sqlite:///path (default: $VOXCENTER_DATABASE_URL, else a "
        "SQLite file next to the config)",
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        default=DEFAULT_CONFIG,
        help=f"dial-plan file, locates the default database (default: {DEFAULT_CONFIG})",
    )


def database_url(args: argparse.Namespace) -> str:
    """The URL chosen by ``--database``, ``$VOXCENTER_DATABASE_URL``, the dial plan's ``database.url``, or the
    default SQLite file next to ``--config`` — the same database ``voxcenter run`` writes to."""
    explicit = args.database or os.environ.get("VOXCENTER_DATABASE_URL")
    if explicit:
        return str(explicit)
    path = Path(args.config)
    if path.is_file():
        from voxcenter.config import ConfigError, load_config

        try:
            configured = load_config(path, check_prompts=False).database.url
        except ConfigError:
            configured = None  # `voxcenter check` reports the plan's problems; the default file is used here
        if configured:
            return configured
    return default_database_url(path)


def run_db_upgrade(args: argparse.Namespace) -> int:
    """Handler of ``voxcenter db upgrade``."""
    url = database_url(args)
    try:
        upgrade(url, args.revision)
    except DatabaseUrlError as exc:
        print(f"voxcenter db upgrade: {exc}", file=sys.stderr)
        return 2
    except (DBAPIError, OSError, CommandError) as exc:
        print(f"voxcenter db upgrade: cannot migrate {url}: {exc}", file=sys.stderr)
        return 1
    print(f"database {url} is at revision {args.revision}")
    return 0


def run_db_close_calls(args: argparse.Namespace) -> int:
    """Handler of ``voxcenter db close-calls``: what a restart of the node would do (``store.recovery``)."""
    import asyncio

    url = database_url(args)
    try:
        closed = asyncio.run(_close_calls(url, args.node))
    except DatabaseUrlError as exc:
        print(f"voxcenter db close-calls: {exc}", file=sys.stderr)
        return 2
    except (DBAPIError, OSError) as exc:
        print(f"voxcenter db close-calls: cannot reach {url}: {exc}", file=sys.stderr)
        return 1
    if closed is None:
        print("voxcenter db close-calls: the database did not take the records in time: run it again",
              file=sys.stderr)
        return 1
    print(f"closed {closed} call(s) node {args.node} left open")
    return 0


async def _close_calls(url: str, node: str) -> int | None:
    import tempfile

    from voxcenter.store.recovery import find_open_calls
    from voxcenter.store.writer import DurableWriter

    closing = await find_open_calls(url, node)
    with tempfile.TemporaryDirectory(prefix="voxcenter-close-calls-") as journal:
        writer = DurableWriter(journal, url)
        await writer.start()
        for call in closing.calls:
            writer.submit(call)
        for leg in closing.legs:
            writer.submit(leg)
        written = await writer.close(within=30.0)
    return len(closing.calls) if written else None


def add_commands(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``db upgrade``; each parser sets ``handler`` (call ``args.handler(args)``, an exit status)."""
    db = subparsers.add_parser("db", help="database maintenance")
    actions = db.add_subparsers(dest="db_command", required=True)
    up = actions.add_parser("upgrade", help="run the schema migrations (safe to repeat)")
    add_database_options(up)
    up.add_argument("--revision", default="head", help="target revision (default: head)")
    up.set_defaults(handler=run_db_upgrade)
    close = actions.add_parser("close-calls", help="end the calls a crashed node left in progress (a node that "
                               "will not start again; a restarted node does this itself)")
    add_database_options(close)
    close.add_argument("--node", required=True, help="the node's name (its --node, the host name by default)")
    close.set_defaults(handler=run_db_close_calls)


def run(argv: list[str]) -> int:
    """Parse ``argv`` with only these commands and run the handler (for tests and scripts)."""
    parser = argparse.ArgumentParser(prog="voxcenter")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    status: int = args.handler(args)
    return status
