"""SQL implementations of the store ports. They share the unit of work's session and never commit.

``SqlCaseStore`` lives in ``store.cases`` for size and is re-exported here.

Two habits run through this module:

- Inserts that may collide with a row another transaction wrote (a session, an update id, a
  case id) run inside a SAVEPOINT, so a unique violation becomes ``ConflictError`` and leaves
  the surrounding transaction usable. A check-then-insert would race on PostgreSQL.
- Times are checked for a zone before any SQL runs, so a naive datetime is a plain
  ``ValueError`` (as in the memory stores), not an error wrapped by the driver layer.
- Updates are single statements (``UPDATE … WHERE``) and reads use ``populate_existing``, so a
  row the identity map holds from earlier in the transaction is never served stale.
"""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Executable, delete, func, insert, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from disputebot.clock import SystemClock
from disputebot.engine.effects import Say, say_to_json
from disputebot.ports import (
    ChatKey,
    Clock,
    ConflictError,
    OutboxItem,
    OutboxStatus,
    Role,
    StoredSession,
)
from disputebot.store.cases import FALSE_REPORT_KIND, SqlCaseStore
from disputebot.store.models import (
    OutboxRow,
    ProcessedUpdateRow,
    ReporterRow,
    SessionRow,
    StaffRow,
    require_aware,
)

__all__ = [
    "FALSE_REPORT_KIND",
    "SqlCaseStore",
    "SqlOutbox",
    "SqlReporterStore",
    "SqlSessionStore",
    "SqlStaffStore",
    "SqlUpdateLog",
]


async def _rowcount(session: AsyncSession, statement: Executable) -> int:
    result = await session.execute(statement)
    # UPDATE and DELETE return a CursorResult; the typed overloads only promise a Result.
    return cast("CursorResult[Any]", result).rowcount


async def _upsert(session: AsyncSession, change: Executable, create: Executable) -> None:
    """Update the row, or create it; portable where ``ON CONFLICT`` spellings differ."""
    if await _rowcount(session, change):
        return
    try:
        async with session.begin_nested():
            await session.execute(create)
    except IntegrityError:
        # Another transaction created the row since our UPDATE found none.
        await session.execute(change)


class SqlSessionStore:
    """Conversation sessions with an optimistic lock on ``revision``."""

    def __init__(self, session: AsyncSession, clock: Clock | None = None) -> None:
        self._session = session
        # Only for the bookkeeping column ``updated_at``: put() takes no time of its own.
        self._clock = clock or SystemClock()

    async def get(self, chat: ChatKey) -> StoredSession | None:
        row = (
            await self._session.execute(
                select(SessionRow.data, SessionRow.revision).where(
                    SessionRow.channel == chat.channel, SessionRow.chat_id == chat.chat_id
                )
            )
        ).one_or_none()
        return None if row is None else StoredSession(data=row.data, revision=row.revision)

    async def put(self, chat: ChatKey, data: str, expected_revision: int | None) -> int:
        now = self._clock.now()
        if expected_revision is None:
            try:
                async with self._session.begin_nested():
                    await self._session.execute(
                        insert(SessionRow).values(
                            channel=chat.channel,
                            chat_id=chat.chat_id,
                            data=data,
                            revision=1,
                            updated_at=now,
                        )
                    )
            except IntegrityError as exc:
                raise ConflictError(f"a session for {chat.user_ref} already exists") from exc
            return 1
        changed = await _rowcount(
            self._session,
            update(SessionRow)
            .where(
                SessionRow.channel == chat.channel,
                SessionRow.chat_id == chat.chat_id,
                SessionRow.revision == expected_revision,
            )
            .values(data=data, revision=expected_revision + 1, updated_at=now)
            .execution_options(synchronize_session=False),
        )
        if changed != 1:
            raise ConflictError(
                f"the session for {chat.user_ref} is not at revision {expected_revision}"
            )
        return expected_revision + 1

    async def delete(self, chat: ChatKey, expected_revision: int | None = None) -> None:
        statement = delete(SessionRow).where(
            SessionRow.channel == chat.channel, SessionRow.chat_id == chat.chat_id
        )
        if expected_revision is not None:
            statement = statement.where(SessionRow.revision == expected_revision)
        changed = await _rowcount(
            self._session, statement.execution_options(synchronize_session=False)
        )
        if expected_revision is not None and changed != 1:
            raise ConflictError(
                f"the session for {chat.user_ref} is not at revision {expected_revision}"
            )


