"""Outbox contract: pending, due, sent, failed and dead messages, in a stable order."""

from __future__ import annotations

from datetime import UTC, timedelta, timezone

import pytest

from disputebot.engine.effects import say_from_json, say_to_json
from disputebot.ports import ChatKey, OutboxStatus, UnitOfWorkFactory
from tests.contract.builders import ALICE, BIG, BOB, T0, at, say


async def test_put_stores_a_pending_item(uow_factory: UnitOfWorkFactory) -> None:
    message = say("case.receipt", case="DR-1", summary="卖家伪造物流 🚚")
    async with uow_factory() as uow:
        item_id = await uow.outbox.put(BIG, message, "zh", now=T0, case_id="DR-1")
        await uow.commit()
    async with uow_factory() as uow:
        (item,) = await uow.outbox.list()
    assert item.id == item_id
    assert item.chat == BIG
    assert item.payload == say_to_json(message)
    assert say_from_json(item.payload) == message
    assert item.locale == "zh"
    assert item.case_id == "DR-1"
    assert item.status is OutboxStatus.PENDING
    assert item.attempts == 0
    assert item.last_error is None
    assert item.created_at == item.due_at == T0
    assert item.created_at.tzinfo is UTC


async def test_ids_increase_and_case_id_is_optional(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        first = await uow.outbox.put(ALICE, say(), "en", now=T0)
        second = await uow.outbox.put(ALICE, say(), "en", now=T0)
        (item, _) = await uow.outbox.list()
    assert second > first
    assert item.case_id is None


async def test_due_returns_pending_items_in_due_order(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        late = await uow.outbox.put(ALICE, say("late"), "en", now=at(5))
        early = await uow.outbox.put(BOB, say("early"), "en", now=at(1))
        tie_a = await uow.outbox.put(ALICE, say("tie a"), "en", now=at(3))
        tie_b = await uow.outbox.put(BOB, say("tie b"), "en", now=at(3))
        future = await uow.outbox.put(ALICE, say("future"), "en", now=at(60))
        await uow.commit()
    async with uow_factory() as uow:
        assert [i.id for i in await uow.outbox.due(at(10))] == [early, tie_a, tie_b, late]
        assert [i.id for i in await uow.outbox.due(at(10), limit=2)] == [early, tie_a]
        # due_at equal to now counts as due.
        assert [i.id for i in await uow.outbox.due(at(1))] == [early]
        assert [i.id for i in await uow.outbox.due(at(60))][-1] == future
        assert await uow.outbox.due(at(0)) == []


async def test_due_can_be_limited_to_one_channel(uow_factory: UnitOfWorkFactory) -> None:
    console = ChatKey("console", 1)
    async with uow_factory() as uow:
        on_telegram = await uow.outbox.put(ALICE, say(), "en", now=T0)
        on_console = await uow.outbox.put(console, say(), "en", now=T0)
        await uow.commit()
    async with uow_factory() as uow:
        assert [i.id for i in await uow.outbox.due(at(1), channel="console")] == [on_console]
        assert [i.id for i in await uow.outbox.due(at(1), channel="telegram")] == [on_telegram]
        assert len(await uow.outbox.due(at(1))) == 2


async def test_sent_items_are_no_longer_due(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        sent = await uow.outbox.put(ALICE, say(), "en", now=T0)
        kept = await uow.outbox.put(BOB, say(), "en", now=T0)
        await uow.commit()
    async with uow_factory() as uow:
        await uow.outbox.mark_sent(sent, at(1))
        await uow.commit()
    async with uow_factory() as uow:
        assert [i.id for i in await uow.outbox.due(at(2))] == [kept]
        assert [i.id for i in await uow.outbox.list(OutboxStatus.SENT)] == [sent]
        assert [i.id for i in await uow.outbox.list(OutboxStatus.PENDING)] == [kept]


async def test_failed_items_retry_later_then_die(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        flaky = await uow.outbox.put(ALICE, say(), "en", now=T0)
        steady = await uow.outbox.put(BOB, say(), "en", now=at(2))
        await uow.commit()
    async with uow_factory() as uow:
        await uow.outbox.mark_failed(flaky, "429: retry after 5 s", retry_at=at(5))
        await uow.commit()
    async with uow_factory() as uow:
        assert [i.id for i in await uow.outbox.due(at(3))] == [steady]
        # Once its retry time comes, it queues behind items due earlier.
        assert [i.id for i in await uow.outbox.due(at(5))] == [steady, flaky]
        (item,) = [i for i in await uow.outbox.list() if i.id == flaky]
        assert item.attempts == 1
        assert item.last_error == "429: retry after 5 s"
        assert item.due_at == at(5)
        assert item.status is OutboxStatus.PENDING
        await uow.outbox.mark_failed(flaky, "403: bot was blocked by the user", retry_at=None)
        await uow.commit()
    async with uow_factory() as uow:
        assert [i.id for i in await uow.outbox.due(at(100))] == [steady]
        (dead,) = await uow.outbox.list(OutboxStatus.DEAD)
        assert dead.id == flaky
        assert dead.attempts == 2
        assert dead.last_error == "403: bot was blocked by the user"


async def test_list_filters_and_limits_in_id_order(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        ids = [await uow.outbox.put(ALICE, say(str(n)), "en", now=at(10 - n)) for n in range(4)]
        await uow.outbox.mark_failed(ids[1], "gone", retry_at=None)
        assert [i.id for i in await uow.outbox.list()] == ids
        assert [i.id for i in await uow.outbox.list(limit=2)] == ids[:2]
        assert [i.id for i in await uow.outbox.list(OutboxStatus.DEAD)] == [ids[1]]
        assert [i.id for i in await uow.outbox.list(OutboxStatus.PENDING)] == [
            ids[0],
            ids[2],
            ids[3],
        ]


async def test_unknown_item_raises_key_error(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        with pytest.raises(KeyError):
            await uow.outbox.mark_sent(999, T0)
        with pytest.raises(KeyError):
            await uow.outbox.mark_failed(999, "x", retry_at=None)


async def test_times_in_other_zones_are_stored_as_utc(uow_factory: UnitOfWorkFactory) -> None:
    shanghai = timezone(timedelta(hours=8))
    async with uow_factory() as uow:
        item_id = await uow.outbox.put(ALICE, say(), "zh", now=T0.astimezone(shanghai))
        await uow.outbox.mark_failed(item_id, "timeout", retry_at=at(3).astimezone(shanghai))
        await uow.commit()
    async with uow_factory() as uow:
        (item,) = await uow.outbox.due(at(3))
    assert (item.created_at, item.due_at) == (T0, at(3))
    assert item.due_at.tzinfo is UTC


async def test_naive_times_are_refused(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        with pytest.raises(ValueError, match="naive datetime"):
            await uow.outbox.put(ALICE, say(), "en", now=T0.replace(tzinfo=None))
        with pytest.raises(ValueError, match="naive datetime"):
            await uow.outbox.due(T0.replace(tzinfo=None))


async def test_backlog_counts_pending_items_and_ages_the_oldest(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        assert await uow.outbox.backlog(T0) == (0, None)
        oldest = await uow.outbox.put(ALICE, say("oldest"), "en", now=at(1))
        await uow.outbox.put(BOB, say("newer"), "en", now=at(3))
        sent = await uow.outbox.put(ALICE, say("sent"), "en", now=T0)
        dead = await uow.outbox.put(BOB, say("dead"), "en", now=T0)
        await uow.outbox.mark_sent(sent, at(1))
        await uow.outbox.mark_failed(dead, "403: blocked", retry_at=None)
        await uow.commit()
    async with uow_factory() as uow:
        # Sent and dead items are not backlog; an age is measured from creation.
        assert await uow.outbox.backlog(at(5)) == (2, 240.0)
        # A retrying item (not due yet) is still waiting, and keeps its age.
        await uow.outbox.mark_failed(oldest, "429", retry_at=at(60))
        assert await uow.outbox.backlog(at(11, hours=1)) == (2, 4200.0)
        # A clock behind the items never yields a negative age.
        assert await uow.outbox.backlog(T0) == (2, 0.0)
        await uow.outbox.mark_sent(oldest, at(61))
        assert await uow.outbox.backlog(at(5)) == (1, 120.0)


async def test_pending_to_counts_what_still_waits_for_one_chat(
    uow_factory: UnitOfWorkFactory,
) -> None:
    same_id_elsewhere = ChatKey("console", ALICE.chat_id)
    async with uow_factory() as uow:
        assert await uow.outbox.pending_to(ALICE) == 0
        first = await uow.outbox.put(ALICE, say("first"), "en", now=T0)
        retrying = await uow.outbox.put(ALICE, say("second"), "en", now=T0)
        sent = await uow.outbox.put(ALICE, say("third"), "en", now=T0)
        await uow.outbox.put(BOB, say("another chat"), "en", now=T0)
        await uow.outbox.put(same_id_elsewhere, say("another channel"), "en", now=T0)
        await uow.outbox.mark_sent(sent, at(1))
        await uow.outbox.mark_failed(retrying, "429", retry_at=at(60))  # not due, still waiting
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.outbox.pending_to(ALICE) == 2
        await uow.outbox.mark_failed(first, "403: blocked", retry_at=None)
        assert await uow.outbox.pending_to(ALICE) == 1


async def test_backlog_can_be_limited_to_one_channel(uow_factory: UnitOfWorkFactory) -> None:
    console = ChatKey("console", 1)
    shanghai = timezone(timedelta(hours=8))
    async with uow_factory() as uow:
        await uow.outbox.put(ALICE, say(), "en", now=at(2))
        await uow.outbox.put(console, say(), "en", now=at(1))
        await uow.outbox.put(console, say(), "en", now=at(4))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.outbox.backlog(at(10), channel="telegram") == (1, 480.0)
        assert await uow.outbox.backlog(at(10), channel="console") == (2, 540.0)
        assert await uow.outbox.backlog(at(10).astimezone(shanghai)) == (3, 540.0)
        assert await uow.outbox.backlog(at(10), channel="email") == (0, None)
        with pytest.raises(ValueError, match="naive datetime"):
            await uow.outbox.backlog(T0.replace(tzinfo=None))
