"""Send limits as sliding windows: at most N messages in any W seconds. Pure; time is injected.

Telegram's limits (about 30 messages a second in total, one a second in a chat, 20 a minute in a
group) are read here the strict way, as sliding windows, which is also how the fake Bot API
enforces them (``testing/fake_bot_api/flood.py``). A token bucket that starts full would burst
past them; a sliding-window log never does, and it costs at most N timestamps per window.

A send takes a slot when it starts and keeps it until ``seconds`` after it *finished*. Counting
from the finish rather than the start is what makes the limit hold where Telegram measures it:
the request reaches the API somewhere between our start and our finish, so however the network
delays or reorders requests, no N+1 of them can land in one window there. A send still in flight
holds its slot for as long as it flies.

Times are plain float seconds from any clock. A clock that steps backwards (a wall clock being
corrected) shifts the stored times with it, so the limiter neither stalls until the clock catches
up nor forgets what it sent.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

__all__ = ["Limits", "Pacer", "Rate", "Window"]

# Waits this short count as none: clocks here tick in microseconds, so a datetime a wait was
# added to may land a hair before the float it came from, and the wait would never end.
SLACK = 1e-6


@dataclass(frozen=True, slots=True)
class Rate:
    """At most ``count`` messages in any ``seconds``-long window."""

    count: int
    seconds: float

    def __post_init__(self) -> None:
        if self.count < 1 or self.seconds <= 0:
            raise ValueError(f"a rate needs a positive count and window: {self}")


@dataclass(frozen=True, slots=True)
class Limits:
    """The send limits of one bot (one token).

    ``per_chat`` applies to every chat, ``per_group`` additionally to group chats (Telegram's
    group and supergroup ids are negative), ``total`` to all chats together.
    """

    total: Rate = field(default_factory=lambda: Rate(30, 1.0))
    per_chat: Rate = field(default_factory=lambda: Rate(1, 1.0))
    per_group: Rate = field(default_factory=lambda: Rate(20, 60.0))

    def for_chat(self, chat_id: int) -> tuple[Rate, ...]:
        return (self.per_chat, self.per_group) if chat_id < 0 else (self.per_chat,)


class Window:
    """One sliding window: sends in flight plus the finish times of the recent ones."""

    def __init__(self, rate: Rate, now: float = 0.0) -> None:
        self.rate = rate
        self._flying = 0
        self._finished: deque[float] = deque()  # oldest first
        self._last = now

    def wait(self, now: float) -> float | None:
        """Seconds until one more send may start: 0 when it may start now, ``None`` when every
        slot is held by a send still in flight (only a ``finish`` frees one)."""
        now = self._sync(now)
        self._expire(now)
        free = self.rate.count - self._flying
        if free <= 0:
            return None
        excess = len(self._finished) - free
        if excess < 0:
            return 0.0
        return _positive(self._finished[excess] + self.rate.seconds - now)

    def start(self, now: float) -> None:
        """Take a slot; only when ``wait(now) == 0``."""
        if self.wait(now) != 0:
            raise RuntimeError(f"no free slot in {self.rate} at {now}")
        self._flying += 1

    def finish(self, now: float) -> None:
        """A send that ``start`` counted has finished (delivered or not) at ``now``."""
        if self._flying <= 0:
            raise RuntimeError("finish() without a send in flight")
        now = self._sync(now)
        self._flying -= 1
        self._finished.append(now)

    def idle(self, now: float) -> bool:
        """Nothing in flight and nothing recent: the window may be forgotten."""
        now = self._sync(now)
        self._expire(now)
        return self._flying == 0 and not self._finished

    def _expire(self, now: float) -> None:
        horizon = now - self.rate.seconds
        while self._finished and self._finished[0] <= horizon:
            self._finished.popleft()

    def _sync(self, now: float) -> float:
        if now < self._last:
            shift = now - self._last
            self._finished = deque(t + shift for t in self._finished)
        self._last = now
        return now


class Pacer:
    """Every limit one sender keeps: the bot-wide window, a window per chat, a bot-wide pause.

    ``ready_in`` says how long a chat's next message must wait; ``start`` and ``finish`` bracket
    each send. Per-chat pauses after a 429 are not kept here: the worker puts the message back in
    the outbox due when the pause ends, which also survives a restart.
    """

    def __init__(self, limits: Limits, now: float = 0.0) -> None:
        self.limits = limits
        self._total = Window(limits.total, now)
        self._chats: dict[int, tuple[Window, ...]] = {}
        self._paused_until = now
        self._last = now

    @property
    def paused_until(self) -> float:
        """Until when every send waits (a bot-wide 429); in the past when not paused."""
        return self._paused_until

    def pause_all(self, until: float) -> None:
        """Hold every send until ``until`` (never shortens a pause already set)."""
        self._paused_until = max(self._paused_until, until)

    def ready_in(self, chat_id: int, now: float) -> float | None:
        """Seconds until a message to ``chat_id`` may start (0: now); ``None`` while it waits
        for a send in flight to finish rather than for time to pass."""
        now = self._sync(now)
        waits = [_positive(self._paused_until - now), self._total.wait(now)]
        waits.extend(window.wait(now) for window in self._windows(chat_id))
        if any(wait is None for wait in waits):
            return None
        return max(wait for wait in waits if wait is not None)

    def start(self, chat_id: int, now: float) -> None:
        """Count a send to ``chat_id`` starting at ``now``; only when ``ready_in`` is 0."""
        if self.ready_in(chat_id, now) != 0:
            raise RuntimeError(f"chat {chat_id} is not ready at {now}")
        self._total.start(now)
        for window in self._windows(chat_id):
            window.start(now)

    def finish(self, chat_id: int, now: float) -> None:
        """The send to ``chat_id`` that ``start`` counted has finished at ``now``."""
        now = self._sync(now)
        self._total.finish(now)
        for window in self._windows(chat_id):
            window.finish(now)

    def forget_idle(self, now: float) -> int:
        """Drop the windows of chats with nothing recent; returns how many were dropped."""
        now = self._sync(now)
        idle = [chat for chat, windows in self._chats.items() if all(w.idle(now) for w in windows)]
        for chat in idle:
            del self._chats[chat]
        return len(idle)

    def _windows(self, chat_id: int) -> tuple[Window, ...]:
        found = self._chats.get(chat_id)
        if found is None:
            found = tuple(Window(rate, self._last) for rate in self.limits.for_chat(chat_id))
            self._chats[chat_id] = found
        return found

    def _sync(self, now: float) -> float:
        if now < self._last:
            self._paused_until += now - self._last
        self._last = now
        return now


def _positive(wait: float) -> float:
    return wait if wait > SLACK else 0.0
