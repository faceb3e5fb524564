"""The bad-input catalogue: each kind of hostile or broken input, over real HTTP.

Every test runs the bot on its default framework (python-telegram-bot, long polling) against
the fake Bot API server and checks two things: the user gets a clear answer, and nothing that
should not change did (the stored session, the case rows, the evidence on disk).

What "clean" means for invisible characters, decided here: zero-width and bidi-control
characters never reach an account key, a display name or a file name; a description is stored
exactly as typed (nothing the user gave is lost, and staff see what was sent), but no message
the bot sends ever carries a bidi embedding, override or isolate character taken from user input,
so user text cannot reorder the bot's own words around it.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text as sql

from disputebot.ports import ChatKey
from disputebot.testing.fake_bot_api import FakeBotApi, TestUser
from tests.e2e.conftest import RunningBot, settings_for, start_bot
from tests.e2e.test_report_flow import (
    FACTS,
    STORE,
    asks_account,
    asks_description,
    asks_evidence,
    has_buttons,
    labels,
    reach_evidence,
)
from tests.support import elf_bytes, pdf_bytes, png_bytes, sha

Message = dict[str, Any]

# Bidi embeddings, overrides and isolates: the characters that reorder text around them.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
RLO, PDF, LRI, PDI, ZWSP, ZWJ, BOM = (
    "\u202e",
    "\u202c",
    "\u2066",
    "\u2069",
    "\u200b",
    "\u200d",
    "\ufeff",
)


@pytest.fixture
async def bot(telegram: FakeBotApi, tmp_path: Path) -> AsyncIterator[RunningBot]:
    """The bot as shipped: python-telegram-bot, long polling."""
    running = await start_bot(settings_for(telegram, tmp_path, "ptb", "polling"))
    try:
        yield running
    finally:
        await running.shutdown()


# --- helpers ---------------------------------------------------------------------------------


async def stored(bot: RunningBot, user: TestUser) -> tuple[str, int] | None:
    """The user's session as stored (its JSON and revision), or None."""
    async with bot.app.uow_factory() as uow:
        row = await uow.sessions.get(ChatKey("telegram", user.id))
    return (row.data, row.revision) if row is not None else None


async def answers(bot: RunningBot, user: TestUser) -> dict[str, Any]:
    row = await stored(bot, user)
    assert row is not None, "the draft is gone"
    return dict(json.loads(row[0])["answers"])


async def count_rows(bot: RunningBot, table: str) -> int:
    async with bot.app.engine.connect() as conn:
        return int((await conn.execute(sql(f"SELECT count(*) FROM {table}"))).scalar_one())


async def tables(bot: RunningBot) -> dict[str, int]:
    """Every table with its row count."""
    async with bot.app.engine.connect() as conn:
        names = (
            await conn.execute(sql("SELECT name FROM sqlite_master WHERE type = 'table'"))
        ).scalars()
        return {
            name: int((await conn.execute(sql(f'SELECT count(*) FROM "{name}"'))).scalar_one())
            for name in list(names)
        }


async def settled(user: TestUser, seconds: float = 0.4) -> list[Message]:
    """The inbox once the bot has been quiet for a moment (nothing more is on its way)."""
    while True:
        count = len(user.inbox)
        await asyncio.sleep(seconds)
        if len(user.inbox) == count:
            return list(user.inbox)


def no_bidi_anywhere(user: TestUser) -> None:
    for message in user.inbox:
        assert not BIDI_CONTROLS.search(message["html"] or ""), message["html"]
        for row in message["buttons"]:
            for button in row:
                assert not BIDI_CONTROLS.search(button["text"]), button


def user_entities(message: Message) -> list[str]:
    """Formatting entities in a bot message (it sends plain escaped text: there are none)."""
    return [e["type"] for e in message.get("entities") or []]


async def reach_account(user: TestUser) -> Message:
    await user.send_text("/report")
    await user.press(await user.wait_for(has_buttons), "Other")
    return await user.wait_for(asks_account)


