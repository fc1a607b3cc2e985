"""``voxcenter queues | agents | calls``: live views of the running server, read through its admin API.

The API's address and token come from the dial plan (``api.address``, ``api.port``, ``api.token``) unless
``--api`` / ``--token`` (or ``$VOXCENTER_API_TOKEN``) say otherwise. ``--watch`` redraws the view in place
(the terminal is cleared and written again) until Ctrl-C. Rendering is pure: JSON in, text out.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from voxcenter.config.durations import cli_duration

CLEAR = "\x1b[H\x1b[2J"
"""Cursor home and clear screen (ANSI): what ``--watch`` writes before each frame."""

Fetch = Callable[[str], Any]


def api_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="config/voxcenter.yaml",
                        help="the dial plan, for the API's address and token (default: %(default)s)")
    parser.add_argument("--api", default=None, metavar="URL", help="the admin API (default: from the dial plan)")
    parser.add_argument("--token", default=None, help="bearer token (default: $VOXCENTER_API_TOKEN, then "
                                                      "the dial plan's api.token)")


def add_commands(subparsers: Any) -> None:
    member = subparsers.add_parser("member", help="add or remove a queue member at run time, or change its "
                                                  "penalty (kept across restarts), as Asterisk's "
                                                  "QueueAdd/QueueRemove/QueuePenalty")
    member.add_argument("action", choices=["add", "remove", "penalty"])
    member.add_argument("queue")
    member.add_argument("agent")
    member.add_argument("penalty", nargs="?", type=int, default=None,
                        help="add: the member's penalty (default 0); penalty: the new one")
    api_options(member)
    member.set_defaults(handler=run_member)
    for name, helptext in (("queues", "live queues: waiting callers, agents by state, SL, ASA, lost calls"),
                           ("agents", "live agents: state, time in it, the call they are on"),
                           ("calls", "calls in progress")):
        parser = subparsers.add_parser(name, help=helptext)
        api_options(parser)
        parser.add_argument("--watch", nargs="?", const="2s", default=None, type=cli_duration, metavar="EVERY",
                            help="redraw in place every EVERY (default 2s) until Ctrl-C")
        parser.add_argument("--json", action="store_true", help="the API's JSON instead of a table")
        parser.set_defaults(handler=run_view, view=name)


def endpoint(args: argparse.Namespace) -> tuple[str, str | None]:
    api, token = args.api, args.token or os.environ.get("VOXCENTER_API_TOKEN") or None
    if api is None or token is None:
        from voxcenter.config import ConfigError, load_config

        try:
            config = load_config(args.config, check_prompts=False)
        except (ConfigError, OSError):
            config = None
        if config is not None:
            host = str(config.api.address)
            api = api or f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{config.api.port}"
            token = token or config.api.token
    return (api or "http://127.0.0.1:8088").rstrip("/"), token


def http_fetch(base: str, token: str | None, method: str = "GET", body: bytes | None = None) -> Fetch:
    """``method`` ``base + path`` (with ``body``), the answer as JSON; raises ViewError with the API's own
    message on failure."""

    def fetch(path: str) -> Any:
        request = urllib.request.Request(base + path, method=method, data=body,
                                         headers={"Authorization": f"Bearer {token}"} if token else {})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            try:
                message = json.load(error).get("error", error.reason)
            except (ValueError, AttributeError):
                message = error.reason
            raise ViewError(f"{base}{path}: {error.code} {message}") from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise ViewError(f"cannot reach the admin API at {base}: {reason} (is voxcenter running? "
                            f"give --api)") from None

    return fetch


class ViewError(Exception):
    """The API could not be read; the message says why."""


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _percent(ratio: float | None) -> str:
    return "-" if ratio is None else f"{100 * ratio:.0f}%"


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(header[i]), *(len(row[i]) for row in rows)) if rows else len(header[i])
              for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(header, widths, strict=True)).rstrip()]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines)


AGENT_STATES = [("ready", ("ready",)), ("ringing", ("reserved", "ringing")), ("on call", ("on-call",)),
                ("wrap-up", ("wrap-up",)), ("paused", ("paused",)), ("unavailable", ("unavailable",))]


def render_queues(queues: list[dict[str, Any]]) -> str:
    """Each queue's figures, then its waiting callers (position, caller, wait, priority)."""
    rows = []
    for q in queues:
        agents = q.get("agents", {})
        rows.append([q["name"], str(q["calls_waiting"]), _duration(q["longest_wait"] if q["calls_waiting"] else 0),
                     _percent(q["service_level"]), _duration(q["asa"]), str(q["abandoned"]),
                     str(q.get("lost_to_overflow", 0)), str(q.get("lost_to_empty", 0)),
                     " ".join(f"{label} {sum(agents.get(k, 0) for k in keys)}" for label, keys in AGENT_STATES
                              if sum(agents.get(k, 0) for k in keys))])
    parts = [_table(["queue", "waiting", "longest", "SL", "ASA", "abandoned", "overflowed", "no agent", "agents"],
                    rows)]
    for q in queues:
        waiting = q.get("waiting") or []
        if waiting:
            parts.append(f"{q['name']}: waiting callers\n" + _table(
                ["pos", "caller", "wait", "priority", "ringing"],
                [[str(w["position"]), "callback" if w.get("callback") else (w.get("caller") or "withheld"),
                  _duration(w["wait"]), str(w["priority"]), ", ".join(w.get("ringing") or []) or "-"]
                 for w in waiting]))
    return "\n\n".join(parts)


