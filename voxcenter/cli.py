"""Command line: ``voxcenter run | demo | check | report | staffing | db | simulate``.

Each package registers its own subcommands (``add_commands``); every parser
sets ``handler(args) -> int``, the process exit status.
"""

from __future__ import annotations

import argparse
import sys

from voxcenter import __version__


def build_parser() -> argparse.ArgumentParser:
    from voxcenter.acd.commands import add_commands as add_acd_commands
    from voxcenter.api.campaigns_cli import add_commands as add_campaign_commands
    from voxcenter.api.views_cli import add_commands as add_view_commands
    from voxcenter.config_commands import add_commands as add_config_commands
    from voxcenter.reports.commands import add_commands as add_report_commands
    from voxcenter.runtime.commands import add_commands as add_runtime_commands
    from voxcenter.runtime.demo import add_commands as add_demo_commands
    from voxcenter.runtime.health import add_commands as add_health_commands
    from voxcenter.store.commands import add_commands as add_store_commands

    parser = argparse.ArgumentParser(
        prog="voxcenter", description="Contact-center telephony server: SIP, RTP, IVR, queues and agents."
    )
    parser.add_argument("--version", action="version", version=f"voxcenter {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_runtime_commands(subparsers)
    add_demo_commands(subparsers)
    add_config_commands(subparsers)
    add_report_commands(subparsers)
    add_store_commands(subparsers)
    add_acd_commands(subparsers)
    add_health_commands(subparsers)
    add_view_commands(subparsers)
    add_campaign_commands(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    status: int = args.handler(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
