"""Caller identification for the IVR's ``lookup`` node: who is calling, and what do we know of them.

A read with a short deadline: a slow or absent database makes the caller
"unknown" rather than keeping them waiting in silence. Unknown callers are
created (through the durable writer, like every other record).
"""

from __future__ import annotations

import asyncio
import time

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from voxcenter.ivr import CallerProfile
from voxcenter.runtime.calllog import RecordSink
from voxcenter.store.db import make_engine
from voxcenter.store.models import Call, Customer
from voxcenter.store.records import CustomerRecord, new_id

logger = structlog.get_logger(__name__)


class CustomerDirectory:
    def __init__(self, database_url: str, sink: RecordSink | None = None, *, deadline: float = 1.0) -> None:
        self.database_url = database_url
        self.sink = sink
        self.deadline = deadline
        self._engine: AsyncEngine | None = None

    async def lookup(self, number: str) -> CallerProfile | None:
        """The caller's profile; None (unknown) when the number is withheld, new, or the database is slow."""
        if not number or number.lower() in ("anonymous", "unknown", "restricted"):
            return None
        try:
            return await asyncio.wait_for(self._lookup(number), self.deadline)
        except Exception as error:  # the database is away: the caller is simply not recognised
            logger.info("customers.lookup_unavailable", error=repr(error))
            return None

    async def _lookup(self, number: str) -> CallerProfile | None:
        if self._engine is None:
            self._engine = make_engine(self.database_url, statement_timeout=self.deadline)
        async with self._engine.connect() as connection:
            row = (await connection.execute(
                select(Customer.name, Customer.priority, Customer.language)
                .where(Customer.number == number).order_by(Customer.version.desc()).limit(1)
            )).first()
            previous = (await connection.execute(
                select(func.count()).select_from(Call).where(Call.from_number == number)
            )).scalar_one()
            last_agent = (await connection.execute(
                select(Call.agent).where(Call.from_number == number, Call.agent.is_not(None))
                .order_by(Call.arrived_at.desc()).limit(1)
            )).scalar_one_or_none()
        if row is None:
            if self.sink is not None:
                self.sink.submit(CustomerRecord(customer_id=new_id(), version=1, number=number,
                                                updated_at=time.time()))
            return CallerProfile(key=number, known=False, previous_calls=int(previous), last_agent=last_agent)
        name, priority, language = row
        return CallerProfile(key=number, known=True, name=name, priority=priority, language=language,
                             last_agent=last_agent, previous_calls=int(previous))

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