class SqlUpdateLog:
    """Applied event ids. Recording an id twice raises ``ConflictError``: whoever recorded it
    first applied the event, so the service's retry will find it ``seen``."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def seen(self, channel: str, event_id: str) -> bool:
        found = await self._session.scalar(
            select(func.count())
            .select_from(ProcessedUpdateRow)
            .where(ProcessedUpdateRow.channel == channel, ProcessedUpdateRow.event_id == event_id)
        )
        return bool(found)

    async def record(self, channel: str, event_id: str, at: datetime) -> None:
        require_aware(at)
        try:
            async with self._session.begin_nested():
                await self._session.execute(
                    insert(ProcessedUpdateRow).values(
                        channel=channel, event_id=event_id, processed_at=at
                    )
                )
        except IntegrityError as exc:
            raise ConflictError(f"event {channel}:{event_id} was already recorded") from exc

    async def prune(self, before: datetime) -> int:
        require_aware(before)
        return await _rowcount(
            self._session,
            delete(ProcessedUpdateRow)
            .where(ProcessedUpdateRow.processed_at < before)
            .execution_options(synchronize_session=False),
        )


def _outbox_item(row: OutboxRow) -> OutboxItem:
    return OutboxItem(
        id=row.id,
        chat=ChatKey(row.channel, row.chat_id),
        payload=row.payload,
        locale=row.locale,
        created_at=row.created_at,
        due_at=row.due_at,
        attempts=row.attempts,
        status=OutboxStatus(row.status),
        case_id=row.case_id,
        last_error=row.last_error,
    )


class SqlOutbox:
    """The transactional outbox: messages commit with the change that caused them."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def put(
        self,
        chat: ChatKey,
        say: Say,
        locale: str,
        *,
        now: datetime,
        case_id: str | None = None,
    ) -> int:
        require_aware(now)
        row = OutboxRow(
            channel=chat.channel,
            chat_id=chat.chat_id,
            payload=say_to_json(say),
            locale=locale,
            case_id=case_id,
            status=OutboxStatus.PENDING.value,
            attempts=0,
            created_at=now,
            due_at=now,
            sent_at=None,
            last_error=None,
        )
        self._session.add(row)
        await self._session.flush()
        return row.id

    async def due(
        self, now: datetime, limit: int = 100, *, channel: str | None = None
    ) -> list[OutboxItem]:
        require_aware(now)
        statement = (
            select(OutboxRow)
            .where(OutboxRow.status == OutboxStatus.PENDING.value, OutboxRow.due_at <= now)
            .order_by(OutboxRow.due_at, OutboxRow.id)
            .limit(limit)
        )
        if channel is not None:
            statement = statement.where(OutboxRow.channel == channel)
        return await self._items(statement)

    async def backlog(
        self, now: datetime, *, channel: str | None = None
    ) -> tuple[int, float | None]:
        now = require_aware(now)
        statement = select(func.count(), func.min(OutboxRow.created_at)).where(
            OutboxRow.status == OutboxStatus.PENDING.value
        )
        if channel is not None:
            statement = statement.where(OutboxRow.channel == channel)
        count, oldest = (await self._session.execute(statement)).one()
        if not count or oldest is None:
            return 0, None
        return int(count), max(0.0, (now - oldest).total_seconds())

    async def mark_sent(self, item_id: int, at: datetime) -> None:
        require_aware(at)
        await self._change(item_id, status=OutboxStatus.SENT.value, sent_at=at)

    async def mark_failed(self, item_id: int, error: str, *, retry_at: datetime | None) -> None:
        values: dict[str, Any] = {"attempts": OutboxRow.attempts + 1, "last_error": error}
        if retry_at is None:
            values["status"] = OutboxStatus.DEAD.value
        else:
            values["due_at"] = require_aware(retry_at)
        await self._change(item_id, **values)

    async def list(
        self, status: OutboxStatus | None = None, limit: int = 100
    ) -> builtins.list[OutboxItem]:
        statement = select(OutboxRow).order_by(OutboxRow.id).limit(limit)
        if status is not None:
            statement = statement.where(OutboxRow.status == status.value)
        return await self._items(statement)

    async def _items(self, statement: Any) -> builtins.list[OutboxItem]:
        rows = await self._session.scalars(statement.execution_options(populate_existing=True))
        return [_outbox_item(row) for row in rows]

    async def _change(self, item_id: int, **values: Any) -> None:
        changed = await _rowcount(
            self._session,
            update(OutboxRow)
            .where(OutboxRow.id == item_id)
            .values(**values)
            .execution_options(synchronize_session=False),
        )
        if changed == 0:
            raise KeyError(item_id)


