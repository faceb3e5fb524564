"""SQL implementations of the store ports. They share the unit of work's session and never commit.

``SqlCaseStore`` lives in ``store.cases``, ``SqlPartyStore`` and ``SqlStandingStore`` in
``store.parties``, for size; they are re-exported here.

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
import json
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Executable,
    Select,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from disputebot.clock import SystemClock
from disputebot.engine.effects import Say, say_to_json
from disputebot.ports import (
    WEBHOOK_CHAT,
    ChatKey,
    Clock,
    ConflictError,
    OutboxItem,
    OutboxStatus,
    Role,
    StoredSession,
    UnreachableChat,
)
from disputebot.store.cases import FALSE_REPORT_KIND, SqlCaseStore
from disputebot.store.models import (
    ChatUnreachableRow,
    OutboxRow,
    ProcessedUpdateRow,
    ReporterRow,
    SessionRow,
    StaffRow,
    UTCDateTime,
    require_aware,
)
from disputebot.store.parties import SqlPartyStore, SqlStandingStore

__all__ = [
    "FALSE_REPORT_KIND",
    "SqlCaseStore",
    "SqlOutbox",
    "SqlPartyStore",
    "SqlReporterStore",
    "SqlSessionStore",
    "SqlStaffStore",
    "SqlStandingStore",
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
        claimed_by=row.claimed_by,
        lease_until=row.lease_until,
        sent_at=row.sent_at,
    )


_PENDING = OutboxStatus.PENDING.value


def _chat_head() -> ColumnElement[bool]:
    """True for the oldest pending item of its chat: its id is the chat's smallest pending id.

    A correlated ``min(id)`` and not ``NOT EXISTS (an older pending item of the chat)``: that
    one PostgreSQL may turn into an anti-join, and on a table without statistics (a burst
    into a new outbox, before autovacuum's ANALYZE) it planned a nested loop that read every
    pending item of the channel once per pending item: 3,000 items took 4.6 s a claim. A
    scalar subquery stays a per-row subplan whatever the statistics, and with all three of
    channel, chat_id and status bound, ``min(id)`` is one probe of the
    (channel, chat_id, status, id) index (SQLite answers it the same way).
    """
    earlier = aliased(OutboxRow)
    oldest = (
        select(func.min(earlier.id))
        .where(
            earlier.channel == OutboxRow.channel,
            earlier.chat_id == OutboxRow.chat_id,
            earlier.status == _PENDING,
        )
        .scalar_subquery()
    )
    return OutboxRow.id == oldest


class SqlOutbox:
    """The transactional outbox: messages commit with the change that caused them.

    Claims (see ``ports.Outbox.claim``) select each chat's oldest pending item that is due and
    not under a running lease, then stamp the worker and the lease end on them. On PostgreSQL
    the select takes row locks with ``SKIP LOCKED``, so workers claiming at the same moment
    pass over each other's rows instead of waiting or taking them twice; a row whose claim
    another transaction committed meanwhile is re-checked against the lease and skipped. A
    chat's next item cannot be claimed while an older one is pending, which a concurrent claim
    sees in its snapshot, so two workers never hold two items of one chat. SQLite has one
    writer at a time (``BEGIN IMMEDIATE``), so a plain select-then-update is enough there.
    """

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
        return await self._add(chat, say_to_json(say), locale, now=now, case_id=case_id)

    async def put_event(self, payload: str, *, now: datetime, case_id: str | None = None) -> int:
        try:
            json.loads(payload)  # a ValueError now, rather than a 400 from the platform later
        except ValueError as exc:
            raise ValueError(f"an event payload must be JSON: {exc}") from None
        return await self._add(WEBHOOK_CHAT, payload, "", now=now, case_id=case_id)

    async def _add(
        self, chat: ChatKey, payload: str, locale: str, *, now: datetime, case_id: str | None
    ) -> int:
        require_aware(now)
        row = OutboxRow(
            channel=chat.channel,
            chat_id=chat.chat_id,
            payload=payload,
            locale=locale,
            case_id=case_id,
            status=_PENDING,
            attempts=0,
            created_at=now,
            due_at=now,
            sent_at=None,
            last_error=None,
            claimed_by=None,
            lease_until=None,
        )
        self._session.add(row)
        await self._session.flush()
        return row.id

    async def claim(
        self,
        now: datetime,
        limit: int,
        *,
        worker_id: str,
        lease_seconds: float,
        channel: str | None = None,
    ) -> builtins.list[OutboxItem]:
        now = require_aware(now)
        if limit <= 0:
            return []
        statement = (
            select(OutboxRow.id)
            .where(
                OutboxRow.status == _PENDING,
                OutboxRow.due_at <= now,
                or_(OutboxRow.lease_until.is_(None), OutboxRow.lease_until <= now),
                _chat_head(),
            )
            .order_by(OutboxRow.due_at, OutboxRow.id)
            .limit(limit)
        )
        if channel is not None:
            statement = statement.where(OutboxRow.channel == channel)
        if self._session.get_bind().dialect.name == "postgresql":
            statement = statement.with_for_update(skip_locked=True, of=OutboxRow)
        ids = list(await self._session.scalars(statement))
        if not ids:
            return []
        await self._session.execute(
            update(OutboxRow)
            .where(OutboxRow.id.in_(ids))
            .values(claimed_by=worker_id, lease_until=now + timedelta(seconds=lease_seconds))
            .execution_options(synchronize_session=False)
        )
        return await self._items(
            select(OutboxRow).where(OutboxRow.id.in_(ids)).order_by(OutboxRow.due_at, OutboxRow.id)
        )

    async def next_due(self, *, channel: str | None = None) -> datetime | None:
        free_at = case(
            (OutboxRow.lease_until > OutboxRow.due_at, OutboxRow.lease_until),
            else_=OutboxRow.due_at,
        )
        statement: Select[datetime]
        if self._session.get_bind().dialect.name == "postgresql":
            # Every chat's head counts here, not only the first few, so PostgreSQL finds them
            # in one pass (pending items numbered per chat in id order, the first kept): with
            # stale statistics 3,000 pending items take 3 ms so, 15 ms with a ``_chat_head``
            # probe each. SQLite scans the channel's whole index for that (sent items too, 47
            # ms beside 200,000 of them, holding the write lock), and its probes cost 4-8 ms.
            rank = func.row_number().over(
                partition_by=(OutboxRow.channel, OutboxRow.chat_id), order_by=OutboxRow.id
            )
            pending = select(free_at.label("free_at"), rank.label("rank")).where(
                OutboxRow.status == _PENDING
            )
            if channel is not None:
                pending = pending.where(OutboxRow.channel == channel)
            heads = pending.subquery()
            statement = select(type_coerce(func.min(heads.c.free_at), UTCDateTime())).where(
                heads.c.rank == 1
            )
        else:
            statement = select(type_coerce(func.min(free_at), UTCDateTime())).where(
                OutboxRow.status == _PENDING, _chat_head()
            )
            if channel is not None:
                statement = statement.where(OutboxRow.channel == channel)
        found: datetime | None = await self._session.scalar(statement)
        return found

    async def due(
        self, now: datetime, limit: int = 100, *, channel: str | None = None
    ) -> builtins.list[OutboxItem]:
        require_aware(now)
        statement = (
            select(OutboxRow)
            .where(OutboxRow.status == _PENDING, OutboxRow.due_at <= now)
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
            OutboxRow.status == _PENDING
        )
        if channel is not None:
            statement = statement.where(OutboxRow.channel == channel)
        count, oldest = (await self._session.execute(statement)).one()
        if not count or oldest is None:
            return 0, None
        return int(count), max(0.0, (now - oldest).total_seconds())

    async def mark_sent(self, item_id: int, at: datetime, *, worker_id: str | None = None) -> bool:
        require_aware(at)
        values: dict[str, Any] = {
            "status": OutboxStatus.SENT.value,
            "sent_at": at,
            "lease_until": None,
        }
        return await self._settle(item_id, worker_id, values)

    async def mark_failed(
        self,
        item_id: int,
        error: str,
        *,
        retry_at: datetime | None,
        worker_id: str | None = None,
    ) -> bool:
        values: dict[str, Any] = {
            "attempts": OutboxRow.attempts + 1,
            "last_error": error,
            "claimed_by": None,
            "lease_until": None,
        }
        if retry_at is None:
            values["status"] = OutboxStatus.DEAD.value
        else:
            values["due_at"] = require_aware(retry_at)
        return await self._settle(item_id, worker_id, values)

    async def release(
        self,
        item_id: int,
        *,
        worker_id: str,
        due_at: datetime | None = None,
        error: str | None = None,
    ) -> bool:
        values: dict[str, Any] = {"claimed_by": None, "lease_until": None}
        if due_at is not None:
            values["due_at"] = require_aware(due_at)
        if error is not None:
            values["last_error"] = error
        return await self._settle(item_id, worker_id, values)

    async def mark_unreachable(
        self, chat: ChatKey, at: datetime, error: str, *, worker_id: str | None = None
    ) -> int:
        at = require_aware(at)
        where = (
            ChatUnreachableRow.channel == chat.channel,
            ChatUnreachableRow.chat_id == chat.chat_id,
        )
        await _upsert(
            self._session,
            update(ChatUnreachableRow)
            .where(*where)
            .values(since=at, error=error)
            .execution_options(synchronize_session=False),
            insert(ChatUnreachableRow).values(
                channel=chat.channel, chat_id=chat.chat_id, since=at, error=error
            ),
        )
        statement = update(OutboxRow).where(
            OutboxRow.channel == chat.channel,
            OutboxRow.chat_id == chat.chat_id,
            OutboxRow.status == _PENDING,
        )
        if worker_id is not None:
            statement = statement.where(
                or_(
                    OutboxRow.claimed_by.is_(None),
                    OutboxRow.claimed_by == worker_id,
                    OutboxRow.lease_until <= at,
                )
            )
        return await _rowcount(
            self._session,
            statement.values(
                status=OutboxStatus.DEAD.value, last_error=error, claimed_by=None, lease_until=None
            ).execution_options(synchronize_session=False),
        )

    async def mark_reachable(self, chat: ChatKey) -> bool:
        gone = await _rowcount(
            self._session,
            delete(ChatUnreachableRow)
            .where(
                ChatUnreachableRow.channel == chat.channel,
                ChatUnreachableRow.chat_id == chat.chat_id,
            )
            .execution_options(synchronize_session=False),
        )
        return gone > 0

    async def unreachable(
        self, *, channel: str | None = None, limit: int = 100
    ) -> builtins.list[UnreachableChat]:
        statement = (
            select(ChatUnreachableRow)
            .order_by(
                ChatUnreachableRow.since.desc(),
                ChatUnreachableRow.channel,
                ChatUnreachableRow.chat_id,
            )
            .limit(max(limit, 0))
        )
        if channel is not None:
            statement = statement.where(ChatUnreachableRow.channel == channel)
        rows = await self._session.scalars(statement.execution_options(populate_existing=True))
        return [
            UnreachableChat(ChatKey(row.channel, row.chat_id), row.since, row.error)
            for row in rows
        ]

    async def revive(self, item_id: int, *, now: datetime) -> bool:
        now = require_aware(now)
        changed = await _rowcount(
            self._session,
            update(OutboxRow)
            .where(OutboxRow.id == item_id, OutboxRow.status == OutboxStatus.DEAD.value)
            .values(status=_PENDING, attempts=0, due_at=now, claimed_by=None, lease_until=None)
            .execution_options(synchronize_session=False),
        )
        if not changed:
            await self._require(item_id)
        return changed > 0

    async def list(
        self,
        status: OutboxStatus | None = None,
        limit: int = 100,
        *,
        channel: str | None = None,
        newest_first: bool = False,
    ) -> builtins.list[OutboxItem]:
        order = OutboxRow.id.desc() if newest_first else OutboxRow.id
        statement = select(OutboxRow).order_by(order).limit(max(limit, 0))
        if status is not None:
            statement = statement.where(OutboxRow.status == status.value)
        if channel is not None:
            statement = statement.where(OutboxRow.channel == channel)
        return await self._items(statement)

    async def _items(self, statement: Any) -> builtins.list[OutboxItem]:
        rows = await self._session.scalars(statement.execution_options(populate_existing=True))
        return [_outbox_item(row) for row in rows]

    async def _settle(self, item_id: int, worker_id: str | None, values: dict[str, Any]) -> bool:
        """Apply ``values`` to the item; with ``worker_id`` only while it holds the item."""
        statement = update(OutboxRow).where(OutboxRow.id == item_id)
        if worker_id is not None:
            statement = statement.where(
                OutboxRow.status == _PENDING, OutboxRow.claimed_by == worker_id
            )
        changed = await _rowcount(
            self._session,
            statement.values(**values).execution_options(synchronize_session=False),
        )
        if not changed:
            await self._require(item_id)
        return changed > 0

    async def _require(self, item_id: int) -> None:
        found = await self._session.scalar(select(OutboxRow.id).where(OutboxRow.id == item_id))
        if found is None:
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
