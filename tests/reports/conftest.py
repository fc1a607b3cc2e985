"""Fixtures of the report tests: the same databases as the store tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.store.databases import migrated_database, session_database


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    yield from session_database()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, pg_url: str, tmp_path: Path) -> AsyncIterator[str]:
    async for url in migrated_database(request.param, pg_url, tmp_path):
        yield url
