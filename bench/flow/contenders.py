"""The contenders: the product on each framework, and the baselines (``bench/baselines``).

Each is opened on a fresh working directory and the shared fake Bot API, fed raw update JSON
(``feed`` returns once the update is acknowledged: its effect committed and its replies sent),
and asked at the end how many cases it filed and how many "database is locked" errors it met.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Protocol

from bench.flow.fakeapi import API_URL, TOKEN, FakeTelegram

LOCKED = "database is locked"


class Contender(Protocol):
    name: str

    async def open(self, fake: FakeTelegram, workdir: Path) -> None: ...

    async def feed(self, body: bytes) -> None: ...

    async def filed(self) -> int: ...

    async def close(self) -> None: ...

    @property
    def locked(self) -> int: ...

    @property
    def errors(self) -> int: ...

    @property
    def first_error(self) -> str | None: ...


class LockCounter(logging.Handler):
    """Counts log records that mention "database is locked" (in the message or traceback):
    the product retries such an update and logs each failure, so none goes unseen."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0
        self.errors = 0
        self.first_error: str | None = None  # shown when a run fails: the cause, not the symptom

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += " " + repr(record.exc_info[1])
        if record.levelno >= logging.ERROR:
            self.errors += 1
            if self.first_error is None:
                self.first_error = f"{record.name}: {text}"
        if LOCKED in text:
            self.count += 1


class Product:
    """The real bot, bootstrapped as ``disputebot run`` does (``bootstrap.build`` on a fresh
    SQLite file, migrated with the real migrations; ``TelegramRuntime`` wired as
    ``bootstrap.telegram_runtime`` wires it), fed the way its webhook is: the framework parses
    the body (``BotApi.parse_update``), the sequencer applies it in per-chat order, and the
    update is acknowledged when the sequencer's future completes."""

    def __init__(self, framework: str) -> None:
        self.framework = framework
        self.name = f"product-{framework}"
        self._counter = LockCounter()

    async def open(self, fake: FakeTelegram, workdir: Path, *, polling: bool = False) -> None:
        """Bootstrapped and connected; with ``polling``, only wired (``runtime.run`` connects,
        as ``disputebot run`` does)."""
        from pydantic import SecretStr  # noqa: PLC0415

        from disputebot.bootstrap import build  # noqa: PLC0415
        from disputebot.channels.telegram.model import BotApi  # noqa: PLC0415
        from disputebot.channels.telegram.runtime import TelegramRuntime  # noqa: PLC0415
        from disputebot.config import Settings  # noqa: PLC0415

        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            bot_token=SecretStr(TOKEN),
            telegram_api_url=API_URL,
            database_url=f"sqlite+aiosqlite:///{workdir / 'bot.db'}",
            evidence_dir=workdir / "evidence",
            framework=self.framework,
            mode="polling" if polling else "webhook",
            webhook_url="https://bench.invalid/telegram/hook",
            webhook_secret=SecretStr("bench-secret"),
            log_level="WARNING",
        )
        logging.getLogger().addHandler(self._counter)
        self.app = await build(settings)
        api: BotApi
        if self.framework == "aiogram":
            from bench.flow.seam_aiogram import FakeSession  # noqa: PLC0415
            from disputebot.channels.telegram_aiogram.api import AiogramBotApi  # noqa: PLC0415

            api = AiogramBotApi(TOKEN, API_URL, session=FakeSession(fake))
        else:
            from bench.flow.seam_ptb import FakeRequest  # noqa: PLC0415
            from disputebot.channels.telegram_ptb.api import PtbBotApi  # noqa: PLC0415

            api = PtbBotApi(
                TOKEN, API_URL, request=FakeRequest(fake), get_updates_request=FakeRequest(fake)
            )
        self.api = api
        self.runtime = TelegramRuntime(
            api,
            settings=settings,
            service=self.app.service,
            vault=self.app.vault,
            catalogs=self.app.content.catalogs,
            uow_factory=self.app.uow_factory,
            clock=self.app.clock,
            metrics=self.app.metrics,
        )
        if not polling:
            identity = await api.start()
            self.runtime.handler.bot_username = identity.username

    async def feed(self, body: bytes) -> None:
        import json  # noqa: PLC0415

        update = self.api.parse_update(json.loads(body))
        await asyncio.shield(self.runtime.sequencer.submit(update))

    async def filed(self) -> int:
        from sqlalchemy import text  # noqa: PLC0415

        async with self.app.engine.connect() as conn:
            return int((await conn.execute(text("SELECT count(*) FROM cases"))).scalar_one())

    @property
    def locked(self) -> int:
        return self._counter.count

    @property
    def errors(self) -> int:
        return self._counter.errors

    @property
    def first_error(self) -> str | None:
        return self._counter.first_error

    async def close(self) -> None:
        await self.runtime.sequencer.close()
        await self.runtime.handler.close()
        await self.api.close()
        await self.app.close()
        logging.getLogger().removeHandler(self._counter)


