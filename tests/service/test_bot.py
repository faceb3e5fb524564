"""The service over a real store: one transaction per event, cases, receipts, idempotency."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from disputebot.cases.records import Status
from disputebot.engine.context import Policies
from disputebot.engine.effects import say_from_json
from disputebot.engine.events import ButtonPressed, FilesReceived, TextReceived
from disputebot.engine.spec import FlowBook
from disputebot.ports import ChatKey, UnitOfWorkFactory
from disputebot.service.bot import BotService
from disputebot.service.evidence import EvidenceVault
from disputebot.service.inbound import Inbound
from tests.service.driver import (
    FACTS,
    STORE,
    FailingDisk,
    ServiceChat,
    service_for,
    to_evidence,
    to_summary,
)
from tests.support import FixedClock, elf_bytes, pdf_bytes, png_bytes


async def file_report(chat: ServiceChat, vault: EvidenceVault, store: str = STORE) -> None:
    await chat.text("/report")
    await chat.click("report.category.fake_logistics")
    await chat.text(store)
    await chat.text(FACTS)
    photo = await vault.keep_bytes(png_bytes(1), "tracking.png")
    pdf = await vault.keep_bytes(pdf_bytes(), "order.pdf")
    await chat.files(photo, pdf)
    await chat.click("report.evidence.done")
    await chat.click("report.confirm.submit")


async def test_report_is_filed_with_receipt_in_one_transaction(
    service: BotService, uow_factory: UnitOfWorkFactory, vault: EvidenceVault
) -> None:
    chat = ServiceChat(service)
    await file_report(chat, vault)
    async with uow_factory() as uow:
        (case,) = await uow.cases.list()
        assert await uow.sessions.get(chat.chat) is None
        (receipt,) = await uow.outbox.due(FixedClock().now(), channel="test")
    assert case.status is Status.SUBMITTED
    assert case.account_key == "aliexpress:store:1102345678"
    assert case.category == "fake_logistics"
    assert [e.mime for e in case.evidence] == ["image/png", "application/pdf"]
    assert all(e.sha256 and Path(e.stored_path or "").is_file() for e in case.evidence)
    assert [e.kind for e in case.events] == ["filed", "party:unreachable"]
    assert case.events[0].actor == "test:1001"
    assert receipt.chat == chat.chat
    assert receipt.case_id == case.public_id
    say = say_from_json(receipt.payload)
    first = say.text[0]
    assert first.key == "receipt.filed"
    assert first.params["case_id"] == case.public_id
    listing = str(say.text[2].params["list"])
    assert all(str(e.sha256) in listing for e in case.evidence)


async def test_repeated_event_id_is_applied_once(
    service: BotService, uow_factory: UnitOfWorkFactory, vault: EvidenceVault
) -> None:
    chat = ServiceChat(service)
    await chat.text("/report", event_id="1")
    await chat.click("report.category.other")
    await chat.text(STORE)
    await chat.text(FACTS)
    photo = await vault.keep_bytes(png_bytes(2), "a.png")
    first = await chat.files(photo, event_id="77")
    assert first
    again = await chat.files(photo, event_id="77")
    assert again == []
    async with uow_factory() as uow:
        stored = await uow.sessions.get(chat.chat)
        assert await uow.updates.seen("test", "77")
    assert stored is not None
    assert '"evidence"' in stored.data
    assert stored.data.count(f'"sha256":"{photo.sha256}"') == 1


async def test_second_open_report_against_the_same_store_points_to_the_first(
    service: BotService, uow_factory: UnitOfWorkFactory, vault: EvidenceVault
) -> None:
    chat = ServiceChat(service)
    await file_report(chat, vault)
    async with uow_factory() as uow:
        (case,) = await uow.cases.list()
    await chat.text("/report")
    await chat.click("report.category.other")
    await chat.text("aliexpress.com/store/1102345678/pages/all-items.html")
    assert "policy.abuse.open_case" in chat.said()
    refusal = next(m for r in chat.last for m in r.say.text if m.key == "policy.abuse.open_case")
    assert refusal.params["case_id"] == case.public_id
    assert chat.step == "account"


async def test_executable_renamed_png_is_refused(
    service: BotService, vault: EvidenceVault
) -> None:
    chat = ServiceChat(service)
    await to_evidence(chat)
    exe = await vault.keep_bytes(elf_bytes(), "screenshot.png")
    await chat.files(exe)
    assert "policy.evidence.type" in chat.said()
    assert chat.step == "evidence"


async def test_group_chats_are_pointed_to_a_private_chat(
    service: BotService, uow_factory: UnitOfWorkFactory
) -> None:
    chat = ServiceChat(service)
    await chat.send(TextReceived("/report"), private=False)
    assert chat.said() == ["bot.private_only"]
    async with uow_factory() as uow:
        assert await uow.sessions.get(chat.chat) is None


async def test_edited_messages_change_nothing(
    service: BotService, uow_factory: UnitOfWorkFactory
) -> None:
    chat = ServiceChat(service)
    await chat.text("/report")
    await chat.click("report.category.other")
    async with uow_factory() as uow:
        before = await uow.sessions.get(chat.chat)
    await chat.send(TextReceived(STORE), edited=True)
    assert "bot.edit_ignored" in chat.said()
    assert chat.step == "account"
    async with uow_factory() as uow:
        assert await uow.sessions.get(chat.chat) == before


async def test_status_lists_cases_and_the_draft(service: BotService, vault: EvidenceVault) -> None:
    chat = ServiceChat(service)
    await file_report(chat, vault)
    await chat.text("/report")
    await chat.text("/status")
    keys = chat.said()
    assert "bot.status.draft" in keys
    assert "bot.status.line" in keys
    assert "case.status.submitted" in keys


async def test_language_menu_and_forged_choice(
    service: BotService, uow_factory: UnitOfWorkFactory
) -> None:
    chat = ServiceChat(service)
    await chat.text("/language")
    assert [b.data for b in chat.buttons()] == ["lang:en", "lang:zh_Hans"]
    await chat.send(ButtonPressed("lang:xx"))
    assert "engine.stale_button" in chat.said()
    await chat.send(ButtonPressed("lang:zh_Hans"))
    assert chat.last[0].locale == "zh_Hans"
    async with uow_factory() as uow:
        assert await uow.reporters.locale(chat.chat) == "zh_Hans"


async def test_locale_is_negotiated_from_the_client(service: BotService) -> None:
    chat = ServiceChat(service, user_id=2002, language_code="zh-hans")
    replies = await chat.text("/help")
    assert replies[0].locale == "zh_Hans"


async def test_opening_resumes_a_draft(service: BotService) -> None:
    chat = ServiceChat(service)
    opening = await service.opening(chat.chat)
    assert opening[0].say.text[0].key == "bot.welcome"
    await chat.text("/report")
    await chat.click("report.category.other")
    opening = await service.opening(chat.chat)
    assert opening[-1].say.step == "account"
    assert opening[0].say.text[0].key == "engine.resumed"


async def test_reporters_are_kept_apart(service: BotService, vault: EvidenceVault) -> None:
    alice, bob = ServiceChat(service, 1), ServiceChat(service, 2)
    await alice.text("/report")
    await bob.text("/report")
    await alice.click("report.category.other")
    assert bob.step == "category"
    await bob.click("report.category.concealed_info")
    await alice.text(STORE)
    assert alice.step == "description"
    assert bob.step == "account"


async def test_help_mid_flow_repeats_the_question(service: BotService) -> None:
    chat = ServiceChat(service)
    await chat.text("/report")
    await chat.click("report.category.other")
    await chat.text("/help")
    assert chat.said()[0] == "bot.help"
    assert chat.step == "account"


async def test_clock_used_for_the_case(
    service: BotService, uow_factory: UnitOfWorkFactory, vault: EvidenceVault, clock: FixedClock
) -> None:
    chat = ServiceChat(service)
    await file_report(chat, vault)
    async with uow_factory() as uow:
        (case,) = await uow.cases.list()
    assert case.created_at == clock.now()
    assert ChatKey("test", 1001).user_ref == case.reporter_id


async def test_language_command_with_a_code(service: BotService) -> None:
    chat = ServiceChat(service)
    await chat.text("/language zh-hans")
    assert chat.last[0].locale == "zh_Hans"
    assert "bot.language.set" in chat.said()
    await chat.text("/language klingon")
    assert chat.last[0].locale == "zh_Hans"
    assert chat.said()[0] == "bot.language.unknown"
    assert [b.data for b in chat.buttons()] == ["lang:en", "lang:zh_Hans"]


async def test_forwarded_text_is_not_taken_as_an_answer(
    service: BotService, uow_factory: UnitOfWorkFactory, vault: EvidenceVault
) -> None:
    chat = ServiceChat(service)
    await chat.text("/report")
    await chat.click("report.category.other")
    await chat.send(TextReceived(STORE), forwarded=True)
    assert chat.said()[0] == "bot.forward_ignored"
    assert chat.step == "account"
    await chat.text(STORE)
    await chat.text(FACTS)
    photo = await vault.keep_bytes(png_bytes(3), "forwarded.png")
    await chat.send(FilesReceived((photo,)), forwarded=True)
    assert "engine.files.received" in chat.said()


async def test_double_tapped_submit_files_one_case(
    service: BotService, uow_factory: UnitOfWorkFactory, vault: EvidenceVault
) -> None:
    chat = ServiceChat(service)
    submit = await to_summary(chat, vault)
    taps = [
        service.handle(Inbound(chat.chat, ButtonPressed(submit.data), f"tap-{i}"))
        for i in range(2)
    ]
    await asyncio.gather(*taps)
    async with uow_factory() as uow:
        cases = await uow.cases.list()
        receipts = await uow.outbox.due(FixedClock().now(), channel="test")
    assert len(cases) == 1
    assert len(receipts) == 1


async def test_many_reporters_at_once_each_file_their_case(
    service: BotService, uow_factory: UnitOfWorkFactory, vault: EvidenceVault
) -> None:
    chats = [ServiceChat(service, user_id=3000 + i) for i in range(20)]
    await asyncio.gather(
        *(file_report(c, vault, f"{STORE[:-3]}{100 + i}") for i, c in enumerate(chats))
    )
    async with uow_factory() as uow:
        cases = await uow.cases.list()
    assert sorted(c.reporter_id for c in cases) == sorted(c.chat.user_ref for c in chats)


async def test_forgetme_drops_the_draft_and_language_but_keeps_cases(
    service: BotService, uow_factory: UnitOfWorkFactory, vault: EvidenceVault
) -> None:
    chat = ServiceChat(service, language_code="zh-hans")
    await file_report(chat, vault)
    await chat.text("/report")
    await chat.text("/forgetme")
    assert chat.said() == ["bot.forget.ask"]
    await chat.click("bot.forget.no")
    assert chat.said()[0] == "bot.forget.kept"
    async with uow_factory() as uow:
        assert await uow.sessions.get(chat.chat) is not None
    await chat.text("/forgetme")
    await chat.click("bot.forget.yes")
    assert chat.said() == ["bot.forget.done"]
    async with uow_factory() as uow:
        assert await uow.sessions.get(chat.chat) is None
        assert await uow.reporters.locale(chat.chat) is None
        assert len(await uow.cases.list(reporter_id=chat.chat.user_ref)) == 1


async def test_album_items_applied_earlier_are_skipped_the_rest_applied(
    service: BotService, uow_factory: UnitOfWorkFactory, vault: EvidenceVault
) -> None:
    chat = ServiceChat(service)
    await to_evidence(chat)
    first = await vault.keep_bytes(png_bytes(40), "40.png")
    second = await vault.keep_bytes(png_bytes(41), "41.png")
    await chat.files(first, event_id="100")  # applied alone before a restart
    assert await service.unseen("test", ["100", "101"]) == {"101"}
    await service.handle(Inbound(chat.chat, FilesReceived((second,)), "101", also_ids=("100",)))
    async with uow_factory() as uow:
        stored = await uow.sessions.get(chat.chat)
        assert await uow.updates.seen("test", "101")
    assert stored is not None
    assert stored.data.count('"sha256"') == 2


async def test_a_case_is_filed_only_once_its_files_are_settled(
    uow_factory: UnitOfWorkFactory,
    book: FlowBook,
    policies: Policies,
    clock: FixedClock,
    vault: EvidenceVault,
) -> None:
    disk = FailingDisk(vault)
    disk.fails = True
    service = service_for(uow_factory, book, policies, clock, evidence_settled=disk.settle)
    chat = ServiceChat(service)
    submit = await to_summary(chat, vault)
    with pytest.raises(OSError, match="Input/output"):  # the channel says sorry, try again
        await chat.send(ButtonPressed(submit.data), "submit-1")
    async with uow_factory() as uow:
        assert await uow.cases.list() == []  # not filed: its file may not be on disk
        assert await uow.sessions.get(chat.chat) is not None  # the report is kept
    disk.fails = False
    await chat.send(ButtonPressed(submit.data), "submit-2")
    async with uow_factory() as uow:
        (case,) = await uow.cases.list()
    assert [e.stored_path for e in case.evidence] == disk.settled[-1]
    assert len(disk.settled[-1]) == 1
