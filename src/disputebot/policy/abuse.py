"""Abuse precautions: daily limits, one open report per account, cooldown after false reports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ReporterFacts:
    """What the store knows about a reporter that the abuse checks need.

    ``open_cases`` maps an account key to the public id of the reporter's open case against
    it. ``own_account_keys`` are accounts the reporter has claimed as their own.
    ``oldest_report_last_24h`` tells when the daily limit frees up again.
    """

    reports_last_24h: int = 0
    oldest_report_last_24h: datetime | None = None
    open_cases: Mapping[str, str] = field(default_factory=dict)
    last_false_rejection_at: datetime | None = None
    own_account_keys: frozenset[str] = frozenset()
