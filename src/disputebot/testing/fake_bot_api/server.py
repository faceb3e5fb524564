"""The fake Bot API HTTP server: routing, request parsing, fault hooks and lifecycle."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from aiohttp import web

# Importing the handler modules fills the method table.
from disputebot.testing.fake_bot_api import messaging as _messaging
from disputebot.testing.fake_bot_api import methods as _methods
from disputebot.testing.fake_bot_api.chaos import Chaos, ChaosStats
from disputebot.testing.fake_bot_api.files import FileStore
from disputebot.testing.fake_bot_api.flood import SEND_METHODS, FloodControl, FloodError
from disputebot.testing.fake_bot_api.methods import commands_key
from disputebot.testing.fake_bot_api.params import Params, Upload, read_request
from disputebot.testing.fake_bot_api.registry import lookup
from disputebot.testing.fake_bot_api.state import (
    ApiCall,
    ApiError,
    CallbackAnswer,
    ChatState,
    GetUpdatesCall,
    PendingCallback,
    RateLimiter,
    Signal,
    UpdateQueue,
    WebhookDelivery,
)
from disputebot.testing.fake_bot_api.users import TestChat, TestUser
from disputebot.testing.fake_bot_api.webhook import WebhookPusher

__all__ = ["DEFAULT_TOKEN", "FakeBotApi"]

DEFAULT_TOKEN = "123456:TEST-token-abcdefghijklmnopqrstuvwxyz"
_log = logging.getLogger(__name__)
_REGISTERED = (_messaging, _methods)
_STATUS_TEXT = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


@dataclass
class _Fault:
    status: int
    description: str
    retry_after: int | None


class FakeBotApi:
    """A Telegram Bot API server on 127.0.0.1 for end-to-end tests.

    Point a client at ``url`` (PTB: ``base_url=f"{url}/bot"``, ``base_file_url=
    f"{url}/file/bot"``; aiogram: ``TelegramAPIServer.from_base(url)``), create users with
    ``user()`` and groups with ``group()``, and let them talk to the bot. Everything the bot
    does is recorded: ``calls``, ``get_updates_calls``, ``webhook_deliveries``,
    ``callback_answers``, ``commands``, each chat's ``inbox``.

    ``enforce_limits()`` turns on Telegram's send limits (429 with ``retry_after`` past them).

    ``strict_html`` (default True) also rejects a bare ``&`` in HTML text, which Telegram
    would show literally; see ``html_check``.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        bot_username: str = "disputebot_test_bot",
        *,
        bot_first_name: str = "Dispute Bot",
        strict_html: bool = True,
    ) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.strict_html = strict_html
        # Knobs tests may change.
        self.webhook_retry_delay = 0.2
        self.webhook_timeout = 10.0
        self.max_download_size = 20 * 1024 * 1024
        # Records tests read.
        self.calls: list[ApiCall] = []
        self.get_updates_calls: list[GetUpdatesCall] = []
        self.webhook_deliveries: list[WebhookDelivery] = []
        self.callback_answers: list[CallbackAnswer] = []
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.menu_buttons: dict[int | None, dict[str, Any]] = {}
        self.chat_actions: list[tuple[int, str]] = []
        self.profile_texts: dict[tuple[str, str], str] = {}
        self.internal_errors: list[BaseException] = []
        self.too_many_requests = 0
        # State.
        self.files = FileStore()
        self.updates = UpdateQueue()
        self.chats: dict[int, ChatState] = {}
        self.users: dict[int, TestUser] = {}
        self.blocked: set[int] = set()
        self.callback_queries: dict[str, PendingCallback] = {}
        self.webhook = WebhookPusher(self)
        self.changed = Signal()  # any API call or user action finished
        self.poll_generation = 0
        self.closing = False
        self._faults: dict[str, deque[_Fault]] = {}
        self.weather: Chaos | None = None
        self._rate = RateLimiter()
        self.flood: FloodControl | None = None
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._url: str | None = None

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on 127.0.0.1 on a free port."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{file_path:.+}", self._handle_file)
        # Long polls are woken by close(), so a short grace period is enough.
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        host, port = runner.addresses[0][:2]
        self._url = f"http://{host}:{port}"

    async def close(self) -> None:
        """Stop webhook pushes, end long polls and shut the server down."""
        self.closing = True
        self.updates.signal.notify()
        await self.webhook.delete()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``; the Bot API lives under ``{url}/bot{token}/``."""
        if self._url is None:
            raise RuntimeError("FakeBotApi is not started")
        return self._url

    @property
    def api_url(self) -> str:
        """``{url}/bot{token}``, the prefix of every method URL."""
        return f"{self.url}/bot{self.token}"

    # -- users and chats -----------------------------------------------------------------

    def bot_user(self) -> dict[str, Any]:
        """The bot's User object."""
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def user(
        self,
        user_id: int,
        first_name: str = "Test",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
    ) -> TestUser:
        """A test user (created on first call, the same object afterwards)."""
        if user_id in self.users:
            return self.users[user_id]
        if user_id <= 0:
            raise ValueError("user ids are positive")
        user = TestUser(
            self,
            user_id,
            first_name=first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
        )
        self.users[user_id] = user
        return user

    def group(
        self, chat_id: int, title: str = "Test group", *, chat_type: str | None = None
    ) -> TestChat:
        """A group chat; ids starting with -100 are supergroups unless ``chat_type`` says so."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        kind = chat_type or ("supergroup" if str(chat_id).startswith("-100") else "group")
        return TestChat(self, self.chat_state(chat_id, kind, title=title))

    def chat_state(
        self,
        chat_id: int,
        kind: str,
        *,
        title: str | None = None,
        user: dict[str, Any] | None = None,
    ) -> ChatState:
        """The state of a chat, created on first use."""
        if chat_id not in self.chats:
            self.chats[chat_id] = ChatState(chat_id, kind, title=title, user=user)
        return self.chats[chat_id]

    def find_chat(self, ref: int | str) -> ChatState | None:
        """A known chat by id or @username."""
        if isinstance(ref, int):
            return self.chats.get(ref)
        name = ref.removeprefix("@").lower()
        for chat in self.chats.values():
            if chat.user and (chat.user.get("username") or "").lower() == name:
                return chat
        return None

    def block(self, user_id: int, *, notify: bool = False) -> None:
        """The user blocks the bot: sending to them answers 403 until they write again.

        With ``notify`` the bot also gets the ``my_chat_member`` update Telegram sends.
        """
        self.blocked.add(user_id)
        user = self.users.get(user_id)
        if notify and user is not None:
            self._member_update(user, old="member", new="kicked")

    def unblock(self, user_id: int) -> None:
        """The user unblocks the bot."""
        self.blocked.discard(user_id)

    def _member_update(self, user: TestUser, *, old: str, new: str) -> None:
        bot = self.bot_user()
        new_member: dict[str, Any] = {"user": bot, "status": new}
        if new == "kicked":
            new_member["until_date"] = 0
        self.updates.add(
            "my_chat_member",
            {
                "chat": self.chats[user.id].json(),
                "from": user.json(),
                "date": int(time.time()),
                "old_chat_member": {"user": bot, "status": old},
                "new_chat_member": new_member,
            },
        )

    def new_media_group_id(self) -> str:
        """A fresh media_group_id (Telegram uses long decimal strings)."""
        return str(13_000_000_000_000_000 + next(self._ids))

    def new_callback_id(self) -> str:
        """A fresh callback_query id."""
        return str(4_000_000_000_000_000_000 + secrets.randbelow(10**15) * 1000 + next(self._ids))

    def updates_pending(self) -> list[int]:
        """Ids of updates not yet confirmed by getUpdates or delivered to the webhook."""
        return self.updates.ids()

    def commands_for(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, str]]:
        """The commands set for a scope (default: the default scope) and language."""
        return self.commands.get(commands_key(scope, language_code), [])

    async def wait_until(
        self,
        predicate: Callable[[], bool],
        timeout: float = 10.0,  # noqa: ASYNC109 - the test helper API takes a plain timeout
    ) -> None:
        """Wait until ``predicate()`` holds; it is re-checked after every API call."""
        if not await self.changed.wait_for(predicate, timeout):
            raise TimeoutError(f"condition not met within {timeout}s")

    # -- fault hooks ---------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        status: int = 500,
        description: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail with ``status``.

        The description defaults to Telegram's wording for the status; a 429 always carries
        ``parameters.retry_after`` (``retry_after`` or 1).
        """
        if status == 429 and retry_after is None:
            retry_after = 1
        if description is None:
            if status == 429:
                description = f"Too Many Requests: retry after {retry_after}"
            else:
                description = _STATUS_TEXT.get(status, "Internal Server Error")
        queue = self._faults.setdefault(method.lower(), deque())
        queue.extend(_Fault(status, description, retry_after) for _ in range(times))

    def chaos(
        self,
        seed: int,
        *,
        error_rate: float = 0.0,
        throttle_rate: float = 0.0,
        slow_rate: float = 0.0,
        slow_seconds: float = 0.5,
        resend_rate: float = 0.0,
        retry_after: int = 1,
    ) -> ChaosStats:
        """Random, seeded faults on every later call (see ``chaos.py``); returns the counts."""
        self.weather = Chaos(
            seed,
            error_rate=error_rate,
            throttle_rate=throttle_rate,
            slow_rate=slow_rate,
            slow_seconds=slow_seconds,
            resend_rate=resend_rate,
            retry_after=retry_after,
        )
        return self.weather.stats

    def rate_limit(
        self, per_chat_per_second: float | None = None, global_per_second: float | None = None
    ) -> None:
        """Answer sends past these rates (one-second windows) with 429; None turns off."""
        self._rate.configure(per_chat_per_second, global_per_second)

    def enforce_limits(
        self,
        global_per_s: int | None = 30,
        per_chat_per_s: int | None = 1,
        per_group_per_min: int | None = 20,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> FloodControl:
        """Enforce Telegram's send limits from now on; returns what is counted (see ``flood``).

        Sends past a limit, and sends made before an earlier ``retry_after`` elapsed, answer
        429; the returned ``FloodControl`` records every admitted send, every 429 and every
        unhonoured one. A limit set to None is not enforced. Calling again starts afresh.
        """
        self.flood = FloodControl(global_per_s, per_chat_per_s, per_group_per_min, clock=clock)
        return self.flood

    def stop_enforcing_limits(self) -> None:
        """Send freely again (the last ``FloodControl`` keeps its records)."""
        self.flood = None

    def spend_send(self, chat_id: int, method: str = "sendMessage", messages: int = 1) -> None:
        """Count a send to ``chat_id`` against the rate limits, or answer 429."""
        wait = self._rate.check(chat_id)
        if wait is not None:
            self.too_many_requests += 1
            raise ApiError(429, f"Too Many Requests: retry after {wait}", retry_after=wait)
        if self.flood is not None:
            try:
                self.flood.admit(chat_id, method, messages)
            except ApiError:
                self.too_many_requests += 1
                raise
        self._rate.record(chat_id)

    def _impose(
        self,
        method: str,
        values: dict[str, Any],
        files: dict[str, Upload] | None,
        retry_after: int | None,
    ) -> None:
        """Let the flood control hold a chat after an injected 429 to one of its sends."""
        if self.flood is None or retry_after is None or method.lower() not in SEND_METHODS:
            return
        try:
            ref = Params(values, files).chat_id()
        except ApiError:
            return
        chat = self.find_chat(ref)
        if chat is not None:
            self.flood.impose(chat.id, method, retry_after)

    async def _weather(self, method: str) -> None:
        if self.weather is None:
            return
        delay = self.weather.delay()
        if delay:
            await asyncio.sleep(delay)
        fault = self.weather.fault(method)
        if fault is not None:
            status, retry_after = fault
            if status == 429:
                description = f"Too Many Requests: retry after {retry_after}"
            else:
                description = _STATUS_TEXT.get(status, "Internal Server Error")
            raise ApiError(status, description, retry_after=retry_after)

    def _raise_planned_fault(self, method: str) -> None:
        queue = self._faults.get(method.lower())
        if queue:
            fault = queue.popleft()
            raise ApiError(fault.status, fault.description, retry_after=fault.retry_after)

    # -- HTTP ----------------------------------------------------------------------------

    async def invoke(
        self, method: str, values: dict[str, Any], files: dict[str, Upload] | None = None
    ) -> tuple[int, dict[str, Any]]:
        """Run one Bot API call in-process: (HTTP status, response body)."""
        found = lookup(method)
        if found is None:
            return 404, ApiError(404, "Not Found").payload()
        name, handler = found
        call = ApiCall(name, dict(values), sorted((files or {}).keys()), time.monotonic())
        self.calls.append(call)
        try:
            self._raise_planned_fault(name)
            await self._weather(name)
            result = await handler(self, Params(values, files))
        except ApiError as error:
            call.status, call.description = error.code, error.description
            if error.code == 429 and not isinstance(error, FloodError):
                self._impose(name, values, files, error.retry_after)
            return error.code, error.payload()
        except Exception as error:
            # A bug in the fake: answer like Telegram's 500 and keep it for the test to see.
            _log.exception("fake Bot API failed in %s", name)
            self.internal_errors.append(error)
            call.status = 500
            return 500, ApiError(500, "Internal Server Error").payload()
        finally:
            self.changed.notify()
        call.status = 200
        return 200, {"ok": True, "result": result}

    async def _handle_api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _json(401, ApiError(401, "Unauthorized").payload())
        if lookup(request.match_info["method"]) is None:
            return _json(404, ApiError(404, "Not Found").payload())
        try:
            values, files = await read_request(request)
        except ApiError as error:
            return _json(error.code, error.payload())
        status, body = await self.invoke(request.match_info["method"], values, files)
        return _json(status, body)

    async def _handle_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _json(401, ApiError(401, "Unauthorized").payload())
        stored = self.files.by_path.get(request.match_info["file_path"])
        if stored is None:
            return _json(404, ApiError(404, "Not Found").payload())
        return web.Response(body=stored.data, content_type="application/octet-stream")


def _json(status: int, body: dict[str, Any]) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(body, ensure_ascii=False),
        content_type="application/json",
    )
