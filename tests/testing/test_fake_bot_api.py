"""The fake Bot API server, driven by the real clients: python-telegram-bot, aiogram, raw HTTP.

If these pass, a bot written against either library talks to the fake exactly as it would to
Telegram, and the fake refuses what Telegram refuses.
"""

from __future__ import annotations

import asyncio
import html
import io
import itertools
import json
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiogram
import aiohttp
import pydantic
import pytest
import telegram
from aiogram import Dispatcher, F
from aiogram import types as ag
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.filters import CommandStart
from aiogram.utils.text_decorations import html_decoration
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaDocument,
    InputMediaPhoto,
    ReplyParameters,
)
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from disputebot.testing.fake_bot_api import (
    SECRET_HEADER,
    FakeBotApi,
    HtmlParseError,
    parse_html,
)
from tests.support import pdf_bytes, png_bytes

ALICE, BOB = 1001, 1002
GROUP = -100123


@pytest.fixture
async def server() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as api:
        api.user(ALICE, "Alice", username="alice", language_code="en")
        api.user(BOB, "Bob", language_code="ru")
        api.group(GROUP, title="Buyers")
        yield api


@pytest.fixture
async def ptb(server: FakeBotApi) -> AsyncIterator[telegram.Bot]:
    bot = telegram.Bot(
        server.token, base_url=f"{server.url}/bot", base_file_url=f"{server.url}/file/bot"
    )
    async with bot:
        yield bot


@pytest.fixture
async def aio(server: FakeBotApi) -> AsyncIterator[aiogram.Bot]:
    session = AiohttpSession(api=TelegramAPIServer.from_base(server.url))
    try:
        yield aiogram.Bot(server.token, session=session)
    finally:
        await session.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def ptb_keyboard(*buttons: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(t, callback_data=d)] for t, d in buttons])


def aio_keyboard(*buttons: tuple[str, str]) -> ag.InlineKeyboardMarkup:
    rows = [[ag.InlineKeyboardButton(text=t, callback_data=d)] for t, d in buttons]
    return ag.InlineKeyboardMarkup(inline_keyboard=rows)


async def receiver(
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> tuple[web.AppRunner, str]:
    """A tiny webhook endpoint on 127.0.0.1; returns its runner and URL."""
    app = web.Application()
    app.router.add_post("/hook", handler)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}/hook"


# -- basics and transport ---------------------------------------------------------------


async def test_get_me_through_both_clients(
    server: FakeBotApi, ptb: telegram.Bot, aio: aiogram.Bot
) -> None:
    me = await ptb.get_me()
    assert (me.id, me.is_bot, me.username) == (123456, True, "disputebot_test_bot")
    assert me.can_join_groups is True
    ame = await aio.get_me()
    assert (ame.id, ame.is_bot, ame.username) == (123456, True, "disputebot_test_bot")
    assert await ptb.log_out() is True
    assert await ptb.close() is True
    assert await aio.log_out() is True
    assert await aio.close() is True


