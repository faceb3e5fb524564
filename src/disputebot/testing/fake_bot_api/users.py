"""Test users and chats: the in-process side that talks to the bot through the fake server.

Every ``send_*`` call creates a Bot API update exactly as Telegram would deliver it and returns
that update's dict; the bot receives it through getUpdates or the webhook. What the bot sends
back lands in the chat's ``inbox`` as recorded dicts (see ``TestChat.inbox``).
"""

from __future__ import annotations

import copy
import re
import secrets
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from disputebot.testing.fake_bot_api.html_check import utf16_len
from disputebot.testing.fake_bot_api.state import ChatState, PendingCallback

if TYPE_CHECKING:
    from disputebot.testing.fake_bot_api.server import FakeBotApi

__all__ = ["BotMessage", "MessageRef", "TestChat", "TestUser"]

BotMessage = dict[str, Any]
# What identifies a message to press or edit: a recorded bot message, an update, a Message
# dict or a bare message_id.
MessageRef = dict[str, Any] | int
Predicate = Callable[[BotMessage], bool]

_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")
# A tiny but well-formed Ogg page header and a WebP RIFF header, enough for type sniffing.
_VOICE = b"OggS\x00\x02" + bytes(22) + b"\x01\x13OpusHead" + bytes(16)
_STICKER = b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(24)


def _now() -> int:
    return int(time.time())


def _message_id(ref: MessageRef) -> int:
    if isinstance(ref, int):
        return ref
    for key in ("message", "edited_message"):
        if isinstance(ref.get(key), dict):
            return int(ref[key]["message_id"])
    return int(ref["message_id"])


def _by_label(buttons: list[dict[str, Any]], label: str) -> list[dict[str, Any]]:
    folded = label.casefold()
    tries = (
        lambda b: b["text"] == label,
        lambda b: label in b["text"],
        lambda b: folded in b["text"].casefold(),
        lambda b: b["callback_data"] == label,
    )
    for matches in tries:
        found = [b for b in buttons if matches(b)]
        if found:
            return found
    return []


