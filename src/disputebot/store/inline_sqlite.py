"""SQLite on the event loop: aiosqlite's interface without its thread.

aiosqlite runs every call (open a cursor, execute, fetch, close) on a thread of its own and
wakes the event loop for each answer: four thread round trips per statement, which cost more
than the statements the bot runs (an indexed read or a one-row write takes microseconds). This
driver runs them on the event loop's thread instead, behind the same interface, so SQLAlchemy's
``sqlite+aiosqlite`` dialect works on it unchanged (``create_engine`` passes it as the dialect's
DBAPI module).

What could block the loop is kept off it:

- **Waiting for a lock.** SQLite's own busy timeout is 0 on these connections, so a statement
  that meets a lock fails at once; it is then run again on a worker thread with the real busy
  timeout, while the loop serves other chats. Connections of one process to one file never
  wait that way: a transaction starts (``BEGIN``) only once it holds the file's write lock, an
  ``asyncio.Lock`` released when the transaction ends, so units of work queue on the loop.
  Another process holding the database (the CLI, a migration) is what the thread waits for.
- **Writing to disk.** In WAL mode with ``synchronous=NORMAL`` (``store.database`` sets both) a
  COMMIT appends to the WAL without syncing it; only checkpoints sync files. SQLite's automatic
  checkpoint would run inside whichever COMMIT crossed its threshold, on the loop, so it is
  off on these connections (``wal_autocheckpoint=0``): every ``CHECKPOINT_EVERY`` commits to a
  file, that commit and a passive checkpoint run on a worker thread instead.
- **Long reads.** Inside ``offloaded()`` every statement runs on a worker thread: for the few
  queries that scan many rows (statistics, exports), so one staff member's chart does not hold
  up every chat.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from types import SimpleNamespace, TracebackType
from typing import Any, TypeVar

from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util.concurrency import await_

__all__ = ["InlineConnection", "dbapi", "is_inline", "offloaded"]

T = TypeVar("T")

CHECKPOINT_EVERY = 200

_offloaded: ContextVar[bool] = ContextVar("disputebot_sqlite_offloaded", default=False)

# One write lock per database file and event loop: connections of one process queue for it
# on the loop instead of in SQLite's busy handler, which would block the loop.
_write_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


@contextlib.contextmanager
def offloaded() -> Iterator[None]:
    """Run the statements issued inside this block on worker threads (for long queries)."""
    token = _offloaded.set(True)
    try:
        yield
    finally:
        _offloaded.reset(token)


def _write_lock(key: str) -> asyncio.Lock:
    locks = _write_locks.setdefault(asyncio.get_running_loop(), {})
    lock = locks.get(key)
    if lock is None:
        lock = locks[key] = asyncio.Lock()
    return lock


_commits: dict[str, int] = {}


def _checkpoint_due(key: str) -> bool:
    count = _commits.get(key, 0) + 1
    _commits[key] = 0 if count >= CHECKPOINT_EVERY else count
    return count >= CHECKPOINT_EVERY


def _is_busy(error: sqlite3.OperationalError) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(error)


def _starts_transaction(sql: str) -> bool:
    return sql.lstrip()[:5].upper() == "BEGIN"


class InlineConnection:
    """An ``aiosqlite.Connection`` look-alike whose calls run on the calling thread."""

    def __init__(self, connection: sqlite3.Connection, key: str, busy_timeout_ms: int) -> None:
        self._conn = connection
        self._key = key
        self.busy_timeout_ms = busy_timeout_ms
        self._holding: asyncio.Lock | None = None
        self._closed = False

    @property
    def _connection(self) -> sqlite3.Connection | None:
        # SQLAlchemy's adapter reads aiosqlite's attribute to skip work on a closed connection.
        return None if self._closed else self._conn

    # -- what SQLAlchemy's aiosqlite adapter calls --------------------------------------

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        self._conn.isolation_level = value  # type: ignore[assignment]  # sqlite3 checks it

    @property
    def in_transaction(self) -> bool:
        return self._conn.in_transaction

    def cursor(self) -> InlineCursor:
        return InlineCursor(self, self._conn.cursor())

    async def execute(self, sql: str, parameters: Any = None) -> InlineCursor:
        cursor = self.cursor()
        await cursor.execute(sql, parameters)
        return cursor

    async def commit(self) -> None:
        try:
            if not self._conn.in_transaction:
                return
            if _checkpoint_due(self._key):
                await self._on_thread(self._commit_and_checkpoint)
            else:
                await self._run(self._conn.commit)
        finally:
            self._release_if_done()

    def _commit_and_checkpoint(self) -> None:
        self._conn.commit()
        self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    async def rollback(self) -> None:
        try:
            if self._conn.in_transaction:
                await self._run(self._conn.rollback)
        finally:
            self._release_if_done()

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        self._closed = True
        try:
            self._conn.close()
        finally:
            self._release()

    async def create_function(self, *args: Any, **kw: Any) -> None:
        self._conn.create_function(*args, **kw)

    # -- running statements ---------------------------------------------------------------

    async def _statement(self, run: Callable[[], T], sql: str) -> T:
        if _starts_transaction(sql) and self._holding is None:
            lock = _write_lock(self._key)
            await lock.acquire()
            self._holding = lock
        try:
            return await self._run(run)
        finally:
            self._release_if_done()

    async def _run(self, run: Callable[[], T]) -> T:
        if _offloaded.get():
            return await self._on_thread(run)
        try:
            return run()
        except sqlite3.OperationalError as error:
            if not _is_busy(error):
                raise
        # Another process holds the database: wait for it off the loop.
        return await self._on_thread(run)

    async def _on_thread(self, run: Callable[[], T]) -> T:
        def waiting() -> T:
            self._conn.execute(f"PRAGMA busy_timeout={self.busy_timeout_ms}")
            try:
                return run()
            finally:
                self._conn.execute("PRAGMA busy_timeout=0")

        return await asyncio.to_thread(waiting)

    def _release_if_done(self) -> None:
        if self._holding is not None and not self._conn.in_transaction:
            self._release()

    def _release(self) -> None:
        lock, self._holding = self._holding, None
        if lock is not None and lock.locked():
            lock.release()


class InlineCursor:
    """An ``aiosqlite.Cursor`` look-alike (see ``InlineConnection``)."""

    def __init__(self, connection: InlineConnection, cursor: sqlite3.Cursor) -> None:
        self._connection = connection
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Any = None) -> InlineCursor:
        cursor = self._cursor
        if parameters is None:
            await self._connection._statement(lambda: cursor.execute(sql), sql)
        else:
            await self._connection._statement(lambda: cursor.execute(sql, parameters), sql)
        return self

    async def executemany(self, sql: str, parameters: Any) -> InlineCursor:
        cursor = self._cursor
        await self._connection._statement(lambda: cursor.executemany(sql, parameters), sql)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> Sequence[Any]:
        if size is None:
            return self._cursor.fetchmany()
        return self._cursor.fetchmany(size)

    async def fetchall(self) -> Sequence[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    async def nextset(self) -> None:
        return None


async def _connect(database: str, *, busy_timeout_ms: int, **kw: Any) -> InlineConnection:
    kw.pop("loop", None)
    kw["check_same_thread"] = False  # a statement that must wait runs on a worker thread
    connection = sqlite3.connect(database, **kw)
    connection.execute("PRAGMA busy_timeout=0")
    connection.execute("PRAGMA wal_autocheckpoint=0")
    key = database if kw.get("uri") or database == ":memory:" else _canonical(database)
    return InlineConnection(connection, key, busy_timeout_ms)


def _canonical(database: str) -> str:
    import os  # noqa: PLC0415

    return os.path.realpath(database)


class _InlineAdaptedConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()

    @property
    def isolation_level(self) -> str | None:
        return self._connection.isolation_level  # type: ignore[no-any-return]

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        # aiosqlite's adapter queues this on the driver's thread; here there is none.
        self._connection.isolation_level = value


class _InlineDbapi(AsyncAdapt_aiosqlite_dbapi):
    """SQLAlchemy's aiosqlite DBAPI adapter, connecting with ``InlineConnection``."""

    def __init__(self, busy_timeout_ms: int) -> None:
        module = SimpleNamespace(
            __version__="inline",
            Connection=InlineConnection,
            **{
                name: getattr(sqlite3, name)
                for name in (
                    "DatabaseError",
                    "Error",
                    "IntegrityError",
                    "NotSupportedError",
                    "OperationalError",
                    "ProgrammingError",
                    "sqlite_version",
                    "sqlite_version_info",
                )
            },
        )
        super().__init__(module, sqlite3)  # type: ignore[arg-type]
        self._busy_timeout_ms = busy_timeout_ms

    def connect(self, *arg: Any, **kw: Any) -> _InlineAdaptedConnection:
        kw.pop("async_creator_fn", None)
        connection = await_(_connect(*arg, busy_timeout_ms=self._busy_timeout_ms, **kw))
        return _InlineAdaptedConnection(self, connection)  # type: ignore[arg-type]


def is_inline(dbapi_connection: Any) -> bool:
    """Whether a SQLAlchemy DBAPI connection runs on this driver."""
    return isinstance(dbapi_connection, _InlineAdaptedConnection)


def dbapi(busy_timeout_ms: int) -> Any:
    """The DBAPI module to give SQLAlchemy's aiosqlite dialect (``create_engine(module=…)``)."""
    return _InlineDbapi(busy_timeout_ms)
