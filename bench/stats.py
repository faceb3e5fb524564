"""Benchmark: the whole ``/stats`` path on SQLite and PostgreSQL, against a bare GROUP BY.

Seeds 10,000 cases (``--quick``: 2,000) filed over the last 60 days into a fresh SQLite file and
a throwaway PostgreSQL schema, through the real store's tables and session, then times what
``/stats`` does: ``CaseStore.times_since`` in a unit of work, ``cases.stats.compute`` and
``service.chart.render_chart``. The median of 5 runs is compared with the target (< 1 s) and
with a baseline measured in the same run on the same data: ``SELECT status, count(*) FROM
cases GROUP BY status``, the cheapest query that still reads every case.

Run from the repository root::

    .venv/bin/python bench/stats.py [--quick] [--runs 5] [--pg-url URL] [--no-pg]

PostgreSQL comes from ``--pg-url`` or ``DISPUTEBOT_TEST_PG_URL`` (default
``postgresql+asyncpg://postgres@127.0.0.1:5432/test``); an unreachable server is reported and
skipped. The exit status is 1 when any measured database misses the target.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from disputebot.cases import stats
from disputebot.cases.records import OPEN_STATUSES, Status
from disputebot.store import migrate
from disputebot.store.database import create_engine, make_session_factory
from disputebot.store.models import CaseRow
from disputebot.store.uow import SqlUnitOfWorkFactory

TARGET_S = 1.0
BASELINE_SQL = text("SELECT status, count(*) FROM cases GROUP BY status")
SEED_DAYS = 60
BATCH = 1_000
DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
REVIEWERS = [f"telegram:{900_000 + n}" for n in range(8)]
CATEGORIES = ["fake_logistics", "concealed_info", "intentional_dispute", "other"]
# Roughly a working desk: most old cases decided, a tail still open.
OPEN_WEIGHTS = {
    Status.SUBMITTED: 4,
    Status.IN_REVIEW: 3,
    Status.AWAITING_INFO: 2,
    Status.ESCALATED: 1,
}
FINISHED_WEIGHTS = {Status.UPHELD: 4, Status.REJECTED: 4, Status.WITHDRAWN: 1, Status.CLOSED: 1}


def say(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


# --- data -----------------------------------------------------------------------------------


def case_rows(count: int, now: datetime, seed: int = 20261130) -> list[dict[str, Any]]:
    """``count`` cases filed uniformly over the last ``SEED_DAYS`` days, with mixed statuses,
    assignees, first responses and decisions (a few reopened after a decision)."""
    rng = random.Random(seed)
    open_statuses, open_weights = zip(*OPEN_WEIGHTS.items(), strict=True)
    done_statuses, done_weights = zip(*FINISHED_WEIGHTS.items(), strict=True)
    rows = []
    for number in range(count):
        created = now - timedelta(seconds=rng.uniform(0, SEED_DAYS * 86_400))
        age_days = (now - created).total_seconds() / 86_400
        # The older the case, the likelier it is decided: about 1 in 10 a day, up to 95 %.
        finished = rng.random() < min(0.95, age_days / 10)
        if finished:
            status = rng.choices(done_statuses, done_weights)[0]
        else:
            status = rng.choices(open_statuses, open_weights)[0]
        first_response = None
        if status != Status.SUBMITTED or rng.random() < 0.2:
            first_response = min(now, created + timedelta(hours=rng.expovariate(1 / 6)))
        decided = None
        if finished:
            decided = min(now, created + timedelta(days=rng.expovariate(1 / 3)))
        elif status != Status.SUBMITTED and rng.random() < 0.03:  # reopened after a decision
            decided = min(now, created + timedelta(days=rng.uniform(0, age_days)))
        assignee = None if status == Status.SUBMITTED else rng.choice(REVIEWERS)
        outcome = status.value if status in (Status.UPHELD, Status.REJECTED) else None
        rows.append(
            {
                "public_id": f"BN-{number:08d}",
                "status": status.value,
                "reporter_id": f"telegram:{rng.randrange(1, 3_000)}",
                "category": rng.choice(CATEGORIES),
                "account_key": f"store:{rng.randrange(1, 800)}",
                "account": {"store_id": str(rng.randrange(1, 800))},
                "description": "Seller marked the order delivered; tracking shows no movement.",
                "answers": {},
                "flow": "report",
                "flow_version": 1,
                "attestation": "v1",
                "created_at": created,
                "updated_at": max(created, decided or first_response or created),
                "assignee": assignee,
                "outcome": outcome,
                "decision": {"outcome": outcome} if outcome else {},
                "first_response_at": first_response,
                "decided_at": decided,
            }
        )
    return rows


def check_columns(rows: list[dict[str, Any]]) -> None:
    """Fail with a clear message if the table grew a required column the seed does not fill."""
    table = CaseRow.__table__
    required = {
        c.name
        for c in table.columns
        if not c.nullable and not c.primary_key and c.server_default is None and c.default is None
    }
    missing = required - set(rows[0])
    unknown = set(rows[0]) - {c.name for c in table.columns}
    if missing or unknown:
        raise SystemExit(f"bench/stats.py is out of date with CaseRow: {missing=} {unknown=}")


# --- databases ------------------------------------------------------------------------------


@dataclass
class Database:
    name: str
    url: str
    engine: AsyncEngine


@asynccontextmanager
async def sqlite_database() -> AsyncIterator[Database]:
    with tempfile.TemporaryDirectory(prefix="disputebot-bench-") as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        await migrate.upgrade(url)
        engine = create_engine(url)
        try:
            yield Database("SQLite", url, engine)
        finally:
            await engine.dispose()


@asynccontextmanager
async def postgres_database(base_url: str) -> AsyncIterator[Database]:
    """A throwaway schema ``bench_<hex>``, migrated, dropped afterwards (as the tests do)."""
    admin = create_engine(base_url, connect_args={"timeout": 5})
    schema = f"bench_{secrets.token_hex(6)}"
    try:
        async with admin.begin() as connection:
            await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except BaseException:
        await admin.dispose()
        raise
    url = f"{base_url}?search_path={schema}"
    engine = create_engine(url)
    try:
        await migrate.upgrade(url)
        yield Database("PostgreSQL", url, engine)
    finally:
        await engine.dispose()
        async with admin.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


async def seed(database: Database, rows: list[dict[str, Any]]) -> float:
    """Bulk inserts in the store's own session factory, one transaction.

    A Core insert on the table (an executemany), not the ORM's bulk insert on the class, which
    takes about 4x as long here for the same rows.
    """
    statement = insert(CaseRow.metadata.tables[CaseRow.__tablename__])
    sessions = make_session_factory(database.engine)
    started = time.perf_counter()
    async with sessions() as session, session.begin():
        for start in range(0, len(rows), BATCH):
            await session.execute(statement, rows[start : start + BATCH])
    return time.perf_counter() - started


# --- measuring ------------------------------------------------------------------------------


@dataclass
class Timings:
    total: float
    fetch: float
    compute: float
    render: float
    cases: int
    png_bytes: int


async def stats_path(uows: SqlUnitOfWorkFactory, now: datetime) -> Timings:
    """What the ``/stats`` command does, minus sending: read, compute, draw."""
    from disputebot.service.chart import render_chart  # noqa: PLC0415  (as the service does)

    started = time.perf_counter()
    async with uows() as uow:
        times = await uow.cases.times_since(stats.since(now))
    fetched = time.perf_counter()
    report = stats.compute(times, now)
    computed = time.perf_counter()
    png = render_chart(
        report,
        title="Last 30 days (UTC)",
        intake_label="Cases filed per day",
        backlog_label="Open cases at the end of each day",
    )
    rendered = time.perf_counter()
    return Timings(
        total=rendered - started,
        fetch=fetched - started,
        compute=computed - fetched,
        render=rendered - computed,
        cases=len(times),
        png_bytes=len(png),
    )


async def baseline(database: Database) -> float:
    sessions = make_session_factory(database.engine)
    started = time.perf_counter()
    async with sessions() as session:
        result = await session.execute(BASELINE_SQL)
        rows = result.all()
    elapsed = time.perf_counter() - started
    assert rows, "the baseline query found no cases"
    return elapsed


async def median_of(runs: int, measure: Callable[[], Awaitable[float]]) -> float:
    return statistics.median([await measure() for _ in range(runs)])


async def bench(database: Database, rows: list[dict[str, Any]], now: datetime, runs: int) -> bool:
    seeded = await seed(database, rows)
    say(f"{database.name}: seeded {len(rows):,} cases in {seeded * 1000:.0f} ms")
    uows = SqlUnitOfWorkFactory(make_session_factory(database.engine))

    first = await stats_path(uows, now)  # also warms the pool, the caches and Pillow's import
    samples = [await stats_path(uows, now) for _ in range(runs)]
    base = await median_of(runs, lambda: baseline(database))

    total = statistics.median(s.total for s in samples)
    passed = total < TARGET_S

    def part(name: str) -> str:
        return f"{statistics.median(getattr(s, name) for s in samples) * 1000:.1f}"

    say(
        f"  /stats path (times_since + compute + render_chart), median of {runs}: "
        f"{total * 1000:.1f} ms  [target < {TARGET_S:.0f} s: {'PASS' if passed else 'FAIL'}]"
    )
    say(
        f"    times_since {part('fetch')} ms ({samples[0].cases:,} cases) · "
        f"compute {part('compute')} ms · render_chart {part('render')} ms "
        f"({samples[0].png_bytes / 1024:.0f} KiB PNG)"
    )
    say(f"    first call, with imports and a cold pool: {first.total * 1000:.1f} ms")
    say(
        f"  baseline SELECT status, count(*) … GROUP BY status, median of {runs}: "
        f"{base * 1000:.2f} ms  ->  /stats is {total / base:.1f}x the baseline"
    )
    return passed


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 cases instead of 10,000")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per database")
    parser.add_argument(
        "--pg-url", default=os.environ.get("DISPUTEBOT_TEST_PG_URL", DEFAULT_PG_URL)
    )
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = parser.parse_args(argv)

    count = 2_000 if args.quick else 10_000
    now = datetime.now(UTC)
    rows = case_rows(count, now)
    check_columns(rows)
    still_open = sum(Status(r["status"]) in OPEN_STATUSES for r in rows)
    say(
        f"/stats benchmark: {count:,} cases over {SEED_DAYS} days "
        f"({still_open:,} open), {args.runs} runs each, Python {sys.version.split()[0]}"
    )
    results: list[bool] = []

    async with sqlite_database() as database:
        results.append(await bench(database, rows, now, args.runs))

    if args.no_pg:
        say("PostgreSQL: skipped (--no-pg)")
    else:
        try:
            async with postgres_database(args.pg_url) as database:
                results.append(await bench(database, rows, now, args.runs))
        except (OSError, TimeoutError, sa_exc.DBAPIError) as error:
            say(
                f"PostgreSQL: skipped, {args.pg_url} unreachable ({type(error).__name__}: {error})"
            )

    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
