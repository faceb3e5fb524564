"""Several workers on one PostgreSQL database: claims keep them apart, the lock keeps the limit.

These run in real time against PostgreSQL (skipped without one, failed under ``CI=true``). The
only timing assertion is the one the limiter guarantees by construction, on the same clock the
workers use: no more sends than the bot-wide limit in any window.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from disputebot.clock import SystemClock
from disputebot.delivery.limits import Limits, Rate
from disputebot.delivery.worker import Worker, WorkerConfig
from disputebot.ports import ChatKey, OutboxItem, OutboxStatus
from disputebot.store.database import create_engine, make_session_factory
from disputebot.store.sender_lock import PgSenderLock
from disputebot.store.uow import SqlUnitOfWorkFactory
from tests.contract.builders import Database
from tests.databases import sql_database
from tests.delivery.fakes import fill, peak

pytestmark = pytest.mark.postgres

# A safety bound so a broken build fails instead of hanging; not a performance assertion.
PATIENCE = 60.0


@dataclass(frozen=True)
class Sent:
    worker: str
    item_id: int
    chat_id: int
    at: float


class SharedApi:
    """One fake Bot API for every worker: records who sent what when, and overlaps per chat."""

    def __init__(self, clock: SystemClock) -> None:
        self.clock = clock
        self.sent: list[Sent] = []
        self.flying: set[int] = set()
        self.overlaps = 0
        self._rng = random.Random(3)

    def sender(self, worker: str) -> object:
        async def send(item: OutboxItem) -> None:
            chat = item.chat.chat_id
            if chat in self.flying:
                self.overlaps += 1
            self.flying.add(chat)
            self.sent.append(Sent(worker, item.id, chat, self.clock.now().timestamp()))
            try:
                await asyncio.sleep(self._rng.uniform(0, 0.01))
            finally:
                self.flying.discard(chat)

        return send


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    async for found in sql_database("postgres", tmp_path):
        yield found


async def until(condition: object, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PATIENCE
    while not condition():  # type: ignore[operator]
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def worker_on(
    database: Database, api: SharedApi, name: str, config: WorkerConfig, **extra: object
) -> tuple[Worker, SqlUnitOfWorkFactory, object]:
    # An engine each, as separate processes would have.
    engine = create_engine(database.url)
    uow_factory = SqlUnitOfWorkFactory(make_session_factory(engine))
    worker = Worker(
        uow_factory,
        api.sender(name),  # type: ignore[arg-type]
        clock=api.clock,
        channel="telegram",
        config=config,
        worker_id=name,
        **extra,  # type: ignore[arg-type]
    )
    return worker, uow_factory, engine


async def test_two_workers_drain_one_burst_without_sending_anything_twice(
    database: Database,
) -> None:
    api = SharedApi(SystemClock())
    fast = Limits(total=Rate(10_000, 1.0), per_chat=Rate(10_000, 1.0))
    config = WorkerConfig(limits=fast, batch=5, concurrency=4)
    one, uow_factory, engine_one = worker_on(database, api, "one", config)
    two, _, engine_two = worker_on(database, api, "two", config)
    chats = {ChatKey("telegram", 9000 + n): 4 for n in range(30)}
    ids = await fill(uow_factory, chats)
    try:
        sent = await asyncio.gather(one.drain(), two.drain())
    finally:
        await engine_one.dispose()  # type: ignore[attr-defined]
        await engine_two.dispose()  # type: ignore[attr-defined]

    assert sum(sent) == 120
    assert sent[0] > 0  # both took part
    assert sent[1] > 0
    assert sorted(s.item_id for s in api.sent) == sorted(i for v in ids.values() for i in v)
    for chat, chat_ids in ids.items():
        assert [s.item_id for s in api.sent if s.chat_id == chat.chat_id] == chat_ids
    assert api.overlaps == 0  # never two sends to one chat at once, even across workers
    assert one.stats.lost_leases == two.stats.lost_leases == 0


async def test_with_the_sender_lock_one_sends_the_other_takes_over_and_the_limit_holds(
    database: Database,
) -> None:
    api = SharedApi(SystemClock())
    limits = Limits(total=Rate(10, 1.0), per_chat=Rate(1, 1.0))
    config = WorkerConfig(limits=limits, concurrency=4, poll_seconds=0.2)
    lock_one = PgSenderLock(database.url, "telegram")
    lock_two = PgSenderLock(database.url, "telegram")
    one, uow_factory, engine_one = worker_on(database, api, "one", config, sender_lock=lock_one)
    two, _, engine_two = worker_on(database, api, "two", config, sender_lock=lock_two)
    ids = await fill(uow_factory, {ChatKey("telegram", 8000 + n): 1 for n in range(40)})
    stop_one, stop_two = asyncio.Event(), asyncio.Event()
    running_one = asyncio.create_task(one.run(stop_one))
    try:
        await until(lambda: api.sent, "the first worker to send")
        running_two = asyncio.create_task(two.run(stop_two))
        await until(lambda: len(api.sent) >= 15, "part of the burst")
        assert {s.worker for s in api.sent} == {"one"}  # the other stands by
        stop_one.set()  # the sender goes away; the standby takes the lock
        await running_one
        await until(lambda: len(api.sent) >= 40, "the rest of the burst")
        stop_two.set()
        await running_two
    finally:
        stop_one.set()
        stop_two.set()
        await lock_one.close()
        await lock_two.close()
        await engine_one.dispose()  # type: ignore[attr-defined]
        await engine_two.dispose()  # type: ignore[attr-defined]

    assert sorted(s.item_id for s in api.sent) == sorted(i for v in ids.values() for i in v)
    by_worker = {s.worker for s in api.sent}
    assert by_worker == {"one", "two"}
    last_of_one = max(s.at for s in api.sent if s.worker == "one")
    assert min(s.at for s in api.sent if s.worker == "two") > last_of_one
    assert peak((s.at for s in api.sent), 1.0) <= 10  # together under the bot-wide limit
    async with SqlUnitOfWorkFactory(make_session_factory(database.engine))() as uow:
        assert {i.status for i in await uow.outbox.list()} == {OutboxStatus.SENT}
