"""The tables, as SQLAlchemy 2 typed declarative models.

Only portable types are used so the same models run on SQLite and PostgreSQL. Every constraint
and index gets its name from ``NAMING_CONVENTION``: Alembic's batch mode on SQLite recreates
tables and can only drop or alter what it can name, and stable names keep migrations the same on
both databases. ``migrations/versions/0001_initial.py`` repeats these definitions by hand (a
migration must not change when the models do); a contract test checks the two agree.

Values a user can make arbitrarily long (file names, descriptions, account keys, event ids) are
``Text``: PostgreSQL enforces ``VARCHAR(n)`` and SQLite does not, and a store must not accept a
value on one backend and refuse it on the other.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "NAMING_CONVENTION",
    "Base",
    "CaseEventRow",
    "CaseRow",
    "ChatUnreachableRow",
    "DeadlineRow",
    "EvidenceRow",
    "OutboxRow",
    "PartyClaimRow",
    "PartyLinkRow",
    "ProcessedUpdateRow",
    "ReporterRow",
    "SessionRow",
    "StaffRow",
    "StandingEventRow",
    "StatementRow",
    "UTCDateTime",
    "require_aware",
]

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def require_aware(value: datetime) -> datetime:
    """Return ``value`` in UTC; raise ``ValueError`` for a naive datetime."""
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"naive datetime {value.isoformat()} refused: pass an aware datetime "
            "(for example datetime.now(UTC))"
        )
    return value.astimezone(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime, stored as a naive UTC timestamp.

    SQLite has no time zones and drops them silently, so the offset is normalised away on the
    way in and put back on the way out: callers always get aware UTC datetimes, whatever the
    backend. Naive input is refused rather than guessed at.
    """

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return require_aware(value).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            # Not ``value.replace(tzinfo=UTC)``: that takes five times as long, and a claim of
            # 100 outbox items reads 300 of these.
            return datetime.combine(value, value.time(), UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base carrying the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012  (SQLAlchemy reads this class attribute as is)
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
    }


