"""Delivery benchmark: the outbox worker at Telegram's send limits.

Writes N notifications to M private chats into the outbox (SQLite, or PostgreSQL with
``--db postgres``), then lets the outbox worker deliver them through the real
python-telegram-bot adapter to the fake Bot API with Telegram's limits enforced
(``FakeBotApi.enforce_limits``: sliding windows, 429 with ``retry_after`` past them). Prints the
sustained rate as a fraction of the global limit, the 429s, the 429s not honoured, the messages
lost, and the time from commit to delivery, each against a baseline computed in the same run:

- time: the theoretical minimum, messages ÷ global rate;
- latency: an ideal sender that starts when the worker starts and sends in commit order at
  exactly the global rate (each message leaves at the later of its commit and the previous
  send plus 1/rate); its p50 and p99 are what no sender under the limit can beat.

The issue's figure: a 10,000-message backlog (``--quick``: 600) drains in at most 1.05× the
theoretical minimum, messages ÷ global rate, with nothing lost and no send before a
``retry_after`` elapsed. ``bench/run.py`` calls ``figures(quick)``; run on its own, the script
prints the same table.

Run from the repository root: ``.venv/bin/python bench/delivery.py --quick``. Exits 1 when a
target is missed. Not a test: nothing here runs under pytest.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``bench.figures`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import asyncio
import logging
import multiprocessing
import re
import secrets
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection

from sqlalchemy import text

from bench.figures import Figure, at_least, at_most, table
from disputebot.bootstrap import App, build
from disputebot.channels.telegram.handler import UpdateHandler
from disputebot.channels.telegram_ptb.api import PtbBotApi
from disputebot.config import Settings
from disputebot.delivery.worker import Worker, WorkerConfig
from disputebot.engine.effects import Msg, Say, say_from_json
from disputebot.ports import ChatKey, OutboxItem, OutboxStatus
from disputebot.service.inbound import Reply
from disputebot.store import migrate
from disputebot.store.database import create_engine
from disputebot.testing.fake_bot_api import FakeBotApi, FloodControl

PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
FIRST_CHAT = 700_000_001
WRITE_BATCH = 500
RATE_TARGET = 0.95
LATENCY_TARGET = 1.10  # actual / ideal
DRAIN_TARGET = 1.05  # actual / (messages ÷ global rate)
GROUP = "delivery"
FULL = (10_000, 1_000)  # messages, chats
QUICK = (600, 200)  # 20 s at 30/s: leaves make bench-quick room under two minutes
_CASE = re.compile(r"DB-\d{6}")


def out(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


@dataclass(frozen=True)
class Plan:
    messages: int
    chats: int
    global_rate: int
    db: str
    analyze: bool = False


@dataclass
class Outcome:
    written: dict[int, str]  # outbox id -> case id in its text
    write_seconds: float
    started: float  # Unix seconds when the worker started
    finished: float
    items: list[OutboxItem]  # every outbox row after the run
    flood: FloodControl
    received: dict[str, list[float]]  # case id -> Unix receive times at the fake server
    worker: Worker
    send_seconds: list[float]  # each send as the worker saw it: render, HTTP, answer


# -- the database -----------------------------------------------------------------------


@asynccontextmanager
async def database(kind: str) -> AsyncIterator[str]:
    """A migrated, empty database: a SQLite file, or a throwaway PostgreSQL schema."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="bench-delivery-") as folder:
            yield f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        return
    admin = create_engine(PG_URL, connect_args={"timeout": 5})
    schema = f"bench_{secrets.token_hex(4)}"
    try:
        async with admin.begin() as connection:
            await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        await admin.dispose()
        raise SystemExit(f"PostgreSQL at {PG_URL} is unusable: {exc}") from None
    url = f"{PG_URL}?search_path={schema}"
    try:
        await migrate.upgrade(url)
        yield url
    finally:
        async with admin.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


