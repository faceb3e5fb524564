"""Log lines: the update, chat and case they belong to, in text or JSON — and never a secret."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from disputebot.config import Settings
from disputebot.logs import (
    REDACTED,
    LogFormat,
    bind_case,
    current_context,
    log_context,
    make_handler,
    setup_logging,
)
from disputebot.testing.fake_bot_api import FakeBotApi
from tests.e2e.conftest import settings_for, start_bot
from tests.e2e.test_report_flow import reach_evidence
from tests.support import png_bytes

TOKEN = "123456789:AAHk9f0m2Zq8VtXy3pL5rN7sD1gH4jK6wEu"
PASSWORD = "s3cretpw"
DB_URL = f"postgresql+asyncpg://u:{PASSWORD}@host/db"
HOOK_SECRET = "hook-Secret-4d9f2a"
FORMATS: tuple[LogFormat, ...] = ("text", "json")


def secrets() -> list[str]:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        bot_token=SecretStr(TOKEN),
        database_url=DB_URL,
        webhook_secret=SecretStr(HOOK_SECRET),
    )
    found = settings.secrets()
    assert sorted(found) == sorted([TOKEN, PASSWORD, HOOK_SECRET])
    return found


class Captured:
    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines() if line.startswith("{")]


@pytest.fixture
def capture() -> Iterator[Any]:
    """``capture(fmt)`` routes the ``disputebot`` loggers (at INFO) into a string."""
    logger = logging.getLogger("disputebot")
    added: list[logging.Handler] = []
    level = logger.level

    def start(log_format: LogFormat, names: list[str] | None = None) -> Captured:
        stream = io.StringIO()
        handler = make_handler(secrets() if names is None else names, log_format, stream)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        added.append(handler)
        return Captured(stream)

    yield start
    for handler in added:
        logger.removeHandler(handler)
    logger.setLevel(level)


def fail_to_connect() -> None:
    # The literal below is on purpose: a traceback quotes source lines, secrets included.
    raise ConnectionError("connect to postgresql+asyncpg://u:s3cretpw@host/db refused")


def reject_webhook() -> None:
    try:
        int(f"bad token {TOKEN}")
    except ValueError as inner:
        raise RuntimeError(f"webhook rejected: {HOOK_SECRET}") from inner


def log_everything_secret(log: logging.Logger) -> None:
    log.info("starting with token %s", TOKEN)
    log.warning("database %s, webhook secret %r", DB_URL, HOOK_SECRET)
    log.info("an unconfigured token-shaped value 987654321:%s", "Z" * 35)
    try:
        fail_to_connect()
    except ConnectionError:
        log.exception("database unreachable")
    try:
        reject_webhook()
    except RuntimeError:
        log.error("chained failure", exc_info=True)
    log.info("where am I, with %s", PASSWORD, stack_info=True)


@pytest.mark.parametrize("log_format", FORMATS)
def test_no_secret_reaches_any_line_in_any_format(capture: Any, log_format: LogFormat) -> None:
    out = capture(log_format)
    with log_context(update_id=77, chat_id=1001, case_id=f"DR-{PASSWORD}"):
        log_everything_secret(logging.getLogger("disputebot.test"))
    text = out.text
    for secret in (TOKEN, PASSWORD, HOOK_SECRET, "Z" * 35):
        assert secret not in text, (secret, text)
    assert "Traceback" in text
    assert "fail_to_connect" in text  # the traceback is kept, only scrubbed
    assert "The above exception was the direct cause" in text
    assert text.count(REDACTED) >= 10
    if log_format == "json":
        records = out.records()
        assert len(records) == 6, text  # one object per line, tracebacks included
        failed = next(r for r in records if r["message"] == "database unreachable")
        assert "ConnectionError" in failed["exc"]
        assert f"//u:{REDACTED}@host/db" in failed["exc"]
        assert records[0]["case_id"] == f"DR-{REDACTED}"


def test_json_lines_carry_the_bound_ids(capture: Any) -> None:
    out = capture("json", names=[])
    log = logging.getLogger("disputebot.test")
    log.info("outside")
    with log_context(update_id=501, chat_id=1001):
        log.info("handling")
        with log_context(case_id=None):
            bind_case("DR-ABCD2345")
            log.warning("filed")
        log.info("after the service returned")
    outside, handling, filed, after = out.records()
    assert set(outside) == {
        "time",
        "level",
        "logger",
        "message",
        "update_id",
        "case_id",
        "chat_id",
    }
    assert (outside["update_id"], outside["case_id"], outside["chat_id"]) == (None, None, None)
    assert (handling["update_id"], handling["chat_id"], handling["case_id"]) == (501, 1001, None)
    assert filed["case_id"] == "DR-ABCD2345"
    assert (filed["level"], filed["logger"], filed["message"]) == (
        "WARNING",
        "disputebot.test",
        "filed",
    )
    assert filed["time"].endswith("+00:00")
    assert after["case_id"] is None
    assert current_context() == {"update_id": None, "case_id": None, "chat_id": None}


def test_text_lines_end_with_the_ids_when_bound(capture: Any) -> None:
    out = capture("text", names=[])
    log = logging.getLogger("disputebot.test")
    log.info("plain")
    with log_context(update_id=9, case_id="DR-ABCD2345"):
        log.info("bound")
    plain, bound = out.text.splitlines()
    assert plain.endswith("INFO disputebot.test: plain")
    assert bound.endswith("INFO disputebot.test: bound update=9 case=DR-ABCD2345")


async def test_ids_do_not_leak_between_concurrent_updates(capture: Any) -> None:
    out = capture("json", names=[])
    log = logging.getLogger("disputebot.test")

    async def update(update_id: int) -> None:
        with log_context(update_id=update_id, chat_id=update_id * 10):
            await asyncio.sleep(0)
            log.info("update %s", update_id)

    await asyncio.gather(*(update(n) for n in range(1, 6)))
    for record in out.records():
        n = int(record["message"].split()[-1])
        assert (record["update_id"], record["chat_id"]) == (n, n * 10)


def test_setup_logging_uses_the_chosen_format() -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        setup_logging("info", secrets(), "json")
        (handler,) = root.handlers
        stream = io.StringIO()
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(stream)
        logging.getLogger("disputebot.test").info("token %s", TOKEN)
        (line,) = stream.getvalue().splitlines()
        assert json.loads(line)["message"] == f"token {REDACTED}"
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)


async def test_telegram_update_and_case_ids_reach_json_lines(capture: Any, tmp_path: Path) -> None:
    async with FakeBotApi() as server:
        out = capture("json", names=[server.token])
        bot = await start_bot(settings_for(server, tmp_path, "ptb", "polling"))
        try:
            alice = server.user(3131, language_code="en")
            await reach_evidence(alice)
            await alice.send_photo(png_bytes(3))
            done = await alice.wait_for(lambda m: "Done" in str(m["buttons"]))
            await alice.press(done, "Done")
            summary = await alice.wait_for(lambda m: "summary" in m["text"].lower())
            await alice.press(summary, "submit")
            receipt = await alice.wait_for(lambda m: "DR-" in m["text"])
        finally:
            await bot.shutdown()
    case_id = next(w for w in receipt["text"].split() if w.startswith("DR-"))[:11]
    (filed,) = [r for r in out.records() if r["message"].startswith("case ")]
    assert filed["case_id"] == case_id
    assert filed["chat_id"] == 3131
    assert isinstance(filed["update_id"], int)
    assert server.token not in out.text
