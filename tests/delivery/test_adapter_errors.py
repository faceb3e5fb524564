"""What each Telegram adapter tells the worker, over real HTTP against the fake Bot API."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from disputebot.channels.telegram.model import BotApi
from disputebot.errors import DeliveryError
from disputebot.testing.fake_bot_api import FakeBotApi


@pytest.fixture(params=["ptb", "aiogram"])
async def api(request: pytest.FixtureRequest) -> AsyncIterator[tuple[BotApi, FakeBotApi]]:
    async with FakeBotApi() as server:
        client: BotApi
        if request.param == "aiogram":
            from disputebot.channels.telegram_aiogram.api import AiogramBotApi  # noqa: PLC0415

            client = AiogramBotApi(server.token, server.url)
        else:
            from disputebot.channels.telegram_ptb.api import PtbBotApi  # noqa: PLC0415

            client = PtbBotApi(server.token, server.url)
        await client.start()
        try:
            yield client, server
        finally:
            await client.close()


async def test_a_user_who_blocked_the_bot_is_unreachable(api: tuple[BotApi, FakeBotApi]) -> None:
    client, server = api
    user = server.user(4242)
    server.block(user.id)
    with pytest.raises(DeliveryError) as caught:
        await client.send_text(user.id, "hello", None)
    assert caught.value.unreachable
    assert not caught.value.retryable
    assert caught.value.retry_after is None


async def test_a_user_who_never_started_the_bot_is_unreachable(
    api: tuple[BotApi, FakeBotApi],
) -> None:
    client, _ = api
    with pytest.raises(DeliveryError) as caught:
        await client.send_text(987654, "hello", None)
    assert caught.value.unreachable


async def test_429_and_5xx_are_retryable_and_not_unreachable(
    api: tuple[BotApi, FakeBotApi],
) -> None:
    client, server = api
    user = server.user(4243)
    server.fail_next("sendMessage", 429, retry_after=3)
    with pytest.raises(DeliveryError) as throttled:
        await client.send_text(user.id, "hello", None)
    assert (throttled.value.retryable, throttled.value.retry_after) == (True, 3)
    assert not throttled.value.unreachable
    assert throttled.value.scope is None  # Telegram does not say which limit
    server.fail_next("sendMessage", 502)
    with pytest.raises(DeliveryError) as failed:
        await client.send_text(user.id, "hello", None)
    assert failed.value.retryable
    assert not failed.value.unreachable


async def test_a_bad_request_is_neither_retryable_nor_unreachable(
    api: tuple[BotApi, FakeBotApi],
) -> None:
    client, server = api
    user = server.user(4244)
    with pytest.raises(DeliveryError) as caught:
        await client.send_text(user.id, "<b>unclosed", None)
    assert not caught.value.retryable
    assert not caught.value.unreachable
