"""Case records: what a filed report is, as plain immutable data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
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


OPEN_STATUSES: frozenset[Status] = frozenset(
    {Status.SUBMITTED, Status.IN_REVIEW, Status.AWAITING_INFO, Status.ESCALATED}
)


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


@dataclass(frozen=True, slots=True)
class CaseChange:
    """One change to a case, applied atomically with its audit event.

    ``to`` is the new status (``None``: unchanged). ``assignee`` replaces the assignee when
    ``set_assignee`` is true (``None`` clears it). ``decision`` replaces the recorded decision
    (measures, reason, department, note) when not ``None``. ``evidence`` is appended after the
    case's existing files (an answer to a request for information). ``first_response`` sets
    the case's first-response time to the event's time if it has none yet; a change from an
    open status to one that is not open sets the decision time (closing a decided case keeps
    it).
    """

    event: CaseEvent
    to: Status | None = None
    set_assignee: bool = False
    assignee: str | None = None
    decision: Mapping[str, Any] | None = None
    evidence: tuple[EvidenceFile, ...] = ()
    first_response: bool = False


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
