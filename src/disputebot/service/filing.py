"""Turning a finished draft into a case, its first audit event and the reporter's receipt."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from disputebot.cases.records import CaseEvent, NewCase, Status
from disputebot.engine.answers import evidence_list
from disputebot.engine.effects import FileCase, Msg, Say
from disputebot.engine.prompts import account_value, when

# Step ids of the report flow that the case record is built from (DESIGN §3).
REPORT_STEPS = ("category", "account", "description", "evidence", "confirm")


def new_case(action: FileCase, public_id: str, reporter_id: str, now: datetime) -> NewCase:
    answers: Mapping[str, Any] = action.answers
    account = dict(answers["account"])
    return NewCase(
        public_id=public_id,
        reporter_id=reporter_id,
        category=str(answers["category"]),
        account_key=str(account["key"]),
        account=account,
        description=str(answers["description"]),
        flow=action.flow,
        flow_version=action.version,
        attestation=action.attestation,
        created_at=now,
        evidence=evidence_list(answers.get("evidence")),
        answers=dict(answers),
    )


def filed_event(case: NewCase) -> CaseEvent:
    return CaseEvent(
        at=case.created_at,
        actor=case.reporter_id,
        kind="filed",
        from_status=None,
        to_status=Status.SUBMITTED,
        note=case.attestation,
    )


def receipt(case: NewCase, category: Msg) -> Say:
    """What the reporter keeps: case id, time, what was filed, evidence fingerprints."""
    listing = "\n".join(
        f"{i}. {f.name} — {f.mime} — sha256 {f.sha256}" for i, f in enumerate(case.evidence, 1)
    )
    return Say(
        (
            Msg("receipt.filed", {"case_id": case.public_id, "at": when(case.created_at)}),
            Msg(
                "receipt.details",
                {
                    "category": category,
                    "account": account_value(case.account),
                },
            ),
            Msg("receipt.evidence", {"count": len(case.evidence), "list": listing}),
            Msg("receipt.next", {"case_id": case.public_id}),
        )
    )
