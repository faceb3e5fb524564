"""The SQLite driver: statements on the event loop (``store.inline_sqlite``) against aiosqlite.

    .venv/bin/python bench/sqlite_driver.py [--runs 3000]

Both engines come from ``store.database.create_engine`` (WAL, ``synchronous=NORMAL``,
``BEGIN IMMEDIATE``), on fresh files of 1,000 rows; the two alternate, 3 rounds. Printed: the
mean time of a one-row indexed read (ORM session, a statement built per call, as the stores
mostly do; and on the bare connection with driver SQL) and of a unit of work that updates one
row and commits, each as inline ÷ aiosqlite.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from disputebot.store.database import create_engine, make_session_factory

_meta = MetaData()
_rows = Table("rows", _meta, Column("id", Integer, primary_key=True), Column("v", String))


async def _timed(runs: int, step: Callable[[int], Awaitable[object]]) -> float:
    started = time.perf_counter()
    for n in range(runs):
        await step(n)
    return (time.perf_counter() - started) / runs * 1e6


async def measure(inline: bool, runs: int) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix="disputebot-driver-"))
    engine = create_engine(f"sqlite+aiosqlite:///{folder / 'bench.db'}", sqlite_inline=inline)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_meta.create_all)
            await connection.execute(
                _rows.insert(), [{"id": i, "v": "x" * 50} for i in range(1000)]
            )
        sessions = make_session_factory(engine)
        found: dict[str, float] = {}
        async with sessions() as session, session.begin():

            async def orm_read(n: int) -> object:
                result = await session.execute(select(_rows.c.v).where(_rows.c.id == n % 1000))
                return result.all()

            found["read, ORM session"] = await _timed(runs, orm_read)
            connection = await session.connection()

            async def driver_read(n: int) -> object:
                sql = "SELECT v FROM rows WHERE id = ?"
                return (await connection.exec_driver_sql(sql, (n % 1000,))).all()

            found["read, driver SQL"] = await _timed(runs, driver_read)

        async def unit(n: int) -> object:
            async with sessions() as session, session.begin():
                return await session.execute(
                    text("UPDATE rows SET v = :v WHERE id = :id"), {"v": str(n), "id": n % 1000}
                )

        found["unit of work: one UPDATE, COMMIT"] = await _timed(max(runs // 3, 1), unit)
        return found
    finally:
        await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    inline: list[dict[str, float]] = []
    thread: list[dict[str, float]] = []
    for _ in range(args.rounds):
        inline.append(await measure(True, args.runs))
        thread.append(await measure(False, args.runs))
    out = sys.stdout
    out.write(f"{'operation':36} {'inline µs':>10} {'aiosqlite µs':>13} {'ratio':>7}\n")
    for name in inline[0]:
        ours = statistics.median(r[name] for r in inline)
        theirs = statistics.median(r[name] for r in thread)
        out.write(f"{name:36} {ours:10.0f} {theirs:13.0f} {ours / theirs:6.2f}×\n")


if __name__ == "__main__":
    asyncio.run(main())
