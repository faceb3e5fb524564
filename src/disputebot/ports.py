"""The ports the service needs. Stores and channels implement them; nothing here does I/O.

Every store method runs inside a unit of work and never commits on its own: the service commits
once per inbound event, so a conversation step, a filed case, its audit event and its outgoing
notifications land together or not at all.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self

from disputebot.cases.records import (
    CaseChange,
    CaseEvent,
    CaseRecord,
    CaseSummary,
    CaseTimes,
    ClaimLink,
    NewCase,
    PartyLink,
    QueueFilter,
    StandingEvent,
    Statement,
    Status,
    TrackRecord,
)
from disputebot.policy.abuse import ReporterFacts

if TYPE_CHECKING:
    from disputebot.engine.effects import Say

__all__ = [
    "WEBHOOK_CHAT",
    "CaseStore",
    "ChatKey",
    "Clock",
    "ConflictError",
    "Deadline",
    "Deadlines",
    "Outbox",
    "OutboxItem",
    "OutboxStatus",
    "PartyStore",
    "ReporterStore",
    "Role",
    "SenderLock",
    "SessionStore",
    "StaffStore",
    "StandingStore",
    "StoredSession",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "UnreachableChat",
    "UpdateLog",
]


@dataclass(frozen=True, slots=True, order=True)
class ChatKey:
    """A chat on one channel. In private chats the chat id is the user's id."""

    channel: str
    chat_id: int

    @property
    def user_ref(self) -> str:
        """Stable reporter id, e.g. ``telegram:12345``."""
        return f"{self.channel}:{self.chat_id}"


WEBHOOK_CHAT = ChatKey("webhook", 0)
"""The one "chat" of the platform webhook channel (``Outbox.put_event``): every event is
queued to it, so the claims' one-at-a-time rule per chat delivers the events in order."""


@dataclass(frozen=True, slots=True)
class StoredSession:
    """A conversation session as stored: the engine's JSON and a revision for optimistic locks."""

    data: str
    revision: int


