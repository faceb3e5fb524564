"""Abuse precautions: daily limits, one open report per account, cooldown after false reports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal


@dataclass(frozen=True, slots=True)
class ReporterFacts:
    """What the store knows about a reporter that the abuse checks need.

    ``open_cases`` maps an account key to the public id of the reporter's open case against
    it. ``own_account_keys`` are accounts the reporter has claimed as their own.
    ``oldest_report_last_24h`` tells when the daily limit frees up again.
    ``suspended_until`` is set while staff have suspended the reporter from filing.
    """

    reports_last_24h: int = 0
    oldest_report_last_24h: datetime | None = None
    open_cases: Mapping[str, str] = field(default_factory=dict)
    last_false_rejection_at: datetime | None = None
    own_account_keys: frozenset[str] = frozenset()
    suspended_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class AbuseRules:
    """The operator's limits on reporting.

    Raises:
        ValueError: On construction, for a limit below 1 or a negative cooldown.
    """

    max_reports_per_day: int = 5
    false_report_cooldown: timedelta = timedelta(days=14)

    def __post_init__(self) -> None:
        if self.max_reports_per_day < 1:
            raise ValueError(
                f"abuse rules: max_reports_per_day must be >= 1, not {self.max_reports_per_day}"
            )
        if self.false_report_cooldown < timedelta(0):
            raise ValueError("abuse rules: false_report_cooldown must not be negative")


@dataclass(frozen=True, slots=True)
class AbuseRefusal:
    """Why a reporter may not report now.

    Attributes:
        code: Which precaution refused.
        case_id: The reporter's open case against the same account, for ``"open_case"``.
        until: When reporting is possible again, for ``"daily_limit"``, ``"cooldown"`` and
            ``"suspended"``
            (``None`` when the store does not know).
    """

    code: Literal["daily_limit", "open_case", "cooldown", "self_report", "suspended"]
    case_id: str | None = None
    until: datetime | None = None


_DAY = timedelta(hours=24)


def _require_aware(value: datetime | None, name: str) -> None:
    # Comparing naive and aware datetimes raises deep inside; fail early with the name.
    if value is not None and value.utcoffset() is None:
        raise ValueError(f"abuse check: {name} must be timezone-aware (UTC), got {value!r}")


def check_can_start(facts: ReporterFacts, rules: AbuseRules, now: datetime) -> AbuseRefusal | None:
    """Whether a reporter may start a new report at ``now``.

    The cooldown after a report rejected as false is checked before the daily limit, because
    it lasts longer and is the reason the reporter needs to hear.

    Args:
        facts: What the store knows about the reporter.
        rules: The operator's limits.
        now: The current time, timezone-aware.

    Returns:
        ``None`` when the reporter may start, else the refusal with ``until`` set.

    Raises:
        ValueError: ``now`` or a time in ``facts`` is naive.
    """
    _require_aware(now, "now")
    _require_aware(facts.last_false_rejection_at, "last_false_rejection_at")
    _require_aware(facts.oldest_report_last_24h, "oldest_report_last_24h")
    _require_aware(facts.suspended_until, "suspended_until")
    if facts.suspended_until is not None and now < facts.suspended_until:
        # A suspension staff decided outlasts and outranks the automatic limits.
        return AbuseRefusal("suspended", until=facts.suspended_until)
    if facts.last_false_rejection_at is not None:
        until = facts.last_false_rejection_at + rules.false_report_cooldown
        if now < until:
            return AbuseRefusal("cooldown", until=until)
    if facts.reports_last_24h >= rules.max_reports_per_day:
        oldest = facts.oldest_report_last_24h
        return AbuseRefusal("daily_limit", until=None if oldest is None else oldest + _DAY)
    return None


def check_account(facts: ReporterFacts, account_key: str) -> AbuseRefusal | None:
    """Whether a reporter may report the account ``account_key``.

    Returns:
        ``"self_report"`` when the reporter has claimed the account as their own,
        ``"open_case"`` (with the case id) when they already have an open report against it,
        else ``None``.
    """
    if account_key in facts.own_account_keys:
        return AbuseRefusal("self_report")
    case_id = facts.open_cases.get(account_key)
    if case_id is not None:
        return AbuseRefusal("open_case", case_id=case_id)
    return None
