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


def test_migrations_form_one_chain_with_one_file_per_revision() -> None:
    # Two files claiming one revision id load as one (the other is silently skipped): count the files.
    versions = Path(__file__).parents[2] / "voxcenter" / "store" / "migrations" / "versions"
    files = sorted(p.name for p in versions.glob("[0-9]*.py"))
    script = ScriptDirectory.from_config(alembic_config("sqlite+aiosqlite://"))
    revisions = list(script.walk_revisions())
    assert len(revisions) == len(files), f"{len(files)} migration files but {len(revisions)} revisions: {files}"
    assert len(script.get_heads()) == 1
    assert [r.revision for r in reversed(revisions)] == [name.split("_", 1)[0] for name in files]
