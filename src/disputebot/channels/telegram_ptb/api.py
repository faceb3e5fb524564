"""``BotApi`` on python-telegram-bot's typed client; its errors are mapped here, and only here."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from datetime import timedelta
from typing import Any, TypeVar

from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaDocument,
    InputMediaPhoto,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.request import BaseRequest, HTTPXRequest

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


class PtbBotApi:
    def __init__(
        self,
        token: str,
        api_url: str,
        *,
        pool_size: int = 64,
        request: BaseRequest | None = None,
        get_updates_request: BaseRequest | None = None,
    ) -> None:
        """``request`` and ``get_updates_request`` replace the HTTP clients (a benchmark's
        in-process Bot API, at the framework's own seam)."""
        base = api_url.rstrip("/")
        self._bot = Bot(
            token,
            base_url=f"{base}/bot",
            base_file_url=f"{base}/file/bot",
            request=request or HTTPXRequest(connection_pool_size=pool_size, read_timeout=20),
            get_updates_request=get_updates_request
            or HTTPXRequest(connection_pool_size=2, read_timeout=20),
        )

    async def start(self) -> BotIdentity:
        await _call(self._bot.initialize())
        return BotIdentity(self._bot.id, self._bot.username)

    async def close(self) -> None:
        await self._bot.shutdown()

    def parse_update(self, data: Mapping[str, Any]) -> TgUpdate:
        update = Update.de_json(dict(data), self._bot)
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
                read_timeout=poll_seconds + 10,
            )
        )
        return [from_polled(u) for u in updates]

    async def send_text(self, chat_id: int, html: str, keyboard: Keyboard | None) -> int:
        markup = (
            InlineKeyboardMarkup(
                [
                    [InlineKeyboardButton(label, callback_data=data) for label, data in row]
                    for row in keyboard
                ]
            )
            if keyboard
            else None
        )
        message = await _call(
            self._bot.send_message(chat_id, html, parse_mode=ParseMode.HTML, reply_markup=markup)
        )
        return message.message_id

    async def send_media(self, chat_id: int, items: Sequence[TgMedia]) -> None:
        if len(items) == 1:
            item = items[0]
            if item.kind == "photo":
                await _call(self._bot.send_photo(chat_id, item.ref, filename=item.name))
            else:
                await _call(self._bot.send_document(chat_id, item.ref, filename=item.name))
            return
        group = [
            InputMediaPhoto(i.ref, filename=i.name)
            if i.kind == "photo"
            else InputMediaDocument(i.ref, filename=i.name)
            for i in items
        ]
        await _call(self._bot.send_media_group(chat_id, group))

    async def answer_callback(self, callback_id: str) -> None:
        await _call(self._bot.answer_callback_query(callback_id))

    async def clear_keyboard(self, chat_id: int, message_id: int) -> None:
        await _call(self._bot.edit_message_reply_markup(chat_id, message_id, reply_markup=None))

    async def download(self, file_id: str) -> bytes:
        file = await _call(self._bot.get_file(file_id))
        return bytes(await _call(file.download_as_bytearray()))

    async def set_commands(
        self, commands: Sequence[tuple[str, str]], language_code: str | None
    ) -> None:
        await _call(
            self._bot.set_my_commands(
                [BotCommand(name, text) for name, text in commands], language_code=language_code
            )
        )

    async def set_webhook(self, url: str, secret: str | None) -> None:
        await _call(
            self._bot.set_webhook(url, secret_token=secret, allowed_updates=list(ALLOWED_UPDATES))
        )

    async def delete_webhook(self) -> None:
        await _call(self._bot.delete_webhook())


async def _call(call: Awaitable[T]) -> T:
    """The one place python-telegram-bot's exceptions become ``DeliveryError``."""
    try:
        return await call
    except InvalidToken:
        # Its message quotes the token; this one must be safe to print anywhere.
        raise DeliveryError(
            "the Bot API refused the bot token (check DISPUTEBOT_BOT_TOKEN and "
            "DISPUTEBOT_TELEGRAM_API_URL)",
            retryable=False,
        ) from None
    except RetryAfter as exc:
        after = exc.retry_after
        seconds = after.total_seconds() if isinstance(after, timedelta) else float(after)
        raise DeliveryError(str(exc), retryable=True, retry_after=seconds) from exc
    except Forbidden as exc:  # 403: blocked by the user, deactivated, removed from the group
        raise DeliveryError(str(exc), retryable=False, unreachable=True) from exc
    except BadRequest as exc:
        raise DeliveryError(str(exc), retryable=False) from exc
    except NetworkError as exc:  # timeouts and 5xx included
        raise DeliveryError(str(exc), retryable=True) from exc
    except TelegramError as exc:
        raise DeliveryError(str(exc), retryable=False) from exc
