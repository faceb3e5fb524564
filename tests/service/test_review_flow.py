"""Staff review end to end through the service: a case goes submitted → in_review →
awaiting_info → (the reporter answers with a file) → in_review → upheld with two measures; the
reporter is told at every step and the audit trail names every actor."""

from __future__ import annotations

import pytest

from disputebot.cases.records import Status
from disputebot.engine.context import Policies
from disputebot.engine.effects import say_from_json
from disputebot.engine.events import ButtonPressed
from disputebot.engine.spec import FlowBook
from disputebot.ports import ChatKey, OutboxItem, UnitOfWorkFactory
from disputebot.service.bot import BotService
from disputebot.service.evidence import EvidenceVault
from tests.engine.transcript import keys_of
from tests.service.driver import ServiceChat, service_for, to_summary
from tests.support import FixedClock, png_bytes

ADMIN = 1
REVIEWER = 2
STAFF_GROUP = -100


@pytest.fixture
def desk_service(
    uow_factory: UnitOfWorkFactory, book: FlowBook, policies: Policies, clock: FixedClock
) -> BotService:
    return service_for(
        uow_factory, book, policies, clock, admins=frozenset({ADMIN}), staff_chat_id=STAFF_GROUP
    )


async def outbox_for(uow_factory: UnitOfWorkFactory, chat: ChatKey) -> list[OutboxItem]:
    async with uow_factory() as uow:
        items = await uow.outbox.list(limit=1000)
    return sorted((i for i in items if i.chat == chat), key=lambda i: i.id)


def keys(item: OutboxItem) -> list[str]:
    return [k for m in say_from_json(item.payload).text for k in keys_of(m)]


async def file_case(
    reporter: ServiceChat, vault: EvidenceVault, uow_factory: UnitOfWorkFactory
) -> str:
    submit = await to_summary(reporter, vault)
    await reporter.send(ButtonPressed(submit.data))
    async with uow_factory() as uow:
        (case,) = await uow.cases.list(reporter_id=reporter.chat.user_ref)
    return case.public_id


async def test_a_case_goes_through_review_to_upheld(
    desk_service: BotService, vault: EvidenceVault, uow_factory: UnitOfWorkFactory
) -> None:
    reporter = ServiceChat(desk_service, 1001)
    admin = ServiceChat(desk_service, ADMIN)
    case_id = await file_case(reporter, vault, uow_factory)
    group = await outbox_for(uow_factory, ChatKey("test", STAFF_GROUP))
    assert [keys(i)[0] for i in group] == ["staff.new_case"]

    await admin.text("/queue")
    assert "queue.line" in admin.said()
    await admin.click("staff.button.open")
    assert "card.title" in admin.said()
    await admin.click("staff.button.take")
    assert "staff.done" in admin.said()

    await admin.click("staff.button.ask")
    await admin.text("Please send the carrier's tracking page for LP00123456789012.")
    await admin.click("review.confirm.submit")
    async with uow_factory() as uow:
        case = await uow.cases.get(case_id)
    assert case is not None
    assert case.status is Status.AWAITING_INFO

    news = await outbox_for(uow_factory, reporter.chat)
    asked = news[-1]
    assert keys(asked)[0] == "notify.awaiting_info"
    answer_button = say_from_json(asked.payload).buttons[0][0]
    await reporter.send(ButtonPressed(answer_button.data))
    await reporter.text("The carrier's page says the number does not exist; screenshot attached.")
    await reporter.files(await vault.keep_bytes(png_bytes(9), "tracking.png"))
    await reporter.click("info.files.done")
    await reporter.click("info.submit")
    assert "followup.answer.sent" in reporter.said()
    async with uow_factory() as uow:
        case = await uow.cases.get(case_id)
    assert case is not None
    assert case.status is Status.IN_REVIEW
    assert len(case.evidence) == 2
    told = await outbox_for(uow_factory, admin.chat)
    assert keys(told[-1])[0] == "staff.info_answered"

    await admin.text(f"/case {case_id}")
    await admin.click("staff.button.uphold")
    await admin.click("review.measure.restrict_functions")
    await admin.click("review.measure.remove_products")
    await admin.click("review.uphold.measures.done")
    await admin.click("review.duration.days_30")
    await admin.click("review.note_for_reporter.skip")
    await admin.click("review.confirm.submit")
    assert "staff.done" in admin.said()

    async with uow_factory() as uow:
        case = await uow.cases.get(case_id)
    assert case is not None
    assert case.status is Status.UPHELD
    assert case.decision["measures"] == ["restrict_functions", "remove_products"]
    assert case.decision["duration"] == "days_30"
    trail = [(e.actor, e.kind) for e in case.events]
    assert trail == [
        ("test:1001", "filed"),
        ("system", "party:unreachable"),  # nobody is linked to the reported account
        ("test:1", "take"),
        ("test:1", "ask_info"),
        ("test:1001", "info_received"),
        ("test:1", "uphold"),
    ]
    news = await outbox_for(uow_factory, reporter.chat)
    firsts = [keys(i)[0] for i in news]
    assert firsts == [
        "receipt.filed",
        "notify.in_review",
        "notify.awaiting_info",
        "sor.upheld.reporter",  # the statement of reasons replaces the short notice
    ]
    upheld = [k for k in keys(news[-1]) if k.startswith("review.measure.")]
    assert upheld == ["review.measure.restrict_functions", "review.measure.remove_products"]
    assert "review.duration.days_30" in keys(news[-1])
