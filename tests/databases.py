"""Migrated databases for tests: a SQLite file, or a throwaway PostgreSQL schema."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from disputebot.store import migrate
from disputebot.store.database import create_engine
from tests.contract.builders import Database

PG_URL = os.environ.get(
    "DISPUTEBOT_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
PG_CONNECT_TIMEOUT = 5

postgres_param = pytest.param("postgres", marks=pytest.mark.postgres)


def _unreachable(reason: str) -> None:
    message = f"PostgreSQL at {PG_URL} is unreachable ({reason}); set DISPUTEBOT_TEST_PG_URL"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}. CI must run the PostgreSQL contract tests.", pytrace=False)
    pytest.skip(message)


async def _create_pg_schema() -> tuple[AsyncEngine, str]:
    admin = create_engine(PG_URL, connect_args={"timeout": PG_CONNECT_TIMEOUT})
    schema = f"t_{secrets.token_hex(6)}"
    try:
        async with admin.begin() as connection:
            await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except (OSError, TimeoutError, sa_exc.DBAPIError) as error:
        await admin.dispose()
        _unreachable(f"{type(error).__name__}: {error}")
    return admin, schema


async def sql_database(backend: str, tmp_path: Path) -> AsyncIterator[Database]:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'disputebot.db'}"
        await migrate.upgrade(url)
        engine = create_engine(url)
        try:
            yield Database(backend, url, engine)
        finally:
            await engine.dispose()
        return
    admin, schema = await _create_pg_schema()
    url = f"{PG_URL}?search_path={schema}"
    engine = create_engine(url)
    try:
        await migrate.upgrade(url)
        yield Database(backend, url, engine)
    finally:
        await engine.dispose()
        async with admin.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()
