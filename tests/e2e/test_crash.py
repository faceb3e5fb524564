"""SIGKILL while updates are queued: after a restart every update takes effect exactly once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
from pathlib import Path

import pytest

from disputebot.testing.fake_bot_api import FakeBotApi, TestUser
from tests.e2e.test_report_flow import STORE, asks_account, asks_description, has_buttons

pytestmark = pytest.mark.slow

USERS = 6
ROUNDS = 10
# A safety bound so a broken build fails instead of hanging; not a performance assertion.
PATIENCE = 90.0


def description(user: int, n: int) -> str:
    return f"Round {n} for user {user}: order 8161234567890123 was never shipped, tracking fake."


async def start_bot(server: FakeBotApi, tmp: Path) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPUTEBOT_")}
    env |= {
        "DISPUTEBOT_BOT_TOKEN": server.token,
        "DISPUTEBOT_TELEGRAM_API_URL": server.url,
        "DISPUTEBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'bot.db'}",
        "DISPUTEBOT_EVIDENCE_DIR": str(tmp / "evidence"),
        "DISPUTEBOT_LOG_LEVEL": "WARNING",
    }
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "disputebot", "run", env=env, cwd=tmp
    )


async def to_description(user: TestUser) -> None:
    await user.send_text("/report")
    await user.press(await user.wait_for(has_buttons, timeout=PATIENCE), "Other")
    await user.wait_for(asks_account, timeout=PATIENCE)
    await user.send_text(STORE)
    await user.wait_for(asks_description, timeout=PATIENCE)


async def wait_until(condition: object, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PATIENCE
    while not condition():  # type: ignore[operator]
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def test_sigkill_with_queued_updates_loses_and_doubles_nothing(tmp_path: Path) -> None:
    async with FakeBotApi() as server:
        users = [server.user(5000 + i, language_code="en") for i in range(USERS)]
        bot = await start_bot(server, tmp_path)
        try:
            await asyncio.gather(*(to_description(u) for u in users))
            queued: list[int] = []
            for n in range(1, ROUNDS + 1):
                for i, user in enumerate(users):
                    queued.append((await user.send_text(description(i, n)))["update_id"])
                    if n < ROUNDS:
                        queued.append((await user.send_text("/back"))["update_id"])
            replies_before = sum(len(u.inbox) for u in users)
            await wait_until(
                lambda: sum(len(u.inbox) for u in users) >= replies_before + len(queued) // 4,
                "the bot to work through part of the queue",
            )
            bot.send_signal(signal.SIGKILL)
            await bot.wait()
            left = set(server.updates_pending()) & set(queued)
            assert left, "the kill came too late to leave updates queued"

            bot = await start_bot(server, tmp_path)
            await wait_until(lambda: not server.updates_pending(), "every update to be confirmed")
        finally:
            if bot.returncode is None:
                bot.send_signal(signal.SIGTERM)
                await asyncio.wait_for(bot.wait(), PATIENCE)

    with sqlite3.connect(tmp_path / "bot.db") as db:
        sessions = dict(db.execute("select chat_id, data from sessions"))
        recorded = {int(r[0]) for r in db.execute("select event_id from processed_updates")}
    assert set(queued) <= recorded
    for i, user in enumerate(users):
        state = json.loads(sessions[user.id])
        # One /back too many would have turned a description into an account; one lost would
        # have left an earlier round's text.
        assert state["step"] == "evidence", state
        assert state["answers"]["description"] == description(i, ROUNDS)
        assert state["answers"]["account"]["store_id"] == "1102345678"
        assert state["history"] == ["category", "account", "description"]
