"""``BotApi`` on aiogram's typed client; its errors are mapped here, and only here."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, TypeVar

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.base import BaseSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaDocument,
    InputMediaPhoto,
    Update,
)

from disputebot.channels.telegram.model import (
    ALLOWED_UPDATES,
    BotIdentity,
    Keyboard,
    TgMedia,
    TgUpdate,
)
from disputebot.channels.telegram.translate import from_polled, from_update
from disputebot.errors import DeliveryError

T = TypeVar("T")


class AiogramBotApi:
    def __init__(
        self,
        token: str,
        api_url: str,
        *,
        pool_size: int = 64,
        session: BaseSession | None = None,
    ) -> None:
        """``session`` replaces the HTTP session (a benchmark's in-process Bot API, at the
        framework's own seam)."""
        if session is None:
            session = AiohttpSession(api=TelegramAPIServer.from_base(api_url), limit=pool_size)
        self._bot = Bot(token, session=session)

    async def start(self) -> BotIdentity:
        me = await _call(self._bot.get_me())
        return BotIdentity(me.id, me.username or "")

    async def close(self) -> None:
        await self._bot.session.close()

    def parse_update(self, data: Mapping[str, Any]) -> TgUpdate:
        update = Update.model_validate(dict(data), context={"bot": self._bot})
        return from_update(update)

    async def get_updates(
        self, offset: int | None, poll_seconds: int, limit: int = 100
    ) -> list[TgUpdate]:
        updates = await _call(
            self._bot.get_updates(
                offset=offset,
                limit=limit,
                timeout=poll_seconds,
                allowed_updates=list(ALLOWED_UPDATES),
                request_timeout=poll_seconds + 10,
            )
        )
        return [from_polled(u) for u in updates]

    async def send_text(self, chat_id: int, html: str, keyboard: Keyboard | None) -> int:
        markup = (
            InlineKeyboardMarkup(
                inline_keyboard=[
                    [InlineKeyboardButton(text=label, callback_data=data) for label, data in row]
                    for row in keyboard
                ]
            )
            if keyboard
            else None
        )
        message = await _call(
            self._bot.send_message(chat_id, html, parse_mode="HTML", reply_markup=markup)
        )
        return message.message_id

    async def send_media(self, chat_id: int, items: Sequence[TgMedia]) -> None:
        def source(item: TgMedia) -> str | BufferedInputFile:
            if isinstance(item.ref, bytes):
                return BufferedInputFile(item.ref, filename=item.name)
            return item.ref

        if len(items) == 1:
            item = items[0]
            if item.kind == "photo":
                await _call(self._bot.send_photo(chat_id, source(item)))
            else:
                await _call(self._bot.send_document(chat_id, source(item)))
            return
        group: list[InputMediaPhoto | InputMediaDocument] = [
            InputMediaPhoto(media=source(i))
            if i.kind == "photo"
            else InputMediaDocument(media=source(i))
            for i in items
        ]
        await _call(self._bot.send_media_group(chat_id, group))  # type: ignore[arg-type]

    async def answer_callback(self, callback_id: str) -> None:
        await _call(self._bot.answer_callback_query(callback_id))

    async def clear_keyboard(self, chat_id: int, message_id: int) -> None:
        await _call(
            self._bot.edit_message_reply_markup(
                chat_id=chat_id, message_id=message_id, reply_markup=None
            )
        )

    async def download(self, file_id: str) -> bytes:
        file = await _call(self._bot.get_file(file_id))
        if file.file_path is None:
            raise DeliveryError(f"no file path for {file_id}", retryable=False)
        buffer = io.BytesIO()
        await _call(self._bot.download_file(file.file_path, destination=buffer))
        return buffer.getvalue()

    async def set_commands(
        self, commands: Sequence[tuple[str, str]], language_code: str | None
    ) -> None:
        await _call(
            self._bot.set_my_commands(
                [BotCommand(command=name, description=text) for name, text in commands],
                language_code=language_code,
            )
        )

    async def set_webhook(self, url: str, secret: str | None) -> None:
        await _call(
            self._bot.set_webhook(url, secret_token=secret, allowed_updates=list(ALLOWED_UPDATES))
        )

    async def delete_webhook(self) -> None:
        await _call(self._bot.delete_webhook())


async def _call(call: Awaitable[T]) -> T:
    """The one place aiogram's exceptions become ``DeliveryError``."""
    try:
        return await call
    except TelegramRetryAfter as exc:
        raise DeliveryError(str(exc), retryable=True, retry_after=float(exc.retry_after)) from exc
    except TelegramForbiddenError as exc:  # 403: blocked, deactivated, removed from the group
        raise DeliveryError(str(exc), retryable=False, unreachable=True) from exc
    except TelegramBadRequest as exc:
        raise DeliveryError(str(exc), retryable=False) from exc
    except (TelegramNetworkError, TelegramServerError) as exc:
        raise DeliveryError(str(exc), retryable=True) from exc
    except TelegramAPIError as exc:
        raise DeliveryError(str(exc), retryable=False) from exc
