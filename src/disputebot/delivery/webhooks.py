"""Case events pushed to the marketplace's enforcement system: signed HTTP POSTs.

The outbox holds one item per event on channel ``webhook`` (``ChatKey("webhook", 0)``) with the
event's JSON as payload; the worker hands each to ``WebhookSender.send``, which POSTs the payload
byte for byte with three headers:

``X-Disputebot-Event-Id``
    The same on every retry of one event, so the receiver can drop repeats (delivery is
    at-least-once). The payload's ``event_id`` (or ``id``) when it has one, else the outbox id.
``X-Disputebot-Timestamp``
    Unix seconds when this attempt was signed.
``X-Disputebot-Signature``
    ``sha256=`` and the hex HMAC-SHA256, keyed with the shared secret, of
    ``b"<timestamp>." + body``. Signing the timestamp with the body is what stops a replay: the
    receiver refuses a timestamp outside its tolerance (five minutes by default), and an old
    request cannot be re-dated without the secret.

This is the scheme Stripe and GitHub use for theirs (hex HMAC-SHA256 over timestamp and raw
body); ``verify`` is what a receiver runs, and ``testing.fake_platform`` runs it.

The service queues events with ``Outbox.put_event`` in the unit of work of the change they
report; ``run_webhooks`` delivers them (inside ``disputebot run``, ``disputebot worker`` and the
console, when ``DISPUTEBOT_PLATFORM_WEBHOOK_URL`` and ``…_SECRET`` are set) with an outbox
worker of its own: its own limits (``webhook_config``: 50 a second, no per-chat pacing), its own
retries, and, since every event goes to the one chat ``WEBHOOK_CHAT``, one event at a time in
id order: an event the platform refuses for a while holds up the ones after it until it goes
or is dead-lettered.

Answers map to ``DeliveryError`` here and nowhere else: 2xx is delivered; 408, 429, 5xx, timeouts
and connection failures are worth retrying, after ``Retry-After`` when the receiver sent one;
any other answer (other 4xx, and 3xx, which are not followed since a redirected POST loses its
body) is not.

aiohttp is imported by the sender, not with this module: every ``disputebot run`` starts
``run_webhooks``, which returns at once when no webhook is configured.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import TYPE_CHECKING, Literal, Self
from urllib.parse import urlsplit

from disputebot.delivery.limits import Limits, Rate
from disputebot.delivery.worker import Worker, WorkerConfig
from disputebot.errors import DeliveryError
from disputebot.metrics import Metrics
from disputebot.ports import WEBHOOK_CHAT, Clock, OutboxItem, SenderLock, UnitOfWorkFactory

if TYPE_CHECKING:
    import aiohttp

    from disputebot.config import Settings

__all__ = [
    "CHANNEL",
    "EVENT_ID_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "TOLERANCE",
    "WEBHOOK_CHAT",
    "WEBHOOK_RATE",
    "WebhookSender",
    "event_id",
    "retry_after",
    "run_webhooks",
    "sign",
    "verify",
    "webhook_config",
]

CHANNEL = WEBHOOK_CHAT.channel  # "webhook"
WEBHOOK_RATE = Rate(50, 1.0)  # events a second at most (they go one at a time, in order)
SIGNATURE_HEADER = "X-Disputebot-Signature"
TIMESTAMP_HEADER = "X-Disputebot-Timestamp"
EVENT_ID_HEADER = "X-Disputebot-Event-Id"
TOLERANCE = 300.0  # seconds a signature stays acceptable, either side of the receiver's clock
_SCHEME = "sha256="
_RETRYABLE = frozenset({408, 429})


def _key(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def sign(secret: str | bytes, timestamp: int, body: bytes) -> str:
    """The ``X-Disputebot-Signature`` value for ``body`` sent at ``timestamp`` (Unix seconds)."""
    message = str(int(timestamp)).encode("ascii") + b"." + body
    return _SCHEME + hmac.new(_key(secret), message, hashlib.sha256).hexdigest()


def verify(
    secret: str | bytes,
    timestamp: str | int | None,
    body: bytes,
    signature: str | None,
    *,
    now: float | None = None,
    tolerance: float = TOLERANCE,
) -> bool:
    """Whether ``signature`` signs ``body`` at ``timestamp``, and ``timestamp`` is within
    ``tolerance`` seconds of ``now`` (default: the current time).

    Takes the header values as received (strings, possibly missing); any malformed one is a
    plain ``False``. The signatures are compared in constant time.
    """
    if timestamp is None or signature is None:
        return False
    try:
        stamp = int(timestamp)
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - stamp) > tolerance:
        return False
    expected = sign(secret, stamp, body)
    return hmac.compare_digest(expected.encode("ascii"), signature.strip().encode("utf-8"))


def event_id(item: OutboxItem) -> str:
    """The idempotency key of an outbox item: the event's own id, else ``outbox-<id>``."""
    try:
        event = json.loads(item.payload)
    except ValueError:
        event = None
    if isinstance(event, dict):
        for key in ("event_id", "id"):
            value = event.get(key)
            if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
                return str(value)
    return f"outbox-{item.id}"


def retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delay-seconds or an HTTP date); None if absent
    or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # an HTTP date is always GMT
        when = when.replace(tzinfo=UTC)
    current = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    return max(0.0, (when - current).total_seconds())


class WebhookSender:
    """POSTs outbox items to the platform's webhook URL, signed (see the module docstring).

    Use as ``async with WebhookSender(url, secret) as sender: await sender.send(item)``, or call
    ``close()`` when done. ``send`` raises ``DeliveryError`` for anything but a 2xx.

    Args:
        url: where the platform receives events.
        secret: the shared HMAC key.
        timeout: seconds for one whole attempt (connect, send, answer).
        clock: Unix seconds for the timestamp header; tests pass a fixed one.
    """

    def __init__(
        self,
        url: str,
        secret: str | bytes,
        *,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        import aiohttp  # noqa: PLC0415  (see the module docstring)

        if not _key(secret):
            raise ValueError("a webhook secret must not be empty")
        self.url = url
        self._secret = _key(secret)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._clock = clock
        self._session = session
        self._owns_session = session is None
        # Named in errors instead of the URL, which may carry a token in its path or query.
        parts = urlsplit(url)
        # Host and port only: credentials in the URL must not reach logs or dead letters.
        host = parts.hostname or "the webhook URL"
        self._where = f"{host}:{parts.port}" if parts.port else host

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session this sender opened (a session passed in stays open)."""
        if self._session is not None and self._owns_session:
            await self._session.close()
        self._session = None

    def headers(self, item: OutboxItem, body: bytes) -> dict[str, str]:
        """The headers of one attempt to deliver ``item``, signed now."""
        stamp = int(self._clock())
        return {
            "Content-Type": "application/json",
            "User-Agent": "disputebot-webhooks/1",
            EVENT_ID_HEADER: event_id(item),
            TIMESTAMP_HEADER: str(stamp),
            SIGNATURE_HEADER: sign(self._secret, stamp, body),
        }

    async def send(self, item: OutboxItem) -> None:
        """POST ``item.payload``; returns on a 2xx, raises ``DeliveryError`` otherwise."""
        import aiohttp  # noqa: PLC0415  (see the module docstring)

        body = item.payload.encode("utf-8")
        session = self._open()
        try:
            async with session.post(
                self.url,
                data=body,
                headers=self.headers(item, body),
                allow_redirects=False,
                timeout=self._timeout,
            ) as resp:
                status = resp.status
                wait = retry_after(resp.headers.get("Retry-After"))
                if 200 <= status < 300:
                    return
                detail = (await resp.text(errors="replace"))[:200]
        except TimeoutError as exc:
            raise DeliveryError(
                f"webhook {self._where} timed out after {self._timeout.total}s", retryable=True
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise DeliveryError(
                f"webhook {self._where} unreachable: {type(exc).__name__}", retryable=True
            ) from exc
        raise _refused(self._where, status, detail, wait)

    def _open(self) -> aiohttp.ClientSession:
        import aiohttp  # noqa: PLC0415  (see the module docstring)

        if self._session is None:
            self._session = aiohttp.ClientSession()
            self._owns_session = True
        return self._session


def _refused(where: str, status: int, detail: str, wait: float | None) -> DeliveryError:
    retryable = status in _RETRYABLE or status >= 500
    message = f"webhook {where} answered {status}"
    if detail:
        message += f": {detail}"
    if not retryable:
        return DeliveryError(message, retryable=False)
    # The endpoint is the only "chat" of this channel, so its Retry-After is about this chat;
    # "global" would also pause a worker's other channels.
    scope: Literal["chat"] | None = "chat" if wait is not None else None
    return DeliveryError(message, retryable=True, retry_after=wait, scope=scope)


def webhook_config(settings: Settings, *, rate: Rate = WEBHOOK_RATE) -> WorkerConfig:
    """The webhook worker's settings: ``rate`` in total and for the one chat (Telegram's
    one a second per chat is not the platform's), the delivery settings' attempts and lease,
    one send at a time (there is one chat)."""
    return WorkerConfig(
        limits=Limits(total=rate, per_chat=rate, per_group=rate),
        max_attempts=settings.delivery_max_attempts,
        lease_seconds=settings.delivery_lease_seconds,
        concurrency=1,
    )


async def run_webhooks(
    settings: Settings,
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    stop: asyncio.Event,
    *,
    wakeup: asyncio.Event | None = None,
    metrics: Metrics | None = None,
    sender_lock: SenderLock | None = None,
    config: WorkerConfig | None = None,
) -> None:
    """Deliver the platform webhook events until ``stop`` is set (see the module docstring).

    Returns at once when the webhook is not configured. ``wakeup``: set after events commit,
    so they go out before the next poll; ``sender_lock``: one sender across processes.
    """
    url, secret = settings.platform_webhook_url, settings.platform_webhook_secret
    if not url or secret is None:
        return
    async with WebhookSender(url, secret.get_secret_value()) as sender:
        worker = Worker(
            uow_factory,
            sender.send,
            clock=clock,
            channel=CHANNEL,
            config=config or webhook_config(settings),
            sender_lock=sender_lock,
            wakeup=wakeup,
            metrics=metrics,
        )
        await worker.run(stop)
