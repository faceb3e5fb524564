"""``ports.Deadlines`` in SQL: timers on cases as rows of ``deadlines``, never committed here.

"One pending deadline per case and kind" is kept by ``schedule`` deleting the pending row
before inserting the new one. Two transactions scheduling the same case at once could each
insert a row (nothing locks a row that is not there yet); the service only schedules together
with a change of the case's status, which the case store serialises, and the firing side
re-checks the case and replaces the pending row, so a stray duplicate does no harm.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from disputebot.ports import Deadline
from disputebot.store.models import DeadlineRow, require_aware

__all__ = ["SqlDeadlines"]


class SqlDeadlines:
    """``Deadlines`` on the unit of work's session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def schedule(self, case_id: str, kind: str, due_at: datetime, *, now: datetime) -> None:
        due_at, now = require_aware(due_at), require_aware(now)
        await self.cancel(case_id, kind)
        await self._session.execute(
            insert(DeadlineRow).values(case_id=case_id, kind=kind, due_at=due_at, created_at=now)
        )

    async def cancel(self, case_id: str, kind: str) -> None:
        await self._session.execute(
            delete(DeadlineRow)
            .where(
                DeadlineRow.case_id == case_id,
                DeadlineRow.kind == kind,
                DeadlineRow.done_at.is_(None),
            )
            .execution_options(synchronize_session=False)
        )

    async def claim_due(self, now: datetime, limit: int) -> list[Deadline]:
        now = require_aware(now)
        statement = (
            select(DeadlineRow)
            .where(DeadlineRow.done_at.is_(None), DeadlineRow.due_at <= now)
            .order_by(DeadlineRow.due_at, DeadlineRow.id)
            .limit(max(limit, 0))
        )
        if self._session.get_bind().dialect.name == "postgresql":
            # Held until this transaction ends: another process's claim skips these rows, and
            # by the time it could see them again they are done.
            statement = statement.with_for_update(skip_locked=True)
        rows = await self._session.scalars(statement.execution_options(populate_existing=True))
        return [
            Deadline(
                id=row.id,
                case_id=row.case_id,
                kind=row.kind,
                due_at=row.due_at,
                created_at=row.created_at,
                done_at=row.done_at,
            )
            for row in rows
        ]

    async def done(self, deadline_id: int, at: datetime) -> None:
        at = require_aware(at)
        result = await self._session.execute(
            update(DeadlineRow)
            .where(DeadlineRow.id == deadline_id, DeadlineRow.done_at.is_(None))
            .values(done_at=at)
            .execution_options(synchronize_session=False)
        )
        # UPDATE returns a CursorResult; the typed overloads only promise a Result.
        if cast("CursorResult[Any]", result).rowcount:
            return
        found = await self._session.scalar(
            select(DeadlineRow.id).where(DeadlineRow.id == deadline_id)
        )
        if found is None:
            raise KeyError(deadline_id)
