"""``voxcenter check FILE``: validate a dial plan and print every problem as ``file:line:column: message``."""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from voxcenter.config import Config, analyse


def add_commands(subparsers: Any) -> None:
    """Register ``check`` on an ``argparse`` subparsers object; the parsed args carry ``handler(args) -> int``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "check",
        help="validate a dial plan (YAML) and list every problem",
        description="Validate a dial plan. Prints each problem as file:line:column: message and exits 1 if there "
        "is any error; prints a summary and exits 0 when the dial plan is valid.",
    )
    parser.add_argument("file", metavar="FILE", help="the dial plan, e.g. config/voxcenter.yaml")
    parser.add_argument(
        "--no-prompts",
        dest="check_prompts",
        action="store_false",
        help="do not check that every prompt file exists in every language a caller can reach it in",
    )
    parser.set_defaults(handler=run_check)


def run_check(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Check ``args.file``; 0 when valid (warnings allowed), 1 otherwise."""
    out = out or sys.stdout
    err = err or sys.stderr
    issues, config = analyse(args.file, check_prompts=args.check_prompts)
    for issue in issues:
        print(issue, file=err if issue.severity == "error" else out)
    errors = sum(1 for issue in issues if issue.severity == "error")
    if config is None or errors:
        print(f"{args.file}: {errors} error{'s' if errors != 1 else ''}, refused", file=err)
        return 1
    print(summary(args.file, config), file=out)
    return 0


def summary(file: str, config: Config) -> str:
    """One line: what the dial plan holds."""
    counts = [
        (len(config.numbers), "number"),
        (len(config.ivr), "IVR node"),
        (len(config.queues), "queue"),
        (len(config.agents), "agent"),
        (len(config.trunks), "trunk"),
        (len(config.routes), "route"),
        (len(config.schedules), "schedule"),
    ]
    parts = ", ".join(f"{n} {word}{'s' if n != 1 else ''}" for n, word in counts)
    listen = " ".join(f"{item.transport}:{item.address}:{item.effective_port}" for item in config.sip.listen)
    files = len(config.files)
    return (
        f"{file}: OK: {parts}; listening on {listen}; languages {', '.join(config.prompts.languages)}; "
        f"{len(config.warnings)} warning{'s' if len(config.warnings) != 1 else ''}; "
        f"{files} file{'s' if files != 1 else ''} read"
    )


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point (``python -m voxcenter.config_commands check FILE``)."""
    parser = argparse.ArgumentParser(prog="voxcenter")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    result: int = args.handler(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
