"""Benchmark: the store's hot queries on a million rows, against bare SQL on the same driver.

Three queries the bot runs all day, each timed as the product runs it (the store method in a
unit of work, ``SqlUnitOfWorkFactory``) and as bare SQL of the same shape on a raw connection of
the same driver (``aiosqlite`` / ``asyncpg``), written by hand to use the schema's indexes:

- staff queue, the 20 oldest open cases: ``CaseStore.queue(QueueFilter(), limit=20)`` (a count
  and a page);
- ``/check ACCOUNT``: ``CaseStore.count_upheld(account_key)``;
- outbox claim, the next 100 due: ``Outbox.claim(now, 100, worker_id=…, lease_seconds=…)`` (an
  ``UPDATE … RETURNING`` of the picked rows: on SQLite one statement, the pick a subquery; on
  PostgreSQL a ``SKIP LOCKED`` select first; rolled back, as the bare one is, so every run
  sees the same outbox).

Data: 1,000,000 cases and 1,000,000 outbox rows (``--quick``: 100,000 each), on SQLite (a fresh
file migrated with the real migrations) and PostgreSQL (a throwaway schema, dropped after). Most
cases are decided, a tail is open; 200,000 accounts, a few reported far more often than most;
1,000 chats in the outbox, almost every row sent. Each figure is the product's p50 ÷ the bare
p50 over 30 runs each, interleaved, in 3 rounds; the target is ≤ 2×. The detail under the table
holds the plan of every statement the product ran (captured with SQLAlchemy's
``before_cursor_execute``) and the absolute p50s.

Run from the repository root::

    .venv/bin/python bench/queries.py [--quick] [--no-pg] [--pg-url URL]

Exits 1 when a figure misses its target. ``bench/run.py`` calls ``figures(quick)``.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``bench.figures`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import asyncio
import os
import random
import re
import secrets
import sqlite3
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiosqlite
import asyncpg
from sqlalchemy import event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.figures import Figure, at_most, table
from disputebot.cases.records import OPEN_STATUSES, QueueFilter, Status
from disputebot.engine.effects import Msg, Say, say_to_json
from disputebot.store import migrate
from disputebot.store.database import SQLITE_BUSY_TIMEOUT_MS, create_engine, make_session_factory
from disputebot.store.models import CaseRow, OutboxRow
from disputebot.store.uow import SqlUnitOfWorkFactory

GROUP = "queries"
TARGET = 2.0  # product p50 / bare p50
RUNS = 30  # timed runs of each side per round
ROUNDS = 3
WARMUP = 5
DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"

FULL_ROWS = 1_000_000
QUICK_ROWS = 100_000
BATCH = 50_000
CASE_DAYS = 730  # cases filed over two years
OUTBOX_DAYS = 30  # notifications written over a month (older ones purged)
CHATS = 1_000
FIRST_CHAT = 500_000_001
REVIEWERS = [f"telegram:{900_000 + n}" for n in range(20)]
CATEGORIES = ["fake_logistics", "concealed_info", "intentional_dispute", "other"]
OPEN = sorted(s.value for s in OPEN_STATUSES)
QUEUE_PAGE = 20
CLAIM = 100
LEASE_SECONDS = 30.0
WORKER = "bench:queries:1"
SEED = 20261130

CASE_COLUMNS = (
    "id",
    "public_id",
    "status",
    "reporter_id",
    "category",
    "account_key",
    "account",
    "description",
    "answers",
    "flow",
    "flow_version",
    "attestation",
    "created_at",
    "updated_at",
    "assignee",
    "outcome",
    "decision",
    "first_response_at",
    "decided_at",
)
OUTBOX_COLUMNS = (
    "id",
    "channel",
    "chat_id",
    "payload",
    "locale",
    "case_id",
    "status",
    "attempts",
    "created_at",
    "due_at",
    "sent_at",
    "last_error",
    "claimed_by",
    "lease_until",
)
_CASE_DATES = {CASE_COLUMNS.index(c) for c in CASE_COLUMNS if c.endswith("_at")}
_OUTBOX_DATES = {OUTBOX_COLUMNS.index(c) for c in OUTBOX_COLUMNS if c.endswith(("_at", "_until"))}


def say(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


# -- the data ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    rows: int  # cases, and as many outbox rows
    now: datetime  # naive UTC, as the tables store it
    accounts: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "accounts", max(1, self.rows // 5))

    def account(self, rng: random.Random) -> str:
        """Skewed: account 0 gets about 1 report in sqrt(accounts), most get one or two."""
        return f"aliexpress:store:{1_100_000_000 + int(self.accounts * rng.random() ** 2)}"


def case_batches(plan: Plan) -> Iterator[list[tuple[Any, ...]]]:
    """The cases in id order, filed in that order over ``CASE_DAYS``: the older a case, the
    likelier it is decided (a tenth a day, up to 99.5 %), so a tail of old cases stays open."""
    rng = random.Random(SEED)
    step = CASE_DAYS * 86_400 / plan.rows
    start = plan.now - timedelta(days=CASE_DAYS)
    batch: list[tuple[Any, ...]] = []
    for n in range(plan.rows):
        created = start + timedelta(seconds=(n + rng.random()) * step)
        age_days = (plan.now - created).total_seconds() / 86_400
        decided: datetime | None = None
        outcome: str | None = None
        if rng.random() < min(0.995, age_days / 10):
            pick = rng.random()
            status = (
                Status.UPHELD
                if pick < 0.4
                else Status.REJECTED
                if pick < 0.8
                else Status.WITHDRAWN
                if pick < 0.9
                else Status.CLOSED
            )
            decided = min(plan.now, created + timedelta(days=rng.expovariate(1 / 3)))
            if status in (Status.UPHELD, Status.REJECTED):
                outcome = status.value
            elif status is Status.CLOSED:  # closed after a decision
                outcome = rng.choice((Status.UPHELD.value, Status.REJECTED.value))
        else:
            pick = rng.random()
            status = (
                Status.SUBMITTED
                if pick < 0.4
                else Status.IN_REVIEW
                if pick < 0.7
                else Status.AWAITING_INFO
                if pick < 0.9
                else Status.ESCALATED
            )
        first = None
        if status is not Status.SUBMITTED:
            first = min(plan.now, created + timedelta(hours=rng.expovariate(1 / 6)))
        account = plan.account(rng)
        batch.append(
            (
                n + 1,
                f"AE-{n + 1:08d}",
                status.value,
                f"telegram:{rng.randrange(1, max(2, plan.rows // 3))}",
                rng.choice(CATEGORIES),
                account,
                '{"key": "%s", "kind": "store"}' % account,  # noqa: UP031
                "Seller marked the order delivered; tracking shows no movement since.",
                "{}",
                "report",
                1,
                "v1",
                created,
                max(created, decided or first or created),
                None if status is Status.SUBMITTED else rng.choice(REVIEWERS),
                outcome,
                '{"outcome": "%s"}' % outcome if outcome else "{}",  # noqa: UP031
                first,
                decided,
            )
        )
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def outbox_batches(plan: Plan) -> Iterator[list[tuple[Any, ...]]]:
    """A month of notifications to ``CHATS`` chats (some chattier than others), in id order.

    Everything is sent but the newest 0.5 % (pending and due, a few under another worker's
    lease), 0.1 % dead letters, and 0.02 % older items waiting out a backoff (due later: their
    chats are blocked until then)."""
    rng = random.Random(SEED + 1)
    step = OUTBOX_DAYS * 86_400 / plan.rows
    start = plan.now - timedelta(days=OUTBOX_DAYS)
    tail = plan.rows - max(CLAIM * 2, plan.rows // 200)
    template = say_to_json(Say((Msg("notify.in_review", {"case_id": "CASE"}),)))
    batch: list[tuple[Any, ...]] = []
    for n in range(plan.rows):
        created = start + timedelta(seconds=(n + rng.random()) * step)
        chat = FIRST_CHAT + int(CHATS * rng.random() ** 1.5)
        case = f"AE-{rng.randrange(1, plan.rows + 1):08d}"
        status, attempts, due, sent = "sent", 0, created, None
        error = claimed = lease = None
        pick = rng.random()
        if n >= tail:
            status = "pending"
            if pick < 0.05:
                claimed, lease = "other-host:1:abc", plan.now + timedelta(seconds=20)
        elif pick < 0.001:
            status, attempts, error = "dead", 8, "Forbidden: bot was blocked by the user"
        elif pick < 0.0012:
            status, attempts, error = "pending", rng.randint(1, 3), "Timed out"
            due = plan.now + timedelta(seconds=rng.uniform(10, 300))
        else:
            sent = created + timedelta(seconds=rng.uniform(0.05, 2))
        batch.append(
            (
                n + 1,
                "telegram",
                chat,
                template.replace("CASE", case),
                "en",
                case,
                status,
                attempts,
                created,
                due,
                sent,
                error,
                claimed,
                lease,
            )
        )
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def check_columns() -> None:
    """Fail clearly if a table grew a required column the seed does not fill."""
    for model, columns in ((CaseRow, CASE_COLUMNS), (OutboxRow, OUTBOX_COLUMNS)):
        table_ = model.__table__
        required = {
            c.name
            for c in table_.columns
            if not c.nullable and c.server_default is None and c.default is None
        }
        missing, unknown = required - set(columns), set(columns) - set(table_.columns.keys())
        if missing or unknown:
            raise SystemExit(
                f"bench/queries.py is out of date with {model.__name__}: {missing=} {unknown=}"
            )


def sqlite_time(value: datetime | None) -> str | None:
    """How SQLAlchemy's SQLite ``DateTime`` stores a naive datetime."""
    return None if value is None else value.isoformat(" ", "microseconds")


