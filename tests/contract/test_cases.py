"""CaseStore contract: filing, reading, transitions and the facts the abuse checks use."""

from __future__ import annotations

from datetime import UTC, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import event

from disputebot.cases.records import Status, filed_record
from disputebot.policy.evidence import EvidenceFile
from disputebot.ports import ConflictError, UnitOfWorkFactory
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

FALSE_REPORT = "rejected:false_report"


async def test_add_then_get_returns_the_full_record(uow_factory: UnitOfWorkFactory) -> None:
    files = (evidence(3), evidence(1), evidence(2))
    case = new_case(
        "DR-0001",
        evidence_files=files,
        description="卖家故意发起纠纷，隐瞒商品信息 😡 order 8161234567890123",
        answers={"category": "fake_logistics", "notes": ["一", "🚚"], "n": 3},
    )
    async with uow_factory() as uow:
        await uow.cases.add(case, submitted(T0))
        await uow.commit()
    async with uow_factory() as uow:
        record = await uow.cases.get("DR-0001")
    assert record is not None
    assert record.public_id == "DR-0001"
    assert record.status is Status.SUBMITTED
    assert record.reporter_id == ALICE.user_ref
    assert (record.category, record.account_key) == ("fake_logistics", "store:1")
    assert dict(record.account) == {"kind": "store_id", "value": "1"}
    assert record.description == case.description
    assert dict(record.answers) == {"category": "fake_logistics", "notes": ["一", "🚚"], "n": 3}
    assert (record.flow, record.flow_version, record.attestation) == (
        "report",
        3,
        "report.attest@3",
    )
    assert record.created_at == record.updated_at == T0
    assert record.evidence == files  # in the order given, every field kept
    assert record.events == (submitted(T0),)


async def test_evidence_with_missing_fields_round_trips(uow_factory: UnitOfWorkFactory) -> None:
    refused = EvidenceFile(sha256=None, size=30_000_000, mime=None, name="视频.mp4")
    async with uow_factory() as uow:
        await uow.cases.add(new_case("DR-1", evidence_files=(refused,)), submitted())
        record = await uow.cases.get("DR-1")
    assert record is not None
    assert record.evidence == (refused,)


