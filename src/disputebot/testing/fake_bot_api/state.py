"""The fake server's state: update queue, chats, records that tests inspect, fault plans."""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DEFAULT_UPDATE_TYPES",
    "ApiCall",
    "ApiError",
    "CallbackAnswer",
    "ChatState",
    "GetUpdatesCall",
    "PendingCallback",
    "RateLimiter",
    "Signal",
    "UpdateQueue",
    "WebhookDelivery",
]

# What Telegram delivers when allowed_updates is empty or was never given.
DEFAULT_UPDATE_TYPES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)


class ApiError(Exception):
    """A Bot API error answer: ``{"ok": false, "error_code": code, "description": ...}``."""

    def __init__(self, code: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> dict[str, Any]:
        """The JSON body Telegram sends for this error."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(what: str) -> ApiError:
    """A 400 with Telegram's "Bad Request: " prefix."""
    return ApiError(400, f"Bad Request: {what}")


class Signal:
    """Wakes every waiter when something changed; waiters re-check their own condition.

    ``notify`` is synchronous so state changes made from plain functions can wake waiters;
    each notification swaps in a fresh ``asyncio.Event`` so a wake-up is never missed or stale.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Wake everyone waiting right now."""
        self._event.set()
        self._event = asyncio.Event()

    def current(self) -> asyncio.Event:
        """The event the next ``notify`` sets; take it before checking, then wait on it."""
        return self._event

    async def next(self, seconds: float | None = None) -> None:
        """Wait for the next notification, or ``seconds`` at most (silently)."""
        event = self._event
        try:
            async with asyncio.timeout(seconds):
                await event.wait()
        except TimeoutError:
            return

    async def wait_for(self, predicate: Callable[[], bool], seconds: float) -> bool:
        """Wait until ``predicate()`` holds; False when ``seconds`` pass first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            await self.next(remaining)
        return True


@dataclass
class GetUpdatesCall:
    """One getUpdates request: what it asked for, when, and which update ids it returned."""

    offset: int | None
    limit: int
    timeout: float
    time: float  # time.monotonic() when the request arrived
    returned: list[int] = field(default_factory=list)
    status: int = 200


@dataclass
class WebhookDelivery:
    """One push attempt to the webhook; ``status`` is None when the connection failed."""

    update_id: int
    url: str
    status: int | None
    error: str | None
    time: float  # time.monotonic() when the attempt ended
    secret_token: str | None


@dataclass
class CallbackAnswer:
    """One answerCallbackQuery call that Telegram accepted."""

    callback_query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int | None
    data: str | None  # the callback_data of the pressed button
    user_id: int
    time: float


@dataclass
class PendingCallback:
    """A button press the bot has not answered yet (or has, once)."""

    id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str | None
    answered: bool = False


@dataclass
class ApiCall:
    """Any request to the Bot API, with its parsed parameters and the HTTP status answered."""

    method: str
    params: dict[str, Any]
    files: list[str]
    time: float
    status: int = 0
    description: str | None = None


@dataclass
class ChatState:
    """A chat as the fake sees it: every message in it and what the bot sent there."""

    id: int
    type: str  # "private", "group" or "supergroup"
    title: str | None = None
    user: dict[str, Any] | None = None  # the other side of a private chat
    last_message_id: int = 0
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    inbox: list[dict[str, Any]] = field(default_factory=list)
    records: dict[int, dict[str, Any]] = field(default_factory=dict)
    consumed: set[int] = field(default_factory=set)
    signal: Signal = field(default_factory=Signal)

    def next_message_id(self) -> int:
        """Message ids increase per chat, shared by users and the bot, like Telegram."""
        self.last_message_id += 1
        return self.last_message_id

    def json(self) -> dict[str, Any]:
        """The Bot API Chat object."""
        chat: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.type == "private" and self.user is not None:
            chat["first_name"] = self.user["first_name"]
            for key in ("last_name", "username"):
                if self.user.get(key):
                    chat[key] = self.user[key]
        else:
            chat["title"] = self.title or str(self.id)
        return chat


class UpdateQueue:
    """Updates kept until confirmed (getUpdates offset) or delivered (webhook 2xx)."""

    def __init__(self) -> None:
        self.confirmed: list[dict[str, Any]] = []
        self.pending: list[dict[str, Any]] = []
        self.dropped: list[dict[str, Any]] = []
        self.allowed: frozenset[str] = DEFAULT_UPDATE_TYPES
        self.signal = Signal()
        self._last_id = 0

    def add(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Create the next update; it is kept only if its type is currently allowed."""
        self._last_id += 1
        update = {"update_id": self._last_id, kind: payload}
        if kind in self.allowed:
            self.pending.append(update)
            self.signal.notify()
        else:
            # Telegram never creates updates of types the bot did not ask for.
            self.dropped.append(update)
        return update

    def set_allowed(self, types: Iterable[str] | None) -> None:
        """Apply an allowed_updates list; empty means Telegram's default set."""
        if types is None:
            return
        chosen = frozenset(types)
        self.allowed = chosen or DEFAULT_UPDATE_TYPES

    def confirm(self, offset: int) -> None:
        """Forget updates below ``offset``; a negative one keeps only the last ``-offset``."""
        before = self.pending
        if offset > 0:
            self.pending = [u for u in self.pending if u["update_id"] >= offset]
        elif offset < 0:
            self.pending = self.pending[offset:]
        kept = {id(u) for u in self.pending}
        # The last few confirmed updates, for chaos to hand out again.
        self.confirmed = [*self.confirmed, *(u for u in before if id(u) not in kept)][-50:]
        self.signal.notify()

    def take(self, offset: int | None, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` pending updates with id >= offset, oldest first."""
        start = offset if offset and offset > 0 else 0
        return [u for u in self.pending if u["update_id"] >= start][:limit]

    def remove(self, update_id: int) -> None:
        """Forget one update (a webhook delivery succeeded)."""
        self.pending = [u for u in self.pending if u["update_id"] != update_id]
        self.signal.notify()

    def clear(self) -> None:
        """Drop everything pending (drop_pending_updates)."""
        self.pending.clear()
        self.signal.notify()

    def ids(self) -> list[int]:
        """Ids of the updates not yet confirmed."""
        return [u["update_id"] for u in self.pending]


class RateLimiter:
    """Sliding one-second windows per chat and overall, the shape of Telegram's flood control."""

    def __init__(self) -> None:
        self.per_chat: float | None = None
        self.global_: float | None = None
        self._chat_sends: dict[int, deque[float]] = {}
        self._all_sends: deque[float] = deque()

    def configure(self, per_chat: float | None, global_: float | None) -> None:
        """Set the limits (None switches one off) and start from an empty window."""
        self.per_chat, self.global_ = per_chat, global_
        self._chat_sends.clear()
        self._all_sends.clear()

    def check(self, chat_id: int) -> int | None:
        """Seconds to wait before sending to ``chat_id`` is allowed again, or None to go ahead."""
        now = time.monotonic()
        waits = [
            self._wait(self._all_sends, self.global_, now),
            self._wait(self._chat_sends.setdefault(chat_id, deque()), self.per_chat, now),
        ]
        worst = max((w for w in waits if w is not None), default=None)
        return None if worst is None else max(1, math.ceil(worst))

    def record(self, chat_id: int) -> None:
        """Count one send that went through."""
        if self.per_chat is None and self.global_ is None:
            return
        now = time.monotonic()
        self._all_sends.append(now)
        self._chat_sends.setdefault(chat_id, deque()).append(now)

    @staticmethod
    def _wait(window: deque[float], limit: float | None, now: float) -> float | None:
        if limit is None:
            return None
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) < limit:
            return None
        return window[0] + 1.0 - now
