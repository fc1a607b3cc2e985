"""Test databases: one uniquely named PostgreSQL database per test session, SQLite files in tmp_path."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg

from voxcenter.store.db import upgrade_async

ADMIN_DSN = os.environ.get("VOXCENTER_TEST_PG") or "postgresql://postgres@127.0.0.1:5432/postgres"


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def session_database() -> Iterator[str]:
    """Create a database named for this run, yield its asyncpg DSN, drop it afterwards."""
    name = f"voxcenter_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    base, _, _ = ADMIN_DSN.rpartition("/")
    try:
        yield f"{base}/{name}".replace("postgresql://", "postgresql+asyncpg://", 1)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def fresh_schema(pg_url: str) -> None:
    """Empty the session database's public schema (each test starts from nothing)."""
    conn = await asyncpg.connect(pg_url.replace("postgresql+asyncpg://", "postgresql://", 1), timeout=10)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()


async def migrated_database(kind: str, pg_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """A freshly migrated database of ``kind`` (``sqlite`` or ``postgresql``)."""
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    else:
        await fresh_schema(pg_url)
        url = pg_url
    await upgrade_async(url)
    yield url
