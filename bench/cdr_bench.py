"""CDR throughput into PostgreSQL and the durable writer's cost on the event loop.

Two runs against a fresh, uniquely named database (dropped afterwards) on the server of ``$VOXCENTER_TEST_PG``
(default ``postgresql://postgres@127.0.0.1:5432/postgres``), or ``--database URL`` (must be migrated or empty):

* burst: ``--records`` records (per call: one CDR, three events, the final CDR) submitted as fast as possible;
  reports records/s from the first submit until the last is committed (journal fsync included);
* steady: ``--rate`` records/s offered for ``--duration`` s, like a busy contact center; reports the event
  loop's lag (how late a 5 ms timer fires) p50/p99/max while writing, and the same with no writer as baseline.

    .venv/bin/python bench/cdr_bench.py [--records 100000] [--rate 2000] [--duration 10] [--batch-size 500]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import statistics
import tempfile
import time
import uuid

import asyncpg

from voxcenter.store.db import upgrade_async
from voxcenter.store.records import CallEvent, CallRecord, Record, new_id
from voxcenter.store.writer import DurableWriter


def call_records(now: float) -> list[Record]:
    call_id = new_id(now)
    first = CallRecord(
        call_id,
        1,
        "bench",
        "inbound",
        now,
        "+15551230000",
        "+18005550000",
        "carrier",
        queue="support",
        queue_entered_at=now + 8,
    )
    final = dataclasses.replace(
        first,
        version=2,
        agent="alice",
        agent_answered_at=now + 20,
        ended_at=now + 200,
        wait_seconds=12.0,
        talk_seconds=170.0,
        disposition="answered",
    )
    events = [
        CallEvent(new_id(now), call_id, now + 8 + i, name, queue="support")
        for i, name in enumerate(("ENTERQUEUE", "RINGNOANSWER", "CONNECT"))
    ]
    return [first, *events, final]


class Lag:
    def __init__(self) -> None:
        self.samples: list[float] = []

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(0.005)
            self.samples.append(loop.time() - before - 0.005)

    def summary(self) -> str:
        ordered = sorted(self.samples)
        p99 = ordered[int(0.99 * (len(ordered) - 1))]
        return (
            f"p50 {1000 * statistics.median(ordered):.2f} ms, p99 {1000 * p99:.2f} ms, "
            f"max {1000 * ordered[-1]:.2f} ms ({len(ordered)} samples)"
        )


async def steady(writer: DurableWriter | None, rate: int, duration: float) -> Lag:
    lag = Lag()
    monitor = asyncio.create_task(lag.run())
    loop = asyncio.get_running_loop()
    start = loop.time()
    sent = 0
    while loop.time() - start < duration:
        due = int((loop.time() - start) * rate)
        while sent < due:
            for record in call_records(time.time()):
                if writer is not None:
                    writer.submit(record)
                sent += 1
        await asyncio.sleep(0.01)
    monitor.cancel()
    return lag


async def bench(url: str, args: argparse.Namespace) -> None:
    await upgrade_async(url)
    with tempfile.TemporaryDirectory() as journal:
        writer = DurableWriter(journal, url, batch_size=args.batch_size, flush_interval=0.05)
        await writer.start()
        records = [r for _ in range(args.records // 5) for r in call_records(time.time())]
        started = time.perf_counter()
        for index, record in enumerate(records):
            writer.submit(record)
            if index % 5000 == 0:
                await asyncio.sleep(0)
        ok = await writer.flush(within=600)
        elapsed = time.perf_counter() - started
        print(
            f"burst: {len(records)} records committed in {elapsed:.2f} s = {len(records) / elapsed:,.0f} records/s"
            f" ({len(records) / 5 / elapsed:,.0f} calls/s){'' if ok else ' (NOT all flushed)'}"
        )
        baseline = await steady(None, args.rate, min(args.duration, 3.0))
        print(f"loop lag without writer: {baseline.summary()}")
        lag = await steady(writer, args.rate, args.duration)
        ok = await writer.flush(within=120)
        print(
            f"loop lag while writing {args.rate} records/s for {args.duration:g} s: {lag.summary()}"
            f"{'' if ok else ' (NOT all flushed)'}"
        )
        stats = writer.stats()
        print(f"writer: submitted {stats.submitted}, written {stats.written}, failures {stats.database_failures}")
        await writer.close(within=30)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=2000)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--database", help="use this database instead of a temporary one")
    args = parser.parse_args()
    if args.database:
        await bench(args.database, args)
        return
    admin = os.environ.get("VOXCENTER_TEST_PG") or "postgresql://postgres@127.0.0.1:5432/postgres"
    name = f"voxcenter_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    try:
        await bench(f"{admin.rpartition('/')[0]}/{name}".replace("postgresql://", "postgresql+asyncpg://", 1), args)
    finally:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
