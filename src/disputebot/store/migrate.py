"""Schema migrations from Python: ``await upgrade(url)`` brings a database to the newest schema.

Alembic is configured in code (no ``alembic.ini``), with the migration scripts found next to
this module, so it works the same from a checkout and from an installed package. Each call
opens its own engine, runs inside one transaction, and disposes the engine.

On SQLite, foreign keys are not enforced while migrating (Alembic's batch mode recreates
tables, and dropping the old table would cascade into its children); ``PRAGMA
foreign_key_check`` runs before the commit instead. On PostgreSQL, a ``schema`` (or the URL's
``search_path``) is created if missing and holds the tables and the version table.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from disputebot.errors import DisputebotError
from disputebot.store.database import create_engine, split_schema

__all__ = [
    "MIGRATIONS_DIR",
    "MigrationError",
    "alembic_config",
    "current",
    "downgrade",
    "head",
    "is_up_to_date",
    "upgrade",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

_T = TypeVar("_T")


class MigrationError(DisputebotError):
    """A migration left the database inconsistent; nothing was committed."""


def alembic_config() -> Config:
    """An Alembic ``Config`` pointing at the packaged migration scripts."""
    config = Config()
    # ConfigParser interpolates '%', which a folder name may contain.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    return config


def head() -> str:
    """The newest revision the scripts define."""
    found = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if found is None:
        raise MigrationError("no migration scripts found")
    return found


async def upgrade(url: str, revision: str = "head", *, schema: str | None = None) -> None:
    """Migrate the database at ``url`` up to ``revision`` (the newest by default)."""

    def run(connection: Connection, chosen: str | None) -> None:
        command.upgrade(_shared_config(connection, chosen), revision)

    await _in_transaction(url, schema, run, create_schema=True)


async def downgrade(url: str, revision: str, *, schema: str | None = None) -> None:
    """Migrate down to ``revision`` (``"base"`` removes every table)."""

    def run(connection: Connection, chosen: str | None) -> None:
        command.downgrade(_shared_config(connection, chosen), revision)

    await _in_transaction(url, schema, run, create_schema=False)


async def current(url: str, *, schema: str | None = None) -> str | None:
    """The revision the database is at, or ``None`` before the first migration."""

    def read(connection: Connection, chosen: str | None) -> str | None:
        context = MigrationContext.configure(connection, opts={"version_table_schema": chosen})
        return context.get_current_revision()

    return await _in_transaction(url, schema, read, create_schema=False)


async def is_up_to_date(url: str, *, schema: str | None = None) -> bool:
    """Whether the database is at the newest revision (startup refuses to run otherwise)."""

    def read(connection: Connection, chosen: str | None) -> bool:
        context = MigrationContext.configure(connection, opts={"version_table_schema": chosen})
        heads = ScriptDirectory.from_config(alembic_config()).get_heads()
        return set(context.get_current_heads()) == set(heads)

    return await _in_transaction(url, schema, read, create_schema=False)


def _shared_config(connection: Connection, schema: str | None) -> Config:
    # env.py runs the migrations on this connection instead of making its own engine.
    config = alembic_config()
    config.attributes["connection"] = connection
    config.attributes["schema"] = schema
    return config


async def _in_transaction(
    url: str,
    schema: str | None,
    work: Callable[[Connection, str | None], _T],
    *,
    create_schema: bool,
) -> _T:
    plain_url, chosen = split_schema(url, schema)
    engine = create_engine(plain_url, schema=chosen, sqlite_foreign_keys=False, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            if create_schema and chosen is not None:
                quoted = connection.dialect.identifier_preparer.quote_identifier(chosen)
                await connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {quoted}"))
            result = await connection.run_sync(work, chosen)
            if connection.dialect.name == "sqlite":
                broken = (await connection.exec_driver_sql("PRAGMA foreign_key_check")).all()
                if broken:
                    raise MigrationError(f"foreign keys broken after migrating: {broken[:5]}")
            return result
    finally:
        await engine.dispose()
