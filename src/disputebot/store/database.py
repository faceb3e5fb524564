"""Engines and sessions: the connection settings each backend needs to behave well.

SQLite (``sqlite+aiosqlite:///path``):
    WAL lets readers run beside the writer; ``synchronous=NORMAL`` is durable in WAL mode apart
    from the last transactions on power loss; ``busy_timeout`` makes a second writer wait
    instead of failing at once. Transactions start with ``BEGIN IMMEDIATE``: a unit of work
    that reads and then writes would otherwise start as a reader and fail to upgrade to a
    writer if another connection committed in between ("database is locked", which no busy
    timeout cures). Taking the write lock up front makes units of work queue on the busy
    timeout instead. It is also what makes SAVEPOINT and transactional DDL work under the
    sqlite3 driver (see SQLAlchemy's "Transactions with SQLite and the sqlite3 driver").

PostgreSQL (``postgresql+asyncpg://…``):
    ``pool_pre_ping`` replaces connections the server dropped. A ``search_path`` query
    parameter (``…/db?search_path=tenant``) or the ``schema`` argument puts every table, and
    Alembic's version table, in that schema; tests use it to isolate themselves.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from disputebot.store import inline_sqlite

if TYPE_CHECKING:
    from sqlalchemy.dialects.postgresql import Insert as PostgresqlInsert
    from sqlalchemy.dialects.sqlite import Insert as SqliteInsert

__all__ = [
    "SQLITE_BUSY_TIMEOUT_MS",
    "create_engine",
    "dialect_insert",
    "make_session_factory",
    "split_schema",
]

SQLITE_BUSY_TIMEOUT_MS = 5000


def split_schema(url: str | URL, schema: str | None = None) -> tuple[URL, str | None]:
    """Return the URL without its ``search_path`` query parameter, and the schema to use.

    An explicit ``schema`` wins over the URL's. Only PostgreSQL has schemas; for other
    backends a schema is an error rather than something silently ignored.
    """
    parsed = make_url(url)
    from_url = parsed.query.get("search_path")
    if isinstance(from_url, tuple):
        from_url = from_url[-1]
    parsed = parsed.difference_update_query(["search_path"])
    chosen = schema or from_url or None
    if chosen is not None and parsed.get_backend_name() != "postgresql":
        raise ValueError(f"a schema ({chosen!r}) is only supported on PostgreSQL URLs")
    return parsed, chosen


def create_engine(
    url: str | URL,
    *,
    schema: str | None = None,
    sqlite_foreign_keys: bool = True,
    sqlite_inline: bool = True,
    **options: Any,
) -> AsyncEngine:
    """Create an async engine tuned for the backend ``url`` names.

    Args:
        url: a SQLAlchemy async URL (``sqlite+aiosqlite`` or ``postgresql+asyncpg``).
        schema: PostgreSQL schema to work in (the ``search_path``); overrides the URL's.
        sqlite_foreign_keys: migrations turn enforcement off, as Alembic's batch mode
            recreates tables and a cascading delete would empty their children.
        sqlite_inline: run SQLite statements on the event loop's thread
            (``store.inline_sqlite``) instead of aiosqlite's thread round trips.
        **options: passed on to SQLAlchemy's ``create_async_engine``.
    """
    parsed, chosen_schema = split_schema(url, schema)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        _make_parent_folder(parsed)
        if parsed.get_driver_name() == "aiosqlite" and sqlite_inline:
            options.setdefault("module", inline_sqlite.dbapi(SQLITE_BUSY_TIMEOUT_MS))
        engine = _create_async_engine(parsed, **options)
        _tune_sqlite(engine, foreign_keys=sqlite_foreign_keys)
        return engine
    if backend == "postgresql":
        options.setdefault("pool_pre_ping", True)
        if chosen_schema is not None:
            connect_args = dict(options.pop("connect_args", {}))
            settings = dict(connect_args.get("server_settings", {}))
            settings["search_path"] = chosen_schema
            connect_args["server_settings"] = settings
            options["connect_args"] = connect_args
        return _create_async_engine(parsed, **options)
    return _create_async_engine(parsed, **options)


def dialect_insert(dialect: str) -> Callable[[Table], SqliteInsert | PostgresqlInsert]:
    """The dialect's ``insert``, for ``ON CONFLICT``: SQLite and PostgreSQL spell it alike,
    SQLAlchemy has the construct per dialect. Imported when first asked for: a bot on SQLite
    never loads the PostgreSQL dialect (a fiftieth of a second at every start)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert  # noqa: PLC0415

        return postgresql_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert  # noqa: PLC0415

    return sqlite_insert


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose objects stay readable after commit (no lazy reloads in async code)."""
    return async_sessionmaker(engine, expire_on_commit=False)


def _make_parent_folder(url: URL) -> None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _tune_sqlite(engine: AsyncEngine, *, foreign_keys: bool) -> None:
    # busy_timeout first: switching to WAL needs a lock another connection may hold.
    pragmas = (
        f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=NORMAL",
        f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}",
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # The driver must not emit its own BEGIN; _on_begin below does, as BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # The inline driver keeps SQLite's own busy timeout at 0 and waits on a thread.
            inline = inline_sqlite.is_inline(dbapi_connection)
            for pragma in pragmas[1:] if inline else pragmas:
                _execute_waiting(cursor, pragma)
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _execute_waiting(cursor: Any, pragma: str) -> None:
    """Run a connection pragma, waiting while another process holds the database.

    Switching to WAL takes a lock that SQLite's busy timeout does not always wait for (when
    several processes open a new database file at once, one of them is told "database is
    locked" at once), so a locked answer is retried here for up to the busy timeout.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute(pragma)
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
        else:
            return
