"""Sending, editing and deleting messages, validated the way Telegram validates them."""

from __future__ import annotations

import copy
import mimetypes
import time
from typing import TYPE_CHECKING, Any

from disputebot.testing.fake_bot_api.files import StoredFile
from disputebot.testing.fake_bot_api.html_check import (
    HtmlParseError,
    ParsedText,
    parse_html,
    plain_text,
)
from disputebot.testing.fake_bot_api.params import Params, Upload
from disputebot.testing.fake_bot_api.registry import api_method
from disputebot.testing.fake_bot_api.state import ApiError, ChatState, bad_request

if TYPE_CHECKING:
    from disputebot.testing.fake_bot_api.server import FakeBotApi

__all__ = ["MAX_CALLBACK_DATA", "MAX_CAPTION", "MAX_TEXT", "NOT_MODIFIED", "resolve_chat"]

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
# An inline button needs exactly one of these besides its text.
_BUTTON_ACTIONS = frozenset(
    {
        "url",
        "callback_data",
        "web_app",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
        "callback_game",
        "pay",
    }
)


def resolve_chat(api: FakeBotApi, params: Params) -> ChatState:
    """The chat named by chat_id, or Telegram's answer for chats the bot cannot write to."""
    ref = params.chat_id()
    chat = api.find_chat(ref)
    if chat is None:
        if isinstance(ref, int) and ref > 0:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        raise bad_request("chat not found")
    if chat.type == "private" and chat.id in api.blocked:
        raise ApiError(403, "Forbidden: bot was blocked by the user")
    return chat


def _formatted(api: FakeBotApi, params: Params, text: str, entities_key: str) -> ParsedText:
    mode = (params.get_str("parse_mode") or "").strip().lower()
    if mode == "html":
        try:
            return parse_html(text, strict=api.strict_html)
        except HtmlParseError as error:
            raise bad_request(f"can't parse entities: {error}") from None
    if mode in ("", "markdown", "markdownv2"):
        # Markdown is not checked by the fake: the text is kept as sent.
        parsed = plain_text(text)
        entities = params.get_json(entities_key)
        if isinstance(entities, list) and not mode:
            return ParsedText(parsed.text, [e for e in entities if isinstance(e, dict)])
        return parsed
    raise bad_request("unsupported parse_mode")


def _markup(params: Params, *, inline_only: bool = False) -> dict[str, Any] | None:
    markup = params.get_json("reply_markup")
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("object expected as reply markup")
    if "inline_keyboard" not in markup:
        if inline_only:
            raise bad_request("inline keyboard expected")
        return markup
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(
            'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
        )
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not button.get("text"):
                raise bad_request("can't parse inline keyboard button: Text must be non-empty")
            if "callback_data" in button:
                data = button["callback_data"]
                if not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA:
                    raise bad_request("BUTTON_DATA_INVALID")
            elif not _BUTTON_ACTIONS & button.keys():
                raise bad_request("text buttons are unallowed in the inline keyboard")
    return markup


def _inline(markup: dict[str, Any] | None) -> dict[str, Any] | None:
    """The reply_markup a Message carries: only a non-empty inline keyboard."""
    if markup and markup.get("inline_keyboard"):
        return {"inline_keyboard": markup["inline_keyboard"]}
    return None


def _reply_target(chat: ChatState, params: Params) -> dict[str, Any] | None:
    reply = params.get_json("reply_parameters")
    allow = params.get_bool("allow_sending_without_reply")
    message_id: int | None = None
    if isinstance(reply, dict) and reply.get("message_id") is not None:
        message_id = int(reply["message_id"])
        allow = bool(reply.get("allow_sending_without_reply", allow))
    else:
        message_id = params.get_int("reply_to_message_id")
    if message_id is None:
        return None
    target = chat.messages.get(message_id)
    if target is None:
        if allow:
            return None
        raise bad_request("message to be replied not found")
    return {k: copy.deepcopy(v) for k, v in target.items() if k != "reply_to_message"}