class TestChat:
    """A chat (private or group) that test users write in; groups are used directly.

    Methods take the sending ``TestUser`` first; ``TestUser`` offers the same methods for its
    private chat without that argument.
    """

    __test__ = False  # not a pytest test class despite the name

    def __init__(self, server: FakeBotApi, state: ChatState) -> None:
        self.server = server
        self.state = state

    @property
    def id(self) -> int:
        """The chat id (a private chat's id is the user's id)."""
        return self.state.id

    @property
    def inbox(self) -> list[BotMessage]:
        """Every message the bot sent here, oldest first, as recorded dicts.

        Keys: ``message_id``, ``chat_id``, ``date``, ``received_at`` (Unix seconds with
        fractions, when the server accepted the send), ``method``, ``text`` (the visible text
        after HTML parsing, or the caption of a media message, "" when none), ``html`` (the
        text or caption exactly as sent), ``parse_mode``, ``entities``, ``caption``,
        ``reply_markup`` (as sent), ``buttons`` (inline rows of button dicts with ``text`` and
        ``callback_data``), ``photo``, ``document``, ``media_group_id``,
        ``reply_to_message_id``, ``edited``, ``edit_date``, ``deleted`` and ``message`` (the
        current Bot API Message). Edits update the record in place.
        """
        return self.state.inbox

    def message(self, message_id: int) -> BotMessage | None:
        """The record of a bot message by id."""
        return self.state.records.get(message_id)

    # -- messages from users -------------------------------------------------------------

    def _new_message(self, user: TestUser, content: dict[str, Any]) -> dict[str, Any]:
        if self.state.type == "private":
            # Writing to a bot you blocked means pressing "Restart", which unblocks it.
            self.server.blocked.discard(user.id)
        message = {
            "message_id": self.state.next_message_id(),
            "from": user.json(),
            "chat": self.state.json(),
            "date": _now(),
            **content,
        }
        self.state.messages[message["message_id"]] = message
        return message

    def _enqueue(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        update = self.server.updates.add(kind, copy.deepcopy(payload))
        self.server.changed.notify()
        return update

    def _text(self, text: str) -> dict[str, Any]:
        content: dict[str, Any] = {"text": text}
        command = _COMMAND.match(text)
        if command:
            length = utf16_len(command.group())
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        return content

    async def send_text(
        self, user: TestUser, text: str, *, reply_to: MessageRef | None = None
    ) -> dict[str, Any]:
        """A text message; a leading ``/command`` gets its bot_command entity."""
        content = self._text(text)
        if reply_to is not None:
            target = self.state.messages.get(_message_id(reply_to))
            if target is not None:
                content["reply_to_message"] = {
                    k: v for k, v in target.items() if k != "reply_to_message"
                }
        return self._enqueue("message", self._new_message(user, content))

    async def send_photo(
        self,
        user: TestUser,
        data: bytes,
        *,
        media_group_id: str | None = None,
        caption: str | None = None,
    ) -> dict[str, Any]:
        """A photo: three PhotoSizes, the largest downloading exactly ``data``."""
        content: dict[str, Any] = {"photo": self.server.files.add_photo(data)}
        if media_group_id is not None:
            content["media_group_id"] = media_group_id
        if caption:
            content["caption"] = caption
        return self._enqueue("message", self._new_message(user, content))

    async def send_album(
        self, user: TestUser, images: Sequence[bytes], *, caption: str | None = None
    ) -> list[dict[str, Any]]:
        """Several photos sharing one media_group_id, one update each; caption on the first."""
        group_id = self.server.new_media_group_id()
        return [
            await self.send_photo(
                user, data, media_group_id=group_id, caption=caption if index == 0 else None
            )
            for index, data in enumerate(images)
        ]

    async def send_document(
        self,
        user: TestUser,
        data: bytes,
        *,
        file_name: str = "file.bin",
        mime_type: str = "application/octet-stream",
        declared_size: int | None = None,
        caption: str | None = None,
        media_group_id: str | None = None,
    ) -> dict[str, Any]:
        """A document; ``declared_size`` claims a size (say 100 MB) without sending it."""
        stored = self.server.files.add(
            "document", data, size=declared_size, mime_type=mime_type, file_name=file_name
        )
        content: dict[str, Any] = {"document": stored.document_json()}
        if media_group_id is not None:
            content["media_group_id"] = media_group_id
        if caption:
            content["caption"] = caption
        return self._enqueue("message", self._new_message(user, content))

    async def send_sticker(self, user: TestUser, *, emoji: str = "👍") -> dict[str, Any]:
        """A regular static sticker."""
        stored = self.server.files.add("sticker", _STICKER, mime_type="image/webp")
        sticker = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "file_size": stored.size,
        }
        return self._enqueue("message", self._new_message(user, {"sticker": sticker}))

    async def send_voice(
        self, user: TestUser, data: bytes = _VOICE, *, duration: int = 2
    ) -> dict[str, Any]:
        """A voice note (OGG/Opus)."""
        stored = self.server.files.add("voice", data, mime_type="audio/ogg")
        voice = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": stored.size,
        }
        return self._enqueue("message", self._new_message(user, {"voice": voice}))

    async def send_location(
        self, user: TestUser, latitude: float, longitude: float
    ) -> dict[str, Any]:
        """A location pin."""
        location = {"latitude": latitude, "longitude": longitude}
        return self._enqueue("message", self._new_message(user, {"location": location}))

    async def edit_text(self, user: TestUser, message: MessageRef, text: str) -> dict[str, Any]:
        """The user edits one of their text messages: an ``edited_message`` update."""
        message_id = _message_id(message)
        original = self.state.messages.get(message_id)
        if original is None or original.get("from", {}).get("id") != user.id:
            raise LookupError(f"{user.first_name} has no message {message_id} in {self.id}")
        original.pop("entities", None)
        original.update(self._text(text), edit_date=_now())
        return self._enqueue("edited_message", original)

    async def forward_text(
        self,
        user: TestUser,
        text: str,
        *,
        from_chat_title: str | None = None,
        from_channel: bool = False,
        from_user: TestUser | None = None,
        hidden_user_name: str | None = None,
    ) -> dict[str, Any]:
        """A forwarded text; the origin is a user, a hidden user, a chat or a channel.

        With nothing given the origin is a hidden user ("Hidden Sender").
        """
        date = _now() - 3600
        origin: dict[str, Any]
        if from_user is not None:
            origin = {"type": "user", "date": date, "sender_user": from_user.json()}
        elif from_chat_title is not None:
            chat_id = -1_000_000_000_000 - secrets.randbelow(1_000_000_000)
            chat_type = "channel" if from_channel else "supergroup"
            chat = {"id": chat_id, "type": chat_type, "title": from_chat_title}
            if from_channel:
                origin = {"type": "channel", "date": date, "chat": chat, "message_id": 1}
            else:
                origin = {"type": "chat", "date": date, "sender_chat": chat}
        else:
            name = hidden_user_name or "Hidden Sender"
            origin = {"type": "hidden_user", "date": date, "sender_user_name": name}
        content = {"forward_origin": origin, "text": text}
        return self._enqueue("message", self._new_message(user, content))

    # -- buttons -------------------------------------------------------------------------

    async def press(
        self,
        user: TestUser,
        bot_message: MessageRef,
        label: str | None = None,
        *,
        data: str | None = None,
    ) -> dict[str, Any]:
        """Press an inline button of a bot message: by its label or by exact ``data``.

        The label is matched as the whole text, else as a part of it, else as a part ignoring
        case, else as the exact callback_data; exactly one button must match.
        """
        record = self._record(bot_message)
        buttons = [b for row in record["buttons"] for b in row if "callback_data" in b]
        if data is not None:
            found = [b for b in buttons if b["callback_data"] == data]
        elif label is not None:
            found = _by_label(buttons, label)
        else:
            raise ValueError("press() needs a label or data=")
        if len(found) != 1:
            shown = [(b["text"], b["callback_data"]) for b in buttons]
            wanted = label if data is None else data
            raise LookupError(
                f"{len(found)} buttons match {wanted!r} on message {record['message_id']}: {shown}"
            )
        return self._callback(user, record, found[0]["callback_data"])

    async def press_data(
        self, user: TestUser, bot_message: MessageRef, data: str
    ) -> dict[str, Any]:
        """A callback_query with arbitrary data, as a modified client could send."""
        return self._callback(user, self._record(bot_message), data)

    def _record(self, bot_message: MessageRef) -> BotMessage:
        message_id = _message_id(bot_message)
        record = self.state.records.get(message_id)
        if record is None:
            raise LookupError(f"the bot sent no message {message_id} to chat {self.id}")
        if record["deleted"]:
            raise LookupError(f"message {message_id} was deleted; nobody can press it")
        return record

    def _callback(self, user: TestUser, record: BotMessage, data: str) -> dict[str, Any]:
        query_id = self.server.new_callback_id()
        self.server.callback_queries[query_id] = PendingCallback(
            id=query_id,
            user_id=user.id,
            chat_id=self.id,
            message_id=record["message_id"],
            data=data,
        )
        query = {
            "id": query_id,
            "from": user.json(),
            "message": record["message"],
            "chat_instance": str(abs(hash((self.server.token, self.id))) % 10**18),
            "data": data,
        }
        return self._enqueue("callback_query", query)

    # -- waiting for the bot -------------------------------------------------------------

    async def wait_for(
        self,
        predicate: Predicate | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109 - the test helper API takes a plain timeout
    ) -> BotMessage:
        """The oldest bot message not yet returned by ``wait_for`` that matches.

        Waits until one arrives; "new" means not handed out before, so a reply that came in
        before the call still counts. Raises ``TimeoutError`` listing the inbox.
        """
        found: list[BotMessage] = []

        def check() -> bool:
            for record in self.state.inbox:
                if record["message_id"] in self.state.consumed:
                    continue
                if predicate is None or predicate(record):
                    found.append(record)
                    return True
            return False

        if not await self.state.signal.wait_for(check, timeout):
            seen = [(r["message_id"], r["text"][:80]) for r in self.state.inbox]
            raise TimeoutError(f"no matching bot message in chat {self.id} in {timeout}s: {seen}")
        self.state.consumed.add(found[0]["message_id"])
        return found[0]

    async def wait_for_count(
        self,
        count: int,
        timeout: float = 10.0,  # noqa: ASYNC109 - the test helper API takes a plain timeout
    ) -> list[BotMessage]:
        """Wait until the bot has sent at least ``count`` messages here; returns the inbox."""
        if not await self.state.signal.wait_for(lambda: len(self.inbox) >= count, timeout):
            raise TimeoutError(
                f"chat {self.id} has {len(self.inbox)} bot messages, not {count}, after {timeout}s"
            )
        return list(self.inbox)


