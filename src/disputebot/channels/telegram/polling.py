"""Long polling with our delivery semantics: an update is confirmed only once it is committed.

``getUpdates`` confirms every update below the ``offset`` it is given. Updates are handled in
parallel across chats, so the offset we send is the lowest update id still being handled (or
one past the newest, when none is). Updates Telegram sends again while they are in flight are
not submitted twice. A crash therefore loses nothing: unconfirmed updates come back after a
restart, and those already committed are recognised by their recorded ids.
"""

from __future__ import annotations

import asyncio
import logging

from disputebot.channels.telegram.model import BotApi, TgUpdate
from disputebot.channels.telegram.sequencer import Sequencer
from disputebot.errors import DeliveryError
from disputebot.metrics import Metrics

log = logging.getLogger(__name__)


class Poller:
    def __init__(
        self,
        api: BotApi,
        sequencer: Sequencer,
        *,
        poll_seconds: int = 25,
        metrics: Metrics | None = None,
    ) -> None:
        self._api = api
        self._metrics = metrics
        self._sequencer = sequencer
        self._poll_seconds = poll_seconds
        # Every update seen at or above the offset, handled or not: Telegram sends them again
        # until the offset passes them.
        self._tracked: dict[int, asyncio.Future[None]] = {}
        self._newest: int | None = None

    @property
    def offset(self) -> int | None:
        """The offset that confirms exactly the updates whose effect is committed."""
        open_ids = [u for u, f in self._tracked.items() if not f.done()]
        if open_ids:
            offset: int | None = min(open_ids)
        else:
            offset = None if self._newest is None else self._newest + 1
        if offset is not None:
            for update_id in [u for u in self._tracked if u < offset]:
                del self._tracked[update_id]
        return offset

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set, then let in-flight updates finish and confirm them."""
        failures = 0
        while not stop.is_set():
            try:
                updates = await self._poll(stop)
                failures = 0
            except DeliveryError as exc:
                self._saw(exc)
                failures += 1
                delay = exc.retry_after or min(30.0, 0.5 * 2**failures)
                log.warning("getUpdates failed (%s); retrying in %.1fs", exc, delay)
                await _sleep_unless(stop, delay)
                continue
            fresh = [u for u in updates if u.update_id not in self._tracked]
            for update in fresh:
                self._tracked[update.update_id] = self._sequencer.submit(update)
                self._newest = max(self._newest or 0, update.update_id)
            waiting = {f for f in self._tracked.values() if not f.done()}
            if updates and not fresh and waiting:
                # Telegram resends what is not confirmed yet; wait for progress instead of
                # asking again at once.
                # A short wait: an album's later items must be fetched within the album window.
                await asyncio.wait(waiting, timeout=0.15, return_when=asyncio.FIRST_COMPLETED)
        await self.finish()

    async def _poll(self, stop: asyncio.Event) -> list[TgUpdate]:
        poll = asyncio.ensure_future(self._api.get_updates(self.offset, self._poll_seconds))
        stopping = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait({poll, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if poll not in done:
            poll.cancel()
            await asyncio.gather(poll, stopping, return_exceptions=True)
            return []
        await asyncio.gather(stopping, return_exceptions=True)
        return poll.result()

    async def finish(self) -> None:
        """Let in-flight updates finish, then confirm them with one last short call."""
        await self._sequencer.drain()
        offset = self.offset
        if offset is not None:
            try:
                await self._api.get_updates(offset, 0, limit=1)
            except DeliveryError as exc:
                self._saw(exc)
                log.warning("could not confirm the last updates (%s); they will be re-read", exc)

    def _saw(self, exc: DeliveryError) -> None:
        if exc.retry_after is not None and self._metrics is not None:
            self._metrics.throttled()


async def _sleep_unless(stop: asyncio.Event, delay: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), delay)
    except TimeoutError:
        return