async def write_outbox(app: App, plan: Plan) -> tuple[dict[int, str], float]:
    """N notifications, chats in turn (each chat gets every M-th), committed in batches."""
    written: dict[int, str] = {}
    started = time.perf_counter()
    for first in range(0, plan.messages, WRITE_BATCH):
        async with app.uow_factory() as uow:
            now = app.clock.now()
            for n in range(first, min(first + WRITE_BATCH, plan.messages)):
                case = f"DB-{n:06d}"
                chat = ChatKey("telegram", FIRST_CHAT + n % plan.chats)
                say = Say((Msg("notify.in_review", {"case_id": case}),))
                written[await uow.outbox.put(chat, say, "en", now=now)] = case
            await uow.commit()
    return written, time.perf_counter() - started


# -- the fake Bot API, in a process of its own ------------------------------------------
# Telegram runs elsewhere; the fake runs in a child process so that its CPU (HTML parsing,
# JSON, HTTP) does not slow the worker's event loop and count against the worker.


@dataclass(frozen=True)
class ApiReport:
    flood: FloodControl
    received: dict[str, list[float]]  # case id -> Unix receive times


def serve_fake_api(conn: Connection, plan: Plan) -> None:
    """The child process: serve until the parent asks for the report."""
    asyncio.run(_serve(conn, plan))


async def _serve(conn: Connection, plan: Plan) -> None:
    async with FakeBotApi() as server:
        for n in range(plan.chats):
            server.user(FIRST_CHAT + n, f"User {n}")
        flood = server.enforce_limits(
            global_per_s=plan.global_rate, per_chat_per_s=1, per_group_per_min=20
        )
        conn.send((server.url, server.token))
        await asyncio.to_thread(conn.recv)
        received: dict[str, list[float]] = {}
        for chat in server.chats.values():
            for record in chat.inbox:
                match = _CASE.search(record["text"])
                if match:
                    received.setdefault(match.group(), []).append(record["received_at"])
        conn.send(ApiReport(flood, received))


@asynccontextmanager
async def fake_bot_api(plan: Plan) -> AsyncIterator[tuple[str, str, Connection]]:
    """(url, token, connection) of a fake Bot API with Telegram's limits enforced."""
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(target=serve_fake_api, args=(theirs, plan), daemon=True)
    process.start()
    try:
        if not await asyncio.to_thread(ours.poll, 60):
            raise SystemExit("the fake Bot API did not start")
        url, token = ours.recv()
        yield url, token, ours
    finally:
        process.terminate()
        await asyncio.to_thread(process.join, 10)


async def api_report(conn: Connection) -> ApiReport:
    conn.send("report")
    report: ApiReport = await asyncio.to_thread(conn.recv)
    return report


# -- the run ----------------------------------------------------------------------------


async def run(plan: Plan) -> Outcome:
    async with fake_bot_api(plan) as (api_url, token, conn), database(plan.db) as url:
        with tempfile.TemporaryDirectory(prefix="bench-evidence-") as evidence:
            settings = Settings(
                _env_file=None,  # pydantic-settings' init option: ignore any .env here
                bot_token=token,
                telegram_api_url=api_url,
                database_url=url,
                evidence_dir=Path(evidence),
                delivery_global_per_second=plan.global_rate,
            )
            app = await build(settings, upgrade_sqlite=plan.db == "sqlite")
            try:
                return await deliver(app, conn, plan)
            finally:
                await app.close()


