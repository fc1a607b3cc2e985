"""``voxcenter demo``: a first look — the example dial plan, simulated agents and callers, then the report.

The dial plan is copied into a temporary directory with what would clash or
depend on the hour overridden: a free SIP port and RTP range on 127.0.0.1,
absolute prompt paths, recordings and a SQLite database (or ``--database``) in
the temporary directory, every schedule open all week, every agent given a
known password, the admin API off. Then the server runs in this process while
simulated agents (127.0.0.1, digest, ``*45``) and Poisson callers (from the
trunk's trusted carrier address, 127.0.0.2) talk to it over real SIP and RTP
(see :mod:`voxcenter.runtime.demo_peers`) for ``--seconds``. The admin API runs
on a free loopback port with a one-time token, and the wallboard's address is
printed first; a progress line follows every ``--progress`` (callers in the IVR,
waiting, talking, done). The calls still in progress get a grace period, the
server drains, and the report of the period is printed, as ``voxcenter report``
would print it.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import random
import secrets
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ruamel.yaml import YAML

from voxcenter.config import ConfigError
from voxcenter.config.durations import cli_duration
from voxcenter.logs import configure_logging

if TYPE_CHECKING:
    from voxcenter.runtime.demo_peers import CallerOutcome, DemoCallers
    from voxcenter.runtime.server import Server

CARRIER_HOST = "127.0.0.2"
"""Where simulated callers come from; the example trusts it as its carrier."""


def add_commands(subparsers: Any) -> None:
    demo = subparsers.add_parser("demo", help="run the example dial plan with simulated callers and agents")
    demo.add_argument("--config", default="config/voxcenter.yaml", help="the dial plan (default: %(default)s)")
    demo.add_argument("--seconds", type=float, default=60.0, help="how long callers arrive (default: %(default)s)")
    demo.add_argument("--rate", type=float, default=8.0, help="calls per minute on average (default: %(default)s)")
    demo.add_argument("--number", default=None, help="the number callers dial (default: the first one)")
    demo.add_argument("--handle-time", type=cli_duration, default="12s",
                      help="agents' mean handle time, with its unit (default: %(default)s)")
    demo.add_argument("--patience", type=cli_duration, default="25s",
                      help="callers' mean patience in the queue, with its unit (default: %(default)s)")
    demo.add_argument("--progress", type=cli_duration, default="5s",
                      help="how often a progress line is printed (default: %(default)s)")
    demo.add_argument("--database", default=None, help="record into this database URL instead of a temporary SQLite")
    demo.add_argument("--seed", type=int, default=None, help="random seed, for a repeatable run")
    demo.add_argument("--keep", action="store_true", help="keep the temporary directory (recordings, database)")
    demo.add_argument("--log-level", default="warning", help="server log level (default: %(default)s)")
    demo.set_defaults(handler=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    configure_logging(args.log_level, json=False)
    if min(args.seconds, args.rate, args.handle_time, args.patience, args.progress) <= 0:
        print("voxcenter demo: --seconds, --rate, --handle-time, --patience and --progress must be positive",
              file=sys.stderr)
        return 2
    source = Path(args.config)
    if not source.is_file():
        print(f"voxcenter demo: {source}: no such dial plan (give --config)", file=sys.stderr)
        return 2
    if not _carrier_address_usable():
        print(f"voxcenter demo: cannot bind {CARRIER_HOST} (the callers' address); loopback must cover 127.0.0.0/8",
              file=sys.stderr)
        return 2
    directory = Path(tempfile.mkdtemp(prefix="voxcenter-demo-"))
    try:
        try:
            plan = demo_plan(source, directory, database=args.database, number=args.number)
        except ConfigErrorText as error:
            print(f"voxcenter demo: {error}", file=sys.stderr)
            return 2
        print(f"voxcenter demo: {len(plan.agents)} agents, about {args.rate:g} calls a minute for "
              f"{args.seconds:g} s on sip:{plan.number}@127.0.0.1:{plan.sip_port} (files in {directory})")
        try:
            import uvloop

            runner: Any = uvloop.run
        except ImportError:  # uvloop is optional
            runner = asyncio.run
        try:
            return int(runner(_demo(plan, args)))
        except ConfigError as error:
            for issue in error.errors:
                print(issue, file=sys.stderr)
            return 2
    finally:
        if args.keep:
            print(f"voxcenter demo: kept {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)


class DemoPlan:
    """The rewritten dial plan and what the simulation needs to know of it."""

    def __init__(self, path: Path, sip_port: int, number: str, agents: dict[str, str], database_url: str,
                 rtp_range: tuple[int, int], api_port: int, api_token: str) -> None:
        self.path = path
        self.api_port = api_port
        self.api_token = api_token
        self.sip_port = sip_port
        self.number = number
        self.agents = agents
        """Extension → password."""
        self.database_url = database_url
        self.rtp_range = rtp_range
        """Ports left free for the simulated peers' RTP."""


