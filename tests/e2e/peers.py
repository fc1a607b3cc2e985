"""Helpers of the dial-plan and reload suites: the example plan made testable, a ``voxcenter run`` process.

``example_plan`` loads ``config/voxcenter.yaml`` as it ships and changes only what a test on a
shared machine must change (ports, paths, the trunk's carrier address, queues that accept callers
while no agent is logged in, shorter menu timeouts), so the menu structure under test is the
example's own. ``VoxcenterProcess`` runs the real command line in a child process and reads its
JSON log lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from tests.e2e.harness import CARRIER_IP, REPO, query
from tests.interop.sipp import SCENARIOS

EXAMPLE = REPO / "config" / "voxcenter.yaml"


def example_plan(tmp: Path, *, sip_port: int, rtp_base: int, change: Callable[[Any], None] | None = None,
                 name: str = "voxcenter.yaml") -> Path:
    """The example dial plan with test ports and paths; ``change`` may edit the loaded YAML tree further."""
    yaml = YAML()
    plan = yaml.load(EXAMPLE.read_text())
    plan["sip"]["listen"] = [{"transport": "udp", "address": "127.0.0.1", "port": sip_port}]
    plan["rtp"].update({"port_min": rtp_base, "port_max": rtp_base + 199, "inactivity_timeout": "60s"})
    plan["trunks"] = {"carrier": {"inbound": {"allow_from": [f"{CARRIER_IP}/32"]}}}
    del plan["routes"]  # its trunk (a PBX on port 5090) is not part of these tests
    for campaign in plan.get("campaigns", {}).values():
        campaign.pop("route", None)  # the route is gone: campaigns would take any route (and never start here)
    for queue in plan["queues"].values():
        queue["join_when"] = "always"  # callers are queued even before an agent logs in
        queue["leave_when"] = "never"
    plan["ivr"]["main"]["timeout"] = "2s"
    plan["ivr"]["support-menu"]["timeout"] = "2s"
    plan["api"] = {"enabled": False}  # its fixed port would collide between tests running at once
    # As in every test plan (harness.plan_sections): on a loaded test machine the default 50 ms of event-loop
    # lag would have the server refuse the test's callers (503) for the machine's sake, not the test's.
    plan["security"]["max_loop_lag"] = "2s"
    plan["prompts"]["directory"] = str(REPO / "prompts")
    plan["recording"]["directory"] = str(tmp / "recordings")
    plan["database"] = {"url": f"sqlite+aiosqlite:///{tmp / 'voxcenter.db'}", "journal_directory": str(tmp / "journal")}
    if change is not None:
        change(plan)
    buffer = io.StringIO()
    yaml.dump(plan, buffer)
    path = tmp / name
    path.write_text(buffer.getvalue())
    return path


def held_call_scenario(tmp: Path, hold: float) -> Path:
    """SIPp's caller scenario (``uac_call.xml``) staying ``hold`` seconds on the call before its BYE."""
    text = (SCENARIOS / "uac_call.xml").read_text()
    assert '<pause milliseconds="500" />' in text
    path = tmp / f"uac_hold_{int(hold * 1000)}.xml"
    path.write_text(text.replace('<pause milliseconds="500" />', f'<pause milliseconds="{int(hold * 1000)}" />'))
    return path


def timeline(db: Path, call_id: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    """(event, data) of one call (or of every call), in time order."""
    where, args = ("where call_id = ?", (call_id,)) if call_id else ("", ())
    rows = query(db, f"select event, data from call_events {where} order by at, rowid", *args)
    return [(str(event), json.loads(data) if data else {}) for event, data in rows]


class VoxcenterProcess:
    """``.venv/bin/voxcenter run --config PLAN --log-json`` as a child process; its log lines as dicts."""

    def __init__(self, plan: Path, *, drain: float = 20.0) -> None:
        self.plan = plan
        self.drain = drain
        self.process: asyncio.subprocess.Process | None = None
        self.lines: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self._reader: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    async def __aenter__(self) -> VoxcenterProcess:
        executable = REPO / ".venv" / "bin" / "voxcenter"
        self.process = await asyncio.create_subprocess_exec(
            str(executable), "run", "--config", str(self.plan), "--log-json", "--node", "reload-test",
            "--drain", f"{self.drain:g}s", cwd=self.plan.parent, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self._reader = asyncio.get_running_loop().create_task(self._read())
        await self.wait_event("voxcenter.started", timeout=30.0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        process = self.process
        if process is not None and process.returncode is None:
            process.kill()  # only when the test failed before its own SIGTERM
            await process.wait()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 5.0)

    async def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        async for raw in self.process.stdout:
            text = raw.decode(errors="replace").rstrip("\n")
            self.raw.append(text)
            with contextlib.suppress(ValueError):
                record = json.loads(text)
                if isinstance(record, dict):
                    self.lines.append(record)
            self._changed.set()
        self._changed.set()

    def events(self, name: str) -> list[dict[str, Any]]:
        return [line for line in self.lines if line.get("event") == name]

    async def wait_event(self, name: str, *, count: int = 1, timeout: float = 20.0) -> dict[str, Any]:
        """The ``count``-th log line whose event is ``name`` (waiting for it)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.events(name)) < count:
            if self.process is not None and self.process.returncode is not None and self._reader is not None \
                    and self._reader.done():
                raise AssertionError(f"voxcenter exited before {name!r}:\n" + "\n".join(self.raw[-40:]))
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"no {name!r} log line within {timeout} s:\n" + "\n".join(self.raw[-40:]))
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 1.0))
        return self.events(name)[count - 1]

    def signal(self, number: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(number)

    async def exit_code(self, timeout: float = 60.0) -> int:
        assert self.process is not None
        return await asyncio.wait_for(self.process.wait(), timeout)