def as_sqlite(batch: list[tuple[Any, ...]], dates: set[int]) -> list[tuple[Any, ...]]:
    return [tuple(sqlite_time(v) if i in dates else v for i, v in enumerate(row)) for row in batch]


# -- the databases ----------------------------------------------------------------------------


@dataclass
class Database:
    """A seeded database: the product's engine, and what the bare side connects with."""

    name: str
    engine: AsyncEngine
    connect: Callable[[], Awaitable[Any]]  # a raw driver connection
    seed_seconds: float


def _seed_sqlite(path: Path, plan: Plan) -> None:
    """Bulk load with the migrated indexes dropped, then recreated from their own DDL."""
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("PRAGMA synchronous=OFF")
        con.execute("PRAGMA cache_size=-262144")  # 256 MiB while loading
        indexes = con.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            " AND tbl_name IN ('cases', 'outbox')"
        ).fetchall()
        for name, _ in indexes:
            con.execute(f'DROP INDEX "{name}"')
        con.execute("BEGIN")
        for table_name, columns, batches, dates in (
            ("cases", CASE_COLUMNS, case_batches(plan), _CASE_DATES),
            ("outbox", OUTBOX_COLUMNS, outbox_batches(plan), _OUTBOX_DATES),
        ):
            statement = (
                f"INSERT INTO {table_name} ({', '.join(columns)}) "
                f"VALUES ({', '.join('?' for _ in columns)})"
            )
            for batch in batches:
                con.executemany(statement, as_sqlite(batch, dates))
        con.execute("COMMIT")
        for _, sql in indexes:
            con.execute(sql)
    finally:
        con.close()