def _post(
    api: FakeBotApi,
    chat: ChatState,
    content: dict[str, Any],
    *,
    method: str,
    source: str | None,
    params: Params,
    markup: dict[str, Any] | None = None,
    reply_to: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Create a bot message in ``chat``, record it for the tests and wake their waiters."""
    message_id = chat.next_message_id()
    message: dict[str, Any] = {
        "message_id": message_id,
        "from": api.bot_user(),
        "chat": chat.json(),
        "date": int(time.time()),
    }
    if reply_to is not None:
        message["reply_to_message"] = reply_to
    message.update(content)
    inline = _inline(markup)
    if inline is not None:
        message["reply_markup"] = inline
    chat.messages[message_id] = message
    record: dict[str, Any] = {
        "message_id": message_id,
        "chat_id": chat.id,
        "date": message["date"],
        "received_at": time.time(),
        "method": method,
        "html": source,
        "parse_mode": params.get_str("parse_mode"),
        "reply_markup": markup,
        "reply_to_message_id": reply_to["message_id"] if reply_to else None,
        "media_group_id": message.get("media_group_id"),
        "edited": False,
        "edit_date": None,
        "deleted": False,
        **(extra or {}),
    }
    _refresh(record, message)
    chat.inbox.append(record)
    chat.records[message_id] = record
    chat.signal.notify()
    return message


def _refresh(record: dict[str, Any], message: dict[str, Any]) -> None:
    """Copy what tests read from the current Message into its record."""
    record["message"] = message
    record["text"] = message.get("text") or message.get("caption") or ""
    record["caption"] = message.get("caption")
    record["entities"] = message.get("entities") or message.get("caption_entities") or []
    record["photo"] = message.get("photo")
    record["document"] = message.get("document")
    rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
    record["buttons"] = [[dict(button) for button in row] for row in rows]


def _text_content(parsed: ParsedText, key: str) -> dict[str, Any]:
    content: dict[str, Any] = {key: parsed.text}
    if parsed.entities:
        content["entities" if key == "text" else "caption_entities"] = parsed.entities
    return content


def _caption(api: FakeBotApi, params: Params) -> tuple[dict[str, Any], str | None]:
    caption = params.get_str("caption")
    if not caption:
        return {}, None
    parsed = _formatted(api, params, caption, "caption_entities")
    if len(parsed.text) > MAX_CAPTION:
        raise bad_request("message caption is too long")
    return (_text_content(parsed, "caption") if parsed.text else {}), caption


def _photo(api: FakeBotApi, ref: Upload | str | None) -> list[dict[str, Any]]:
    if ref is None:
        raise bad_request("there is no photo in the request")
    if isinstance(ref, Upload):
        if not ref.data:
            raise bad_request("file must be non-empty")
        return api.files.add_photo(ref.data)
    stored = api.files.get(ref)
    if stored is None:
        raise bad_request("wrong file identifier/HTTP URL specified")
    if stored.kind != "photo":
        raise bad_request(f"can't use file of type {stored.kind.capitalize()} as Photo")
    return copy.deepcopy(stored.photo_sizes)


def _document(api: FakeBotApi, ref: Upload | str | None) -> dict[str, Any]:
    if ref is None:
        raise bad_request("there is no document in the request")
    stored: StoredFile | None
    if isinstance(ref, Upload):
        if not ref.data:
            raise bad_request("file must be non-empty")
        mime = ref.content_type
        if not mime or mime == "application/octet-stream":
            mime = mimetypes.guess_type(ref.filename)[0] or "application/octet-stream"
        stored = api.files.add("document", ref.data, mime_type=mime, file_name=ref.filename)
    else:
        stored = api.files.get(ref)
        if stored is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        if stored.kind != "document":
            raise bad_request(f"can't use file of type {stored.kind.capitalize()} as Document")
    return stored.document_json()


@api_method("sendMessage")
async def send_message(api: FakeBotApi, params: Params) -> dict[str, Any]:
    chat = resolve_chat(api, params)
    source = params.get_str("text") or ""
    parsed = _formatted(api, params, source, "entities")
    if not parsed.text:
        raise bad_request("message text is empty")
    if len(parsed.text) > MAX_TEXT:
        raise bad_request("message is too long")
    markup = _markup(params)
    reply_to = _reply_target(chat, params)
    api.spend_send(chat.id, "sendMessage")
    preview = params.get_json("link_preview_options")
    no_preview = params.get_bool("disable_web_page_preview") or (
        isinstance(preview, dict) and bool(preview.get("is_disabled"))
    )
    return _post(
        api,
        chat,
        _text_content(parsed, "text"),
        method="sendMessage",
        source=source,
        params=params,
        markup=markup,
        reply_to=reply_to,
        extra={"link_preview_disabled": no_preview},
    )


async def _send_file(api: FakeBotApi, params: Params, kind: str, method: str) -> dict[str, Any]:
    chat = resolve_chat(api, params)
    ref = params.input_file(kind)
    media = {"photo": _photo(api, ref)} if kind == "photo" else {"document": _document(api, ref)}
    caption, source = _caption(api, params)
    markup = _markup(params)
    reply_to = _reply_target(chat, params)
    api.spend_send(chat.id, method)
    return _post(
        api,
        chat,
        {**media, **caption},
        method=method,
        source=source,
        params=params,
        markup=markup,
        reply_to=reply_to,
    )


@api_method("sendPhoto")
async def send_photo(api: FakeBotApi, params: Params) -> dict[str, Any]:
    return await _send_file(api, params, "photo", "sendPhoto")


@api_method("sendDocument")
async def send_document(api: FakeBotApi, params: Params) -> dict[str, Any]:
    return await _send_file(api, params, "document", "sendDocument")


@api_method("sendMediaGroup")
async def send_media_group(api: FakeBotApi, params: Params) -> list[dict[str, Any]]:
    chat = resolve_chat(api, params)
    items = params.get_json("media")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise bad_request("can't parse media JSON object")
    if len(items) > 10:
        raise bad_request("too much messages to send as an album")
    if len(items) < 2:
        raise bad_request("media group must contain at least 2 items")
    kinds = {item.get("type") for item in items}
    if not kinds <= {"photo", "document"}:
        raise bad_request(f"the fake Bot API sends only photo and document albums, not {kinds}")
    if len(kinds) > 1:
        raise bad_request("document can't be mixed with other media types")
    # Validate every item before creating any message: Telegram sends all or nothing.
    contents: list[tuple[dict[str, Any], str | None]] = []
    for item in items:
        ref = params.resolve_attach(str(item.get("media") or ""))
        item_params = Params(
            {"caption": item.get("caption"), "parse_mode": item.get("parse_mode")}, {}
        )
        item_params.values["caption_entities"] = item.get("caption_entities")
        caption, source = _caption(api, item_params)
        if item["type"] == "photo":
            media: dict[str, Any] = {"photo": _photo(api, ref or None)}
        else:
            media = {"document": _document(api, ref or None)}
        contents.append(({**media, **caption}, source))
    reply_to = _reply_target(chat, params)
    api.spend_send(chat.id, "sendMediaGroup", len(contents))
    group_id = api.new_media_group_id()
    return [
        _post(
            api,
            chat,
            {"media_group_id": group_id, **content},
            method="sendMediaGroup",
            source=source,
            params=params,
            reply_to=reply_to,
        )
        for content, source in contents
    ]


def _bot_message(chat: ChatState, params: Params) -> tuple[dict[str, Any], dict[str, Any]]:
    if params.has("inline_message_id"):
        raise bad_request("MESSAGE_ID_INVALID")
    message_id = params.required_int("message_id", "message identifier is not specified")
    message = chat.messages.get(message_id)
    if message is None:
        raise bad_request("message to edit not found")
    record = chat.records.get(message_id)
    if record is None:
        raise bad_request("message can't be edited")
    return message, record


def _apply_edit(
    chat: ChatState,
    message: dict[str, Any],
    record: dict[str, Any],
    changes: dict[str, Any],
    markup: dict[str, Any] | None,
) -> dict[str, Any]:
    inline = _inline(markup)
    before = {key: message.get(key) for key in changes}
    if before == changes and message.get("reply_markup") == inline:
        raise bad_request(NOT_MODIFIED)
    for key, value in changes.items():
        if value is None:
            message.pop(key, None)
        else:
            message[key] = value
    if inline is None:
        message.pop("reply_markup", None)
    else:
        message["reply_markup"] = inline
    message["edit_date"] = int(time.time())
    record.update(edited=True, edit_date=message["edit_date"])
    _refresh(record, message)
    chat.signal.notify()
    return message


@api_method("editMessageText")
async def edit_message_text(api: FakeBotApi, params: Params) -> dict[str, Any]:
    chat = resolve_chat(api, params)
    message, record = _bot_message(chat, params)
    source = params.get_str("text") or ""
    parsed = _formatted(api, params, source, "entities")
    if not parsed.text:
        raise bad_request("message text is empty")
    if len(parsed.text) > MAX_TEXT:
        raise bad_request("message is too long")
    if "text" not in message:
        raise bad_request("there is no text in the message to edit")
    markup = _markup(params, inline_only=True)
    changes = {"text": parsed.text, "entities": parsed.entities or None}
    edited = _apply_edit(chat, message, record, changes, markup)
    record.update(html=source, parse_mode=params.get_str("parse_mode"), reply_markup=markup)
    return edited


@api_method("editMessageCaption")
async def edit_message_caption(api: FakeBotApi, params: Params) -> dict[str, Any]:
    chat = resolve_chat(api, params)
    message, record = _bot_message(chat, params)
    if "text" in message:
        raise bad_request("there is no caption in the message to edit")
    caption, source = _caption(api, params)
    markup = _markup(params, inline_only=True)
    changes = {
        "caption": caption.get("caption"),
        "caption_entities": caption.get("caption_entities"),
    }
    edited = _apply_edit(chat, message, record, changes, markup)
    record.update(html=source, parse_mode=params.get_str("parse_mode"), reply_markup=markup)
    return edited


@api_method("editMessageReplyMarkup")
async def edit_message_reply_markup(api: FakeBotApi, params: Params) -> dict[str, Any]:
    chat = resolve_chat(api, params)
    message, record = _bot_message(chat, params)
    markup = _markup(params, inline_only=True)
    edited = _apply_edit(chat, message, record, {}, markup)
    record["reply_markup"] = markup
    return edited


@api_method("deleteMessage")
async def delete_message(api: FakeBotApi, params: Params) -> bool:
    chat = resolve_chat(api, params)
    message_id = params.required_int("message_id", "message identifier is not specified")
    if chat.messages.pop(message_id, None) is None:
        raise bad_request("message to delete not found")
    record = chat.records.get(message_id)
    if record is not None:
        record["deleted"] = True
    chat.signal.notify()
    return True
