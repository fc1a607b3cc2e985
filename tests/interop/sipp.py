"""Run SIPp against a server under test and read its verdict from the -trace_stat CSV."""

from __future__ import annotations

import asyncio
import csv
import shutil
import socket
from dataclasses import dataclass, field
from pathlib import Path

SCENARIOS = Path(__file__).parent / "scenarios"
SIPP = shutil.which("sipp") or "/usr/bin/sipp"


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (SIPp listens on both for -t t1)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port")


@dataclass
class SippResult:
    returncode: int
    stats: dict[str, str] = field(default_factory=dict)
    """The last (cumulative) row of the statistics CSV."""
    stdout: str = ""
    stderr: str = ""
    errors: str = ""
    """SIPp's -trace_err log: the unexpected messages, in full."""

    def counter(self, name: str) -> int:
        value = self.stats.get(name, "0") or "0"
        return int(value)

    @property
    def successful(self) -> int:
        return self.counter("SuccessfulCall(C)")

    @property
    def failed(self) -> int:
        return self.counter("FailedCall(C)")

    @property
    def retransmissions(self) -> int:
        return self.counter("Retransmissions(C)")

    def describe(self) -> str:
        failures = {k: v for k, v in self.stats.items() if k.startswith("Failed") and v not in ("0", "")}
        return (
            f"rc={self.returncode} successful={self.successful} failed={self.failed} {failures}\n"
            f"stderr: {self.stderr[-2000:]}\nerrors: {self.errors[-3000:]}"
        )


async def run_sipp(
    scenario: str,
    target: str,
    workdir: Path,
    *,
    transport: str = "u1",
    calls: int = 1,
    rate: float = 10.0,
    limit: int = 100,
    service: str = "100",
    extra: list[str] | None = None,
    timeout: float = 60.0,
    local_ip: str = "127.0.0.1",
    local_port: int | None = None,
) -> SippResult:
    """Run a scenario from tests/interop/scenarios (or a built-in like "uas") as a client of ``target``."""
    stat_file = workdir / f"{scenario.replace('.xml', '')}-stats.csv"
    error_file = workdir / f"{scenario.replace('.xml', '')}-errors.log"
    scenario_args = ["-sf", str(SCENARIOS / scenario)] if scenario.endswith(".xml") else ["-sn", scenario]
    args = [
        target,
        *scenario_args,
        "-t", transport,
        "-i", local_ip,
        "-p", str(local_port or free_port()),
        "-m", str(calls),
        "-r", str(rate),
        "-l", str(limit),
        "-s", service,
        "-nostdin",
        "-trace_stat", "-stf", str(stat_file), "-fd", "1",
        "-trace_err", "-error_file", str(error_file),
        "-timeout", f"{int(timeout)}s", "-timeout_error",
        *(extra or []),
    ]
    process = await asyncio.create_subprocess_exec(
        SIPP, *args, cwd=workdir, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout + 15)
    except TimeoutError:
        process.kill()
        stdout, stderr = await process.communicate()
    stats: dict[str, str] = {}
    if stat_file.exists():
        with stat_file.open(newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter=";"))
        if rows:
            stats = {k: v for k, v in rows[-1].items() if k}
    errors = error_file.read_text(errors="replace") if error_file.exists() else ""
    return SippResult(
        returncode=process.returncode if process.returncode is not None else -1,
        stats=stats,
        stdout=stdout.decode(errors="replace"),
        stderr=stderr.decode(errors="replace"),
        errors=errors,
    )


class SippServer:
    """SIPp running a server scenario in the background (a carrier registrar, a far end, an agent phone)."""

    def __init__(self, scenario: str, workdir: Path, *, transport: str = "u1", calls: int = 1,
                 keys: dict[str, str] | None = None, extra: list[str] | None = None) -> None:
        self.scenario = scenario
        self.workdir = workdir
        self.transport = transport
        self.calls = calls
        self.keys = keys or {}
        self.extra = extra or []
        self.port = free_port()
        self.process: asyncio.subprocess.Process | None = None
        self.result: SippResult | None = None
        self._stat_file = workdir / f"server-{scenario.replace('.xml', '')}-{self.port}-stats.csv"
        self._error_file = workdir / f"server-{scenario.replace('.xml', '')}-{self.port}-errors.log"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def __aenter__(self) -> SippServer:
        key_args = [arg for name, value in self.keys.items() for arg in ("-key", name, value)]
        self.process = await asyncio.create_subprocess_exec(
            SIPP, *(["-sf", str(SCENARIOS / self.scenario)] if self.scenario.endswith(".xml")
                    else ["-sn", self.scenario]), "-t", self.transport, "-i", "127.0.0.1",
            "-p", str(self.port), "-m", str(self.calls), "-nostdin", *key_args,
            "-trace_stat", "-stf", str(self._stat_file), "-fd", "1",
            "-trace_err", "-error_file", str(self._error_file), *self.extra,
            cwd=self.workdir, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        await asyncio.sleep(0.3)  # SIPp binds its socket after start-up
        return self

    async def wait(self, timeout: float = 20.0) -> SippResult:
        """Wait for SIPp to finish its calls (killing it after ``timeout``) and read its verdict."""
        assert self.process is not None
        try:
            stdout, stderr = await asyncio.wait_for(self.process.communicate(), timeout)
        except TimeoutError:
            self.process.kill()
            stdout, stderr = await self.process.communicate()
        stats: dict[str, str] = {}
        if self._stat_file.exists():
            with self._stat_file.open(newline="") as handle:
                rows = list(csv.DictReader(handle, delimiter=";"))
            if rows:
                stats = {k: v for k, v in rows[-1].items() if k}
        self.result = SippResult(
            returncode=self.process.returncode if self.process.returncode is not None else -1,
            stats=stats, stdout=stdout.decode(errors="replace"), stderr=stderr.decode(errors="replace"),
            errors=self._error_file.read_text(errors="replace") if self._error_file.exists() else "",
        )
        return self.result

    async def __aexit__(self, *exc: object) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.communicate()