async def reach_description(user: TestUser) -> Message:
    await reach_account(user)
    await user.send_text(STORE)
    return await user.wait_for(asks_description)


async def reach_summary(user: TestUser, account: str, description: str) -> Message:
    await reach_account(user)
    await user.send_text(account)
    await user.wait_for(asks_description)
    await user.send_text(description)
    await user.wait_for(asks_evidence)
    await user.send_photo(png_bytes(secrets.randbelow(250)))
    await user.press(await user.wait_for(lambda m: "Done" in labels(m)), "Done")
    return await user.wait_for(lambda m: any("submit" in label for label in labels(m)))


# --- invisible characters --------------------------------------------------------------------


async def test_invisible_characters_never_reach_an_account_key(
    bot: RunningBot, telegram: FakeBotApi
) -> None:
    ann = telegram.user(2001, language_code="en")
    await reach_account(ann)
    await ann.send_text(f"{BOM}Best{ZWSP}Gadget{RLO} Store{PDF}{LRI}{PDI}")
    noted = await ann.wait_for(lambda m: "Noted" in m["text"])
    assert "“BestGadget Store”" in noted["text"]
    account = (await answers(bot, ann))["account"]
    assert account["key"] == "aliexpress:seller:bestgadget store"
    assert account["display"] == "BestGadget Store"
    assert not INVISIBLE.search(account["source"])

    ben = telegram.user(2002, language_code="en")
    await reach_account(ben)
    await ben.send_text(f"aliexpress.com/store/110{ZWSP}2345{ZWJ}678{RLO}")
    await ben.wait_for(asks_description)
    account = (await answers(bot, ben))["account"]
    assert account["key"] == "aliexpress:store:1102345678"
    assert not INVISIBLE.search(json.dumps(account, ensure_ascii=False))
    no_bidi_anywhere(ann)
    no_bidi_anywhere(ben)


async def test_bidi_override_in_a_description_is_kept_but_never_echoed(
    bot: RunningBot, telegram: FakeBotApi
) -> None:
    cleo = telegram.user(2003, language_code="en")
    # Right-to-left override: "…and then the seller said gnipmihs" displays reversed.
    description = f"{FACTS} Shown to me as {RLO}gnippihs detsurt{PDF} and {LRI}kept{PDI}."
    summary = await reach_summary(cleo, STORE, description)
    assert (await answers(bot, cleo))["description"] == description, "stored as typed"
    assert "gnippihs detsurt" in summary["text"]
    no_bidi_anywhere(cleo)


async def test_zero_width_characters_do_not_hide_an_insult(
    bot: RunningBot, telegram: FakeBotApi
) -> None:
    dina = telegram.user(2004, language_code="en")
    await reach_description(dina)
    before = await stored(bot, dina)
    await dina.send_text(f"{FACTS} The seller is an id{ZWSP}i{RLO}ot.")
    refusal = await dina.wait_for(
        lambda m: "rephrase" in m["text"].lower() or "quote" in m["text"]
    )
    assert "idiot" in INVISIBLE.sub("", refusal["text"]), "the flagged words are quoted"
    assert "description" not in await answers(bot, dina)
    assert await stored(bot, dina) == before, "a refused description changes nothing"
    no_bidi_anywhere(dina)


# --- size ------------------------------------------------------------------------------------


async def test_text_over_4096_characters(bot: RunningBot, telegram: FakeBotApi) -> None:
    eve = telegram.user(2005, language_code="en")
    await eve.send_text("A" * 5000)
    idle = await eve.wait_for()
    assert "no report in progress" in idle["text"]
    assert await stored(bot, eve) is None

    await reach_account(eve)
    before = await stored(bot, eve)
    await eve.send_text("Seller " + "x" * 4200)
    too_long = await eve.wait_for(lambda m: "Which seller" in m["text"])
    assert "long" in too_long["text"].lower()
    assert await stored(bot, eve) == before

    await eve.send_text(STORE)
    await eve.wait_for(asks_description)
    before = await stored(bot, eve)
    long_text = (FACTS + " ") * 40  # about 8,000 characters
    await eve.send_text(long_text)
    refusal = await eve.wait_for(lambda m: "too long" in m["text"])
    said = refusal["text"].replace(",", "")
    assert f"{len(long_text.strip())} characters" in said
    assert "the limit is 3000" in said
    assert FACTS not in refusal["text"], "the refused text is not echoed back"
    assert await stored(bot, eve) == before
    assert all(len(m["text"]) <= 4096 for m in await settled(eve))


