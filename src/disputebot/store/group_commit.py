"""Group commit on SQLite: units of work that queue for the one writer share a transaction.

Theory of operation. SQLite has one writer at a time, and every COMMIT costs a write of the
WAL (and, at checkpoints, an fsync). Units of work of one process take turns on the writer
(``take`` / ``give``, a FIFO lock), and while one holds the turn the others queue. Instead of
one transaction per unit, the units that find each other queued share one open transaction, a
*batch*, on one connection:

- each unit runs inside a SAVEPOINT of the batch's transaction (its own session, bound to the
  batch's connection with ``join_transaction_mode="create_savepoint"``); its ``commit()``
  releases the savepoint, leaving without one rolls back to it, so a failing unit takes only
  its own writes with it;
- a unit that gives the turn up ends the batch when no one is waiting for the turn, or the
  batch has had ``max_units`` units, or it is ``max_age`` seconds old: the batch then COMMITs
  for real (or rolls back, if nothing in it was committed) before the next unit may start;
  otherwise the next unit in the queue gets the turn inside the same transaction;
- every unit that committed into the batch waits for that COMMIT (``Batch.done``) before its
  ``commit()`` returns, and gets its exception if it fails: nothing is acknowledged before it
  is durable. A unit that only read waits too if units before it in the batch wrote, since it
  may have seen their writes, which are not durable yet; one that saw none waits for nothing.

Nobody waits to fill a batch: an idle bot commits every unit at once, as before; a busy one
commits what queued meanwhile in one go. The batch's COMMIT runs in a task of its own, so a
unit cancelled while waiting for it cannot leave the others hanging.

If SQLite itself rolls the whole transaction back (it does on some errors, such as a full
disk), the savepoints above are gone with it; the batch is then failed as a whole, as a failed
COMMIT would be (``BatchLostError``).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from disputebot.errors import DisputebotError

__all__ = [
    "MAX_BATCH_AGE_SECONDS",
    "MAX_BATCH_UNITS",
    "Batch",
    "BatchLostError",
    "GroupCommitWriter",
]

MAX_BATCH_UNITS = 64
MAX_BATCH_AGE_SECONDS = 0.02


class BatchLostError(DisputebotError):
    """SQLite rolled back a shared transaction on its own; none of its units' work stays."""


@dataclass(eq=False)
class Batch:
    """One open transaction shared by the units of work that queued for it."""

    connection: AsyncConnection
    driver: Any  # the DB-API connection, to ask whether SQLite still has a transaction open
    opened: float
    done: asyncio.Future[None]
    units: int = 0
    pending: int = 0  # units whose commit() released their savepoint and waits for the COMMIT

    def lost(self) -> bool:
        return not getattr(self.driver, "in_transaction", True)


