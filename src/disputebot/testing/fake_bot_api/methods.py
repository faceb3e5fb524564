"""Bot API methods other than sending and editing messages."""

from __future__ import annotations

import json
import re
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from disputebot.testing.fake_bot_api.messaging import resolve_chat
from disputebot.testing.fake_bot_api.params import Params
from disputebot.testing.fake_bot_api.registry import api_method
from disputebot.testing.fake_bot_api.state import (
    ApiError,
    CallbackAnswer,
    GetUpdatesCall,
    bad_request,
)

if TYPE_CHECKING:
    from disputebot.testing.fake_bot_api.server import FakeBotApi

__all__ = ["commands_key"]

_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
CONFLICT_POLL = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)


@api_method("getMe")
async def get_me(api: FakeBotApi, params: Params) -> dict[str, Any]:
    return {
        **api.bot_user(),
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


@api_method("logOut", "close")
async def log_out(api: FakeBotApi, params: Params) -> bool:
    return True


@api_method("getUpdates")
async def get_updates(api: FakeBotApi, params: Params) -> list[dict[str, Any]]:
    offset = params.get_int("offset")
    limit = min(max(params.get_int("limit") or 100, 1), 100)
    timeout = max(params.get_float("timeout") or 0.0, 0.0)
    call = GetUpdatesCall(offset, limit, timeout, time.monotonic())
    api.get_updates_calls.append(call)
    if api.webhook.active:
        call.status = 409
        raise ApiError(409, CONFLICT_WEBHOOK)
    allowed = params.get_json("allowed_updates")
    if isinstance(allowed, list):
        api.updates.set_allowed(str(kind) for kind in allowed)
    # A newer getUpdates ends a waiting one, as Telegram does with two pollers.
    api.poll_generation += 1
    generation = api.poll_generation
    if offset:
        api.updates.confirm(offset)
    else:
        api.updates.signal.notify()
    result = api.updates.take(offset, limit)
    if not result and timeout > 0:

        def done() -> bool:
            return (
                api.closing
                or api.webhook.active
                or generation != api.poll_generation
                or bool(api.updates.take(offset, limit))
            )

        await api.updates.signal.wait_for(done, timeout)
        if generation != api.poll_generation:
            call.status = 409
            raise ApiError(409, CONFLICT_POLL)
        result = [] if api.closing or api.webhook.active else api.updates.take(offset, limit)
    if result and api.weather is not None and api.updates.confirmed and api.weather.resend():
        # Telegram sometimes hands out an update again after it was confirmed.
        result = [api.updates.confirmed[-1], *result]
    call.returned = [update["update_id"] for update in result]
    return result


@api_method("answerCallbackQuery")
async def answer_callback_query(api: FakeBotApi, params: Params) -> bool:
    query_id = params.get_str("callback_query_id") or ""
    pending = api.callback_queries.get(query_id)
    if pending is None or pending.answered:
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    text = params.get_str("text")
    if text is not None and len(text) > 200:
        raise bad_request("MESSAGE_TOO_LONG")
    pending.answered = True
    api.callback_answers.append(
        CallbackAnswer(
            callback_query_id=query_id,
            text=text,
            show_alert=params.get_bool("show_alert"),
            url=params.get_str("url"),
            cache_time=params.get_int("cache_time"),
            data=pending.data,
            user_id=pending.user_id,
            time=time.monotonic(),
        )
    )
    return True


@api_method("getFile")
async def get_file(api: FakeBotApi, params: Params) -> dict[str, Any]:
    file_id = params.get_str("file_id") or ""
    stored = api.files.get(file_id.strip())
    if stored is None:
        raise bad_request("invalid file_id")
    if stored.size > api.max_download_size:
        raise bad_request("file is too big")
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": stored.size,
        "file_path": stored.file_path,
    }


def commands_key(scope: dict[str, Any] | None = None, language_code: str = "") -> tuple[str, str]:
    """The ``server.commands`` key of a scope and language: (canonical scope JSON, code)."""
    chosen = scope or {"type": "default"}
    return json.dumps(chosen, sort_keys=True, separators=(",", ":")), language_code


