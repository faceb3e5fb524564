"""500 reporters at once on one process: every case stored, each exactly once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from disputebot.engine.context import Policies
from disputebot.engine.spec import FlowBook
from disputebot.i18n.negotiate import negotiate
from disputebot.service.bot import BotService, LocaleChoice
from disputebot.service.evidence import EvidenceVault
from disputebot.store import migrate
from disputebot.store.database import create_engine, make_session_factory
from disputebot.store.uow import SqlUnitOfWorkFactory
from tests.service.driver import FACTS, ServiceChat
from tests.support import FixedClock, png_bytes

pytestmark = pytest.mark.slow

REPORTERS = 500


async def file_report(chat: ServiceChat, vault: EvidenceVault, n: int) -> None:
    await chat.text("/report")
    await chat.click("report.category.fake_logistics")
    await chat.text(f"https://www.aliexpress.com/store/{3_000_000 + n}")
    await chat.text(f"{FACTS} Reporter {n}.")
    await chat.files(await vault.keep_bytes(png_bytes(n % 256, size=4 + n // 256), f"{n}.png"))
    await chat.click("report.evidence.done")
    await chat.click("report.confirm.submit")


async def test_500_concurrent_reporters_on_sqlite(
    tmp_path: Path, book: FlowBook, policies: Policies
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'load.db'}"
    await migrate.upgrade(url)
    engine = create_engine(url)
    try:
        uow_factory = SqlUnitOfWorkFactory(make_session_factory(engine))
        locales = LocaleChoice(available=("en", "zh_Hans"), default="en", negotiate=negotiate)
        service = BotService(uow_factory, book, policies, clock=FixedClock(), locales=locales)
        vault = EvidenceVault(tmp_path / "evidence")
        chats = [ServiceChat(service, user_id=90_000 + n) for n in range(REPORTERS)]
        await asyncio.gather(*(file_report(c, vault, n) for n, c in enumerate(chats)))
        async with uow_factory() as uow:
            cases = await uow.cases.list(limit=REPORTERS + 10)
            receipts = await uow.outbox.list(limit=REPORTERS + 10)
    finally:
        await engine.dispose()
    assert len(cases) == REPORTERS
    assert {c.reporter_id for c in cases} == {c.chat.user_ref for c in chats}
    assert len({c.account_key for c in cases}) == REPORTERS
    assert all(len(c.evidence) == 1 for c in cases)
    assert sorted(r.case_id or "" for r in receipts) == sorted(c.public_id for c in cases)