# --- injection -------------------------------------------------------------------------------


async def test_html_and_markdown_are_echoed_only_as_text(
    bot: RunningBot, telegram: FakeBotApi
) -> None:
    finn = telegram.user(2006, language_code="en")
    name = "<b>Mega</b> *Deals*"
    injection = (
        '<b>bold</b> <i>it</i> <a href="http://evil.example/x">click</a> *bold* _it_ '
        "[x](http://evil.example/y) `code` <tg-spoiler>s</tg-spoiler> &amp; &lt;"
    )
    summary = await reach_summary(finn, name, f"{FACTS} {injection}")
    assert injection in summary["text"], "shown exactly as typed"
    assert f"“{name}”" in summary["text"]
    assert "&lt;b&gt;bold&lt;/b&gt;" in summary["html"]
    assert "&amp;amp;" in summary["html"]
    for message in finn.inbox:
        assert message["parse_mode"] == "HTML"
        assert not {"bold", "italic", "text_link", "code", "spoiler"} & set(
            user_entities(message)
        ), message["text"]
    assert (await answers(bot, finn))["account"]["display"] == name


async def test_sql_looking_text_is_stored_verbatim_and_harmless(
    bot: RunningBot, telegram: FakeBotApi
) -> None:
    gina = telegram.user(2007, language_code="en")
    schema = set(await tables(bot))
    name = "Robert'); DROP TABLE cases; --"
    description = f"{FACTS} Reference: x' OR '1'='1'; DELETE FROM sessions; --"
    summary = await reach_summary(gina, name, description)
    await gina.press(summary, "submit")
    receipt = await gina.wait_for(lambda m: "DR-" in m["text"])
    case_id = next(w for w in receipt["text"].split() if w.startswith("DR-"))[:11]
    async with bot.app.uow_factory() as uow:
        case = await uow.cases.get(case_id)
    assert case is not None
    assert case.account["display"] == name
    assert case.account_key == "aliexpress:seller:" + name.casefold()
    assert case.description == description
    after = await tables(bot)
    assert set(after) == schema, "no table was dropped"
    assert after["cases"] == 1
    assert after["sessions"] == 0, "the draft became the case"

    # Typed where a store id is expected, by someone else: a name like any other.
    hank = telegram.user(2008, language_code="en")
    await reach_account(hank)
    await hank.send_text("1; DROP TABLE sessions; SELECT 1")
    await hank.wait_for(asks_description)
    assert (await answers(bot, hank))["account"]["display"] == "1; DROP TABLE sessions; SELECT 1"
    after = await tables(bot)
    assert set(after) == schema
    assert (after["cases"], after["sessions"]) == (1, 1)


# --- files -----------------------------------------------------------------------------------


async def test_path_traversal_in_a_file_name(
    bot: RunningBot, telegram: FakeBotApi, tmp_path: Path
) -> None:
    ivy = telegram.user(2009, language_code="en")
    await reach_evidence(ivy)
    data = png_bytes(77)
    await ivy.send_document(data, file_name="../../etc/passwd.png", mime_type="image/png")
    await ivy.wait_for(lambda m: "1 file added" in m["text"])
    await ivy.send_document(
        png_bytes(78), file_name="..\\..\\Windows\\win.ini\x00.png", mime_type="image/png"
    )
    ack = await ivy.wait_for(lambda m: "2 files added" in m["text"])
    (first, second) = (await answers(bot, ivy))["evidence"]
    assert first["name"] == "passwd.png"
    assert second["name"] == "win.ini_.png"
    evidence_dir = (tmp_path / "evidence").resolve()
    for item, content in ((first, data), (second, png_bytes(78))):
        path = Path(item["stored_path"]).resolve()
        assert path.is_relative_to(evidence_dir)
        assert path.name == item["sha256"] == sha(content)
        assert path.read_bytes() == content
    written = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
    assert not [n for n in written if "passwd" in n or "win.ini" in n], written
    await ivy.press(ack, "Done")
    summary = await ivy.wait_for(lambda m: any("submit" in label for label in labels(m)))
    assert "passwd.png" in summary["text"]
    assert "../" not in summary["text"]
    assert "..\\" not in summary["text"]


