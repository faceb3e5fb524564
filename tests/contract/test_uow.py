"""UnitOfWork contract: all or nothing, and concurrent units of work that both get through."""

from __future__ import annotations

import asyncio

import pytest

from disputebot.cases.records import Status
from disputebot.ports import (
    ChatKey,
    ConflictError,
    Role,
    StoredSession,
    UnitOfWork,
    UnitOfWorkFactory,
)
from tests.contract.builders import ALICE, BOB, T0, at, decided, new_case, say, submitted


class Boom(Exception):
    pass


async def _write_everything(uow: UnitOfWork) -> None:
    await uow.sessions.put(ALICE, "state", None)
    await uow.updates.record("telegram", "1", T0)
    await uow.cases.add(new_case("DR-1"), submitted())
    await uow.outbox.put(ALICE, say(), "en", now=T0, case_id="DR-1")
    await uow.reporters.set_locale(ALICE, "zh", T0)
    await uow.staff.set_role(BOB, Role.ADMIN, T0)


async def _assert_nothing_stored(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        assert await uow.sessions.get(ALICE) is None
        assert not await uow.updates.seen("telegram", "1")
        assert await uow.cases.get("DR-1") is None
        assert await uow.outbox.list() == []
        assert await uow.reporters.locale(ALICE) is None
        assert await uow.staff.list() == []


async def test_everything_commits_together(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await _write_everything(uow)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.sessions.get(ALICE) is not None
        assert await uow.updates.seen("telegram", "1")
        assert await uow.cases.get("DR-1") is not None
        assert len(await uow.outbox.list()) == 1
        assert await uow.reporters.locale(ALICE) == "zh"
        assert await uow.staff.role(BOB) is Role.ADMIN


async def test_leaving_without_commit_rolls_back(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await _write_everything(uow)
        # Visible inside the unit of work...
        assert await uow.cases.get("DR-1") is not None
    # ...and gone after it.
    await _assert_nothing_stored(uow_factory)


async def test_an_exception_rolls_back_and_propagates(uow_factory: UnitOfWorkFactory) -> None:
    async def fail_midway() -> None:
        async with uow_factory() as uow:
            await _write_everything(uow)
            raise Boom

    with pytest.raises(Boom):
        await fail_midway()
    await _assert_nothing_stored(uow_factory)


async def test_work_after_commit_needs_its_own_commit(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.cases.add(new_case("DR-1"), submitted())
        await uow.commit()
        await uow.cases.transition(
            "DR-1",
            Status.IN_REVIEW,
            decided(at(1), Status.SUBMITTED, Status.IN_REVIEW, "assigned"),
        )
        await uow.sessions.put(ALICE, "uncommitted", None)
    async with uow_factory() as uow:
        case = await uow.cases.get("DR-1")
        assert case is not None
        assert case.status is Status.SUBMITTED
        assert len(case.events) == 1
        assert await uow.sessions.get(ALICE) is None
        await uow.sessions.put(ALICE, "one", None)
        await uow.commit()
        await uow.sessions.put(ALICE, "two", 1)
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.sessions.get(ALICE)
        assert stored is not None
        assert (stored.data, stored.revision) == ("two", 2)


async def test_later_units_see_committed_state(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.sessions.put(ALICE, "x", None)
        await uow.commit()
    async with uow_factory() as first:
        stored = await first.sessions.get(ALICE)
        assert stored is not None
        await first.sessions.put(ALICE, "y", stored.revision)
        await first.commit()
    async with uow_factory() as second:
        assert await second.sessions.get(ALICE) == StoredSession("y", 2)


async def test_two_concurrent_writers_both_succeed(uow_factory: UnitOfWorkFactory) -> None:
    # Each unit reads, yields to the other task, then writes: on SQLite, without BEGIN
    # IMMEDIATE and a busy timeout, the second writer fails with "database is locked".
    async def handle(chat: ChatKey, event_id: str) -> None:
        async with uow_factory() as uow:
            assert not await uow.updates.seen("telegram", event_id)
            await asyncio.sleep(0)
            current = await uow.sessions.get(chat)
            await asyncio.sleep(0)
            revision = None if current is None else current.revision
            await uow.sessions.put(chat, f"after {event_id}", revision)
            await uow.updates.record("telegram", event_id, T0)
            await uow.outbox.put(chat, say(), "en", now=T0)
            await asyncio.sleep(0)
            await uow.commit()

    await asyncio.gather(*(handle(ChatKey("telegram", n), str(n)) for n in range(1, 5)))
    async with uow_factory() as uow:
        for n in range(1, 5):
            assert await uow.updates.seen("telegram", str(n))
            stored = await uow.sessions.get(ChatKey("telegram", n))
            assert stored is not None
            assert stored.data == f"after {n}"
        assert len(await uow.outbox.list()) == 4


async def test_concurrent_updates_of_one_session_lose_nothing(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await uow.sessions.put(ALICE, "start", None)
        await uow.commit()

    async def bump(name: str) -> str:
        async with uow_factory() as uow:
            current = await uow.sessions.get(ALICE)
            assert current is not None
            await asyncio.sleep(0)
            await uow.sessions.put(ALICE, name, current.revision)
            await uow.commit()
            return name

    # Backends that serialise writers (SQLite, memory) let both through, one after the
    # other; PostgreSQL lets both read revision 1, and the second writer gets a conflict.
    # Either way every successful write is counted in the revision.
    results = await asyncio.gather(bump("a"), bump("b"), return_exceptions=True)
    winners = [r for r in results if isinstance(r, str)]
    assert all(isinstance(r, str | ConflictError) for r in results)
    assert winners
    async with uow_factory() as uow:
        final = await uow.sessions.get(ALICE)
    assert final is not None
    assert final.revision == 1 + len(winners)
    assert final.data in winners
