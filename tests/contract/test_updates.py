"""UpdateLog contract: an event id is recorded once, with the effect it caused."""

from __future__ import annotations

import asyncio

import pytest

from disputebot.ports import ConflictError, UnitOfWorkFactory
from tests.contract.builders import ALICE, BOB, T0, at, say


async def test_record_then_seen(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        assert not await uow.updates.seen("telegram", "100")
        await uow.updates.record("telegram", "100", T0)
        assert await uow.updates.seen("telegram", "100")
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.updates.seen("telegram", "100")
        assert not await uow.updates.seen("telegram", "101")
        # Ids are per channel: the console's event 100 is another event.
        assert not await uow.updates.seen("console", "100")


async def test_uncommitted_record_is_forgotten(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.updates.record("telegram", "7", T0)
    async with uow_factory() as uow:
        assert not await uow.updates.seen("telegram", "7")


async def test_recording_twice_conflicts_and_keeps_the_transaction(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await uow.updates.record("telegram", "1", T0)
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(ConflictError):
            await uow.updates.record("telegram", "1", at(1))
        await uow.sessions.put(ALICE, "after", None)
        await uow.updates.record("telegram", "2", at(1))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.updates.seen("telegram", "2")
        assert await uow.sessions.get(ALICE) is not None


async def test_long_and_unicode_event_ids(uow_factory: UnitOfWorkFactory) -> None:
    long_id = "console-" + "9" * 300
    async with uow_factory() as uow:
        await uow.updates.record("console", long_id, T0)
        await uow.updates.record("console", "事件-🙂", T0)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.updates.seen("console", long_id)
        assert await uow.updates.seen("console", "事件-🙂")


async def test_naive_time_is_refused(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        with pytest.raises(ValueError, match="naive datetime"):
            await uow.updates.record("telegram", "1", T0.replace(tzinfo=None))


async def test_prune_forgets_only_old_ids(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.updates.record("telegram", "1", T0)
        await uow.updates.record("telegram", "2", at(days=8))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.updates.prune(at(days=7)) == 1
        await uow.commit()
    async with uow_factory() as uow:
        assert not await uow.updates.seen("telegram", "1")
        assert await uow.updates.seen("telegram", "2")


async def test_claim_records_once(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        assert await uow.updates.claim("telegram", "5", T0)
        # Claimed earlier in the same unit of work: applied here already.
        assert not await uow.updates.claim("telegram", "5", T0)
        assert await uow.updates.seen("telegram", "5")
        await uow.commit()
    async with uow_factory() as uow:
        assert not await uow.updates.claim("telegram", "5", at(1))
        # Ids are per channel.
        assert await uow.updates.claim("console", "5", at(1))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.updates.seen("console", "5")


async def test_uncommitted_claim_is_forgotten(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        assert await uow.updates.claim("telegram", "8", T0)
    async with uow_factory() as uow:
        assert await uow.updates.claim("telegram", "8", T0)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.updates.seen("telegram", "8")


async def test_claim_after_record_and_record_after_claim(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.updates.record("telegram", "1", T0)
        assert await uow.updates.claim("telegram", "2", T0)
        await uow.commit()
    async with uow_factory() as uow:
        assert not await uow.updates.claim("telegram", "1", at(1))
        with pytest.raises(ConflictError):
            await uow.updates.record("telegram", "2", at(1))
        # Neither spoils the transaction.
        await uow.sessions.put(ALICE, "after", None)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.sessions.get(ALICE) is not None


async def test_claim_refuses_naive_time(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        with pytest.raises(ValueError, match="naive datetime"):
            await uow.updates.claim("telegram", "1", T0.replace(tzinfo=None))


@pytest.mark.parametrize("first_commits", [True, False])
async def test_concurrent_claims_of_one_id_apply_it_once(
    uow_factory: UnitOfWorkFactory, first_commits: bool
) -> None:
    # The second claim waits for the first unit of work: one that commits keeps the id, one
    # that rolls back leaves it to the second.
    first_claimed = asyncio.Event()

    async def first() -> bool:
        async with uow_factory() as uow:
            claimed = await uow.updates.claim("telegram", "9", T0)
            first_claimed.set()
            await asyncio.sleep(0.02)
            await uow.outbox.put(ALICE, say(), "en", now=T0)
            if first_commits:
                await uow.commit()
        return claimed

    async def second() -> bool:
        await first_claimed.wait()
        async with uow_factory() as uow:
            claimed = await uow.updates.claim("telegram", "9", T0)
            if claimed:
                await uow.outbox.put(BOB, say(), "en", now=T0)
            await uow.commit()
        return claimed

    claims = await asyncio.gather(first(), second())
    assert claims == [True, not first_commits]
    async with uow_factory() as uow:
        assert await uow.updates.seen("telegram", "9")
        sent = await uow.outbox.list()
        assert [item.chat for item in sent] == [ALICE if first_commits else BOB]