DISGUISED = {
    "executable": (elf_bytes(), "receipt.png", "image/png"),
    "html": (
        b"<!DOCTYPE html><html><body><script>fetch('//evil.example')</script></body></html>",
        "tracking.png",
        "image/png",
    ),
    "svg-with-script": (
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        b"<script>alert(document.cookie)</script><rect width='10' height='10'/></svg>",
        "chart.svg",
        "image/svg+xml",
    ),
}


@pytest.mark.parametrize("kind", sorted(DISGUISED))
async def test_a_file_whose_bytes_are_not_an_image_is_refused(
    bot: RunningBot, telegram: FakeBotApi, kind: str
) -> None:
    data, name, mime = DISGUISED[kind]
    jay = telegram.user(2010, language_code="en")
    await reach_evidence(jay)
    before = await stored(bot, jay)
    await jay.send_document(data, file_name=name, mime_type=mime)
    refusal = await jay.wait_for(lambda m: "wasn't added" in m["text"])
    assert f"“{name}”" in refusal["text"]
    assert "isn't a photo, screenshot or PDF" in refusal["text"]
    assert "<script>" not in refusal["html"]
    assert await stored(bot, jay) == before


async def test_a_100_mb_document_is_refused_without_being_downloaded(
    bot: RunningBot, telegram: FakeBotApi
) -> None:
    kim = telegram.user(2011, language_code="en")
    await reach_evidence(kim)
    before = await stored(bot, kim)
    update = await kim.send_document(
        pdf_bytes(), file_name="scan.pdf", mime_type="application/pdf", declared_size=100 << 20
    )
    file_id = update["message"]["document"]["file_id"]
    refusal = await kim.wait_for(lambda m: "wasn't added" in m["text"])
    assert "“scan.pdf”" in refusal["text"]
    assert "larger than 20 MB" in refusal["text"]
    assert await stored(bot, kim) == before
    fetched = [c for c in telegram.calls if c.method == "getFile"]
    assert not [c for c in fetched if c.params.get("file_id") == file_id], "it was never fetched"


async def test_a_document_too_big_to_fetch_without_a_declared_size(
    bot: RunningBot, telegram: FakeBotApi
) -> None:
    """Telegram may omit ``file_size``; getFile then refuses a file over 20 MB."""
    lea = telegram.user(2012, language_code="en")
    await reach_evidence(lea)
    before = await stored(bot, lea)
    update = await lea.send_document(pdf_bytes(), file_name="big.pdf", declared_size=30 << 20)
    # The returned update is the queued one, and the bot has not read it yet (no await since).
    del update["message"]["document"]["file_size"]
    refusal = await lea.wait_for(lambda m: "big.pdf" in m["text"])
    assert "couldn't be downloaded" in refusal["text"]
    assert "send your evidence" in refusal["text"], "and the question is asked again"
    assert await stored(bot, lea) == before
    fetched = [c for c in telegram.calls if c.method == "getFile"]
    assert [c.status for c in fetched] == [400], "Telegram refused it; the bot said so"


async def test_fifty_files_in_one_album(bot: RunningBot, telegram: FakeBotApi) -> None:
    max_files = 10
    mo = telegram.user(2013, language_code="en")
    await reach_evidence(mo)
    base = len(mo.inbox)
    images = [png_bytes(i, size=2) for i in range(50)]
    await mo.send_album(images)
    ack = await mo.wait_for(lambda m: f"{max_files} files added so far" in m["text"], timeout=30)
    inbox = await settled(mo, 0.6)
    assert len(inbox) == base + 1, "one acknowledgement for the whole album"
    assert f"at most {max_files} files" in ack["text"]
    assert len(ack["text"]) <= 4096
    kept = (await answers(bot, mo))["evidence"]
    assert [k["sha256"] for k in kept] == [sha(i) for i in images[:max_files]]


