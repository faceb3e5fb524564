"""Outbox claims and leases, dead letters and unreachable chats, on memory, SQLite, PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from disputebot.ports import ChatKey, OutboxItem, OutboxStatus, UnitOfWorkFactory
from tests.contract.builders import ALICE, BIG, BOB, T0, say

LEASE = 30.0


def sec(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


async def put(uow_factory: UnitOfWorkFactory, *chats: ChatKey, at: float = 0) -> list[int]:
    async with uow_factory() as uow:
        ids = [await uow.outbox.put(chat, say(), "en", now=T0 + sec(at)) for chat in chats]
        await uow.commit()
    return ids


async def claim(
    uow_factory: UnitOfWorkFactory,
    worker: str,
    *,
    at: float = 0,
    limit: int = 100,
    channel: str | None = None,
) -> list[OutboxItem]:
    async with uow_factory() as uow:
        items = await uow.outbox.claim(
            T0 + sec(at), limit, worker_id=worker, lease_seconds=LEASE, channel=channel
        )
        await uow.commit()
    return items


async def item(uow_factory: UnitOfWorkFactory, item_id: int) -> OutboxItem:
    async with uow_factory() as uow:
        (found,) = [i for i in await uow.outbox.list(limit=1000) if i.id == item_id]
    return found


async def test_claim_holds_the_oldest_due_item_of_each_chat(
    uow_factory: UnitOfWorkFactory,
) -> None:
    a1, b1, a2, b2 = await put(uow_factory, ALICE, BOB, ALICE, BOB)
    later = (await put(uow_factory, BIG, at=60))[0]

    got = await claim(uow_factory, "w1", at=1)

    assert [i.id for i in got] == [a1, b1]  # one per chat, oldest first; BIG is not due
    for held in got:
        assert held.claimed_by == "w1"
        assert held.lease_until == T0 + sec(1 + LEASE)
        assert held.status is OutboxStatus.PENDING
    # A chat's next item waits until the held one is settled, whoever asks.
    assert await claim(uow_factory, "w2", at=2) == []
    assert (await item(uow_factory, a2)).claimed_by is None
    assert (await item(uow_factory, later)).claimed_by is None
    assert b2 not in {i.id for i in got}


async def test_claim_respects_limit_and_channel(uow_factory: UnitOfWorkFactory) -> None:
    console = ChatKey("console", 1)
    ids = await put(uow_factory, ALICE, BOB, BIG, console)
    assert [i.id for i in await claim(uow_factory, "w1", at=1, limit=2)] == ids[:2]
    assert [i.id for i in await claim(uow_factory, "w1", at=1, channel="console")] == [ids[3]]
    assert [i.id for i in await claim(uow_factory, "w1", at=1, limit=0)] == []
    assert [i.id for i in await claim(uow_factory, "w2", at=1)] == [ids[2]]


async def test_settling_the_head_frees_the_chats_next_item(
    uow_factory: UnitOfWorkFactory,
) -> None:
    a1, a2, a3 = await put(uow_factory, ALICE, ALICE, ALICE)
    (held,) = await claim(uow_factory, "w1", at=1)
    async with uow_factory() as uow:
        assert await uow.outbox.mark_sent(held.id, T0 + sec(2), worker_id="w1")
        await uow.commit()
    assert [i.id for i in await claim(uow_factory, "w1", at=2)] == [a2]
    async with uow_factory() as uow:
        assert await uow.outbox.mark_failed(a2, "400", retry_at=None, worker_id="w1")
        await uow.commit()
    # A dead item no longer holds up its chat.
    assert [i.id for i in await claim(uow_factory, "w2", at=3)] == [a3]
    sent = await item(uow_factory, a1)
    assert (sent.status, sent.sent_at, sent.lease_until) == (OutboxStatus.SENT, T0 + sec(2), None)


async def test_a_retrying_item_holds_up_its_chat_until_due(
    uow_factory: UnitOfWorkFactory,
) -> None:
    a1, a2 = await put(uow_factory, ALICE, ALICE)
    (held,) = await claim(uow_factory, "w1", at=1)
    async with uow_factory() as uow:
        assert await uow.outbox.mark_failed(a1, "502", retry_at=T0 + sec(20), worker_id="w1")
        await uow.commit()
    failed = await item(uow_factory, a1)
    assert (failed.attempts, failed.claimed_by, failed.lease_until) == (1, None, None)
    assert await claim(uow_factory, "w1", at=10) == []  # a2 must not overtake a1
    assert [i.id for i in await claim(uow_factory, "w1", at=20)] == [a1]
    assert a2 != held.id


async def test_an_expired_lease_can_be_claimed_again_and_the_old_holder_loses_it(
    uow_factory: UnitOfWorkFactory,
) -> None:
    (a1,) = await put(uow_factory, ALICE)
    await claim(uow_factory, "w1", at=0)
    assert await claim(uow_factory, "w2", at=LEASE - 1) == []
    (again,) = await claim(uow_factory, "w2", at=LEASE)  # the lease has run out
    assert again.claimed_by == "w2"
    async with uow_factory() as uow:
        assert not await uow.outbox.mark_sent(a1, T0 + sec(31), worker_id="w1")
        assert not await uow.outbox.mark_failed(a1, "late", retry_at=T0 + sec(40), worker_id="w1")
        assert not await uow.outbox.release(a1, worker_id="w1")
        assert await uow.outbox.mark_sent(a1, T0 + sec(32), worker_id="w2")
        await uow.commit()
    done = await item(uow_factory, a1)
    assert (done.status, done.attempts, done.sent_at) == (OutboxStatus.SENT, 0, T0 + sec(32))
    async with uow_factory() as uow:
        # Settled items are no one's to settle again.
        assert not await uow.outbox.mark_sent(a1, T0 + sec(33), worker_id="w2")


async def test_a_holder_whose_lease_ran_out_unclaimed_may_still_settle(
    uow_factory: UnitOfWorkFactory,
) -> None:
    (a1,) = await put(uow_factory, ALICE)
    await claim(uow_factory, "w1", at=0)
    async with uow_factory() as uow:
        # Nobody took it over: recording the send avoids sending it twice.
        assert await uow.outbox.mark_sent(a1, T0 + sec(LEASE + 5), worker_id="w1")
        await uow.commit()


async def test_release_gives_the_claim_back_without_counting_an_attempt(
    uow_factory: UnitOfWorkFactory,
) -> None:
    (a1,) = await put(uow_factory, ALICE)
    await claim(uow_factory, "w1", at=0)
    async with uow_factory() as uow:
        assert not await uow.outbox.release(a1, worker_id="w2")
        assert await uow.outbox.release(
            a1, worker_id="w1", due_at=T0 + sec(7), error="429: retry after 7"
        )
        await uow.commit()
    back = await item(uow_factory, a1)
    assert (back.attempts, back.due_at, back.last_error) == (0, T0 + sec(7), "429: retry after 7")
    assert (back.claimed_by, back.lease_until) == (None, None)
    assert await claim(uow_factory, "w2", at=6) == []
    assert [i.id for i in await claim(uow_factory, "w2", at=7)] == [a1]
    async with uow_factory() as uow:
        assert await uow.outbox.release(a1, worker_id="w2")  # due time unchanged
        await uow.commit()
    assert (await item(uow_factory, a1)).due_at == T0 + sec(7)


async def test_settling_an_unknown_item_raises_key_error(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        with pytest.raises(KeyError):
            await uow.outbox.mark_sent(999, T0, worker_id="w1")
        with pytest.raises(KeyError):
            await uow.outbox.mark_failed(999, "x", retry_at=None, worker_id="w1")
        with pytest.raises(KeyError):
            await uow.outbox.release(999, worker_id="w1")
        with pytest.raises(KeyError):
            await uow.outbox.revive(999, now=T0)


async def test_next_due_is_when_the_next_claim_can_succeed(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        assert await uow.outbox.next_due() is None
    a1, _a2 = await put(uow_factory, ALICE, ALICE, at=5)
    (b1,) = await put(uow_factory, BOB, at=9)
    async with uow_factory() as uow:
        assert await uow.outbox.next_due() == T0 + sec(5)
        assert await uow.outbox.next_due(channel="console") is None
    await claim(uow_factory, "w1", at=10)  # a1 and b1, leased to 40
    async with uow_factory() as uow:
        # a2 is due, but it is behind a1: nothing is claimable before the leases run out.
        assert await uow.outbox.next_due() == T0 + sec(10 + LEASE)
        assert await uow.outbox.mark_failed(b1, "5xx", retry_at=T0 + sec(15), worker_id="w1")
        assert await uow.outbox.next_due() == T0 + sec(15)
        assert await uow.outbox.mark_sent(a1, T0 + sec(11), worker_id="w1")
        assert await uow.outbox.next_due() == T0 + sec(5)  # a2, due since 5


async def test_mark_unreachable_dead_letters_the_chats_pending_items(
    uow_factory: UnitOfWorkFactory,
) -> None:
    a1, b1, a2, a3 = await put(uow_factory, ALICE, BOB, ALICE, ALICE)
    await claim(uow_factory, "w1", at=0)
    async with uow_factory() as uow:
        assert await uow.outbox.mark_sent(a1, T0 + sec(1), worker_id="w1")
        await uow.commit()
    await claim(uow_factory, "w1", at=1)  # a2
    error = "Forbidden: bot was blocked by the user"
    async with uow_factory() as uow:
        assert await uow.outbox.mark_unreachable(ALICE, T0 + sec(2), error, worker_id="w1") == 2
        await uow.commit()
    async with uow_factory() as uow:
        dead = await uow.outbox.list(OutboxStatus.DEAD)
        (gone,) = await uow.outbox.unreachable()
    assert [d.id for d in dead] == [a2, a3]
    assert {d.last_error for d in dead} == {error}
    assert all(d.claimed_by is None for d in dead)
    assert (await item(uow_factory, a1)).status is OutboxStatus.SENT
    assert (await item(uow_factory, b1)).status is OutboxStatus.PENDING
    assert (gone.chat, gone.since, gone.error) == (ALICE, T0 + sec(2), error)


async def test_mark_unreachable_leaves_another_workers_claim_alone(
    uow_factory: UnitOfWorkFactory,
) -> None:
    (a1,) = await put(uow_factory, ALICE)
    await claim(uow_factory, "w2", at=0)
    async with uow_factory() as uow:
        assert await uow.outbox.mark_unreachable(ALICE, T0 + sec(1), "403", worker_id="w1") == 0
        # Without a worker id (a tool), everything pending goes.
        assert await uow.outbox.mark_unreachable(ALICE, T0 + sec(1), "403") == 1
        await uow.commit()
    assert (await item(uow_factory, a1)).status is OutboxStatus.DEAD


async def test_unreachable_chats_are_listed_newest_first_and_can_be_forgotten(
    uow_factory: UnitOfWorkFactory,
) -> None:
    console = ChatKey("console", 9)
    async with uow_factory() as uow:
        await uow.outbox.mark_unreachable(ALICE, T0 + sec(1), "blocked")
        await uow.outbox.mark_unreachable(BIG, T0 + sec(3), "kicked")
        await uow.outbox.mark_unreachable(console, T0 + sec(2), "gone")
        # Seen again: the newest time and error are kept.
        await uow.outbox.mark_unreachable(ALICE, T0 + sec(4), "deactivated")
        await uow.commit()
    async with uow_factory() as uow:
        found = await uow.outbox.unreachable()
        assert [(u.chat, u.error) for u in found] == [
            (ALICE, "deactivated"),
            (BIG, "kicked"),
            (console, "gone"),
        ]
        assert [u.chat for u in await uow.outbox.unreachable(channel="console")] == [console]
        assert [u.chat for u in await uow.outbox.unreachable(limit=1)] == [ALICE]
        assert await uow.outbox.mark_reachable(ALICE)
        assert not await uow.outbox.mark_reachable(ALICE)
        await uow.commit()
    async with uow_factory() as uow:
        assert [u.chat for u in await uow.outbox.unreachable()] == [BIG, console]


async def test_dead_letters_newest_first_and_revived(uow_factory: UnitOfWorkFactory) -> None:
    a1, b1, a2 = await put(uow_factory, ALICE, BOB, ALICE)
    async with uow_factory() as uow:
        await uow.outbox.mark_failed(a1, "502", retry_at=None)
        await uow.outbox.mark_failed(a2, "400", retry_at=None)
        await uow.commit()
    async with uow_factory() as uow:
        dead = await uow.outbox.list(OutboxStatus.DEAD, newest_first=True)
        assert [d.id for d in dead] == [a2, a1]
        assert [d.id for d in await uow.outbox.list(channel="console")] == []
        assert not await uow.outbox.revive(b1, now=T0 + sec(50))  # not dead
        assert await uow.outbox.revive(a1, now=T0 + sec(50))
        await uow.commit()
    revived = await item(uow_factory, a1)
    assert (revived.status, revived.attempts, revived.due_at) == (
        OutboxStatus.PENDING,
        0,
        T0 + sec(50),
    )
    assert [i.id for i in await claim(uow_factory, "w1", at=50)] == [b1, a1]  # by due time


async def test_concurrent_claims_never_hand_out_an_item_or_a_chat_twice(
    uow_factory: UnitOfWorkFactory,
) -> None:
    chats = [ChatKey("telegram", 7000 + n) for n in range(12)]
    await put(uow_factory, *(chat for chat in chats for _ in range(3)))

    rounds = await asyncio.gather(*(claim(uow_factory, f"w{n}", at=1, limit=3) for n in range(8)))

    taken = [i for got in rounds for i in got]
    assert len(taken) == 12  # one per chat: the heads, shared out
    assert len({i.id for i in taken}) == len(taken)
    assert len({i.chat for i in taken}) == len(taken)
    for n, got in enumerate(rounds):
        assert all(i.claimed_by == f"w{n}" for i in got)