class SqlReporterStore:
    """Reporters' preferred languages."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def forget(self, chat: ChatKey) -> None:
        await self._session.execute(
            delete(ReporterRow)
            .where(ReporterRow.channel == chat.channel, ReporterRow.chat_id == chat.chat_id)
            .execution_options(synchronize_session=False)
        )

    async def locale(self, chat: ChatKey) -> str | None:
        return await self._session.scalar(
            select(ReporterRow.locale).where(
                ReporterRow.channel == chat.channel, ReporterRow.chat_id == chat.chat_id
            )
        )

    async def set_locale(self, chat: ChatKey, locale: str, now: datetime) -> None:
        require_aware(now)
        change = (
            update(ReporterRow)
            .where(ReporterRow.channel == chat.channel, ReporterRow.chat_id == chat.chat_id)
            .values(locale=locale, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        create = insert(ReporterRow).values(
            channel=chat.channel,
            chat_id=chat.chat_id,
            locale=locale,
            created_at=now,
            updated_at=now,
        )
        await _upsert(self._session, change, create)


class SqlStaffStore:
    """Staff roles."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def role(self, chat: ChatKey) -> Role | None:
        found = await self._session.scalar(
            select(StaffRow.role).where(
                StaffRow.channel == chat.channel, StaffRow.chat_id == chat.chat_id
            )
        )
        return None if found is None else Role(found)

    async def set_role(self, chat: ChatKey, role: Role, now: datetime) -> None:
        require_aware(now)
        # ``added_at`` keeps the first time the chat became staff; a role change keeps it.
        change = (
            update(StaffRow)
            .where(StaffRow.channel == chat.channel, StaffRow.chat_id == chat.chat_id)
            .values(role=role.value)
            .execution_options(synchronize_session=False)
        )
        create = insert(StaffRow).values(
            channel=chat.channel, chat_id=chat.chat_id, role=role.value, added_at=now
        )
        await _upsert(self._session, change, create)

    async def remove(self, chat: ChatKey) -> None:
        await self._session.execute(
            delete(StaffRow)
            .where(StaffRow.channel == chat.channel, StaffRow.chat_id == chat.chat_id)
            .execution_options(synchronize_session=False)
        )

    async def list(self) -> list[tuple[ChatKey, Role]]:
        rows = await self._session.execute(
            select(StaffRow.channel, StaffRow.chat_id, StaffRow.role).order_by(
                StaffRow.channel, StaffRow.chat_id
            )
        )
        return [(ChatKey(channel, chat_id), Role(role)) for channel, chat_id, role in rows]
