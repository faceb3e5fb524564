"""Both parties over real HTTP: the real bot against the fake Bot API server and a fake platform
webhook receiver. Staff hand a seller a claim link; the seller (in Chinese) opens it and is
linked to the store. A buyer (in English) reports the store; the seller is told without the
buyer's identity and answers with a statement, which staff see on the card. Staff uphold with
a measure; each side gets a statement of reasons in their own language. The seller appeals;
the reviewer who decided cannot take the appeal; a second reviewer reverses it. The measure is
lifted, the platform receives ``case.reverse``, and both sides get a new statement."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from pydantic import SecretStr

from disputebot.cases.records import Audience, Status
from disputebot.config import PROJECT_ROOT
from disputebot.testing.fake_bot_api import FakeBotApi, TestChat, TestUser
from disputebot.testing.fake_platform import FakePlatform
from tests.e2e.conftest import RunningBot, settings_for, start_bot
from tests.e2e.test_report_flow import STORE, labels
from tests.e2e.test_review import file_case, is_card

REPORTER = 1001
REPORTER_NAME, REPORTER_USERNAME = "Alicia", "alicia_buys_things"
SELLER = 2002
DECIDER = 7
SECOND = 8
STAFF_GROUP = -1001234567890
PLATFORM_SECRET = "e2e-platform-secret"
BOT_USERNAME = "disputebot_e2e_bot"
STATEMENT = "Order 8161234567890123 was handed to the carrier on 2026-03-02; waybill attached."
FACTS = "The tracking number LP00123456789012 was never scanned by the carrier after 2026-03-02."
APPEAL = "The carrier confirmed on 2026-03-20 that its scanner failed; the parcel was delivered."
GROUNDS = "The carrier's letter of 2026-03-20 shows the parcel was scanned and delivered."
PATIENCE = 30.0  # a bound so a broken build fails instead of hanging; not a performance check

Message = dict[str, Any]


def _catalog(locale: str) -> dict[str, str]:
    path = PROJECT_ROOT / "locales" / locale / "LC_MESSAGES" / "disputebot.po"
    with path.open("rb") as fh:
        return {str(m.id): str(m.string) for m in read_po(fh, locale=locale) if m.id}


EN, ZH = _catalog("en"), _catalog("zh_Hans")


def lead(catalog: dict[str, str], msgid: str) -> str:
    """The fixed text a message starts with, before its first placeholder."""
    return catalog[msgid].split("{", 1)[0].strip()


def says(part: str) -> Callable[[Message], bool]:
    return lambda m: part.lower() in str(m["text"]).lower()


async def seen(chat: TestUser | TestChat, predicate: Callable[[Message], bool]) -> Message:
    return await chat.wait_for(predicate, timeout=PATIENCE)


@pytest.fixture
async def platform() -> AsyncIterator[FakePlatform]:
    async with FakePlatform(PLATFORM_SECRET) as fake:
        yield fake


@pytest.fixture
async def fair_bot(
    telegram: FakeBotApi, platform: FakePlatform, tmp_path: Path, framework: str, mode: str
) -> AsyncIterator[RunningBot]:
    settings = settings_for(
        telegram,
        tmp_path,
        framework,
        mode,
        admin_ids=[DECIDER, SECOND],
        staff_chat_id=STAFF_GROUP,
        bot_username=BOT_USERNAME,
        platform_webhook_url=platform.url,
        platform_webhook_secret=SecretStr(PLATFORM_SECRET),
    )
    running = await start_bot(settings)
    try:
        yield running
    finally:
        await running.shutdown()


@pytest.mark.parametrize(("framework", "mode"), [("ptb", "polling"), ("aiogram", "webhook")])
async def test_both_parties_from_claim_link_to_reversed_appeal(
    fair_bot: RunningBot, telegram: FakeBotApi, platform: FakePlatform
) -> None:
    reporter = telegram.user(
        REPORTER, REPORTER_NAME, username=REPORTER_USERNAME, language_code="en"
    )
    seller = telegram.user(SELLER, "Shop owner", language_code="zh-hans")
    decider = telegram.user(DECIDER, "Sam", language_code="en")
    second = telegram.user(SECOND, "Kim", language_code="en")
    group = telegram.group(STAFF_GROUP, "Trust & safety")

    # Staff make a claim link for the store; the seller opens it and is linked.
    await decider.send_text(f"/claimlink {STORE}")
    created = await seen(decider, says(f"t.me/{BOT_USERNAME}?start=claim_"))
    token = re.search(r"start=(claim_[A-Za-z0-9_-]+)", created["text"])
    assert token is not None
    assert len(token.group(1)) <= 64
    await seller.send_text(f"/start {token.group(1)}")
    await seen(seller, says(lead(ZH, "party.claim.linked")))

    # The buyer files a report; the seller is told, in Chinese, without who filed it.
    case_id, announced = await file_case(reporter, group)
    notice = await seen(seller, lambda m: case_id in m["text"])
    assert lead(ZH, "party.notice") in notice["text"]

    # The seller answers with a statement; staff see it on the card.
    await seller.press(notice, ZH["party.notice.answer_button"])
    await seen(seller, says(lead(ZH, "statement.text.prompt")))
    await seller.send_text(STATEMENT)
    await seen(seller, says(lead(ZH, "statement.files.prompt")))
    await seller.send_text("/done")
    summary = await seen(seller, lambda m: ZH["statement.submit"] in labels(m))
    await seller.press(summary, ZH["statement.submit"])
    await seen(seller, says(lead(ZH, "party.statement.sent")))

    # The decider takes the case from the group, sees the statement, and upholds.
    await group.press(decider, announced, "Take")
    card = await seen(decider, lambda m: is_card(m) and "In review" in m["text"])
    assert STATEMENT in card["text"]
    await decider.press(card, "Uphold")
    await decider.press(await seen(decider, says("which measures")), "Restrict the account")
    await decider.press(await seen(decider, says("which measures")), "Done")
    await decider.press(await seen(decider, says(lead(EN, "review.uphold.duration.prompt"))), "30")
    await seen(decider, says(lead(EN, "review.facts.prompt")))
    await decider.send_text(FACTS)
    await decider.press(await seen(decider, says("uphold the report")), "Confirm")
    await seen(decider, says("is now Upheld"))

    # Each side gets a statement of reasons in their own language.
    for_reporter = await seen(reporter, says(lead(EN, "sor.upheld.reporter")))
    assert case_id in for_reporter["text"]
    assert FACTS in for_reporter["text"]
    assert "Restrict the account's functions" in for_reporter["text"]
    assert "30 days" in for_reporter["text"]
    for_seller = await seen(seller, says(lead(ZH, "sor.upheld.party")))
    assert FACTS in for_seller["text"]
    assert ZH["sor.appeal.button"] in labels(for_seller)

    # The seller appeals from the button under their statement.
    await seller.press(for_seller, ZH["sor.appeal.button"])
    await seen(seller, says(lead(ZH, "appeal.reason.prompt")))
    await seller.send_text(APPEAL)
    await seen(seller, says(lead(ZH, "appeal.files.prompt")))
    await seller.send_text("/done")
    summary = await seen(seller, lambda m: ZH["appeal.submit"] in labels(m))
    await seller.press(summary, ZH["appeal.submit"])
    await seen(seller, says(lead(ZH, "appeal.filed")))
    await seen(reporter, says(lead(EN, "appeal.other.reporter")))

    # The decider cannot take the appeal; a second reviewer takes it and reverses.
    appeal_alert = await seen(group, says(lead(EN, "appeal.staff.new")))
    assert case_id in appeal_alert["text"]
    await group.press(decider, appeal_alert, "Take")
    await seen(decider, says("appeal against your own decision"))
    await group.press(second, appeal_alert, "Take")
    card = await seen(second, lambda m: is_card(m) and "Under appeal" in m["text"])
    await second.press(card, "Reverse")
    await seen(second, says(lead(EN, "review.appeal.grounds.prompt")))
    await second.send_text(GROUNDS)
    await second.press(await seen(second, says("reverse the decision")), "Confirm")
    await seen(second, says("is now Rejected"))

    # Both sides are told; the platform hears of the reversal with the lifted measure.
    reversed_for_reporter = await seen(reporter, says(lead(EN, "sor.appeal_reversed.reporter")))
    assert GROUNDS in reversed_for_reporter["text"]
    assert "Restrict the account's functions" in reversed_for_reporter["text"]
    reversed_for_seller = await seen(seller, says(lead(ZH, "sor.appeal_reversed.party")))
    assert GROUNDS in reversed_for_seller["text"]
    events: list[Any] = []
    for count in range(1, 20):
        events = [e.json for e in await platform.wait_for(count, timeout=PATIENCE)]
        if any(e["type"] == "case.reverse" for e in events):
            break
    reversal = next(e for e in events if e["type"] == "case.reverse")
    assert reversal["case_id"] == case_id
    assert reversal["status"] == "rejected"
    assert reversal["decision"]["lifted_measures"] == ["restrict_functions"]

    # The store: the decision reversed, four statements kept, the seller's evidence source.
    async with fair_bot.app.uow_factory() as uow:
        case = await uow.cases.get(case_id)
        statements = await uow.cases.statements(case_id)
    assert case is not None
    assert case.status is Status.REJECTED
    assert case.decision["reason"] == "reversed_on_appeal"
    assert [(s.audience, s.kind, s.locale) for s in statements] == [
        (Audience.REPORTER, "decision", "en"),
        (Audience.PARTY, "decision", "zh_Hans"),
        (Audience.REPORTER, "appeal", "en"),
        (Audience.PARTY, "appeal", "zh_Hans"),
    ]

    # Nothing the seller received names the reporter, and no evidence file reached them.
    reporter_marks = (REPORTER_NAME, REPORTER_USERNAME, str(REPORTER))
    to_seller = [
        c for c in telegram.calls if str(c.params.get("chat_id")) == str(SELLER) and c.status
    ]
    assert to_seller, "the seller was sent messages"
    for call in to_seller:
        sent = json.dumps(call.params, ensure_ascii=False)
        assert not any(mark in sent for mark in reporter_marks), sent
        assert call.method in {"sendMessage", "editMessageReplyMarkup", "editMessageText"}
    for event in events:
        body = json.dumps(event, ensure_ascii=False)
        assert not any(mark in body for mark in reporter_marks), body
    assert telegram.internal_errors == []
