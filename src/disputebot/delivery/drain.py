"""Delivering the outbox without limits or claims: the console's single-process drain.

``drain_once`` takes what is due, hands each item to a sender and records the result. Each item
is marked sent in its own transaction right after the send succeeds, so a crash between the two
repeats at most that one message (at-least-once). Telegram uses ``delivery.worker`` instead,
which adds claims, leases and the send limits.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from datetime import timedelta

from disputebot.errors import DeliveryError
from disputebot.metrics import Metrics
from disputebot.ports import Clock, OutboxItem, UnitOfWorkFactory

log = logging.getLogger(__name__)

Sender = Callable[[OutboxItem], Awaitable[None]]
MAX_ATTEMPTS = 8


def backoff(attempts: int, retry_after: float | None) -> timedelta:
    """Telegram's ``retry_after`` exactly when given; otherwise exponential with jitter."""
    if retry_after is not None:
        return timedelta(seconds=retry_after)
    base: float = min(300.0, 2.0**attempts)
    return timedelta(seconds=base * (0.5 + random.random() / 2))


async def drain_once(
    uow_factory: UnitOfWorkFactory,
    send: Sender,
    clock: Clock,
    limit: int = 100,
    *,
    channel: str | None = None,
    metrics: Metrics | None = None,
) -> int:
    """Deliver what is due now (on ``channel`` only, if given); returns how many were sent.

    With ``metrics``, each item's result (sent, retry, dead) is counted once it is recorded.
    """
    async with uow_factory() as uow:
        items = await uow.outbox.due(clock.now(), limit, channel=channel)
    sent = 0
    for item in items:
        try:
            await send(item)
        except DeliveryError as exc:
            attempts = item.attempts + 1
            give_up = not exc.retryable or attempts >= MAX_ATTEMPTS
            retry_at = None if give_up else clock.now() + backoff(attempts, exc.retry_after)
            log.warning("outbox item %s to %s failed: %s", item.id, item.chat.user_ref, exc)
            async with uow_factory() as uow:
                if exc.unreachable:
                    await uow.outbox.mark_unreachable(item.chat, clock.now(), str(exc))
                else:
                    await uow.outbox.mark_failed(item.id, str(exc), retry_at=retry_at)
                await uow.commit()
            if metrics is not None:
                metrics.delivery(item.chat.channel, "dead" if give_up else "retry")
            continue
        async with uow_factory() as uow:
            await uow.outbox.mark_sent(item.id, clock.now())
            await uow.commit()
        if metrics is not None:
            metrics.delivery(item.chat.channel, "sent")
        sent += 1
    return sent
