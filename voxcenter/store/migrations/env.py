"""Alembic environment of voxcenter's store: runs migrations on the connection :mod:`voxcenter.store.db` hands over.

``voxcenter db upgrade`` (and :func:`voxcenter.store.db.upgrade`) open an async engine and pass its synchronous
connection facade in ``config.attributes["connection"]``; the plain ``alembic`` command line falls back to the URL.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from voxcenter.store.models import Base

config = context.config
target_metadata = Base.metadata


def _run_on(connection: Connection) -> None:
    # Batch mode lets later migrations alter tables on SQLite, which has no ALTER COLUMN.
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


async def _run_from_url(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_run_on)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    given = config.attributes.get("connection")
    if given is not None:
        _run_on(given)
    else:
        asyncio.run(_run_from_url(str(config.get_main_option("sqlalchemy.url"))))
