"""`disputebot outbox list`: what waits, what went, what died; and `worker` without a token."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from disputebot.ports import ChatKey
from disputebot.store import migrate
from disputebot.store.database import create_engine, make_session_factory
from disputebot.store.uow import SqlUnitOfWorkFactory
from tests.channels.console_process import cli
from tests.contract.builders import T0
from tests.delivery.fakes import message

pytestmark = pytest.mark.slow

ALICE = ChatKey("telegram", 1001)
GROUP = ChatKey("telegram", -1001234567890)


async def seed(tmp: Path) -> list[int]:
    url = f"sqlite+aiosqlite:///{tmp / 'bot.db'}"
    await migrate.upgrade(url)
    engine = create_engine(url)
    try:
        async with SqlUnitOfWorkFactory(make_session_factory(engine))() as uow:
            sent = await uow.outbox.put(ALICE, message("hello"), "en", now=T0, case_id="DR-1")
            dead = await uow.outbox.put(GROUP, message("new case"), "zh_Hans", now=T0)
            waiting = await uow.outbox.put(ALICE, message("again"), "en", now=T0)
            await uow.outbox.mark_sent(sent, T0)
            await uow.outbox.mark_unreachable(GROUP, T0, "Forbidden: bot was kicked")
            await uow.commit()
    finally:
        await engine.dispose()
    return [sent, dead, waiting]


def test_outbox_list_shows_dead_letters_and_filters_by_status(tmp_path: Path) -> None:
    sent, dead, waiting = asyncio.run(seed(tmp_path))

    everything = json.loads(cli(tmp_path, "outbox", "list", "--json").stdout)
    assert [m["id"] for m in everything] == [waiting, dead, sent]  # newest first

    (letter,) = json.loads(cli(tmp_path, "outbox", "list", "--status", "dead", "--json").stdout)
    assert letter["id"] == dead
    assert letter["status"] == "dead"
    assert letter["chat_id"] == GROUP.chat_id
    assert letter["last_error"] == "Forbidden: bot was kicked"
    assert letter["payload"]["text"][0]["params"] == {"code": "new case"}

    text = cli(tmp_path, "outbox", "list", "--status", "pending")
    assert text.returncode == 0
    assert f"{waiting}" in text.stdout
    assert "telegram:1001" in text.stdout
    assert "dead" not in text.stdout

    wrong = cli(tmp_path, "outbox", "list", "--status", "lost")
    assert wrong.returncode == 2


def test_worker_needs_a_bot_token(tmp_path: Path) -> None:
    done = cli(tmp_path, "worker", env={"DISPUTEBOT_BOT_TOKEN": ""})
    assert done.returncode != 0
    assert "DISPUTEBOT_BOT_TOKEN" in done.stderr
