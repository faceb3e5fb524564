"""UpdateLog contract: an event id is recorded once, with the effect it caused."""

from __future__ import annotations

import pytest

from disputebot.ports import ConflictError, UnitOfWorkFactory
from tests.contract.builders import ALICE, T0, at


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