@asynccontextmanager
async def sqlite_database(plan: Plan) -> AsyncIterator[Database]:
    with tempfile.TemporaryDirectory(prefix="bench-queries-") as folder:
        path = Path(folder) / "bench.db"
        url = f"sqlite+aiosqlite:///{path}"
        started = time.perf_counter()
        await migrate.upgrade(url)
        await asyncio.to_thread(_seed_sqlite, path, plan)
        seeded = time.perf_counter() - started
        engine = create_engine(url)

        async def connect() -> aiosqlite.Connection:
            # The engine's pragmas (``store/database.py``), on a plain autocommit connection.
            con = await aiosqlite.connect(path, isolation_level=None)
            for pragma in (
                f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
                "PRAGMA journal_mode=WAL",
                "PRAGMA synchronous=NORMAL",
                "PRAGMA foreign_keys=ON",
            ):
                await con.execute(pragma)
            return con

        try:
            yield Database("SQLite", engine, connect, seeded)
        finally:
            await engine.dispose()


async def _seed_postgres(con: asyncpg.Connection, schema: str, plan: Plan) -> None:
    indexes = await con.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1"
        " AND tablename IN ('cases', 'outbox') AND indexname LIKE 'ix\\_%'",
        schema,
    )
    for row in indexes:
        await con.execute(f'DROP INDEX "{schema}"."{row["indexname"]}"')
    for table_name, columns, batches in (
        ("cases", CASE_COLUMNS, case_batches(plan)),
        ("outbox", OUTBOX_COLUMNS, outbox_batches(plan)),
    ):
        for batch in batches:
            await con.copy_records_to_table(
                table_name, records=batch, columns=columns, schema_name=schema
            )
    for row in indexes:
        await con.execute(row["indexdef"])
    # What autovacuum does to a table this size soon after a load: statistics, visibility map.
    await con.execute("VACUUM ANALYZE cases")
    await con.execute("VACUUM ANALYZE outbox")


