"""The inline SQLite driver (``store.inline_sqlite``): statements on the event loop, waits off it.

Every test runs on a real SQLite file through the engine the bot uses (``create_engine``). A
"ticker" task counts event-loop turns: while a statement waits for a lock, the loop must keep
turning; a driver that waited in SQLite's busy handler on the loop would count none.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from disputebot.store import inline_sqlite
from disputebot.store.database import create_engine

PATIENCE = 30.0  # a bound so a deadlock fails the test instead of hanging it


class Ticker:
    """Counts event-loop turns while it runs."""

    def __init__(self) -> None:
        self.ticks = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.ticks += 1
            await asyncio.sleep(0.005)

    def __enter__(self) -> Ticker:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "inline.db"


@pytest.fixture
async def engine(path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    async with engine.begin() as connection:
        await connection.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    try:
        yield engine
    finally:
        await engine.dispose()


async def insert(engine: AsyncEngine, value: str, *, hold: float = 0.0) -> None:
    async with engine.begin() as connection:
        await connection.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": value})
        if hold:
            await asyncio.sleep(hold)


async def values(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as connection:
        rows = await connection.execute(text("SELECT v FROM t ORDER BY id"))
        return [str(v) for v in rows.scalars()]


def hold_write_lock(path: Path, seconds: float, started: threading.Event) -> None:
    """Another process's writer, as the CLI would be: holds the write lock for ``seconds``."""
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO t (v) VALUES ('other')")
        started.set()
        threading.Event().wait(seconds)
        other.execute("COMMIT")
    finally:
        other.close()


@contextlib.asynccontextmanager
async def another_writer(path: Path, seconds: float) -> AsyncIterator[None]:
    """The body runs while another writer holds ``path``'s write lock (for ``seconds``);
    leaving waits until it has committed."""
    started = threading.Event()
    holder = threading.Thread(target=hold_write_lock, args=(path, seconds, started))
    holder.start()
    try:
        assert await asyncio.to_thread(started.wait, PATIENCE)
        yield
    finally:
        await asyncio.to_thread(holder.join)


async def test_units_of_one_process_queue_on_the_loop_not_in_sqlite(engine: AsyncEngine) -> None:
    # The first unit holds its transaction across an await; the second starts meanwhile on
    # another pooled connection and must wait for it without a "database is locked".
    first = asyncio.create_task(insert(engine, "first", hold=0.2))
    await asyncio.sleep(0.01)
    with Ticker() as ticker:
        await asyncio.wait_for(insert(engine, "second"), PATIENCE)
    await first
    assert await values(engine) == ["first", "second"]
    assert ticker.ticks >= 2  # the loop kept turning while the second unit waited


async def test_a_lock_held_by_another_process_is_waited_for_off_the_loop(
    engine: AsyncEngine, path: Path
) -> None:
    async with another_writer(path, 0.3):
        with Ticker() as ticker:
            await asyncio.wait_for(insert(engine, "ours"), PATIENCE)
    assert await values(engine) == ["other", "ours"]
    assert ticker.ticks >= 5  # 0.3 s of waiting, ticking every 5 ms on a free loop


async def test_the_busy_timeout_still_bounds_the_wait(path: Path) -> None:
    url = f"sqlite+aiosqlite:///{path}"
    short = create_engine(url, module=inline_sqlite.dbapi(busy_timeout_ms=100))
    async with short.begin() as connection:
        await connection.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    try:
        async with another_writer(path, 2.0):
            with pytest.raises(Exception, match="database is locked"):
                await insert(short, "too late")
    finally:
        await short.dispose()


async def test_a_cancelled_unit_gives_the_write_lock_back(engine: AsyncEngine) -> None:
    stuck = asyncio.create_task(insert(engine, "never", hold=PATIENCE))
    await asyncio.sleep(0.05)
    stuck.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stuck
    await asyncio.wait_for(insert(engine, "after"), PATIENCE)
    assert await values(engine) == ["after"]


