"""A throwaway PostgreSQL cluster the outage tests may stop, kill and freeze (initdb + pg_ctl, as ``postgres``)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

BIN = Path("/usr/lib/postgresql/15/bin")


def _as_postgres() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThrowawayCluster:
    """One PostgreSQL server in a temporary directory on a free loopback port."""

    def __init__(self) -> None:
        self.datadir = Path(tempfile.mkdtemp(prefix="voxcenter-outage-pg-"))
        self.port = _free_port()
        if os.geteuid() == 0:
            shutil.chown(self.datadir, "postgres")
        subprocess.run(
            [
                *_as_postgres(),
                str(BIN / "initdb"),
                "-D",
                str(self.datadir),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _pg_ctl(self, *args: str) -> list[str]:
        return [*_as_postgres(), str(BIN / "pg_ctl"), "-D", str(self.datadir), *args]

    def _start_args(self) -> list[str]:
        options = f"-p {self.port} -k {self.datadir} -c listen_addresses=127.0.0.1 -c fsync=off"
        return self._pg_ctl("-o", options, "-l", str(self.datadir / "server.log"), "-w", "start")

    def start_blocking(self) -> None:
        subprocess.run(self._start_args(), check=True, capture_output=True, timeout=60)

    async def start(self) -> None:
        await self._run(self._start_args())

    async def stop(self) -> None:
        """Stop as abruptly as a crash (``-m immediate``): no goodbye to clients."""
        await self._run(self._pg_ctl("-m", "immediate", "-w", "stop"))

    async def _run(self, args: list[str]) -> None:
        proc = await asyncio.create_subprocess_exec(
            *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
        )
        _out, err = await proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"{args[-1]} failed: {err.decode(errors='replace')}")

    def _pids(self) -> list[int]:
        postmaster = int((self.datadir / "postmaster.pid").read_text().split()[0])
        pids = [postmaster]
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == postmaster:
                pids.append(int(stat.parent.name))
        return pids

    def freeze(self) -> None:
        """SIGSTOP the postmaster and every backend: connections stay open, nothing answers."""
        for pid in self._pids():
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self._pids():
            os.kill(pid, signal.SIGCONT)

    def destroy(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.thaw()
        subprocess.run(self._pg_ctl("-m", "immediate", "stop"), capture_output=True, timeout=60)
        shutil.rmtree(self.datadir, ignore_errors=True)
