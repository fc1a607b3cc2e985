"""One node, then two, behind Kamailio: the same offered load, each node pinned to a core. A script, not a test.

    .venv/bin/python bench/cluster_scale.py                       # 20 and 40 calls/s, 10 s each, 2 s calls
    .venv/bin/python bench/cluster_scale.py --rates 80,160 --duration 8   # docs/benchmarks.md
    .venv/bin/python bench/cluster_scale.py --rates 30 --duration 8 --talk 3

Kamailio (``deploy/kamailio/kamailio.cfg``) dispatches a SIPp carrier's calls over the nodes (``voxcenter run``
child processes on 127.0.0.1 sharing one PostgreSQL, ``taskset``-pinned to core 0 and core 1). Each call waits
in a queue with no agent, hearing music on hold, then the caller hangs up (no agent: nothing is recorded). For
each node count and rate the script prints: calls attempted, answered and failed (SIPp), the mean INVITE-to-200
time (SIPp's, in whole milliseconds), the CDRs ended in the database, and each node's CPU time over the step.

It needs PostgreSQL at ``--database`` (a throwaway database is made there and dropped) and the packages of
``scripts/bootstrap --dev`` (Kamailio, SIPp).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from machine import describe as machine  # noqa: E402
from sip_cps import process_cpu_seconds  # noqa: E402

from tests.e2e.harness import ServerProcess, records  # noqa: E402
from tests.e2e.test_cluster import PROXY_IP, callers, node_plan  # noqa: E402
from tests.interop.kamailio import Kamailio  # noqa: E402
from tests.interop.sipp import free_port  # noqa: E402


async def fresh_database(server: str) -> str:
    import asyncpg

    name = f"voxcenter_bench_{os.getpid()}_{time.monotonic_ns() % 10**6}"
    connection = await asyncpg.connect(f"postgresql://{server}/postgres")
    try:
        await connection.execute(f'create database "{name}"')
    finally:
        await connection.close()
    return name


async def drop_database(server: str, name: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(f"postgresql://{server}/postgres")
    try:
        await connection.execute(f'drop database if exists "{name}" with (force)')
    finally:
        await connection.close()


def seconds_of(text: str) -> float:
    """SIPp's ``HH:MM:SS:mmm...`` time as seconds."""
    parts = text.split(":")
    if len(parts) < 4:
        return float("nan")
    hours, minutes, seconds = int(parts[0]), int(parts[1]), int(parts[2])
    return hours * 3600 + minutes * 60 + seconds + float("0." + "".join(parts[3:]))


async def step(server: str, work: Path, nodes_count: int, rate: float, duration: float, talk: float,
               rtp_base: int) -> str:
    name = await fresh_database(server)
    url = f"postgresql+asyncpg://{server}/{name}"
    directory = work / f"{nodes_count}-nodes-{rate:g}"
    directory.mkdir()
    try:
        async with AsyncExitStack() as stack:
            nodes: list[ServerProcess] = []
            addresses = []
            for index in range(nodes_count):
                plan, port = node_plan(directory, url, f"node-{index}")
                text = plan.read_text()  # 2000 RTP ports each, node after node (the tests' 200 hold 100 calls)
                base = rtp_base + index * 2000
                text = re.sub(r"port_min: \d+", f"port_min: {base}", text)
                plan.write_text(re.sub(r"port_max: \d+", f"port_max: {base + 1999}", text))
                nodes.append(ServerProcess(plan, directory / f"node-{index}.log", node=f"node-{index}", drain=30))
                addresses.append(f"127.0.0.1:{port}")
            for index, node in enumerate(nodes):
                await node.start()
                stack.push_async_callback(node.kill)
                assert node.process is not None
                pin = await asyncio.create_subprocess_exec(
                    "taskset", "-a", "-cp", str(index % (os.cpu_count() or 1)), str(node.process.pid),
                    stdout=asyncio.subprocess.DEVNULL)
                assert await pin.wait() == 0
            proxy = await stack.enter_async_context(Kamailio(directory, PROXY_IP, free_port(), addresses))
            cpu_before = [process_cpu_seconds(n.process.pid) for n in nodes if n.process is not None]
            started = time.monotonic()
            result = await callers(directory, proxy, calls=int(rate * duration), rate=rate, talk=talk)
            wall = time.monotonic() - started
            cpu = [process_cpu_seconds(n.process.pid) - before
                   for n, before in zip(nodes, cpu_before, strict=True) if n.process is not None]
            for node in nodes:
                node.terminate()
                with contextlib.suppress(Exception):
                    await node.exit_status(40)
        ended = await records(url, "select count(*) as n from calls where ended_at is not null")
    finally:
        await drop_database(server, name)
    setup = seconds_of(result.stats.get("ResponseTime1(C)", ""))
    return (f"| {nodes_count} | {rate:g}/s × {duration:g} s, {talk:g} s each | {result.successful + result.failed} "
            f"| {result.successful} | {result.failed} | {setup * 1000:.1f} ms | {ended[0]['n']} "
            f"| {' + '.join(f'{c:.1f}' for c in cpu)} s over {wall:.0f} s |")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="postgres@127.0.0.1:5432", help="PostgreSQL user@host:port")
    parser.add_argument("--rates", default="20,40", help="calls per second, comma-separated")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of calls per step")
    parser.add_argument("--rtp-base", type=int, default=44000, help="first RTP port (2000 a node)")
    parser.add_argument("--talk", type=float, default=2.0, help="seconds each call lasts after the answer")
    args = parser.parse_args()
    print(f"Machine: {machine()}")
    print("| nodes | offered | calls | answered | failed | INVITE→200 mean | CDRs ended | node CPU |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory(prefix="voxcenter-cluster-bench-") as work:
        for rate in (float(r) for r in args.rates.split(",")):
            for count in (1, 2):
                print(await step(args.database, Path(work), count, rate, args.duration, args.talk, args.rtp_base),
                      flush=True)


if __name__ == "__main__":
    asyncio.run(main())
