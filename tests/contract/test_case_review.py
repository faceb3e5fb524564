"""CaseStore contract for staff review: changes with their audit event, the queue, a reporter's
track record, other cases against an account, and the times ``/stats`` reads."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from disputebot.cases.records import (
    OPEN_STATUSES,
    CaseChange,
    CaseEvent,
    CaseSummary,
    CaseTimes,
    QueueFilter,
    Status,
    TrackRecord,
)
from disputebot.ports import ConflictError, UnitOfWork, UnitOfWorkFactory
from disputebot.store import migrate
from disputebot.store.database import make_session_factory
from disputebot.store.uow import SqlUnitOfWorkFactory
from tests.contract.builders import (
    ALICE,
    BOB,
    T0,
    Database,
    at,
    evidence,
    new_case,
    submitted,
)

REVIEWER = "telegram:9"
OTHER_REVIEWER = "telegram:8"
FALSE_REPORT = "rejected:false_report"

UPHELD = {"outcome": "upheld", "measures": ["restrict_account", "remove_products"], "note": ""}


def rejected(reason: str) -> dict[str, Any]:
    return {"outcome": "rejected", "reason": reason, "note": ""}


def step(
    when: datetime,
    from_status: Status | None,
    to: Status | None,
    kind: str,
    *,
    note: str = "",
    actor: str = REVIEWER,
    **fields: Any,
) -> CaseChange:
    """A change as the service makes it: the event names the status it saw."""
    event = CaseEvent(when, actor, kind, from_status, to, note)
    return CaseChange(event=event, to=to, **fields)


async def _file(
    uow: UnitOfWork,
    public_id: str,
    created_at: datetime = T0,
    *,
    reporter: str = ALICE.user_ref,
    account_key: str = "store:1",
    category: str = "fake_logistics",
) -> None:
    case = new_case(public_id, reporter=reporter, account_key=account_key, created_at=created_at)
    await uow.cases.add(dataclasses.replace(case, category=category), submitted(created_at))


async def _take(uow: UnitOfWork, public_id: str, when: datetime, who: str = REVIEWER) -> None:
    await uow.cases.apply(
        public_id,
        step(
            when,
            Status.SUBMITTED,
            Status.IN_REVIEW,
            "take",
            actor=who,
            set_assignee=True,
            assignee=who,
            first_response=True,
        ),
    )


async def _decide(
    uow: UnitOfWork, public_id: str, when: datetime, to: Status, decision: dict[str, Any]
) -> None:
    kind = "uphold" if to is Status.UPHELD else f"rejected:{decision.get('reason', '')}"
    await uow.cases.apply(
        public_id,
        step(when, Status.IN_REVIEW, to, kind, decision=decision, first_response=True),
    )


async def _reopen(uow: UnitOfWork, public_id: str, when: datetime, from_status: Status) -> None:
    await uow.cases.apply(
        public_id, step(when, from_status, Status.IN_REVIEW, "reopen", decision={})
    )


async def _close(uow: UnitOfWork, public_id: str, when: datetime, from_status: Status) -> None:
    await uow.cases.apply(public_id, step(when, from_status, Status.CLOSED, "close"))


# --- apply ---------------------------------------------------------------------------------


async def test_a_new_case_has_no_review_data(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await _file(uow, "DR-1")
        await uow.commit()
    async with uow_factory() as uow:
        record = await uow.cases.get("DR-1")
    assert record is not None
    assert record.assignee is None
    assert dict(record.decision) == {}
    assert record.first_response_at is None
    assert record.decided_at is None


async def test_apply_walks_a_case_through_review(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.cases.add(
            new_case("DR-1", evidence_files=(evidence(1), evidence(2))), submitted()
        )
        await uow.commit()

    take = step(
        at(10),
        Status.SUBMITTED,
        Status.IN_REVIEW,
        "take",
        set_assignee=True,
        assignee=REVIEWER,
        first_response=True,
    )
    ask = step(
        at(20),
        Status.IN_REVIEW,
        Status.AWAITING_INFO,
        "ask_info",
        note="订单号是多少？ Which order?",
        first_response=True,
    )
    answer = step(
        at(30),
        Status.AWAITING_INFO,
        Status.IN_REVIEW,
        "info_received",
        actor=ALICE.user_ref,
        note="Order 8161234567890123",
        evidence=(evidence(3), evidence(4)),
    )
    note = step(at(40), Status.IN_REVIEW, None, "note", note="seller contacted")
    decision = {"outcome": "upheld", "measures": ["restrict_account", "警告"], "note": "🚫"}
    uphold = step(at(50), Status.IN_REVIEW, Status.UPHELD, "uphold", decision=decision)

    async with uow_factory() as uow:
        await uow.cases.apply("DR-1", take)
        taken = await uow.cases.get("DR-1")
        await uow.cases.apply("DR-1", ask)
        await uow.commit()
    async with uow_factory() as uow:
        await uow.cases.apply("DR-1", answer)
        answered = await uow.cases.get("DR-1")
        await uow.cases.apply("DR-1", note)
        noted = await uow.cases.get("DR-1")
        await uow.cases.apply("DR-1", uphold)
        await uow.commit()
    async with uow_factory() as uow:
        final = await uow.cases.get("DR-1")

    # Read back inside the transaction that made the change.
    assert taken is not None
    assert taken.status is Status.IN_REVIEW
    assert taken.assignee == REVIEWER
    assert taken.first_response_at == at(10)
    assert taken.decided_at is None
    assert taken.updated_at == at(10)
    assert taken.events == (submitted(), take.event)

    assert answered is not None
    assert answered.status is Status.IN_REVIEW
    # The reporter's answer lands after the files they gave at first, in order.
    assert answered.evidence == (evidence(1), evidence(2), evidence(3), evidence(4))
    # A later staff response keeps the first one; the reporter's does not count.
    assert answered.first_response_at == at(10)
    assert answered.assignee == REVIEWER  # set_assignee=False leaves it alone

    assert noted is not None
    assert noted.status is Status.IN_REVIEW  # to=None keeps the status
    assert noted.updated_at == at(40)
    assert noted.decided_at is None
    assert dict(noted.decision) == {}

    assert final is not None
    assert final.status is Status.UPHELD
    assert dict(final.decision) == decision
    assert final.decided_at == at(50)
    assert final.updated_at == at(50)
    assert final.first_response_at == at(10)
    assert final.assignee == REVIEWER
    assert final.created_at == T0
    assert final.evidence == (evidence(1), evidence(2), evidence(3), evidence(4))
    assert final.events == (
        submitted(),
        take.event,
        ask.event,
        answer.event,
        note.event,
        uphold.event,
    )
    for value in (final.first_response_at, final.decided_at, final.updated_at):
        assert value is not None
        assert value.tzinfo is UTC


async def test_evidence_appended_twice_in_one_transaction_keeps_order(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await _file(uow, "DR-1")  # no evidence at first
        await uow.cases.apply(
            "DR-1", step(at(1), None, None, "info", evidence=(evidence(5), evidence(6)))
        )
        await uow.cases.apply("DR-1", step(at(2), None, None, "info", evidence=(evidence(7),)))
        await uow.commit()
    async with uow_factory() as uow:
        await uow.cases.apply("DR-1", step(at(3), None, None, "info", evidence=(evidence(8),)))
        await uow.commit()
    async with uow_factory() as uow:
        record = await uow.cases.get("DR-1")
    assert record is not None
    assert record.evidence == (evidence(5), evidence(6), evidence(7), evidence(8))


async def test_assignee_is_replaced_and_cleared(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await _file(uow, "DR-1")
        await _take(uow, "DR-1", at(1))
        await uow.commit()
    async with uow_factory() as uow:
        await uow.cases.apply(
            "DR-1",
            step(at(2), Status.IN_REVIEW, None, "assign", set_assignee=True, assignee="tg:7"),
        )
        handed = await uow.cases.get("DR-1")
        # An assignee without set_assignee is ignored.
        await uow.cases.apply("DR-1", step(at(3), None, None, "note", assignee="tg:6"))
        ignored = await uow.cases.get("DR-1")
        await uow.cases.apply(
            "DR-1", step(at(4), Status.IN_REVIEW, None, "assign", set_assignee=True)
        )
        await uow.commit()
    async with uow_factory() as uow:
        cleared = await uow.cases.get("DR-1")
    assert handed is not None
    assert handed.assignee == "tg:7"
    assert ignored is not None
    assert ignored.assignee == "tg:7"
    assert cleared is not None
    assert cleared.assignee is None
    assert cleared.status is Status.IN_REVIEW


async def test_decision_time_is_set_by_finished_statuses_only(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await _file(uow, "ESC")
        await _file(uow, "WD")
        await _take(uow, "ESC", at(1))
        await uow.cases.apply(
            "ESC",
            step(
                at(2),
                Status.IN_REVIEW,
                Status.ESCALATED,
                "escalate",
                decision={"outcome": "escalated", "department": "legal"},
            ),
        )
        await uow.cases.apply(
            "WD",
            step(
                at(3),
                Status.SUBMITTED,
                Status.WITHDRAWN,
                "withdraw",
                actor=ALICE.user_ref,
                decision={"outcome": "withdrawn"},
            ),
        )
        await uow.commit()
    async with uow_factory() as uow:
        escalated = await uow.cases.get("ESC")
        withdrawn = await uow.cases.get("WD")
    assert escalated is not None
    assert escalated.status is Status.ESCALATED
    assert escalated.decided_at is None  # escalated is still open
    assert dict(escalated.decision) == {"outcome": "escalated", "department": "legal"}
    assert withdrawn is not None
    assert withdrawn.decided_at == at(3)
    assert withdrawn.first_response_at is None
    assert withdrawn.assignee is None


async def test_reopening_clears_the_decision_and_a_close_keeps_it(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await _file(uow, "DR-1")
        await _take(uow, "DR-1", at(1))
        await _decide(uow, "DR-1", at(2), Status.UPHELD, UPHELD)
        await _close(uow, "DR-1", at(3), Status.UPHELD)
        closed = await uow.cases.get("DR-1")
        await _reopen(uow, "DR-1", at(4), Status.CLOSED)
        await uow.commit()
    async with uow_factory() as uow:
        reopened = await uow.cases.get("DR-1")
    assert closed is not None
    assert closed.status is Status.CLOSED
    assert dict(closed.decision) == UPHELD  # decision=None leaves it as it was
    assert reopened is not None
    assert reopened.status is Status.IN_REVIEW
    assert dict(reopened.decision) == {}


async def test_apply_from_a_stale_status_conflicts_and_changes_nothing(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await uow.cases.add(new_case("DR-1", evidence_files=(evidence(1),)), submitted())
        await _take(uow, "DR-1", at(1), who=OTHER_REVIEWER)
        await uow.commit()
    stale = step(
        at(2),
        Status.SUBMITTED,
        Status.REJECTED,
        "rejected:duplicate",
        set_assignee=True,
        assignee=REVIEWER,
        decision=rejected("duplicate"),
        evidence=(evidence(2),),
        first_response=True,
    )
    async with uow_factory() as uow:
        with pytest.raises(ConflictError):
            await uow.cases.apply("DR-1", stale)
        # The unit of work stays usable after the refusal.
        inside = await uow.cases.get("DR-1")
        await uow.cases.apply("DR-1", step(at(3), Status.IN_REVIEW, None, "note", note="ok"))
        await uow.commit()
    async with uow_factory() as uow:
        record = await uow.cases.get("DR-1")
    assert inside is not None
    assert inside.status is Status.IN_REVIEW
    assert record is not None
    assert record.status is Status.IN_REVIEW
    assert record.assignee == OTHER_REVIEWER
    assert dict(record.decision) == {}
    assert record.evidence == (evidence(1),)
    assert record.first_response_at == at(1)
    assert record.decided_at is None
    assert [e.kind for e in record.events] == ["submitted", "take", "note"]


async def test_apply_without_an_expected_status_always_applies(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await _file(uow, "DR-1")
        await uow.cases.apply("DR-1", step(at(1), None, Status.CLOSED, "close"))
        record = await uow.cases.get("DR-1")
    assert record is not None
    assert record.status is Status.CLOSED
    assert record.decided_at == at(1)


async def test_apply_to_an_unknown_case_raises_key_error(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        with pytest.raises(KeyError):
            await uow.cases.apply("nope", step(at(1), None, Status.IN_REVIEW, "take"))


async def test_naive_datetimes_are_refused(uow_factory: UnitOfWorkFactory) -> None:
    naive = T0.replace(tzinfo=None)
    async with uow_factory() as uow:
        await _file(uow, "DR-1")
        with pytest.raises(ValueError, match="naive datetime"):
            await uow.cases.apply("DR-1", step(naive, None, None, "note"))
        with pytest.raises(ValueError, match="naive datetime"):
            await uow.cases.queue(QueueFilter(older_than=naive))
        with pytest.raises(ValueError, match="naive datetime"):
            await uow.cases.times_since(naive)


# --- queue ---------------------------------------------------------------------------------


async def _queue_fixture(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await _file(uow, "OLD-WD", at(0))
        await _file(uow, "Q1", at(1))
        await _file(uow, "Q2", at(2), category="concealed_info")
        await _file(uow, "Q3", at(3))
        await _file(uow, "Q4", at(4), category="concealed_info")
        await _file(uow, "Q5", at(5))
        await _file(uow, "Q5b", at(5))  # same time, filed later
        await _file(uow, "Q6", at(6))
        await uow.cases.apply(
            "OLD-WD", step(at(7), Status.SUBMITTED, Status.WITHDRAWN, "withdraw")
        )
        await _take(uow, "Q2", at(7))
        await _take(uow, "Q3", at(7), who=OTHER_REVIEWER)
        await uow.cases.apply(
            "Q3", step(at(8), Status.IN_REVIEW, Status.AWAITING_INFO, "ask_info")
        )
        await _take(uow, "Q4", at(7))
        await uow.cases.apply("Q4", step(at(8), Status.IN_REVIEW, Status.ESCALATED, "escalate"))
        await _take(uow, "Q6", at(7))
        await _decide(uow, "Q6", at(8), Status.UPHELD, UPHELD)
        await uow.commit()


async def _ids(uow_factory: UnitOfWorkFactory, where: QueueFilter) -> list[str]:
    async with uow_factory() as uow:
        page, total = await uow.cases.queue(where, limit=100)
    assert total == len(page)
    return [s.public_id for s in page]


async def test_queue_shows_open_cases_oldest_first(uow_factory: UnitOfWorkFactory) -> None:
    await _queue_fixture(uow_factory)
    async with uow_factory() as uow:
        page, total = await uow.cases.queue(QueueFilter())
    assert [s.public_id for s in page] == ["Q1", "Q2", "Q3", "Q4", "Q5", "Q5b"]
    assert total == 6
    assert page[1] == CaseSummary(
        public_id="Q2",
        status=Status.IN_REVIEW,
        category="concealed_info",
        account_key="store:1",
        reporter_id=ALICE.user_ref,
        assignee=REVIEWER,
        created_at=at(2),
        updated_at=at(7),
    )
    assert page[1].created_at.tzinfo is UTC
    # Every open status spelled out is the same as none.
    assert await _ids(uow_factory, QueueFilter(statuses=OPEN_STATUSES)) == [
        s.public_id for s in page
    ]


async def test_queue_filters_each_field(uow_factory: UnitOfWorkFactory) -> None:
    await _queue_fixture(uow_factory)
    finished = frozenset({Status.UPHELD, Status.WITHDRAWN})
    assert await _ids(uow_factory, QueueFilter(statuses=finished)) == ["OLD-WD", "Q6"]
    assert await _ids(uow_factory, QueueFilter(statuses=frozenset({Status.ESCALATED}))) == ["Q4"]
    assert await _ids(uow_factory, QueueFilter(category="concealed_info")) == ["Q2", "Q4"]
    assert await _ids(uow_factory, QueueFilter(category="other")) == []
    # Created strictly before.
    assert await _ids(uow_factory, QueueFilter(older_than=at(3))) == ["Q1", "Q2"]
    assert await _ids(uow_factory, QueueFilter(assignee=REVIEWER)) == ["Q2", "Q4"]
    assert await _ids(uow_factory, QueueFilter(assignee=OTHER_REVIEWER)) == ["Q3"]
    assert await _ids(uow_factory, QueueFilter(assignee=REVIEWER, statuses=frozenset(Status))) == [
        "Q2",
        "Q4",
        "Q6",
    ]
    assert await _ids(uow_factory, QueueFilter(unassigned=True)) == ["Q1", "Q5", "Q5b"]
    assert await _ids(
        uow_factory,
        QueueFilter(
            statuses=frozenset({Status.IN_REVIEW, Status.ESCALATED}),
            category="concealed_info",
            older_than=at(4),
            assignee=REVIEWER,
        ),
    ) == ["Q2"]
    assert await _ids(uow_factory, QueueFilter(assignee=REVIEWER, unassigned=True)) == []


async def test_queue_pages_and_counts_every_match(uow_factory: UnitOfWorkFactory) -> None:
    await _queue_fixture(uow_factory)
    pages = []
    async with uow_factory() as uow:
        for offset in (0, 2, 4, 6, 60):
            page, total = await uow.cases.queue(QueueFilter(), offset=offset, limit=2)
            pages.append(([s.public_id for s in page], total))
        empty, empty_total = await uow.cases.queue(QueueFilter(), limit=0)
        unassigned, unassigned_total = await uow.cases.queue(
            QueueFilter(unassigned=True), offset=1, limit=1
        )
    assert pages == [
        (["Q1", "Q2"], 6),
        (["Q3", "Q4"], 6),
        (["Q5", "Q5b"], 6),
        ([], 6),
        ([], 6),
    ]
    assert (empty, empty_total) == ([], 6)
    assert ([s.public_id for s in unassigned], unassigned_total) == (["Q5"], 3)


async def test_queue_of_an_empty_store(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        assert await uow.cases.queue(QueueFilter()) == ([], 0)


# --- track record --------------------------------------------------------------------------


async def test_track_record_counts_outcomes_and_false_reports(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        for n in range(1, 9):
            await _file(uow, f"A{n}", at(n), account_key=f"store:{n}")
            if n != 7:
                await _take(uow, f"A{n}", at(10 + n))
        for name in ("B1", "B2"):
            await _file(uow, name, at(1), reporter=BOB.user_ref)
            await _take(uow, name, at(11))
        # Upheld, then closed: still upheld.
        await _decide(uow, "A1", at(hours=1), Status.UPHELD, UPHELD)
        await _close(uow, "A1", at(hours=2), Status.UPHELD)
        # Rejected as false.
        await _decide(uow, "A2", at(hours=1), Status.REJECTED, rejected("false_report"))
        # Rejected for another reason.
        await _decide(uow, "A3", at(hours=1), Status.REJECTED, rejected("duplicate"))
        # Rejected as false, reopened, then rejected as a duplicate: not a false report.
        await _decide(uow, "A4", at(hours=1), Status.REJECTED, rejected("false_report"))
        await _reopen(uow, "A4", at(hours=2), Status.REJECTED)
        await _decide(uow, "A4", at(hours=3), Status.REJECTED, rejected("duplicate"))
        # Rejected as false, then reopened and still under review: not rejected now.
        await _decide(uow, "A5", at(hours=1), Status.REJECTED, rejected("false_report"))
        await _reopen(uow, "A5", at(hours=2), Status.REJECTED)
        # Rejected as duplicate, reopened, then rejected as false: a false report.
        await _decide(uow, "A6", at(hours=1), Status.REJECTED, rejected("duplicate"))
        await _reopen(uow, "A6", at(hours=2), Status.REJECTED)
        await _decide(uow, "A6", at(hours=3), Status.REJECTED, rejected("false_report"))
        await _close(uow, "A6", at(hours=4), Status.REJECTED)
        # A7 is still submitted; A8 is escalated.
        await uow.cases.apply(
            "A8",
            step(
                at(hours=1),
                Status.IN_REVIEW,
                Status.ESCALATED,
                "escalate",
                decision={"outcome": "escalated", "department": "legal"},
            ),
        )
        await _decide(uow, "B1", at(hours=1), Status.REJECTED, rejected("false_report"))
        await _decide(uow, "B2", at(hours=1), Status.REJECTED, rejected("false_report"))
        await _reopen(uow, "B2", at(hours=2), Status.REJECTED)
        await _decide(uow, "B2", at(hours=3), Status.REJECTED, rejected("not_malicious"))
        await uow.commit()
    async with uow_factory() as uow:
        alice = await uow.cases.track_record(ALICE.user_ref)
        bob = await uow.cases.track_record(BOB.user_ref)
        nobody = await uow.cases.track_record("telegram:404")
    assert alice == TrackRecord(filed=8, upheld=1, rejected=4, rejected_false=2)
    assert bob == TrackRecord(filed=2, upheld=0, rejected=2, rejected_false=1)
    assert nobody == TrackRecord()


# --- other cases against an account --------------------------------------------------------


async def test_against_account_is_newest_first_excluding_one(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await _file(uow, "C1", at(1))
        await _file(uow, "C2", at(2), reporter=BOB.user_ref)
        await _file(uow, "C3", at(3))
        await _file(uow, "C3b", at(3))  # same time, filed later
        await _file(uow, "D1", at(4), account_key="store:2")
        await _take(uow, "C3", at(5))
        await _decide(uow, "C3", at(6), Status.REJECTED, rejected("duplicate"))
        await uow.commit()
    async with uow_factory() as uow:
        every = await uow.cases.against_account("store:1")
        others = await uow.cases.against_account("store:1", exclude="C2")
        newest = await uow.cases.against_account("store:1", exclude="C3b", limit=2)
        none = await uow.cases.against_account("store:1", limit=0)
        unknown = await uow.cases.against_account("store:404")
    assert [s.public_id for s in every] == ["C3b", "C3", "C2", "C1"]
    assert [s.public_id for s in others] == ["C3b", "C3", "C1"]
    assert [s.public_id for s in newest] == ["C3", "C2"]
    assert none == []
    assert unknown == []
    assert newest[0] == CaseSummary(
        public_id="C3",
        status=Status.REJECTED,  # finished cases are listed too
        category="fake_logistics",
        account_key="store:1",
        reporter_id=ALICE.user_ref,
        assignee=REVIEWER,
        created_at=at(3),
        updated_at=at(6),
    )


# --- upheld reports against an account -----------------------------------------------------


async def test_count_upheld_counts_recorded_upheld_decisions(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        for name in ("U1", "U2", "U3", "U4", "U5"):
            await _file(uow, name)
        await _file(uow, "OTHER", account_key="store:2")
        for name in ("U1", "U2", "U3", "U5", "OTHER"):
            await _take(uow, name, at(1))
        await _decide(uow, "U1", at(2), Status.UPHELD, UPHELD)
        await _decide(uow, "U2", at(2), Status.UPHELD, UPHELD)
        await _close(uow, "U2", at(3), Status.UPHELD)  # closed after upheld: still counts
        await _decide(uow, "U3", at(2), Status.REJECTED, rejected("not_malicious"))
        await _decide(uow, "U5", at(2), Status.UPHELD, UPHELD)
        await _reopen(uow, "U5", at(3), Status.UPHELD)  # the decision no longer stands
        await _decide(uow, "OTHER", at(2), Status.UPHELD, UPHELD)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.cases.count_upheld("store:1") == 2
        assert await uow.cases.count_upheld("store:2") == 1
        assert await uow.cases.count_upheld("store:404") == 0
        await _decide(uow, "U5", at(4), Status.UPHELD, UPHELD)
        assert await uow.cases.count_upheld("store:1") == 3


# --- times for /stats ----------------------------------------------------------------------


async def test_times_since_returns_recent_cases_and_older_open_ones(
    uow_factory: UnitOfWorkFactory,
) -> None:
    since = at(days=1)
    async with uow_factory() as uow:
        await _file(uow, "OLD-OPEN", at(0))
        await _file(uow, "OLD-REVIEW", at(1))
        await _file(uow, "OLD-ESCALATED", at(2))
        await _file(uow, "OLD-UPHELD", at(3))
        await _file(uow, "OLD-WITHDRAWN", at(4))
        await _file(uow, "EDGE", since)
        await _file(uow, "NEW-REJECTED", at(days=2))
        await _take(uow, "OLD-REVIEW", at(10))
        await _take(uow, "OLD-ESCALATED", at(10), who=OTHER_REVIEWER)
        await uow.cases.apply(
            "OLD-ESCALATED", step(at(20), Status.IN_REVIEW, Status.ESCALATED, "escalate")
        )
        await _take(uow, "OLD-UPHELD", at(10))
        await _decide(uow, "OLD-UPHELD", at(20), Status.UPHELD, UPHELD)
        await uow.cases.apply(
            "OLD-WITHDRAWN", step(at(10), Status.SUBMITTED, Status.WITHDRAWN, "withdraw")
        )
        await _take(uow, "NEW-REJECTED", at(days=2, minutes=5))
        await _decide(uow, "NEW-REJECTED", at(days=3), Status.REJECTED, rejected("duplicate"))
        await uow.commit()
    async with uow_factory() as uow:
        times = await uow.cases.times_since(since)
        later = await uow.cases.times_since(at(days=10))
    by_id = {t.public_id: t for t in times}
    assert len(by_id) == len(times)
    assert by_id == {
        "OLD-OPEN": CaseTimes("OLD-OPEN", Status.SUBMITTED, at(0), None, None, None),
        "OLD-REVIEW": CaseTimes("OLD-REVIEW", Status.IN_REVIEW, at(1), at(10), None, REVIEWER),
        "OLD-ESCALATED": CaseTimes(
            "OLD-ESCALATED", Status.ESCALATED, at(2), at(10), None, OTHER_REVIEWER
        ),
        "EDGE": CaseTimes("EDGE", Status.SUBMITTED, since, None, None, None),
        "NEW-REJECTED": CaseTimes(
            "NEW-REJECTED",
            Status.REJECTED,
            at(days=2),
            at(days=2, minutes=5),
            at(days=3),
            REVIEWER,
        ),
    }
    assert by_id["NEW-REJECTED"].decided_at is not None
    assert by_id["NEW-REJECTED"].decided_at.tzinfo is UTC
    # Long after: only the cases that are still open.
    assert sorted(t.public_id for t in later) == [
        "EDGE",
        "OLD-ESCALATED",
        "OLD-OPEN",
        "OLD-REVIEW",
    ]


# --- migration of existing rows (SQL only) -------------------------------------------------


async def test_cases_filed_before_the_review_columns_read_back_empty(database: Database) -> None:
    await migrate.downgrade(database.url, "0001")
    async with database.engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO cases (public_id, status, reporter_id, category, account_key,"
                " account, description, answers, flow, flow_version, attestation, created_at,"
                " updated_at) VALUES ('OLD-1', 'in_review', 'telegram:1', 'other', 'store:1',"
                " '{}', 'd', '{}', 'report', 1, 'a', :t, :t)"
            ),
            {"t": T0.replace(tzinfo=None)},
        )
    await migrate.upgrade(database.url)
    uow_factory = SqlUnitOfWorkFactory(make_session_factory(database.engine))
    async with uow_factory() as uow:
        record = await uow.cases.get("OLD-1")
        await uow.cases.apply(
            "OLD-1",
            step(at(1), Status.IN_REVIEW, Status.UPHELD, "uphold", decision=UPHELD),
        )
        await uow.commit()
    async with uow_factory() as uow:
        upheld = await uow.cases.count_upheld("store:1")
    assert record is not None
    assert dict(record.decision) == {}
    assert (record.assignee, record.first_response_at, record.decided_at) == (None, None, None)
    assert upheld == 1
