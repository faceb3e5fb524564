"""Case records: what a filed report is, as plain immutable data."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from disputebot.policy.evidence import EvidenceFile


class Status(StrEnum):
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    AWAITING_INFO = "awaiting_info"
    UPHELD = "upheld"
    REJECTED = "rejected"
    ESCALATED = "escalated"
    WITHDRAWN = "withdrawn"
    CLOSED = "closed"
    # A decision one of the parties has appealed; open again until a second reviewer rules.
    APPEALED = "appealed"
    # A duplicate folded into another case (``CaseRecord.merged_into``); its reporter follows
    # that case from then on.
    MERGED = "merged"


OPEN_STATUSES: frozenset[Status] = frozenset(
    {Status.SUBMITTED, Status.IN_REVIEW, Status.AWAITING_INFO, Status.ESCALATED, Status.APPEALED}
)


class EvidenceSource(StrEnum):
    """Who gave an evidence item: the reporter (with the report, or answering staff), or the
    reported party (with their statement or an appeal)."""

    REPORTER = "reporter"
    PARTY = "party"


class Audience(StrEnum):
    """The two sides of a case: the person who reported and the reported party."""

    REPORTER = "reporter"
    PARTY = "party"


@dataclass(frozen=True, slots=True)
class CaseEvent:
    """One line of a case's audit trail."""

    at: datetime
    actor: str
    kind: str
    from_status: Status | None
    to_status: Status | None
    note: str = ""


@dataclass(frozen=True, slots=True)
class NewCase:
    """A case as the service files it; the store assigns nothing but row ids."""

    public_id: str
    reporter_id: str
    category: str
    account_key: str
    account: Mapping[str, Any]
    description: str
    flow: str
    flow_version: int
    attestation: str
    created_at: datetime
    evidence: tuple[EvidenceFile, ...]
    answers: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CaseRecord:
    """A stored case with its evidence and audit trail."""

    public_id: str
    status: Status
    reporter_id: str
    category: str
    account_key: str
    account: Mapping[str, Any]
    description: str
    flow: str
    flow_version: int
    attestation: str
    created_at: datetime
    updated_at: datetime
    evidence: tuple[EvidenceFile, ...]
    events: tuple[CaseEvent, ...]
    answers: Mapping[str, Any] = field(default_factory=dict)
    assignee: str | None = None
    decision: Mapping[str, Any] = field(default_factory=dict)
    first_response_at: datetime | None = None
    decided_at: datetime | None = None
    # Positions (0-based, into ``evidence``) staff marked shareable with the reported party;
    # nothing else of the evidence ever reaches the party.
    shareable: frozenset[int] = frozenset()
    # Who gave each evidence item, parallel to ``evidence`` (empty: all the reporter's).
    evidence_sources: tuple[EvidenceSource, ...] = ()
    merged_into: str | None = None

    def source_of(self, position: int) -> EvidenceSource:
        if position < len(self.evidence_sources):
            return self.evidence_sources[position]
        return EvidenceSource.REPORTER


def filed_record(case: NewCase, first_event: CaseEvent) -> CaseRecord:
    """``case`` as ``CaseStore.add(case, first_event)`` stores it, so as ``get`` reads it
    back right after: a filing need not read the case it just wrote. Times come back in UTC,
    the account and answers as their JSON reads back."""
    created_at = case.created_at.astimezone(UTC)
    return CaseRecord(
        public_id=case.public_id,
        status=Status.SUBMITTED,
        reporter_id=case.reporter_id,
        category=case.category,
        account_key=case.account_key,
        account=_as_stored(case.account),
        description=case.description,
        flow=case.flow,
        flow_version=case.flow_version,
        attestation=case.attestation,
        created_at=created_at,
        updated_at=created_at,
        evidence=tuple(case.evidence),
        events=(replace(first_event, at=first_event.at.astimezone(UTC)),),
        answers=_as_stored(case.answers),
        evidence_sources=(EvidenceSource.REPORTER,) * len(case.evidence),
    )


def _as_stored(value: Mapping[str, Any]) -> dict[str, Any]:
    # A JSON column gives back lists for tuples and string keys.
    copy: dict[str, Any] = json.loads(json.dumps(dict(value)))
    return copy


