"""In-memory stores with the same semantics as the SQL ones, for tests and quick experiments.

Committed state lives in a ``MemoryDatabase``. A unit of work works on a deep copy of it and
``commit()`` swaps the copy in, so leaving without committing (or with an exception) rolls back.
Units of work on one database run one at a time, like SQLite with its single writer: a second
one waits for the first to finish. That keeps concurrent tasks from overwriting each other's
commits, and stale revisions still surface as ``ConflictError``.

The contract tests in ``tests/contract`` run the same cases against these stores and the SQL
ones; behaviour differs only where noted here: the database never refuses oversized values.
"""

from __future__ import annotations

import asyncio
import builtins
import copy
import dataclasses
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self

from disputebot.cases.records import (
    OPEN_STATUSES,
    CaseChange,
    CaseEvent,
    CaseRecord,
    CaseSummary,
    CaseTimes,
    ClaimLink,
    EvidenceSource,
    NewCase,
    PartyLink,
    QueueFilter,
    StandingEvent,
    Statement,
    Status,
    TrackRecord,
    filed_record,
)
from disputebot.engine.effects import Say, say_to_json
from disputebot.policy.abuse import ReporterFacts
from disputebot.ports import (
    WEBHOOK_CHAT,
    CaseStore,
    ChatKey,
    ConflictError,
    Deadline,
    Deadlines,
    Outbox,
    OutboxItem,
    OutboxStatus,
    PartyStore,
    ReporterStore,
    Role,
    SessionStore,
    StaffStore,
    StandingStore,
    StoredSession,
    UnreachableChat,
    UpdateLog,
)

__all__ = ["MemoryDatabase", "MemoryUnitOfWork", "MemoryUnitOfWorkFactory"]

# Same values as disputebot.store.repositories (not imported: this module stays SQL-free).
FALSE_REPORT_KIND = "rejected:false_report"
# An appeal confirmed: the rejection it confirms still stands, with its own kind.
CONFIRM_KIND = "confirm"
REPORT_WINDOW = timedelta(hours=24)


def _utc(value: datetime) -> datetime:
    # Mirrors store.models.UTCDateTime: refuse naive datetimes, hand back aware UTC.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"naive datetime {value.isoformat()} refused: pass an aware datetime "
            "(for example datetime.now(UTC))"
        )
    return value.astimezone(UTC)


def _json_copy(value: Any) -> Any:
    # What a JSON column gives back: plain dicts and lists, a fresh copy on every read.
    return json.loads(json.dumps(value))


@dataclass
class _Reporter:
    locale: str
    created_at: datetime
    updated_at: datetime


@dataclass
class _Link:
    id: int
    link: PartyLink
    revoked_at: datetime | None = None


@dataclass
class _State:
    sessions: dict[ChatKey, StoredSession] = field(default_factory=dict)
    updates: dict[tuple[str, str], datetime] = field(default_factory=dict)
    # public id -> (row id, record); row ids break created_at ties as in SQL.
    cases: dict[str, tuple[int, CaseRecord]] = field(default_factory=dict)
    last_case_id: int = 0
    outbox: dict[int, OutboxItem] = field(default_factory=dict)
    last_outbox_id: int = 0
    unreachable: dict[ChatKey, tuple[datetime, str]] = field(default_factory=dict)
    reporters: dict[ChatKey, _Reporter] = field(default_factory=dict)
    staff: dict[ChatKey, tuple[Role, datetime]] = field(default_factory=dict)
    deadlines: dict[int, Deadline] = field(default_factory=dict)
    last_deadline_id: int = 0
    statements: dict[int, Statement] = field(default_factory=dict)
    last_statement_id: int = 0
    claims: dict[str, ClaimLink] = field(default_factory=dict)
    links: dict[int, _Link] = field(default_factory=dict)
    last_link_id: int = 0
    standing: dict[int, StandingEvent] = field(default_factory=dict)
    last_standing_id: int = 0


class MemoryDatabase:
    """Committed state shared by the units of work of one ``MemoryUnitOfWorkFactory``."""

    def __init__(self) -> None:
        self.state = _State()
        self.lock = asyncio.Lock()
        self.holder: asyncio.Task[Any] | None = None


class _Transaction:
    """The working copy the stores of one unit of work read and write."""

    def __init__(self) -> None:
        self._state: _State | None = None

    @property
    def state(self) -> _State:
        if self._state is None:
            raise RuntimeError("the unit of work is not open")
        return self._state

    @state.setter
    def state(self, value: _State | None) -> None:
        self._state = value


