"""`disputebot purge`: finished cases and their evidence files go; open ones stay."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import pytest

from disputebot.cases.records import CaseEvent, Status
from disputebot.store.database import create_engine, make_session_factory
from disputebot.store.uow import SqlUnitOfWorkFactory
from tests.channels.console_process import ConsoleProcess, button, cli
from tests.channels.test_console import FACTS
from tests.support import png_bytes

pytestmark = pytest.mark.slow


def file_report(tmp: Path, user: int, store: str, photo: Path) -> None:
    bot = ConsoleProcess(tmp, user=user)
    bot.send(text="/report")
    bot.send(button=button(bot.at_step("category"), "other"))
    bot.at_step("account")
    bot.send(text=f"https://www.aliexpress.com/store/{store}")
    bot.at_step("description")
    bot.send(text=FACTS)
    bot.at_step("evidence")
    bot.send(files=[str(photo)])
    bot.send(button=button(bot.at_step("evidence"), "done"))
    bot.send(button=button(bot.at_step("confirm"), "submit"))
    bot.read_until(lambda m: "DR-" in m["text"])
    assert bot.close() == 0


async def close_long_ago(tmp: Path, public_id: str) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp / 'bot.db'}")
    try:
        uow_factory = SqlUnitOfWorkFactory(make_session_factory(engine))
        async with uow_factory() as uow:
            case = await uow.cases.get(public_id)
            assert case is not None
            when = case.created_at - timedelta(days=400)
            event = CaseEvent(when, "console:9", "closed", case.status, Status.CLOSED)
            await uow.cases.transition(public_id, Status.CLOSED, event)
            await uow.commit()
    finally:
        await engine.dispose()


def test_purge_removes_old_finished_cases_and_their_files(tmp_path: Path) -> None:
    old_photo, open_photo = tmp_path / "old.png", tmp_path / "open.png"
    old_photo.write_bytes(png_bytes(21))
    open_photo.write_bytes(png_bytes(22))
    file_report(tmp_path, 1, "1100001", old_photo)
    file_report(tmp_path, 2, "1100002", open_photo)
    cases = json.loads(cli(tmp_path, "cases", "list", "--json").stdout)
    old = next(c for c in cases if c["account"]["store_id"] == "1100001")
    kept = next(c for c in cases if c["account"]["store_id"] == "1100002")
    asyncio.run(close_long_ago(tmp_path, old["id"]))
    old_file = Path(old["evidence"][0]["stored_path"])

    dry = cli(tmp_path, "purge", "--older-than", "180d", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert old["id"] in dry.stdout
    assert old_file.is_file()

    done = cli(tmp_path, "purge", "--older-than", "180d")
    assert done.returncode == 0, done.stderr
    assert "purged 1 case(s)" in done.stdout
    assert "old update id(s)" in done.stdout
    assert not old_file.exists()
    left = json.loads(cli(tmp_path, "cases", "list", "--json").stdout)
    assert [c["id"] for c in left] == [kept["id"]]
    assert Path(kept["evidence"][0]["stored_path"]).is_file()

    bad = cli(tmp_path, "purge", "--older-than", "soon")
    assert bad.returncode != 0
    assert "180d" in bad.stderr
