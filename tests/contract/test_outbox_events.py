"""Platform webhook events in the outbox (``Outbox.put_event``), on memory, SQLite, PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from disputebot.ports import WEBHOOK_CHAT, OutboxStatus, UnitOfWorkFactory
from tests.contract.builders import ALICE, T0, say

LEASE = 30.0


def event(n: int, **extra: object) -> str:
    return json.dumps({"event_id": f"ev-{n}", "type": "case.status_changed", **extra})


async def test_put_event_queues_the_payload_as_is_for_the_webhook_chat(
    uow_factory: UnitOfWorkFactory,
) -> None:
    # Spacing, key order and escapes are the sender's business: the body is signed byte for
    # byte, so the store must give back exactly what it was handed.
    payload = '{"type": "case.filed",  "case": "DR-1", "note": "卖家 🚚 \\u00e9", "z": 1, "a": 2}'
    async with uow_factory() as uow:
        item_id = await uow.outbox.put_event(payload, now=T0, case_id="DR-1")
        await uow.commit()
    async with uow_factory() as uow:
        (item,) = await uow.outbox.list()
    assert item.id == item_id
    assert item.chat == WEBHOOK_CHAT
    assert (item.chat.channel, item.chat.chat_id) == ("webhook", 0)
    assert item.payload == payload
    assert item.locale == ""
    assert item.case_id == "DR-1"
    assert (item.status, item.attempts, item.last_error) == (OutboxStatus.PENDING, 0, None)
    assert item.created_at == item.due_at == T0


async def test_put_event_without_a_case(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.outbox.put_event(event(1), now=T0)
        await uow.commit()
    async with uow_factory() as uow:
        (item,) = await uow.outbox.list(channel="webhook")
    assert item.case_id is None


async def test_put_event_refuses_what_is_not_json_and_keeps_the_unit_of_work(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        with pytest.raises(ValueError, match="must be JSON"):
            await uow.outbox.put_event("{not json", now=T0)
        with pytest.raises(ValueError, match="must be JSON"):
            await uow.outbox.put_event("", now=T0)
        with pytest.raises(ValueError, match="naive datetime"):
            await uow.outbox.put_event(event(1), now=T0.replace(tzinfo=None))
        await uow.outbox.put_event(event(2), now=T0)
        await uow.commit()
    async with uow_factory() as uow:
        assert [json.loads(i.payload)["event_id"] for i in await uow.outbox.list()] == ["ev-2"]


async def test_events_are_claimed_one_at_a_time_in_order(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        ids = [await uow.outbox.put_event(event(n), now=T0) for n in range(3)]
        notice = await uow.outbox.put(ALICE, say(), "en", now=T0)
        await uow.commit()
    at = T0 + timedelta(seconds=1)
    for expected in ids:
        async with uow_factory() as uow:
            got = await uow.outbox.claim(
                at, 10, worker_id="w1", lease_seconds=LEASE, channel="webhook"
            )
            # One chat for every event: the next waits until the one held is settled.
            assert [i.id for i in got] == [expected]
            assert (
                await uow.outbox.claim(
                    at, 10, worker_id="w2", lease_seconds=LEASE, channel="webhook"
                )
                == []
            )
            assert await uow.outbox.mark_sent(expected, at, worker_id="w1")
            await uow.commit()
    async with uow_factory() as uow:
        assert await uow.outbox.next_due(channel="webhook") is None
        # Telegram's worker never sees the events, nor the webhook worker Telegram's messages.
        (telegram,) = await uow.outbox.claim(
            at, 10, worker_id="w1", lease_seconds=LEASE, channel="telegram"
        )
        assert telegram.id == notice


async def test_events_and_messages_keep_separate_backlogs(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await uow.outbox.put_event(event(1), now=T0)
        await uow.outbox.put_event(event(2), now=T0 + timedelta(seconds=5))
        await uow.outbox.put(ALICE, say(), "en", now=T0)
        await uow.commit()
    async with uow_factory() as uow:
        now = T0 + timedelta(seconds=10)
        assert await uow.outbox.backlog(now, channel="webhook") == (2, 10.0)
        assert await uow.outbox.backlog(now, channel="telegram") == (1, 10.0)
        assert await uow.outbox.next_due(channel="webhook") == T0