async def test_unknown_case_is_none(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        assert await uow.cases.get("nope") is None


async def test_duplicate_public_id_conflicts_and_keeps_the_transaction(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await uow.cases.add(new_case("DR-1"), submitted())
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(ConflictError):
            await uow.cases.add(new_case("DR-1", evidence_files=(evidence(1),)), submitted())
        await uow.cases.add(new_case("DR-2"), submitted())
        await uow.commit()
    async with uow_factory() as uow:
        first = await uow.cases.get("DR-1")
        assert first is not None
        assert first.evidence == ()
        assert await uow.cases.get("DR-2") is not None


async def test_list_is_newest_first_filtered_and_limited(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.cases.add(
            new_case("A1", created_at=at(1), evidence_files=(evidence(1),)), submitted(at(1))
        )
        await uow.cases.add(
            new_case("B1", reporter=BOB.user_ref, created_at=at(2)), submitted(at(2))
        )
        await uow.cases.add(new_case("A3", created_at=at(3)), submitted(at(3)))
        # Same time as A3, filed later: ties go to the later filing.
        await uow.cases.add(new_case("A3b", created_at=at(3)), submitted(at(3)))
        await uow.commit()
    async with uow_factory() as uow:
        every = await uow.cases.list()
        alice = await uow.cases.list(reporter_id=ALICE.user_ref)
        newest_two = await uow.cases.list(limit=2)
    assert [c.public_id for c in every] == ["A3b", "A3", "B1", "A1"]
    assert [c.public_id for c in alice] == ["A3b", "A3", "A1"]
    assert [c.public_id for c in newest_two] == ["A3b", "A3"]
    # Listed records are complete, not just the case rows.
    assert every[-1].evidence == (evidence(1),)
    assert every[-1].events == (submitted(at(1)),)


async def test_transition_sets_status_and_appends_events(uow_factory: UnitOfWorkFactory) -> None:
    review = decided(at(10), Status.SUBMITTED, Status.IN_REVIEW, "assigned", "审核中 👀")
    upheld = decided(at(20), Status.IN_REVIEW, Status.UPHELD, "upheld", "store restricted")
    async with uow_factory() as uow:
        await uow.cases.add(new_case("DR-1"), submitted())
        await uow.commit()
    async with uow_factory() as uow:
        await uow.cases.transition("DR-1", Status.IN_REVIEW, review)
        # Read back inside the same transaction, then once more after a second change.
        middle = await uow.cases.get("DR-1")
        await uow.cases.transition("DR-1", Status.UPHELD, upheld)
        await uow.commit()
    async with uow_factory() as uow:
        record = await uow.cases.get("DR-1")
    assert middle is not None
    assert middle.status is Status.IN_REVIEW
    assert middle.events == (submitted(), review)
    assert record is not None
    assert record.status is Status.UPHELD
    assert record.updated_at == at(20)
    assert record.created_at == T0
    assert record.events == (submitted(), review, upheld)


async def test_transition_of_unknown_case_raises_key_error(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        with pytest.raises(KeyError):
            await uow.cases.transition(
                "nope", Status.IN_REVIEW, decided(T0, Status.SUBMITTED, Status.IN_REVIEW, "x")
            )


async def test_datetimes_come_back_aware_utc(uow_factory: UnitOfWorkFactory) -> None:
    beijing = timezone(timedelta(hours=8))
    filed = T0.astimezone(beijing)
    async with uow_factory() as uow:
        await uow.cases.add(new_case("DR-1", created_at=filed), submitted(filed))
        await uow.commit()
    async with uow_factory() as uow:
        record = await uow.cases.get("DR-1")
    assert record is not None
    for value in (record.created_at, record.updated_at, record.events[0].at):
        assert value == T0
        assert value.utcoffset() == timedelta(0)
        assert value.tzinfo is UTC


async def test_naive_datetimes_are_refused(uow_factory: UnitOfWorkFactory) -> None:
    naive = T0.replace(tzinfo=None)
    async with uow_factory() as uow:
        with pytest.raises(ValueError, match="naive datetime"):
            await uow.cases.add(new_case("DR-1", created_at=naive), submitted())
        with pytest.raises(ValueError, match="naive datetime"):
            await uow.cases.reporter_facts(ALICE.user_ref, naive)


async def test_uncommitted_case_is_rolled_back(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.cases.add(new_case("DR-1", evidence_files=(evidence(1),)), submitted())
    async with uow_factory() as uow:
        assert await uow.cases.get("DR-1") is None
        assert await uow.cases.list() == []


async def test_reporter_facts_count_the_24_hours_before_now(
    uow_factory: UnitOfWorkFactory,
) -> None:
    now = at(days=2)
    filed = {
        "too-old": now - timedelta(hours=24),  # the window is (now - 24 h, now]
        "edge": now - timedelta(hours=24) + timedelta(microseconds=1),
        "hour-ago": now - timedelta(hours=1),
        "now": now,
        "future": now + timedelta(minutes=1),
    }
    async with uow_factory() as uow:
        for i, (name, when) in enumerate(filed.items()):
            await uow.cases.add(
                new_case(name, account_key=f"store:{i}", created_at=when), submitted(when)
            )
        await uow.cases.add(
            new_case("bobs", reporter=BOB.user_ref, created_at=now), submitted(now)
        )
        await uow.commit()
    async with uow_factory() as uow:
        facts = await uow.cases.reporter_facts(ALICE.user_ref, now)
        later = await uow.cases.reporter_facts(ALICE.user_ref, now + timedelta(hours=22))
        nobody = await uow.cases.reporter_facts("telegram:404", now)
    assert facts.reports_last_24h == 3
    assert facts.oldest_report_last_24h == filed["edge"]
    assert later.reports_last_24h == 3  # hour-ago, now, future
    assert later.oldest_report_last_24h == filed["hour-ago"]
    assert nobody.reports_last_24h == 0
    assert nobody.oldest_report_last_24h is None
    assert nobody.open_cases == {}
    assert nobody.last_false_rejection_at is None
    assert facts.own_account_keys == frozenset()


async def test_open_cases_map_accounts_and_drop_closed_ones(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await uow.cases.add(new_case("DR-1", account_key="store:1"), submitted())
        await uow.cases.add(
            new_case("DR-2", account_key="store:2", created_at=at(1)), submitted(at(1))
        )
        await uow.cases.add(
            new_case("DR-3", account_key="store:3", created_at=at(2)), submitted(at(2))
        )
        await uow.cases.add(
            new_case("DR-4", account_key="store:4", created_at=at(3)), submitted(at(3))
        )
        await uow.cases.add(
            new_case("BOB-1", reporter=BOB.user_ref, account_key="store:9"), submitted()
        )
        await uow.commit()
    async with uow_factory() as uow:
        assert dict((await uow.cases.reporter_facts(ALICE.user_ref, at(5))).open_cases) == {
            "store:1": "DR-1",
            "store:2": "DR-2",
            "store:3": "DR-3",
            "store:4": "DR-4",
        }
        await uow.cases.transition(
            "DR-2",
            Status.REJECTED,
            decided(at(10), Status.SUBMITTED, Status.REJECTED, "rejected:not_malicious"),
        )
        await uow.cases.transition(
            "DR-3",
            Status.AWAITING_INFO,
            decided(at(10), Status.SUBMITTED, Status.AWAITING_INFO, "more_info"),
        )
        await uow.cases.transition(
            "DR-4",
            Status.WITHDRAWN,
            decided(at(10), Status.SUBMITTED, Status.WITHDRAWN, "withdrawn"),
        )
        await uow.commit()
    async with uow_factory() as uow:
        facts = await uow.cases.reporter_facts(ALICE.user_ref, at(20))
    assert dict(facts.open_cases) == {"store:1": "DR-1", "store:3": "DR-3"}


async def test_last_false_rejection_is_the_newest_of_the_reporters(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        for public_id, reporter in [
            ("A1", ALICE.user_ref),
            ("A2", ALICE.user_ref),
            ("A3", ALICE.user_ref),
            ("B1", BOB.user_ref),
        ]:
            await uow.cases.add(new_case(public_id, reporter=reporter), submitted())
        await uow.cases.transition(
            "A1",
            Status.REJECTED,
            decided(at(hours=1), Status.SUBMITTED, Status.REJECTED, FALSE_REPORT),
        )
        await uow.cases.transition(
            "A2",
            Status.REJECTED,
            decided(at(hours=5), Status.SUBMITTED, Status.REJECTED, FALSE_REPORT),
        )
        # Rejected for another reason: not a false report.
        await uow.cases.transition(
            "A3",
            Status.REJECTED,
            decided(at(hours=9), Status.SUBMITTED, Status.REJECTED, "rejected:duplicate"),
        )
        await uow.cases.transition(
            "B1",
            Status.REJECTED,
            decided(at(hours=12), Status.SUBMITTED, Status.REJECTED, FALSE_REPORT),
        )
        await uow.commit()
    async with uow_factory() as uow:
        alice = await uow.cases.reporter_facts(ALICE.user_ref, at(days=1))
        # Reopening A2 lifts its finding: only A1's false rejection still stands.
        await uow.cases.transition(
            "A2",
            Status.IN_REVIEW,
            decided(at(hours=20), Status.REJECTED, Status.IN_REVIEW, "reopened"),
        )
        reopened = await uow.cases.reporter_facts(ALICE.user_ref, at(days=1))
    assert alice.last_false_rejection_at == at(hours=5)
    assert alice.last_false_rejection_at is not None
    assert alice.last_false_rejection_at.tzinfo is UTC
    assert reopened.last_false_rejection_at == at(hours=1)
    assert dict(reopened.open_cases) == {"store:1": "A2"}


async def test_reporter_facts_keep_open_cases_outside_the_24_hours(
    uow_factory: UnitOfWorkFactory,
) -> None:
    # Open cases, but none in the window: the counts and the open cases come back together.
    async with uow_factory() as uow:
        await uow.cases.add(new_case("DR-1", account_key="store:1"), submitted())
        await uow.cases.add(
            new_case("DR-2", account_key="store:1", created_at=at(1)), submitted(at(1))
        )
        await uow.cases.add(
            new_case("DR-3", account_key="store:2", created_at=at(2)), submitted(at(2))
        )
        await uow.commit()
    async with uow_factory() as uow:
        facts = await uow.cases.reporter_facts(ALICE.user_ref, at(days=3))
    assert facts.reports_last_24h == 0
    assert facts.oldest_report_last_24h is None
    # With two open cases on one account, the newest is named.
    assert dict(facts.open_cases) == {"store:1": "DR-2", "store:2": "DR-3"}
    assert facts.last_false_rejection_at is None


async def test_a_case_reads_back_as_filed_record_says(uow_factory: UnitOfWorkFactory) -> None:
    ahead = timezone(timedelta(hours=3))
    case = new_case(
        "DR-1",
        created_at=at(5).astimezone(ahead),
        evidence_files=(evidence(1), evidence(2)),
        answers={"category": "fake_logistics", "evidence": ({"n": 1},), "item": 7},
    )
    first = submitted(at(5).astimezone(ahead))
    async with uow_factory() as uow:
        await uow.cases.add(case, first)
        assert await uow.cases.get("DR-1") == filed_record(case, first)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.cases.get("DR-1") == filed_record(case, first)


async def test_listing_loads_evidence_and_events_without_n_plus_1(database: Database) -> None:
    # SQL backends only: counts the statements a list() of many cases sends.
    uow_factory = SqlUnitOfWorkFactory(make_session_factory(database.engine))
    async with uow_factory() as uow:
        for n in range(6):
            await uow.cases.add(
                new_case(f"DR-{n}", created_at=at(n), evidence_files=(evidence(n), evidence(9))),
                submitted(at(n)),
            )
        await uow.commit()
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(database.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with uow_factory() as uow:
            cases = await uow.cases.list()
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", count)
    assert [len(c.evidence) for c in cases] == [2] * 6
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 3, selects  # cases, evidence, events


async def test_transition_from_a_stale_status_conflicts(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.cases.add(new_case("DR-2"), submitted())
        await uow.cases.transition(
            "DR-2", Status.IN_REVIEW, decided(at(1), Status.SUBMITTED, Status.IN_REVIEW, "take")
        )
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(ConflictError):
            await uow.cases.transition(
                "DR-2",
                Status.REJECTED,
                decided(at(2), Status.SUBMITTED, Status.REJECTED, "reject"),
            )
    async with uow_factory() as uow:
        record = await uow.cases.get("DR-2")
    assert record is not None
    assert record.status is Status.IN_REVIEW
    assert len(record.events) == 2
