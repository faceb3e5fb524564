"""Reading a message the same way whichever framework parsed it.

Both frameworks' typed ``Message`` objects expose the Bot API's field names, so one reader
serves both; each adapter passes its own objects in.
"""

from __future__ import annotations

import logging
from typing import Any

from disputebot.channels.telegram.model import TgFile, TgUpdate

log = logging.getLogger(__name__)

# Content the bot cannot use anywhere, by the Message field that carries it.
UNSUPPORTED = (
    "sticker",
    "voice",
    "video_note",
    "video",
    "animation",
    "audio",
    "location",
    "venue",
    "contact",
    "poll",
    "dice",
    "game",
    "story",
)


def from_message(update_id: int, message: Any, *, edited: bool = False) -> TgUpdate:
    """A ``Message`` (python-telegram-bot's or aiogram's) as a ``TgUpdate``."""
    user = getattr(message, "from_user", None)
    files: list[TgFile] = []
    photos = getattr(message, "photo", None)
    if photos:
        largest = max(photos, key=lambda p: (p.width * p.height, p.file_size or 0))
        name = f"photo-{message.message_id}.jpg"
        files.append(TgFile(largest.file_id, largest.file_size, name, None))
    document = getattr(message, "document", None)
    if document is not None:
        files.append(
            TgFile(
                document.file_id,
                document.file_size,
                document.file_name or f"document-{message.message_id}",
                # Never None for a document: staff see it re-sent as the kind it came as.
                document.mime_type or "application/octet-stream",
            )
        )
    unsupported = next((k for k in UNSUPPORTED if getattr(message, k, None)), None)
    text = getattr(message, "text", None)
    if text is None and not files and unsupported is None:
        unsupported = "other"
    return TgUpdate(
        update_id=update_id,
        chat_id=message.chat.id,
        chat_type=_chat_type(message.chat),
        user_id=user.id if user else None,
        language_code=user.language_code if user else None,
        message_id=message.message_id,
        text=text,
        files=tuple(files),
        media_group_id=getattr(message, "media_group_id", None),
        edited=edited,
        forwarded=getattr(message, "forward_origin", None) is not None,
        unsupported=None if files or text is not None else unsupported,
    )


def from_update(update: Any) -> TgUpdate:
    """A whole ``Update``; kinds the bot does not use keep only their id (to be confirmed).

    Raises:
        ValueError: A field the bot uses does not have the type the Bot API promises
            (python-telegram-bot does not check types); a parse error, like the framework's own.
    """
    return _checked(_from_update(update))


def from_polled(update: Any) -> TgUpdate:
    """``from_update`` for getUpdates: an update that cannot be read keeps only its id, so it
    is confirmed and dropped (as the webhook drops one) instead of stopping the polling."""
    try:
        return from_update(update)
    except MalformedUpdate:
        log.exception("unreadable update %s dropped", update.update_id)
        return TgUpdate(update_id=update.update_id)


def _from_update(update: Any) -> TgUpdate:
    if update.message is not None:
        return from_message(update.update_id, update.message)
    if update.edited_message is not None:
        return from_message(update.update_id, update.edited_message, edited=True)
    query = update.callback_query
    if query is not None:
        message = query.message
        chat = getattr(message, "chat", None)
        return TgUpdate(
            update_id=update.update_id,
            chat_id=chat.id if chat is not None else query.from_user.id,
            chat_type=_chat_type(chat) if chat is not None else "private",
            user_id=query.from_user.id,
            language_code=query.from_user.language_code,
            message_id=getattr(message, "message_id", None),
            callback_id=query.id,
            callback_data=query.data or "",
        )
    return TgUpdate(update_id=update.update_id)


def _chat_type(chat: Any) -> str:
    kind = chat.type
    return str(getattr(kind, "value", kind))  # an enum member in one framework, a str in the other


class MalformedUpdate(ValueError):
    """An update whose fields do not have the types the Bot API promises."""


def _checked(update: TgUpdate) -> TgUpdate:
    """``update`` itself, once every field the bot uses has the promised type."""
    where = f"update {update.update_id!r}"
    _id(update.update_id, where)
    numbers: list[object] = [update.chat_id, update.user_id, update.message_id]
    for number in numbers + [file.size for file in update.files]:
        if number is not None:
            _id(number, where)
    texts: list[object] = [update.chat_type, update.language_code, update.text]
    texts += [update.media_group_id, update.callback_id, update.callback_data, update.unsupported]
    for file in update.files:
        _text(file.file_id, where)
        _text(file.name, where)
        texts.append(file.declared_mime)
    for text in texts:
        if text is not None:
            _text(text, where)
    return update


def _id(value: object, where: str) -> None:
    # Telegram's ids fit in a signed 64-bit integer; the store keeps them as BIGINT.
    if type(value) is not int or not -(2**63) <= value < 2**63:
        raise MalformedUpdate(f"{where}: {value!r} is not an id")


def _text(value: object, where: str) -> None:
    if not isinstance(value, str):
        raise MalformedUpdate(f"{where}: {value!r} is not text")
    try:
        value.encode()  # lone surrogates are valid JSON escapes, but no database takes them
    except UnicodeEncodeError:
        raise MalformedUpdate(f"{where}: text that is not Unicode") from None
