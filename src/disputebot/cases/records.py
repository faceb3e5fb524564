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