# --- buttons ---------------------------------------------------------------------------------


async def test_stale_and_forged_callback_data(bot: RunningBot, telegram: FakeBotApi) -> None:
    # Nick gets as far as the summary: his buttons are valid for his session only.
    nick = telegram.user(2014, language_code="en")
    nicks_summary = await reach_summary(nick, STORE, FACTS)
    submit = next(
        b["callback_data"]
        for row in nicks_summary["buttons"]
        for b in row
        if "submit" in b["text"]
    )
    olga = telegram.user(2015, language_code="en")
    await olga.send_text("/report")
    category = await olga.wait_for(has_buttons)
    old = next(b["callback_data"] for row in category["buttons"] for b in row)
    await olga.press(category, "Other")
    current = await olga.wait_for(asks_account)
    forged = [
        old,  # her own button, already answered
        submit,  # another user's "submit" button
        "hello",
        secrets.token_hex(32),  # 64 bytes of junk
        "ä" * 32,  # 64 bytes, not ASCII
        "999999999:s",
        "1:e:../../etc",
        "0:o:fake_logistics'; --",
        "lang:xx",
        "",
    ]
    before = await stored(bot, olga)
    for data in forged:
        await olga.press_data(current, data)
        reply = await olga.wait_for(lambda m: "no longer active" in m["text"].lower())
        assert "Which seller" in reply["text"], "the current question is asked again"
        assert await stored(bot, olga) == before, data
    assert await count_rows(bot, "cases") == 0
    assert len({a.callback_query_id for a in telegram.callback_answers}) >= len(forged)

    # With no draft at all, a forged press is told so and creates nothing.
    pat = telegram.user(2016, language_code="en")
    await pat.send_text("/help")
    help_message = await pat.wait_for()
    await pat.press_data(help_message, submit)
    idle = await pat.wait_for(lambda m: "no report in progress" in m["text"])
    assert idle
    assert await stored(bot, pat) is None
    assert await count_rows(bot, "cases") == 0


# --- commands --------------------------------------------------------------------------------


async def test_commands_with_arguments_of_the_wrong_type(
    bot: RunningBot, telegram: FakeBotApi
) -> None:
    quinn = telegram.user(2017, language_code="en")
    await quinn.send_text("/language 123")
    menu = await quinn.wait_for(has_buttons)
    assert "isn't available" in menu["text"]
    assert await stored(bot, quinn) is None
    async with bot.app.uow_factory() as uow:
        assert await uow.reporters.locale(ChatKey("telegram", quinn.id)) == "en"

    await quinn.send_text("/start ../../")
    category = await quinn.wait_for(has_buttons)
    assert not [m for m in quinn.inbox if "../" in m["text"]], "the argument is not echoed"
    assert (await answers(bot, quinn)) == {}, "the argument landed nowhere"

    await quinn.press(category, "Other")
    await quinn.wait_for(asks_account)
    before = await stored(bot, quinn)
    for command, expected in (
        ("/report extra words", "Welcome back"),
        ("/start ../../", "Welcome back"),
        ("/language 123", "isn't available"),
        ("/language ' OR 1=1", "isn't available"),
        ("/done 5", "reply with a text message"),
        ("/help me 42", "Here's what I can do"),
        ("/frobnicate --all", "isn't available here"),
        ("/status all", "in progress"),
    ):
        base = len(quinn.inbox)
        await quinn.send_text(command)
        reply = (await quinn.wait_for_count(base + 1))[base]  # the answer to this command
        assert expected in reply["text"], command
        assert await stored(bot, quinn) == before, command
    async with bot.app.uow_factory() as uow:
        assert await uow.reporters.locale(ChatKey("telegram", quinn.id)) == "en"
