"""check_can_start / check_account: cooldown before daily limit, self-reports before open cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from disputebot.policy.abuse import (
    AbuseRefusal,
    AbuseRules,
    ReporterFacts,
    check_account,
    check_can_start,
)

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
D = timedelta(days=1)
RULES = AbuseRules()
STORE = "aliexpress:store:1102345678"
OTHER = "aliexpress:store:912663639"
SELLER = "aliexpress:seller:shenzhen xinda electronics store"


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (ReporterFacts(), None),
        (ReporterFacts(reports_last_24h=4, oldest_report_last_24h=NOW - 20 * H), None),
        (
            ReporterFacts(reports_last_24h=5, oldest_report_last_24h=NOW - 20 * H),
            AbuseRefusal("daily_limit", until=NOW + 4 * H),
        ),
        (
            ReporterFacts(reports_last_24h=9, oldest_report_last_24h=NOW - 1 * H),
            AbuseRefusal("daily_limit", until=NOW + 23 * H),
        ),
        (ReporterFacts(reports_last_24h=5), AbuseRefusal("daily_limit", until=None)),
        # Cooldown after a report rejected as false: 14 days by default.
        (
            ReporterFacts(last_false_rejection_at=NOW - 3 * D),
            AbuseRefusal("cooldown", until=NOW + 11 * D),
        ),
        (
            ReporterFacts(last_false_rejection_at=NOW - 14 * D + timedelta(seconds=1)),
            AbuseRefusal("cooldown", until=NOW + timedelta(seconds=1)),
        ),
        (ReporterFacts(last_false_rejection_at=NOW - 14 * D), None),
        (ReporterFacts(last_false_rejection_at=NOW - 90 * D), None),
        # Both apply: the cooldown is the reason to give.
        (
            ReporterFacts(
                reports_last_24h=6,
                oldest_report_last_24h=NOW - 2 * H,
                last_false_rejection_at=NOW - 1 * D,
            ),
            AbuseRefusal("cooldown", until=NOW + 13 * D),
        ),
        (
            ReporterFacts(
                reports_last_24h=6,
                oldest_report_last_24h=NOW - 2 * H,
                last_false_rejection_at=NOW - 30 * D,
            ),
            AbuseRefusal("daily_limit", until=NOW + 22 * H),
        ),
        # Open cases and own accounts are not this check's business.
        (ReporterFacts(open_cases={STORE: "R-7K3QX"}, own_account_keys=frozenset({OTHER})), None),
    ],
)
def test_check_can_start(facts: ReporterFacts, expected: AbuseRefusal | None) -> None:
    assert check_can_start(facts, RULES, NOW) == expected


@pytest.mark.parametrize(
    ("rules", "facts", "expected"),
    [
        (AbuseRules(max_reports_per_day=1), ReporterFacts(reports_last_24h=0), None),
        (
            AbuseRules(max_reports_per_day=1),
            ReporterFacts(reports_last_24h=1, oldest_report_last_24h=NOW - 5 * H),
            AbuseRefusal("daily_limit", until=NOW + 19 * H),
        ),
        (AbuseRules(max_reports_per_day=20), ReporterFacts(reports_last_24h=19), None),
        (
            AbuseRules(false_report_cooldown=timedelta(days=30)),
            ReporterFacts(last_false_rejection_at=NOW - 20 * D),
            AbuseRefusal("cooldown", until=NOW + 10 * D),
        ),
        (
            AbuseRules(false_report_cooldown=timedelta(0)),
            ReporterFacts(last_false_rejection_at=NOW),
            None,
        ),
    ],
)
def test_operator_limits(
    rules: AbuseRules, facts: ReporterFacts, expected: AbuseRefusal | None
) -> None:
    assert check_can_start(facts, rules, NOW) == expected


def test_until_keeps_working_across_time_zones() -> None:
    shanghai = timezone(timedelta(hours=8))
    facts = ReporterFacts(last_false_rejection_at=datetime(2026, 3, 1, 20, 0, tzinfo=shanghai))

    refusal = check_can_start(facts, RULES, NOW)

    assert refusal == AbuseRefusal("cooldown", until=datetime(2026, 3, 15, 12, 0, tzinfo=UTC))


@pytest.mark.parametrize(
    ("now", "facts", "named"),
    [
        (datetime(2026, 3, 4, 12, 0), ReporterFacts(), "now"),  # noqa: DTZ001
        (
            NOW,
            ReporterFacts(last_false_rejection_at=datetime(2026, 3, 1)),  # noqa: DTZ001
            "last_false_rejection_at",
        ),
        (
            NOW,
            ReporterFacts(reports_last_24h=5, oldest_report_last_24h=datetime(2026, 3, 4)),  # noqa: DTZ001
            "oldest_report_last_24h",
        ),
    ],
)
def test_naive_times_are_refused(now: datetime, facts: ReporterFacts, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        check_can_start(facts, RULES, now)


@pytest.mark.parametrize(
    ("facts", "key", "expected"),
    [
        (ReporterFacts(), STORE, None),
        (
            ReporterFacts(open_cases={STORE: "R-7K3QX"}),
            STORE,
            AbuseRefusal("open_case", "R-7K3QX"),
        ),
        (ReporterFacts(open_cases={STORE: "R-7K3QX"}), OTHER, None),
        (
            ReporterFacts(open_cases={STORE: "R-7K3QX", SELLER: "R-2M9PD"}),
            SELLER,
            AbuseRefusal("open_case", case_id="R-2M9PD"),
        ),
        (ReporterFacts(own_account_keys=frozenset({STORE})), STORE, AbuseRefusal("self_report")),
        (ReporterFacts(own_account_keys=frozenset({STORE})), OTHER, None),
        # Their own store with an open case against it: self-report is the real reason.
        (
            ReporterFacts(open_cases={STORE: "R-7K3QX"}, own_account_keys=frozenset({STORE})),
            STORE,
            AbuseRefusal("self_report"),
        ),
        # Daily limits and cooldowns are not this check's business.
        (
            ReporterFacts(reports_last_24h=50, last_false_rejection_at=NOW),
            STORE,
            None,
        ),
    ],
)
def test_check_account(facts: ReporterFacts, key: str, expected: AbuseRefusal | None) -> None:
    assert check_account(facts, key) == expected


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"max_reports_per_day": 0}, "max_reports_per_day"),
        ({"false_report_cooldown": timedelta(days=-1)}, "false_report_cooldown"),
    ],
)
def test_impossible_rules(kwargs: dict[str, object], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        AbuseRules(**kwargs)


def test_defaults() -> None:
    assert AbuseRules() == AbuseRules(max_reports_per_day=5, false_report_cooldown=14 * D)
