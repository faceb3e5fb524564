"""The SQL unit of work: one session, one transaction, every store on it."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

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
    UpdateLog,
)
from disputebot.store.deadlines import SqlDeadlines
from disputebot.store.parties import SqlPartyStore, SqlStandingStore
from disputebot.store.repositories import (
    SqlCaseStore,
    SqlOutbox,
    SqlReporterStore,
    SqlSessionStore,
    SqlStaffStore,
    SqlUpdateLog,
)

__all__ = ["SqlUnitOfWork", "SqlUnitOfWorkFactory"]


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
        self.sessions = SqlSessionStore(session, self._clock)
        self.updates = SqlUpdateLog(session)
        self.cases = SqlCaseStore(session)
        self.outbox = SqlOutbox(session)
        self.reporters = SqlReporterStore(session)
        self.staff = SqlStaffStore(session)
        self.deadlines = SqlDeadlines(session)
        self.parties = SqlPartyStore(session)
        self.standing = SqlStandingStore(session)
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


class SqlUnitOfWorkFactory:
    """Makes a fresh ``SqlUnitOfWork`` per call (``ports.UnitOfWorkFactory``).

    On SQLite, units of work of one process take turns on an in-process lock: SQLite has one
    writer at a time, and queueing here is fair and unbounded, where waiting on the file lock
    gives up after ``busy_timeout`` when hundreds of chats write at once. (Other processes on
    the same file still meet ``busy_timeout``.)
    """

    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], clock: Clock | None = None
    ) -> None:
        self._session_factory = session_factory
        self._clock = clock
        bind = session_factory.kw.get("bind")
        dialect = getattr(getattr(bind, "dialect", None), "name", "")
        self._writer = asyncio.Lock() if dialect == "sqlite" else None

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._session_factory, self._clock, self._writer)
