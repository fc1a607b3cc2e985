"""``voxcenter campaign`` and ``voxcenter dnc``: outbound campaigns fed, started, paused and followed through
the running server's admin API (address and token as for ``voxcenter queues``)."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.parse
from pathlib import Path
from typing import Any

from voxcenter.api.views_cli import ViewError, api_options, endpoint, http_fetch


def add_commands(subparsers: Any) -> None:
    campaign = subparsers.add_parser("campaign", help="outbound campaigns: import contacts, start, pause, status")
    campaign.add_argument("action", choices=["status", "import", "start", "pause"])
    campaign.add_argument("name", nargs="?", help="the campaign (status: all of them when left out)")
    campaign.add_argument("csv", nargs="?", type=Path,
                          help="import: a CSV file with a header: number, and optionally name, timezone, ...")
    api_options(campaign)
    campaign.set_defaults(handler=run_campaign)
    dnc = subparsers.add_parser("dnc", help="the do-not-call list: numbers no campaign dials")
    dnc.add_argument("action", choices=["add", "remove"])
    dnc.add_argument("numbers", nargs="+")
    api_options(dnc)
    dnc.set_defaults(handler=run_dnc)


def render_campaign(view: dict[str, Any]) -> str:
    contacts = view.get("contacts", {})
    outcomes = ", ".join(f"{name} {count}" for name, count in sorted(view.get("outcomes", {}).items())) or "none"
    return (f"{view['name']} ({view['mode']}, queue {view['queue']}): {'running' if view['running'] else 'paused'}\n"
            f"  contacts: " + ", ".join(f"{status} {count}" for status, count in contacts.items()) + "\n"
            f"  dials {view['dials']} (now {view['dialing']}), outcomes: {outcomes}\n"
            f"  answer rate {view['answer_rate']:.0%}, abandon rate {view['abandon_rate']:.1%} "
            f"(limit {view['abandon_limit']:.0%})")


def run_campaign(args: argparse.Namespace) -> int:
    base, token = endpoint(args)
    try:
        if args.action == "status":
            path = "/api/campaigns" + (f"/{urllib.parse.quote(args.name)}" if args.name else "")
            data = http_fetch(base, token)(path)
            views = data.get("campaigns", [data])
            print("\n".join(render_campaign(view) for view in views) or "no campaigns in the dial plan")
            return 0
        if not args.name:
            print(f"voxcenter campaign {args.action}: name the campaign", file=sys.stderr)
            return 2
        name = urllib.parse.quote(args.name)
        if args.action == "import":
            if args.csv is None:
                print("voxcenter campaign import: give the CSV file", file=sys.stderr)
                return 2
            result = http_fetch(base, token, "POST", args.csv.read_bytes())(f"/api/campaigns/{name}/contacts")
            print(f"{result['added']} added, {result['duplicates']} already there, "
                  f"{result['do_not_call']} on the do-not-call list, {len(result['refused'])} refused")
            for line in result["refused"]:
                print(f"  {line}")
            return 0
        print(render_campaign(http_fetch(base, token, "POST")(f"/api/campaigns/{name}/{args.action}")))
        return 0
    except (ViewError, OSError) as error:
        print(f"voxcenter campaign: {error}", file=sys.stderr)
        return 1


def run_dnc(args: argparse.Namespace) -> int:
    base, token = endpoint(args)
    body = json.dumps({"numbers": args.numbers}).encode()
    try:
        result = http_fetch(base, token, "POST" if args.action == "add" else "DELETE", body)("/api/do-not-call")
    except ViewError as error:
        print(f"voxcenter dnc: {error}", file=sys.stderr)
        return 1
    print(f"{result['changed']} number(s) {'added to' if args.action == 'add' else 'removed from'} the list")
    return 0
