"""Framework-neutral Telegram updates and the Bot API calls the bot makes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

CHANNEL = "telegram"
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")

Keyboard = Sequence[Sequence[tuple[str, str]]]
"""Rows of (label, callback data)."""


@dataclass(frozen=True, slots=True)
class TgMedia:
    """A file to send: a ``file_id`` Telegram already has, or the bytes to upload."""

    kind: Literal["photo", "document"]
    ref: str | bytes
    name: str


@dataclass(frozen=True, slots=True)
class TgFile:
    """A photo (its largest size) or a document, as Telegram describes it before download."""

    file_id: str
    size: int | None
    name: str
    declared_mime: str | None


@dataclass(frozen=True, slots=True)
class TgUpdate:
    """One update, reduced to what the bot uses.

    ``chat_id`` is ``None`` for updates the bot ignores (channel posts, membership changes, …);
    those are still confirmed. ``unsupported`` names content the bot cannot use (sticker, voice,
    location, …).
    """

    update_id: int
    chat_id: int | None = None
    chat_type: str | None = None
    user_id: int | None = None
    language_code: str | None = None
    message_id: int | None = None
    text: str | None = None
    files: tuple[TgFile, ...] = ()
    media_group_id: str | None = None
    callback_id: str | None = None
    callback_data: str | None = None
    edited: bool = False
    forwarded: bool = False
    unsupported: str | None = None

    @property
    def private(self) -> bool:
        return self.chat_type == "private"


@dataclass(frozen=True, slots=True)
class BotIdentity:
    id: int
    username: str


class BotApi(Protocol):
    """The Bot API calls the bot makes; each adapter maps its framework's errors here to
    ``DeliveryError`` in one place."""

    async def start(self) -> BotIdentity: ...

    async def close(self) -> None: ...

    def parse_update(self, data: Mapping[str, Any]) -> TgUpdate:
        """A webhook body, parsed by the framework's own update type."""
        ...

    async def get_updates(
        self, offset: int | None, poll_seconds: int, limit: int = 100
    ) -> list[TgUpdate]:
        """Long-poll for updates; ``offset`` confirms every update below it."""
        ...

    async def send_text(self, chat_id: int, html: str, keyboard: Keyboard | None) -> int:
        """Send an HTML message; returns its message id."""
        ...

    async def send_media(self, chat_id: int, items: Sequence[TgMedia]) -> None:
        """Send files of one kind: one alone, 2–10 as an album (a media group)."""
        ...

    async def answer_callback(self, callback_id: str) -> None: ...

    async def clear_keyboard(self, chat_id: int, message_id: int) -> None: ...

    async def download(self, file_id: str) -> bytes: ...

    async def set_commands(
        self, commands: Sequence[tuple[str, str]], language_code: str | None
    ) -> None: ...

    async def set_webhook(self, url: str, secret: str | None) -> None: ...

    async def delete_webhook(self) -> None: ...