@asynccontextmanager
async def postgres_database(base_url: str, plan: Plan) -> AsyncIterator[Database]:
    """A throwaway schema ``bench_<hex>``, migrated, seeded, dropped afterwards."""
    admin = create_engine(base_url, connect_args={"timeout": 5})
    schema = f"bench_{secrets.token_hex(6)}"
    try:
        async with admin.begin() as connection:
            await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except BaseException:
        await admin.dispose()
        raise
    url = f"{base_url}?search_path={schema}"
    dsn = base_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    engine = create_engine(url)

    async def connect() -> asyncpg.Connection:
        return await asyncpg.connect(dsn, server_settings={"search_path": schema})

    try:
        started = time.perf_counter()
        await migrate.upgrade(url)
        con = await connect()
        try:
            await _seed_postgres(con, schema, plan)
        finally:
            await con.close()
        yield Database("PostgreSQL", engine, connect, time.perf_counter() - started)
    finally:
        await engine.dispose()
        async with admin.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


# -- the queries: the product's and the bare ones ---------------------------------------------

_SUMMARY = (
    "public_id, status, category, account_key, reporter_id, assignee, created_at, updated_at"
)
_OUTBOX_ALL = ", ".join(OUTBOX_COLUMNS)
_DUE_AT = OUTBOX_COLUMNS.index("due_at")


def _marks(dialect: str, count: int, first: int = 1) -> str:
    if dialect == "sqlite":
        return ", ".join("?" for _ in range(count))
    return ", ".join(f"${n}" for n in range(first, first + count))


def queue_sql(dialect: str) -> tuple[str, str]:
    """The count (``count(*)``: index-only), and the fastest page each backend has on the
    (status, created_at) index. PostgreSQL: one index range per open status, each read in
    (created_at, id) order and merged, so no open case is sorted (at 1M cases, 2.6 ms where
    one ``IN`` range and a top-N sort of every open case took 18.6 ms). SQLite: the one ``IN``
    range and its sorter, which measured faster there (0.40 ms against 0.50 ms)."""
    marks = _marks(dialect, len(OPEN))
    count = f"SELECT count(*) FROM cases WHERE status IN ({marks})"
    if dialect == "sqlite":
        page = (
            f"SELECT {_SUMMARY} FROM cases WHERE status IN ({marks})"
            f" ORDER BY created_at, id LIMIT {QUEUE_PAGE}"
        )
        return count, page
    one = (
        f"SELECT {_SUMMARY}, id FROM cases WHERE status = {{}}"
        f" ORDER BY created_at, id LIMIT {QUEUE_PAGE}"
    )
    parts = [f"SELECT * FROM ({one.format(f'${n + 1}')}) AS s{n}" for n in range(len(OPEN))]
    page = (
        f"SELECT {_SUMMARY} FROM ({' UNION ALL '.join(parts)}) AS open_cases "
        f"ORDER BY created_at, id LIMIT {QUEUE_PAGE}"
    )
    return count, page


def check_sql(dialect: str) -> str:
    mark = "?" if dialect == "sqlite" else "$1"
    return f"SELECT count(*) FROM cases WHERE account_key = {mark} AND outcome = 'upheld'"


def claim_sql(dialect: str) -> tuple[str, str]:
    """Each chat's oldest pending item (one probe of ix_outbox_channel_chat_id_status_id), in
    due order from ix_outbox_status_due_at, stamped and returned by ``UPDATE … RETURNING``:
    on SQLite one statement, the pick a subquery; on PostgreSQL the pick first, locking with
    ``SKIP LOCKED``, then the update of its ids. Returns (pick, stamp); SQLite runs only the
    stamp, its pick inside."""
    head = (
        "SELECT o.id FROM outbox AS o WHERE o.status = 'pending' AND o.due_at <= {now}"
        " AND (o.lease_until IS NULL OR o.lease_until <= {now}) AND o.id ="
        " (SELECT min(e.id) FROM outbox AS e WHERE e.channel = o.channel"
        " AND e.chat_id = o.chat_id AND e.status = 'pending')"
        f" ORDER BY o.due_at, o.id LIMIT {CLAIM}"
    )
    returning = f"RETURNING {_OUTBOX_ALL}"
    if dialect == "sqlite":
        pick = head.format(now="?3")
        stamp = (
            f"UPDATE outbox SET claimed_by = ?1, lease_until = ?2 WHERE id IN ({pick}) {returning}"
        )
        return pick, stamp
    pick = head.format(now="$1") + " FOR UPDATE OF o SKIP LOCKED"
    stamp = f"UPDATE outbox SET claimed_by = $1, lease_until = $2 WHERE id = ANY($3) {returning}"
    return pick, stamp


