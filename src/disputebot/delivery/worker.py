"""The outbox worker: claims due messages, paces them under the send limits, sends, records.

Use::

    worker = Worker(uow_factory, send, clock=clock, channel="telegram",
                    config=WorkerConfig.from_settings(settings))
    await worker.run(stop)      # serve until ``stop`` (an asyncio.Event) is set
    sent = await worker.drain()  # or: deliver everything pending, then return
    worker.stats                 # what happened so far

``send`` is the channel's sender, ``async send(item: OutboxItem) -> None``; it raises
``DeliveryError`` when the channel refuses or fails (adapters map their transport's errors to it,
see ``errors.DeliveryError``). Call ``worker.wake()`` (or set the ``wakeup`` event passed in)
after committing new outbox items, so they go out without waiting for the next poll.

Theory of operation
-------------------
Each round the worker *claims* due items from the outbox (``Outbox.claim``): the store marks them
as held by this worker until a lease runs out and hands out at most one item per chat, the
chat's oldest pending one, and only while no other item of that chat is held. So a chat's
messages go in id order, one at a time, even across several workers; different chats go in
parallel, at most ``concurrency`` sends at once. The ``Pacer`` (``delivery.limits``) holds each
send until the bot-wide window, the chat's window (and a group's) and any bot-wide pause allow
it. A claimed item that would wait past its lease is put back (``Outbox.release``) due when it
may go, rather than kept while its lease runs out.

Each send ends in its own short transaction, recorded only if this worker still holds the item:

- accepted: ``mark_sent`` right away. A crash between the API accepting a message and this
  commit sends it again once the lease has run out (at-least-once; see docs/RELIABILITY.md);
- 429 (``retry_after``): the item goes back due in exactly ``retry_after`` seconds, so nothing
  reaches that chat before then (not counted as an attempt: the API did not try). When the
  error's ``scope`` is ``"global"``, or it is unknown and the chat is private, every send waits
  as long: this worker keeps a private chat at its one message a second itself, so a 429 there
  means the bot-wide limit (or another sender on the same token);
- retryable without ``retry_after`` (5xx, timeouts): exponential backoff with jitter; after
  ``max_attempts`` attempts the item is dead-lettered;
- ``unreachable`` (403: blocked, deactivated, kicked): the chat is recorded as unreachable and
  every pending message to it is dead-lettered;
- anything else (400 and the like): dead-lettered at once.

With several worker processes on one PostgreSQL database, a ``SenderLock`` (an advisory lock)
lets one of them send at a time, so the bot-wide limit holds across processes; the others wait
as hot standbys (see docs/RELIABILITY.md, "Delivery").
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import secrets
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

from disputebot.delivery.limits import Limits, Pacer, Rate
from disputebot.errors import DeliveryError
from disputebot.metrics import DeliveryResult, Metrics
from disputebot.ports import Clock, Outbox, OutboxItem, SenderLock, UnitOfWorkFactory

if TYPE_CHECKING:
    from disputebot.config import Settings

__all__ = ["Sender", "Sleep", "Worker", "WorkerConfig", "WorkerStats", "backoff", "new_worker_id"]

log = logging.getLogger(__name__)

Sender = Callable[[OutboxItem], Awaitable[None]]
"""``async send(item)``: deliver one outbox item or raise ``DeliveryError``."""
Sleep = Callable[[float], Awaitable[None]]
"""``async sleep(seconds)``; tests pass one that steps a fake clock."""

T = TypeVar("T")

_STORE_TRIES = 3


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """How a worker paces and retries.

    Args:
        limits: the send limits (bot-wide, per chat, per group).
        max_attempts: failed attempts (429s not counted) before an item is dead-lettered.
        lease_seconds: how long a claim holds an item; a dead worker's items come back after it.
        concurrency: sends in flight at once (each to a different chat).
        batch: most items claimed and not yet sent at once (default: the bot-wide count, about
            a second of sending, so claims never wait long for their turn).
        poll_seconds: longest wait between looks at the outbox when nothing woke the worker.
        send_timeout: a send taking longer counts as a retryable failure (default: half the
            lease, so a send never outlives its claim).
        backoff_cap: longest backoff after a failure, in seconds.
    """

    limits: Limits = field(default_factory=Limits)
    max_attempts: int = 8
    lease_seconds: float = 30.0
    concurrency: int = 16
    batch: int | None = None
    poll_seconds: float = 1.0
    send_timeout: float | None = None
    backoff_cap: float = 300.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.concurrency < 1 or self.lease_seconds <= 0:
            raise ValueError(f"unusable worker settings: {self}")

    @property
    def claim_batch(self) -> int:
        return self.batch if self.batch is not None else self.limits.total.count

    @property
    def send_deadline(self) -> float:
        return self.send_timeout if self.send_timeout is not None else self.lease_seconds / 2

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkerConfig:
        """The ``DISPUTEBOT_DELIVERY_*`` settings."""
        return cls(
            limits=Limits(
                total=Rate(settings.delivery_global_per_second, 1.0),
                per_chat=Rate(settings.delivery_chat_per_second, 1.0),
                per_group=Rate(settings.delivery_group_per_minute, 60.0),
            ),
            max_attempts=settings.delivery_max_attempts,
            lease_seconds=settings.delivery_lease_seconds,
            concurrency=settings.delivery_concurrency,
        )


@dataclass
class WorkerStats:
    """Counters since the worker was made (``drain`` returns the ``sent`` it added)."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0  # failures that will be tried again (backoff)
    throttled: int = 0  # 429s: put back until retry_after
    dead: int = 0  # items dead-lettered (unreachable chats' pending items included)
    unreachable: int = 0  # chats found unreachable
    lost_leases: int = 0  # results not recorded because another worker had taken the item