def demo_plan(source: Path, directory: Path, *, database: str | None = None, number: str | None = None) -> DemoPlan:
    """Copy the dial plan at ``source`` into ``directory`` with the demo's overrides (see the module docstring)."""
    yaml = YAML()
    data = yaml.load(source.read_text())
    if not isinstance(data, dict):
        raise ConfigErrorText(f"{source}: not a dial plan (a mapping at the top)")
    if data.get("include"):
        raise ConfigErrorText(f"{source}: the demo takes a dial plan without include:")
    base = source.resolve().parent
    sip_port = _free_port()
    rtp_first = 20000 + secrets.randbelow(200) * 200
    data["sip"] = {"listen": [{"transport": "udp", "address": "127.0.0.1", "port": sip_port}]}
    data["rtp"] = {**dict(data.get("rtp") or {}), "address": "127.0.0.1", "port_min": rtp_first,
                   "port_max": rtp_first + 199}
    data.get("rtp", {}).pop("external_address", None)
    prompts = dict(data.get("prompts") or {})
    prompts["directory"] = str((base / str(prompts.get("directory", "prompts"))).resolve())
    data["prompts"] = prompts
    data["recording"] = {**dict(data.get("recording") or {}), "directory": str(directory / "recordings"),
                         "storage": "disk"}
    url = database or f"sqlite+aiosqlite:///{directory / 'voxcenter.db'}"
    data["database"] = {"url": url, "journal_directory": str(directory / "journal")}
    for schedule in dict(data.get("schedules") or {}).values():
        schedule["hours"] = [{"days": "mon-sun", "open": "00:00", "close": "23:59"}]
        schedule["holidays"] = []
    agents: dict[str, str] = {}
    for extension, agent in dict(data.get("agents") or {}).items():
        agent.pop("ha1", None)
        agent["password"] = agents[str(extension)] = f"demo-{secrets.token_hex(6)}"
    # The demo's phones and callers all share loopback, like an office behind one NAT address.
    data["security"] = {**dict(data.get("security") or {}), "never_ban": ["127.0.0.0/8"]}
    for trunk in dict(data.get("trunks") or {}).values():
        outbound = (trunk or {}).get("outbound")
        if outbound is not None:
            outbound["options_interval"] = None  # nobody answers on the example's outbound proxy
    api_port, api_token = _free_port("tcp"), secrets.token_urlsafe(12)
    data["api"] = {**dict(data.get("api") or {}), "enabled": True, "address": "127.0.0.1", "port": api_port,
                   "token": api_token}
    numbers = [str(key) for key in dict(data.get("numbers") or {})]
    if not numbers:
        raise ConfigErrorText(f"{source}: no numbers: to call")
    chosen = number or numbers[0]
    if chosen not in numbers:
        raise ConfigErrorText(f"{source}: number {chosen} is not in numbers:")
    path = directory / "voxcenter.yaml"
    with path.open("w") as handle:
        yaml.dump(data, handle)
    return DemoPlan(path, sip_port, chosen, agents, url, (rtp_first + 200, rtp_first + 399), api_port, api_token)


class ConfigErrorText(ValueError):
    """The dial plan given to the demo cannot be rewritten (the operator's file, said plainly)."""


