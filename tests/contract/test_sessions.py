"""SessionStore contract: round trips and the optimistic lock."""

from __future__ import annotations

import json

import pytest

from disputebot.ports import ChatKey, ConflictError, StoredSession, UnitOfWorkFactory
from tests.contract.builders import ALICE, BIG, BOB


async def test_missing_session_is_none(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        assert await uow.sessions.get(ALICE) is None


async def test_put_then_get_round_trips_and_bumps_revision(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        assert await uow.sessions.put(ALICE, '{"step": "category"}', None) == 1
        assert await uow.sessions.put(ALICE, '{"step": "account"}', 1) == 2
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.sessions.get(ALICE) == StoredSession('{"step": "account"}', 2)
        assert await uow.sessions.put(ALICE, '{"step": "description"}', 2) == 3
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.sessions.get(ALICE) == StoredSession('{"step": "description"}', 3)


async def test_sessions_are_per_chat_and_channel(uow_factory: UnitOfWorkFactory) -> None:
    console_alice = ChatKey("console", ALICE.chat_id)
    async with uow_factory() as uow:
        await uow.sessions.put(ALICE, "a", None)
        await uow.sessions.put(console_alice, "c", None)
        await uow.sessions.put(BIG, "big", None)
        await uow.commit()
    async with uow_factory() as uow:
        assert (await uow.sessions.get(ALICE)) == StoredSession("a", 1)
        assert (await uow.sessions.get(console_alice)) == StoredSession("c", 1)
        assert (await uow.sessions.get(BIG)) == StoredSession("big", 1)
        assert await uow.sessions.get(BOB) is None


async def test_stale_revision_conflicts_and_keeps_the_transaction_usable(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await uow.sessions.put(ALICE, "v1", None)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.sessions.put(ALICE, "v2", 1) == 2
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(ConflictError):
            await uow.sessions.put(ALICE, "lost update", 1)
        await uow.sessions.put(BOB, "bob", None)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.sessions.get(ALICE) == StoredSession("v2", 2)
        assert await uow.sessions.get(BOB) == StoredSession("bob", 1)


async def test_insert_over_an_existing_row_conflicts_without_poisoning(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await uow.sessions.put(ALICE, "first", None)
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(ConflictError):
            await uow.sessions.put(ALICE, "second", None)
        # The failed insert must not abort the transaction (PostgreSQL would, without a
        # savepoint): later work in the same unit still commits.
        assert await uow.sessions.put(ALICE, "third", 1) == 2
        await uow.sessions.put(BOB, "bob", None)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.sessions.get(ALICE) == StoredSession("third", 2)
        assert await uow.sessions.get(BOB) == StoredSession("bob", 1)


async def test_expecting_a_revision_of_a_missing_row_conflicts(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        with pytest.raises(ConflictError):
            await uow.sessions.put(ALICE, "x", 4)


async def test_delete_removes_and_tolerates_missing(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.sessions.put(ALICE, "x", None)
        await uow.commit()
    async with uow_factory() as uow:
        await uow.sessions.delete(ALICE)
        await uow.sessions.delete(BOB)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.sessions.get(ALICE) is None
        # After a delete the chat starts again from a new row.
        assert await uow.sessions.put(ALICE, "again", None) == 1


async def test_unicode_session_data_round_trips(uow_factory: UnitOfWorkFactory) -> None:
    data = json.dumps(
        {"description": '卖家伪造物流信息 🚚📦, "quoted" \\ back\nslash', "emoji": "👩‍👩‍👧"},
        ensure_ascii=False,
    )
    async with uow_factory() as uow:
        await uow.sessions.put(ALICE, data, None)
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.sessions.get(ALICE)
    assert stored is not None
    assert stored.data == data
    assert json.loads(stored.data)["emoji"] == "👩‍👩‍👧"


async def test_delete_at_a_revision_is_guarded(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.sessions.put(ALICE, "draft", None)
        await uow.sessions.put(ALICE, "draft 2", 1)
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(ConflictError):
            await uow.sessions.delete(ALICE, 1)
    async with uow_factory() as uow:
        with pytest.raises(ConflictError):
            await uow.sessions.delete(BOB, 1)
    async with uow_factory() as uow:
        await uow.sessions.delete(ALICE, 2)
        await uow.sessions.delete(BOB)  # unguarded: a missing row is fine
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.sessions.get(ALICE) is None