class TestUser:
    """A Telegram user with a private chat with the bot (chat id == user id)."""

    __test__ = False

    def __init__(
        self,
        server: FakeBotApi,
        user_id: int,
        *,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> None:
        self.server = server
        self.id = user_id
        self.first_name = first_name
        self.last_name = last_name
        self.username = username
        self.language_code = language_code
        self.chat = TestChat(server, server.chat_state(user_id, "private", user=self.json()))

    def json(self) -> dict[str, Any]:
        """The Bot API User object."""
        user: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            user["last_name"] = self.last_name
        if self.username:
            user["username"] = self.username
        if self.language_code:
            user["language_code"] = self.language_code
        return user

    @property
    def inbox(self) -> list[BotMessage]:
        """Every message the bot sent to this user (see ``TestChat.inbox``)."""
        return self.chat.inbox

    def message(self, message_id: int) -> BotMessage | None:
        """The record of a bot message in the private chat."""
        return self.chat.message(message_id)

    async def send_text(self, text: str, *, reply_to: MessageRef | None = None) -> dict[str, Any]:
        """See ``TestChat.send_text``."""
        return await self.chat.send_text(self, text, reply_to=reply_to)

    async def send_photo(
        self, data: bytes, *, media_group_id: str | None = None, caption: str | None = None
    ) -> dict[str, Any]:
        """See ``TestChat.send_photo``."""
        return await self.chat.send_photo(
            self, data, media_group_id=media_group_id, caption=caption
        )

    async def send_album(
        self, images: Sequence[bytes], *, caption: str | None = None
    ) -> list[dict[str, Any]]:
        """See ``TestChat.send_album``."""
        return await self.chat.send_album(self, images, caption=caption)

    async def send_document(
        self,
        data: bytes,
        *,
        file_name: str = "file.bin",
        mime_type: str = "application/octet-stream",
        declared_size: int | None = None,
        caption: str | None = None,
        media_group_id: str | None = None,
    ) -> dict[str, Any]:
        """See ``TestChat.send_document``."""
        return await self.chat.send_document(
            self,
            data,
            file_name=file_name,
            mime_type=mime_type,
            declared_size=declared_size,
            caption=caption,
            media_group_id=media_group_id,
        )

    async def send_sticker(self, *, emoji: str = "👍") -> dict[str, Any]:
        """See ``TestChat.send_sticker``."""
        return await self.chat.send_sticker(self, emoji=emoji)

    async def send_voice(self, data: bytes = _VOICE, *, duration: int = 2) -> dict[str, Any]:
        """See ``TestChat.send_voice``."""
        return await self.chat.send_voice(self, data, duration=duration)

    async def send_location(self, latitude: float, longitude: float) -> dict[str, Any]:
        """See ``TestChat.send_location``."""
        return await self.chat.send_location(self, latitude, longitude)

    async def edit_text(self, message: MessageRef, text: str) -> dict[str, Any]:
        """See ``TestChat.edit_text``."""
        return await self.chat.edit_text(self, message, text)

    async def forward_text(
        self,
        text: str,
        *,
        from_chat_title: str | None = None,
        from_channel: bool = False,
        from_user: TestUser | None = None,
        hidden_user_name: str | None = None,
    ) -> dict[str, Any]:
        """See ``TestChat.forward_text``."""
        return await self.chat.forward_text(
            self,
            text,
            from_chat_title=from_chat_title,
            from_channel=from_channel,
            from_user=from_user,
            hidden_user_name=hidden_user_name,
        )

    async def press(
        self, bot_message: MessageRef, label: str | None = None, *, data: str | None = None
    ) -> dict[str, Any]:
        """See ``TestChat.press``."""
        return await self.chat.press(self, bot_message, label, data=data)

    async def press_data(self, bot_message: MessageRef, data: str) -> dict[str, Any]:
        """See ``TestChat.press_data``."""
        return await self.chat.press_data(self, bot_message, data)

    async def wait_for(
        self,
        predicate: Predicate | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109 - the test helper API takes a plain timeout
    ) -> BotMessage:
        """See ``TestChat.wait_for``."""
        return await self.chat.wait_for(predicate, timeout)

    async def wait_for_count(
        self,
        count: int,
        timeout: float = 10.0,  # noqa: ASYNC109 - the test helper API takes a plain timeout
    ) -> list[BotMessage]:
        """See ``TestChat.wait_for_count``."""
        return await self.chat.wait_for_count(count, timeout)

    def block(self, *, notify: bool = False) -> None:
        """This user blocks the bot (see ``FakeBotApi.block``)."""
        self.server.block(self.id, notify=notify)

    def unblock(self) -> None:
        """This user unblocks the bot."""
        self.server.unblock(self.id)