class ReporterRow(Base):
    """Someone who talks to the bot, with the language they chose."""

    __tablename__ = "reporters"
    __table_args__ = (UniqueConstraint("channel", "chat_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(32))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    locale: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class StaffRow(Base):
    """A chat allowed to act on cases, with its role."""

    __tablename__ = "staff"

    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    added_at: Mapped[datetime]


class SessionRow(Base):
    """The engine's conversation state for one chat, guarded by ``revision``."""

    __tablename__ = "sessions"

    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    data: Mapped[str] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime]


class ProcessedUpdateRow(Base):
    """An inbound event id already applied (exactly-once processing)."""

    __tablename__ = "processed_updates"

    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(Text, primary_key=True)
    processed_at: Mapped[datetime]


class CaseRow(Base):
    """A filed report."""

    __tablename__ = "cases"
    __table_args__ = (
        Index(None, "reporter_id", "created_at"),
        Index(None, "account_key", "status"),
        Index(None, "status", "created_at"),
        # The staff queue by assignee, and /check's count of upheld reports per account.
        Index(None, "assignee", "status"),
        Index(None, "account_key", "outcome"),
        # The duplicates merged into a case.
        Index(None, "merged_into"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[str] = mapped_column(String(20))
    reporter_id: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(64))
    account_key: Mapped[str] = mapped_column(Text)
    account: Mapped[dict[str, Any]]
    description: Mapped[str] = mapped_column(Text)
    answers: Mapped[dict[str, Any]]
    flow: Mapped[str] = mapped_column(String(64))
    flow_version: Mapped[int] = mapped_column(Integer)
    attestation: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    assignee: Mapped[str | None] = mapped_column(String(64))
    # The recorded decision (``{}`` when none); ``outcome`` repeats its "outcome" key as a
    # column so counts by outcome can use an index.
    outcome: Mapped[str | None] = mapped_column(String(20))
    decision: Mapped[dict[str, Any]]
    first_response_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    # The public id of the case this one was merged into.
    merged_into: Mapped[str | None] = mapped_column(String(32))

    evidence: Mapped[list[EvidenceRow]] = relationship(
        order_by=lambda: EvidenceRow.position,
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="raise",
    )
    events: Mapped[list[CaseEventRow]] = relationship(
        order_by=lambda: [CaseEventRow.at, CaseEventRow.id],
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="raise",
    )


class EvidenceRow(Base):
    """One evidence file of a case; ``position`` keeps the order the reporter gave."""

    __tablename__ = "evidence"
    __table_args__ = (UniqueConstraint("case_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    mime: Mapped[str | None] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    stored_path: Mapped[str | None] = mapped_column(Text)
    file_id: Mapped[str | None] = mapped_column(Text)
    declared_mime: Mapped[str | None] = mapped_column(Text)
    # Who gave the item ("reporter" or "party"), and whether staff let the party see it.
    source: Mapped[str] = mapped_column(String(16), server_default=text("'reporter'"))
    shareable: Mapped[bool] = mapped_column(Boolean, server_default=false())


class CaseEventRow(Base):
    """One line of a case's audit trail."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(64))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text)


class OutboxRow(Base):
    """A message waiting to be delivered (transactional outbox).

    ``claimed_by`` and ``lease_until`` say which worker holds it and until when (see
    ``ports.Outbox.claim``); the (channel, chat_id, status, id) index finds a chat's oldest
    pending item, which is the only one of the chat a worker may claim.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index(None, "status", "due_at"),
        Index(None, "channel", "chat_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(32))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    payload: Mapped[str] = mapped_column(Text)
    locale: Mapped[str] = mapped_column(String(16))
    # The case's public id, not a foreign key: a notification outlives nothing it refers to.
    case_id: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    due_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None]


class DeadlineRow(Base):
    """A timer on a case (``ports.Deadlines``); pending while ``done_at`` is NULL.

    At most one pending row per (case_id, kind), kept so by the store rather than a constraint
    (only a partial index could say "unique among pending rows", and each backend spells those
    differently). (done_at, due_at) finds the due pending rows; (case_id, kind) finds a case's
    rows to replace, cancel or purge.
    """

    __tablename__ = "deadlines"
    __table_args__ = (
        Index(None, "done_at", "due_at"),
        Index(None, "case_id", "kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # The case's public id, as in the outbox: no foreign key, purging deletes the rows.
    case_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(64))
    due_at: Mapped[datetime]
    created_at: Mapped[datetime]
    done_at: Mapped[datetime | None]


class ChatUnreachableRow(Base):
    """A chat the channel refused to deliver to for good (Telegram's 403), as last seen."""

    __tablename__ = "chats_unreachable"

    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    since: Mapped[datetime] = mapped_column(index=True)
    error: Mapped[str] = mapped_column(Text)


class StatementRow(Base):
    """A statement of reasons sent to one side of a case (``records.Statement``)."""

    __tablename__ = "statements"
    __table_args__ = (Index(None, "case_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # The case's public id, as in the outbox: no foreign key, purging deletes the rows.
    case_id: Mapped[str] = mapped_column(String(32))
    audience: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    body: Mapped[dict[str, Any]]
    locale: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class PartyClaimRow(Base):
    """A claim link staff handed out for an account; only the token's hash is kept."""

    __tablename__ = "party_claims"
    __table_args__ = (Index(None, "account_key"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_key: Mapped[str] = mapped_column(Text)
    account: Mapped[dict[str, Any]]
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by: Mapped[str | None] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None]


class PartyLinkRow(Base):
    """A chat linked to an account; active while ``revoked_at`` is NULL."""

    __tablename__ = "party_links"
    __table_args__ = (
        Index(None, "account_key", "revoked_at"),
        Index(None, "chat_ref", "revoked_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_key: Mapped[str] = mapped_column(Text)
    account: Mapped[dict[str, Any]]
    chat_ref: Mapped[str] = mapped_column(String(64))
    linked_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class StandingEventRow(Base):
    """A step staff took on a reporter's standing (``records.StandingEvent``)."""

    __tablename__ = "standing_events"
    __table_args__ = (Index(None, "reporter_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reporter_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    unfounded_at: Mapped[int] = mapped_column(Integer)
    until: Mapped[datetime | None]
    note: Mapped[str] = mapped_column(Text)
    cases: Mapped[list[str]] = mapped_column(JSON)
