"""Telegram's send limits on the fake Bot API: real HTTP, a stepped flood clock.

The flood clock is injected, so every window and ``retry_after`` below is exact; the requests
themselves still travel over HTTP through aiohttp or python-telegram-bot.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
import telegram
from telegram import InputMediaPhoto
from telegram.error import RetryAfter

from disputebot.testing.fake_bot_api import FakeBotApi, Throttle
from tests.support import png_bytes

ALICE, BOB, CAROL, DAVE = 1001, 1002, 1003, 1004
GROUP = -100123


class SteppedClock:
    """The flood clock: stands still until a test moves it."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> SteppedClock:
    return SteppedClock()


@pytest.fixture
async def server() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as api:
        for user_id in (ALICE, BOB, CAROL, DAVE):
            api.user(user_id)
        api.group(GROUP, title="Buyers")
        yield api


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    """PTB 22 warns about RetryAfter.retry_after's future type unless opted in."""
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


async def send(
    http: aiohttp.ClientSession, server: FakeBotApi, chat_id: int, text: str = "hi"
) -> tuple[int, dict[str, Any]]:
    async with http.post(
        f"{server.api_url}/sendMessage", json={"chat_id": chat_id, "text": text}
    ) as resp:
        return resp.status, json.loads(await resp.text())


def too_many(retry_after: int) -> dict[str, Any]:
    return {
        "ok": False,
        "error_code": 429,
        "description": f"Too Many Requests: retry after {retry_after}",
        "parameters": {"retry_after": retry_after},
    }


async def test_global_limit_answers_429_with_the_time_the_window_needs(
    server: FakeBotApi, http: aiohttp.ClientSession, clock: SteppedClock
) -> None:
    flood = server.enforce_limits(global_per_s=3, per_chat_per_s=None, clock=clock)
    for chat in (ALICE, BOB, CAROL):
        assert (await send(http, server, chat))[0] == 200
        clock.advance(0.125)
    assert await send(http, server, DAVE) == (429, too_many(1))
    # The first send leaves the window 1 s after it was made; the penalty lasts a whole second.
    clock.advance(1.0)
    assert (await send(http, server, DAVE))[0] == 200
    assert flood.throttles == [Throttle(DAVE, "sendMessage", "global", 1, 100.375, False)]
    assert flood.sent == {ALICE: 1, BOB: 1, CAROL: 1, DAVE: 1}
    assert flood.unhonoured == []
    assert server.too_many_requests == 1
    assert [m["text"] for m in server.user(DAVE).inbox] == ["hi"]


async def test_per_chat_limit_holds_one_chat_and_not_the_others(
    server: FakeBotApi, http: aiohttp.ClientSession, clock: SteppedClock
) -> None:
    flood = server.enforce_limits(clock=clock)
    assert (await send(http, server, ALICE))[0] == 200
    clock.advance(0.5)
    assert await send(http, server, ALICE) == (429, too_many(1))
    assert (await send(http, server, BOB))[0] == 200
    assert [(t.chat_id, t.scope, t.retry_after) for t in flood.throttles] == [(ALICE, "chat", 1)]
    assert flood.unhonoured == []


async def test_a_send_before_retry_after_is_unhonoured_and_answered_with_the_time_left(
    server: FakeBotApi, http: aiohttp.ClientSession, clock: SteppedClock
) -> None:
    flood = server.enforce_limits(clock=clock)
    await send(http, server, ALICE)
    clock.advance(0.5)
    assert (await send(http, server, ALICE))[0] == 429  # told: retry after 1 (at 101.5)
    clock.advance(0.75)  # the window has room again, but the bot was told to wait longer
    assert await send(http, server, ALICE) == (429, too_many(1))
    [early] = flood.unhonoured
    assert (early.chat_id, early.scope, early.early_by) == (ALICE, "chat", 0.25)
    clock.advance(0.25)
    assert (await send(http, server, ALICE))[0] == 200
    assert [t.unhonoured for t in flood.throttles] == [False, True]
    assert len(flood.unhonoured) == 1


async def test_after_a_global_429_a_send_to_any_chat_is_unhonoured(
    server: FakeBotApi, http: aiohttp.ClientSession, clock: SteppedClock
) -> None:
    flood = server.enforce_limits(global_per_s=2, clock=clock)
    await send(http, server, ALICE)
    await send(http, server, BOB)
    clock.advance(0.25)
    assert await send(http, server, CAROL) == (429, too_many(1))
    clock.advance(0.5)
    assert (await send(http, server, DAVE))[0] == 429
    assert [(u.chat_id, u.scope) for u in flood.unhonoured] == [(DAVE, "global")]
    clock.advance(0.5)
    assert (await send(http, server, DAVE))[0] == 200
    assert len(flood.unhonoured) == 1