class MemorySessionStore:
    """``SessionStore`` on a dict."""

    def __init__(self, tx: _Transaction) -> None:
        self._tx = tx

    async def get(self, chat: ChatKey) -> StoredSession | None:
        return self._tx.state.sessions.get(chat)

    async def put(self, chat: ChatKey, data: str, expected_revision: int | None) -> int:
        sessions = self._tx.state.sessions
        stored = sessions.get(chat)
        if expected_revision is None:
            if stored is not None:
                raise ConflictError(f"a session for {chat.user_ref} already exists")
        elif stored is None or stored.revision != expected_revision:
            raise ConflictError(
                f"the session for {chat.user_ref} is not at revision {expected_revision}"
            )
        revision = 1 if expected_revision is None else expected_revision + 1
        sessions[chat] = StoredSession(data=data, revision=revision)
        return revision

    async def delete(self, chat: ChatKey, expected_revision: int | None = None) -> None:
        sessions = self._tx.state.sessions
        if expected_revision is not None:
            current = sessions.get(chat)
            if current is None or current.revision != expected_revision:
                raise ConflictError(
                    f"the session for {chat.user_ref} is not at revision {expected_revision}"
                )
        sessions.pop(chat, None)


class MemoryUpdateLog:
    """``UpdateLog`` on a dict; recording an id twice raises ``ConflictError``."""

    def __init__(self, tx: _Transaction) -> None:
        self._tx = tx

    async def seen(self, channel: str, event_id: str) -> bool:
        return (channel, event_id) in self._tx.state.updates

    async def record(self, channel: str, event_id: str, at: datetime) -> None:
        at = _utc(at)
        updates = self._tx.state.updates
        if (channel, event_id) in updates:
            raise ConflictError(f"event {channel}:{event_id} was already recorded")
        updates[channel, event_id] = at

    async def claim(self, channel: str, event_id: str, at: datetime) -> bool:
        at = _utc(at)
        updates = self._tx.state.updates
        if (channel, event_id) in updates:
            return False
        updates[channel, event_id] = at
        return True

    async def prune(self, before: datetime) -> int:
        before = _utc(before)
        updates = self._tx.state.updates
        old = [key for key, at in updates.items() if at < before]
        for key in old:
            del updates[key]
        return len(old)


def _event(event: CaseEvent) -> CaseEvent:
    return dataclasses.replace(event, at=_utc(event.at))


