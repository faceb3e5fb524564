"""Backends for the store contract tests: every test runs on memory, SQLite and PostgreSQL.

PostgreSQL comes from ``DISPUTEBOT_TEST_PG_URL``. Each test gets its own schema ``t_<hex>``,
migrated with ``migrate.upgrade`` and dropped afterwards, so tests neither see each other's rows
nor depend on order. Without a server the PostgreSQL tests are skipped, except under
``CI=true``, where a missing server is a failure: CI must not pass on SQLite alone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.contract.builders import Database
from tests.databases import postgres_param, sql_database


@pytest.fixture(params=["sqlite", postgres_param])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated SQL database (SQLite file or PostgreSQL schema)."""
    async for found in sql_database(request.param, tmp_path):
        yield found