class Runner:
    """Runs hand-written SQL on one connection: ``fetch`` returns the rows."""

    def __init__(self, fetch: Callable[..., Awaitable[Any]], execute: Callable[..., Any]) -> None:
        self.fetch = fetch
        self.execute = execute


Side = Callable[[bool], AbstractAsyncContextManager[Runner]]
"""``side(write)``: a connection to run bare SQL on (in a write transaction when ``write``)."""


def engine_side(engine: AsyncEngine) -> Side:
    """A connection from the product's own engine (pool, driver, connection events): it begins
    a transaction as the unit of work's session does (``BEGIN IMMEDIATE`` on SQLite) and rolls
    it back when returned to the pool."""

    @asynccontextmanager
    async def side(_write: bool) -> AsyncIterator[Runner]:
        async with engine.connect() as con:

            async def fetch(sql: str, args: Sequence[Any]) -> list[Any]:
                return list((await con.exec_driver_sql(sql, tuple(args))).all())

            async def execute(sql: str, args: Sequence[Any]) -> None:
                await con.exec_driver_sql(sql, tuple(args))

            yield Runner(fetch, execute)

    return side


def driver_side(dialect: str, con: Any) -> Side:
    """The raw driver connection, no pool and no SQLAlchemy: reads in autocommit, writes in a
    transaction that is rolled back. The floor under any library."""

    if dialect == "sqlite":

        async def fetch(sql: str, args: Sequence[Any]) -> list[Any]:
            async with con.execute(sql, tuple(args)) as cursor:
                return list(await cursor.fetchall())

        async def execute(sql: str, args: Sequence[Any]) -> None:
            await con.execute(sql, tuple(args))

        @asynccontextmanager
        async def sqlite_side(write: bool) -> AsyncIterator[Runner]:
            if write:
                await con.execute("BEGIN IMMEDIATE")
            try:
                yield Runner(fetch, execute)
            finally:
                if write:
                    await con.execute("ROLLBACK")

        return sqlite_side

    async def pg_fetch(sql: str, args: Sequence[Any]) -> list[Any]:
        return list(await con.fetch(sql, *args))

    async def pg_execute(sql: str, args: Sequence[Any]) -> None:
        await con.execute(sql, *args)

    @asynccontextmanager
    async def pg_side(write: bool) -> AsyncIterator[Runner]:
        transaction = con.transaction() if write else None
        if transaction is not None:
            await transaction.start()
        try:
            yield Runner(pg_fetch, pg_execute)
        finally:
            if transaction is not None:
                await transaction.rollback()

    return pg_side


@dataclass
class Query:
    key: str
    title: str
    product: Callable[[int], Awaitable[Any]]  # run number -> a result to compare
    bare: Callable[[Side, int], Awaitable[Any]]


