"""Describe the machine a benchmark ran on, as docs/benchmarks.md records it. A script, not a test.

    .venv/bin/python bench/machine.py          # one Markdown line: date, cores, CPU model, RAM, load, Python, loop

Figures from different machines are not comparable; a benchmark without the
machine beside it is not a figure. The load average is printed too, because
on a shared host a busy neighbour changes latency figures more than any code.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what the platform module says."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                return value.strip()
    return platform.processor() or "unknown CPU"


def memory_gib() -> float:
    """Total RAM in GiB from /proc/meminfo, or 0 when unknown."""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    return 0.0


def describe() -> str:
    """One line: when, how many cores, which CPU, how much RAM, how busy, which Python and loops."""
    try:
        loop = f"uvloop {importlib.metadata.version('uvloop')}"
    except importlib.metadata.PackageNotFoundError:
        loop = "no uvloop"
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{now}; nproc {os.cpu_count()}; {cpu_model()}; {memory_gib():.1f} GiB RAM; load {load}; "
        f"Python {platform.python_version()}; {loop}; Linux {platform.release()}"
    )


if __name__ == "__main__":
    print(describe())
