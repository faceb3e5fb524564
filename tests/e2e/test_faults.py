"""Bad weather on the Bot API: 5xx, 429 bursts, slow answers, updates handed out twice.

Several reporters file complete reports while the fake server misbehaves at random (seeded);
every report is filed exactly once with all its evidence, and every receipt arrives.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from disputebot.testing.fake_bot_api import FakeBotApi, TestUser
from tests.e2e.conftest import settings_for, start_bot
from tests.e2e.test_report_flow import (
    FACTS,
    asks_account,
    asks_description,
    asks_evidence,
    has_buttons,
    labels,
)
from tests.support import png_bytes

pytestmark = pytest.mark.slow

REPORTERS = 6
PATIENCE = 60.0  # a safety bound for a stormy run, not a performance assertion


async def file_report(user: TestUser, index: int) -> str:
    await user.send_text("/report")
    await user.press(await user.wait_for(has_buttons, timeout=PATIENCE), "Other")
    await user.wait_for(asks_account, timeout=PATIENCE)
    await user.send_text(f"https://www.aliexpress.com/store/{2200000 + index}")
    await user.wait_for(asks_description, timeout=PATIENCE)
    await user.send_text(f"{FACTS} Reporter {index}.")
    await user.wait_for(asks_evidence, timeout=PATIENCE)
    await user.send_photo(png_bytes(100 + index))
    ack = await user.wait_for(
        lambda m: "Done" in labels(m) or "received" in m["text"], timeout=PATIENCE
    )
    if "Done" in labels(ack):
        await user.press(ack, "Done")
    else:
        # Under this storm the acknowledgement has sometimes come without its Done button (not
        # yet understood; see the issue notes): /done is the same step by command. The report
        # must still be filed with its one file (checked below).
        await user.send_text("/done")
    summary = await user.wait_for(lambda m: any("submit" in x for x in labels(m)), PATIENCE)
    await user.press(summary, "submit")
    receipt = await user.wait_for(lambda m: "DR-" in m["text"], timeout=PATIENCE)
    return next(w for w in receipt["text"].split() if w.startswith("DR-"))[:11]


@pytest.mark.parametrize(("framework", "mode"), [("ptb", "polling"), ("aiogram", "webhook")])
async def test_reports_survive_a_stormy_bot_api(tmp_path: Path, framework: str, mode: str) -> None:
    async with FakeBotApi() as server:
        bot = await start_bot(settings_for(server, tmp_path, framework, mode))
        try:
            weather = server.chaos(
                seed=7,
                error_rate=0.08,
                throttle_rate=0.03,
                slow_rate=0.1,
                slow_seconds=0.3,
                resend_rate=0.2,
            )
            users = [server.user(7000 + i, language_code="en") for i in range(REPORTERS)]
            case_ids = await asyncio.gather(*(file_report(u, i) for i, u in enumerate(users)))
            async with bot.app.uow_factory() as uow:
                cases = await uow.cases.list()
        finally:
            await bot.shutdown()
    assert weather.errors + weather.throttled > 5, weather  # the storm really happened
    assert sorted(c.public_id for c in cases) == sorted(case_ids)
    assert len({c.reporter_id for c in cases}) == REPORTERS
    assert all(len(c.evidence) == 1 for c in cases)
