"""The real bot, on each framework and in each mode, against the fake Bot API server."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr

from disputebot.bootstrap import App, build, telegram_runtime
from disputebot.channels.telegram.runtime import TelegramRuntime
from disputebot.config import Settings
from disputebot.testing.fake_bot_api import FakeBotApi

SECRET = "e2e-webhook-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def telegram() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as server:
        yield server


@dataclass
class RunningBot:
    app: App
    runtime: TelegramRuntime
    settings: Settings
    task: asyncio.Task[None]
    stop: asyncio.Event

    async def shutdown(self) -> None:
        self.stop.set()
        await self.task
        await self.app.close()


def settings_for(
    server: FakeBotApi, tmp_path: Path, framework: str, mode: str, **extra: object
) -> Settings:
    port = free_port()
    values: dict[str, object] = {
        "bot_token": SecretStr(server.token),
        "telegram_api_url": server.url,
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        "evidence_dir": tmp_path / "evidence",
        "framework": framework,
        "mode": mode,
        "webhook_url": f"http://127.0.0.1:{port}/telegram/hook",
        "webhook_secret": SecretStr(SECRET),
        "webhook_host": "127.0.0.1",
        "webhook_port": port,
    }
    values.update(extra)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def start_bot(settings: Settings) -> RunningBot:
    app = await build(settings)
    runtime = telegram_runtime(app)  # the production album window
    stop = asyncio.Event()
    task = asyncio.create_task(runtime.run(stop))
    ready = asyncio.create_task(runtime.ready.wait())
    done, _ = await asyncio.wait({task, ready}, timeout=20, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        ready.cancel()
        task.result()  # raises what stopped it
    assert ready in done, "the bot did not get ready"
    return RunningBot(app, runtime, settings, task, stop)


@pytest.fixture(params=["ptb", "aiogram"])
def framework(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["polling", "webhook"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def bot(
    telegram: FakeBotApi, tmp_path: Path, framework: str, mode: str
) -> AsyncIterator[RunningBot]:
    running = await start_bot(settings_for(telegram, tmp_path, framework, mode))
    try:
        yield running
    finally:
        await running.shutdown()
