"""Telegram's flood control, enforced, with a record of how well the bot kept to it.

Telegram states its send limits loosely (Bots FAQ, "My bot is hitting limits, how do I avoid
this?"): no more than one message per second in a chat, no more than 20 messages per minute in
a group, and about 30 messages per second in total; past them the Bot API answers 429 with
``parameters.retry_after``, the whole seconds to wait. The fake reads each limit as a sliding
window, at most N messages in any W seconds, which is the strictest reading of the FAQ: a bot
that sends evenly and under the limits never meets a 429 here, and one that bursts (a token
bucket that starts full, say) does. Telegram itself tolerates short bursts, so passing here
leaves margin there.

A 429 also opens a penalty: until its ``retry_after`` has elapsed, every send to that chat (to
any chat, when the global limit was hit) is answered 429 again with the time still left, and is
counted as **unhonoured**. The penalty is not extended by such requests, so a bot that retries
early is told so but not punished twice.

Only the send methods are limited and checked (sendMessage, sendPhoto, sendDocument and
sendMediaGroup, an album counting each of its messages); edits, callback answers and getUpdates
are not. A send the fake refuses for another reason first (a 400, a 403) is not counted either.

Times come from an injectable ``clock`` (seconds, monotonic) so tests can step it; each admitted
send is also stamped with the wall clock (``received_at``, Unix seconds) for latencies against
timestamps written elsewhere.
"""

from __future__ import annotations

import math
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from disputebot.testing.fake_bot_api.state import ApiError

__all__ = [
    "SEND_METHODS",
    "Delivery",
    "FloodControl",
    "FloodError",
    "Scope",
    "Throttle",
    "Unhonoured",
    "Window",
]

Scope = Literal["global", "chat", "group"]
# Lower-case, as the method table keys them.
SEND_METHODS = frozenset({"sendmessage", "sendphoto", "senddocument", "sendmediagroup"})


class FloodError(ApiError):
    """A 429 answered by the flood control (not by ``fail_next``, ``chaos`` or ``rate_limit``)."""


@dataclass(frozen=True)
class Window:
    """At most ``limit`` messages in any ``seconds``-long window."""

    limit: int
    seconds: float

    def __post_init__(self) -> None:
        if self.limit < 1 or self.seconds <= 0:
            raise ValueError(f"a flood window needs a positive limit and length: {self}")


@dataclass(frozen=True)
class Delivery:
    """One admitted send request (an album counts ``messages`` > 1)."""

    chat_id: int
    method: str
    messages: int
    at: float  # the flood clock
    received_at: float  # Unix seconds


@dataclass(frozen=True)
class Throttle:
    """One 429 answered: to which chat, for which limit, and the ``retry_after`` given."""

    chat_id: int
    method: str
    scope: Scope
    retry_after: int
    at: float
    unhonoured: bool  # the request came before an earlier retry_after had elapsed
    injected: bool = False  # answered by fail_next, chaos or rate_limit, not by these limits


@dataclass(frozen=True)
class Unhonoured:
    """A send made before the ``retry_after`` of an earlier 429 had elapsed."""

    chat_id: int
    method: str
    scope: Scope  # the penalty that was ignored
    early_by: float  # seconds before it would have been allowed
    at: float


@dataclass
class _Penalty:
    until: float
    scope: Scope


@dataclass
class _Log:
    """Timestamps of recent messages in one window, oldest first (an album adds several)."""

    window: Window
    times: deque[float] = field(default_factory=deque)

    def wait(self, now: float) -> float:
        """Seconds until one more message fits; 0 when it fits now."""
        horizon = now - self.window.seconds
        while self.times and self.times[0] <= horizon:
            self.times.popleft()
        excess = len(self.times) - self.window.limit
        if excess < 0:
            return 0.0
        return self.times[excess] + self.window.seconds - now

    def add(self, now: float, messages: int) -> None:
        self.times.extend([now] * messages)