class MemoryCaseStore:
    """``CaseStore`` on a dict of immutable records."""

    def __init__(self, tx: _Transaction) -> None:
        self._tx = tx

    async def add(self, case: NewCase, first_event: CaseEvent) -> None:
        state = self._tx.state
        _utc(case.created_at)  # naive times are refused, as the SQL column refuses them
        _event(first_event)
        if case.public_id in state.cases:
            raise ConflictError(f"case {case.public_id} already exists")
        record = filed_record(case, first_event)
        state.last_case_id += 1
        state.cases[case.public_id] = (state.last_case_id, record)

    async def get(self, public_id: str) -> CaseRecord | None:
        found = self._tx.state.cases.get(public_id)
        return None if found is None else _fresh(found[1])

    async def list(self, *, reporter_id: str | None = None, limit: int = 100) -> list[CaseRecord]:
        rows = [
            (row_id, record)
            for row_id, record in self._tx.state.cases.values()
            if reporter_id is None or record.reporter_id == reporter_id
        ]
        rows.sort(key=lambda row: (row[1].created_at, row[0]), reverse=True)
        return [_fresh(record) for _, record in rows[: max(limit, 0)]]

    async def reporter_facts(self, reporter_id: str, now: datetime) -> ReporterFacts:
        now = _utc(now)
        mine = sorted(
            (
                (row_id, record)
                for row_id, record in self._tx.state.cases.values()
                if record.reporter_id == reporter_id
            ),
            key=lambda row: (row[1].created_at, row[0]),
        )
        recent = [r.created_at for _, r in mine if now - REPORT_WINDOW < r.created_at <= now]
        # Oldest first, so with several open cases on one account the newest wins (as in SQL).
        open_cases = {r.account_key: r.public_id for _, r in mine if r.status in OPEN_STATUSES}
        false_rejections = [
            event.at
            for _, record in mine
            for event in record.events
            if event.to_status == Status.REJECTED
            and event.kind == FALSE_REPORT_KIND
            and record.status in {Status.REJECTED, Status.CLOSED}
            and record.decision.get("outcome") in {None, Status.REJECTED.value}
        ]
        return ReporterFacts(
            reports_last_24h=len(recent),
            oldest_report_last_24h=min(recent, default=None),
            open_cases=open_cases,
            last_false_rejection_at=max(false_rejections, default=None),
            own_account_keys=frozenset(),
        )

    async def purge_finished(self, before: datetime) -> tuple[builtins.list[str], set[str]]:
        return await _purge_finished(self._tx, before)

    async def transition(self, public_id: str, to: Status, event: CaseEvent) -> None:
        await self.apply(public_id, CaseChange(event=event, to=to))

    async def apply(self, public_id: str, change: CaseChange) -> None:
        event = _event(change.event)
        cases = self._tx.state.cases
        if public_id not in cases:
            raise KeyError(public_id)
        row_id, record = cases[public_id]
        if event.from_status is not None and record.status != event.from_status:
            raise ConflictError(f"case {public_id} is no longer {event.from_status}")
        updated = dataclasses.replace(
            record,
            updated_at=event.at,
            evidence=(*record.evidence, *change.evidence),
            evidence_sources=(
                *_sources(record),
                *(EvidenceSource(change.evidence_source),) * len(change.evidence),
            ),
            events=(*record.events, event),
        )
        if change.clear_merged:
            updated = dataclasses.replace(updated, merged_into=None)
        elif change.merged_into is not None:
            updated = dataclasses.replace(updated, merged_into=change.merged_into)
        if change.to is not None:
            updated = dataclasses.replace(updated, status=change.to)
            # Ruling on an appeal (leaving ``appealed``) keeps the decision's time.
            deciding = record.status in OPEN_STATUSES and record.status is not Status.APPEALED
            if change.to not in OPEN_STATUSES and deciding:
                updated = dataclasses.replace(updated, decided_at=event.at)
        if change.set_assignee:
            updated = dataclasses.replace(updated, assignee=change.assignee)
        if change.decision is not None:
            updated = dataclasses.replace(updated, decision=_json_copy(dict(change.decision)))
        if change.first_response and updated.first_response_at is None:
            updated = dataclasses.replace(updated, first_response_at=event.at)
        cases[public_id] = (row_id, updated)

    async def queue(
        self, where: QueueFilter, *, offset: int = 0, limit: int = 10
    ) -> tuple[builtins.list[CaseSummary], int]:
        statuses = where.statuses or OPEN_STATUSES
        older_than = None if where.older_than is None else _utc(where.older_than)
        found = [
            (row_id, record)
            for row_id, record in self._tx.state.cases.values()
            if record.status in statuses
            and (where.category is None or record.category == where.category)
            and (older_than is None or record.created_at < older_than)
            and (where.assignee is None or record.assignee == where.assignee)
            and (not where.unassigned or record.assignee is None)
        ]
        found.sort(key=lambda row: (row[1].created_at, row[0]))
        offset = max(offset, 0)
        page = found[offset : offset + max(limit, 0)]
        return [_summary(record) for _, record in page], len(found)

    async def track_record(self, reporter_id: str) -> TrackRecord:
        mine = [r for _, r in self._tx.state.cases.values() if r.reporter_id == reporter_id]
        rejected = [r for r in mine if _outcome(r) == Status.REJECTED]
        return TrackRecord(
            filed=len(mine),
            upheld=sum(1 for r in mine if _outcome(r) == Status.UPHELD),
            rejected=len(rejected),
            rejected_false=sum(1 for r in rejected if _standing_rejection(r) == FALSE_REPORT_KIND),
        )

    async def against_account(
        self, account_key: str, *, exclude: str | None = None, limit: int = 10
    ) -> builtins.list[CaseSummary]:
        found = [
            (row_id, record)
            for row_id, record in self._tx.state.cases.values()
            if record.account_key == account_key and record.public_id != exclude
        ]
        found.sort(key=lambda row: (row[1].created_at, row[0]), reverse=True)
        return [_summary(record) for _, record in found[: max(limit, 0)]]

    async def count_upheld(self, account_key: str) -> int:
        return sum(
            1
            for _, record in self._tx.state.cases.values()
            if record.account_key == account_key and _outcome(record) == Status.UPHELD
        )

    async def set_shareable(self, public_id: str, position: int, shareable: bool) -> None:
        cases = self._tx.state.cases
        if public_id not in cases:
            raise KeyError(public_id)
        row_id, record = cases[public_id]
        if not 0 <= position < len(record.evidence):
            raise IndexError(f"case {public_id} has no evidence item {position}")
        marked = record.shareable | {position} if shareable else record.shareable - {position}
        cases[public_id] = (row_id, dataclasses.replace(record, shareable=frozenset(marked)))

    async def add_statement(self, statement: Statement) -> int:
        state = self._tx.state
        created_at = _utc(statement.created_at)
        if statement.case_id not in state.cases:
            raise KeyError(statement.case_id)
        state.last_statement_id += 1
        state.statements[state.last_statement_id] = dataclasses.replace(
            statement,
            audience=statement.audience,
            body=_json_copy(dict(statement.body)),
            created_at=created_at,
            id=state.last_statement_id,
        )
        return state.last_statement_id

    async def statements(self, public_id: str) -> builtins.list[Statement]:
        found = [s for s in self._tx.state.statements.values() if s.case_id == public_id]
        found.sort(key=lambda s: (s.created_at, s.id))
        return [dataclasses.replace(s, body=_json_copy(s.body)) for s in found]

    async def merged_from(self, public_id: str) -> builtins.list[CaseSummary]:
        found = [
            (row_id, record)
            for row_id, record in self._tx.state.cases.values()
            if record.merged_into == public_id
        ]
        found.sort(key=lambda row: (row[1].created_at, row[0]))
        return [_summary(record) for _, record in found]

    async def recent_against(
        self, account_key: str, since: datetime, *, limit: int = 50
    ) -> builtins.list[CaseSummary]:
        since = _utc(since)
        found = [
            (row_id, record)
            for row_id, record in self._tx.state.cases.values()
            if record.account_key == account_key and record.created_at >= since
        ]
        found.sort(key=lambda row: (row[1].created_at, row[0]))
        return [_summary(record) for _, record in found[: max(limit, 0)]]

    async def first_filed(self, reporter_id: str) -> datetime | None:
        return min(
            (
                record.created_at
                for _, record in self._tx.state.cases.values()
                if record.reporter_id == reporter_id
            ),
            default=None,
        )

    async def times_since(self, since: datetime) -> builtins.list[CaseTimes]:
        since = _utc(since)
        found = sorted(
            (
                (row_id, record)
                for row_id, record in self._tx.state.cases.values()
                if record.created_at >= since or record.status in OPEN_STATUSES
            ),
            key=lambda row: (row[1].created_at, row[0]),
        )
        return [
            CaseTimes(
                public_id=r.public_id,
                status=r.status,
                created_at=r.created_at,
                first_response_at=r.first_response_at,
                decided_at=r.decided_at,
                assignee=r.assignee,
            )
            for _, r in found
        ]


