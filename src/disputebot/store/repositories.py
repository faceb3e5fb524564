"""SQL implementations of the store ports. They share the unit of work's session and never commit.

``SqlCaseStore`` lives in ``store.cases``, ``SqlPartyStore`` and ``SqlStandingStore`` in
``store.parties``, for size; they are re-exported here.

Habits that run through this module:

- Inserts that may collide with a row another transaction wrote are single
  ``INSERT … ON CONFLICT DO NOTHING`` statements (a new session, an update id claimed) whose
  row count says whether they won, or, where that does not fit, run inside a SAVEPOINT so a
  unique violation becomes ``ConflictError`` and leaves the surrounding transaction usable. A
  check-then-insert would race on PostgreSQL.
- Times are checked for a zone before any SQL runs, so a naive datetime is a plain
  ``ValueError`` (as in the memory stores), not an error wrapped by the driver layer.
- Updates are single statements (``UPDATE … WHERE``) and reads use ``populate_existing``, so a
  row the identity map holds from earlier in the transaction is never served stale.
"""

from __future__ import annotations

import builtins
import functools
import json
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Executable,
    Integer,
    Select,
    Table,
    Text,
    any_,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.engine import CursorResult, Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningUpdate

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
from disputebot.store.database import dialect_insert
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


async def _rowcount(
    session: AsyncSession, statement: Executable, parameters: dict[str, Any] | None = None
) -> int:
    result = await session.execute(statement, parameters)
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


# The statements of every update, built once on the table (Core, not ORM): building one and
# its cache key each call cost about as much as running it.
_SESSIONS = cast("Table", SessionRow.__table__)
# Named apart from the columns: an UPDATE takes a parameter named as a column as its value.
_THIS_CHAT = (
    _SESSIONS.c.channel == bindparam("this_channel"),
    _SESSIONS.c.chat_id == bindparam("this_chat_id"),
)
_GET_SESSION = select(_SESSIONS.c.data, _SESSIONS.c.revision).where(*_THIS_CHAT)
_NEXT_SESSION = (
    _SESSIONS.update()
    .where(*_THIS_CHAT, _SESSIONS.c.revision == bindparam("expected"))
    .values(
        data=bindparam("new_data", type_=Text()),
        revision=bindparam("new_revision", type_=Integer()),
        updated_at=bindparam("at", type_=UTCDateTime()),
    )
)


@functools.lru_cache(maxsize=2)
def _create_session(dialect: str) -> Executable:
    """``INSERT … ON CONFLICT DO NOTHING`` for a new session, built once per dialect."""
    return dialect_insert(dialect)(_SESSIONS).on_conflict_do_nothing()


_UNREACHABLE = cast("Table", ChatUnreachableRow.__table__)
_MARK_REACHABLE = _UNREACHABLE.delete().where(
    _UNREACHABLE.c.channel == bindparam("channel"),
    _UNREACHABLE.c.chat_id == bindparam("chat_id"),
)


