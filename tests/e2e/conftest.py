"""Fixtures of the e2e suites: a PostgreSQL database per test module, emptied before each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.store.databases import fresh_schema, session_database


@pytest.fixture(scope="module")
def pg_module_url() -> Iterator[str]:
    yield from session_database()


@pytest.fixture
async def pg_url(pg_module_url: str) -> str:
    await fresh_schema(pg_module_url)
    return pg_module_url
