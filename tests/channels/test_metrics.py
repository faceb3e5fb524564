"""``/metrics`` and ``/healthz`` over HTTP: the bot against the fake Bot API, in both modes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from disputebot.metrics import Metrics
from disputebot.store.database import create_engine, make_session_factory
from disputebot.store.uow import SqlUnitOfWorkFactory
from disputebot.testing.fake_bot_api import FakeBotApi
from disputebot.testing.memory import MemoryUnitOfWorkFactory
from disputebot.web.ops import OpsServer, database_health
from tests.e2e.conftest import free_port, settings_for, start_bot
from tests.e2e.test_report_flow import has_buttons, reach_evidence
from tests.support import png_bytes

PATIENCE = 10.0  # seconds a counter may take to move after the chat did

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def scrape(http: aiohttp.ClientSession, base: str) -> Samples:
    async with http.get(f"{base}/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return parse(await response.text())


async def scrape_until(
    http: aiohttp.ClientSession, base: str, ready: Callable[[Samples], bool]
) -> Samples:
    """Scrape until ``ready`` holds (counters and gauges move after the chat does)."""
    deadline = time.monotonic() + PATIENCE
    while True:
        samples = await scrape(http, base)
        if ready(samples) or time.monotonic() > deadline:
            return samples
        await asyncio.sleep(0.1)


async def test_polling_serves_metrics_and_health(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    async with FakeBotApi() as server, aiohttp.ClientSession() as http:
        bot = await start_bot(settings_for(server, tmp_path, "ptb", "polling", metrics_port=port))
        try:
            async with http.get(f"{base}/healthz") as response:
                assert response.status == 200
                assert await response.json() == {"ok": True}
            before = await scrape(http, base)
            assert value(before, "disputebot_reports_filed_total", channel="telegram") == 0

            alice = server.user(4242, language_code="en")
            await reach_evidence(alice)
            await alice.send_photo(png_bytes(7))
            done = await alice.wait_for(lambda m: "Done" in str(m["buttons"]))
            await alice.press(done, "Done")
            summary = await alice.wait_for(lambda m: "summary" in m["text"].lower())
            # The next message the bot sends (the reply or the receipt) is throttled once.
            server.fail_next("sendMessage", status=429, retry_after=1)
            await alice.press(summary, "submit")
            await alice.wait_for(lambda m: "DR-" in m["text"])

            def settled(s: Samples) -> bool:
                return (
                    value(s, "disputebot_outbox_pending", channel="telegram") == 0
                    and value(s, "disputebot_deliveries_total", channel="telegram", result="sent")
                    >= 1
                )

            after = await scrape_until(http, base, settled)
            applied = {"channel": "telegram", "outcome": "applied"}
            assert value(after, "disputebot_updates_total", **applied) >= 6
            assert value(after, "disputebot_update_seconds_count", channel="telegram") >= 6
            assert value(after, "disputebot_reports_filed_total", channel="telegram") == 1
            assert settled(after), after
            assert value(after, "disputebot_outbox_oldest_seconds", channel="telegram") == 0
            assert value(after, "disputebot_telegram_throttled_total") == 1
            assert (
                value(after, "disputebot_updates_total", channel="telegram", outcome="error") == 0
            )

            # A 429 on getUpdates is counted too: it answers the call after the next update.
            server.fail_next("getUpdates", status=429, retry_after=1)
            await alice.send_text("/help")
            await alice.wait_for(lambda m: "/report" in m["text"])
            throttled = await scrape_until(
                http, base, lambda s: value(s, "disputebot_telegram_throttled_total") >= 2
            )
            assert value(throttled, "disputebot_telegram_throttled_total") == 2
        finally:
            await bot.shutdown()


async def test_webhook_serves_metrics_on_the_webhook_server(tmp_path: Path) -> None:
    async with FakeBotApi() as server, aiohttp.ClientSession() as http:
        settings = settings_for(server, tmp_path, "aiogram", "webhook")
        bot = await start_bot(settings)
        base = f"http://127.0.0.1:{settings.webhook_port}"
        try:
            alice = server.user(5151, language_code="en")
            await alice.send_text("/start")
            await alice.wait_for(has_buttons)
            await alice.send_text("/start")  # the same command again is a new update
            await alice.wait_for(has_buttons)
            samples = await scrape_until(
                http,
                base,
                lambda s: (
                    value(s, "disputebot_updates_total", channel="telegram", outcome="applied")
                    >= 2
                ),
            )
            assert (
                value(samples, "disputebot_updates_total", channel="telegram", outcome="applied")
                == 2
            )
            async with http.get(f"{base}/healthz") as response:
                assert response.status == 200
        finally:
            await bot.shutdown()


async def test_health_is_503_when_the_database_does_not_answer(tmp_path: Path) -> None:
    # SQLite cannot open a file in a folder that does not exist.
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'bot.db'}")
    broken = SqlUnitOfWorkFactory(make_session_factory(engine))
    up = OpsServer(healthy=database_health(MemoryUnitOfWorkFactory()), metrics=Metrics())
    down = OpsServer(healthy=database_health(broken), metrics=Metrics())
    await up.start("127.0.0.1", 0)
    await down.start("127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{up.port}/healthz") as response:
                assert (response.status, await response.json()) == (200, {"ok": True})
            async with http.get(f"http://127.0.0.1:{down.port}/healthz") as response:
                assert (response.status, await response.json()) == (503, {"ok": False})
    finally:
        await up.stop()
        await down.stop()
        await engine.dispose()