@dataclass(frozen=True, slots=True)
class CaseChange:
    """One change to a case, applied atomically with its audit event.

    ``to`` is the new status (``None``: unchanged). ``assignee`` replaces the assignee when
    ``set_assignee`` is true (``None`` clears it). ``decision`` replaces the recorded decision
    (measures, reason, department, note) when not ``None``. ``evidence`` is appended after the
    case's existing files (an answer to a request for information). ``first_response`` sets
    the case's first-response time to the event's time if it has none yet; a change from an
    open status to one that is not open sets the decision time (closing a decided case keeps
    it). ``evidence_source`` says who gave the appended ``evidence``; ``merged_into`` sets the
    case it was merged into, and ``clear_merged`` clears it (a merged case reopened).
    """

    event: CaseEvent
    to: Status | None = None
    set_assignee: bool = False
    assignee: str | None = None
    decision: Mapping[str, Any] | None = None
    evidence: tuple[EvidenceFile, ...] = ()
    first_response: bool = False
    evidence_source: EvidenceSource = EvidenceSource.REPORTER
    merged_into: str | None = None
    clear_merged: bool = False


@dataclass(frozen=True, slots=True)
class CaseSummary:
    """A line of the staff queue or of another list of cases."""

    public_id: str
    status: Status
    category: str
    account_key: str
    reporter_id: str
    assignee: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class QueueFilter:
    """What the staff queue shows; empty ``statuses`` means every open status.

    ``older_than`` keeps cases created before it; ``assignee`` keeps one person's cases;
    ``unassigned`` keeps cases nobody has taken.
    """

    statuses: frozenset[Status] = frozenset()
    category: str | None = None
    older_than: datetime | None = None
    assignee: str | None = None
    unassigned: bool = False


@dataclass(frozen=True, slots=True)
class TrackRecord:
    """A reporter's history: reports filed, upheld, rejected, and rejected as false."""

    filed: int = 0
    upheld: int = 0
    rejected: int = 0
    rejected_false: int = 0


@dataclass(frozen=True, slots=True)
class CaseTimes:
    """The times ``/stats`` needs of one case."""

    public_id: str
    status: Status
    created_at: datetime
    first_response_at: datetime | None
    decided_at: datetime | None
    assignee: str | None


@dataclass(frozen=True, slots=True)
class Statement:
    """A statement of reasons as delivered to one side of a case (DSA Art. 17): ``body`` is the
    JSON-able content (see ``cases.reasons``), ``locale`` the language it was sent in and
    ``recipient`` the chat reference it went to (``None``: nobody could be reached)."""

    case_id: str
    audience: Audience
    kind: str  # "decision" | "appeal"
    body: Mapping[str, Any]
    locale: str
    recipient: str | None
    created_at: datetime
    id: int = 0


@dataclass(frozen=True, slots=True)
class PartyLink:
    """A chat linked to a marketplace account through a claim link: the reported party's way
    to hear about reports against the account and answer them."""

    account_key: str
    account: Mapping[str, Any]
    chat_ref: str
    linked_at: datetime


@dataclass(frozen=True, slots=True)
class ClaimLink:
    """A single-use, expiring invitation to link a chat to an account. Only the token's hash
    is stored; ``used_at``/``revoked_at`` end it."""

    token_hash: str
    account_key: str
    account: Mapping[str, Any]
    created_by: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    used_by: str | None = None
    revoked_at: datetime | None = None


class StandingKind(StrEnum):
    """Steps staff take on a reporter's standing (DSA Art. 23), each confirmed by a person."""

    WARN = "warn"
    SUSPEND = "suspend"
    LIFT = "lift"  # a suspension ended early (after an appeal, or a mistake)
    APPEAL = "appeal"  # the reporter contested a suspension


@dataclass(frozen=True, slots=True)
class StandingEvent:
    """One step on a reporter's standing, kept as an audit row. ``unfounded_at`` is how many of
    their reports had been rejected as manifestly unfounded when it was taken; ``until`` ends a
    suspension; ``cases`` are the case ids relied on."""

    reporter_id: str
    kind: StandingKind
    at: datetime
    actor: str
    unfounded_at: int = 0
    until: datetime | None = None
    note: str = ""
    cases: tuple[str, ...] = ()
    id: int = 0
