"""Caller identification against a real store: known callers, new callers, an absent database."""

from __future__ import annotations

import time
from pathlib import Path

from voxcenter.runtime.customers import CustomerDirectory
from voxcenter.store.db import upgrade_async
from voxcenter.store.records import CallRecord, CustomerRecord, Record
from voxcenter.store.writer import DurableWriter


class Collect:
    def __init__(self) -> None:
        self.records: list[Record] = []

    def submit(self, record: Record) -> None:
        self.records.append(record)


async def test_known_and_new_callers(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    await upgrade_async(url)
    writer = DurableWriter(tmp_path / "journal", url)
    await writer.start()
    now = time.time()
    writer.submit(CustomerRecord(customer_id="c1", version=1, number="0611223344", updated_at=now,
                                 name="Ada Lovelace", language="fr", priority=5))
    for index, agent in enumerate(("1002", "1001")):
        writer.submit(CallRecord(call_id=f"call{index}", version=1, node="n", direction="inbound",
                                 arrived_at=now + index, from_number="0611223344", agent=agent))
    assert await writer.close(within=10.0)

    created = Collect()
    directory = CustomerDirectory(url, created)
    try:
        known = await directory.lookup("0611223344")
        assert known is not None and known.known
        assert (known.name, known.language, known.priority) == ("Ada Lovelace", "fr", 5)
        assert known.previous_calls == 2 and known.last_agent == "1001"
        stranger = await directory.lookup("0699999999")
        assert stranger is not None and not stranger.known and stranger.previous_calls == 0
        [record] = created.records  # an unknown caller is created
        assert isinstance(record, CustomerRecord) and record.number == "0699999999"
        assert await directory.lookup("anonymous") is None
    finally:
        await directory.close()


async def test_an_absent_database_makes_callers_unknown_not_stuck(tmp_path: Path) -> None:
    directory = CustomerDirectory("postgresql+asyncpg://nobody@127.0.0.1:9/none", deadline=0.5)
    try:
        assert await directory.lookup("0611223344") is None
    finally:
        await directory.close()
