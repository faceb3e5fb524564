"""Migrations: the migrated schema is the models' schema, and it goes down and up again.

These run on the SQL backends only (the ``database`` fixture): the memory store has no schema.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from disputebot.store import migrate
from disputebot.store.database import SQLITE_BUSY_TIMEOUT_MS, create_engine, split_schema
from disputebot.store.inline_sqlite import InlineConnection
from disputebot.store.models import Base
from tests.contract.builders import Database

TABLES = {
    "case_events",
    "cases",
    "chats_unreachable",
    "deadlines",
    "evidence",
    "outbox",
    "party_claims",
    "party_links",
    "processed_updates",
    "reporters",
    "sessions",
    "staff",
    "standing_events",
    "statements",
}


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def _schema_diff(database: Database) -> list[Any]:
    async with database.engine.connect() as connection:
        return await connection.run_sync(_diff)


async def _table_names(database: Database) -> set[str]:
    async with database.engine.connect() as connection:
        return await connection.run_sync(_tables)


async def test_migrated_schema_matches_the_models(database: Database) -> None:
    assert await _schema_diff(database) == []
    assert await _table_names(database) >= TABLES
    assert await migrate.current(database.url) == migrate.head()
    assert await migrate.is_up_to_date(database.url)


async def test_downgrade_to_base_and_upgrade_again(database: Database) -> None:
    await migrate.downgrade(database.url, "base")
    assert await migrate.current(database.url) is None
    assert not await migrate.is_up_to_date(database.url)
    assert await _table_names(database) <= {"alembic_version"}
    await migrate.upgrade(database.url)
    assert await migrate.current(database.url) == migrate.head()
    assert await _schema_diff(database) == []


async def test_upgrade_is_idempotent(database: Database) -> None:
    await migrate.upgrade(database.url)
    assert await migrate.current(database.url) == migrate.head()


async def test_tables_and_version_live_in_the_chosen_schema(database: Database) -> None:
    _, schema = split_schema(database.url)
    async with database.engine.connect() as connection:
        if database.backend == "sqlite":
            assert schema is None
            return
        assert schema is not None
        assert await connection.scalar(text("select current_schema()")) == schema
        found = await connection.scalar(
            text("select count(*) from information_schema.tables where table_schema = :s"),
            {"s": schema},
        )
    assert found == len(TABLES) + 1  # and alembic_version
    assert await migrate.current(database.url) == migrate.head()


def test_every_constraint_and_index_is_named() -> None:
    for table in Base.metadata.tables.values():
        for constraint in table.constraints:
            assert isinstance(constraint.name, str), (table.name, constraint)
        for index in table.indexes:
            assert isinstance(index.name, str), (table.name, index)


def test_head_needs_no_ini_file() -> None:
    config = migrate.alembic_config()
    assert config.config_file_name is None
    assert migrate.head() == "0005"


def test_heads_read_without_alembic_are_alembics() -> None:
    scripts = ScriptDirectory.from_config(migrate.alembic_config())
    assert migrate.heads() == frozenset(scripts.get_heads())


def test_heads_of_branches_and_merges(tmp_path: Path) -> None:
    scripts = {
        "a.py": 'revision: str = "a"\ndown_revision: str | None = None\n',
        "b.py": 'revision = "b"\ndown_revision = "a"\n',
        "c.py": "revision = 'c'\ndown_revision = 'a'\n",
        "d.py": 'revision: str = "d"\ndown_revision: tuple[str, ...] = ("b", "c")\n',
        "e.py": 'revision = "e"\ndown_revision = "d"\n',
        "f.py": 'revision = "f"\ndown_revision = "d"\n',
        "helpers.py": "def upgrade() -> None:\n    revision = 'not one'\n",
    }
    for name, text_ in scripts.items():
        (tmp_path / name).write_text(text_, encoding="utf-8")
    assert migrate.heads(tmp_path) == {"e", "f"}


async def test_current_heads_read_without_alembic_are_alembics(database: Database) -> None:
    _, schema = split_schema(database.url)

    def alembic_reads(connection: Connection) -> tuple[str, ...]:
        opts = {"version_table_schema": schema}
        return MigrationContext.configure(connection, opts=opts).get_current_heads()

    async with database.engine.connect() as connection:
        expected = await connection.run_sync(alembic_reads)
    assert (await migrate.current(database.url),) == expected
    await migrate.downgrade(database.url, "base")
    async with database.engine.connect() as connection:
        assert await connection.run_sync(alembic_reads) == ()
    assert await migrate.current(database.url) is None


@pytest.mark.parametrize("inline", [True, False])
async def test_sqlite_engine_settings_and_missing_folder(tmp_path: Path, inline: bool) -> None:
    path = tmp_path / "not" / "yet" / "there.db"
    url = f"sqlite+aiosqlite:///{path}"
    await migrate.upgrade(url)
    engine = create_engine(url, sqlite_inline=inline)
    try:
        async with engine.connect() as connection:
            pragmas = {
                name: (await connection.exec_driver_sql(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            }
            raw = await connection.get_raw_connection()
            driver = raw.driver_connection
    finally:
        await engine.dispose()
    assert path.exists()
    # synchronous: 1 is NORMAL.
    assert pragmas == {
        "journal_mode": "wal",
        "synchronous": 1,
        "foreign_keys": 1,
        # The inline driver keeps SQLite's own wait at 0: a statement that meets a lock
        # waits the busy timeout on a worker thread instead of on the event loop.
        "busy_timeout": 0 if inline else SQLITE_BUSY_TIMEOUT_MS,
    }
    assert isinstance(driver, InlineConnection) == inline
    if inline:
        assert driver.busy_timeout_ms == SQLITE_BUSY_TIMEOUT_MS


def test_a_schema_on_sqlite_is_refused() -> None:
    with pytest.raises(ValueError, match="only supported on PostgreSQL"):
        split_schema("sqlite+aiosqlite:///x.db", "tenant")
