"""Migrations from an empty database, on PostgreSQL and SQLite, produce exactly the models' schema."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from voxcenter.store.db import (
    alembic_config,
    current_revision,
    default_database_url,
    make_engine,
    normalize_url,
    upgrade_async,
)
from voxcenter.store.models import Base


async def test_upgrade_from_empty_matches_models(database_url: str) -> None:
    engine = make_engine(database_url)

    def check(connection: Connection) -> tuple[set[str], list[object]]:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        return set(inspect(connection).get_table_names()), diff

    async with engine.connect() as conn:
        tables, diff = await conn.run_sync(check)
    assert tables == set(Base.metadata.tables) | {"alembic_version"}
    assert diff == []
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    assert await current_revision(engine) == head
    await engine.dispose()
    await upgrade_async(database_url)  # a second upgrade is a no-op


def test_urls(tmp_path: Path) -> None:
    assert default_database_url(tmp_path / "dialplan.yaml") == f"sqlite+aiosqlite:///{tmp_path / 'voxcenter.db'}"
    assert normalize_url("postgresql://u@h/db").drivername == "postgresql+asyncpg"
    assert normalize_url("sqlite:///x.db").drivername == "sqlite+aiosqlite"
