"""Per-chat ordering: updates of one chat are handled one at a time, in ``update_id`` order;
different chats run in parallel. Album items are gathered into one batch.

Each chat's queue is ordered by ``update_id``, so updates that arrive out of order (webhook
requests run concurrently) while the chat is busy are still applied in order.

``submit`` returns a future that completes when the update's effect is committed (or the update
was given up on after logging); the polling loop and the webhook acknowledge an update to
Telegram only then. Telegram never says how many items an album has, so after an album item the
chat's worker waits ``album_wait`` seconds for more items of the same ``media_group_id``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from disputebot.channels.telegram.model import TgUpdate

log = logging.getLogger(__name__)

Handler = Callable[[Sequence[TgUpdate]], Awaitable[None]]


@dataclass(order=True)
class _Item:
    update_id: int
    update: TgUpdate = field(compare=False)
    done: asyncio.Future[None] = field(
        compare=False, default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Sequencer:
    def __init__(self, handler: Handler, *, album_wait: float = 0.8) -> None:
        self._handler = handler
        self._album_wait = album_wait
        self._queues: dict[int, asyncio.PriorityQueue[_Item]] = {}
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._pending: set[asyncio.Future[None]] = set()

    def submit(self, update: TgUpdate) -> asyncio.Future[None]:
        item = _Item(update.update_id, update)
        self._pending.add(item.done)
        item.done.add_done_callback(self._pending.discard)
        key = update.chat_id if update.chat_id is not None else 0
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = asyncio.PriorityQueue()
            self._workers[key] = asyncio.create_task(self._work(key, queue))
        queue.put_nowait(item)
        return item.done

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    async def drain(self) -> None:
        """Wait until everything submitted so far is handled."""
        while self._pending:
            await asyncio.wait(set(self._pending))

    async def close(self) -> None:
        await self.drain()
        workers = list(self._workers.values())
        for task in workers:
            task.cancel()
        for task in workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers.clear()
        self._queues.clear()

    async def _work(self, key: int, queue: asyncio.PriorityQueue[_Item]) -> None:
        while True:
            item = await queue.get()
            batch = [item]
            group = item.update.media_group_id
            while group is not None:
                try:
                    following = await asyncio.wait_for(queue.get(), self._album_wait)
                except TimeoutError:
                    break
                if following.update.media_group_id != group:
                    queue.put_nowait(following)  # back in its place, handled next
                    break
                batch.append(following)
            await self._handle(batch)
            if queue.empty():
                # No await between this check and the removal, so no update can slip in.
                del self._queues[key]
                del self._workers[key]
                return

    async def _handle(self, batch: list[_Item]) -> None:
        try:
            await self._handler([i.update for i in batch])
        except Exception:
            # The channel's error hook has already told the user; the update is not retried
            # forever, or one poisonous update would block the chat and the offset.
            log.exception("giving up on update(s) %s", [i.update.update_id for i in batch])
        finally:
            for item in batch:
                if not item.done.done():
                    item.done.set_result(None)
