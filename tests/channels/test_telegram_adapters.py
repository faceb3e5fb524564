"""Both framework adapters against the fake Bot API: the same updates, the same errors."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from disputebot.channels.telegram.model import BotApi
from disputebot.channels.telegram_aiogram.api import AiogramBotApi
from disputebot.channels.telegram_ptb.api import PtbBotApi
from disputebot.errors import DeliveryError
from disputebot.testing.fake_bot_api import FakeBotApi
from tests.support import pdf_bytes, png_bytes


@pytest.fixture
async def server() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as fake:
        yield fake


@pytest.fixture(params=[PtbBotApi, AiogramBotApi], ids=["ptb", "aiogram"])
async def api(request: pytest.FixtureRequest, server: FakeBotApi) -> AsyncIterator[BotApi]:
    adapter: BotApi = request.param(server.token, server.url)
    await adapter.start()
    try:
        yield adapter
    finally:
        await adapter.close()


async def test_updates_of_every_kind_translate_alike(api: BotApi, server: FakeBotApi) -> None:
    alice = server.user(1001, language_code="zh-hans")
    await alice.send_text("/start claim_abc")
    await alice.send_photo(png_bytes(1))
    await alice.send_document(pdf_bytes(), file_name="order.pdf", mime_type="application/pdf")
    await alice.send_album([png_bytes(2), png_bytes(3)])
    await alice.send_sticker()
    await alice.send_voice()
    await alice.send_location(55.7, 37.6)
    await alice.forward_text("a forwarded line")
    group = server.group(-100555, title="Buyers")
    await group.send_text(alice, "/report")
    updates = await api.get_updates(None, 0)
    kinds = [
        (u.text, len(u.files), u.media_group_id is not None, u.unsupported, u.forwarded)
        for u in updates
    ]
    assert kinds == [
        ("/start claim_abc", 0, False, None, False),
        (None, 1, False, None, False),
        (None, 1, False, None, False),
        (None, 1, True, None, False),
        (None, 1, True, None, False),
        (None, 0, False, "sticker", False),
        (None, 0, False, "voice", False),
        (None, 0, False, "location", False),
        ("a forwarded line", 0, False, None, True),
        ("/report", 0, False, None, False),
    ]
    assert {u.language_code for u in updates} == {"zh-hans"}
    assert [u.chat_type for u in updates][-2:] == ["private", "supergroup"]
    photo = updates[1].files[0]
    assert await api.download(photo.file_id) == png_bytes(1)  # the largest size, not a thumb
    document = updates[2].files[0]
    assert (document.name, document.declared_mime) == ("order.pdf", "application/pdf")
    assert document.size == len(pdf_bytes())


async def test_callbacks_edits_and_webhook_bodies(api: BotApi, server: FakeBotApi) -> None:
    bob = server.user(1002)
    sent = await api.send_text(1002, "Pick <b>one</b>", [[("A", "1:o:a")], [("B", "1:o:b")]])
    message = bob.message(sent)
    assert message is not None
    assert message["text"] == "Pick one"
    update = await bob.press(message, "B")
    edited = await bob.edit_text(await bob.send_text("first"), "second")
    for raw in (update, edited):
        parsed = api.parse_update(raw)
        assert parsed.update_id == raw["update_id"]
    pressed = api.parse_update(update)
    assert (pressed.callback_data, pressed.message_id, pressed.chat_id) == ("1:o:b", sent, 1002)
    assert pressed.callback_id is not None
    await api.answer_callback(pressed.callback_id)
    await api.clear_keyboard(1002, sent)
    assert bob.message(sent)["buttons"] == []  # type: ignore[index]
    assert api.parse_update(edited).edited


@pytest.mark.parametrize(
    ("fault", "retryable", "retry_after"),
    [
        ({"status": 429, "retry_after": 7}, True, 7.0),
        ({"status": 502}, True, None),
        ({"status": 500}, True, None),
        ({"status": 400, "description": "Bad Request: chat not found"}, False, None),
        ({"status": 403, "description": "Forbidden: bot was blocked by the user"}, False, None),
    ],
)
async def test_errors_map_to_delivery_error(
    api: BotApi,
    server: FakeBotApi,
    fault: dict[str, object],
    retryable: bool,
    retry_after: float | None,
) -> None:
    server.user(1003)
    server.fail_next("sendMessage", **fault)  # type: ignore[arg-type]
    with pytest.raises(DeliveryError) as caught:
        await api.send_text(1003, "hello", None)
    assert caught.value.retryable is retryable
    assert caught.value.retry_after == retry_after


async def test_bad_html_is_refused_not_retried(api: BotApi, server: FakeBotApi) -> None:
    server.user(1004)
    with pytest.raises(DeliveryError) as caught:
        await api.send_text(1004, "<b>unclosed", None)
    assert not caught.value.retryable


async def test_commands_and_webhook_calls(api: BotApi, server: FakeBotApi) -> None:
    await api.set_commands([("report", "Report"), ("help", "Help")], "zh")
    assert [c["command"] for c in server.commands_for(language_code="zh")] == ["report", "help"]
    await api.set_webhook("http://127.0.0.1:9/hook", "s3cret")
    await api.delete_webhook()
