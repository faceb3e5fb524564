"""CaseStore contract for fairness to both parties (issue 6), on memory, SQLite and PostgreSQL:
evidence sources and the shareable flag, merged cases, statements of reasons, the
coordinated-report and first-filing queries, purging, and the track record after appeals."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from disputebot.cases.appeals import REVERSED_REASON, appealed, ruled
from disputebot.cases.records import (
    Audience,
    CaseChange,
    CaseEvent,
    EvidenceSource,
    Statement,
    Status,
    TrackRecord,
)
from disputebot.ports import UnitOfWork, UnitOfWorkFactory
from disputebot.store import migrate
from disputebot.store.database import make_session_factory
from disputebot.store.uow import SqlUnitOfWorkFactory
from tests.contract.builders import (
    ALICE,
    BOB,
    T0,
    Database,
    at,
    decided,
    evidence,
    new_case,
    submitted,
)

REVIEWER = "telegram:9"
APPEAL_REVIEWER = "telegram:8"
PARTY = "telegram:3003"
UPHELD = {"outcome": "upheld", "measures": ["restrict_account"], "decided_by": REVIEWER}

BODY: dict[str, Any] = {
    "outcome": "upheld",
    "facts": ["Tracking shows delivered", "Nothing arrived — 包裹未到"],
    "ground": {"rule": "fake_logistics", "article": 17},
    "measures": [{"kind": "restrict_account", "days": 30}],
    "appeal": {"until": "2026-12-14T09:00:00+00:00", "how": "/appeal DR-1"},
    "none": None,
    "flag": True,
    "ratio": 0.5,
}


def change(
    when: datetime,
    from_status: Status | None,
    to: Status | None,
    kind: str,
    *,
    actor: str = REVIEWER,
    **fields: Any,
) -> CaseChange:
    return CaseChange(event=CaseEvent(when, actor, kind, from_status, to), to=to, **fields)


def statement(
    case_id: str,
    when: datetime,
    *,
    audience: Audience = Audience.REPORTER,
    kind: str = "decision",
    body: dict[str, Any] | None = None,
    recipient: str | None = ALICE.user_ref,
) -> Statement:
    return Statement(
        case_id=case_id,
        audience=audience,
        kind=kind,
        body=BODY if body is None else body,
        locale="zh_Hans" if audience is Audience.PARTY else "en",
        recipient=recipient,
        created_at=when,
    )


async def _file(
    uow: UnitOfWork,
    public_id: str,
    when: datetime = T0,
    *,
    reporter: str = ALICE.user_ref,
    account_key: str = "store:1",
    files: int = 0,
) -> None:
    case = new_case(
        public_id,
        reporter=reporter,
        account_key=account_key,
        created_at=when,
        evidence_files=tuple(evidence(n) for n in range(files)),
    )
    await uow.cases.add(case, submitted(when, reporter))


# --- evidence sources and sharing ------------------------------------------------------------


async def test_a_new_case_has_reporter_evidence_nothing_shared_and_no_merge(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await _file(uow, "DR-1", files=2)
        await _file(uow, "DR-2")
        await uow.commit()
    async with uow_factory() as uow:
        record = await uow.cases.get("DR-1")
        empty = await uow.cases.get("DR-2")
    assert record is not None
    assert empty is not None
    assert record.evidence_sources == (EvidenceSource.REPORTER, EvidenceSource.REPORTER)
    assert record.shareable == frozenset()
    assert record.merged_into is None
    assert empty.evidence_sources == ()


async def test_appended_evidence_keeps_who_gave_it(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await _file(uow, "DR-1", files=1)
        await uow.cases.apply(
            "DR-1",
            change(
                at(5),
                None,
                None,
                "party_statement",
                actor=PARTY,
                evidence=(evidence(7), evidence(8)),
                evidence_source=EvidenceSource.PARTY,
            ),
        )
        await uow.cases.apply(
            "DR-1",
            change(at(6), None, None, "info", actor=ALICE.user_ref, evidence=(evidence(9),)),
        )
        await uow.commit()
    async with uow_factory() as uow:
        record = await uow.cases.get("DR-1")
    assert record is not None
    assert [e.name for e in record.evidence] == [
        "shot-0.png",
        "shot-7.png",
        "shot-8.png",
        "shot-9.png",
    ]
    assert record.evidence_sources == (
        EvidenceSource.REPORTER,
        EvidenceSource.PARTY,
        EvidenceSource.PARTY,
        EvidenceSource.REPORTER,
    )
    assert [record.source_of(i) for i in range(4)] == list(record.evidence_sources)


async def test_shareable_marks_are_set_and_cleared_per_item(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await _file(uow, "DR-1", files=3)
        await _file(uow, "DR-2", files=3, account_key="store:2")
        await uow.cases.set_shareable("DR-1", 0, True)
        await uow.cases.set_shareable("DR-1", 2, True)
        await uow.cases.set_shareable("DR-1", 2, True)  # twice is fine
        await uow.commit()
    async with uow_factory() as uow:
        first = await uow.cases.get("DR-1")
        other = await uow.cases.get("DR-2")
        await uow.cases.set_shareable("DR-1", 0, False)
        await uow.cases.set_shareable("DR-1", 1, False)  # never marked: stays unmarked
        await uow.commit()
    async with uow_factory() as uow:
        second = await uow.cases.get("DR-1")
    assert first is not None
    assert other is not None
    assert second is not None
    assert first.shareable == frozenset({0, 2})
    assert other.shareable == frozenset()
    assert second.shareable == frozenset({2})


async def test_shareable_refuses_unknown_cases_and_positions(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await _file(uow, "DR-1", files=2)
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(KeyError):
            await uow.cases.set_shareable("DR-404", 0, True)
        for position in (2, 99, -1):
            with pytest.raises(IndexError):
                await uow.cases.set_shareable("DR-1", position, True)
        # The unit of work is still usable after the refusals.
        await uow.cases.set_shareable("DR-1", 1, True)
        await uow.commit()
    async with uow_factory() as uow:
        record = await uow.cases.get("DR-1")
    assert record is not None
    assert record.shareable == frozenset({1})


async def test_shareable_is_rolled_back_without_commit(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await _file(uow, "DR-1", files=1)
        await uow.commit()
    async with uow_factory() as uow:
        await uow.cases.set_shareable("DR-1", 0, True)
        marked = await uow.cases.get("DR-1")
    async with uow_factory() as uow:
        after = await uow.cases.get("DR-1")
    assert marked is not None
    assert marked.shareable == frozenset({0})
    assert after is not None
    assert after.shareable == frozenset()


# --- merged cases ----------------------------------------------------------------------------


async def test_merged_cases_point_at_their_target(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await _file(uow, "DR-T", at(1))
        await _file(uow, "DR-B", at(3), reporter=BOB.user_ref)
        await _file(uow, "DR-A", at(2), reporter="telegram:77")
        await _file(uow, "DR-X", at(4), account_key="store:2")
        for public_id, when in (("DR-B", 10), ("DR-A", 11)):
            await uow.cases.apply(
                public_id,
                change(at(when), Status.SUBMITTED, Status.MERGED, "merge", merged_into="DR-T"),
            )
        # A later change without ``merged_into`` keeps it.
        await uow.cases.apply("DR-A", change(at(12), None, None, "note"))
        await uow.commit()
    async with uow_factory() as uow:
        target = await uow.cases.get("DR-T")
        merged = await uow.cases.get("DR-A")
        sources = await uow.cases.merged_from("DR-T")
        none = await uow.cases.merged_from("DR-X")
        unknown = await uow.cases.merged_from("DR-404")
    assert target is not None
    assert target.merged_into is None
    assert merged is not None
    assert (merged.status, merged.merged_into) == (Status.MERGED, "DR-T")
    # Oldest first, by filing time.
    assert [(s.public_id, s.reporter_id, s.status) for s in sources] == [
        ("DR-A", "telegram:77", Status.MERGED),
        ("DR-B", BOB.user_ref, Status.MERGED),
    ]
    assert none == []
    assert unknown == []


# --- statements of reasons -------------------------------------------------------------------


async def test_statements_round_trip_oldest_first(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await _file(uow, "DR-1")
        await _file(uow, "DR-2", account_key="store:2")
        later = await uow.cases.add_statement(statement("DR-1", at(30)))
        party = await uow.cases.add_statement(
            statement("DR-1", at(20), audience=Audience.PARTY, recipient=None)
        )
        same_time = await uow.cases.add_statement(
            statement("DR-1", at(30), kind="appeal", body={"outcome": "reversed"})
        )
        await uow.cases.add_statement(statement("DR-2", at(10)))
        await uow.commit()
    async with uow_factory() as uow:
        found = await uow.cases.statements("DR-1")
        unknown = await uow.cases.statements("DR-404")
    assert len({later, party, same_time}) == 3
    assert [s.id for s in found] == [party, later, same_time]
    first, second, third = found
    assert first == Statement(
        case_id="DR-1",
        audience=Audience.PARTY,
        kind="decision",
        body=BODY,
        locale="zh_Hans",
        recipient=None,
        created_at=at(20),
        id=party,
    )
    assert isinstance(first.audience, Audience)
    assert first.created_at.utcoffset() == timedelta(0)
    assert dict(second.body) == BODY
    assert (second.audience, second.recipient, second.locale) == (
        Audience.REPORTER,
        ALICE.user_ref,
        "en",
    )
    assert (third.kind, dict(third.body)) == ("appeal", {"outcome": "reversed"})
    assert unknown == []


async def test_a_statement_needs_a_known_case_and_an_aware_time(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await _file(uow, "DR-1")
        with pytest.raises(KeyError):
            await uow.cases.add_statement(statement("DR-404", at(1)))
        with pytest.raises(ValueError, match="naive"):
            await uow.cases.add_statement(statement("DR-1", at(1).replace(tzinfo=None)))
        assert await uow.cases.statements("DR-1") == []


async def test_statements_are_rolled_back_without_commit(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await _file(uow, "DR-1")
        await uow.commit()
    async with uow_factory() as uow:
        await uow.cases.add_statement(statement("DR-1", at(1)))
        inside = await uow.cases.statements("DR-1")
    async with uow_factory() as uow:
        after = await uow.cases.statements("DR-1")
    assert len(inside) == 1
    assert after == []


async def test_a_read_statement_body_is_a_copy(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await _file(uow, "DR-1")
        await uow.cases.add_statement(statement("DR-1", at(1), body={"facts": ["a"]}))
        await uow.commit()
    async with uow_factory() as uow:
        (found,) = await uow.cases.statements("DR-1")
        found.body["facts"].append("changed")
        (again,) = await uow.cases.statements("DR-1")
    assert dict(again.body) == {"facts": ["a"]}


# --- coordinated reports and first filings ---------------------------------------------------


async def test_recent_against_is_oldest_first_from_since(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await _file(uow, "DR-OLD", at(-1))
        await _file(uow, "DR-EDGE", at(0), reporter=BOB.user_ref)
        await _file(uow, "DR-3", at(30), reporter="telegram:3")
        await _file(uow, "DR-2", at(20), reporter="telegram:2")
        await _file(uow, "DR-OTHER", at(10), account_key="store:2")
        await uow.commit()
    async with uow_factory() as uow:
        found = await uow.cases.recent_against("store:1", T0)
        limited = await uow.cases.recent_against("store:1", T0, limit=2)
        later = await uow.cases.recent_against("store:1", at(31))
        with pytest.raises(ValueError, match="naive"):
            await uow.cases.recent_against("store:1", T0.replace(tzinfo=None))
    assert [s.public_id for s in found] == ["DR-EDGE", "DR-2", "DR-3"]
    assert [s.reporter_id for s in found] == [BOB.user_ref, "telegram:2", "telegram:3"]
    assert [s.public_id for s in limited] == ["DR-EDGE", "DR-2"]
    assert later == []


async def test_first_filed_is_the_reporters_oldest_case(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await _file(uow, "DR-2", at(days=3))
        await _file(uow, "DR-1", at(days=1), account_key="store:2")
        await _file(uow, "DR-B", at(days=2), reporter=BOB.user_ref)
        await uow.commit()
    async with uow_factory() as uow:
        alice = await uow.cases.first_filed(ALICE.user_ref)
        bob = await uow.cases.first_filed(BOB.user_ref)
        nobody = await uow.cases.first_filed("telegram:404")
    assert alice == at(days=1)
    assert alice is not None
    assert alice.utcoffset() == timedelta(0)
    assert bob == at(days=2)
    assert nobody is None


# --- purge -----------------------------------------------------------------------------------


async def test_purge_deletes_the_statements_of_purged_cases(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await _file(uow, "DR-OLD")
        await _file(uow, "DR-OPEN", account_key="store:2")
        await uow.cases.add_statement(statement("DR-OLD", at(1)))
        await uow.cases.add_statement(statement("DR-OLD", at(2), audience=Audience.PARTY))
        await uow.cases.add_statement(statement("DR-OPEN", at(1)))
        await uow.cases.transition(
            "DR-OLD", Status.CLOSED, decided(at(days=1), Status.SUBMITTED, Status.CLOSED, "x")
        )
        await uow.commit()
    async with uow_factory() as uow:
        purged, _ = await uow.cases.purge_finished(at(days=10))
        await uow.commit()
    async with uow_factory() as uow:
        old = await uow.cases.statements("DR-OLD")
        kept = await uow.cases.statements("DR-OPEN")
    assert purged == ["DR-OLD"]
    assert old == []
    assert [s.case_id for s in kept] == ["DR-OPEN"]


# --- track record after appeals --------------------------------------------------------------


async def _decide(
    uow: UnitOfWork, public_id: str, when: datetime, to: Status, decision: dict[str, Any]
) -> None:
    kind = "uphold" if to is Status.UPHELD else f"rejected:{decision.get('reason', '')}"
    await uow.cases.apply(public_id, change(when, Status.IN_REVIEW, to, kind, decision=decision))


async def _appeal_and_rule(
    uow: UnitOfWork, public_id: str, when: datetime, *, reverse: bool
) -> None:
    """Appeal the standing decision, then rule on it as the service does."""
    record = await uow.cases.get(public_id)
    assert record is not None
    decided_status = record.status
    decision = appealed(record.decision, Audience.REPORTER, ALICE.user_ref, when, "I disagree")
    await uow.cases.apply(
        public_id,
        change(
            when,
            decided_status,
            Status.APPEALED,
            "appeal",
            actor=ALICE.user_ref,
            decision=decision,
        ),
    )
    ruling = ruled(
        decision, reverse=reverse, by=APPEAL_REVIEWER, at=when + timedelta(hours=1), grounds="g"
    )
    if reverse:
        to = Status.IN_REVIEW if decided_status is Status.REJECTED else Status.REJECTED
    else:
        to = decided_status
    await uow.cases.apply(
        public_id,
        change(
            when + timedelta(hours=1),
            Status.APPEALED,
            to,
            "reverse" if reverse else "confirm",
            actor=APPEAL_REVIEWER,
            decision=ruling,
        ),
    )


async def test_track_record_after_appeals(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        for n in range(1, 5):
            await _file(uow, f"P{n}", at(n), account_key=f"store:{n}")
            await uow.cases.apply(
                f"P{n}", change(at(10 + n), Status.SUBMITTED, Status.IN_REVIEW, "take")
            )
        rejected_false = {"outcome": "rejected", "reason": "false_report", "decided_by": REVIEWER}
        # Upheld, then reversed on appeal: rejected, but not as a false report.
        await _decide(uow, "P1", at(hours=1), Status.UPHELD, UPHELD)
        await _appeal_and_rule(uow, "P1", at(hours=2), reverse=True)
        # Rejected as false, the rejection confirmed on appeal: still a false report.
        await _decide(uow, "P2", at(hours=1), Status.REJECTED, rejected_false)
        await _appeal_and_rule(uow, "P2", at(hours=2), reverse=False)
        # Rejected as false, reversed on appeal, reviewed again and upheld.
        await _decide(uow, "P3", at(hours=1), Status.REJECTED, rejected_false)
        await _appeal_and_rule(uow, "P3", at(hours=2), reverse=True)
        reversed_record = await uow.cases.get("P3")
        await _decide(uow, "P3", at(hours=5), Status.UPHELD, UPHELD)
        # Upheld, the decision confirmed on appeal: still upheld.
        await _decide(uow, "P4", at(hours=1), Status.UPHELD, UPHELD)
        await _appeal_and_rule(uow, "P4", at(hours=2), reverse=False)
        await uow.commit()
    async with uow_factory() as uow:
        found = await uow.cases.track_record(ALICE.user_ref)
        p1 = await uow.cases.get("P1")
        facts = await uow.cases.reporter_facts(ALICE.user_ref, at(days=1))
    assert p1 is not None
    assert (p1.status, p1.decision["outcome"], p1.decision["reason"]) == (
        Status.REJECTED,
        "rejected",
        REVERSED_REASON,
    )
    assert reversed_record is not None
    assert reversed_record.status is Status.IN_REVIEW
    assert found == TrackRecord(filed=4, upheld=2, rejected=2, rejected_false=1)
    # The confirmed false rejection still counts for the cooldown.
    assert facts.last_false_rejection_at == at(hours=1)


# --- migration of existing rows (SQL only) ---------------------------------------------------


async def test_evidence_filed_before_0005_is_the_reporters_and_not_shared(
    database: Database,
) -> None:
    await migrate.downgrade(database.url, "0004")
    async with database.engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO cases (public_id, status, reporter_id, category, account_key,"
                " account, description, answers, flow, flow_version, attestation, created_at,"
                " updated_at, decision) VALUES ('OLD-1', 'in_review', 'telegram:1', 'other',"
                " 'store:1', '{}', 'd', '{}', 'report', 1, 'a', :t, :t, '{}')"
            ),
            {"t": T0.replace(tzinfo=None)},
        )
        await connection.execute(
            text(
                "INSERT INTO evidence (case_id, position, sha256, size, mime, name)"
                " SELECT id, 0, NULL, 10, 'image/png', 'a.png' FROM cases"
            )
        )
    await migrate.upgrade(database.url)
    uow_factory = SqlUnitOfWorkFactory(make_session_factory(database.engine))
    async with uow_factory() as uow:
        record = await uow.cases.get("OLD-1")
        await uow.cases.set_shareable("OLD-1", 0, True)
        await uow.cases.add_statement(statement("OLD-1", at(1)))
        await uow.commit()
    async with uow_factory() as uow:
        after = await uow.cases.get("OLD-1")
        statements = await uow.cases.statements("OLD-1")
    assert record is not None
    assert after is not None
    assert record.evidence_sources == (EvidenceSource.REPORTER,)
    assert record.shareable == frozenset()
    assert record.merged_into is None
    assert after.shareable == frozenset({0})
    assert len(statements) == 1