class PtbBaseline:
    """``bench/baselines/ptb_bot.py``, fed as ``Application.process_update`` is by the
    framework's own webhook and polling loops (parsed with ``Update.de_json``)."""

    def __init__(self, durable: bool) -> None:
        self.durable = durable
        self.name = f"ptb-{'sql' if durable else 'memory'}"
        self._counter = LockCounter()

    async def open(self, fake: FakeTelegram, workdir: Path) -> None:
        from bench.baselines import ptb_bot  # noqa: PLC0415
        from bench.baselines.drafts import MemoryDrafts, SqlDrafts  # noqa: PLC0415
        from bench.flow.seam_ptb import FakeRequest  # noqa: PLC0415

        logging.getLogger().addHandler(self._counter)
        self.drafts = SqlDrafts(str(workdir / "ptb.db")) if self.durable else MemoryDrafts()
        await self.drafts.open()
        self.app = ptb_bot.build(TOKEN, FakeRequest(fake), self.drafts)
        await self.app.initialize()

    async def feed(self, body: bytes) -> None:
        import json  # noqa: PLC0415

        from telegram import Update  # noqa: PLC0415

        await self.app.process_update(Update.de_json(json.loads(body), self.app.bot))

    async def filed(self) -> int:
        return await self.drafts.filed()

    @property
    def locked(self) -> int:
        return self.drafts.locked + self._counter.count

    @property
    def errors(self) -> int:
        return self._counter.errors

    @property
    def first_error(self) -> str | None:
        return self._counter.first_error

    async def close(self) -> None:
        await self.app.shutdown()
        await self.drafts.close()
        logging.getLogger().removeHandler(self._counter)


class AiogramBaseline:
    """``bench/baselines/aiogram_bot.py``, fed as aiogram's webhook handler feeds it
    (``Dispatcher.feed_raw_update``)."""

    def __init__(self, durable: bool) -> None:
        self.durable = durable
        self.name = f"aiogram-{'sql' if durable else 'memory'}"
        self._counter = LockCounter()

    async def open(self, fake: FakeTelegram, workdir: Path) -> None:
        from bench.baselines import aiogram_bot  # noqa: PLC0415
        from bench.baselines.drafts import MemoryDrafts, SqlDrafts  # noqa: PLC0415
        from bench.flow.seam_aiogram import FakeSession  # noqa: PLC0415

        logging.getLogger().addHandler(self._counter)
        self.drafts = SqlDrafts(str(workdir / "aiogram.db")) if self.durable else MemoryDrafts()
        await self.drafts.open()
        self.bot, self.dispatcher = aiogram_bot.build(TOKEN, FakeSession(fake), self.drafts)
        await self.bot.me()

    async def feed(self, body: bytes) -> None:
        import json  # noqa: PLC0415

        await self.dispatcher.feed_raw_update(self.bot, json.loads(body))

    async def filed(self) -> int:
        return await self.drafts.filed()

    @property
    def locked(self) -> int:
        return self.drafts.locked + self._counter.count

    @property
    def errors(self) -> int:
        return self._counter.errors

    @property
    def first_error(self) -> str | None:
        return self._counter.first_error

    async def close(self) -> None:
        await self.bot.session.close()
        await self.drafts.close()
        logging.getLogger().removeHandler(self._counter)


def contender(name: str) -> Contender:
    """``product-ptb``, ``ptb-sql``, ``ptb-memory``, and the same for ``aiogram``."""
    framework, _, variant = name.partition("-")
    if framework == "product":
        return Product(variant)
    if framework == "ptb":
        return PtbBaseline(durable=variant == "sql")
    return AiogramBaseline(durable=variant == "sql")
