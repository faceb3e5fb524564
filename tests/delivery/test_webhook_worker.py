"""Platform webhook events delivered by the outbox worker, over real HTTP to the fake platform.

The outbox runs on every backend (memory, SQLite, PostgreSQL); the worker signs with
``WebhookSender`` and ``FakePlatform`` checks each signature and timestamp as the real
receiver would, refusing (401) what does not verify.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from disputebot.clock import SystemClock
from disputebot.config import Settings
from disputebot.delivery.limits import Rate
from disputebot.delivery.webhooks import (
    CHANNEL,
    WEBHOOK_RATE,
    WebhookSender,
    run_webhooks,
    webhook_config,
)
from disputebot.delivery.worker import Worker, WorkerConfig
from disputebot.ports import WEBHOOK_CHAT, OutboxStatus, UnitOfWorkFactory
from disputebot.store import migrate
from disputebot.store.database import create_engine, make_session_factory
from disputebot.store.uow import SqlUnitOfWorkFactory
from disputebot.testing.fake_bot_api import FakeBotApi
from disputebot.testing.fake_platform import FakePlatform
from tests.channels.console_process import PATIENCE, ConsoleProcess, bot_env
from tests.e2e.conftest import settings_for, start_bot

SECRET = "whsec_worker_test"


def settings(url: str | None = None, secret: str | None = SECRET, **extra: object) -> Settings:
    values: dict[str, Any] = {
        "platform_webhook_url": url,
        "platform_webhook_secret": SecretStr(secret) if secret is not None else None,
        **extra,
    }
    return Settings(_env_file=None, **values)


def fast(config: WorkerConfig) -> WorkerConfig:
    """The webhook config with backoffs and polls short enough for a test's wall clock."""
    return dataclasses.replace(config, backoff_cap=0.05, poll_seconds=0.05)


def event(n: int) -> str:
    return json.dumps({"event_id": f"ev-{n}", "type": "case.status_changed", "case": f"DR-{n}"})


async def queue(uow_factory: UnitOfWorkFactory, count: int, first: int = 0) -> list[int]:
    clock = SystemClock()
    async with uow_factory() as uow:
        ids = [
            await uow.outbox.put_event(event(n), now=clock.now(), case_id=f"DR-{n}")
            for n in range(first, first + count)
        ]
        await uow.commit()
    return ids


async def outbox(uow_factory: UnitOfWorkFactory) -> dict[int, tuple[OutboxStatus, int, str]]:
    async with uow_factory() as uow:
        return {
            i.id: (i.status, i.attempts, i.last_error or "")
            for i in await uow.outbox.list(channel=CHANNEL, limit=1000)
        }


@pytest.fixture
async def platform() -> AsyncIterator[FakePlatform]:
    async with FakePlatform(SECRET) as fake:
        yield fake


async def serve(worker: Worker, platform: FakePlatform, count: int) -> None:
    """Run ``worker`` until the platform has ``count`` distinct events, then stop it."""
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await platform.wait_for(count, timeout=20)
    finally:
        stop.set()
        await task


# -- the worker -------------------------------------------------------------------------


async def test_events_go_out_signed_in_order_and_a_503_is_retried(
    uow_factory: UnitOfWorkFactory, platform: FakePlatform
) -> None:
    ids = await queue(uow_factory, 5)
    platform.fail_next(1)  # the first POST: 503, as an overloaded receiver answers
    config = fast(webhook_config(settings(platform.url)))
    async with WebhookSender(platform.url, SECRET, timeout=5) as sender:
        worker = Worker(
            uow_factory, sender.send, clock=SystemClock(), channel=CHANNEL, config=config
        )
        await serve(worker, platform, 5)

    # Every event once, in id order: the events behind the refused one waited for its retry.
    assert [e.event_id for e in platform.events] == [f"ev-{n}" for n in range(5)]
    assert [e.body for e in platform.events] == [event(n).encode() for n in range(5)]
    assert [(r.status, r.reason) for r in platform.rejections] == [(503, "planned failure")]
    assert platform.requests == 6
    assert platform.duplicates == 0
    assert (worker.stats.sent, worker.stats.retried, worker.stats.dead) == (5, 1, 0)
    done = await outbox(uow_factory)
    assert {status for status, _, _ in done.values()} == {OutboxStatus.SENT}
    assert done[ids[0]][1] == 1  # one failed attempt, then sent
    assert "503" in done[ids[0]][2]
    assert all(done[i][1] == 0 for i in ids[1:])


async def test_a_signature_the_platform_refuses_dead_letters_the_event_and_the_next_goes(
    uow_factory: UnitOfWorkFactory, platform: FakePlatform
) -> None:
    first, second = await queue(uow_factory, 2)
    config = fast(webhook_config(settings(platform.url)))
    async with WebhookSender(platform.url, "not the shared secret") as wrong:
        worker = Worker(
            uow_factory, wrong.send, clock=SystemClock(), channel=CHANNEL, config=config
        )
        assert await asyncio.wait_for(worker.drain(), 20) == 0
    assert [r.status for r in platform.rejections] == [401, 401]
    assert platform.events == []
    done = await outbox(uow_factory)
    assert [done[first][0], done[second][0]] == [OutboxStatus.DEAD, OutboxStatus.DEAD]
    assert "401" in done[first][2]