async def test_a_group_gets_twenty_a_minute(
    server: FakeBotApi, http: aiohttp.ClientSession, clock: SteppedClock
) -> None:
    flood = server.enforce_limits(clock=clock)
    for _ in range(20):
        assert (await send(http, server, GROUP))[0] == 200
        clock.advance(1.0)
    # The first of the twenty leaves the minute window at 160.0; it is 120.0 now.
    assert await send(http, server, GROUP) == (429, too_many(40))
    assert (await send(http, server, ALICE))[0] == 200
    assert flood.throttles[-1].scope == "group"
    clock.advance(40.0)
    assert (await send(http, server, GROUP))[0] == 200
    assert flood.sent[GROUP] == 21
    assert flood.peak(60.0, GROUP) == 20


@pytest.mark.usefixtures("ptb_timedelta")
async def test_an_album_counts_each_message_and_ptb_sees_retry_after(
    server: FakeBotApi, clock: SteppedClock
) -> None:
    flood = server.enforce_limits(global_per_s=4, clock=clock)
    bot = telegram.Bot(server.token, base_url=f"{server.url}/bot")
    async with bot:
        album = [InputMediaPhoto(png_bytes(n)) for n in range(3)]
        assert len(await bot.send_media_group(ALICE, album)) == 3
        await bot.send_message(BOB, "fourth")
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(CAROL, "fifth")
    assert caught.value.retry_after == timedelta(seconds=1)
    assert flood.sent == {ALICE: 3, BOB: 1}
    assert [(d.method, d.messages) for d in flood.deliveries] == [
        ("sendMediaGroup", 3),
        ("sendMessage", 1),
    ]


async def test_a_bot_that_honours_retry_after_is_never_counted_unhonoured(
    server: FakeBotApi, http: aiohttp.ClientSession, clock: SteppedClock
) -> None:
    """A naive sender that only ever waits what it is told: many 429s, none unhonoured."""
    flood = server.enforce_limits(global_per_s=5, clock=clock)
    chats = [ALICE, BOB, CAROL, DAVE] * 3
    for chat in chats:
        while True:
            status, body = await send(http, server, chat)
            if status == 200:
                break
            clock.advance(body["parameters"]["retry_after"])
        clock.advance(0.05)
    assert flood.throttles
    assert flood.unhonoured == []
    assert flood.total_sent == len(chats)
    assert flood.peak(1.0) <= 5
    assert all(flood.peak(1.0, chat) == 1 for chat in (ALICE, BOB, CAROL, DAVE))


async def test_records_rates_and_receive_times(
    server: FakeBotApi, http: aiohttp.ClientSession, clock: SteppedClock
) -> None:
    flood = server.enforce_limits(clock=clock)
    for n in range(11):
        await send(http, server, ALICE + n % 4, f"n{n}")
        clock.advance(0.25)
    assert flood.total_sent == 11
    assert flood.rate() == pytest.approx(10 / 2.5)
    assert flood.peak(1.0) == 4
    inbox = server.user(ALICE).inbox
    stamps = [d.received_at for d in flood.deliveries if d.chat_id == ALICE]
    assert [m["received_at"] for m in inbox] == pytest.approx(stamps, abs=0.05)
    assert stamps == sorted(stamps)


async def test_an_injected_429_must_be_honoured_too(
    server: FakeBotApi, http: aiohttp.ClientSession, clock: SteppedClock
) -> None:
    flood = server.enforce_limits(clock=clock)
    server.fail_next("sendMessage", status=429, retry_after=3)
    assert await send(http, server, ALICE) == (429, too_many(3))
    clock.advance(2.0)
    assert await send(http, server, ALICE) == (429, too_many(1))
    assert (await send(http, server, BOB))[0] == 200  # only that chat was told to wait
    clock.advance(1.0)
    assert (await send(http, server, ALICE))[0] == 200
    assert [(t.retry_after, t.injected, t.unhonoured) for t in flood.throttles] == [
        (3, True, False),
        (1, False, True),
    ]
    assert [(u.chat_id, u.early_by) for u in flood.unhonoured] == [(ALICE, 1.0)]


async def test_limits_are_opt_in_and_can_be_switched_off(
    server: FakeBotApi, http: aiohttp.ClientSession, clock: SteppedClock
) -> None:
    for _ in range(3):
        assert (await send(http, server, ALICE))[0] == 200
    flood = server.enforce_limits(clock=clock)
    await send(http, server, ALICE)
    assert (await send(http, server, ALICE))[0] == 429
    server.stop_enforcing_limits()
    assert (await send(http, server, ALICE))[0] == 200
    assert len(flood.throttles) == 1


async def test_a_rejected_send_does_not_use_up_the_window(
    server: FakeBotApi, http: aiohttp.ClientSession, clock: SteppedClock
) -> None:
    flood = server.enforce_limits(clock=clock)
    async with http.post(
        f"{server.api_url}/sendMessage",
        json={"chat_id": ALICE, "text": "<b>unclosed", "parse_mode": "HTML"},
    ) as resp:
        assert resp.status == 400
    assert (await send(http, server, ALICE))[0] == 200
    assert flood.throttles == []


def test_windows_need_a_positive_limit() -> None:
    from disputebot.testing.fake_bot_api import FloodControl  # noqa: PLC0415

    with pytest.raises(ValueError, match="positive"):
        FloodControl(global_per_s=0, per_chat_per_s=-1)
