"""Kamailio (the Debian package) started by a test with the project's deploy/kamailio/kamailio.cfg."""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "deploy" / "kamailio" / "kamailio.cfg"
KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"

_DISPATCHED = re.compile(r"voxcenter-proxy: (?P<at>\d+\.\d+) (?P<kind>failover |home )?(?P<method>[A-Z]+) "
                         r"(?P<call_id>\S+) -> sip:(?P<node>\S+)")


@dataclass(frozen=True, slots=True)
class Dispatch:
    """One line of the proxy's log: a new request sent to a node (``failover``: after another node failed;
    ``home``: a registered agent's own call, sent to the node its registrations go to)."""

    at: float
    method: str
    call_id: str
    node: str
    failover: bool
    home: bool


class Kamailio:
    """``kamailio -DD -E`` in the foreground on ``host:port`` (UDP and TCP), nodes from a list file."""

    def __init__(self, workdir: Path, host: str, port: int, nodes: list[str], *, ping_interval: int = 2) -> None:
        self.workdir = workdir
        self.host = host
        self.port = port
        self.nodes = nodes
        self.ping_interval = ping_interval
        self.log_path = workdir / "kamailio.log"
        self.process: asyncio.subprocess.Process | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def dispatches(self) -> list[Dispatch]:
        return [Dispatch(float(m["at"]), m["method"], m["call_id"], m["node"].rstrip(";"),
                         m["kind"] == "failover ", m["kind"] == "home ")
                for m in _DISPATCHED.finditer(self.log())]

    async def __aenter__(self) -> Kamailio:
        nodes = self.workdir / "nodes.list"
        nodes.write_text("".join(f"1 sip:{node}\n" for node in self.nodes))
        rundir = self.workdir / "kamailio-run"
        rundir.mkdir(exist_ok=True)
        with self.log_path.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                KAMAILIO, "-f", str(CONFIG), "-A", f'DSLIST="{nodes}"', "-A", f"PING_INTERVAL={self.ping_interval}",
                "-l", f"udp:{self.host}:{self.port}", "-l", f"tcp:{self.host}:{self.port}",
                "-Y", str(rundir), "-P", str(rundir / "kamailio.pid"), "-m", "64", "-M", "8", "-DD", "-E",
                "-w", str(self.workdir),
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=asyncio.subprocess.STDOUT)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while "SO_RCVBUF is finally" not in self.log():  # its UDP socket is bound
            if self.process.returncode is not None or loop.time() > deadline:
                break
            await asyncio.sleep(0.1)
        if self.process.returncode is not None:
            raise AssertionError(f"kamailio did not start:\n{self.log()[-3000:]}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