def backoff(attempts: int, rng: random.Random, cap: float = 300.0) -> float:
    """Seconds to wait after the ``attempts``-th failure: 2, 4, 8 … capped, with jitter (×½–1)
    so that chats failing together do not retry together."""
    return min(cap, 2.0 ** max(attempts, 1)) * rng.uniform(0.5, 1.0)


def new_worker_id() -> str:
    """Unique per process and start: host, pid and a random tag."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass
class _Held:
    item: OutboxItem
    lease_until: float


class Worker:
    """Delivers one channel's outbox (every channel's with ``channel=None``).

    Args:
        uow_factory: units of work on the store that holds the outbox.
        send: the channel's sender (see the module docstring).
        clock: aware UTC time; the limits and leases run on it.
        channel: only this channel's items.
        config: limits, leases, retries (``WorkerConfig.from_settings`` for the settings).
        worker_id: who holds claims; unique per process (default ``new_worker_id()``).
        sender_lock: with several processes on one PostgreSQL database, only the holder sends.
        wakeup: an event set after new items commit; the worker clears it each round.
        metrics: counts each result (sent, retry, dead) and refreshes the backlog gauges.
        sleep: the worker's only way to wait for time to pass.
        rng: jitter for backoffs.
    """

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        send: Sender,
        *,
        clock: Clock,
        channel: str | None = None,
        config: WorkerConfig | None = None,
        worker_id: str | None = None,
        sender_lock: SenderLock | None = None,
        wakeup: asyncio.Event | None = None,
        metrics: Metrics | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._uow_factory = uow_factory
        self._send = send
        self._clock = clock
        self.channel = channel
        self.config = config or WorkerConfig()
        self.id = worker_id or new_worker_id()
        self._lock = sender_lock
        self.wakeup = wakeup if wakeup is not None else asyncio.Event()
        self._metrics = metrics
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.stats = WorkerStats()
        self._pacer = Pacer(self.config.limits, self._seconds())
        self._held: dict[int, _Held] = {}
        self._flying: dict[int, asyncio.Task[None]] = {}
        self._leading = self._lock is None
        self._checked_at = -float("inf")
        self._gauged_at = -float("inf")

    # -- the API ---------------------------------------------------------------------------

    def wake(self) -> None:
        """New items were committed: look at the outbox now instead of at the next poll."""
        self.wakeup.set()

    @property
    def in_flight(self) -> int:
        """Sends under way right now."""
        return len(self._flying)

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set, then put back what was claimed and not started and
        let the sends in flight finish. Errors of a round (the database away) are logged and
        the round is tried again after ``poll_seconds``."""
        poll = self.config.poll_seconds
        try:
            while not stop.is_set():
                try:
                    if not await self._lead():
                        await self._wait(poll, stop)
                        continue
                    next_in, _ = await self._round()
                    await self._gauge()
                except Exception:
                    log.exception("outbox delivery failed; trying again")
                    next_in = poll
                await self._wait(poll if next_in is None else min(next_in, poll), stop)
        finally:
            await self._wind_down()

    async def drain(self) -> int:
        """Deliver until nothing is pending (every item sent or dead-lettered), waiting out the
        limits, pauses and backoffs with ``sleep``; returns how many this call sent.

        Meant for tests, benchmarks and single-process tools: it does not take the sender lock,
        and it waits for items other workers hold until their leases run out.
        """
        before = self.stats.sent
        try:
            while True:
                next_in, idle = await self._round()
                if idle:
                    break
                # Look again at least every poll: items other workers hold may be sent by
                # them long before their leases would run out.
                poll = self.config.poll_seconds
                await self._wait(poll if next_in is None else min(next_in, poll), None)
            await self._gauge(force=True)
        finally:
            await self._wind_down()
        return self.stats.sent - before

    # -- one round -------------------------------------------------------------------------

    async def _round(self) -> tuple[float | None, bool]:
        """Claim, start what may start; returns (seconds until the next timed thing to do, or
        None to wait for a send to finish; whether nothing at all is left to do)."""
        self.wakeup.clear()
        now = self._clock.now()
        seconds = now.timestamp()
        claimed = 0
        batch = self.config.claim_batch
        # Claim again once half the claimed items have gone (or nothing waits), not after
        # every send: each claim is a write, and on SQLite it queues with the bot's updates.
        if self._pacer.paused_until <= seconds and len(self._held) <= batch // 2:
            room = batch - len(self._held) - len(self._flying)
            if room > 0:
                claimed = await self._claim(now, room)
        next_in = await self._start_ready()
        if self._held or self._flying:
            return next_in, False
        due = await self._read(lambda outbox: outbox.next_due(channel=self.channel))
        if due is None:
            return None, True
        wait = (due - self._clock.now()).total_seconds()
        paused = self._pacer.paused_until - self._seconds()
        if paused > 0:
            wait = max(wait, paused)  # a bot-wide 429: nothing is claimed until it ends
        elif wait <= 0 and not claimed:
            # Due but not ours to claim (a race with another worker): do not spin.
            wait = min(0.05, self.config.poll_seconds)
        return max(wait, 0.0), False

    async def _claim(self, now: datetime, room: int) -> int:
        async with self._uow_factory() as uow:
            items = await uow.outbox.claim(
                now,
                room,
                worker_id=self.id,
                lease_seconds=self.config.lease_seconds,
                channel=self.channel,
            )
            await uow.commit()
        for item in items:
            lease = item.lease_until.timestamp() if item.lease_until else now.timestamp()
            if item.id in self._flying:
                continue  # our own send outlived its lease; we hold it again, it records
            self._held[item.id] = _Held(item, lease)
        self.stats.claimed += len(items)
        return len(items)

    async def _start_ready(self) -> float | None:
        now = self._seconds()
        next_in: float | None = None
        late: list[tuple[OutboxItem, float]] = []
        for held in sorted(self._held.values(), key=lambda h: (h.item.due_at, h.item.id)):
            if len(self._flying) >= self.config.concurrency:
                break
            chat = held.item.chat.chat_id
            wait = self._pacer.ready_in(chat, now)
            if wait is None:
                continue
            if now + wait + self.config.send_deadline > held.lease_until:
                late.append((held.item, now + wait))
                continue
            if wait > 0:
                next_in = wait if next_in is None else min(next_in, wait)
                continue
            del self._held[held.item.id]
            self._pacer.start(chat, now)
            task = asyncio.create_task(self._deliver(held.item))
            self._flying[held.item.id] = task
        if late:
            await self._put_back(late)
        return next_in

    async def _put_back(self, items: list[tuple[OutboxItem, float]]) -> None:
        """Return claims that would wait past their lease, due when they may go."""

        async def release(outbox: Outbox) -> None:
            for item, when in items:
                due = self._at(when)
                await outbox.release(item.id, worker_id=self.id, due_at=max(due, item.due_at))

        await self._write(release)
        for item, _ in items:
            self._held.pop(item.id, None)

    # -- one send --------------------------------------------------------------------------

    async def _deliver(self, item: OutboxItem) -> None:
        failure: DeliveryError | None = None
        try:
            try:
                async with asyncio.timeout(self.config.send_deadline):
                    await self._send(item)
            except DeliveryError as exc:
                failure = exc
            except TimeoutError:
                failure = DeliveryError(
                    f"no answer within {self.config.send_deadline:g} s", retryable=True
                )
            except Exception as exc:
                # A bug in rendering or the adapter: keep it visible, treat it as transient so
                # a fix can still deliver the message, and dead-letter it after max_attempts.
                log.exception("the sender failed on outbox item %s", item.id)
                failure = DeliveryError(f"sender error: {exc!r}", retryable=True)
            finally:
                self._pacer.finish(item.chat.chat_id, self._seconds())
            await self._settle(item, failure)
        finally:
            self._flying.pop(item.id, None)
            self.wakeup.set()

    async def _settle(self, item: OutboxItem, failure: DeliveryError | None) -> None:
        now = self._clock.now()
        channel = item.chat.channel
        if failure is None:
            held = await self._write(
                lambda outbox: outbox.mark_sent(item.id, now, worker_id=self.id)
            )
            self.stats.sent += 1
            self._count(channel, "sent")
            if held is False:
                self.stats.lost_leases += 1
                log.warning(
                    "outbox item %s was sent after another worker took it over: it may arrive "
                    "twice",
                    item.id,
                )
            return
        error = str(failure)
        log.warning("outbox item %s to %s failed: %s", item.id, item.chat.user_ref, error)
        if failure.unreachable:
            dead = await self._write(
                lambda outbox: outbox.mark_unreachable(item.chat, now, error, worker_id=self.id)
            )
            self.stats.unreachable += 1
            self.stats.dead += dead or 0
            for _ in range(dead or 0):
                self._count(channel, "dead")
            return
        if failure.retry_after is not None:
            until = now + timedelta(seconds=failure.retry_after)
            if self._bot_wide(failure, item):
                self._pacer.pause_all(until.timestamp())
            await self._write(
                lambda outbox: outbox.release(
                    item.id, worker_id=self.id, due_at=until, error=error
                )
            )
            self.stats.throttled += 1
            self._count(channel, "retry")
            return
        attempts = item.attempts + 1
        retry_at: datetime | None = None
        if failure.retryable and attempts < self.config.max_attempts:
            retry_at = now + timedelta(
                seconds=backoff(attempts, self._rng, self.config.backoff_cap)
            )
        held = await self._write(
            lambda outbox: outbox.mark_failed(item.id, error, retry_at=retry_at, worker_id=self.id)
        )
        if held is False:
            self.stats.lost_leases += 1
        if retry_at is None:
            self.stats.dead += 1
            self._count(channel, "dead")
        else:
            self.stats.retried += 1
            self._count(channel, "retry")

    @staticmethod
    def _bot_wide(failure: DeliveryError, item: OutboxItem) -> bool:
        if failure.scope is not None:
            return failure.scope == "global"
        # Telegram does not say which limit a 429 is about. A private chat is kept at its one
        # message a second here, so a 429 there is about the bot as a whole; a group's limit
        # is looser in practice and its 429s stay with the group.
        return item.chat.chat_id > 0

    # -- the sender lock, waiting, the store -----------------------------------------------

    async def _lead(self) -> bool:
        """Whether this worker may send now: always without a lock; with one, while held."""
        lock = self._lock
        if lock is None:
            return True
        now = self._seconds()
        if self._leading:
            if now - self._checked_at < self.config.poll_seconds:
                return True
            self._checked_at = now
            if await lock.held():
                return True
            log.warning("worker %s lost the sender lock; standing by", self.id)
            self._leading = False
            await self._wind_down(release_lock=False)
            return False
        if not await lock.acquire():
            return False
        log.info("worker %s holds the sender lock; sending", self.id)
        self._leading = True
        self._checked_at = now
        # The previous holder's last sends may still be in the bot-wide window.
        self._pacer.pause_all(now + self.config.limits.total.seconds)
        return True

    async def _wait(self, seconds: float | None, stop: asyncio.Event | None) -> None:
        if self.wakeup.is_set() or (stop is not None and stop.is_set()):
            return
        waiters: set[asyncio.Future[object]] = {asyncio.ensure_future(self.wakeup.wait())}
        if stop is not None:
            waiters.add(asyncio.ensure_future(stop.wait()))
        if seconds is not None:
            waiters.add(asyncio.ensure_future(self._sleep(max(seconds, 0.0))))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _wind_down(self, *, release_lock: bool = True) -> None:
        """Put back what is claimed and not started; let the sends in flight finish."""
        if self._held:
            held = list(self._held.values())

            async def release(outbox: Outbox) -> None:
                for h in held:
                    await outbox.release(h.item.id, worker_id=self.id)

            await self._write(release)
            self._held.clear()
        if self._flying:
            await asyncio.gather(*self._flying.values(), return_exceptions=True)
        if release_lock and self._lock is not None and self._leading:
            self._leading = False
            await self._lock.release()

    async def _read(self, op: Callable[[Outbox], Awaitable[T]]) -> T:
        async with self._uow_factory() as uow:
            return await op(uow.outbox)

    async def _write(self, op: Callable[[Outbox], Awaitable[T]]) -> T | None:
        """One short transaction, tried a few times: a result not recorded means the item is
        sent again once its lease runs out, so a database blip is worth waiting out."""
        for attempt in range(1, _STORE_TRIES + 1):
            try:
                async with self._uow_factory() as uow:
                    result = await op(uow.outbox)
                    await uow.commit()
            except Exception:
                if attempt == _STORE_TRIES:
                    log.exception("could not record a delivery result; the lease will expire")
                    return None
                await self._sleep(0.25 * 2**attempt)
            else:
                return result
        return None

    async def _gauge(self, *, force: bool = False) -> None:
        if self._metrics is None or self.channel is None:
            return
        now = self._seconds()
        if not force and now - self._gauged_at < self.config.poll_seconds:
            return
        self._gauged_at = now
        self._pacer.forget_idle(now)
        pending, oldest = await self._read(
            lambda outbox: outbox.backlog(self._clock.now(), channel=self.channel)
        )
        self._metrics.backlog(self.channel, pending, oldest)

    def _count(self, channel: str, result: DeliveryResult) -> None:
        if self._metrics is not None:
            self._metrics.delivery(channel, result)

    def _seconds(self) -> float:
        return self._clock.now().timestamp()

    def _at(self, seconds: float) -> datetime:
        now = self._clock.now()
        return now + timedelta(seconds=seconds - now.timestamp())
