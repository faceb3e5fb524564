"""Bad weather on the Bot API: 5xx, 429 bursts, slow answers, updates handed out twice.

Several reporters file complete reports while the fake server misbehaves at random (seeded);
every report is filed exactly once with all its evidence, and every receipt arrives.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from disputebot.testing.fake_bot_api import FakeBotApi, TestUser
from tests.e2e.conftest import RunningBot, settings_for, start_bot
from tests.e2e.test_report_flow import (
    FACTS,
    asks_account,
    asks_description,
    asks_evidence,
    has_buttons,
    labels,
    reach_evidence,
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
    done = await user.wait_for(lambda m: "Done" in labels(m), timeout=PATIENCE)
    await user.press(done, "Done")
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


# The handler's own tries at one send (see ``handler._SEND_ATTEMPTS``): all of them answered 429.
REFUSED_SENDS = 4


async def test_replies_refused_past_every_try_still_arrive_in_order(
    bot: RunningBot, telegram: FakeBotApi
) -> None:
    """The update is applied and its id recorded: applying it again answers nothing, so replies
    the Bot API keeps refusing go out later (through the outbox), never get lost."""
    user = telegram.user(7101, language_code="en")
    telegram.fail_next("sendMessage", 429, retry_after=1, times=REFUSED_SENDS)
    await user.send_text("/report")
    category = await user.wait_for(has_buttons, timeout=20)
    assert [m["text"][:12] for m in user.inbox] == ["Let's report", "What did the"]
    await user.press(category, "Other")
    await user.wait_for(asks_account)


async def test_later_replies_do_not_overtake_those_left_to_the_outbox(
    bot: RunningBot, telegram: FakeBotApi
) -> None:
    """/help is sent while the bot still retries /report's reply: its answer waits behind the
    replies the outbox now holds, instead of arriving before the question it follows."""
    user = telegram.user(7104, language_code="en")
    telegram.fail_next("sendMessage", 429, retry_after=1, times=REFUSED_SENDS)
    await user.send_text("/report")
    await user.send_text("/help")
    await user.wait_for(lambda m: m["text"].startswith("Here's what I can do"), timeout=20)
    texts = [m["text"][:12] for m in user.inbox]
    assert texts[:3] == ["Let's report", "What did the", "Here's what "], texts


async def test_an_album_acknowledgement_refused_past_every_try_still_arrives(
    bot: RunningBot, telegram: FakeBotApi
) -> None:
    user = telegram.user(7102, language_code="en")
    await reach_evidence(user)
    telegram.fail_next("sendMessage", 429, retry_after=1, times=REFUSED_SENDS)
    await user.send_album([png_bytes(1), png_bytes(2)])
    ack = await user.wait_for(lambda m: "2 files added so far" in m["text"], timeout=20)
    await user.press(ack, "Done")
    await user.wait_for(lambda m: any("submit" in x for x in labels(m)))


async def test_a_photo_is_taken_though_getfile_fails_as_often_as_the_update_was_tried(
    bot: RunningBot, telegram: FakeBotApi
) -> None:
    """Each download honours retry_after and is tried on its own; it used to cost one of the
    update's four tries each, so four refusals in a row ended in an apology."""
    user = telegram.user(7103, language_code="en")
    await reach_evidence(user)
    telegram.fail_next("getFile", 429, retry_after=1, times=REFUSED_SENDS)
    await user.send_photo(png_bytes(3))
    ack = await user.wait_for(lambda m: "1 file added so far" in m["text"], timeout=20)
    assert "Done" in labels(ack)
    assert not any("went wrong" in m["text"] for m in user.inbox)
