"""Schema migrations from Python: ``await upgrade(url)`` brings a database to the newest schema.

Alembic is configured in code (no ``alembic.ini``), with the migration scripts found next to
this module, so it works the same from a checkout and from an installed package. Each call
opens its own engine, runs inside one transaction, and disposes the engine.

Alembic is imported only to change the schema: reading where a database is
(``alembic_version``) and where the scripts end (their ``revision`` and ``down_revision``
lines) is plain SQL and a glance at the scripts. Startup checks the schema on every restart,
and importing Alembic for that alone cost ~70 ms of the cold start and ~10 MB that stayed
resident; a test holds the cheap reading to Alembic's own. When Alembic is imported, Mako
(which Alembic needs only to write new revision files) is kept from loading Pygments, which it
uses only to colour its HTML error pages and which was 5 MB of the 7 MB Alembic kept resident.

On SQLite, foreign keys are not enforced while migrating (Alembic's batch mode recreates
tables, and dropping the old table would cascade into its children); ``PRAGMA
foreign_key_check`` runs before the commit instead. On PostgreSQL, a ``schema`` (or the URL's
``search_path``) is created if missing and holds the tables and the version table.
"""

from __future__ import annotations

import ast
import importlib
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from disputebot.errors import DisputebotError
from disputebot.store.database import create_engine, split_schema

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "MIGRATIONS_DIR",
    "MigrationError",
    "alembic_config",
    "current",
    "downgrade",
    "head",
    "heads",
    "is_up_to_date",
    "upgrade",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version"

# ``revision: str = "0005"`` and ``down_revision: … = "0004"`` (or None, or a tuple of
# revisions where branches merge), as Alembic writes them at the top of every script.
_REVISION_LINE = re.compile(r"^(revision|down_revision)\b[^=\n]*=\s*(.+?)\s*$", re.MULTILINE)

_T = TypeVar("_T")


class MigrationError(DisputebotError):
    """A migration left the database inconsistent; nothing was committed."""


def _import_alembic() -> ModuleType:
    if "mako.exceptions" not in sys.modules:
        # Mako falls back to uncoloured error pages when its Pygments plugin cannot be
        # imported (as when Pygments is not installed); see the module docstring.
        blocked = "mako.ext.pygmentplugin"
        had = blocked in sys.modules
        sys.modules.setdefault(blocked, None)  # type: ignore[arg-type]
        try:
            importlib.import_module("mako.exceptions")
        finally:
            if not had:
                del sys.modules[blocked]
    from alembic import command  # noqa: PLC0415

    return command


def alembic_config() -> Config:
    """An Alembic ``Config`` pointing at the packaged migration scripts."""
    _import_alembic()  # Mako first, without Pygments
    from alembic.config import Config  # noqa: PLC0415  (see the module docstring)

    config = Config()
    # ConfigParser interpolates '%', which a folder name may contain.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    return config


def head() -> str:
    """The newest revision the scripts define."""
    found = heads()
    if not found:
        raise MigrationError("no migration scripts found")
    if len(found) > 1:
        raise MigrationError(f"the migration scripts have several heads: {sorted(found)}")
    return next(iter(found))


def heads(folder: Path = MIGRATIONS_DIR / "versions") -> frozenset[str]:
    """The revisions no script revises, read from the scripts' text without Alembic."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in folder.glob("*.py"):
        fields = dict(_REVISION_LINE.findall(path.read_text(encoding="utf-8")))
        if "revision" not in fields:
            continue
        revisions.add(ast.literal_eval(fields["revision"]))
        down = ast.literal_eval(fields.get("down_revision", "None"))
        revised.update((down,) if isinstance(down, str) else down or ())
    return frozenset(revisions - revised)


async def upgrade(url: str, revision: str = "head", *, schema: str | None = None) -> None:
    """Migrate the database at ``url`` up to ``revision`` (the newest by default)."""

    def run(connection: Connection, chosen: str | None) -> None:
        if revision == "head" and _current_heads(connection, chosen) == heads():
            return  # a restart: nothing to do, and no need for Alembic
        _import_alembic().upgrade(_shared_config(connection, chosen), revision)

    await _in_transaction(url, schema, run, create_schema=True)


async def downgrade(url: str, revision: str, *, schema: str | None = None) -> None:
    """Migrate down to ``revision`` (``"base"`` removes every table)."""

    def run(connection: Connection, chosen: str | None) -> None:
        _import_alembic().downgrade(_shared_config(connection, chosen), revision)

    await _in_transaction(url, schema, run, create_schema=False)


async def current(url: str, *, schema: str | None = None) -> str | None:
    """The revision the database is at, or ``None`` before the first migration."""

    def read(connection: Connection, chosen: str | None) -> str | None:
        found = _current_heads(connection, chosen)
        if len(found) > 1:
            raise MigrationError(f"the database is at several heads: {sorted(found)}")
        return next(iter(found), None)

    return await _in_transaction(url, schema, read, create_schema=False)


async def is_up_to_date(url: str, *, schema: str | None = None) -> bool:
    """Whether the database is at the newest revision (startup refuses to run otherwise)."""

    def read(connection: Connection, chosen: str | None) -> bool:
        return _current_heads(connection, chosen) == heads()

    return await _in_transaction(url, schema, read, create_schema=False)


def _current_heads(connection: Connection, schema: str | None) -> frozenset[str]:
    # What Alembic's MigrationContext.get_current_heads reads: no table means no revision.
    if not inspect(connection).has_table(VERSION_TABLE, schema=schema):
        return frozenset()
    preparer = connection.dialect.identifier_preparer
    table = preparer.quote_identifier(VERSION_TABLE)
    if schema is not None:
        table = f"{preparer.quote_schema(schema)}.{table}"
    rows = connection.execute(text(f"SELECT version_num FROM {table}"))
    return frozenset(rows.scalars())


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