class ConflictError(Exception):
    """A row changed under us (optimistic lock); the service retries the whole event."""


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One message waiting to be delivered to a chat.

    ``payload`` is the JSON of a ``Say`` (see ``engine.effects.say_to_json``); ``locale`` is the
    language to render it in, fixed when the message was written.
    """

    id: int
    chat: ChatKey
    payload: str
    locale: str
    created_at: datetime
    due_at: datetime
    attempts: int
    status: OutboxStatus
    case_id: str | None = None
    last_error: str | None = None
    # Who holds the item (``Outbox.claim``) and until when; a lease in the past has run out.
    claimed_by: str | None = None
    lease_until: datetime | None = None
    sent_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class UnreachableChat:
    """A chat the channel refused to deliver to for good (Telegram's 403), as last seen."""

    chat: ChatKey
    since: datetime
    error: str


class Role(StrEnum):
    REVIEWER = "reviewer"
    ADMIN = "admin"


class SessionStore(Protocol):
    """Conversation state, one row per chat, guarded by a revision number."""

    async def get(self, chat: ChatKey) -> StoredSession | None: ...

    async def put(self, chat: ChatKey, data: str, expected_revision: int | None) -> int:
        """Write ``data``; ``expected_revision`` is ``None`` for a new row.

        Returns the new revision. Raises ``ConflictError`` when the stored revision differs
        (or a row exists when ``None`` was expected).
        """
        ...

    async def delete(self, chat: ChatKey, expected_revision: int | None = None) -> None:
        """Remove the row; with ``expected_revision``, only that revision of it.

        Raises ``ConflictError`` when ``expected_revision`` is given and the row is gone or at
        another revision: two events racing to end one draft must not both succeed.
        """
        ...


class UpdateLog(Protocol):
    """Inbound event ids already applied; recorded in the same transaction as their effect."""

    async def seen(self, channel: str, event_id: str) -> bool: ...

    async def record(self, channel: str, event_id: str, at: datetime) -> None:
        """Record an id; ``ConflictError`` if it is recorded already."""
        ...

    async def claim(self, channel: str, event_id: str, at: datetime) -> bool:
        """Record an id unless it is recorded already; whether this call recorded it.

        ``False`` means a committed unit of work (or this one) applied the event: the caller
        applies nothing. Claimed first, the id commits or rolls back with the effect; a
        concurrent unit of work claiming the same id waits for that outcome (PostgreSQL's
        row lock; SQLite's one writer), so exactly one of them gets ``True`` and commits.
        """
        ...

    async def prune(self, before: datetime) -> int:
        """Forget ids recorded before ``before``; returns how many.

        Only safe for ids that can no longer come back: Telegram keeps an unconfirmed update
        for 24 hours, so a week-old update id is never delivered again.
        """
        ...


class CaseStore(Protocol):
    async def add(self, case: NewCase, first_event: CaseEvent) -> None:
        """Insert a case, its evidence rows and its first audit event (status ``submitted``)."""
        ...

    async def get(self, public_id: str) -> CaseRecord | None: ...

    async def list(self, *, reporter_id: str | None = None, limit: int = 100) -> list[CaseRecord]:
        """Newest first."""
        ...

    async def reporter_facts(self, reporter_id: str, now: datetime) -> ReporterFacts:
        """Counts for the abuse checks: reports filed in the 24 h before ``now``, open cases
        by account key, the time of the newest case rejected as a false report."""
        ...

    async def transition(self, public_id: str, to: Status, event: CaseEvent) -> None:
        """Set the status and append the event. Raises ``KeyError`` for an unknown case.

        When ``event.from_status`` is set, the case must still be in that status, else
        ``ConflictError``: a decision taken on a stale view of the case does not apply.
        """
        ...

    async def apply(self, public_id: str, change: CaseChange) -> None:
        """Apply one change with its audit event (see ``CaseChange``). Raises ``KeyError`` for
        an unknown case; ``ConflictError`` when ``change.event.from_status`` is set and the
        case is no longer in it."""
        ...

    async def queue(
        self, where: QueueFilter, *, offset: int = 0, limit: int = 10
    ) -> tuple[builtins.list[CaseSummary], int]:
        """A page of the staff queue, oldest first, and how many cases match in all."""
        ...

    async def track_record(self, reporter_id: str) -> TrackRecord:
        """Counts over every case the reporter filed (rejected as false: the event kind
        ``rejected:false_report`` on a case that is now rejected)."""
        ...

    async def against_account(
        self, account_key: str, *, exclude: str | None = None, limit: int = 10
    ) -> builtins.list[CaseSummary]:
        """Other cases against one account, newest first."""
        ...

    async def count_upheld(self, account_key: str) -> int:
        """Cases against the account whose recorded decision outcome is ``upheld`` (so they
        still count once closed)."""
        ...

    async def times_since(self, since: datetime) -> builtins.list[CaseTimes]:
        """For ``/stats``: every case created at or after ``since``, and every open case."""
        ...

    async def set_shareable(self, public_id: str, position: int, shareable: bool) -> None:
        """Mark the evidence item at ``position`` (0-based) shareable with the reported party,
        or not. ``KeyError`` for an unknown case, ``IndexError`` for a position it lacks."""
        ...

    async def add_statement(self, statement: Statement) -> int:
        """Keep a statement of reasons on its case; returns its id. ``KeyError`` for an
        unknown case."""
        ...

    async def statements(self, public_id: str) -> builtins.list[Statement]:
        """The case's statements of reasons, oldest first."""
        ...

    async def merged_from(self, public_id: str) -> builtins.list[CaseSummary]:
        """The cases merged into this one (``CaseRecord.merged_into``), oldest first."""
        ...

    async def recent_against(
        self, account_key: str, since: datetime, *, limit: int = 50
    ) -> builtins.list[CaseSummary]:
        """Cases against one account created at or after ``since``, oldest first (the
        coordinated-report check)."""
        ...

    async def first_filed(self, reporter_id: str) -> datetime | None:
        """When the reporter filed their first case; ``None`` if they never did."""
        ...

    async def purge_finished(self, before: datetime) -> tuple[builtins.list[str], set[str]]:
        """Delete cases finished (not open) and last changed before ``before``, with their
        evidence rows, audit trail, statements, outbox messages and deadlines.

        Returns the purged public ids and the stored evidence paths that no remaining case
        refers to (the caller deletes those files once the transaction has committed).
        """
        ...


class Outbox(Protocol):
    """Messages committed with the change that caused them, delivered later by a worker.

    Delivery goes through claims: ``claim`` hands a worker the oldest pending item of each chat
    that has none held, leased to that worker until ``now + lease_seconds``; the worker then
    records the result with ``mark_sent`` / ``mark_failed`` / ``release`` /
    ``mark_unreachable`` passing its ``worker_id``, and the store applies it only if the item is
    still that worker's (no one else claimed it after the lease ran out). Without
    ``worker_id`` these apply unconditionally (single-process tools).
    """

    async def put(
        self,
        chat: ChatKey,
        say: Say,
        locale: str,
        *,
        now: datetime,
        case_id: str | None = None,
    ) -> int: ...

    async def put_event(self, payload: str, *, now: datetime, case_id: str | None = None) -> int:
        """Queue an event for the platform's webhook (``delivery.webhooks``): ``payload`` is
        the JSON body, POSTed byte for byte, to ``WEBHOOK_CHAT`` (locale ``""``). Events go
        out one at a time in id order. ``ValueError`` if ``payload`` is not JSON; give the
        event an ``"event_id"`` to be its idempotency key (else the outbox id is)."""
        ...

    async def claim(
        self,
        now: datetime,
        limit: int,
        *,
        worker_id: str,
        lease_seconds: float,
        channel: str | None = None,
    ) -> list[OutboxItem]:
        """Hold up to ``limit`` due items for ``worker_id`` until ``now + lease_seconds``.

        An item is claimable when it is pending, due, not held under a lease still running,
        and the oldest pending item of its chat: a chat has at most one item held at a time,
        and its items go in id order. Oldest due first; only ``channel``'s if given. On
        PostgreSQL concurrent claims skip each other's rows (``FOR UPDATE SKIP LOCKED``).
        """
        ...

    async def next_due(self, *, channel: str | None = None) -> datetime | None:
        """When the next item becomes claimable (it may be now or past): the earliest, over
        the oldest pending item of each chat, of its due time or the end of its lease.
        ``None`` when nothing is pending."""
        ...

    async def due(
        self, now: datetime, limit: int = 100, *, channel: str | None = None
    ) -> list[OutboxItem]:
        """Pending items whose ``due_at`` has come, oldest first; only ``channel``'s if given.

        Claims are not looked at: this is for single-process tools and inspection."""
        ...

    async def backlog(
        self, now: datetime, *, channel: str | None = None
    ) -> tuple[int, float | None]:
        """Pending items (due or not), and the age in seconds at ``now`` of the oldest one
        (by ``created_at``; ``None`` when nothing is pending, never below 0)."""
        ...

    async def pending_to(self, chat: ChatKey) -> int:
        """How many items wait for ``chat`` (pending, due or not, held or not)."""
        ...

    async def mark_sent(self, item_id: int, at: datetime, *, worker_id: str | None = None) -> bool:
        """Record the item as delivered. With ``worker_id``, only while the item is pending
        and held by that worker; returns whether it applied. ``KeyError`` for an unknown id."""
        ...

    async def mark_failed(
        self,
        item_id: int,
        error: str,
        *,
        retry_at: datetime | None,
        worker_id: str | None = None,
    ) -> bool:
        """Count an attempt and let the claim go; ``retry_at=None`` dead-letters the item.
        ``worker_id`` as in ``mark_sent``."""
        ...

    async def release(
        self,
        item_id: int,
        *,
        worker_id: str,
        due_at: datetime | None = None,
        error: str | None = None,
    ) -> bool:
        """Give a claim back without counting an attempt (a 429, a shutdown, a wait longer
        than the lease); the item is due again at ``due_at`` (unchanged if ``None``), with
        ``error`` as its last error if given. Only while ``worker_id`` holds it."""
        ...

    async def mark_unreachable(
        self, chat: ChatKey, at: datetime, error: str, *, worker_id: str | None = None
    ) -> int:
        """Record that ``chat`` refuses delivery (as of ``at``, with the channel's error) and
        dead-letter every pending item to it, with ``error``; returns how many. Items held by
        another worker than ``worker_id`` (when given) are left to that worker."""
        ...

    async def mark_reachable(self, chat: ChatKey) -> bool:
        """Forget that ``chat`` was unreachable (the person wrote to the bot again); returns
        whether it was recorded. Its dead letters stay dead."""
        ...

    async def unreachable(
        self, *, channel: str | None = None, limit: int = 100
    ) -> builtins.list[UnreachableChat]:
        """Chats recorded as unreachable, most recent first."""
        ...

    async def revive(self, item_id: int, *, now: datetime) -> bool:
        """Put a dead letter back in the queue, due at ``now`` with its attempts reset (staff
        retrying after the cause is fixed); returns whether the item was dead."""
        ...

    async def list(
        self,
        status: OutboxStatus | None = None,
        limit: int = 100,
        *,
        channel: str | None = None,
        newest_first: bool = False,
    ) -> builtins.list[OutboxItem]:
        """Items by id (oldest first unless ``newest_first``); ``status`` and ``channel``
        narrow them. ``list(OutboxStatus.DEAD, newest_first=True)`` is the dead-letter view."""
        ...


class SenderLock(Protocol):
    """Which of several worker processes sends (one at a time), so the bot-wide rate limit
    holds across processes. PostgreSQL: an advisory lock (``store.sender_lock``)."""

    async def acquire(self) -> bool:
        """Take the lock if it is free; True when this process holds it (now or already)."""
        ...

    async def held(self) -> bool:
        """Whether it is still held (a lost database connection loses it)."""
        ...

    async def release(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Deadline:
    """A timer on a case, kept as a row: ``kind`` says what happens when it comes due
    (``"still_under_review"``: remind the reporter). ``done_at`` is set once it has fired."""

    id: int
    case_id: str
    kind: str
    due_at: datetime
    created_at: datetime
    done_at: datetime | None = None


class Deadlines(Protocol):
    """Timers on cases that survive a restart: they are rows written in the unit of work of
    the change that set them, and fired in the unit of work that records their effect.

    A case has at most one pending deadline of each kind. Firing is claim → act → ``done`` →
    commit in one unit of work, so a crash before the commit fires the deadline again later and
    one after it never does.
    """

    async def schedule(self, case_id: str, kind: str, due_at: datetime, *, now: datetime) -> None:
        """Set the case's deadline of ``kind`` to ``due_at`` (created at ``now``), replacing
        any pending one of that case and kind."""
        ...

    async def cancel(self, case_id: str, kind: str) -> None:
        """Drop the case's pending deadline of ``kind``, if any (fired ones stay as history)."""
        ...

    async def claim_due(self, now: datetime, limit: int) -> list[Deadline]:
        """Up to ``limit`` pending deadlines due at ``now``, oldest due first (ties by id).

        Nothing is changed: the caller marks each one ``done`` in the same unit of work. On
        PostgreSQL the rows stay locked until then (``FOR UPDATE SKIP LOCKED``), so concurrent
        claimers in other processes never get the same row.
        """
        ...

    async def done(self, deadline_id: int, at: datetime) -> None:
        """Mark a deadline fired at ``at``. ``KeyError`` for an unknown id."""
        ...


class ReporterStore(Protocol):
    """People who talk to the bot: their preferred language."""

    async def locale(self, chat: ChatKey) -> str | None: ...

    async def set_locale(self, chat: ChatKey, locale: str, now: datetime) -> None:
        """Create the reporter row if needed."""
        ...

    async def forget(self, chat: ChatKey) -> None:
        """Drop what is kept about this person outside filed cases (the language choice)."""
        ...


class StaffStore(Protocol):
    async def role(self, chat: ChatKey) -> Role | None: ...

    async def set_role(self, chat: ChatKey, role: Role, now: datetime) -> None: ...

    async def remove(self, chat: ChatKey) -> None: ...

    async def list(self) -> list[tuple[ChatKey, Role]]: ...


class PartyStore(Protocol):
    """Reported parties: claim links staff hand out, and the chats linked to accounts by them."""

    async def add_claim(self, claim: ClaimLink) -> None: ...

    async def claim(self, token_hash: str) -> ClaimLink | None: ...

    async def use_claim(self, token_hash: str, chat_ref: str, now: datetime) -> bool:
        """Spend the claim for ``chat_ref``; True only if it was unused, not revoked and not
        expired at ``now`` (two chats racing for one link: one wins)."""
        ...

    async def link(self, link: PartyLink) -> None:
        """Link a chat to an account (again linking an already linked pair changes nothing)."""
        ...

    async def links(self, account_key: str) -> builtins.list[PartyLink]:
        """The chats linked to the account now, oldest link first."""
        ...

    async def accounts_of(self, chat_ref: str) -> builtins.list[PartyLink]:
        """The accounts a chat is linked to now."""
        ...

    async def revoke(self, account_key: str, now: datetime, *, chat_ref: str | None = None) -> int:
        """End the account's unused claim links and its links (only ``chat_ref``'s link and
        no claims, if given); returns how many were ended."""
        ...


class StandingStore(Protocol):
    """The steps staff took on reporters' standing (warnings, suspensions), as an audit log."""

    async def record(self, event: StandingEvent) -> int: ...

    async def history(self, reporter_id: str) -> builtins.list[StandingEvent]:
        """Oldest first."""
        ...


class UnitOfWork(Protocol):
    """One transaction. Leaving the ``async with`` block without ``commit()`` rolls back."""

    sessions: SessionStore
    updates: UpdateLog
    cases: CaseStore
    outbox: Outbox
    reporters: ReporterStore
    staff: StaffStore
    deadlines: Deadlines
    parties: PartyStore
    standing: StandingStore

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...


class Clock(Protocol):
    def now(self) -> datetime:
        """Aware UTC time."""
        ...