async def test_run_webhooks_delivers_with_the_configured_url_and_secret(
    uow_factory: UnitOfWorkFactory, platform: FakePlatform
) -> None:
    await queue(uow_factory, 3)
    configured = settings(platform.url)
    stop = asyncio.Event()
    wakeup = asyncio.Event()
    task = asyncio.create_task(
        run_webhooks(
            configured,
            uow_factory,
            SystemClock(),
            stop,
            wakeup=wakeup,
            config=fast(webhook_config(configured)),
        )
    )
    try:
        await platform.wait_for(3, timeout=20)
        await queue(uow_factory, 1, first=3)
        wakeup.set()  # what a commit does in `disputebot run`
        received = await platform.wait_for(4, timeout=20)
    finally:
        stop.set()
        await task
    assert [e.event_id for e in received] == ["ev-0", "ev-1", "ev-2", "ev-3"]
    assert platform.rejections == []


async def test_run_webhooks_does_nothing_without_a_url(uow_factory: UnitOfWorkFactory) -> None:
    await queue(uow_factory, 1)
    stop = asyncio.Event()  # never set: it must return on its own
    await asyncio.wait_for(
        run_webhooks(settings(secret=None), uow_factory, SystemClock(), stop), 5
    )
    assert [s for s, _, _ in (await outbox(uow_factory)).values()] == [OutboxStatus.PENDING]


def test_webhook_limits_are_their_own() -> None:
    config = webhook_config(settings("https://platform.example/events", delivery_max_attempts=5))
    # No Telegram per-chat pacing: the one chat may use the whole rate.
    assert config.limits.total == config.limits.per_chat == WEBHOOK_RATE == Rate(50, 1.0)
    assert config.limits.for_chat(WEBHOOK_CHAT.chat_id) == (WEBHOOK_RATE,)
    assert (config.max_attempts, config.concurrency) == (5, 1)


# -- settings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("https://platform.example/events", None),
        (None, "whsec"),
        ("https://platform.example/events", ""),
    ],
)
def test_the_url_and_the_secret_go_together(url: str | None, secret: str | None) -> None:
    with pytest.raises(ValidationError, match="go together") as caught:
        settings(url, secret, bot_token=SecretStr("123:do-not-print"))
    assert "do-not-print" not in str(caught.value)
    assert "whsec" not in str(caught.value)


@pytest.mark.parametrize("url", ["ftp://platform.example/events", "platform.example/events"])
def test_the_url_is_http(url: str) -> None:
    with pytest.raises(ValidationError, match=r"http\(s\)"):
        settings(url)


def test_neither_is_fine_and_the_secret_is_kept_out_of_logs() -> None:
    assert not settings(secret=None).platform_webhooks
    configured = settings("http://127.0.0.1:9/events")
    assert configured.platform_webhooks
    assert SECRET in configured.secrets()


# -- where it runs: `disputebot run`, `disputebot console`, `disputebot worker` ----------


async def seed(tmp_path: Path, count: int) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    await migrate.upgrade(url)
    engine = create_engine(url)
    try:
        await queue(SqlUnitOfWorkFactory(make_session_factory(engine)), count)
    finally:
        await engine.dispose()


@pytest.mark.slow
async def test_disputebot_run_delivers_events_beside_telegram(
    tmp_path: Path, platform: FakePlatform
) -> None:
    async with FakeBotApi() as telegram:
        configured = settings_for(
            telegram,
            tmp_path,
            "ptb",
            "polling",
            platform_webhook_url=platform.url,
            platform_webhook_secret=SecretStr(SECRET),
        )
        bot = await start_bot(configured)
        try:
            await queue(bot.app.uow_factory, 2)
            received = await platform.wait_for(2, timeout=20)
        finally:
            await bot.shutdown()
    assert [e.event_id for e in received] == ["ev-0", "ev-1"]


def webhook_env(platform: FakePlatform) -> dict[str, str]:
    return {
        "DISPUTEBOT_PLATFORM_WEBHOOK_URL": platform.url,
        "DISPUTEBOT_PLATFORM_WEBHOOK_SECRET": SECRET,
    }


@pytest.mark.slow
async def test_the_console_delivers_events_in_the_background(
    tmp_path: Path, platform: FakePlatform
) -> None:
    await seed(tmp_path, 2)
    console = ConsoleProcess(tmp_path, env=webhook_env(platform))
    try:
        received = await platform.wait_for(2, timeout=PATIENCE)
    finally:
        code = await asyncio.to_thread(console.close)
    assert code == 0
    assert [e.event_id for e in received] == ["ev-0", "ev-1"]


@pytest.mark.slow
async def test_the_worker_command_delivers_events_without_a_bot_token(
    tmp_path: Path, platform: FakePlatform
) -> None:
    await seed(tmp_path, 2)
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "disputebot",
        "worker",
        env=bot_env(tmp_path, **webhook_env(platform)),
        cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        received = await platform.wait_for(2, timeout=PATIENCE)
    finally:
        worker.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(worker.communicate(), PATIENCE)
    assert worker.returncode == 0, err
    assert SECRET.encode() not in err
    assert [e.event_id for e in received] == ["ev-0", "ev-1"]
