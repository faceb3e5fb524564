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
    NewCase,
    QueueFilter,
    Status,
    TrackRecord,
)
from disputebot.policy.abuse import ReporterFacts

if TYPE_CHECKING:
    from disputebot.engine.effects import Say

__all__ = [
    "CaseStore",
    "ChatKey",
    "Clock",
    "ConflictError",
    "Outbox",
    "OutboxItem",
    "OutboxStatus",
    "ReporterStore",
    "Role",
    "SessionStore",
    "StaffStore",
    "StoredSession",
    "UnitOfWork",
    "UnitOfWorkFactory",
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

    async def record(self, channel: str, event_id: str, at: datetime) -> None: ...

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

    async def purge_finished(self, before: datetime) -> tuple[builtins.list[str], set[str]]:
        """Delete cases finished (not open) and last changed before ``before``, with their
        evidence rows, audit trail and outbox messages.

        Returns the purged public ids and the stored evidence paths that no remaining case
        refers to (the caller deletes those files once the transaction has committed).
        """
        ...


class Outbox(Protocol):
    async def put(
        self,
        chat: ChatKey,
        say: Say,
        locale: str,
        *,
        now: datetime,
        case_id: str | None = None,
    ) -> int: ...

    async def due(
        self, now: datetime, limit: int = 100, *, channel: str | None = None
    ) -> list[OutboxItem]:
        """Pending items whose ``due_at`` has come, oldest first; only ``channel``'s if given."""
        ...

    async def backlog(
        self, now: datetime, *, channel: str | None = None
    ) -> tuple[int, float | None]:
        """Pending items (due or not), and the age in seconds at ``now`` of the oldest one
        (by ``created_at``; ``None`` when nothing is pending, never below 0)."""
        ...

    async def mark_sent(self, item_id: int, at: datetime) -> None: ...

    async def mark_failed(self, item_id: int, error: str, *, retry_at: datetime | None) -> None:
        """Count an attempt; ``retry_at=None`` dead-letters the item."""
        ...

    async def list(
        self, status: OutboxStatus | None = None, limit: int = 100
    ) -> list[OutboxItem]: ...


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


class UnitOfWork(Protocol):
    """One transaction. Leaving the ``async with`` block without ``commit()`` rolls back."""

    sessions: SessionStore
    updates: UpdateLog
    cases: CaseStore
    outbox: Outbox
    reporters: ReporterStore
    staff: StaffStore

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