async def deliver(app: App, conn: Connection, plan: Plan) -> Outcome:
    written, write_seconds = await write_outbox(app, plan)
    if plan.analyze:
        async with app.engine.begin() as connection:
            await connection.execute(text("ANALYZE outbox"))
    settings = app.settings
    token = settings.bot_token.get_secret_value() if settings.bot_token else ""
    # The python-telegram-bot adapter and the handler that renders and sends a notification,
    # as ``bootstrap.telegram_runtime`` wires them for the bot.
    api = PtbBotApi(token, settings.telegram_api_url)
    await api.start()
    handler = UpdateHandler(api, app.service, app.vault, app.content.catalogs, metrics=app.metrics)
    send_seconds: list[float] = []

    async def send(item: OutboxItem) -> None:
        reply = Reply(item.chat, say_from_json(item.payload), item.locale)
        began = time.perf_counter()
        try:
            await handler.send(reply, attempts=1)  # retries are the worker's
        finally:
            send_seconds.append(time.perf_counter() - began)

    worker = Worker(
        app.uow_factory,
        send,
        clock=app.clock,
        channel="telegram",
        config=WorkerConfig.from_settings(settings),
        metrics=app.metrics,
    )
    started = time.time()
    try:
        await worker.drain()
    finally:
        finished = time.time()
        await handler.close()
        await api.close()
    async with app.uow_factory() as uow:
        items = await uow.outbox.list(limit=plan.messages * 2)
    report = await api_report(conn)
    return Outcome(
        written,
        write_seconds,
        started,
        finished,
        items,
        report.flood,
        report.received,
        worker,
        send_seconds,
    )


# -- the report -------------------------------------------------------------------------


def ideal_latencies(created: list[float], start: float, rate: float) -> list[float]:
    """Each message's latency under a perfect sender at ``rate`` from ``start``, in order."""
    latencies: list[float] = []
    last = -float("inf")
    for at in sorted(created):
        sent = max(at, start, last + 1 / rate)
        latencies.append(sent - at)
        last = sent
    return latencies


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(p) - 1]


