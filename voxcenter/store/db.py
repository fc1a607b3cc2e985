"""Engines and migrations: PostgreSQL through asyncpg, SQLite through aiosqlite.

``make_engine(url)`` accepts ``postgresql://...``/``postgresql+asyncpg://...`` and ``sqlite:///path``/
``sqlite+aiosqlite:///path``; the zero-setup default is a SQLite file next to the config
(:func:`default_database_url`). :func:`upgrade` runs the Alembic migrations shipped in ``migrations/``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
DEFAULT_SQLITE_NAME = "voxcenter.db"


class DatabaseUrlError(ValueError):
    """The configured database URL is not one voxcenter can use: the operator's configuration is wrong."""


def default_database_url(config_path: str | Path) -> str:
    """The SQLite database next to the dial-plan file ``config_path``."""
    return f"sqlite+aiosqlite:///{Path(config_path).resolve().parent / DEFAULT_SQLITE_NAME}"


def normalize_url(url: str) -> URL:
    """Parse ``url`` and pick the async driver: asyncpg for PostgreSQL, aiosqlite for SQLite."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseUrlError(f"database URL {url!r} cannot be parsed: {exc}") from exc
    backend = parsed.get_backend_name()
    driver = parsed.drivername.partition("+")[2]
    if backend == "postgresql":
        if driver not in ("asyncpg", ""):
            raise DatabaseUrlError(f"database URL {url!r}: PostgreSQL is used through asyncpg, not {driver}")
        return parsed.set(drivername="postgresql+asyncpg")
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    raise DatabaseUrlError(f"database URL {url!r}: only postgresql and sqlite are supported")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets reports read while the writer writes; NORMAL is durable enough since the journal has the data.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, *, statement_timeout: float = 30.0, connect_timeout: float = 10.0) -> AsyncEngine:
    """An async engine for ``url`` whose statements give up after ``statement_timeout`` seconds.

    The timeout is enforced by the client (asyncpg's ``command_timeout``), so it also fires when the server
    is frozen and never answers; SQLite waits at most that long for a lock.
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "postgresql":
        engine = create_async_engine(
            parsed,
            pool_pre_ping=True,
            connect_args={"timeout": connect_timeout, "command_timeout": statement_timeout},
        )
    else:
        engine = create_async_engine(parsed, connect_args={"timeout": statement_timeout})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def alembic_config(url: str | URL) -> Config:
    """Alembic configuration pointing at the migrations shipped in the package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    rendered = url.render_as_string(hide_password=False) if isinstance(url, URL) else url
    config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return config


async def upgrade_engine(engine: AsyncEngine, revision: str = "head") -> None:
    """Migrate the database behind ``engine`` to ``revision`` (Alembic runs in the engine's sync facade)."""
    config = alembic_config(engine.url)

    def run(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)


async def upgrade_async(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` to ``revision``."""
    engine = make_engine(url)
    try:
        await upgrade_engine(engine, revision)
    finally:
        await engine.dispose()


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` to ``revision``; for the command line (runs its own event loop)."""
    asyncio.run(upgrade_async(url, revision))


async def current_revision(engine: AsyncEngine) -> str | None:
    """The Alembic revision the database is at, ``None`` when it was never migrated."""
    from alembic.runtime.migration import MigrationContext

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as conn:
        return await conn.run_sync(read)
