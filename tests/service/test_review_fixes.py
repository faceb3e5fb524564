"""Regressions from the review of staff review: a silent reporter cannot freeze a case, a
reopened false-report rejection frees the reporter, case news reaches only staff, and evidence
goes back as the kind of file it came as."""

from __future__ import annotations

from disputebot.cases.records import Status
from disputebot.policy.evidence import EvidenceFile
from disputebot.ports import ChatKey, UnitOfWorkFactory
from disputebot.service.bot import BotService
from disputebot.service.cards import evidence_media
from disputebot.service.evidence import EvidenceVault
from tests.service.driver import ServiceChat
from tests.service.test_desk import decide
from tests.service.test_review_flow import (
    ADMIN,
    desk_service,  # noqa: F401  (fixture)
    file_case,
    keys,
    outbox_for,
)
from tests.support import FixedClock

REVIEWER = 2


async def test_a_case_waiting_on_a_silent_reporter_can_still_be_decided(
    desk_service: BotService,  # noqa: F811
    vault: EvidenceVault,
    uow_factory: UnitOfWorkFactory,
) -> None:
    reporter = ServiceChat(desk_service, 1001)
    admin = ServiceChat(desk_service, ADMIN)
    case_id = await file_case(reporter, vault, uow_factory)
    await admin.text(f"/case {case_id}")
    await admin.click("staff.button.take")
    await decide(admin, case_id, "staff.button.ask", "Which order number was it, please?")
    await decide(
        admin,
        case_id,
        "staff.button.reject",
        "review.reason.insufficient_evidence",
        "review.note_for_reporter.skip",
    )
    async with uow_factory() as uow:
        case = await uow.cases.get(case_id)
    assert case is not None
    assert (case.status, case.events[-1].from_status) == (Status.REJECTED, Status.AWAITING_INFO)


async def test_the_answer_button_stays_until_the_answer_is_in(desk_service: BotService) -> None:  # noqa: F811
    assert desk_service.keeps_keyboard("rp:ans:DR-0000000A")
    assert not desk_service.keeps_keyboard("rp:wd:DR-0000000A")


async def test_a_reopened_false_report_rejection_ends_the_cooldown(
    desk_service: BotService,  # noqa: F811
    vault: EvidenceVault,
    uow_factory: UnitOfWorkFactory,
    clock: FixedClock,
) -> None:
    reporter = ServiceChat(desk_service, 1001)
    admin = ServiceChat(desk_service, ADMIN)
    case_id = await file_case(reporter, vault, uow_factory)
    await admin.text(f"/case {case_id}")
    await admin.click("staff.button.take")
    reject = ("review.reason.false_report", "review.note_for_reporter.skip")
    await decide(admin, case_id, "staff.button.reject", *reject)
    clock.advance(days=1)
    assert keys_of(await reporter.text("/report"))[0] == "policy.abuse.cooldown"
    await reporter.text("/cancel")
    await admin.text(f"/case {case_id}")
    await admin.click("staff.button.reopen")
    measures = ("review.measure.warning", "review.uphold.measures.done", "review.duration.days_7")
    await decide(admin, case_id, "staff.button.uphold", *measures, "review.note_for_reporter.skip")
    assert "report.category.prompt" in keys_of(await reporter.text("/report"))


async def test_case_news_does_not_reach_a_removed_reviewer(
    desk_service: BotService,  # noqa: F811
    vault: EvidenceVault,
    uow_factory: UnitOfWorkFactory,
) -> None:
    reporter = ServiceChat(desk_service, 1001)
    admin = ServiceChat(desk_service, ADMIN)
    reviewer = ServiceChat(desk_service, REVIEWER)
    case_id = await file_case(reporter, vault, uow_factory)
    await admin.text(f"/staff add {REVIEWER}")
    await reviewer.text(f"/case {case_id}")
    await reviewer.click("staff.button.take")
    await admin.text(f"/staff remove {REVIEWER}")
    await reporter.text(f"/withdraw {case_id}")
    await reporter.click("followup.withdraw.yes")
    told = [keys(i)[0] for i in await outbox_for(uow_factory, reviewer.chat)]
    assert "staff.withdrawn_by_reporter" not in told
    group = await outbox_for(uow_factory, ChatKey("test", -100))
    assert "staff.withdrawn_by_reporter" in [keys(i)[0] for i in group]


def keys_of(replies: list) -> list[str]:  # type: ignore[type-arg]
    return [m.key for r in replies for m in r.say.text]


def test_evidence_goes_back_as_the_kind_it_came_as() -> None:
    from datetime import UTC, datetime  # noqa: PLC0415

    from disputebot.cases.records import CaseRecord  # noqa: PLC0415

    photo = EvidenceFile("a" * 64, 10, "image/png", "photo-1.jpg", "/e/a", "PHOTO", None)
    as_file = EvidenceFile("b" * 64, 10, "image/png", "shot.png", "/e/b", "DOC", "image/png")
    typed = EvidenceFile("c" * 64, 10, "image/png", "c.png", "/e/c", None, None)
    pdf = EvidenceFile("d" * 64, 10, "application/pdf", "d.pdf", "/e/d", None, None)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    case = CaseRecord(
        "DR-0000000A",
        Status.IN_REVIEW,
        "test:1",
        "other",
        "k",
        {},
        "d",
        "report",
        1,
        "a",
        now,
        now,
        (photo, as_file, typed, pdf),
        (),
    )
    kinds = [m.kind for m in evidence_media(case).media]
    assert kinds == ["photo", "document", "photo", "document"]