def _commands_key(params: Params) -> tuple[str, str]:
    scope = params.get_json("scope")
    if scope is not None and (not isinstance(scope, dict) or "type" not in scope):
        raise bad_request("can't parse BotCommandScope JSON object")
    return commands_key(scope, params.get_str("language_code") or "")


@api_method("setMyCommands")
async def set_my_commands(api: FakeBotApi, params: Params) -> bool:
    commands = params.get_json("commands")
    if not isinstance(commands, list):
        raise bad_request("can't parse commands JSON object")
    if len(commands) > 100:
        raise bad_request("too much commands")
    cleaned: list[dict[str, str]] = []
    for item in commands:
        if not isinstance(item, dict):
            raise bad_request("can't parse BotCommand JSON object")
        command = str(item.get("command") or "").strip()
        description = str(item.get("description") or "").strip()
        if not _COMMAND.fullmatch(command):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(description) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        cleaned.append({"command": command, "description": description})
    key = _commands_key(params)
    if cleaned:
        api.commands[key] = cleaned
    else:
        api.commands.pop(key, None)
    return True


@api_method("getMyCommands")
async def get_my_commands(api: FakeBotApi, params: Params) -> list[dict[str, str]]:
    return list(api.commands.get(_commands_key(params), []))


@api_method("deleteMyCommands")
async def delete_my_commands(api: FakeBotApi, params: Params) -> bool:
    api.commands.pop(_commands_key(params), None)
    return True


@api_method("setWebhook")
async def set_webhook(api: FakeBotApi, params: Params) -> bool:
    url = (params.get_str("url") or "").strip()
    if params.get_bool("drop_pending_updates"):
        api.updates.clear()
    if not url:
        await api.webhook.delete()
        return True
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.hostname not in _LOCAL_HOSTS:
        # Tests must never make the fake reach outside this machine.
        raise bad_request("bad webhook: the fake Bot API pushes only to 127.0.0.1")
    secret = params.get_str("secret_token") or None
    if secret is not None and not _SECRET.fullmatch(secret):
        raise bad_request("secret token contains unallowed characters")
    max_connections = min(max(params.get_int("max_connections") or 40, 1), 100)
    allowed = params.get_json("allowed_updates")
    if isinstance(allowed, list):
        api.updates.set_allowed(str(kind) for kind in allowed)
    await api.webhook.set(
        url,
        secret=secret,
        max_connections=max_connections,
        allowed_updates=[str(kind) for kind in allowed] if isinstance(allowed, list) else None,
    )
    return True


@api_method("deleteWebhook")
async def delete_webhook(api: FakeBotApi, params: Params) -> bool:
    if params.get_bool("drop_pending_updates"):
        api.updates.clear()
    await api.webhook.delete()
    return True


@api_method("getWebhookInfo")
async def get_webhook_info(api: FakeBotApi, params: Params) -> dict[str, Any]:
    return api.webhook.info()


@api_method("setChatMenuButton")
async def set_chat_menu_button(api: FakeBotApi, params: Params) -> bool:
    chat_id = params.get_int("chat_id")
    button = params.get_json("menu_button") or {"type": "default"}
    if not isinstance(button, dict) or "type" not in button:
        raise bad_request("can't parse menu button JSON object")
    api.menu_buttons[chat_id] = button
    return True


@api_method("getChatMenuButton")
async def get_chat_menu_button(api: FakeBotApi, params: Params) -> dict[str, Any]:
    chat_id = params.get_int("chat_id")
    for key in (chat_id, None):
        button = api.menu_buttons.get(key)
        if button is not None and button.get("type") != "default":
            return button
    return {"type": "commands"}


@api_method("sendChatAction")
async def send_chat_action(api: FakeBotApi, params: Params) -> bool:
    chat = resolve_chat(api, params)
    action = params.get_str("action") or ""
    if action not in _CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    api.chat_actions.append((chat.id, action))
    return True


@api_method("setMyDescription", "setMyShortDescription", "setMyName")
async def set_my_profile_text(api: FakeBotApi, params: Params) -> bool:
    for field in ("description", "short_description", "name"):
        if field in params.values:
            api.profile_texts[field, params.get_str("language_code") or ""] = (
                params.get_str(field) or ""
            )
    return True