def queries(
    dialect: str, uows: SqlUnitOfWorkFactory, plan: Plan, accounts: Sequence[str]
) -> list[Query]:
    now = plan.now.replace(tzinfo=UTC)
    lease_until = plan.now + timedelta(seconds=LEASE_SECONDS)
    count_sql, page_sql = queue_sql(dialect)
    upheld_sql = check_sql(dialect)
    pick_sql, stamp_sql = claim_sql(dialect)
    sqlite = dialect == "sqlite"
    # The tables hold naive UTC; the sqlite3 driver is given the text SQLAlchemy would store.
    db_now: Any = sqlite_time(plan.now) if sqlite else plan.now
    db_lease: Any = sqlite_time(lease_until) if sqlite else lease_until

    async def queue_product(_: int) -> Any:
        async with uows() as uow:
            page, total = await uow.cases.queue(QueueFilter(), limit=QUEUE_PAGE)
        return total, [c.public_id for c in page]

    async def queue_bare(side: Side, _: int) -> Any:
        async with side(False) as run:
            total = (await run.fetch(count_sql, OPEN))[0][0]
            page = await run.fetch(page_sql, OPEN)
        return total, [row[0] for row in page]

    async def check_product(n: int) -> Any:
        async with uows() as uow:
            return await uow.cases.count_upheld(accounts[n % len(accounts)])

    async def check_bare(side: Side, n: int) -> Any:
        async with side(False) as run:
            return (await run.fetch(upheld_sql, (accounts[n % len(accounts)],)))[0][0]

    async def claim_product(_: int) -> Any:
        async with uows() as uow:  # not committed: rolled back on leaving
            items = await uow.outbox.claim(
                now, CLAIM, worker_id=WORKER, lease_seconds=LEASE_SECONDS
            )
        return [item.id for item in items]

    async def claim_bare(side: Side, _: int) -> Any:
        async with side(True) as run:
            if sqlite:
                rows = await run.fetch(stamp_sql, (WORKER, db_lease, db_now))
            else:
                ids = [row[0] for row in await run.fetch(pick_sql, (db_now,))]
                if not ids:
                    return []
                rows = await run.fetch(stamp_sql, (WORKER, db_lease, ids))
            # RETURNING comes in no particular order.
            return [row[0] for row in sorted(rows, key=lambda row: (row[_DUE_AT], row[0]))]

    return [
        Query("queue", "staff queue, 20 oldest open", queue_product, queue_bare),
        Query("check", "/check ACCOUNT", check_product, check_bare),
        Query("claim", "outbox claim, next 100 due", claim_product, claim_bare),
    ]


# -- plans --------------------------------------------------------------------------------------


@contextmanager
def captured(engine: AsyncEngine) -> Iterator[list[tuple[str, Any]]]:
    """Every statement the engine sends to the driver (not BEGIN, ROLLBACK and the like)."""
    seen: list[tuple[str, Any]] = []

    def hook(*args: Any) -> None:
        statement, parameters = args[2], args[3]
        if statement.lstrip().upper().startswith(("SELECT", "UPDATE", "WITH")):
            seen.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", hook)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", hook)


async def explain(dialect: str, con: Any, statement: str, parameters: Any) -> str:
    args = tuple(parameters or ())
    if dialect == "sqlite":
        async with con.execute(f"EXPLAIN QUERY PLAN {statement}", args) as cursor:
            rows = list(await cursor.fetchall())
        depth: dict[int, int] = {0: -1}
        lines = []
        for node, parent, _, detail in rows:
            depth[node] = depth.get(parent, -1) + 1
            lines.append("  " * depth[node] + detail)
        return "\n".join(lines)
    # ANALYZE runs it, so inside a transaction that is rolled back (the claim's UPDATE too).
    transaction = con.transaction()
    await transaction.start()
    try:
        rows = await con.fetch(f"EXPLAIN (ANALYZE, COSTS OFF) {statement}", *args)
    finally:
        await transaction.rollback()
    return _compact("\n".join(row[0] for row in rows))


_MARKS = re.compile(r"\((?:\?, ){9,}\?\)|\((\$\d+)(?:::[A-Z]+)?(?:, \$\d+(?:::[A-Z]+)?){8,}\)")
_IDS = re.compile(r"'\{(?:\d+,){9,}\d+\}'")


def _compact(text_: str) -> str:
    """One line per statement, and long IN lists and id arrays cut short."""
    text_ = _MARKS.sub(lambda m: f"({m.group(0).count(',') + 1} parameters)", text_)
    return _IDS.sub(lambda m: f"'{{{m.group(0).count(',') + 1} ids}}'", text_)


def _oneline(statement: str) -> str:
    return _compact(" ".join(statement.split()))


# -- measuring ----------------------------------------------------------------------------------


async def measure(
    sides: Sequence[Callable[[int], Awaitable[Any]]], runs: int, rounds: int
) -> list[list[float]]:
    """The p50 of each side per round; each run takes the sides in turn, starting with a
    different one each time, so no side always runs on a cache the other just warmed."""
    for n in range(WARMUP):
        for side in sides:
            await side(n)
    clock = time.perf_counter
    results = []
    for _ in range(rounds):
        samples: list[list[float]] = [[] for _ in sides]
        for n in range(runs):
            for k in range(len(sides)):
                which = (n + k) % len(sides)
                started = clock()
                await sides[which](n)
                samples[which].append(clock() - started)
        results.append([statistics.median(s) for s in samples])
    return results


