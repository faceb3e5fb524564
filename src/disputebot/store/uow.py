"""The SQL unit of work: one session, one transaction, every store on it.

On SQLite with group commit (the default) the transaction is shared: a unit of work is a
SAVEPOINT in a batch of units committed together (``store.group_commit``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Self

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from disputebot.ports import (
    CaseStore,
    Clock,
    Deadlines,
    Outbox,
    PartyStore,
    ReporterStore,
    SessionStore,
    StaffStore,
    StandingStore,
    UnitOfWork,
    UpdateLog,
)
from disputebot.store.deadlines import SqlDeadlines
from disputebot.store.group_commit import (
    MAX_BATCH_AGE_SECONDS,
    MAX_BATCH_UNITS,
    GroupCommitWriter,
)
from disputebot.store.parties import SqlPartyStore, SqlStandingStore
from disputebot.store.repositories import (
    SqlCaseStore,
    SqlOutbox,
    SqlReporterStore,
    SqlSessionStore,
    SqlStaffStore,
    SqlUpdateLog,
)

__all__ = ["GroupCommitUnitOfWork", "SqlUnitOfWork", "SqlUnitOfWorkFactory"]

_STORES = (
    "sessions",
    "updates",
    "cases",
    "outbox",
    "reporters",
    "staff",
    "deadlines",
    "parties",
    "standing",
)


class SqlUnitOfWork:
    """One database transaction shared by all stores (``ports.UnitOfWork``).

    Use it as ``async with factory() as uow: …; await uow.commit()``. Leaving the block without
    ``commit()``, or with an exception, rolls back. Work done after a ``commit()`` starts a new
    transaction that needs its own ``commit()``.
    """

    # Typed as the ports: protocol attributes are invariant, so the concrete classes would
    # keep this class from matching ``ports.UnitOfWork``.
    sessions: SessionStore
    updates: UpdateLog
    cases: CaseStore
    outbox: Outbox
    reporters: ReporterStore
    staff: StaffStore
    deadlines: Deadlines
    parties: PartyStore
    standing: StandingStore

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        clock: Clock | None = None,
        writer: asyncio.Lock | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._clock = clock
        self._writer = writer
        self._holding = False
        self._session: AsyncSession | None = None

    async def __aenter__(self) -> Self:
        if self._session is not None:
            raise RuntimeError("this unit of work is already open; make a new one per use")
        if self._writer is not None:
            await self._writer.acquire()
            self._holding = True
        session = self._session_factory()
        self._session = session
        _bind_stores(self, session, self._clock)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session = self._require_session()
        try:
            # A no-op after commit(); otherwise it discards everything not committed.
            await session.rollback()
        finally:
            await session.close()
            if self._holding and self._writer is not None:
                self._holding = False
                self._writer.release()

    async def commit(self) -> None:
        await self._require_session().commit()

    def _require_session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("use the unit of work as `async with uow:` first")
        return self._session


class GroupCommitUnitOfWork:
    """A SAVEPOINT in a batch shared with the other units of work queued on a SQLite writer
    (``ports.UnitOfWork``; see ``store.group_commit``).

    ``commit()`` releases the savepoint, gives the writer's turn to the next unit, and returns
    once the batch has committed for real (raising its error if that failed). Leaving the block
    without ``commit()`` rolls back to the savepoint: the other units of the batch keep their
    work. Work after a ``commit()`` takes the turn again, in a new savepoint that needs its own
    ``commit()``.
    """

    sessions: SessionStore
    updates: UpdateLog
    cases: CaseStore
    outbox: Outbox
    reporters: ReporterStore
    staff: StaffStore
    deadlines: Deadlines
    parties: PartyStore
    standing: StandingStore

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        clock: Clock | None,
        writer: GroupCommitWriter,
    ) -> None:
        self._session_factory = session_factory
        self._clock = clock
        self._writer = writer
        self._state = "new"  # then "open", then "closed"
        self._session: AsyncSession | None = None  # set while this unit holds the turn

    async def __aenter__(self) -> Self:
        if self._state != "new":
            raise RuntimeError("this unit of work is already open; make a new one per use")
        self._state = "open"
        await self._join()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._state = "closed"
        session, self._session = self._session, None
        if session is None:
            return  # committed last: nothing of this unit is left in any transaction
        try:
            # ROLLBACK TO SAVEPOINT: this unit's uncommitted work goes, the batch's stays.
            await session.close()
        except BaseException as error:
            # The shared transaction is in an unknown state: the whole batch fails.
            self._writer.give(committed=False, broken=error)
            raise
        outcome = self._writer.give(committed=False)
        if outcome is None or exc is not None:
            return  # leaving with an error: the caller acts on that, not on what it read
        # What this unit read may include writes of the batch that are not committed yet: the
        # caller must not act on them before they are (a reply, a send), nor if they fail.
        await asyncio.shield(outcome)

    async def commit(self) -> None:
        session = self._session
        if session is None:
            if self._state != "open":
                raise RuntimeError("use the unit of work as `async with uow:` first")
            return  # nothing done since the last commit()
        await session.commit()  # RELEASE SAVEPOINT; on failure the turn stays for __aexit__
        self._session = None
        for name in _STORES:
            setattr(self, name, _Rejoining(self, name))
        try:
            await session.close()  # no transaction left on it: no I/O, only forgets its objects
        finally:
            outcome = self._writer.give(committed=True)
        if outcome is not None:
            # Shielded: the batch's COMMIT is every unit's, not this caller's to cancel.
            await asyncio.shield(outcome)

    async def _join(self) -> None:
        batch = await self._writer.take()
        session = self._session_factory(
            bind=batch.connection, join_transaction_mode="create_savepoint"
        )
        self._session = session
        _bind_stores(self, session, self._clock)

    async def _store(self, name: str) -> Any:
        if self._state != "open":
            raise RuntimeError("use the unit of work inside its `async with` block")
        if self._session is None:
            await self._join()
        return getattr(self, name)


class _Rejoining:
    """Stands in for a store after ``commit()``: its first call takes the writer's turn again
    and opens the unit's next savepoint (the port's "work after a commit needs its own")."""

    def __init__(self, uow: GroupCommitUnitOfWork, name: str) -> None:
        self._uow = uow
        self._name = name

    def __getattr__(self, method: str) -> Callable[..., Awaitable[Any]]:
        if method.startswith("__"):
            raise AttributeError(method)

        async def call(*args: Any, **kwargs: Any) -> Any:
            store = await self._uow._store(self._name)
            return await getattr(store, method)(*args, **kwargs)

        return call


def _bind_stores(
    uow: SqlUnitOfWork | GroupCommitUnitOfWork, session: AsyncSession, clock: Clock | None
) -> None:
    uow.sessions = SqlSessionStore(session, clock)
    uow.updates = SqlUpdateLog(session)
    uow.cases = SqlCaseStore(session)
    uow.outbox = SqlOutbox(session)
    uow.reporters = SqlReporterStore(session)
    uow.staff = SqlStaffStore(session)
    uow.deadlines = SqlDeadlines(session)
    uow.parties = SqlPartyStore(session)
    uow.standing = SqlStandingStore(session)


class SqlUnitOfWorkFactory:
    """Makes a fresh unit of work per call (``ports.UnitOfWorkFactory``).

    On SQLite, units of work of one process take turns on one writer: SQLite has one writer at
    a time, and queueing here is fair and unbounded, where waiting on the file lock gives up
    after ``busy_timeout`` when hundreds of chats write at once. (Other processes on the same
    file still meet ``busy_timeout``.) With ``group_commit`` (off by default) the units queued
    together share one transaction, each in a SAVEPOINT, and each ``commit()`` returns once
    that transaction has committed (``store.group_commit``; a batch ends when no one else is
    queued, or after ``batch_units`` units or ``batch_age`` seconds); without it, each unit is
    a transaction of its own. PostgreSQL has one transaction per unit of work either way.
    """

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        clock: Clock | None = None,
        *,
        group_commit: bool = False,
        batch_units: int = MAX_BATCH_UNITS,
        batch_age: float = MAX_BATCH_AGE_SECONDS,
    ) -> None:
        self._session_factory = session_factory
        self._clock = clock
        bind = session_factory.kw.get("bind")
        dialect = getattr(getattr(bind, "dialect", None), "name", "")
        self._writer: asyncio.Lock | None = None
        self._group: GroupCommitWriter | None = None
        if dialect == "sqlite" and group_commit and isinstance(bind, AsyncEngine):
            self._group = GroupCommitWriter(bind, max_units=batch_units, max_age=batch_age)
        elif dialect == "sqlite":
            self._writer = asyncio.Lock()

    def __call__(self) -> UnitOfWork:
        if self._group is not None:
            return GroupCommitUnitOfWork(self._session_factory, self._clock, self._group)
        return SqlUnitOfWork(self._session_factory, self._clock, self._writer)
