"""Reading a message the same way whichever framework parsed it.

Both frameworks' typed ``Message`` objects expose the Bot API's field names, so one reader
serves both; each adapter passes its own objects in.
"""

from __future__ import annotations

from typing import Any

from disputebot.channels.telegram.model import TgFile, TgUpdate

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
                document.mime_type,
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
    """A whole ``Update``; kinds the bot does not use keep only their id (to be confirmed)."""
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
