"""The Bot API, faked in-process: the server side of every contender's framework seam.

Each framework's own client (python-telegram-bot's ``Bot`` with a ``BaseRequest`` subclass,
aiogram's ``Bot`` with a ``BaseSession`` subclass, see ``seam_ptb`` and ``seam_aiogram``)
serializes a call to form fields exactly as it would for HTTP; this fake reads those string
fields back the way Telegram would (JSON values decoded), answers with the JSON body Telegram
would send, and the client parses it. Only the socket is missing. It does as little as a
server can, so that its CPU (which every contender pays alike) hides little of theirs.

What a chat received is kept per chat: how many messages, the last text and the last inline
keyboard (its callback data), which is what the workload's simulated user presses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

TOKEN = "123456:BENCH-token-abcdefghijklmnopqrstuvwxyz"
BOT_ID = 123456
BOT_USERNAME = "bench_dispute_bot"
DATE = 1_767_225_600  # 2026-01-01, every message's date
API_URL = "http://bot-api.invalid"


class FakeApiError(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


@dataclass
class ChatLog:
    received: int = 0
    last_text: str = ""
    keyboard: list[list[str]] = field(default_factory=list)  # callback data, by row
    keyboard_message: dict[str, Any] | None = None  # the message that carries it


class FakeTelegram:
    """The server side: ``call(method, fields)`` answers as the Bot API would."""

    def __init__(self) -> None:
        self.chats: dict[int, ChatLog] = {}
        self.files: dict[str, bytes] = {}
        self.calls = 0
        self._message_id = 0

    def chat(self, chat_id: int) -> ChatLog:
        log = self.chats.get(chat_id)
        if log is None:
            log = self.chats[chat_id] = ChatLog()
        return log

    def next_message_id(self) -> int:
        self._message_id += 1
        return self._message_id

    def response(self, method: str, fields: dict[str, str]) -> tuple[int, bytes]:
        """The HTTP status and body for a call whose form fields are ``fields``."""
        try:
            body = {"ok": True, "result": self.call(method, fields)}
            status = 200
        except FakeApiError as exc:
            body = {"ok": False, "error_code": exc.status, "description": exc.description}
            status = exc.status
        return status, json.dumps(body).encode()

    def call(self, method: str, fields: dict[str, str]) -> Any:
        self.calls += 1
        handler = _METHODS.get(method)
        if handler is None:
            raise FakeApiError(404, f"Not Found: method {method} not faked")
        return handler(self, fields)

    def download(self, path: str) -> bytes:
        data = self.files.get(path.rsplit("/", 1)[-1])
        if data is None:
            raise FakeApiError(404, "Not Found: file")
        return data

    # The methods the contenders call.

    def _get_me(self, fields: dict[str, str]) -> Any:
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "Bench",
            "username": BOT_USERNAME,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _send_message(self, fields: dict[str, str]) -> Any:
        chat_id = int(fields["chat_id"])
        text = fields["text"]
        if not 1 <= len(text) <= 4096:
            raise FakeApiError(400, "Bad Request: message text is empty or too long")
        message: dict[str, Any] = {
            "message_id": self.next_message_id(),
            "date": DATE,
            "chat": {"id": chat_id, "type": "private", "first_name": "User"},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Bench"},
            "text": text,
        }
        log = self.chat(chat_id)
        log.received += 1
        log.last_text = text
        markup = fields.get("reply_markup")
        if markup:
            decoded = json.loads(markup)
            message["reply_markup"] = decoded
            rows = decoded.get("inline_keyboard") or []
            log.keyboard = [[b["callback_data"] for b in row] for row in rows]
            log.keyboard_message = message
        return message

    def _edit_markup(self, fields: dict[str, str]) -> Any:
        chat_id = int(fields["chat_id"])
        message_id = int(fields["message_id"])
        log = self.chat(chat_id)
        if log.keyboard_message is not None and log.keyboard_message["message_id"] == message_id:
            log.keyboard = []
            log.keyboard_message = None
        return {
            "message_id": message_id,
            "date": DATE,
            "chat": {"id": chat_id, "type": "private", "first_name": "User"},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Bench"},
            "text": "…",
        }

    def _get_file(self, fields: dict[str, str]) -> Any:
        file_id = fields["file_id"]
        data = self.files.get(file_id)
        if data is None:
            raise FakeApiError(400, "Bad Request: invalid file_id")
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_size": len(data),
            "file_path": f"photos/{file_id}",
        }

    def _true(self, fields: dict[str, str]) -> Any:
        return True

    def _no_updates(self, fields: dict[str, str]) -> Any:
        return []


_METHODS = {
    "getMe": FakeTelegram._get_me,
    "sendMessage": FakeTelegram._send_message,
    "editMessageReplyMarkup": FakeTelegram._edit_markup,
    "getFile": FakeTelegram._get_file,
    "answerCallbackQuery": FakeTelegram._true,
    "setMyCommands": FakeTelegram._true,
    "deleteWebhook": FakeTelegram._true,
    "setWebhook": FakeTelegram._true,
    "getUpdates": FakeTelegram._no_updates,
}