def render_agents(agents: list[dict[str, Any]]) -> str:
    rows = [[a["id"], a.get("name") or "", a["state"], _duration(a["in_state"]), str(a["calls_handled"]),
             (f"{a.get('call_queue') or 'direct'} · {a.get('caller') or 'withheld'}" if a.get("call_id")
              else (a.get("reason") or "")),
             ", ".join(q + ("*" if q in a.get("dynamic_queues", []) else "") for q in a["queues"])
             + ("" if a["reachable"] else " (phone offline)")]
            for a in agents]
    table = _table(["agent", "name", "state", "for", "calls", "on call / reason", "queues"], rows)
    dynamic = any(a.get("dynamic_queues") for a in agents)
    return table + ("\n* added at run time (voxcenter member), not in the dial plan" if dynamic else "")


def render_calls(calls: list[dict[str, Any]]) -> str:
    if not calls:
        return "no calls in progress"
    rows = [[c["call_id"], c["caller"] or "withheld", c["called"], c["state"], c.get("queue") or "-",
             c.get("agent") or "-", _duration(c["duration"])] for c in calls]
    return _table(["call", "caller", "called", "state", "queue", "agent", "for"], rows)


def read_view(view: str, fetch: Fetch) -> tuple[Any, str]:
    """The view's data (as the API gave it) and its text."""
    if view == "queues":
        queues = [fetch(f"/api/queues/{urllib.parse.quote(q['name'])}") for q in fetch("/api/queues")["queues"]]
        calls = {c["call_id"]: c["caller"] for c in fetch("/api/calls")["calls"]}
        for queue in queues:
            for entry in queue.get("waiting") or []:
                entry["caller"] = calls.get(entry["call_id"])
        return queues, render_queues(queues)
    if view == "agents":
        agents = fetch("/api/agents")["agents"]
        return agents, render_agents(agents)
    calls = fetch("/api/calls")["calls"]
    return calls, render_calls(calls)


def run_view(args: argparse.Namespace) -> int:
    base, token = endpoint(args)
    fetch = http_fetch(base, token)
    try:
        while True:
            try:
                data, text = read_view(args.view, fetch)
            except ViewError as error:
                if args.watch is None:
                    print(f"voxcenter {args.view}: {error}", file=sys.stderr)
                    return 1
                text, data = f"voxcenter {args.view}: {error}", None
            if args.watch is None:
                print(json.dumps(data, indent=2) if args.json else text)
                return 0
            stamp = time.strftime("%H:%M:%S")
            sys.stdout.write(f"{CLEAR}voxcenter {args.view} · {base} · {stamp} · every {args.watch:g}s, "
                             f"Ctrl-C to stop\n\n{json.dumps(data, indent=2) if args.json else text}\n")
            sys.stdout.flush()
            time.sleep(args.watch)
    except KeyboardInterrupt:
        return 0


def _member(view: dict[str, Any]) -> str:
    dynamic = " (dynamic)" if view["dynamic"] else ""
    penalty = f" penalty {view['penalty']}" if view.get("penalty") else ""
    return f"{view['agent']}{dynamic}{penalty}"


def run_member(args: argparse.Namespace) -> int:
    base, token = endpoint(args)
    path = f"/api/queues/{urllib.parse.quote(args.queue)}/members/{urllib.parse.quote(args.agent)}"
    if args.action == "penalty" and args.penalty is None:
        print("voxcenter member penalty: give the new penalty (voxcenter member penalty QUEUE AGENT N)",
              file=sys.stderr)
        return 2
    method = {"add": "POST", "remove": "DELETE", "penalty": "PATCH"}[args.action]
    body = json.dumps({"penalty": args.penalty}).encode() if args.penalty is not None else None
    try:
        queue = http_fetch(base, token, method, body)(path)
    except ViewError as error:
        print(f"voxcenter member: {error}", file=sys.stderr)
        return 1
    print(f"queue {queue['name']}: " + ", ".join(_member(m) for m in queue.get("members", [])))
    return 0