class FloodControl:
    """Sliding-window send limits per chat, per group and overall; see the module docstring.

    Args:
        global_per_s: messages per second over all chats (None: no global limit).
        per_chat_per_s: messages per second in any one chat, private or group.
        per_group_per_min: messages per minute in one group (chat ids below 0).
        clock: monotonic seconds; tests pass a stepping one.
    """

    def __init__(
        self,
        global_per_s: int | None = 30,
        per_chat_per_s: int | None = 1,
        per_group_per_min: int | None = 20,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.global_window = Window(global_per_s, 1.0) if global_per_s else None
        self.chat_window = Window(per_chat_per_s, 1.0) if per_chat_per_s else None
        self.group_window = Window(per_group_per_min, 60.0) if per_group_per_min else None
        self.clock = clock
        # Records a benchmark or test reads.
        self.deliveries: list[Delivery] = []
        self.throttles: list[Throttle] = []
        self.unhonoured: list[Unhonoured] = []
        self.sent: Counter[int] = Counter()  # messages admitted per chat
        self._global = _Log(self.global_window) if self.global_window else None
        self._chats: dict[int, _Log] = {}
        self._groups: dict[int, _Log] = {}
        self._global_penalty = _Penalty(-math.inf, "global")
        self._penalties: dict[int, _Penalty] = {}

    # -- the check -------------------------------------------------------------------------

    def admit(self, chat_id: int, method: str, messages: int = 1) -> None:
        """Count a send of ``messages`` to ``chat_id``, or raise the 429 Telegram would answer."""
        now = self.clock()
        ignored = self._penalty(chat_id, now)
        if ignored is not None:
            early_by = ignored.until - now
            self.unhonoured.append(Unhonoured(chat_id, method, ignored.scope, early_by, now))
            raise self._throttle(chat_id, method, ignored.scope, early_by, now, unhonoured=True)
        logs = self._logs(chat_id)
        waits = {scope: log.wait(now) for scope, log in logs.items()}
        over = {scope: wait for scope, wait in waits.items() if wait > 0}
        if over:
            # Telegram answers whole seconds; rounding up makes waiting exactly that enough.
            retry_after = max(1, math.ceil(max(over.values())))
            scope = "global" if "global" in over else max(over, key=over.__getitem__)
            # The chat was told retry_after; every chat is held only as long as the global
            # window needs, which may be less than what this chat was told.
            self._penalties[chat_id] = _Penalty(now + retry_after, scope)
            if "global" in over:
                global_wait = max(1, math.ceil(over["global"]))
                self._global_penalty = _Penalty(now + global_wait, "global")
            raise self._throttle(chat_id, method, scope, retry_after, now, unhonoured=False)
        for log in logs.values():
            log.add(now, messages)
        self.sent[chat_id] += messages
        self.deliveries.append(Delivery(chat_id, method, messages, now, time.time()))

    def _penalty(self, chat_id: int, now: float) -> _Penalty | None:
        if now < self._global_penalty.until:
            return self._global_penalty
        penalty = self._penalties.get(chat_id)
        if penalty is not None and now < penalty.until:
            return penalty
        return None

    def _logs(self, chat_id: int) -> dict[Scope, _Log]:
        logs: dict[Scope, _Log] = {}
        if self._global is not None:
            logs["global"] = self._global
        if self.chat_window is not None:
            logs["chat"] = self._chats.setdefault(chat_id, _Log(self.chat_window))
        if self.group_window is not None and chat_id < 0:
            logs["group"] = self._groups.setdefault(chat_id, _Log(self.group_window))
        return logs

    def _throttle(
        self,
        chat_id: int,
        method: str,
        scope: Scope,
        seconds: float,
        now: float,
        *,
        unhonoured: bool,
    ) -> ApiError:
        retry_after = max(1, math.ceil(seconds))
        self.throttles.append(Throttle(chat_id, method, scope, retry_after, now, unhonoured))
        return FloodError(
            429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after
        )

    def impose(self, chat_id: int, method: str, retry_after: int) -> None:
        """Record a 429 the fake answered for another reason (``fail_next``, ``chaos``,
        ``rate_limit``): sends to ``chat_id`` before ``retry_after`` has elapsed are
        unhonoured too."""
        now = self.clock()
        until = now + retry_after
        current = self._penalties.get(chat_id)
        if current is None or current.until < until:
            self._penalties[chat_id] = _Penalty(until, "chat")
        self.throttles.append(
            Throttle(chat_id, method, "chat", retry_after, now, unhonoured=False, injected=True)
        )

    # -- what a benchmark reads ------------------------------------------------------------

    @property
    def total_sent(self) -> int:
        """Messages admitted over all chats."""
        return sum(self.sent.values())

    def peak(self, seconds: float = 1.0, chat_id: int | None = None) -> int:
        """The most messages admitted in any ``seconds``-long window (to one chat, if given)."""
        times: list[float] = []
        for delivery in self.deliveries:
            if chat_id is None or delivery.chat_id == chat_id:
                times.extend([delivery.at] * delivery.messages)
        best, start = 0, 0
        for end, at in enumerate(times):
            while times[start] <= at - seconds:
                start += 1
            best = max(best, end - start + 1)
        return best

    def rate(self) -> float:
        """Messages per second from the first admitted send to the last (0 with fewer than 2)."""
        if len(self.deliveries) < 2:
            return 0.0
        span = self.deliveries[-1].at - self.deliveries[0].at
        # The first request opens the span, so it does not count towards the rate over it.
        counted = self.total_sent - self.deliveries[0].messages
        return counted / span if span > 0 else math.inf