def figures_of(plan: Plan, result: Outcome) -> list[Figure]:
    """The run as figures (group ``delivery``), each measured once."""
    flood, rate = result.flood, plan.global_rate
    created = {item.id: item.created_at.timestamp() for item in result.items}
    latencies = [
        min(result.received[case]) - created[item_id]
        for item_id, case in result.written.items()
        if case in result.received
    ]
    ideal = ideal_latencies(list(created.values()), result.started, rate)
    delivered = len(result.received)
    lost = plan.messages - delivered
    duplicates = sum(len(times) - 1 for times in result.received.values())
    pending = sum(1 for item in result.items if item.status is not OutboxStatus.SENT)
    last_receipt = max((d.received_at for d in flood.deliveries), default=result.finished)
    elapsed = last_receipt - result.started
    minimum = plan.messages / rate
    # A sliding window lets the first ``rate`` messages go at once: the last one can arrive
    # (ceil(N / rate) - 1) windows after the first, the floor no sender can beat.
    floor = (-(-plan.messages // rate) - 1) * 1.0
    sends = result.send_seconds
    mean = statistics.fmean(sends) if sends else 0.0
    label = f"{plan.messages:,} msgs, {plan.db}"
    send_line = (
        f"one send as the worker saw it (render + HTTP): mean {mean * 1000:.1f} ms, "
        f"p50 {percentile(sends, 50) * 1000:.1f} ms, p99 {percentile(sends, 99) * 1000:.1f} ms"
    )
    drain = Figure(
        GROUP,
        f"{label}: drain time ÷ minimum",
        (elapsed / minimum,),
        at_most(DRAIN_TARGET),
        notes=(
            f"{plan.messages:,} notifications to {plan.chats:,} private chats "
            f"(outbox written in {result.write_seconds:.1f} s); limits {rate}/s in total, "
            "1/s per chat, 20/min per group, enforced by the fake Bot API",
        ),
        detail="\n".join(
            (
                f"worker start to last message received: {elapsed:.1f} s; minimum "
                f"{minimum:.1f} s (messages ÷ global rate); the sliding window's own floor "
                f"{floor:.0f} s (the first {rate} go at once): {elapsed / floor:.3f}× that"
                if floor > 0
                else f"worker start to last message received: {elapsed:.1f} s",
                send_line,
                "a slot is held from a send's start to 1 s after its end "
                f"(delivery/limits.py): the rate cannot pass 1 / (1 s + mean send) = "
                f"{1 / (1 + mean):.3f} × limit, so the drain cannot beat the floor × "
                f"(1 s + mean send) = {floor * (1 + mean):.1f} s = "
                f"{floor * (1 + mean) / minimum:.3f}× the minimum; peak in any 1 s: "
                f"{flood.peak(1.0)} (limit {rate})",
            )
        ),
    )
    found = [
        drain,
        Figure(
            GROUP,
            f"{label}: messages lost",
            (float(lost + pending),),
            at_most(0),
            unit="",
            notes=(
                f"never received {lost}, not marked sent in the outbox {pending}, "
                f"received twice {duplicates}",
            ),
        ),
        Figure(
            GROUP,
            f"{label}: sends before retry_after elapsed",
            (float(len(flood.unhonoured)),),
            at_most(0),
            unit="",
        ),
        Figure(
            GROUP,
            f"{label}: 429s received",
            (float(len(flood.throttles)),),
            at_most(0),
            unit="",
            notes=(f"the worker counted {result.worker.stats.throttled}",),
        ),
        Figure(
            GROUP,
            f"{label}: sustained rate ÷ limit",
            (flood.rate() / rate,),
            at_least(RATE_TARGET),
            notes=(f"{flood.rate():.2f} msg/s, first receipt to last",),
        ),
    ]
    for p in (50, 99):
        actual, best = percentile(latencies, p), percentile(ideal, p)
        found.append(
            Figure(
                GROUP,
                f"{label}: p{p} commit → delivery ÷ ideal",
                (actual / best if best > 0 else float("inf"),),
                at_most(LATENCY_TARGET),
                notes=(
                    f"{actual:.2f} s; an ideal sender at exactly {rate}/s from the worker's "
                    f"start: {best:.2f} s",
                ),
            )
        )
    return found


def default_plan(quick: bool, db: str = "sqlite") -> Plan:
    messages, chats = QUICK if quick else FULL
    return Plan(messages, chats, 30, db)


async def figures(quick: bool) -> list[Figure]:
    """The figures of group ``delivery``: the backlog on SQLite (the bot's default store)."""
    plan = default_plan(quick)
    return figures_of(plan, await run(plan))


def parse(argv: list[str] | None = None) -> Plan:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK[0]:,} messages to {QUICK[1]} chats"
    )
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--messages", type=int, help=f"default {FULL[0]:,} ({QUICK[0]:,} with --quick)"
    )
    parser.add_argument("--chats", type=int, help=f"default {FULL[1]:,} ({QUICK[1]} with --quick)")
    parser.add_argument("--rate", type=int, default=30, help="global limit, messages/s")
    parser.add_argument(
        "--analyze",
        action="store_true",
        help="refresh the planner statistics (ANALYZE) after writing the outbox",
    )
    args = parser.parse_args(argv)
    default = default_plan(args.quick)
    messages = args.messages or default.messages
    chats = args.chats or default.chats
    if messages < 1 or chats < 1 or args.rate < 1:
        parser.error("messages, chats and rate must be positive")
    return Plan(messages, chats, args.rate, args.db, args.analyze)


def main(argv: list[str] | None = None) -> int:
    plan = parse(argv)
    logging.basicConfig(level=logging.ERROR)
    started = time.perf_counter()
    analyzed = " (ANALYZEd after writing)" if plan.analyze else ""
    out(
        f"delivery: {plan.messages:,} notifications to {plan.chats:,} private chats, {plan.db}"
        f"{analyzed}, limits {plan.global_rate}/s in total, 1/s per chat, 20/min per group; "
        "worker → python-telegram-bot → fake Bot API (limits enforced)"
    )
    passed = table(figures_of(plan, asyncio.run(run(plan))), out)
    out(f"\n{time.perf_counter() - started:.0f} s in all")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