async def test_a_failed_begin_or_statement_leaves_nothing_held(engine: AsyncEngine) -> None:
    with pytest.raises(Exception, match="no such table"):
        async with engine.begin() as connection:
            await connection.exec_driver_sql("INSERT INTO missing VALUES (1)")
    await asyncio.wait_for(insert(engine, "next"), PATIENCE)
    assert await values(engine) == ["next"]


def _record_threads(engine: AsyncEngine, seen: list[int]) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        raw = dbapi_connection.driver_connection._conn

        def thread_id() -> int:
            seen.append(threading.get_ident())
            return 0

        raw.create_function("thread_id", 0, thread_id)


async def test_statements_run_on_the_loop_unless_offloaded(path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    seen: list[int] = []
    _record_threads(engine, seen)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT thread_id()"))
            with inline_sqlite.offloaded():
                await connection.execute(text("SELECT thread_id()"))
            await connection.execute(text("SELECT thread_id()"))
    finally:
        await engine.dispose()
    loop_thread = threading.get_ident()
    assert seen[0] == loop_thread
    assert seen[1] != loop_thread
    assert seen[2] == loop_thread


async def wal_size_after(path: Path, commits: int, every: int, monkeypatch: Any) -> int:
    monkeypatch.setattr(inline_sqlite, "CHECKPOINT_EVERY", every)
    monkeypatch.setattr(inline_sqlite, "_commits", {})
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.begin() as connection:
            await connection.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        for n in range(commits):
            await insert(engine, "x" * 2000 + str(n))
        return (path.parent / (path.name + "-wal")).stat().st_size
    finally:
        await engine.dispose()


async def test_the_wal_is_checkpointed_every_so_many_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite's own checkpoint is off on these connections (it would sync files on the loop);
    # the driver's keeps the WAL from growing without bound.
    checkpointed = await wal_size_after(tmp_path / "a.db", 300, 20, monkeypatch)
    unchecked = await wal_size_after(tmp_path / "b.db", 300, 10**6, monkeypatch)
    assert checkpointed * 4 < unchecked


CANCEL_A_LONG_READ = """
import asyncio, sys
from sqlalchemy import text
from disputebot.store import inline_sqlite
from disputebot.store.database import create_engine

LONG = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT max(i) FROM n"

async def main(path):
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    async def long_read():
        async with engine.connect() as connection:
            with inline_sqlite.offloaded():
                await connection.execute(text(LONG))
    try:
        await asyncio.wait_for(long_read(), 0.2)
    except TimeoutError:
        pass
    async with engine.begin() as connection:  # the connection is usable, the lock free
        await connection.execute(text("SELECT 1"))
    await engine.dispose()
    print("ok")

asyncio.run(main(sys.argv[1]))
"""


async def test_cancelling_a_read_on_a_worker_thread_waits_for_the_thread(path: Path) -> None:
    # In a child process: two threads on one sqlite3 connection can crash the interpreter,
    # which must fail this test, not end the test run.
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CANCEL_A_LONG_READ,
        str(path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(child.communicate(), PATIENCE)
    assert child.returncode == 0, err.decode()
    assert out.decode().split() == ["ok"]


async def test_a_unit_cancelled_while_waiting_for_another_process_leaves_nothing_held(
    engine: AsyncEngine, path: Path
) -> None:
    async with another_writer(path, 0.5):
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(insert(engine, "given up"), 0.1)
    await asyncio.wait_for(insert(engine, "after"), PATIENCE)
    assert await values(engine) == ["other", "after"]


async def test_databases_that_are_not_files_do_not_share_a_lock(tmp_path: Path) -> None:
    first = create_engine("sqlite+aiosqlite://")
    second = create_engine("sqlite+aiosqlite://")
    try:
        async with first.begin() as one:
            await one.execute(text("SELECT 1"))
            # Holding the first in-memory database's transaction, the second's starts at once.
            async with second.begin() as two:
                await asyncio.wait_for(two.execute(text("SELECT 1")), PATIENCE)
    finally:
        await first.dispose()
        await second.dispose()