async def _demo(plan: DemoPlan, args: argparse.Namespace) -> int:
    from voxcenter.media.player import MediaClock
    from voxcenter.media.ports import PortPool
    from voxcenter.media.prompts import PromptLibrary
    from voxcenter.runtime.demo_peers import DemoAgent, DemoCallers, PeerMedia
    from voxcenter.runtime.server import Server

    rng = random.Random(args.seed)
    server = Server(plan.path, node="demo")
    await server.start()
    print(f"voxcenter demo: watch the wallboard at http://127.0.0.1:{plan.api_port}/?token={plan.api_token}",
          flush=True)
    started = time.time()
    media = PeerMedia(PortPool(*plan.rtp_range), MediaClock(), PromptLibrary(Path(server.config.prompts.directory)))
    address = server.endpoint.address("udp")
    agents = [DemoAgent(extension, password, address, media, random.Random(rng.random()), args.handle_time,
                        login_code=server.config.feature_codes.login)
              for extension, password in plan.agents.items()]

    def bridged(sip_call_id: str) -> bool:
        return any(call.session.call_id == sip_call_id and call.bridge is not None for call in server.calls.values())

    callers = DemoCallers(CARRIER_HOST, address, media, random.Random(rng.random()), number=plan.number,
                          mean_patience=args.patience, is_bridged=bridged)
    try:
        for agent in agents:
            await agent.start()
        await callers.start()
        loop = asyncio.get_running_loop()
        until = loop.time() + args.seconds
        print(f"voxcenter demo: agents {', '.join(plan.agents)} logged in; callers arriving for {args.seconds:g} s")
        progress = loop.create_task(_progress(server, callers, args.progress, loop.time()))
        try:
            await callers.arrivals(args.rate / 60.0, until)
            await asyncio.sleep(max(0.0, until - loop.time()))
            await callers.finish(grace=4 * args.handle_time)
        finally:
            progress.cancel()
    finally:
        # The server drains while both sides still answer (BYEs of the last calls complete), then they go.
        await server.stop(drain_timeout=10.0)
        await callers.stop()
        for agent in agents:
            await agent.stop()
    outcomes = callers.outcomes
    print(f"voxcenter demo: {len(outcomes)} calls placed, {sum(o.bridged for o in outcomes)} reached an agent, "
          f"{sum(o.abandoned for o in outcomes)} gave up, "
          f"{sum(1 for o in outcomes if o.status not in (None, 200))} refused\n")
    print(await _report(plan.database_url, started - 1.0, time.time() + 1.0))
    return 0


async def _progress(server: Server, callers: DemoCallers, every: float, since: float) -> None:
    """A line every ``every`` seconds: where the callers are now, and how the finished calls went."""
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(every)
        print(progress_line(loop.time() - since, [call.snapshot().state for call in list(server.calls.values())],
                            callers.outcomes), flush=True)


def progress_line(elapsed: float, states: list[str], outcomes: list[CallerOutcome]) -> str:
    """``voxcenter demo: 10 s · 1 in the IVR · 2 waiting · 3 talking · 7 done (4 answered, 2 gave up)``."""
    finished = [outcome for outcome in outcomes if outcome.finished]
    return (f"voxcenter demo: {elapsed:3.0f} s · {states.count('ivr')} in the IVR · {states.count('queued')} waiting"
            f" · {states.count('talking')} talking · {len(finished)} done ({sum(o.bridged for o in finished)} "
            f"answered, {sum(o.abandoned for o in finished)} gave up)")


async def _report(url: str, start: float, end: float) -> str:
    """``voxcenter report``'s table for ``[start, end)``."""
    from voxcenter.reports.kpi import build_report
    from voxcenter.reports.render import report_table
    from voxcenter.store.db import make_engine

    engine = make_engine(url)
    try:
        report = await build_report(engine, start, end, interval="15m")
    finally:
        await engine.dispose()
    return report_table(report)


def _free_port(transport: str = "udp") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM if transport == "tcp" else socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _carrier_address_usable() -> bool:
    if not ipaddress.ip_address(CARRIER_HOST).is_loopback:
        return False
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind((CARRIER_HOST, 0))
    except OSError:
        return False
    return True


