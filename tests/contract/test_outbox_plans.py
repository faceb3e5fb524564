"""PostgreSQL: claiming stays cheap on an outbox the planner has no statistics for.

A burst written into a new outbox is claimed before autovacuum has analyzed it. The claim used
to find each chat's oldest pending item with ``NOT EXISTS (an older one)``, which PostgreSQL
planned there as a nested-loop anti-join reading every pending item once per pending item:
about 6,000,000 index entries and 4.6 s a claim for 3,000 items. The test runs the store's own
statements under ``EXPLAIN (ANALYZE, BUFFERS)`` on such a table and bounds the pages they touch
by a small multiple of the items, which any plan linear in the pending items meets. Counting
pages rather than timing keeps it independent of the machine.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from disputebot.store.database import make_session_factory
from disputebot.store.uow import SqlUnitOfWorkFactory
from tests.contract.builders import T0, Database
from tests.databases import sql_database

pytestmark = pytest.mark.postgres

ITEMS = 3000
CHATS = 1000
PAGES_PER_ITEM = 10  # the old anti-join: about 2,000 a item; the statements now: 1 to 4


@pytest.fixture
async def postgres(tmp_path: Path) -> AsyncIterator[Database]:
    async for found in sql_database("postgres", tmp_path):
        yield found


async def burst(db: Database) -> None:
    """ITEMS pending messages to CHATS chats, in a table that was never analyzed."""
    async with db.engine.begin() as connection:
        await connection.execute(text("ALTER TABLE outbox SET (autovacuum_enabled = false)"))
        await connection.execute(
            text(
                "INSERT INTO outbox (channel, chat_id, payload, locale, status, attempts,"
                " created_at, due_at) SELECT 'telegram', 700000001 + n % :chats, '{}', 'en',"
                " 'pending', 0, :at, :at FROM generate_series(0, :items - 1) AS n ORDER BY n"
            ),
            {"chats": CHATS, "items": ITEMS, "at": T0.replace(tzinfo=None)},
        )
        analyzed = await connection.scalar(
            text("SELECT reltuples FROM pg_class WHERE oid = 'outbox'::regclass")
        )
    assert analyzed == -1  # no statistics: what the planner knows of a new table


async def pages(db: Database, statement: str, parameters: Any) -> int:
    async with db.engine.connect() as connection:
        plan = await connection.exec_driver_sql(
            "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement, parameters
        )
        found = plan.scalar_one()  # asyncpg decodes the json column itself
        top = (json.loads(found) if isinstance(found, str) else found)[0]["Plan"]
        await connection.rollback()
    return int(top["Shared Hit Blocks"]) + int(top["Shared Read Blocks"])


async def test_claims_on_a_never_analyzed_outbox_read_pages_in_proportion_to_the_items(
    postgres: Database,
) -> None:
    await burst(postgres)
    seen: list[tuple[str, Any]] = []

    def record(*args: Any) -> None:
        _, _, statement, parameters, _, _ = args
        seen.append((statement, parameters))

    event.listen(postgres.engine.sync_engine, "before_cursor_execute", record)
    try:
        async with SqlUnitOfWorkFactory(make_session_factory(postgres.engine))() as uow:
            now = T0 + timedelta(seconds=1)
            got = await uow.outbox.claim(
                now, 30, worker_id="w1", lease_seconds=30, channel="telegram"
            )
            assert len(got) == 30
            assert len({item.chat for item in got}) == 30
            assert await uow.outbox.next_due(channel="telegram") == T0
    finally:
        event.remove(postgres.engine.sync_engine, "before_cursor_execute", record)

    (claim,) = [(s, p) for s, p in seen if "FOR UPDATE" in s]
    (next_due,) = [(s, p) for s, p in seen if "min(" in s and "FOR UPDATE" not in s]
    for statement, parameters in (claim, next_due):
        assert await pages(postgres, statement, parameters) <= PAGES_PER_ITEM * ITEMS, statement