async def test_wrong_token_and_unknown_method(
    server: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    async with http.post(f"{server.url}/bot999:wrong/getMe") as resp:
        assert resp.status == 401
        assert await resp.json() == {
            "ok": False,
            "error_code": 401,
            "description": "Unauthorized",
        }
    async with http.post(f"{server.api_url}/sendTelepathy") as resp:
        assert resp.status == 404
        assert (await resp.json())["description"] == "Not Found"
    # Method names are case-insensitive, as on Telegram.
    async with http.get(f"{server.api_url}/GETME") as resp:
        assert (await resp.json())["result"]["id"] == 123456

    bad = telegram.Bot(
        "999:wrong", base_url=f"{server.url}/bot", base_file_url=f"{server.url}/file/bot"
    )
    with pytest.raises(InvalidToken):
        async with bad:
            pass
    await bad.request.shutdown()
    session = AiohttpSession(api=TelegramAPIServer.from_base(server.url))
    try:
        with pytest.raises(TelegramUnauthorizedError):
            await aiogram.Bot("999:wrong", session=session).get_me()
    finally:
        await session.close()


async def test_parameters_arrive_in_every_encoding(
    server: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    markup = {"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}
    send = f"{server.api_url}/sendMessage"
    async with http.get(send, params={"chat_id": str(ALICE), "text": "query"}) as resp:
        assert resp.status == 200
    body = {"chat_id": ALICE, "text": "<b>json</b>", "parse_mode": "HTML", "reply_markup": markup}
    async with http.post(send, json=body) as resp:
        assert (await resp.json())["result"]["entities"][0]["type"] == "bold"
    form = {"chat_id": str(ALICE), "text": "form", "reply_markup": json.dumps(markup)}
    async with http.post(send, data=form) as resp:
        assert resp.status == 200
    data = aiohttp.FormData()
    data.add_field("chat_id", str(ALICE))
    data.add_field("photo", "attach://pic")
    data.add_field("caption", "multipart")
    data.add_field("pic", png_bytes(7), filename="pic.png", content_type="image/png")
    async with http.post(f"{server.api_url}/sendPhoto", data=data) as resp:
        assert (await resp.json())["result"]["caption"] == "multipart"
    alice = server.user(ALICE)
    assert [m["text"] for m in alice.inbox] == ["query", "json", "form", "multipart"]
    assert alice.inbox[2]["buttons"] == [[{"text": "Go", "callback_data": "go"}]]
    async with http.post(send, data={"chat_id": "1001", "text": "x", "reply_markup": "{"}) as r:
        assert r.status == 400
        assert "can't parse reply_markup" in (await r.json())["description"]


async def test_update_and_message_ids(server: FakeBotApi, ptb: telegram.Bot) -> None:
    alice, bob = server.user(ALICE), server.user(BOB)
    a1 = await alice.send_text("one")
    b1 = await bob.send_text("uno")
    a2 = await alice.send_text("two")
    assert [u["update_id"] for u in (a1, b1, a2)] == [1, 2, 3]
    assert [u["message"]["message_id"] for u in (a1, b1, a2)] == [1, 1, 2]
    sent = await ptb.send_message(ALICE, "reply")
    assert sent.message_id == 3  # the bot shares the chat's message counter
    assert a1["message"]["date"] == pytest.approx(time.time(), abs=5)


# -- sending text ---------------------------------------------------------------------------


async def test_send_html_with_keyboard_via_ptb(server: FakeBotApi, ptb: telegram.Bot) -> None:
    alice = server.user(ALICE)
    html = "<b>Case</b> #42 &lt;seller&gt; <i>ready</i> &#128077;"
    keyboard = ptb_keyboard(("Done ✅", "case:42:done"))
    message = await ptb.send_message(ALICE, html, parse_mode="HTML", reply_markup=keyboard)
    assert message.text == "Case #42 <seller> ready 👍"
    assert [(e.type, e.offset, e.length) for e in message.entities] == [
        ("bold", 0, 4),
        ("italic", 18, 5),
    ]
    assert message.from_user is not None
    assert message.from_user.is_bot
    assert message.reply_markup == keyboard
    record = await alice.wait_for(lambda m: "Case" in m["text"], timeout=1)
    assert record["html"] == html
    assert record["parse_mode"] == "HTML"
    assert record["text"] == "Case #42 <seller> ready 👍"
    assert record["buttons"] == [[{"text": "Done ✅", "callback_data": "case:42:done"}]]


async def test_send_html_with_keyboard_via_aiogram(server: FakeBotApi, aio: aiogram.Bot) -> None:
    alice = server.user(ALICE)
    keyboard = aio_keyboard(("Yes", "y"), ("No", "n"))
    message = await aio.send_message(
        ALICE, "Is <u>this</u> right?", parse_mode="HTML", reply_markup=keyboard
    )
    assert message.text == "Is this right?"
    assert message.entities is not None
    assert message.entities[0].type == "underline"
    # aiogram models compare their bound bot too, so compare the data.
    assert message.reply_markup is not None
    assert message.reply_markup.model_dump() == keyboard.model_dump()
    record = alice.inbox[-1]
    assert record["buttons"] == [
        [{"text": "Yes", "callback_data": "y"}],
        [{"text": "No", "callback_data": "n"}],
    ]


BAD_HTML = [
    "1 < 2",
    "Tom & Jerry",
    "<b>unclosed",
    "<b><i>crossed</b></i>",
    "<script>x</script>",
    "<span>no class</span>",
    '<a href="x">no end',
]


@pytest.mark.parametrize("text", BAD_HTML)
async def test_bad_html_is_a_bad_request_in_both_clients(
    server: FakeBotApi, ptb: telegram.Bot, aio: aiogram.Bot, text: str
) -> None:
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await ptb.send_message(ALICE, text, parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await aio.send_message(ALICE, text, parse_mode="HTML")
    assert server.user(ALICE).inbox == []
    # The same text without parse_mode is fine: it is only markup that must be valid.
    assert (await ptb.send_message(ALICE, text)).text == text


async def test_text_limits(server: FakeBotApi, ptb: telegram.Bot, aio: aiogram.Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await ptb.send_message(ALICE, "   ")
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await aio.send_message(ALICE, "<b> </b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await ptb.send_message(ALICE, "x" * 4097)
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await aio.send_message(ALICE, "я" * 4097)
    # The limit counts the text after parsing, so markup does not use it up.
    fits = await ptb.send_message(ALICE, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML")
    assert fits.text is not None
    assert len(fits.text) == 4096


async def test_callback_data_limit(
    server: FakeBotApi, ptb: telegram.Bot, aio: aiogram.Bot
) -> None:
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await ptb.send_message(ALICE, "x", reply_markup=ptb_keyboard(("A", "a" * 65)))
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        # 33 two-byte letters are 66 bytes: the limit is in bytes, not characters.
        await aio.send_message(ALICE, "x", reply_markup=aio_keyboard(("A", "é" * 33)))
    sent = await aio.send_message(ALICE, "x", reply_markup=aio_keyboard(("A", "é" * 32)))
    assert sent.reply_markup is not None


async def test_blocked_and_unknown_chats(
    server: FakeBotApi, ptb: telegram.Bot, aio: aiogram.Bot
) -> None:
    server.block(ALICE)
    with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
        await ptb.send_message(ALICE, "hello?")
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await aio.send_message(ALICE, "hello?")
    with pytest.raises(Forbidden, match=r"(?i)can't initiate conversation"):
        await ptb.send_message(5555, "stranger")
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await aio.send_message(-100999, "nowhere")
    server.unblock(ALICE)
    assert (await ptb.send_message(ALICE, "back")).text == "back"
    # Writing to the bot again unblocks it, as pressing "Restart" does.
    server.block(ALICE)
    await server.user(ALICE).send_text("/start")
    assert (await aio.send_message(ALICE, "welcome back")).text == "welcome back"


async def test_reply_parameters(server: FakeBotApi, ptb: telegram.Bot, aio: aiogram.Bot) -> None:
    update = await server.user(ALICE).send_text("my order 123")
    asked = update["message"]["message_id"]
    reply = await ptb.send_message(ALICE, "noted", reply_parameters=ReplyParameters(asked))
    assert reply.reply_to_message is not None
    assert reply.reply_to_message.text == "my order 123"
    areply = await aio.send_message(ALICE, "again", reply_to_message_id=asked)
    assert areply.reply_to_message is not None
    assert areply.reply_to_message.message_id == asked
    with pytest.raises(BadRequest, match=r"(?i)message to be replied not found"):
        await ptb.send_message(ALICE, "x", reply_parameters=ReplyParameters(999))
    loose = ReplyParameters(999, allow_sending_without_reply=True)
    assert (await ptb.send_message(ALICE, "x", reply_parameters=loose)).reply_to_message is None


# -- media ----------------------------------------------------------------------------------


async def test_photos_documents_and_albums_via_ptb(server: FakeBotApi, ptb: telegram.Bot) -> None:
    alice = server.user(ALICE)
    photo = await ptb.send_photo(
        ALICE, photo=png_bytes(1), caption="<i>proof</i>", parse_mode="HTML"
    )
    assert len(photo.photo) == 3
    assert photo.caption == "proof"
    assert photo.caption_entities[0].type == "italic"
    again = await ptb.send_photo(ALICE, photo=photo.photo[-1].file_id)
    assert again.photo[-1].file_id == photo.photo[-1].file_id
    document = await ptb.send_document(ALICE, document=pdf_bytes(), filename="order.pdf")
    assert document.document is not None
    assert (document.document.file_name, document.document.mime_type) == (
        "order.pdf",
        "application/pdf",
    )
    photos: list[Any] = [
        InputMediaPhoto(png_bytes(2), caption="first"),
        InputMediaPhoto(photo.photo[-1].file_id),
    ]
    album = await ptb.send_media_group(
        ALICE,
        photos,
    )
    assert len(album) == 2
    assert album[0].media_group_id is not None
    assert album[0].media_group_id == album[1].media_group_id
    assert album[0].caption == "first"
    documents: list[Any] = [
        InputMediaDocument(pdf_bytes("a"), filename="a.pdf"),
        InputMediaDocument(b"b" * 10),
    ]
    docs = await ptb.send_media_group(ALICE, documents)
    assert [m.document is not None for m in docs] == [True, True]
    assert [m["method"] for m in alice.inbox] == [
        "sendPhoto",
        "sendPhoto",
        "sendDocument",
        "sendMediaGroup",
        "sendMediaGroup",
        "sendMediaGroup",
        "sendMediaGroup",
    ]
    assert alice.inbox[0]["caption"] == alice.inbox[0]["text"] == "proof"
    assert alice.inbox[2]["document"]["file_name"] == "order.pdf"

    with pytest.raises(BadRequest, match=r"(?i)caption is too long"):
        await ptb.send_photo(ALICE, photo=png_bytes(3), caption="c" * 1025)
    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
        await ptb.send_photo(ALICE, photo="no-such-file-id")
    with pytest.raises(BadRequest, match=r"(?i)can't use file of type Document as Photo"):
        await ptb.send_photo(ALICE, photo=document.document.file_id)


async def test_photos_documents_and_albums_via_aiogram(
    server: FakeBotApi, aio: aiogram.Bot
) -> None:
    photo = await aio.send_photo(
        ALICE, ag.BufferedInputFile(png_bytes(4), "p.png"), caption="evidence"
    )
    assert photo.photo is not None
    assert len(photo.photo) == 3
    document = await aio.send_document(
        ALICE, ag.BufferedInputFile(pdf_bytes(), "order.pdf"), caption="x" * 1024
    )
    assert document.document is not None
    assert document.document.file_name == "order.pdf"
    album = await aio.send_media_group(
        ALICE,
        [
            ag.InputMediaDocument(media=ag.BufferedInputFile(pdf_bytes("1"), "1.pdf")),
            ag.InputMediaDocument(media=document.document.file_id, caption="second"),
        ],
    )
    assert [m.document is not None for m in album] == [True, True]
    assert album[1].caption == "second"
    one: list[Any] = [ag.InputMediaPhoto(media=photo.photo[-1].file_id)]
    with pytest.raises(TelegramBadRequest, match="at least 2"):
        await aio.send_media_group(ALICE, one)
    with pytest.raises(TelegramBadRequest, match="too much messages"):
        await aio.send_media_group(ALICE, one * 11)
    mixed = [*one, ag.InputMediaDocument(media=document.document.file_id)]
    with pytest.raises(TelegramBadRequest, match="can't be mixed"):
        await aio.send_media_group(ALICE, mixed)
    with pytest.raises(TelegramBadRequest, match="caption is too long"):
        await aio.send_photo(ALICE, photo.photo[-1].file_id, caption="y" * 1025)
    assert len(server.user(ALICE).inbox) == 4


async def test_get_file_and_download_in_both_clients(
    server: FakeBotApi, ptb: telegram.Bot, aio: aiogram.Bot, http: aiohttp.ClientSession
) -> None:
    alice = server.user(ALICE)
    image = png_bytes(5, size=16)
    sizes = (await alice.send_photo(image, caption="screenshot"))["message"]["photo"]
    assert len(sizes) == 3
    assert sizes[-1]["width"] == 16
    assert sizes[-1]["height"] == 16
    assert [s["file_size"] for s in sizes] == sorted(s["file_size"] for s in sizes)
    assert len({s["file_id"] for s in sizes}) == 3

    file = await ptb.get_file(sizes[-1]["file_id"])
    assert file.file_size == len(image)
    assert bytes(await file.download_as_bytearray()) == image
    thumb = await ptb.get_file(sizes[0]["file_id"])
    assert bytes(await thumb.download_as_bytearray()) != image
    downloaded = await aio.download(sizes[-1]["file_id"])
    assert isinstance(downloaded, io.BytesIO)
    assert downloaded.getvalue() == image

    pdf = pdf_bytes()
    doc = (await alice.send_document(pdf, file_name="order.pdf", mime_type="application/pdf"))[
        "message"
    ]["document"]
    assert doc["file_size"] == len(pdf)
    afile = await aio.get_file(doc["file_id"])
    assert afile.file_path is not None
    stream = await aio.download_file(afile.file_path)
    assert isinstance(stream, io.BytesIO)
    assert stream.getvalue() == pdf

    huge = await alice.send_document(
        b"%PDF-1.4 tiny", file_name="huge.pdf", declared_size=100 * 1024 * 1024
    )
    huge_id = huge["message"]["document"]["file_id"]
    assert huge["message"]["document"]["file_size"] == 100 * 1024 * 1024
    with pytest.raises(BadRequest, match=r"(?i)file is too big"):
        await ptb.get_file(huge_id)
    with pytest.raises(TelegramBadRequest, match="file is too big"):
        await aio.get_file(huge_id)
    with pytest.raises(BadRequest, match=r"(?i)invalid file_id"):
        await ptb.get_file("nope")
    async with http.get(f"{server.url}/file/bot{server.token}/photos/none.jpg") as resp:
        assert resp.status == 404


# -- editing and deleting ---------------------------------------------------------------


async def test_edit_and_delete_via_ptb(server: FakeBotApi, ptb: telegram.Bot) -> None:
    alice = server.user(ALICE)
    keyboard = ptb_keyboard(("Pick", "pick"))
    sent = await ptb.send_message(ALICE, "Choose", reply_markup=keyboard)
    mid = sent.message_id
    edited = await ptb.edit_message_text("<b>Chosen</b>", ALICE, mid, parse_mode="HTML")
    assert isinstance(edited, telegram.Message)
    assert edited.text == "Chosen"
    assert edited.edit_date is not None
    record = alice.message(mid)
    assert record is not None
    # Telegram drops the keyboard when editMessageText comes without reply_markup.
    assert (record["text"], record["buttons"], record["edited"]) == ("Chosen", [], True)
    assert record["html"] == "<b>Chosen</b>"
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await ptb.edit_message_text("<b>Chosen</b>", ALICE, mid, parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await ptb.edit_message_text("x", ALICE, 999)
    await ptb.edit_message_reply_markup(ALICE, mid, reply_markup=keyboard)
    assert record["buttons"] == [[{"text": "Pick", "callback_data": "pick"}]]
    with pytest.raises(BadRequest, match=r"(?i)exactly the same"):
        await ptb.edit_message_reply_markup(ALICE, mid, reply_markup=keyboard)
    assert await ptb.delete_message(ALICE, mid) is True
    assert record["deleted"] is True
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await ptb.delete_message(ALICE, mid)
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await ptb.edit_message_text("late", ALICE, mid)
    user_message = (await alice.send_text("mine"))["message"]["message_id"]
    with pytest.raises(BadRequest, match=r"(?i)message can't be edited"):
        await ptb.edit_message_text("hijack", ALICE, user_message)


async def test_edit_and_delete_via_aiogram(server: FakeBotApi, aio: aiogram.Bot) -> None:
    sent = await aio.send_message(ALICE, "Step 1", reply_markup=aio_keyboard(("Next", "next")))
    mid = sent.message_id
    same = aio_keyboard(("Next", "next"))
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await aio.edit_message_text(
            text="Step 1", chat_id=ALICE, message_id=mid, reply_markup=same
        )
    edited = await aio.edit_message_text(
        text="Step 2", chat_id=ALICE, message_id=mid, reply_markup=same
    )
    assert isinstance(edited, ag.Message)
    assert edited.text == "Step 2"
    assert edited.reply_markup is not None
    assert edited.reply_markup.model_dump() == same.model_dump()
    cleared = await aio.edit_message_reply_markup(chat_id=ALICE, message_id=mid)
    assert isinstance(cleared, ag.Message)
    assert cleared.reply_markup is None
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await aio.edit_message_reply_markup(chat_id=ALICE, message_id=mid)
    photo = await aio.send_photo(ALICE, ag.BufferedInputFile(png_bytes(), "p.png"), caption="a")
    recaptioned = await aio.edit_message_caption(
        chat_id=ALICE, message_id=photo.message_id, caption="b"
    )
    assert isinstance(recaptioned, ag.Message)
    assert recaptioned.caption == "b"
    with pytest.raises(TelegramBadRequest, match="no text in the message"):
        await aio.edit_message_text(text="t", chat_id=ALICE, message_id=photo.message_id)
    assert await aio.delete_message(ALICE, mid) is True
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await aio.edit_message_text(text="late", chat_id=ALICE, message_id=mid)


# -- callback queries -------------------------------------------------------------------


async def test_callback_queries_answered_once(
    server: FakeBotApi, ptb: telegram.Bot, aio: aiogram.Bot
) -> None:
    alice = server.user(ALICE)
    await ptb.send_message(ALICE, "Ok?", reply_markup=ptb_keyboard(("Yes", "y"), ("No", "n")))
    question = await alice.wait_for(timeout=1)
    await alice.press(question, "Yes")
    (update,) = await ptb.get_updates()
    query = update.callback_query
    assert query is not None
    assert (query.data, query.from_user.id) == ("y", ALICE)
    assert isinstance(query.message, telegram.Message)
    assert query.message.message_id == question["message_id"]
    assert await ptb.answer_callback_query(query.id, text="Noted", show_alert=True) is True
    answer = server.callback_answers[0]
    assert (answer.text, answer.show_alert, answer.data, answer.user_id) == (
        "Noted",
        True,
        "y",
        ALICE,
    )
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await ptb.answer_callback_query(query.id)
    with pytest.raises(BadRequest, match=r"(?i)query id is invalid"):
        await ptb.answer_callback_query("12345")

    await alice.press(question, "no")  # case-insensitive part of the label
    await alice.press_data(question, "forged:data")
    updates = await aio.get_updates(offset=update.update_id + 1)
    queries = [u.callback_query for u in updates if u.callback_query is not None]
    assert [q.data for q in queries] == ["n", "forged:data"]
    assert await aio.answer_callback_query(queries[0].id) is True
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await aio.answer_callback_query(queries[0].id, text="again")
    assert len(server.callback_answers) == 2

    with pytest.raises(LookupError, match="0 buttons"):
        await alice.press(question, "Maybe")
    by_data = await alice.press(question, data="y")
    assert by_data["callback_query"]["data"] == "y"
    await ptb.delete_message(ALICE, question["message_id"])
    with pytest.raises(LookupError, match="deleted"):
        await alice.press(question, "Yes")


# -- commands and small methods ---------------------------------------------------------


async def test_commands_by_scope_and_language(
    server: FakeBotApi, ptb: telegram.Bot, aio: aiogram.Bot
) -> None:
    await ptb.set_my_commands([BotCommand("start", "Start"), BotCommand("report", "Report")])
    await ptb.set_my_commands([BotCommand("start", "Начать")], language_code="ru")
    staff = ag.BotCommandScopeChat(chat_id=GROUP)
    await aio.set_my_commands([ag.BotCommand(command="review", description="Review")], staff)
    assert [c.command for c in await ptb.get_my_commands()] == ["start", "report"]
    ru = await aio.get_my_commands(language_code="ru")
    assert [(c.command, c.description) for c in ru] == [("start", "Начать")]
    assert [c.command for c in await aio.get_my_commands(scope=staff)] == ["review"]
    assert server.commands_for({"type": "chat", "chat_id": GROUP}) == [
        {"command": "review", "description": "Review"}
    ]
    assert len(server.commands) == 3
    assert await aio.delete_my_commands(scope=staff) is True
    assert server.commands_for({"type": "chat", "chat_id": GROUP}) == []
    assert await ptb.delete_my_commands(language_code="ru") is True
    assert await ptb.get_my_commands(language_code="ru") == ()
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await ptb.set_my_commands([BotCommand("Bad Command", "x")])


async def test_menu_button_and_chat_action(
    server: FakeBotApi, ptb: telegram.Bot, aio: aiogram.Bot
) -> None:
    assert isinstance(await ptb.get_chat_menu_button(), telegram.MenuButtonCommands)
    web_app = ag.MenuButtonWebApp(text="Open", web_app=ag.WebAppInfo(url="https://example.org"))
    assert await aio.set_chat_menu_button(chat_id=ALICE, menu_button=web_app) is True
    button = await aio.get_chat_menu_button(chat_id=ALICE)
    assert button.model_dump() == web_app.model_dump()
    assert await ptb.set_chat_menu_button(menu_button=telegram.MenuButtonDefault()) is True
    assert isinstance(await aio.get_chat_menu_button(), ag.MenuButtonCommands)
    assert await ptb.send_chat_action(ALICE, "typing") is True
    assert await aio.send_chat_action(GROUP, "upload_document") is True
    assert server.chat_actions == [(ALICE, "typing"), (GROUP, "upload_document")]
    server.block(ALICE)
    with pytest.raises(TelegramForbiddenError):
        await aio.send_chat_action(ALICE, "typing")


async def test_group_chats(server: FakeBotApi, ptb: telegram.Bot) -> None:
    group = server.group(GROUP)
    small = server.group(-42, title="Small")
    update = await group.send_text(server.user(ALICE), "/report@disputebot_test_bot now")
    message = update["message"]
    assert message["chat"] == {"id": GROUP, "type": "supergroup", "title": "Buyers"}
    assert message["from"]["id"] == ALICE
    assert message["entities"] == [{"type": "bot_command", "offset": 0, "length": 27}]
    assert (await small.send_text(server.user(BOB), "hi"))["message"]["chat"]["type"] == "group"
    await ptb.send_message(GROUP, "New report filed")
    assert [m["text"] for m in group.inbox] == ["New report filed"]
    assert server.user(ALICE).inbox == []


# -- getUpdates -------------------------------------------------------------------------


async def test_get_updates_keeps_updates_until_confirmed(
    server: FakeBotApi, ptb: telegram.Bot
) -> None:
    alice = server.user(ALICE)
    ids = [(await alice.send_text(t))["update_id"] for t in ("/start", "one", "two")]
    first = await ptb.get_updates()
    assert [u.update_id for u in first] == ids
    assert first[0].message is not None
    assert first[0].message.text == "/start"
    assert [u.update_id for u in await ptb.get_updates()] == ids  # nothing confirmed yet
    assert [u.update_id for u in await ptb.get_updates(offset=ids[1])] == ids[1:]
    assert server.updates_pending() == ids[1:]
    assert [u.update_id for u in await ptb.get_updates(offset=ids[1], limit=1)] == ids[1:2]
    assert await ptb.get_updates(offset=ids[2] + 1) == ()
    assert server.updates_pending() == []
    calls = server.get_updates_calls
    assert [c.offset for c in calls] == [None, None, ids[1], ids[1], ids[2] + 1]
    assert calls[0].returned == ids
    assert all(a.time <= b.time for a, b in itertools.pairwise(calls))
    later = await alice.send_text("three")
    assert [u.update_id for u in await ptb.get_updates(offset=-1)] == [later["update_id"]]


async def test_long_poll_waits_for_an_update(
    server: FakeBotApi, aio: aiogram.Bot, http: aiohttp.ClientSession
) -> None:
    started = time.monotonic()
    poll = asyncio.create_task(aio.get_updates(timeout=3))
    await asyncio.sleep(0.2)
    assert not poll.done()
    await server.user(ALICE).send_text("wake up")
    updates = await asyncio.wait_for(poll, 2)
    assert time.monotonic() - started < 1.5
    assert [u.message.text for u in updates if u.message] == ["wake up"]

    started = time.monotonic()
    params = {"offset": str(updates[-1].update_id + 1), "timeout": "0.3"}
    async with http.post(f"{server.api_url}/getUpdates", params=params) as resp:
        assert (await resp.json())["result"] == []
    assert 0.25 < time.monotonic() - started < 2


async def test_second_poller_ends_the_first_with_conflict(
    server: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    url = f"{server.api_url}/getUpdates"

    async def poll(seconds: str) -> tuple[int, dict[str, Any]]:
        async with http.post(url, data={"timeout": seconds}) as resp:
            return resp.status, await resp.json()

    first = asyncio.create_task(poll("3"))
    await asyncio.sleep(0.1)
    assert await poll("0") == (200, {"ok": True, "result": []})
    status, body = await asyncio.wait_for(first, 1)
    assert status == 409
    assert body["description"].startswith("Conflict: terminated by other getUpdates request")


async def test_allowed_updates_filter_new_updates(server: FakeBotApi, aio: aiogram.Bot) -> None:
    alice = server.user(ALICE)
    await aio.send_message(ALICE, "Pick", reply_markup=aio_keyboard(("A", "a")))
    assert await aio.get_updates(allowed_updates=["callback_query"]) == []
    await alice.send_text("ignored: not asked for")
    await alice.press(alice.inbox[0], "A")
    updates = await aio.get_updates()
    assert [u.event_type for u in updates] == ["callback_query"]
    await aio.get_updates(allowed_updates=[])  # back to the default set
    await alice.send_text("seen")
    assert "message" in [u.event_type for u in await aio.get_updates()]


async def test_close_ends_a_pending_long_poll() -> None:
    api = FakeBotApi()
    await api.start()
    async with aiohttp.ClientSession() as http:
        poll = asyncio.create_task(http.post(f"{api.api_url}/getUpdates", data={"timeout": "30"}))
        await asyncio.sleep(0.1)
        started = time.monotonic()
        await api.close()
        assert time.monotonic() - started < 2
        async with await poll as resp:
            assert (await resp.json())["result"] == []


# -- webhook ----------------------------------------------------------------------------


async def test_webhook_push_with_secret_and_retry(
    server: FakeBotApi, ptb: telegram.Bot, aio: aiogram.Bot
) -> None:
    statuses = iter([500, 200, 200])
    received: list[tuple[str | None, int]] = []

    async def hook(request: web.Request) -> web.Response:
        body = await request.json()
        received.append((request.headers.get(SECRET_HEADER), body["update_id"]))
        return web.Response(status=next(statuses))

    runner, url = await receiver(hook)
    try:
        server.webhook_retry_delay = 0.05
        assert await ptb.set_webhook(url, secret_token="s3cret-token_1") is True
        one = (await server.user(ALICE).send_text("one"))["update_id"]
        two = (await server.user(ALICE).send_text("two"))["update_id"]
        await server.wait_until(lambda: not server.updates_pending(), timeout=3)
        deliveries = [(d.update_id, d.status) for d in server.webhook_deliveries]
        assert deliveries == [(one, 500), (one, 200), (two, 200)]
        assert received == [
            ("s3cret-token_1", one),
            ("s3cret-token_1", one),
            ("s3cret-token_1", two),
        ]
        info = await ptb.get_webhook_info()
        assert (info.url, info.pending_update_count) == (url, 0)
        assert info.last_error_message is not None
        assert "500" in info.last_error_message
        ainfo = await aio.get_webhook_info()
        assert ainfo.url == url
        assert ainfo.has_custom_certificate is False
        with pytest.raises(Conflict, match=r"(?i)webhook is active"):
            await ptb.get_updates()
        with pytest.raises(TelegramConflictError, match="webhook is active"):
            await aio.get_updates()
        assert await aio.delete_webhook() is True
        assert await ptb.get_updates() == ()
    finally:
        await runner.cleanup()


async def test_webhook_orders_each_chat_but_not_across_chats(
    server: FakeBotApi, aio: aiogram.Bot
) -> None:
    release = asyncio.Event()
    events: list[tuple[str, str]] = []

    async def hook(request: web.Request) -> web.Response:
        text = (await request.json())["message"]["text"]
        events.append(("start", text))
        if text == "a1":
            await release.wait()
        events.append(("end", text))
        return web.Response()

    runner, url = await receiver(hook)
    try:
        await aio.set_webhook(url, max_connections=5)
        await server.user(ALICE).send_text("a1")
        await server.user(ALICE).send_text("a2")
        await server.user(BOB).send_text("b1")
        await server.wait_until(lambda: ("end", "b1") in events, timeout=2)
        assert ("start", "a2") not in events  # Alice's chat waits for a1
        release.set()
        await server.wait_until(lambda: not server.updates_pending(), timeout=2)
        assert events.index(("end", "a1")) < events.index(("start", "a2"))
    finally:
        release.set()
        await runner.cleanup()


async def test_webhook_connection_errors_are_retried(
    server: FakeBotApi, ptb: telegram.Bot
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again below: nothing listens there
    server.webhook_retry_delay = 0.02
    await server.user(ALICE).send_text("lost?")
    await ptb.set_webhook(f"http://127.0.0.1:{port}/hook")
    await server.wait_until(lambda: len(server.webhook_deliveries) >= 2, timeout=2)
    assert all(d.status is None and d.error for d in server.webhook_deliveries)
    info = await ptb.get_webhook_info()
    assert info.pending_update_count == 1
    assert info.last_error_date is not None
    assert await ptb.delete_webhook(drop_pending_updates=True) is True
    assert server.updates_pending() == []
    with pytest.raises(BadRequest, match=r"(?i)bad webhook"):
        await ptb.set_webhook("https://example.com/hook")


async def test_webhook_answer_may_carry_a_method(server: FakeBotApi, ptb: telegram.Bot) -> None:
    async def hook(request: web.Request) -> web.Response:
        chat = (await request.json())["message"]["chat"]["id"]
        return web.json_response({"method": "sendMessage", "chat_id": chat, "text": "Got it"})

    runner, url = await receiver(hook)
    try:
        await ptb.set_webhook(url)
        await server.user(ALICE).send_text("hello")
        reply = await server.user(ALICE).wait_for(lambda m: m["text"] == "Got it", timeout=2)
        assert reply["method"] == "sendMessage"
        await ptb.delete_webhook()
    finally:
        await runner.cleanup()


# -- update shapes ----------------------------------------------------------------------


def extra_fields(value: object) -> list[dict[str, Any]]:
    """Keys aiogram did not recognise anywhere inside a parsed object."""
    if isinstance(value, pydantic.BaseModel):
        found = [value.model_extra] if value.model_extra else []
        for item in value.__dict__.values():
            found += extra_fields(item)
        return found
    if isinstance(value, list | tuple):
        return [extra for item in value for extra in extra_fields(item)]
    return []


async def test_every_generated_update_parses_in_both_clients(
    server: FakeBotApi, ptb: telegram.Bot, aio: aiogram.Bot
) -> None:
    alice, bob = server.user(ALICE), server.user(BOB)
    group = server.group(GROUP)
    await ptb.send_message(ALICE, "Done?", reply_markup=ptb_keyboard(("Done", "done")))
    question = alice.inbox[0]
    start = await alice.send_text("/start payload")
    updates = [
        start,
        await alice.send_text("plain words", reply_to=question),
        await alice.send_photo(png_bytes(1), caption="one photo"),
        *await alice.send_album([png_bytes(2), png_bytes(3), png_bytes(4)], caption="album"),
        await alice.send_document(pdf_bytes(), file_name="order.pdf", mime_type="application/pdf"),
        await alice.send_sticker(),
        await alice.send_voice(),
        await alice.send_location(55.7, 37.6),
        await alice.edit_text(start, "/start edited"),
        await alice.forward_text("from a chat", from_chat_title="Seller chat"),
        await alice.forward_text("from a channel", from_chat_title="News", from_channel=True),
        await alice.forward_text("from bob", from_user=bob),
        await alice.forward_text("from someone", hidden_user_name="Anon"),
        await alice.press(question, "Done"),
        await alice.press_data(question, "forged:data"),
        await group.send_text(alice, "/report"),
    ]
    server.block(ALICE, notify=True)
    updates.append(server.updates.pending[-1])
    kinds = [next(k for k in u if k != "update_id") for u in updates]
    assert kinds.count("message") == 15
    assert kinds[-4:] == ["callback_query", "callback_query", "message", "my_chat_member"]

    for data in updates:
        assert json.loads(json.dumps(data)) == data
        parsed = telegram.Update.de_json(data, ptb)
        assert parsed.update_id == data["update_id"]
        # Unknown keys would land in api_kwargs: an empty one means the exact Bot API shape.
        assert parsed.api_kwargs == {}
        if parsed.effective_message is not None:
            assert parsed.effective_message.api_kwargs == {}
        assert parsed.effective_user is not None
        assert parsed.effective_user.id == ALICE
        model = ag.Update.model_validate(data, context={"bot": aio})
        assert model.update_id == data["update_id"]
        assert extra_fields(model) == []  # every nested key is a known Bot API field
        assert model.event_type == next(k for k in data if k != "update_id")

    p = [telegram.Update.de_json(u, ptb) for u in updates]
    a = [ag.Update.model_validate(u, context={"bot": aio}) for u in updates]
    m0 = p[0].message
    assert m0 is not None
    assert m0.text == "/start payload"
    assert m0.entities[0].type == "bot_command"
    assert m0.from_user is not None
    assert m0.from_user.language_code == "en"
    assert m0.chat.type == "private"
    assert a[1].message is not None
    assert a[1].message.reply_to_message is not None
    assert a[2].message is not None
    assert a[2].message.photo is not None
    assert len(a[2].message.photo) == 3
    assert a[2].message.caption == "one photo"
    album = [u.message.media_group_id for u in a[3:6] if u.message]
    assert len(set(album)) == 1
    assert album[0] is not None
    doc = p[6].message
    assert doc is not None
    assert doc.document is not None
    assert (doc.document.file_name, doc.document.mime_type) == ("order.pdf", "application/pdf")
    sticker = a[7].message
    assert sticker is not None
    assert sticker.sticker is not None
    assert sticker.sticker.type == "regular"
    assert sticker.sticker.is_animated is False
    assert p[8].message is not None
    assert p[8].message.voice is not None
    location = a[9].message
    assert location is not None
    assert location.location is not None
    assert location.location.latitude == 55.7
    edited = p[10].edited_message
    assert edited is not None
    assert edited.text == "/start edited"
    assert edited.edit_date is not None
    assert edited.message_id == m0.message_id
    origins = [p[i].message.forward_origin for i in range(11, 15)]  # type: ignore[union-attr]
    assert [type(o) for o in origins] == [
        telegram.MessageOriginChat,
        telegram.MessageOriginChannel,
        telegram.MessageOriginUser,
        telegram.MessageOriginHiddenUser,
    ]
    assert isinstance(origins[0], telegram.MessageOriginChat)
    assert origins[0].sender_chat.title == "Seller chat"
    aorigin = a[13].message.forward_origin  # type: ignore[union-attr]
    assert isinstance(aorigin, ag.MessageOriginUser)
    assert aorigin.sender_user.id == BOB
    query = a[15].callback_query
    assert query is not None
    assert query.data == "done"
    assert isinstance(query.message, ag.Message)
    assert query.message.text == "Done?"
    assert p[16].callback_query is not None
    assert p[16].callback_query.data == "forged:data"
    in_group = a[17].message
    assert in_group is not None
    assert in_group.chat.type == "supergroup"
    assert in_group.chat.title == "Buyers"
    member = a[18].my_chat_member
    assert member is not None
    assert member.new_chat_member.status == "kicked"

    # And all of them come through getUpdates intact.
    fetched = await ptb.get_updates()
    assert [u.update_id for u in fetched] == [u["update_id"] for u in updates]


# -- faults -----------------------------------------------------------------------------


@pytest.fixture
def ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    """PTB 22 warns about RetryAfter.retry_after's future type unless opted in."""
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


@pytest.mark.usefixtures("ptb_timedelta")
async def test_fail_next(server: FakeBotApi, ptb: telegram.Bot, aio: aiogram.Bot) -> None:
    server.fail_next("sendMessage")
    with pytest.raises(NetworkError, match="Internal Server Error"):
        await ptb.send_message(ALICE, "x")
    assert (await ptb.send_message(ALICE, "x")).text == "x"
    server.fail_next("SENDMESSAGE", status=502, times=2)
    for _ in range(2):
        with pytest.raises(TelegramServerError, match="Bad Gateway"):
            await aio.send_message(ALICE, "y")
    assert (await aio.send_message(ALICE, "y")).text == "y"
    server.fail_next("sendMessage", status=429, retry_after=3)
    with pytest.raises(RetryAfter, match="3"):
        await ptb.send_message(ALICE, "z")
    server.fail_next("getUpdates", status=429, retry_after=7)
    with pytest.raises(TelegramRetryAfter) as caught:
        await aio.get_updates()
    assert caught.value.retry_after == 7
    server.fail_next("answerCallbackQuery", status=400, description="Bad Request: custom")
    with pytest.raises(BadRequest, match="Custom"):
        await ptb.answer_callback_query("1")
    statuses = [c.status for c in server.calls if c.method == "sendMessage"]
    assert statuses == [500, 200, 502, 502, 200, 429]
    assert [m["text"] for m in server.user(ALICE).inbox] == ["x", "y"]


@pytest.mark.usefixtures("ptb_timedelta")
async def test_rate_limit(server: FakeBotApi, aio: aiogram.Bot, ptb: telegram.Bot) -> None:
    server.rate_limit(per_chat_per_second=1)
    await aio.send_message(ALICE, "first")
    with pytest.raises(TelegramRetryAfter) as caught:
        await aio.send_message(ALICE, "second")
    assert caught.value.retry_after == 1
    await aio.send_message(BOB, "other chat is fine")
    assert server.too_many_requests == 1
    server.rate_limit(global_per_second=2)
    await ptb.send_message(ALICE, "a")
    await ptb.send_message(BOB, "b")
    with pytest.raises(RetryAfter):
        await ptb.send_message(GROUP, "c")
    assert server.too_many_requests == 2
    server.rate_limit()
    for n in range(5):
        await ptb.send_message(ALICE, f"free {n}")


# -- waiting helpers --------------------------------------------------------------------


async def test_wait_for_hands_out_each_message_once(server: FakeBotApi, ptb: telegram.Bot) -> None:
    alice = server.user(ALICE)
    await ptb.send_message(ALICE, "one")
    await ptb.send_message(ALICE, "two")
    assert (await alice.wait_for(lambda m: m["text"] == "two", timeout=1))["text"] == "two"
    assert (await alice.wait_for(timeout=1))["text"] == "one"
    with pytest.raises(TimeoutError, match="no matching bot message"):
        await alice.wait_for(timeout=0.1)
    waiting = asyncio.create_task(alice.wait_for(lambda m: "three" in m["text"], timeout=2))
    await asyncio.sleep(0.05)
    await ptb.send_message(ALICE, "three")
    assert (await waiting)["text"] == "three"
    assert [m["text"] for m in await alice.wait_for_count(3, timeout=1)] == ["one", "two", "three"]
    with pytest.raises(TimeoutError):
        await alice.wait_for_count(4, timeout=0.1)


# -- the HTML parser on its own ---------------------------------------------------------

# Cases from TDLib's own parse_html tests: Telegram's error sentences, byte offsets included.
TDLIB_ERRORS = [
    ("🏟 🏟&lt;<abacaba", "Unclosed start tag at byte offset 13"),
    ("🏟 🏟&lt;<abac aba>", 'Unsupported start tag "abac" at byte offset 13'),
    ("🏟 🏟&lt;<i   =aba>", 'Empty attribute name in the tag "i" at byte offset 13'),
    (
        "🏟 🏟&lt;<i    aba>",
        'Expected equal sign in declaration of an attribute of the tag "i" at byte offset 13',
    ),
    ("🏟 🏟&lt;<i    aba  =  ", 'Unclosed start tag "i" at byte offset 13'),
    ("🏟 🏟&lt;<i    aba  =  190azAz-.,", "Unexpected end of name token at byte offset 27"),
    ('🏟 🏟&lt;<i    aba  =  "&lt;&gt;&quot;>', "Unclosed start tag at byte offset 13"),
    ("🏟 🏟&lt;</", "Unexpected end tag at byte offset 13"),
    ("🏟 🏟&lt;<b></b></", "Unexpected end tag at byte offset 20"),
    ("🏟 🏟&lt;<i>a</i   ", "Unclosed end tag at byte offset 17"),
    (
        "🏟 🏟&lt;<i>a</em   >",
        'Unmatched end tag at byte offset 17, expected "</i>", found "</em>"',
    ),
    ("&#57311;", "Text contains invalid Unicode characters"),
    ("<b>open", 'Can\'t find end tag corresponding to start tag "b"'),
]


@pytest.mark.parametrize(("text", "error"), TDLIB_ERRORS)
def test_html_errors_match_telegram(text: str, error: str) -> None:
    with pytest.raises(HtmlParseError) as caught:
        parse_html(text, strict=False)
    assert str(caught.value).startswith(error)


def test_html_entities_and_offsets_match_telegram() -> None:
    parsed = parse_html("🏟 🏟<i>🏟 &gt;<b aba   =   caba>&lt;🏟</b></i>")
    assert parsed.text == "🏟 🏟🏟 ><🏟"
    assert parsed.entities == [
        {"type": "italic", "offset": 5, "length": 7},
        {"type": "bold", "offset": 9, "length": 3},
    ]
    pre = parse_html('<pre><code class="language-python">x = 1</code></pre>')
    assert pre.entities == [{"type": "pre", "offset": 0, "length": 5, "language": "python"}]
    link = parse_html('<a href="https://t.me/x?a=1&amp;b=2">here</a>')
    assert link.entities[0]["url"] == "https://t.me/x?a=1&b=2"
    spoiler = parse_html('<span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler>')
    assert [e["type"] for e in spoiler.entities] == ["spoiler", "spoiler"]
    assert parse_html("  <b> padded </b>\n").entities == [
        {"type": "bold", "offset": 0, "length": 6}
    ]
    # Telegram shows unknown entities and a bare "&" literally; the strict default refuses.
    lenient = parse_html("&laquo;Tom & Jerry&raquo; &lt", strict=False)
    assert lenient.text == "&laquo;Tom & Jerry&raquo; <"
    for text in ("Tom & Jerry", "&laquo;", "&lt"):
        with pytest.raises(HtmlParseError, match="Unescaped"):
            parse_html(text)


# -- whole frameworks against the fake --------------------------------------------------


async def test_ptb_application_round_trip(server: FakeBotApi) -> None:
    async def start(update: telegram.Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        assert update.effective_user is not None
        name = html.escape(update.effective_user.first_name)
        await update.message.reply_html(
            f"<b>Hi</b> {name}", reply_markup=ptb_keyboard(("Go", "go"))
        )

    async def pressed(update: telegram.Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.callback_query is not None
        await update.callback_query.answer("ok")
        await update.callback_query.edit_message_text("Gone")

    app = (
        Application.builder()
        .token(server.token)
        .base_url(f"{server.url}/bot")
        .base_file_url(f"{server.url}/file/bot")
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(pressed))
    alice = server.user(1003, "<Mallory & co>")
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            await alice.send_text("/start")
            hi = await alice.wait_for(lambda m: m["text"].startswith("Hi"), timeout=3)
            assert hi["text"] == "Hi <Mallory & co>"
            await alice.press(hi, "Go")
            await server.wait_until(lambda: hi["text"] == "Gone", timeout=3)
            assert [a.text for a in server.callback_answers] == ["ok"]
        finally:
            await app.updater.stop()
            await app.stop()
    assert server.updates_pending() == []  # PTB confirms the last offset when it stops


async def test_aiogram_dispatcher_round_trip(server: FakeBotApi) -> None:
    dp = Dispatcher()

    @dp.message(CommandStart())
    async def start(message: ag.Message) -> None:
        assert message.from_user is not None
        name = html_decoration.quote(message.from_user.first_name)
        await message.answer(
            f"<b>Hi</b> {name}", parse_mode="HTML", reply_markup=aio_keyboard(("Go", "go"))
        )

    @dp.callback_query(F.data == "go")
    async def pressed(query: ag.CallbackQuery) -> None:
        await query.answer("ok")
        assert isinstance(query.message, ag.Message)
        await query.message.edit_text("Gone")

    bot = aiogram.Bot(
        server.token, session=AiohttpSession(api=TelegramAPIServer.from_base(server.url))
    )
    polling = asyncio.create_task(
        dp.start_polling(bot, handle_signals=False, polling_timeout=1, close_bot_session=True)
    )
    alice = server.user(1004, "Eve <script>")
    try:
        await alice.send_text("/start")
        hi = await alice.wait_for(lambda m: m["text"].startswith("Hi"), timeout=3)
        assert hi["text"] == "Hi Eve <script>"
        await alice.press(hi, "Go")
        await server.wait_until(lambda: hi["text"] == "Gone", timeout=3)
        assert [a.text for a in server.callback_answers] == ["ok"]
    finally:
        await dp.stop_polling()
        await polling


async def test_abandoned_long_poll_is_harmless(server: FakeBotApi, aio: aiogram.Bot) -> None:
    poll = asyncio.create_task(aio.get_updates(timeout=5))
    await asyncio.sleep(0.1)
    poll.cancel()  # the client gives up; the server still holds the request
    with pytest.raises(asyncio.CancelledError):
        await poll
    await server.user(ALICE).send_text("still here")
    updates = await aio.get_updates()
    assert [u.message.text for u in updates if u.message] == ["still here"]
    assert server.internal_errors == []


async def test_aiogram_webhook_handler_with_secret_and_reply_in_response(
    server: FakeBotApi,
) -> None:
    dp = Dispatcher()

    @dp.message()
    async def echo(message: ag.Message) -> Any:
        # Returning the call (not awaiting it) makes aiogram answer it in the webhook response.
        text = html_decoration.quote(message.text or "")
        return message.answer(f"<i>echo:</i> {text}", parse_mode="HTML")

    bot = aiogram.Bot(
        server.token, session=AiohttpSession(api=TelegramAPIServer.from_base(server.url))
    )
    app = web.Application()
    handler = SimpleRequestHandler(
        dispatcher=dp, bot=bot, secret_token="right", handle_in_background=False
    )
    handler.register(app, path="/hook")
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    url = f"http://{host}:{port}/hook"
    server.webhook_retry_delay = 0.05
    alice = server.user(ALICE)
    try:
        await bot.set_webhook(url, secret_token="wrong")
        await alice.send_text("a < b & c")
        await server.wait_until(lambda: len(server.webhook_deliveries) >= 2, timeout=2)
        assert {d.status for d in server.webhook_deliveries} == {401}  # aiogram refused it
        assert alice.inbox == []
        await bot.set_webhook(url, secret_token="right")
        reply = await alice.wait_for(timeout=3)
        assert reply["text"] == "echo: a < b & c"
        assert reply["html"] == "<i>echo:</i> a &lt; b &amp; c"
        assert server.webhook_deliveries[-1].status == 200
        assert server.updates_pending() == []
        await bot.delete_webhook()
    finally:
        await runner.cleanup()
        await bot.session.close()