class SqlSessionStore:
    """Conversation sessions with an optimistic lock on ``revision``."""

    def __init__(self, session: AsyncSession, clock: Clock | None = None) -> None:
        self._session = session
        # Only for the bookkeeping column ``updated_at``: put() takes no time of its own.
        self._clock = clock or SystemClock()

    async def get(self, chat: ChatKey) -> StoredSession | None:
        row = (
            await self._session.execute(
                _GET_SESSION, {"this_channel": chat.channel, "this_chat_id": chat.chat_id}
            )
        ).one_or_none()
        return None if row is None else StoredSession(data=row.data, revision=row.revision)

    async def put(self, chat: ChatKey, data: str, expected_revision: int | None) -> int:
        now = self._clock.now()
        if expected_revision is None:
            # ON CONFLICT rather than a SAVEPOINT around a plain INSERT: one statement, and the
            # transaction stays usable all the same.
            created = await _rowcount(
                self._session,
                _create_session(self._session.get_bind().dialect.name),
                {
                    "channel": chat.channel,
                    "chat_id": chat.chat_id,
                    "data": data,
                    "revision": 1,
                    "updated_at": now,
                },
            )
            if not created:
                raise ConflictError(f"a session for {chat.user_ref} already exists")
            return 1
        changed = await _rowcount(
            self._session,
            _NEXT_SESSION,
            {
                "this_channel": chat.channel,
                "this_chat_id": chat.chat_id,
                "expected": expected_revision,
                "new_revision": expected_revision + 1,
                "new_data": data,
                "at": now,
            },
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


def _insert(session: AsyncSession) -> Any:
    """The session's dialect's ``insert``, for ``ON CONFLICT``."""
    return dialect_insert(session.get_bind().dialect.name)


@functools.lru_cache(maxsize=2)
def _claim_update(dialect: str) -> Executable:
    """``INSERT … ON CONFLICT DO NOTHING`` for an update id, built once per dialect."""
    table = cast("Table", ProcessedUpdateRow.__table__)
    return dialect_insert(dialect)(table).on_conflict_do_nothing()


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

    async def claim(self, channel: str, event_id: str, at: datetime) -> bool:
        # One statement, no SAVEPOINT: a conflict is no error here, so it cannot spoil the
        # transaction. On PostgreSQL an id another transaction inserted but has not committed
        # makes this wait for it, and then insert (rolled back) or not (committed).
        require_aware(at)
        statement = _claim_update(self._session.get_bind().dialect.name)
        inserted = await _rowcount(
            self._session,
            statement,
            {"channel": channel, "event_id": event_id, "processed_at": at},
        )
        return inserted == 1

    async def prune(self, before: datetime) -> int:
        require_aware(before)
        return await _rowcount(
            self._session,
            delete(ProcessedUpdateRow)
            .where(ProcessedUpdateRow.processed_at < before)
            .execution_options(synchronize_session=False),
        )


# The outbox as a Core table, for the statements that return items (the claim above all):
# Core skips the ORM's result loading and its per-call copy of each statement, about 0.2 ms of
# a claim of 100 items on SQLite.
_OUTBOX = cast("Table", OutboxRow.__table__)

# The columns of an ``OutboxItem``, in the order ``_outbox_item`` unpacks them. Reads select
# these rather than load ORM objects: turning 100 claimed rows into objects (and refreshing
# them, ``populate_existing``) cost more than the claim's SQL.
_ITEM_COLUMNS = (
    _OUTBOX.c.id,
    _OUTBOX.c.channel,
    _OUTBOX.c.chat_id,
    _OUTBOX.c.payload,
    _OUTBOX.c.locale,
    _OUTBOX.c.created_at,
    _OUTBOX.c.due_at,
    _OUTBOX.c.attempts,
    _OUTBOX.c.status,
    _OUTBOX.c.case_id,
    _OUTBOX.c.last_error,
    _OUTBOX.c.claimed_by,
    _OUTBOX.c.lease_until,
    _OUTBOX.c.sent_at,
)
_OUTBOX_STATUSES = {status.value: status for status in OutboxStatus}


def _outbox_item(row: Row[*tuple[Any, ...]]) -> OutboxItem:
    (
        item_id,
        channel,
        chat_id,
        payload,
        locale,
        created_at,
        due_at,
        attempts,
        status,
        case_id,
        last_error,
        claimed_by,
        lease_until,
        sent_at,
    ) = row
    return OutboxItem(
        id=item_id,
        chat=ChatKey(channel, chat_id),
        payload=payload,
        locale=locale,
        created_at=created_at,
        due_at=due_at,
        attempts=attempts,
        status=_OUTBOX_STATUSES[status],
        case_id=case_id,
        last_error=last_error,
        claimed_by=claimed_by,
        lease_until=lease_until,
        sent_at=sent_at,
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
    outbox, earlier = _OUTBOX.c, _OUTBOX.alias("earlier").c
    oldest = (
        select(func.min(earlier.id))
        .where(
            earlier.channel == outbox.channel,
            earlier.chat_id == outbox.chat_id,
            earlier.status == _PENDING,
        )
        .scalar_subquery()
    )
    return outbox.id == oldest


# The claim's statements are built once per variant and reused: building them (``_chat_head``
# above all) and their cache keys each call took longer than running them.


def _claim_pick(*, by_channel: bool) -> Select[int]:
    """Each chat's oldest pending item that is due and not under a running lease, in due
    order: ids only."""
    outbox, now = _OUTBOX.c, bindparam("now", type_=UTCDateTime())
    pick = (
        select(outbox.id)
        .where(
            outbox.status == _PENDING,
            outbox.due_at <= now,
            or_(outbox.lease_until.is_(None), outbox.lease_until <= now),
            _chat_head(),
        )
        .order_by(outbox.due_at, outbox.id)
        .limit(bindparam("limit"))
    )
    return pick.where(outbox.channel == bindparam("in_channel")) if by_channel else pick


def _claim_stamp(picked: ColumnElement[bool]) -> ReturningUpdate[*tuple[Any, ...]]:
    """The worker and the lease end on the ``picked`` items, returning them (no second read of
    the claimed rows: SQLite has ``RETURNING`` since 3.35)."""
    return (
        update(_OUTBOX)
        .where(picked)
        .values(
            claimed_by=bindparam("worker_id"),
            lease_until=bindparam("lease_end", type_=UTCDateTime()),
        )
        .returning(*_ITEM_COLUMNS)
    )


@functools.lru_cache(maxsize=2)
def _claim_in_one(*, by_channel: bool) -> ReturningUpdate[*tuple[Any, ...]]:
    """SQLite: pick and stamp in one statement. Its one writer at a time (``BEGIN
    IMMEDIATE``) leaves no one to race, and each statement is a round trip to the driver's
    thread."""
    return _claim_stamp(_OUTBOX.c.id.in_(_claim_pick(by_channel=by_channel).scalar_subquery()))


@functools.lru_cache(maxsize=2)
def _claim_in_two(*, by_channel: bool) -> tuple[Select[int], ReturningUpdate[*tuple[Any, ...]]]:
    """PostgreSQL: the pick, locking with ``SKIP LOCKED``, is a statement of its own, so its
    row locks are taken once, on exactly the rows it returns (a subquery in an UPDATE may be
    run again); the stamp takes the ids as one array, a single prepared statement whatever
    their number."""
    pick = _claim_pick(by_channel=by_channel).with_for_update(skip_locked=True, of=_OUTBOX)
    return pick, _claim_stamp(_OUTBOX.c.id == any_(bindparam("ids", type_=ARRAY(Integer))))


class SqlOutbox:
    """The transactional outbox: messages commit with the change that caused them.

    Claims (see ``ports.Outbox.claim``) select each chat's oldest pending item that is due and
    not under a running lease, then stamp the worker and the lease end on them. On PostgreSQL
    the select takes row locks with ``SKIP LOCKED``, so workers claiming at the same moment
    pass over each other's rows instead of waiting or taking them twice; a row whose claim
    another transaction committed meanwhile is re-checked against the lease and skipped. A
    chat's next item cannot be claimed while an older one is pending, which a concurrent claim
    sees in its snapshot, so two workers never hold two items of one chat. SQLite has one
    writer at a time (``BEGIN IMMEDIATE``), so one ``UPDATE … WHERE id IN (the select)`` is
    enough there.
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
        # Named after no column: an UPDATE would take such a parameter for a SET.
        parameters = {
            "now": now,
            "limit": limit,
            "in_channel": channel,
            "worker_id": worker_id,
            "lease_end": now + timedelta(seconds=lease_seconds),
        }
        by_channel = channel is not None
        if self._session.get_bind().dialect.name == "postgresql":
            pick, stamp = _claim_in_two(by_channel=by_channel)
            parameters["ids"] = list(await self._session.scalars(pick, parameters))
            if not parameters["ids"]:
                return []
        else:
            stamp = _claim_in_one(by_channel=by_channel)
        rows = await self._session.execute(stamp, parameters)
        # RETURNING comes in no particular order.
        return sorted(map(_outbox_item, rows.all()), key=lambda item: (item.due_at, item.id))

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
            select(*_ITEM_COLUMNS)
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

    async def pending_to(self, chat: ChatKey) -> int:
        found = await self._session.scalar(
            select(func.count()).where(
                OutboxRow.channel == chat.channel,
                OutboxRow.chat_id == chat.chat_id,
                OutboxRow.status == _PENDING,
            )
        )
        return int(found or 0)

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
        # Every update runs this; the delivery worker (maybe another process) marks chats
        # unreachable, so only the database knows whether there is a row to delete.
        gone = await _rowcount(
            self._session, _MARK_REACHABLE, {"channel": chat.channel, "chat_id": chat.chat_id}
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
        statement = select(*_ITEM_COLUMNS).order_by(order).limit(max(limit, 0))
        if status is not None:
            statement = statement.where(OutboxRow.status == status.value)
        if channel is not None:
            statement = statement.where(OutboxRow.channel == channel)
        return await self._items(statement)

    async def _items(self, statement: Select[*tuple[Any, ...]]) -> builtins.list[OutboxItem]:
        return [_outbox_item(row) for row in await self._session.execute(statement)]

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
        # One statement where ``_upsert`` takes an UPDATE, and a SAVEPOINT and an INSERT for a
        # new reporter (every chat's first event).
        await self._session.execute(
            _insert(self._session)(ReporterRow)
            .values(
                channel=chat.channel,
                chat_id=chat.chat_id,
                locale=locale,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_update(
                index_elements=[ReporterRow.channel, ReporterRow.chat_id],
                set_={"locale": locale, "updated_at": now},
            )
        )


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
