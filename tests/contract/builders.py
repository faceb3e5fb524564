"""Small builders for store tests: explicit times, never the wall clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from disputebot.cases.records import CaseEvent, NewCase, Status
from disputebot.engine.effects import Button, Msg, Say
from disputebot.policy.evidence import EvidenceFile
from disputebot.ports import ChatKey

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
ALICE = ChatKey("telegram", 1001)
BOB = ChatKey("telegram", 1002)
# Telegram ids for channels and supergroups do not fit in 32 bits.
BIG = ChatKey("telegram", -1001234567890)


@dataclass(frozen=True)
class Database:
    """A migrated, empty database for one test: ``url`` for migrations, ``engine`` for stores."""

    backend: str
    url: str
    engine: AsyncEngine


def at(minutes: float = 0, *, hours: float = 0, days: float = 0) -> datetime:
    return T0 + timedelta(minutes=minutes, hours=hours, days=days)


def evidence(n: int) -> EvidenceFile:
    return EvidenceFile(
        sha256=f"{n:064x}",
        size=1000 + n,
        mime="image/png",
        name=f"shot-{n}.png",
        stored_path=f"ev/{n}.png",
        file_id=f"file-{n}",
        declared_mime="image/png",
    )


def new_case(
    public_id: str,
    *,
    reporter: str = ALICE.user_ref,
    account_key: str = "store:1",
    created_at: datetime = T0,
    evidence_files: tuple[EvidenceFile, ...] = (),
    description: str = "Order 8161234567890123: tracking shows delivered, nothing arrived.",
    answers: dict[str, Any] | None = None,
) -> NewCase:
    return NewCase(
        public_id=public_id,
        reporter_id=reporter,
        category="fake_logistics",
        account_key=account_key,
        account={"kind": "store_id", "value": account_key.rsplit(":", maxsplit=1)[-1]},
        description=description,
        flow="report",
        flow_version=3,
        attestation="report.attest@3",
        created_at=created_at,
        evidence=evidence_files,
        answers=answers if answers is not None else {"category": "fake_logistics"},
    )


def submitted(when: datetime = T0, actor: str = ALICE.user_ref) -> CaseEvent:
    return CaseEvent(when, actor, "submitted", None, Status.SUBMITTED)


def decided(
    when: datetime, from_status: Status, to: Status, kind: str, note: str = ""
) -> CaseEvent:
    return CaseEvent(when, "telegram:9", kind, from_status, to, note)


def say(text: str = "receipt", **params: str | int) -> Say:
    return Say(
        text=(Msg(text, params),),
        buttons=((Button(Msg("btn.ok"), "ok"),),),
        step="confirm",
        expects="choice",
    )
