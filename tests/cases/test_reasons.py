"""Statements of reasons as data (``cases.reasons``): what each side is told, and what the party
is never told."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from disputebot.cases import appeals
from disputebot.cases.reasons import REDACTED, last_ruling, statement_body
from disputebot.cases.records import Audience, CaseRecord, Status

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
WINDOW = timedelta(days=183)
REPORTER = "test:1001"
DECIDER = "test:7"
SECOND = "test:8"


def case_with(decision: Mapping[str, Any], status: Status = Status.UPHELD) -> CaseRecord:
    return CaseRecord(
        public_id="DR-7K3M9Q2A",
        status=status,
        reporter_id=REPORTER,
        category="fake_logistics",
        account_key="store:1102345678",
        account={"kind": "store", "display": "1102345678", "key": "store:1102345678"},
        description="Order 8161234567890123 was never shipped.",
        flow="report",
        flow_version=1,
        attestation="report.confirm.attestation@1",
        created_at=T0,
        updated_at=T0,
        evidence=(),
        events=(),
        decision=decision,
    )


UPHELD = {
    "outcome": "upheld",
    "measures": ["remove_products", "warning"],
    "duration": "days_30",
    "note": "The carrier has no record of LP00123456789012.",
    "decided_by": DECIDER,
    "decided_at": T0.isoformat(),
}
REJECTED = {
    "outcome": "rejected",
    "reason": "insufficient_evidence",
    "note": "The screenshots do not show the order.",
    "decided_by": DECIDER,
    "decided_at": T0.isoformat(),
}
ESCALATED = {
    "outcome": "escalated",
    "department": "fraud",
    "note": "",
    "decided_by": DECIDER,
    "decided_at": T0.isoformat(),
}


@pytest.mark.parametrize("audience", list(Audience))
def test_an_upheld_decision_names_the_rule_the_measures_their_scope_and_the_deadline(
    audience: Audience,
) -> None:
    body = statement_body(
        case_with(UPHELD), audience, kind="decision", now=T0 + timedelta(minutes=1), window=WINDOW
    )
    assert body["outcome"] == body["result"] == "upheld"
    assert body["audience"] == audience.value
    assert body["facts"] == UPHELD["note"]
    assert body["ground"] == {"rule": "fake_logistics"}
    assert body["measures"] == ["remove_products", "warning"]
    assert body["duration"] == "days_30"
    assert body["scope"]["account_key"] == "store:1102345678"
    assert body["appeal"] == {
        "open": True,
        "why": None,
        "deadline": (T0 + WINDOW).isoformat(),
        "command": "/appeal DR-7K3M9Q2A",
    }
    assert body["automated"] is False
    json.dumps(body)  # JSON-able as kept


def test_a_rejection_names_the_reason_and_an_escalation_the_department() -> None:
    rejected = statement_body(
        case_with(REJECTED, Status.REJECTED),
        Audience.REPORTER,
        kind="decision",
        now=T0,
        window=WINDOW,
    )
    assert rejected["ground"] == {"reason": "insufficient_evidence"}
    assert rejected["measures"] == []
    escalated = statement_body(
        case_with(ESCALATED, Status.ESCALATED),
        Audience.PARTY,
        kind="decision",
        now=T0,
        window=WINDOW,
    )
    assert escalated["ground"] == {"department": "fraud"}
    # An escalation is not final: nothing to appeal yet.
    assert escalated["appeal"]["open"] is False
    assert escalated["appeal"]["why"] == "nothing"


def test_the_appeal_route_closes_after_the_deadline_and_after_the_sides_appeal() -> None:
    late = statement_body(
        case_with(UPHELD),
        Audience.REPORTER,
        kind="decision",
        now=T0 + WINDOW + timedelta(seconds=1),
        window=WINDOW,
    )
    assert late["appeal"]["open"] is False
    assert late["appeal"]["why"] == "late"
    appealed = appeals.appealed(UPHELD, Audience.PARTY, "test:2002", T0, "Wrong store.")
    confirmed = appeals.ruled(appealed, reverse=False, by=SECOND, at=T0, grounds="It stands.")
    case = case_with(confirmed)
    party = statement_body(case, Audience.PARTY, kind="appeal", now=T0, window=WINDOW)
    reporter = statement_body(case, Audience.REPORTER, kind="appeal", now=T0, window=WINDOW)
    assert party["appeal"]["why"] == "again"
    assert reporter["appeal"]["open"] is True


def test_a_confirmation_keeps_the_measures_and_gives_the_rulings_grounds() -> None:
    appealed = appeals.appealed(UPHELD, Audience.PARTY, "test:2002", T0, "Wrong store.")
    confirmed = appeals.ruled(
        appealed, reverse=False, by=SECOND, at=T0 + timedelta(days=1), grounds="Carrier checked."
    )
    body = statement_body(
        case_with(confirmed), Audience.REPORTER, kind="appeal", now=T0, window=WINDOW
    )
    assert body["outcome"] == "appeal_confirmed"
    assert body["result"] == "upheld"
    assert body["facts"] == "Carrier checked."
    assert body["decided_at"] == (T0 + timedelta(days=1)).isoformat()
    assert body["ground"] == {
        "ruling": "confirmed",
        "against": "upheld",
        "side": "party",
        "rule": "fake_logistics",
    }
    assert body["measures"] == ["remove_products", "warning"]
    assert body["lifted_measures"] == []


def test_reversing_an_upheld_decision_lifts_its_measures() -> None:
    appealed = appeals.appealed(UPHELD, Audience.PARTY, "test:2002", T0, "Wrong store.")
    at = T0 + timedelta(days=2)
    reversed_ = appeals.ruled(appealed, reverse=True, by=SECOND, at=at, grounds="Other store.")
    body = statement_body(
        case_with(reversed_, Status.REJECTED), Audience.PARTY, kind="appeal", now=at, window=WINDOW
    )
    assert body["outcome"] == "appeal_reversed"
    assert body["result"] == "rejected"
    assert body["ground"]["reason"] == appeals.REVERSED_REASON
    assert body["measures"] == []
    assert body["lifted_measures"] == ["remove_products", "warning"]
    # The party appealed once; the reporter may still contest the new rejection.
    assert body["appeal"]["why"] == "again"
    reporter = statement_body(
        case_with(reversed_, Status.REJECTED),
        Audience.REPORTER,
        kind="appeal",
        now=at,
        window=WINDOW,
    )
    assert reporter["appeal"] == {
        "open": True,
        "why": None,
        "deadline": (at + WINDOW).isoformat(),
        "command": "/appeal DR-7K3M9Q2A",
    }


def test_reversing_a_rejection_sends_the_report_back_to_review() -> None:
    appealed = appeals.appealed(REJECTED, Audience.REPORTER, REPORTER, T0, "Here is the order.")
    reversed_ = appeals.ruled(appealed, reverse=True, by=SECOND, at=T0, grounds="New evidence.")
    body = statement_body(
        case_with(reversed_, Status.IN_REVIEW),
        Audience.REPORTER,
        kind="appeal",
        now=T0,
        window=WINDOW,
    )
    assert body["outcome"] == "appeal_reversed"
    assert body["result"] == "in_review"
    assert body["ground"] == {"ruling": "reversed", "against": "rejected", "side": "reporter"}
    assert body["appeal"]["open"] is False


def test_the_party_never_sees_a_reporter_id_even_when_staff_wrote_one() -> None:
    merged_reporter = "test:3003"
    leaky = {
        **UPHELD,
        "note": f"Reporter {REPORTER} (also 1001, and {merged_reporter}) showed order 81610010.",
    }
    appealed = appeals.appealed(leaky, Audience.REPORTER, REPORTER, T0, "I am 1001, see.")
    confirmed = appeals.ruled(
        appealed, reverse=False, by=SECOND, at=T0, grounds=f"As {REPORTER} said."
    )
    for kind, decision in (("decision", leaky), ("appeal", confirmed)):
        body = statement_body(
            case_with(decision),
            Audience.PARTY,
            kind=kind,
            now=T0,
            window=WINDOW,
            hide=[merged_reporter],
        )
        text = json.dumps(body)
        assert "1001" not in text.replace("81610010", "")
        assert "3003" not in text
        assert REDACTED in body["facts"]
    body = statement_body(case_with(leaky), Audience.PARTY, kind="decision", now=T0, window=WINDOW)
    # Numbers that merely contain the id are facts, and stay.
    assert "81610010" in body["facts"]
    # The reporter's own statement is as staff wrote it.
    mine = statement_body(
        case_with(leaky), Audience.REPORTER, kind="decision", now=T0, window=WINDOW
    )
    assert mine["facts"] == leaky["note"]


def test_nothing_to_explain_is_an_error() -> None:
    with pytest.raises(ValueError, match="no decision"):
        statement_body(case_with({}), Audience.REPORTER, kind="decision", now=T0, window=WINDOW)
    with pytest.raises(ValueError, match="no ruling"):
        statement_body(case_with(UPHELD), Audience.REPORTER, kind="appeal", now=T0, window=WINDOW)
    with pytest.raises(ValueError, match="kind"):
        statement_body(case_with(UPHELD), Audience.REPORTER, kind="other", now=T0, window=WINDOW)


def test_last_ruling_is_the_newest_ruled_appeal() -> None:
    first = appeals.ruled(
        appeals.appealed(UPHELD, Audience.PARTY, "p", T0, "r"),
        reverse=False,
        by=SECOND,
        at=T0,
        grounds="a",
    )
    second = appeals.appealed(first, Audience.REPORTER, REPORTER, T0, "r")
    assert last_ruling(second) == first["appeals"][0]
    assert last_ruling(UPHELD) is None