async def bench(database: Database, plan: Plan, runs: int, rounds: int) -> list[Figure]:
    dialect = database.engine.dialect.name
    uows = SqlUnitOfWorkFactory(make_session_factory(database.engine))
    rng = random.Random(SEED + 2)
    # Accounts someone would /check: drawn as reports are, so the busiest ones come up often.
    accounts = [plan.account(rng) for _ in range(max(runs, 32))]
    raw = await database.connect()
    bare, driver = engine_side(database.engine), driver_side(dialect, raw)
    found = []
    try:
        for query in queries(dialect, uows, plan, accounts):
            expected = await query.bare(driver, 0)
            with captured(database.engine) as statements:
                got = await query.product(0)
            if got != expected or await query.bare(bare, 0) != expected:
                raise SystemExit(
                    f"{database.name} {query.key}: the bare query disagrees with the product "
                    f"({got!r} != {expected!r}); bench/queries.py is out of date"
                )
            plans = [f"{_oneline(s)}\n{await explain(dialect, raw, s, p)}" for s, p in statements]

            def on(side: Side, q: Query = query) -> Callable[[int], Awaitable[Any]]:
                async def run(number: int) -> Any:
                    return await q.bare(side, number)

                return run

            timed = await measure([query.product, on(bare), on(driver)], runs, rounds)
            lines = [
                f"round {n + 1}: product {p * 1000:.3f} ms, bare {b * 1000:.3f} ms, "
                f"bare on the raw driver {d * 1000:.3f} ms (p50s)"
                for n, (p, b, d) in enumerate(timed)
            ]
            found.append(
                Figure(
                    group=GROUP,
                    name=f"{database.name}: {query.title}",
                    rounds=tuple(p / b for p, b, _ in timed),
                    target=at_most(TARGET),
                    detail="\n".join([*lines, *plans]),
                    notes=(
                        f"{plan.rows:,} cases and outbox rows (seeded in "
                        f"{database.seed_seconds:.0f} s); {runs} runs a side per round",
                    ),
                )
            )
            say(
                f"  {database.name} {query.title}: product/bare "
                + " ".join(f"{p / b:.2f}×" for p, b, _ in timed)
                + f"; p50 product {timed[-1][0] * 1000:.2f} ms, bare {timed[-1][1] * 1000:.2f}"
                f" ms, raw driver {timed[-1][2] * 1000:.2f} ms"
            )
    finally:
        await raw.close()
    return found


async def figures(
    quick: bool,
    *,
    pg_url: str | None = None,
    postgres: bool = True,
    runs: int = RUNS,
    rounds: int = ROUNDS,
) -> list[Figure]:
    """The figures of group ``queries``: SQLite, then PostgreSQL when it is reachable."""
    check_columns()
    plan = Plan(QUICK_ROWS if quick else FULL_ROWS, datetime.now(UTC).replace(tzinfo=None))
    found: list[Figure] = []
    async with sqlite_database(plan) as database:
        say(f"  SQLite: seeded in {database.seed_seconds:.1f} s")
        found += await bench(database, plan, runs, rounds)
    if postgres:
        url = pg_url or os.environ.get("DISPUTEBOT_TEST_PG_URL", DEFAULT_PG_URL)
        try:
            async with postgres_database(url, plan) as database:
                say(f"  PostgreSQL: seeded in {database.seed_seconds:.1f} s")
                found += await bench(database, plan, runs, rounds)
        except (OSError, TimeoutError, sa_exc.DBAPIError, asyncpg.PostgresError) as error:
            say(f"  PostgreSQL: skipped, {url} unusable ({type(error).__name__}: {error})")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 rows instead of 1,000,000")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    parser.add_argument("--pg-url", help=f"default $DISPUTEBOT_TEST_PG_URL or {DEFAULT_PG_URL}")
    parser.add_argument("--runs", type=int, default=RUNS, help="timed runs a side per round")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    found = asyncio.run(
        figures(
            args.quick,
            pg_url=args.pg_url,
            postgres=not args.no_pg,
            runs=args.runs,
            rounds=args.rounds,
        )
    )
    say()
    passed = table(found, say)
    say(f"\n{time.perf_counter() - started:.0f} s in all")
    return 0 if passed else 1


if __name__ == "__main__":
    with suppress(KeyboardInterrupt):
        sys.exit(main())