def _outcome(record: CaseRecord) -> str | None:
    # What SQL keeps in the ``outcome`` column: the decision's "outcome" key.
    outcome = record.decision.get("outcome")
    return outcome if isinstance(outcome, str) and outcome else None


def _standing_rejection(record: CaseRecord) -> str | None:
    # The kind of the newest event into ``rejected`` (ties: the later one) other than an
    # appeal's confirmation, which leaves the rejection it confirms standing; as SQL picks it.
    rejections = [
        e
        for e in _fresh(record).events
        if e.to_status == Status.REJECTED and e.kind != CONFIRM_KIND
    ]
    return rejections[-1].kind if rejections else None


def _sources(record: CaseRecord) -> tuple[EvidenceSource, ...]:
    # One source per evidence item (a record without them is all the reporter's).
    return tuple(record.source_of(i) for i in range(len(record.evidence)))


def _summary(record: CaseRecord) -> CaseSummary:
    return CaseSummary(
        public_id=record.public_id,
        status=record.status,
        category=record.category,
        account_key=record.account_key,
        reporter_id=record.reporter_id,
        assignee=record.assignee,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


async def _purge_finished(tx: _Transaction, before: datetime) -> tuple[list[str], set[str]]:
    state = tx.state
    before = _utc(before)
    gone = [
        public_id
        for public_id, (_, record) in state.cases.items()
        if record.status not in OPEN_STATUSES and record.updated_at < before
    ]
    paths = {e.stored_path for p in gone for e in state.cases[p][1].evidence if e.stored_path}
    for public_id in gone:
        del state.cases[public_id]
    state.outbox = {k: v for k, v in state.outbox.items() if v.case_id not in set(gone)}
    state.deadlines = {k: v for k, v in state.deadlines.items() if v.case_id not in set(gone)}
    state.statements = {k: v for k, v in state.statements.items() if v.case_id not in set(gone)}
    still_used = {e.stored_path for _, record in state.cases.values() for e in record.evidence}
    return gone, paths - still_used


def _fresh(record: CaseRecord) -> CaseRecord:
    # SQL orders the audit trail by (time, insertion); sorted() is stable, so this matches.
    return dataclasses.replace(
        record,
        account=_json_copy(record.account),
        answers=_json_copy(record.answers),
        decision=_json_copy(record.decision),
        events=tuple(sorted(record.events, key=lambda e: e.at)),
    )


class MemoryOutbox:
    """``Outbox`` on a dict keyed by increasing ids, with the SQL store's claim rules."""

    def __init__(self, tx: _Transaction) -> None:
        self._tx = tx

    async def put(
        self,
        chat: ChatKey,
        say: Say,
        locale: str,
        *,
        now: datetime,
        case_id: str | None = None,
    ) -> int:
        return self._add(chat, say_to_json(say), locale, now=now, case_id=case_id)

    async def put_event(self, payload: str, *, now: datetime, case_id: str | None = None) -> int:
        try:
            json.loads(payload)  # as the SQL store
        except ValueError as exc:
            raise ValueError(f"an event payload must be JSON: {exc}") from None
        return self._add(WEBHOOK_CHAT, payload, "", now=now, case_id=case_id)

    def _add(
        self, chat: ChatKey, payload: str, locale: str, *, now: datetime, case_id: str | None
    ) -> int:
        state = self._tx.state
        now = _utc(now)
        state.last_outbox_id += 1
        item = OutboxItem(
            id=state.last_outbox_id,
            chat=chat,
            payload=payload,
            locale=locale,
            created_at=now,
            due_at=now,
            attempts=0,
            status=OutboxStatus.PENDING,
            case_id=case_id,
        )
        state.outbox[item.id] = item
        return item.id

    def _heads(self, channel: str | None) -> list[OutboxItem]:
        """The oldest pending item of each chat (on ``channel``)."""
        heads: dict[ChatKey, OutboxItem] = {}
        for item in sorted(self._tx.state.outbox.values(), key=lambda i: i.id):
            if item.status != OutboxStatus.PENDING or item.chat in heads:
                continue
            if channel is None or item.chat.channel == channel:
                heads[item.chat] = item
        return list(heads.values())

    async def claim(
        self,
        now: datetime,
        limit: int,
        *,
        worker_id: str,
        lease_seconds: float,
        channel: str | None = None,
    ) -> list[OutboxItem]:
        now = _utc(now)
        free = [
            item
            for item in self._heads(channel)
            if item.due_at <= now and (item.lease_until is None or item.lease_until <= now)
        ]
        free.sort(key=lambda item: (item.due_at, item.id))
        until = now + timedelta(seconds=lease_seconds)
        claimed = []
        for item in free[: max(limit, 0)]:
            held = dataclasses.replace(item, claimed_by=worker_id, lease_until=until)
            self._tx.state.outbox[item.id] = held
            claimed.append(held)
        return claimed

    async def next_due(self, *, channel: str | None = None) -> datetime | None:
        times = [
            max(item.due_at, item.lease_until) if item.lease_until else item.due_at
            for item in self._heads(channel)
        ]
        return min(times, default=None)

    async def due(
        self, now: datetime, limit: int = 100, *, channel: str | None = None
    ) -> list[OutboxItem]:
        now = _utc(now)
        items = [
            item
            for item in self._tx.state.outbox.values()
            if item.status == OutboxStatus.PENDING
            and item.due_at <= now
            and (channel is None or item.chat.channel == channel)
        ]
        items.sort(key=lambda item: (item.due_at, item.id))
        return items[: max(limit, 0)]

    async def backlog(
        self, now: datetime, *, channel: str | None = None
    ) -> tuple[int, float | None]:
        now = _utc(now)
        pending = [
            item.created_at
            for item in self._tx.state.outbox.values()
            if item.status == OutboxStatus.PENDING
            and (channel is None or item.chat.channel == channel)
        ]
        if not pending:
            return 0, None
        return len(pending), max(0.0, (now - min(pending)).total_seconds())

    async def pending_to(self, chat: ChatKey) -> int:
        return sum(
            1
            for item in self._tx.state.outbox.values()
            if item.status == OutboxStatus.PENDING and item.chat == chat
        )

    async def mark_sent(self, item_id: int, at: datetime, *, worker_id: str | None = None) -> bool:
        at = _utc(at)
        return self._settle(
            item_id, worker_id, status=OutboxStatus.SENT, sent_at=at, lease_until=None
        )

    async def mark_failed(
        self,
        item_id: int,
        error: str,
        *,
        retry_at: datetime | None,
        worker_id: str | None = None,
    ) -> bool:
        if retry_at is not None:
            retry_at = _utc(retry_at)
        item = self._item(item_id)
        changes: dict[str, Any] = {
            "attempts": item.attempts + 1,
            "last_error": error,
            "claimed_by": None,
            "lease_until": None,
        }
        if retry_at is None:
            changes["status"] = OutboxStatus.DEAD
        else:
            changes["due_at"] = retry_at
        return self._settle(item_id, worker_id, **changes)

    async def release(
        self,
        item_id: int,
        *,
        worker_id: str,
        due_at: datetime | None = None,
        error: str | None = None,
    ) -> bool:
        changes: dict[str, Any] = {"claimed_by": None, "lease_until": None}
        if due_at is not None:
            changes["due_at"] = _utc(due_at)
        if error is not None:
            changes["last_error"] = error
        return self._settle(item_id, worker_id, **changes)

    async def mark_unreachable(
        self, chat: ChatKey, at: datetime, error: str, *, worker_id: str | None = None
    ) -> int:
        at = _utc(at)
        state = self._tx.state
        state.unreachable[chat] = (at, error)
        dead = 0
        for item in list(state.outbox.values()):
            if item.chat != chat or item.status != OutboxStatus.PENDING:
                continue
            held_elsewhere = (
                worker_id is not None
                and item.claimed_by is not None
                and item.claimed_by != worker_id
                and item.lease_until is not None
                and item.lease_until > at
            )
            if held_elsewhere:
                continue
            state.outbox[item.id] = dataclasses.replace(
                item, status=OutboxStatus.DEAD, last_error=error, claimed_by=None, lease_until=None
            )
            dead += 1
        return dead

    async def mark_reachable(self, chat: ChatKey) -> bool:
        return self._tx.state.unreachable.pop(chat, None) is not None

    async def unreachable(
        self, *, channel: str | None = None, limit: int = 100
    ) -> list[UnreachableChat]:
        found = [
            UnreachableChat(chat, since, error)
            for chat, (since, error) in self._tx.state.unreachable.items()
            if channel is None or chat.channel == channel
        ]
        found.sort(key=lambda u: (-u.since.timestamp(), u.chat.channel, u.chat.chat_id))
        return found[: max(limit, 0)]

    async def revive(self, item_id: int, *, now: datetime) -> bool:
        now = _utc(now)
        item = self._item(item_id)
        if item.status != OutboxStatus.DEAD:
            return False
        self._tx.state.outbox[item_id] = dataclasses.replace(
            item,
            status=OutboxStatus.PENDING,
            attempts=0,
            due_at=now,
            claimed_by=None,
            lease_until=None,
        )
        return True

    async def list(
        self,
        status: OutboxStatus | None = None,
        limit: int = 100,
        *,
        channel: str | None = None,
        newest_first: bool = False,
    ) -> list[OutboxItem]:
        items = sorted(
            (
                item
                for item in self._tx.state.outbox.values()
                if (status is None or item.status == status)
                and (channel is None or item.chat.channel == channel)
            ),
            key=lambda item: item.id,
            reverse=newest_first,
        )
        return items[: max(limit, 0)]

    def _settle(self, item_id: int, worker_id: str | None, **changes: Any) -> bool:
        item = self._item(item_id)
        if worker_id is not None and (
            item.status != OutboxStatus.PENDING or item.claimed_by != worker_id
        ):
            return False
        self._tx.state.outbox[item_id] = dataclasses.replace(item, **changes)
        return True

    def _item(self, item_id: int) -> OutboxItem:
        try:
            return self._tx.state.outbox[item_id]
        except KeyError:
            raise KeyError(item_id) from None


class MemoryReporterStore:
    """``ReporterStore`` on a dict."""

    def __init__(self, tx: _Transaction) -> None:
        self._tx = tx

    async def locale(self, chat: ChatKey) -> str | None:
        found = self._tx.state.reporters.get(chat)
        return None if found is None else found.locale

    async def forget(self, chat: ChatKey) -> None:
        self._tx.state.reporters.pop(chat, None)

    async def set_locale(self, chat: ChatKey, locale: str, now: datetime) -> None:
        now = _utc(now)
        reporters = self._tx.state.reporters
        found = reporters.get(chat)
        if found is None:
            reporters[chat] = _Reporter(locale=locale, created_at=now, updated_at=now)
        else:
            found.locale = locale
            found.updated_at = now


class MemoryStaffStore:
    """``StaffStore`` on a dict; a role change keeps the first ``added_at``."""

    def __init__(self, tx: _Transaction) -> None:
        self._tx = tx

    async def role(self, chat: ChatKey) -> Role | None:
        found = self._tx.state.staff.get(chat)
        return None if found is None else found[0]

    async def set_role(self, chat: ChatKey, role: Role, now: datetime) -> None:
        now = _utc(now)
        staff = self._tx.state.staff
        added_at = staff[chat][1] if chat in staff else now
        staff[chat] = (role, added_at)

    async def remove(self, chat: ChatKey) -> None:
        self._tx.state.staff.pop(chat, None)

    async def list(self) -> list[tuple[ChatKey, Role]]:
        return [(chat, entry[0]) for chat, entry in sorted(self._tx.state.staff.items())]


class MemoryDeadlines:
    """``Deadlines`` on a dict keyed by increasing ids. Units of work run one at a time, so a
    claim needs no lock: nobody else can claim before this one commits or rolls back."""

    def __init__(self, tx: _Transaction) -> None:
        self._tx = tx

    async def schedule(self, case_id: str, kind: str, due_at: datetime, *, now: datetime) -> None:
        due_at, now = _utc(due_at), _utc(now)
        await self.cancel(case_id, kind)
        state = self._tx.state
        state.last_deadline_id += 1
        state.deadlines[state.last_deadline_id] = Deadline(
            id=state.last_deadline_id, case_id=case_id, kind=kind, due_at=due_at, created_at=now
        )

    async def cancel(self, case_id: str, kind: str) -> None:
        state = self._tx.state
        state.deadlines = {
            k: d
            for k, d in state.deadlines.items()
            if not (d.case_id == case_id and d.kind == kind and d.done_at is None)
        }

    async def claim_due(self, now: datetime, limit: int) -> list[Deadline]:
        now = _utc(now)
        due = [
            d for d in self._tx.state.deadlines.values() if d.done_at is None and d.due_at <= now
        ]
        due.sort(key=lambda d: (d.due_at, d.id))
        return due[: max(limit, 0)]

    async def done(self, deadline_id: int, at: datetime) -> None:
        at = _utc(at)
        deadlines = self._tx.state.deadlines
        if deadline_id not in deadlines:
            raise KeyError(deadline_id)
        found = deadlines[deadline_id]
        if found.done_at is None:  # the first time it fired stands, as in SQL
            deadlines[deadline_id] = dataclasses.replace(found, done_at=at)


class MemoryPartyStore:
    """``PartyStore`` on dicts: claims by token hash, links by increasing ids."""

    def __init__(self, tx: _Transaction) -> None:
        self._tx = tx

    async def add_claim(self, claim: ClaimLink) -> None:
        claims = self._tx.state.claims
        stored = _claim(claim)
        if claim.token_hash in claims:
            raise ConflictError("a claim link with this token already exists")
        claims[claim.token_hash] = stored

    async def claim(self, token_hash: str) -> ClaimLink | None:
        found = self._tx.state.claims.get(token_hash)
        return None if found is None else _claim(found)

    async def use_claim(self, token_hash: str, chat_ref: str, now: datetime) -> bool:
        now = _utc(now)
        claims = self._tx.state.claims
        found = claims.get(token_hash)
        if (
            found is None
            or found.used_at is not None
            or found.revoked_at is not None
            or found.expires_at <= now
        ):
            return False
        claims[token_hash] = dataclasses.replace(found, used_at=now, used_by=chat_ref)
        return True

    async def link(self, link: PartyLink) -> None:
        state = self._tx.state
        stored = dataclasses.replace(
            link, account=_json_copy(dict(link.account)), linked_at=_utc(link.linked_at)
        )
        if any(
            found.revoked_at is None
            and found.link.account_key == link.account_key
            and found.link.chat_ref == link.chat_ref
            for found in state.links.values()
        ):
            return
        state.last_link_id += 1
        state.links[state.last_link_id] = _Link(id=state.last_link_id, link=stored)

    async def links(self, account_key: str) -> builtins.list[PartyLink]:
        return self._active(lambda link: link.account_key == account_key)

    async def accounts_of(self, chat_ref: str) -> builtins.list[PartyLink]:
        return self._active(lambda link: link.chat_ref == chat_ref)

    def _active(self, keep: Any) -> builtins.list[PartyLink]:
        found = [
            found
            for found in self._tx.state.links.values()
            if found.revoked_at is None and keep(found.link)
        ]
        found.sort(key=lambda f: (f.link.linked_at, f.id))
        return [dataclasses.replace(f.link, account=_json_copy(f.link.account)) for f in found]

    async def revoke(self, account_key: str, now: datetime, *, chat_ref: str | None = None) -> int:
        now = _utc(now)
        state = self._tx.state
        ended = 0
        if chat_ref is None:
            for token_hash, claim in list(state.claims.items()):
                if (
                    claim.account_key == account_key
                    and claim.used_at is None
                    and claim.revoked_at is None
                    and claim.expires_at > now
                ):
                    state.claims[token_hash] = dataclasses.replace(claim, revoked_at=now)
                    ended += 1
        for found in state.links.values():
            if (
                found.revoked_at is None
                and found.link.account_key == account_key
                and (chat_ref is None or found.link.chat_ref == chat_ref)
            ):
                found.revoked_at = now
                ended += 1
        return ended


def _claim(claim: ClaimLink) -> ClaimLink:
    # As stored and read back: UTC times, a fresh JSON copy of the account.
    return dataclasses.replace(
        claim,
        account=_json_copy(dict(claim.account)),
        created_at=_utc(claim.created_at),
        expires_at=_utc(claim.expires_at),
        used_at=None if claim.used_at is None else _utc(claim.used_at),
        revoked_at=None if claim.revoked_at is None else _utc(claim.revoked_at),
    )


class MemoryStandingStore:
    """``StandingStore`` on a dict keyed by increasing ids."""

    def __init__(self, tx: _Transaction) -> None:
        self._tx = tx

    async def record(self, event: StandingEvent) -> int:
        state = self._tx.state
        stored = dataclasses.replace(
            event,
            kind=event.kind,
            at=_utc(event.at),
            until=None if event.until is None else _utc(event.until),
            cases=tuple(event.cases),
        )
        state.last_standing_id += 1
        state.standing[state.last_standing_id] = dataclasses.replace(
            stored, id=state.last_standing_id
        )
        return state.last_standing_id

    async def history(self, reporter_id: str) -> builtins.list[StandingEvent]:
        found = [e for e in self._tx.state.standing.values() if e.reporter_id == reporter_id]
        found.sort(key=lambda e: (e.at, e.id))
        return found


class MemoryUnitOfWork:
    """``ports.UnitOfWork`` over a ``MemoryDatabase``: rolls back unless ``commit()`` is called."""

    sessions: SessionStore
    updates: UpdateLog
    cases: CaseStore
    outbox: Outbox
    reporters: ReporterStore
    staff: StaffStore
    deadlines: Deadlines
    parties: PartyStore
    standing: StandingStore

    def __init__(self, database: MemoryDatabase) -> None:
        self._database = database
        self._tx = _Transaction()
        self._entered = False
        self.sessions = MemorySessionStore(self._tx)
        self.updates = MemoryUpdateLog(self._tx)
        self.cases = MemoryCaseStore(self._tx)
        self.outbox = MemoryOutbox(self._tx)
        self.reporters = MemoryReporterStore(self._tx)
        self.staff = MemoryStaffStore(self._tx)
        self.deadlines = MemoryDeadlines(self._tx)
        self.parties = MemoryPartyStore(self._tx)
        self.standing = MemoryStandingStore(self._tx)

    async def __aenter__(self) -> Self:
        if self._entered:
            raise RuntimeError("this unit of work is already open; make a new one per use")
        database = self._database
        task = asyncio.current_task()
        if database.lock.locked() and task is not None and database.holder is task:
            # Waiting for ourselves would hang forever (SQLite would fail after its timeout).
            raise RuntimeError("a unit of work is already open on this database in this task")
        await database.lock.acquire()
        self._entered = True
        database.holder = task
        self._tx.state = copy.deepcopy(database.state)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._tx.state = None
        self._database.holder = None
        self._database.lock.release()

    async def commit(self) -> None:
        committed = self._tx.state
        self._database.state = committed
        # Keep working on a private copy: later changes need their own commit().
        self._tx.state = copy.deepcopy(committed)


class MemoryUnitOfWorkFactory:
    """Makes units of work over one shared ``MemoryDatabase`` (``ports.UnitOfWorkFactory``)."""

    def __init__(self, database: MemoryDatabase | None = None) -> None:
        self.database = database or MemoryDatabase()

    def __call__(self) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self.database)
