"""Group commit on SQLite (``store.group_commit``): units of work queued on the writer share a
transaction, each in a SAVEPOINT, and each ``commit()`` returns only once it has committed.

Every test runs on a real SQLite file. Real COMMITs are counted with an engine event; what is
durable is read through a second engine (its own connections), which sees only committed rows.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from disputebot.ports import ChatKey, ConflictError, UnitOfWork
from disputebot.store import migrate
from disputebot.store.database import create_engine, make_session_factory
from disputebot.store.group_commit import GroupCommitWriter
from disputebot.store.uow import SqlUnitOfWorkFactory
from tests.contract.builders import T0, say

NO_AGE_LIMIT = 3600.0  # batches end when the queue is empty or full, never by the clock


class Boom(Exception):
    pass


class InjectedCommitFailure(Exception):
    pass


class Store:
    """A migrated SQLite file, the engine under test (with its COMMITs counted) and a second
    engine that reads only what has been committed."""

    def __init__(self, engine: AsyncEngine, reader: AsyncEngine) -> None:
        self.engine = engine
        self.reader = reader
        self.commits = 0
        self.fail_next_commit = False
        event.listen(engine.sync_engine, "commit", self._on_commit)

    def _on_commit(self, _connection: Connection) -> None:
        self.commits += 1
        if self.fail_next_commit:
            self.fail_next_commit = False
            raise InjectedCommitFailure("disk full (injected)")

    def factory(self, **options: Any) -> SqlUnitOfWorkFactory:
        options.setdefault("group_commit", True)
        return SqlUnitOfWorkFactory(make_session_factory(self.engine), **options)

    async def durable_data(self, chat: ChatKey) -> str | None:
        async with self.reader.connect() as connection:
            row = await connection.execute(
                text("SELECT data FROM sessions WHERE channel = :c AND chat_id = :i"),
                {"c": chat.channel, "i": chat.chat_id},
            )
            found = row.scalar_one_or_none()
        return None if found is None else str(found)

    async def durable_updates(self) -> set[str]:
        async with self.reader.connect() as connection:
            rows = await connection.execute(text("SELECT event_id FROM processed_updates"))
            return {str(r) for r in rows.scalars()}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    path = tmp_path / "data" / "disputebot.db"
    url = f"sqlite+aiosqlite:///{path}"
    await migrate.upgrade(url)
    engine = create_engine(url)
    # Untuned on purpose: no BEGIN IMMEDIATE, so reading never waits for the writer.
    reader = create_async_engine(url)
    try:
        yield Store(engine, reader)
    finally:
        await engine.dispose()
        await reader.dispose()


def chat(n: int) -> ChatKey:
    return ChatKey("telegram", 5000 + n)


async def write(uow: UnitOfWork, n: int) -> None:
    """An update's effect with its update id, as ``BotService._handle_once`` writes them.

    The unit suspends between its statements, as any unit that awaits something does, so the
    units gathered beside it queue for the writer meanwhile (the inline SQLite driver itself
    never suspends a statement that does not wait for a lock)."""
    await uow.sessions.put(chat(n), f"state {n}", None)
    await asyncio.sleep(0)
    await uow.updates.record("telegram", str(n), T0)


async def test_concurrent_units_share_commits_and_each_is_durable_when_commit_returns(
    store: Store,
) -> None:
    uow_factory = store.factory(batch_age=NO_AGE_LIMIT)
    seen_durable: dict[int, str | None] = {}

    async def unit(n: int) -> None:
        async with uow_factory() as uow:
            await write(uow, n)
            await uow.commit()
            # Nothing runs between commit() returning and this read but the read itself.
            seen_durable[n] = await store.durable_data(chat(n))

    await asyncio.gather(*(unit(n) for n in range(40)))
    assert seen_durable == {n: f"state {n}" for n in range(40)}
    assert 1 <= store.commits < 40
    assert await store.durable_updates() == {str(n) for n in range(40)}


async def test_a_batch_never_holds_more_than_its_bound(store: Store) -> None:
    uow_factory = store.factory(batch_units=8, batch_age=NO_AGE_LIMIT)

    async def unit(n: int) -> None:
        async with uow_factory() as uow:
            await write(uow, n)
            await uow.commit()

    await asyncio.gather(*(unit(n) for n in range(40)))
    assert store.commits >= 40 // 8
    assert await store.durable_updates() == {str(n) for n in range(40)}


async def test_a_failing_unit_rolls_back_only_its_own_writes(store: Store) -> None:
    uow_factory = store.factory(batch_age=NO_AGE_LIMIT)

    async def unit(n: int) -> None:
        async with uow_factory() as uow:
            await write(uow, n)
            if n == 1:
                raise Boom
            await uow.commit()

    results = await asyncio.gather(*(unit(n) for n in range(3)), return_exceptions=True)
    assert [type(r) for r in results] == [type(None), Boom, type(None)]
    assert store.commits == 1  # one batch: the failure did not end it
    assert await store.durable_updates() == {"0", "2"}
    assert await store.durable_data(chat(1)) is None


async def test_a_failed_commit_fails_every_unit_of_its_batch(store: Store) -> None:
    uow_factory = store.factory(batch_age=NO_AGE_LIMIT)
    store.fail_next_commit = True

    async def unit(n: int) -> None:
        async with uow_factory() as uow:
            await write(uow, n)
            await uow.commit()

    results = await asyncio.gather(*(unit(n) for n in range(5)), return_exceptions=True)
    assert store.commits == 1
    assert all(isinstance(r, InjectedCommitFailure) for r in results), results
    assert await store.durable_updates() == set()

    # The channel retries every update of the batch; they all apply, once.
    await asyncio.gather(*(unit(n) for n in range(5)))
    assert await store.durable_updates() == {str(n) for n in range(5)}


async def test_a_reader_of_a_failed_batch_does_not_return_what_it_read(store: Store) -> None:
    # It read a write that never committed: acting on it (sending a message that was never
    # stored, skipping an update as seen) would be wrong, so its block raises.
    uow_factory = store.factory(batch_age=NO_AGE_LIMIT)
    store.fail_next_commit = True
    read: list[bool] = []

    async def writer() -> None:
        async with uow_factory() as uow:
            await write(uow, 1)
            await uow.commit()

    async def reader() -> None:
        async with uow_factory() as uow:
            read.append(await uow.updates.seen("telegram", "1"))

    results = await asyncio.gather(writer(), reader(), return_exceptions=True)
    assert read == [True]
    assert [type(r) for r in results] == [InjectedCommitFailure, InjectedCommitFailure]


async def test_a_unit_that_only_reads_commits_nothing(store: Store) -> None:
    uow_factory = store.factory()
    async with uow_factory() as uow:
        assert not await uow.updates.seen("telegram", "1")
    assert store.commits == 0


@pytest.mark.parametrize("stale", [None, 1], ids=["new-row", "existing-row"])
async def test_a_conflict_inside_a_batch_leaves_the_other_units_writes(
    store: Store, stale: int | None
) -> None:
    uow_factory = store.factory(batch_age=NO_AGE_LIMIT)
    shared = chat(0)
    if stale is not None:
        async with uow_factory() as uow:
            await uow.sessions.put(shared, "start", None)
            await uow.commit()
    store.commits = 0
    attempts: list[str] = []

    async def handle(name: str) -> None:
        # Both events saw the session at ``stale`` (no row, or revision 1) before the batch.
        # As in BotService._handle_retrying, a conflict re-runs the event in a new unit.
        revision, fresh = stale, False
        for _ in range(3):
            try:
                async with uow_factory() as uow:
                    attempts.append(name)
                    if fresh:
                        current = await uow.sessions.get(shared)
                        revision = None if current is None else current.revision
                    await uow.sessions.put(shared, name, revision)
                    await uow.updates.record("telegram", name, T0)
                    await uow.commit()
                    return
            except ConflictError:
                fresh = True
        raise AssertionError("gave up")

    async def other() -> None:
        async with uow_factory() as uow:
            await write(uow, 7)
            await uow.commit()

    # While this unit of work holds the turn, the three queue behind it: one batch.
    async with uow_factory() as uow:
        tasks = [asyncio.create_task(c) for c in (handle("a"), handle("b"), other())]
        await asyncio.sleep(0)
        await uow.sessions.get(shared)
    await asyncio.gather(*tasks)
    assert attempts == ["a", "b", "b"]  # b conflicted with a's uncommitted write, ran again
    assert store.commits == 1
    assert await store.durable_updates() == {"a", "b", "7"}
    assert await store.durable_data(chat(7)) == "state 7"
    async with uow_factory() as uow:
        final = await uow.sessions.get(shared)
    assert final is not None
    assert (final.data, final.revision) == ("b", (stale or 0) + 2)


async def test_work_after_commit_joins_a_later_batch_while_others_write(store: Store) -> None:
    uow_factory = store.factory(batch_age=NO_AGE_LIMIT)

    async def twice(n: int) -> None:
        async with uow_factory() as uow:
            await uow.sessions.put(chat(n), "one", None)
            await uow.commit()
            assert await store.durable_data(chat(n)) == "one"
            await uow.sessions.put(chat(n), "two", 1)
            await uow.updates.record("telegram", str(n), T0)
            await uow.commit()
            assert await store.durable_data(chat(n)) == "two"
            await uow.sessions.put(chat(n), "never", 2)  # no commit: rolled back

    await asyncio.gather(*(twice(n) for n in range(10)))
    assert {n: await store.durable_data(chat(n)) for n in range(10)} == dict.fromkeys(
        range(10), "two"
    )
    assert await store.durable_updates() == {str(n) for n in range(10)}


async def test_200_concurrent_writers_never_meet_a_locked_database(store: Store) -> None:
    uow_factory = store.factory()  # the defaults the bot runs with

    async def unit(n: int) -> None:
        async with uow_factory() as uow:
            assert not await uow.updates.seen("telegram", str(n))
            await write(uow, n)
            await uow.outbox.put(chat(n), say(), "en", now=T0)
            await uow.commit()

    results = await asyncio.gather(*(unit(n) for n in range(200)), return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not [e for e in errors if "locked" in str(e)]
    assert errors == []
    assert await store.durable_updates() == {str(n) for n in range(200)}
    assert store.commits < 200


async def test_group_commit_off_gives_each_unit_its_own_commit(store: Store) -> None:
    uow_factory = store.factory(group_commit=False)

    async def unit(n: int) -> None:
        async with uow_factory() as uow:
            await write(uow, n)
            await uow.commit()

    await asyncio.gather(*(unit(n) for n in range(10)))
    assert store.commits == 10


async def test_a_waiter_cancelled_as_the_turn_reaches_it_does_not_strand_the_batch(
    store: Store,
) -> None:
    # Regression guard for the hand-over: the committed unit gives the turn to the one queued
    # behind it, which is cancelled before it runs. Someone must still COMMIT the batch.
    writer = GroupCommitWriter(store.engine, max_age=NO_AGE_LIMIT)
    batch = await writer.take()
    await batch.connection.execute(
        text(
            "INSERT INTO processed_updates (channel, event_id, processed_at) "
            "VALUES ('telegram', 'x', :t)"
        ),
        {"t": T0},
    )
    queued = asyncio.create_task(writer.take())
    await asyncio.sleep(0)  # it now waits for the turn
    done = writer.give(committed=True)
    queued.cancel()
    assert done is not None
    await asyncio.wait_for(asyncio.shield(done), timeout=30)  # a hang guard, not a measure
    with pytest.raises(asyncio.CancelledError):
        await queued
    assert store.commits == 1
    assert await store.durable_updates() == {"x"}
