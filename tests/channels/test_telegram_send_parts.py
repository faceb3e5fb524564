"""A reply that takes several Bot API calls resumes where a failure stopped it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from disputebot.channels.telegram.handler import UpdateHandler
from disputebot.channels.telegram.model import Keyboard, TgMedia
from disputebot.engine.effects import Media, Msg, Say
from disputebot.errors import DeliveryError
from disputebot.i18n.catalog import Catalogs
from disputebot.ports import ChatKey
from disputebot.service.inbound import Reply
from tests.support import ROOT


class ScriptedApi:
    """Records sends; the call numbers in ``throttle`` answer 429 once."""

    def __init__(self, throttle: set[int]) -> None:
        self.throttle = throttle
        self.calls = 0
        self.delivered: list[str] = []

    def _call(self, what: str) -> None:
        self.calls += 1
        if self.calls in self.throttle:
            self.throttle.discard(self.calls)
            raise DeliveryError("Too Many Requests", retryable=True, retry_after=1)
        self.delivered.append(what)

    async def send_text(self, chat_id: int, html: str, keyboard: Keyboard | None) -> int:
        self._call(f"text:{len(html)}")
        return self.calls

    async def send_media(self, chat_id: int, items: Sequence[TgMedia]) -> None:
        self._call(f"media:{len(items)}")


@pytest.fixture(scope="module")
def catalogs() -> Catalogs:
    return Catalogs.load(ROOT / "locales")


def long_reply() -> Reply:
    # Two photos, then a text long enough for two messages.
    media = (Media("photo", "a.png", file_id="A"), Media("photo", "b.png", file_id="B"))
    text = tuple(Msg("card.description", {"text": "x" * 3000}) for _ in range(2))
    return Reply(ChatKey("telegram", 5), Say(text, media=media), "en")


async def test_a_retried_reply_sends_only_the_parts_that_did_not_go(
    catalogs: Catalogs, tmp_path: Path
) -> None:
    api = ScriptedApi(throttle={3})
    handler = UpdateHandler(api, None, None, catalogs)  # type: ignore[arg-type]
    sent: set[int] = set()
    with pytest.raises(DeliveryError):
        await handler.send(long_reply(), attempts=1, sent=sent)
    assert [d.split(":")[0] for d in api.delivered] == ["media", "text"]
    await handler.send(long_reply(), attempts=1, sent=sent)
    assert len(api.delivered) == 3, api.delivered
    assert [d.split(":")[0] for d in api.delivered] == ["media", "text", "text"]


async def test_without_progress_a_reply_is_sent_whole(catalogs: Catalogs) -> None:
    api = ScriptedApi(throttle=set())
    handler = UpdateHandler(api, None, None, catalogs)  # type: ignore[arg-type]
    await handler.send(long_reply(), attempts=1)
    await handler.send(long_reply(), attempts=1)
    assert len(api.delivered) == 6