class GroupCommitWriter:
    """The writer of one SQLite engine in this process, committing queued units together.

    ``take`` waits for the turn and returns the open batch (opening one if needed); ``give``
    hands the turn on and says what the caller must wait for before it may report success.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        max_units: int = MAX_BATCH_UNITS,
        max_age: float = MAX_BATCH_AGE_SECONDS,
    ) -> None:
        if max_units < 1 or max_age < 0:
            raise ValueError("a batch needs max_units >= 1 and max_age >= 0")
        self._engine = engine
        self._max_units = max_units
        self._max_age = max_age
        self._lock = asyncio.Lock()
        self._waiting = 0  # tasks blocked in take(), including one woken but not yet running
        self._batch: Batch | None = None
        self._finishing: set[asyncio.Task[None]] = set()

    async def take(self) -> Batch:
        """Wait for the turn; the batch to work in. The caller must ``give`` the turn back."""
        self._waiting += 1
        try:
            await self._lock.acquire()
        except BaseException:
            self._waiting -= 1
            self._adopt_orphan()
            raise
        self._waiting -= 1
        try:
            batch = self._batch
            if batch is not None and batch.lost():
                self._batch = None
                await self._finish(batch, BatchLostError("SQLite ended the shared transaction"))
                batch = None
            if batch is None:
                batch = self._batch = await self._open()
        except BaseException:
            self._lock.release()
            raise
        batch.units += 1
        return batch

    def give(
        self, *, committed: bool, broken: BaseException | None = None
    ) -> asyncio.Future[None] | None:
        """Hand the turn on. ``committed``: the caller released its savepoint into the batch;
        ``broken``: the caller could not end its savepoint, so the transaction's state is
        unknown and the batch fails as a whole.

        Returns the batch's outcome when the caller must wait for it (it committed, or read
        after units that wrote, or it ended the batch), else ``None``.
        """
        batch = self._batch
        if batch is None:
            raise RuntimeError("give() without take()")
        saw_writes = batch.pending > 0
        if committed:
            batch.pending += 1
        if broken is None and batch.lost():
            broken = BatchLostError("SQLite ended the shared transaction")
        if broken is None and not self._full(batch):
            self._lock.release()  # the next unit in the queue works in this same batch
            return batch.done if committed or saw_writes else None
        self._end(batch, broken)
        return batch.done

    def _full(self, batch: Batch) -> bool:
        if self._waiting == 0 or batch.units >= self._max_units:
            return True
        return asyncio.get_running_loop().time() - batch.opened >= self._max_age

    def _end(self, batch: Batch, failure: BaseException | None) -> None:
        """COMMIT (or roll back) the batch in a task of its own; it gives up the turn after."""
        self._batch = None
        task = asyncio.create_task(self._finish_and_release(batch, failure))
        self._finishing.add(task)
        task.add_done_callback(self._finishing.discard)

    async def _finish_and_release(self, batch: Batch, failure: BaseException | None) -> None:
        try:
            await self._finish(batch, failure)
        finally:
            self._lock.release()

    async def _finish(self, batch: Batch, failure: BaseException | None) -> None:
        """COMMIT the batch if a unit committed into it, else roll it back; then settle
        ``batch.done``. A connection whose transaction went wrong is discarded, not pooled."""
        connection = batch.connection
        if failure is None and batch.lost():
            failure = BatchLostError("SQLite ended the shared transaction")
        try:
            if failure is None and batch.pending:
                await connection.commit()
            elif failure is None:
                await connection.rollback()  # only reads, or work rolled back to savepoints
        except BaseException as error:
            failure = error
            if not isinstance(error, Exception):
                raise  # cancelled (the loop is closing); the units still hear of it below
        finally:
            if failure is not None:
                # Closing the SQLite connection rolls back whatever it has open.
                with contextlib.suppress(Exception):
                    await connection.invalidate()
            with contextlib.suppress(Exception):
                await connection.close()
            _settle(batch, failure)

    async def _open(self) -> Batch:
        connection = await self._engine.connect()
        try:
            await connection.begin()  # BEGIN IMMEDIATE (store.database): the write lock
            raw = await connection.get_raw_connection()
        except BaseException:
            await connection.close()
            raise
        loop = asyncio.get_running_loop()
        return Batch(connection, raw.driver_connection, loop.time(), loop.create_future())

    def _adopt_orphan(self) -> None:
        """A waiter was cancelled, maybe just as the turn was handed to it: if so, the open
        batch has no holder and no one queued to end it, so a task takes the turn to do so."""
        if self._batch is None or self._lock.locked() or self._waiting:
            return
        task = asyncio.create_task(self._adopt())
        self._finishing.add(task)
        task.add_done_callback(self._finishing.discard)

    async def _adopt(self) -> None:
        self._waiting += 1
        try:
            await self._lock.acquire()
        finally:
            self._waiting -= 1
        if self._batch is None:
            self._lock.release()
            return
        if self._full(self._batch):
            self._end(self._batch, None)
        else:
            self._lock.release()


def _settle(batch: Batch, failure: BaseException | None) -> None:
    if batch.done.done():
        return
    if failure is not None and batch.pending:
        if not isinstance(failure, Exception):
            interrupted = BatchLostError("the shared transaction's COMMIT was interrupted")
            interrupted.__cause__ = failure
            failure = interrupted
        batch.done.set_exception(failure)
    else:
        batch.done.set_result(None)
