"""Platform webhooks: signing, verifying, and real HTTP to the fake enforcement system."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from aiohttp import web

from disputebot.delivery.webhooks import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WEBHOOK_CHAT,
    WebhookSender,
    event_id,
    retry_after,
    sign,
    verify,
)
from disputebot.errors import DeliveryError
from disputebot.ports import OutboxItem, OutboxStatus
from disputebot.testing.fake_platform import FakePlatform

SECRET = "whsec_test"
NOW = 1_700_000_000
BODY = b'{"event":"case.filed","case":"DB-1"}'
# From `printf '%s' '1700000000.{"event":"case.filed","case":"DB-1"}' |
#        openssl dgst -sha256 -hmac whsec_test`, an implementation other than ours.
VECTOR = "sha256=91b6dd3b2a667eb3b48be59137a91f41dbddf999aacc1dcf0faf45d72a05fb44"


def item(payload: str, item_id: int = 7) -> OutboxItem:
    at = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    return OutboxItem(
        id=item_id,
        chat=WEBHOOK_CHAT,
        payload=payload,
        locale="en",
        created_at=at,
        due_at=at,
        attempts=0,
        status=OutboxStatus.PENDING,
    )


def event(n: int) -> str:
    return json.dumps({"event_id": f"ev-{n}", "type": "case.status_changed", "case": f"DB-{n}"})


@pytest.fixture
async def platform() -> AsyncIterator[FakePlatform]:
    async with FakePlatform(SECRET) as fake:
        yield fake


@pytest.fixture
async def sender(platform: FakePlatform) -> AsyncIterator[WebhookSender]:
    async with WebhookSender(platform.url, SECRET, timeout=2.0) as webhook:
        yield webhook


# -- signing ----------------------------------------------------------------------------


def test_signature_matches_an_independent_implementation() -> None:
    assert sign(SECRET, NOW, BODY) == VECTOR
    assert sign(SECRET.encode(), NOW, BODY) == VECTOR


def test_signature_covers_secret_timestamp_and_every_byte() -> None:
    assert sign("other", NOW, BODY) != VECTOR
    assert sign(SECRET, NOW + 1, BODY) != VECTOR
    assert sign(SECRET, NOW, BODY + b" ") != VECTOR


def test_verify_accepts_a_fresh_signature_within_the_tolerance() -> None:
    assert verify(SECRET, str(NOW), BODY, VECTOR, now=NOW)
    assert verify(SECRET, NOW, BODY, VECTOR, now=NOW + 300)
    assert verify(SECRET, NOW, BODY, VECTOR, now=NOW - 300)  # a receiver's clock behind ours


@pytest.mark.parametrize(
    ("timestamp", "body", "signature", "now"),
    [
        (str(NOW), BODY.replace(b"DB-1", b"DB-2"), VECTOR, NOW),  # body tampered with
        (str(NOW + 1), BODY, VECTOR, NOW),  # re-dated
        (str(NOW), BODY, VECTOR.replace("sha256=", "sha1="), NOW),  # other scheme
        (str(NOW), BODY, VECTOR[:-1] + "0", NOW),  # one hex digit off
        (str(NOW), BODY, VECTOR.upper(), NOW),
        (str(NOW), BODY, "", NOW),
        (str(NOW), BODY, None, NOW),
        (None, BODY, VECTOR, NOW),
        ("soon", BODY, VECTOR, NOW),
        (str(NOW), BODY, VECTOR, NOW + 301),  # replayed after the tolerance
        (str(NOW), BODY, VECTOR, NOW - 301),  # dated in the future
    ],
)
def test_verify_rejects(
    timestamp: str | None, body: bytes, signature: str | None, now: int
) -> None:
    assert not verify(SECRET, timestamp, body, signature, now=now)


def test_verify_with_a_tighter_tolerance() -> None:
    assert not verify(SECRET, NOW, BODY, VECTOR, now=NOW + 31, tolerance=30)


def test_event_id_prefers_the_events_own_id() -> None:
    assert event_id(item('{"event_id": "ev-9", "id": 3}')) == "ev-9"
    assert event_id(item('{"id": 3}')) == "3"
    assert event_id(item('{"id": true}')) == "outbox-7"
    assert event_id(item("[1, 2]")) == "outbox-7"
    assert event_id(item("not json")) == "outbox-7"


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after("120") == 120.0
    assert retry_after(" 3 ") == 3.0
    assert retry_after("Tue, 14 Nov 2023 22:15:20 GMT", now=NOW) == 120.0
    assert retry_after("Tue, 14 Nov 2023 22:00:00 GMT", now=NOW) == 0.0
    assert retry_after(None) is None
    assert retry_after("later") is None
    assert retry_after("-5") is None


def test_an_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="secret"):
        WebhookSender("http://127.0.0.1:1/events", "")


# -- round trips ------------------------------------------------------------------------


async def test_round_trip_to_the_fake_platform(
    platform: FakePlatform, sender: WebhookSender
) -> None:
    await sender.send(item(event(1), item_id=1))
    await sender.send(item(event(2), item_id=2))
    received = await platform.wait_for(2)
    assert [e.event_id for e in received] == ["ev-1", "ev-2"]
    assert received[0].body == event(1).encode()
    assert received[1].json["case"] == "DB-2"
    assert platform.rejections == []


async def test_a_repeated_event_is_accepted_once(
    platform: FakePlatform, sender: WebhookSender
) -> None:
    await sender.send(item(event(1)))
    await sender.send(item(event(1)))  # at-least-once: the worker may send it again
    assert len(platform.events) == 1
    assert platform.duplicates == 1


async def test_the_platform_refuses_a_wrong_secret(platform: FakePlatform) -> None:
    async with WebhookSender(platform.url, "not the secret") as wrong:
        with pytest.raises(DeliveryError) as caught:
            await wrong.send(item(event(1)))
    assert "401" in str(caught.value)
    assert not caught.value.retryable
    assert platform.events == []
    assert [r.status for r in platform.rejections] == [401]


async def test_the_platform_refuses_a_replayed_request(platform: FakePlatform) -> None:
    # A sender whose clock says it is ten minutes ago: what a replayed capture looks like.
    async with WebhookSender(platform.url, SECRET, clock=lambda: NOW) as stale:
        with pytest.raises(DeliveryError, match="401"):
            await stale.send(item(event(1)))
    assert platform.rejections[0].reason == "bad signature or stale timestamp"


@pytest.mark.parametrize(
    "case",
    [
        # status, Retry-After, retryable, retry_after
        (503, None, True, None),
        (500, "7", True, 7.0),
        (429, "2", True, 2.0),
        (408, None, True, None),
        (400, None, False, None),
        (404, None, False, None),
        (410, "5", False, None),
    ],
)
async def test_errors_map_to_delivery_errors(
    platform: FakePlatform,
    sender: WebhookSender,
    case: tuple[int, str | None, bool, float | None],
) -> None:
    status, header, retryable, wait = case
    platform.fail_next(status=status, retry_after=header)
    with pytest.raises(DeliveryError) as caught:
        await sender.send(item(event(1)))
    assert (caught.value.retryable, caught.value.retry_after) == (retryable, wait)
    assert caught.value.scope == ("chat" if wait is not None else None)
    assert not caught.value.unreachable
    assert str(status) in str(caught.value)
    await sender.send(item(event(1)))  # the next attempt goes through
    assert [e.event_id for e in platform.events] == ["ev-1"]


async def test_a_failure_then_success_keeps_the_event_id(
    platform: FakePlatform, sender: WebhookSender
) -> None:
    platform.fail_next(2)
    for _ in range(2):
        with pytest.raises(DeliveryError):
            await sender.send(item(event(5)))
    await sender.send(item(event(5)))
    assert [e.event_id for e in platform.events] == ["ev-5"]
    assert platform.requests == 3


async def test_an_unreachable_platform_is_retryable() -> None:
    runner = web.AppRunner(web.Application())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    await runner.cleanup()  # the port is free again: nothing listens there
    async with WebhookSender(f"http://{host}:{port}/events?token=s3cr3t", SECRET) as gone:
        with pytest.raises(DeliveryError) as caught:
            await gone.send(item(event(1)))
    assert caught.value.retryable
    assert caught.value.retry_after is None
    assert "s3cr3t" not in str(caught.value)


async def test_a_slow_platform_times_out_retryably() -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response()

    app = web.Application()
    app.router.add_post("/events", slow)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    try:
        async with WebhookSender(f"http://{host}:{port}/events", SECRET, timeout=0.2) as sender:
            with pytest.raises(DeliveryError, match="timed out") as caught:
                await sender.send(item(event(1)))
        assert caught.value.retryable
    finally:
        await runner.cleanup()


async def test_headers_carry_what_the_receiver_checks(platform: FakePlatform) -> None:
    sender = WebhookSender(platform.url, SECRET, clock=lambda: NOW)
    headers = sender.headers(item(BODY.decode()), BODY)
    assert headers[TIMESTAMP_HEADER] == str(NOW)
    assert headers[SIGNATURE_HEADER] == VECTOR
    assert headers[EVENT_ID_HEADER] == "outbox-7"
    assert headers["Content-Type"] == "application/json"
    await sender.close()


async def test_redirects_are_not_followed(platform: FakePlatform) -> None:
    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound(platform.url)

    app = web.Application()
    app.router.add_post("/old", moved)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    try:
        async with WebhookSender(f"http://{host}:{port}/old", SECRET) as sender:
            with pytest.raises(DeliveryError, match="302") as caught:
                await sender.send(item(event(1)))
        assert not caught.value.retryable
        assert platform.requests == 0
    finally:
        await runner.cleanup()
