"""Start-up failures are reported plainly, and the bot token never appears in them."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from disputebot.testing.fake_bot_api import FakeBotApi

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("framework", ["ptb", "aiogram"])
async def test_a_wrong_bot_api_url_stops_the_bot_without_printing_the_token(
    tmp_path: Path, framework: str
) -> None:
    async with FakeBotApi() as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DISPUTEBOT_")}
        env |= {
            "DISPUTEBOT_BOT_TOKEN": server.token,
            "DISPUTEBOT_TELEGRAM_API_URL": f"{server.url}/not-the-bot-api",
            "DISPUTEBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            "DISPUTEBOT_FRAMEWORK": framework,
        }
        bot = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "disputebot",
            "run",
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(bot.communicate(), 60)
    assert bot.returncode == 1
    text = (out + err).decode()
    assert "stopped" in text
    assert server.token not in text
    assert server.token.split(":", 1)[1] not in text
