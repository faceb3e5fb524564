"""Deadlines contract: timers on cases as rows, on memory, SQLite and PostgreSQL. One pending
deadline per case and kind; a claim changes nothing until ``done`` commits; concurrent claimers
never get the same row."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from disputebot.cases.records import Status
from disputebot.ports import Deadline, UnitOfWorkFactory
from disputebot.store.database import make_session_factory
from disputebot.store.uow import SqlUnitOfWorkFactory
from tests.contract.builders import ALICE, T0, at, decided, new_case, say, submitted
from tests.databases import postgres_param, sql_database

KIND = "still_under_review"
LATER = at(days=365)


async def schedule(
    uow_factory: UnitOfWorkFactory,
    case_id: str,
    due: datetime,
    *,
    kind: str = KIND,
    now: datetime = T0,
) -> None:
    async with uow_factory() as uow:
        await uow.deadlines.schedule(case_id, kind, due, now=now)
        await uow.commit()


async def pending(uow_factory: UnitOfWorkFactory, now: datetime = LATER) -> list[Deadline]:
    """What a claim at ``now`` would get; nothing is kept (no commit)."""
    async with uow_factory() as uow:
        return await uow.deadlines.claim_due(now, 1000)


def keys(found: list[Deadline]) -> list[tuple[str, str, datetime]]:
    return [(d.case_id, d.kind, d.due_at) for d in found]


async def test_a_deadline_is_claimable_once_due(uow_factory: UnitOfWorkFactory) -> None:
    await schedule(uow_factory, "DR-1", at(hours=72), now=at(1))

    assert await pending(uow_factory, at(hours=71, minutes=59)) == []
    (found,) = await pending(uow_factory, at(hours=72))
    assert found.case_id == "DR-1"
    assert found.kind == KIND
    assert found.due_at == at(hours=72)
    assert found.created_at == at(1)
    assert found.done_at is None
    assert found.due_at.tzinfo is not None
    # Claiming changes nothing by itself: the same deadline comes back.
    assert keys(await pending(uow_factory, at(hours=80))) == keys([found])


async def test_claim_is_oldest_due_first_and_respects_limit(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await schedule(uow_factory, "DR-3", at(30))
    await schedule(uow_factory, "DR-1", at(10))
    await schedule(uow_factory, "DR-2", at(10))  # same time: by insertion
    await schedule(uow_factory, "DR-4", at(90))
    async with uow_factory() as uow:
        assert [d.case_id for d in await uow.deadlines.claim_due(at(60), 2)] == ["DR-1", "DR-2"]
        assert [d.case_id for d in await uow.deadlines.claim_due(at(60), 10)] == [
            "DR-1",
            "DR-2",
            "DR-3",
        ]
        assert await uow.deadlines.claim_due(at(60), 0) == []


async def test_schedule_replaces_the_pending_deadline_of_that_case_and_kind(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await schedule(uow_factory, "DR-1", at(10))
    await schedule(uow_factory, "DR-1", at(10), kind="other")
    await schedule(uow_factory, "DR-2", at(10))
    await schedule(uow_factory, "DR-1", at(50), now=at(5))
    assert sorted(keys(await pending(uow_factory))) == [
        ("DR-1", "other", at(10)),
        ("DR-1", KIND, at(50)),
        ("DR-2", KIND, at(10)),
    ]
    # Within one unit of work too.
    async with uow_factory() as uow:
        await uow.deadlines.schedule("DR-3", KIND, at(1), now=T0)
        await uow.deadlines.schedule("DR-3", KIND, at(2), now=T0)
        found = await uow.deadlines.claim_due(LATER, 10)
        assert [d.due_at for d in found if d.case_id == "DR-3"] == [at(2)]


async def test_cancel_drops_the_pending_deadline_only(uow_factory: UnitOfWorkFactory) -> None:
    await schedule(uow_factory, "DR-1", at(10))
    await schedule(uow_factory, "DR-1", at(10), kind="other")
    await schedule(uow_factory, "DR-2", at(10))
    async with uow_factory() as uow:
        await uow.deadlines.cancel("DR-1", KIND)
        await uow.deadlines.cancel("DR-1", KIND)  # twice is fine
        await uow.deadlines.cancel("DR-9", KIND)  # nothing there is fine
        await uow.commit()
    assert sorted(keys(await pending(uow_factory))) == [
        ("DR-1", "other", at(10)),
        ("DR-2", KIND, at(10)),
    ]


async def test_done_deadlines_are_not_claimed_again(uow_factory: UnitOfWorkFactory) -> None:
    await schedule(uow_factory, "DR-1", at(10))
    await schedule(uow_factory, "DR-2", at(20))
    async with uow_factory() as uow:
        first, second = await uow.deadlines.claim_due(at(30), 10)
        await uow.deadlines.done(first.id, at(30))
        await uow.deadlines.done(first.id, at(31))  # the first time stands; no error
        await uow.commit()
    assert [d.id for d in await pending(uow_factory)] == [second.id]
    # A fired deadline is history: cancelling or scheduling anew leaves it alone.
    async with uow_factory() as uow:
        await uow.deadlines.cancel("DR-1", KIND)
        await uow.deadlines.schedule("DR-1", KIND, at(100), now=at(30))
        await uow.commit()
    assert keys(await pending(uow_factory)) == [("DR-2", KIND, at(20)), ("DR-1", KIND, at(100))]


async def test_done_with_an_unknown_id_raises_key_error(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        with pytest.raises(KeyError):
            await uow.deadlines.done(424242, T0)


async def test_without_commit_nothing_is_kept(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.deadlines.schedule("DR-1", KIND, at(10), now=T0)
    assert await pending(uow_factory) == []

    await schedule(uow_factory, "DR-1", at(10))
    (found,) = await pending(uow_factory, at(10))

    async def crash_before_commit() -> None:
        async with uow_factory() as uow:
            (claimed,) = await uow.deadlines.claim_due(at(10), 10)
            await uow.deadlines.done(claimed.id, at(10))
            raise RuntimeError("crash")

    # The claim and the done mark are lost with the transaction: it fires again later.
    with pytest.raises(RuntimeError, match="crash"):
        await crash_before_commit()
    assert [d.id for d in await pending(uow_factory, at(11))] == [found.id]


async def test_naive_times_are_refused(uow_factory: UnitOfWorkFactory) -> None:
    naive = datetime(2026, 11, 30, 9, 0)  # noqa: DTZ001  (the point of the test)
    async with uow_factory() as uow:
        with pytest.raises(ValueError, match="naive"):
            await uow.deadlines.schedule("DR-1", KIND, naive, now=T0)
        with pytest.raises(ValueError, match="naive"):
            await uow.deadlines.schedule("DR-1", KIND, T0, now=naive)
        with pytest.raises(ValueError, match="naive"):
            await uow.deadlines.claim_due(naive, 10)


async def test_purging_finished_cases_drops_their_deadlines(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await uow.cases.add(new_case("DR-OLD"), submitted())
        await uow.cases.add(new_case("DR-OPEN", account_key="store:2"), submitted())
        await uow.deadlines.schedule("DR-OLD", KIND, at(10), now=T0)
        await uow.deadlines.schedule("DR-OLD", "other", at(days=400), now=T0)
        await uow.deadlines.schedule("DR-OPEN", KIND, at(10), now=T0)
        await uow.outbox.put(ALICE, say(), "en", now=T0, case_id="DR-OLD")
        await uow.commit()
    async with uow_factory() as uow:
        (fired,) = [d for d in await uow.deadlines.claim_due(at(10), 10) if d.case_id == "DR-OLD"]
        await uow.deadlines.done(fired.id, at(10))
        await uow.cases.transition(
            "DR-OLD", Status.CLOSED, decided(at(days=1), Status.SUBMITTED, Status.CLOSED, "x")
        )
        await uow.commit()
    async with uow_factory() as uow:
        purged, _ = await uow.cases.purge_finished(at(days=10))
        await uow.commit()
    assert purged == ["DR-OLD"]
    assert keys(await pending(uow_factory, at(days=500))) == [("DR-OPEN", KIND, at(10))]
    async with uow_factory() as uow:
        # The fired row went too: its id is unknown now.
        with pytest.raises(KeyError):
            await uow.deadlines.done(fired.id, at(days=11))


async def _claim_and_finish(uow_factory: UnitOfWorkFactory, limit: int) -> list[int]:
    async with uow_factory() as uow:
        got = await uow.deadlines.claim_due(at(60), limit)
        await asyncio.sleep(0)  # let the other claimers in while these are held
        for deadline in got:
            await uow.deadlines.done(deadline.id, at(60))
        await uow.commit()
    return [d.id for d in got]


async def test_concurrent_claimers_never_fire_a_deadline_twice(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        for n in range(20):
            await uow.deadlines.schedule(f"DR-{n}", KIND, at(n), now=T0)
        await uow.commit()

    rounds = await asyncio.gather(*(_claim_and_finish(uow_factory, 3) for _ in range(8)))

    taken = [i for got in rounds for i in got]
    assert len(taken) == len(set(taken))
    left = await pending(uow_factory)
    assert len(taken) + len(left) == 20
    assert not {d.id for d in left} & set(taken)


@pytest.fixture(params=[postgres_param])
async def pg_uow_factory(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[UnitOfWorkFactory]:
    """PostgreSQL only: two units of work can be open at once in one task (no writer lock)."""
    async for database in sql_database(request.param, tmp_path):
        yield SqlUnitOfWorkFactory(make_session_factory(database.engine))


async def test_postgres_open_claims_skip_each_others_rows(
    pg_uow_factory: UnitOfWorkFactory,
) -> None:
    async with pg_uow_factory() as uow:
        for n in range(5):
            await uow.deadlines.schedule(f"DR-{n}", KIND, at(n), now=T0)
        await uow.commit()

    async with pg_uow_factory() as first, pg_uow_factory() as second:
        mine = await first.deadlines.claim_due(at(60), 2)
        theirs = await second.deadlines.claim_due(at(60), 10)  # does not wait for `first`
        assert [d.case_id for d in mine] == ["DR-0", "DR-1"]
        assert [d.case_id for d in theirs] == ["DR-2", "DR-3", "DR-4"]
        for deadline in mine:
            await first.deadlines.done(deadline.id, at(60))
        await first.commit()
        # `second` still holds its rows; a third claimer finds nothing free.
        async with pg_uow_factory() as third:
            assert await third.deadlines.claim_due(at(60), 10) == []
        # `second` gives up (a crash): its rows come back, `first`'s are done.

    assert [d.case_id for d in await pending(pg_uow_factory)] == ["DR-2", "DR-3", "DR-4"]
