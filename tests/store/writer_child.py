"""A voxcenter-like process for the kill -9 test: submits calls forever, prints how many records are journaled.

Run as ``python -m tests.store.writer_child DATABASE_URL JOURNAL_DIR``. Record ``3k`` is call ``k``'s first CDR,
``3k+1`` its ENTERQUEUE event, ``3k+2`` its final CDR.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys

from voxcenter.store.records import CallEvent, CallRecord
from voxcenter.store.writer import DurableWriter


def call_records(k: int) -> list[CallRecord | CallEvent]:
    first = CallRecord(f"K{k:07d}", 1, "child", "inbound", 1000.0 + k, queue="q", queue_entered_at=1001.0 + k)
    final = dataclasses.replace(
        first,
        version=2,
        disposition="answered",
        agent="a",
        wait_seconds=5.0,
        agent_answered_at=1006.0 + k,
        ended_at=1100.0 + k,
        talk_seconds=94.0,
    )
    return [first, CallEvent(f"E{k:07d}", first.call_id, 1001.0 + k, "ENTERQUEUE", queue="q"), final]


async def main(url: str, journal_dir: str) -> None:
    writer = DurableWriter(journal_dir, url, batch_size=50, flush_interval=0.01)
    await writer.start()
    reported = -1
    k = 0
    while True:
        for record in call_records(k):
            writer.submit(record)
        k += 1
        await asyncio.sleep(0.001)
        journaled = writer.stats().journaled
        if journaled != reported:
            print(journaled, flush=True)
            reported = journaled


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
