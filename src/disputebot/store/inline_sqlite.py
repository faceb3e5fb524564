"""SQLite on the event loop: aiosqlite's interface without its thread.

aiosqlite runs every call (open a cursor, execute, fetch, close) on a thread of its own and
wakes the event loop for each answer: four thread round trips per statement, which cost more
than the statements the bot runs (an indexed read or a one-row write takes microseconds). This
driver runs them on the event loop's thread instead, behind the same interface, so SQLAlchemy's
``sqlite+aiosqlite`` dialect works on it unchanged (``create_engine`` passes it as the dialect's
DBAPI module).

What could block the loop is kept off it:

- **Waiting for a lock.** SQLite's own busy timeout is 0 on these connections, so a statement
  that meets a lock fails at once; the driver tries it again after a short sleep on the loop
  (1 ms, doubling up to 50 ms, as SQLite's own handler backs off) until the busy timeout has
  passed, while the loop serves other chats. Connections of one process to one file do not
  even get there: a transaction starts (``BEGIN``) only once it holds the file's write lock,
  an ``asyncio.Lock`` released when the transaction ends, so units of work queue on the loop.
  Another process holding the database (the CLI, a migration) is what the retries wait for.
- **Writing to disk.** In WAL mode with ``synchronous=NORMAL`` (``store.database`` sets both) a
  COMMIT appends to the WAL without syncing it; only checkpoints sync files. SQLite's automatic
  checkpoint would run inside whichever COMMIT crossed its threshold, on the loop, so it is
  off on these connections (``wal_autocheckpoint=0``): after every ``CHECKPOINT_EVERY``-th
  commit to a file a passive checkpoint runs on a worker thread, before the committing
  connection gives the write lock back (writers of this process wait for it meanwhile, as they
  would for SQLite's own; the loop does not).
- **Long reads.** Inside ``offloaded()`` statements run on a worker thread: for the few
  queries that scan many rows (statistics), so one staff member's chart does not hold up the
  loop.

A connection is never used by two threads at once: whatever runs on a worker thread is awaited
to its end, also when the awaiting task is cancelled (a long read is interrupted first), and
closing a connection waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextvars import ContextVar
from types import SimpleNamespace, TracebackType
from typing import Any, TypeVar

from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util.concurrency import await_

__all__ = ["CHECKPOINT_EVERY", "InlineConnection", "dbapi", "is_inline", "offloaded"]

T = TypeVar("T")

CHECKPOINT_EVERY = 200
_FIRST_RETRY_SECONDS = 0.001
_LONGEST_RETRY_SECONDS = 0.05

_offloaded: ContextVar[bool] = ContextVar("disputebot_sqlite_offloaded", default=False)

# One write lock per database file and event loop: connections of one process queue for it
# on the loop instead of in SQLite's busy handler, which would block the loop.
_write_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)
_commits: dict[str, int] = {}


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

    def __init__(
        self, connection: sqlite3.Connection, file: str | None, busy_timeout_ms: int
    ) -> None:
        self._conn = connection
        # Not a file another connection could share (or not one we can name): its own lock.
        self._key = file if file is not None else f"connection:{id(connection)}"
        self.busy_timeout_ms = busy_timeout_ms
        self._holding: asyncio.Lock | None = None
        self._closed = False
        # The worker thread's job while one uses this connection (the loop must not).
        self._thread_job: asyncio.Future[Any] | None = None

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
        if not self._conn.in_transaction:
            self._release_if_done()
            return
        try:
            await self._retrying(self._conn.commit)
            if _checkpoint_due(self._key):
                # Before the write lock is given back: a checkpoint that writers of this
                # process keep appending to never finishes, and the WAL never restarts.
                await self._on_thread(self._checkpoint, interruptible=False)
        finally:
            self._release_if_done()

    def _checkpoint(self) -> None:
        self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    async def rollback(self) -> None:
        try:
            if self._conn.in_transaction:
                self._conn.rollback()
        finally:
            self._release_if_done()

    async def close(self) -> None:
        job = self._thread_job
        if job is not None:
            await asyncio.wait([job])
        self.stop()

    def stop(self) -> None:
        self._closed = True
        job = self._thread_job
        if job is not None and not job.done():
            # A worker thread still uses the connection: close it once that is over.
            job.add_done_callback(lambda _job: self._close_now())
            return
        self._close_now()

    def _close_now(self) -> None:
        try:
            if self._conn.in_transaction:
                self._conn.rollback()
            self._conn.close()
        finally:
            self._release()

    async def create_function(self, *args: Any, **kw: Any) -> None:
        self._conn.create_function(*args, **kw)

    # -- running statements ---------------------------------------------------------------

    async def _statement(self, run: Callable[[], T], sql: str, *, repeatable: bool = True) -> T:
        if _starts_transaction(sql):
            if self._holding is None:
                await self._take_write_lock()
            try:
                return await self._retrying(run)
            finally:
                self._release_if_done()
        try:
            if _offloaded.get():
                return await self._on_thread(run, interruptible=True)
            if not repeatable:
                return run()
            return await self._retrying(run)
        finally:
            self._release_if_done()

    async def _take_write_lock(self) -> None:
        lock = _write_lock(self._key)
        if not lock.locked():
            await lock.acquire()  # free: taken at once (wait_for would cost a task)
            self._holding = lock
            return
        try:
            await asyncio.wait_for(lock.acquire(), self.busy_timeout_ms / 1000)
        except TimeoutError:
            # As SQLite would answer a writer that waited its whole busy timeout.
            raise sqlite3.OperationalError("database is locked") from None
        self._holding = lock

    async def _retrying(self, run: Callable[[], T]) -> T:
        """``run()``, tried again while another connection holds the lock it needs.

        Only for what a lock refusal leaves undone: a statement that meets SQLITE_BUSY has
        changed nothing, and a COMMIT refused stays to be done."""
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        delay = _FIRST_RETRY_SECONDS
        while True:
            try:
                return run()
            except sqlite3.OperationalError as error:
                if not _is_busy(error):
                    raise
                now = loop.time()
                if deadline is None:
                    deadline = now + self.busy_timeout_ms / 1000
                if now >= deadline:
                    raise
                await asyncio.sleep(min(delay, deadline - now))
                delay = min(delay * 2, _LONGEST_RETRY_SECONDS)

    async def _on_thread(self, run: Callable[[], T], *, interruptible: bool) -> T:
        """``run()`` on a worker thread, awaited to its end even if the caller is cancelled
        (``interruptible``: a running statement is interrupted first)."""
        job: asyncio.Future[T] = asyncio.ensure_future(asyncio.to_thread(self._waiting, run))
        self._thread_job = job
        try:
            return await asyncio.shield(job)
        except asyncio.CancelledError:
            if interruptible:
                self._conn.interrupt()
            while not job.done():
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait([job])
            if not job.cancelled():
                job.exception()  # retrieved: the caller is cancelled, not told
            raise
        finally:
            self._thread_job = None

    def _waiting(self, run: Callable[[], T]) -> T:
        # On a worker thread a wait blocks only that thread: SQLite's own handler may wait.
        self._conn.execute(f"PRAGMA busy_timeout={self.busy_timeout_ms}")
        try:
            return run()
        finally:
            self._conn.execute("PRAGMA busy_timeout=0")

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
        rows = list(parameters)
        # Outside a transaction every row commits on its own, so a refusal part way through
        # leaves the rows before it done: not something to run again.
        await self._connection._statement(
            lambda: cursor.executemany(sql, rows),
            sql,
            repeatable=self._connection.in_transaction,
        )
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

    async def __aiter__(self) -> AsyncIterator[Any]:
        while (row := self._cursor.fetchone()) is not None:
            yield row


async def _connect(database: str, *, busy_timeout_ms: int, **kw: Any) -> InlineConnection:
    kw.pop("loop", None)
    kw["check_same_thread"] = False  # a statement that must wait runs on a worker thread
    connection = sqlite3.connect(database, **kw)
    connection.execute("PRAGMA busy_timeout=0")
    connection.execute("PRAGMA wal_autocheckpoint=0")
    return InlineConnection(connection, _file_of(database, kw), busy_timeout_ms)


def _file_of(database: str, kw: dict[str, Any]) -> str | None:
    if database in ("", ":memory:") or kw.get("uri"):
        return None
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
