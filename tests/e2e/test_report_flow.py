"""The report flow over real HTTP, on python-telegram-bot and aiogram, polling and webhook."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from disputebot.ports import ChatKey
from disputebot.testing.fake_bot_api import FakeBotApi, TestUser
from tests.e2e.conftest import SECRET, RunningBot
from tests.support import pdf_bytes, png_bytes

STORE = "https://www.aliexpress.com/store/1102345678"
FACTS = (
    "Order 8161234567890123 was marked delivered on 2026-03-04, but tracking "
    "LP00123456789012 shows the parcel never left the origin facility. The seller then "
    "opened a dispute claiming I had received it."
)

Message = dict[str, Any]


def asks_account(message: Message) -> bool:
    return "Which seller are you reporting?" in message["text"]


def asks_description(message: Message) -> bool:
    return "describe what happened" in message["text"]


def asks_evidence(message: Message) -> bool:
    return "send your evidence" in message["text"]


def has_buttons(message: Message) -> bool:
    return bool(message["buttons"])


def labels(message: Message) -> list[str]:
    return [b["text"] for row in message["buttons"] for b in row]


async def reach_evidence(user: TestUser) -> Message:
    await user.send_text("/start")
    category = await user.wait_for(has_buttons)
    await user.press(category, "logistics")
    await user.wait_for(asks_account)
    await user.send_text(STORE)
    await user.wait_for(asks_description)
    await user.send_text(FACTS)
    return await user.wait_for(asks_evidence)


async def test_complete_report_with_album_and_pdf(bot: RunningBot, telegram: FakeBotApi) -> None:
    alice = telegram.user(1001, first_name="Alice", language_code="en")
    await reach_evidence(alice)
    before = len(alice.inbox)
    await alice.send_album([png_bytes(1), png_bytes(2), png_bytes(3)])
    ack = await alice.wait_for(lambda m: "3 files added so far" in m["text"])
    await asyncio.sleep(0.5)  # anything else the album caused would have arrived by now
    assert len(alice.inbox) == before + 1, "an album gets one acknowledgement"
    assert "Done" in " ".join(labels(ack))
    await alice.send_document(pdf_bytes(), file_name="order.pdf", mime_type="application/pdf")
    after_pdf = await alice.wait_for(lambda m: "4 files added so far" in m["text"])
    await alice.press(after_pdf, "Done")
    summary = await alice.wait_for(lambda m: "summary" in m["text"].lower())
    assert "1102345678" in summary["text"]
    assert "order.pdf" in summary["text"]
    await alice.press(summary, "submit")
    receipt = await alice.wait_for(lambda m: "DR-" in m["text"])
    case_id = next(w for w in receipt["text"].split() if w.startswith("DR-"))[:11]

    async with bot.app.uow_factory() as uow:
        case = await uow.cases.get(case_id)
    assert case is not None
    assert case.account_key == "aliexpress:store:1102345678"
    assert [e.mime for e in case.evidence] == ["image/png"] * 3 + ["application/pdf"]
    assert all(e.file_id for e in case.evidence)
    pressed = {a.callback_query_id for a in telegram.callback_answers}
    assert len(pressed) == 3  # category, Done, submit: every press answered


async def test_stale_button_says_so_and_shows_the_current_question(
    bot: RunningBot, telegram: FakeBotApi
) -> None:
    bob = telegram.user(1002, language_code="en")
    await bob.send_text("/report")
    category = await bob.wait_for(has_buttons)
    other = next(
        b["callback_data"] for row in category["buttons"] for b in row if b["text"] == "Other"
    )
    await bob.press(category, "logistics")
    await bob.wait_for(asks_account)
    assert not telegram_buttons(bob, category), "an answered question loses its keyboard"
    # A client that still shows the old keyboard (another device, a stale cache) presses it.
    await bob.press_data(category, other)
    stale = await bob.wait_for(lambda m: "no longer active" in m["text"].lower())
    assert "store" in stale["text"].lower()
    async with bot.app.uow_factory() as uow:
        stored = await uow.sessions.get(_chat(bob))
    assert stored is not None
    assert '"category":"fake_logistics"' in stored.data


async def test_cancel_asks_then_discards(bot: RunningBot, telegram: FakeBotApi) -> None:
    carol = telegram.user(1003, language_code="en")
    await reach_evidence(carol)
    await carol.send_text("/cancel")
    ask = await carol.wait_for(lambda m: "discard" in m["text"].lower())
    await carol.press(ask, "Yes")
    await carol.wait_for(lambda m: "discarded" in m["text"].lower())
    async with bot.app.uow_factory() as uow:
        assert await uow.sessions.get(_chat(carol)) is None


async def test_group_chats_point_to_a_private_chat(bot: RunningBot, telegram: FakeBotApi) -> None:
    dave = telegram.user(1004, language_code="en")
    group = telegram.group(-100777, title="Buyers")
    await group.send_text(dave, "just chatting")
    await group.send_text(dave, "/report@some_other_bot")
    await group.send_text(dave, "/report")
    reply = await group.wait_for(lambda m: True)
    assert "private" in reply["text"].lower()
    await asyncio.sleep(0.3)
    assert len(group.inbox) == 1  # the chatter got no answer
    async with bot.app.uow_factory() as uow:
        assert await uow.sessions.get(_chat_id(-100777)) is None


async def test_long_html_description_is_refused_and_never_breaks_a_message(
    bot: RunningBot, telegram: FakeBotApi
) -> None:
    erin = telegram.user(1005, language_code="en")
    await erin.send_text("/report")
    await erin.press(await erin.wait_for(has_buttons), "Other")
    await erin.wait_for(asks_account)
    await erin.send_text(STORE)
    await erin.wait_for(asks_description)
    html_text = '<b>bold</b> <a href="https://evil.example">link</a> & more '
    await erin.send_text((html_text * 80)[:4500])
    refusal = await erin.wait_for(lambda m: "too long" in m["text"].lower() or "4500" in m["text"])
    assert refusal["parse_mode"] == "HTML"
    shorter = FACTS + " " + (html_text * 40)[:2700]
    await erin.send_text(shorter)
    await erin.wait_for(asks_evidence)
    await erin.send_photo(png_bytes(9))
    base = len(erin.inbox)
    await erin.press(await erin.wait_for(lambda m: "Done" in labels(m)), "Done")
    await erin.wait_for(lambda m: any("submit" in label for label in labels(m)))
    shown = "".join(m["text"] for m in erin.inbox[base:])
    assert '<a href="https://evil.example">link</a>' in shown  # shown as text, not markup
    assert all(len(m["text"]) <= 4096 for m in erin.inbox)


async def test_sticker_where_text_is_expected(bot: RunningBot, telegram: FakeBotApi) -> None:
    fay = telegram.user(1006, language_code="en")
    await fay.send_text("/report")
    await fay.press(await fay.wait_for(has_buttons), "Other")
    await fay.wait_for(asks_account)
    await fay.send_sticker()
    told = await fay.wait_for(lambda m: "text" in m["text"].lower())
    assert "store" in told["text"].lower()


async def test_five_quick_messages_are_applied_in_order(
    bot: RunningBot, telegram: FakeBotApi
) -> None:
    gus = telegram.user(1007, language_code="en")
    await gus.send_text("/report")
    await gus.press(await gus.wait_for(has_buttons), "Other")
    await gus.wait_for(asks_account)
    base = len(gus.inbox)
    for text in (STORE, FACTS + " A", "/back", FACTS + " B", "/back"):
        await gus.send_text(text)  # all five are queued before the bot reads any
    await gus.send_text(FACTS + " C")
    await gus.wait_for_count(base + 6, timeout=20)
    async with bot.app.uow_factory() as uow:
        stored = await uow.sessions.get(_chat(gus))
    assert stored is not None
    assert f'"description":"{FACTS} C"' in stored.data
    assert '"step":"evidence"' in stored.data


async def test_webhook_refuses_a_wrong_secret(bot: RunningBot, telegram: FakeBotApi) -> None:
    if bot.settings.mode != "webhook":
        return
    hook = bot.settings.webhook_url or ""
    update = {
        "update_id": 999999,
        "message": {
            "message_id": 1,
            "date": 0,
            "chat": {"id": 1008, "type": "private"},
            "from": {"id": 1008, "is_bot": False, "first_name": "Mallory"},
            "text": "/report",
        },
    }
    async with aiohttp.ClientSession() as http:
        for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": SECRET + "x"}):
            async with http.post(hook, json=update, headers=headers) as response:
                assert response.status == 401
        async with http.get(hook.rsplit("/", 2)[0] + "/healthz") as response:
            assert response.status == 200
    async with bot.app.uow_factory() as uow:
        assert not await uow.updates.seen("telegram", "999999")
        assert await uow.sessions.get(_chat_id(1008)) is None


def telegram_buttons(user: TestUser, message: Message) -> list[str]:
    current = user.message(message["message_id"]) or {}
    return labels(current) if current else []


def _chat(user: TestUser) -> ChatKey:
    return _chat_id(user.id)


def _chat_id(chat_id: int) -> ChatKey:
    return ChatKey("telegram", chat_id)


async def test_album_items_arriving_apart_are_still_one_answer(
    bot: RunningBot, telegram: FakeBotApi
) -> None:
    hal = telegram.user(1009, language_code="en")
    await reach_evidence(hal)
    before = len(hal.inbox)
    group = telegram.new_media_group_id()
    for n in (11, 12, 13):
        await hal.send_photo(png_bytes(n), media_group_id=group)
        await asyncio.sleep(0.2)  # a slow phone uploading an album
    await hal.wait_for(lambda m: "3 files added so far" in m["text"])
    await asyncio.sleep(1.0)  # room for a second acknowledgement, if there were one
    assert len(hal.inbox) == before + 1
