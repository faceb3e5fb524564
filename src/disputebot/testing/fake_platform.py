"""A fake marketplace enforcement system: the receiving end of ``delivery.webhooks``.

It listens on 127.0.0.1, checks each POST the way the real receiver should (signature over the
timestamp and raw body, timestamp within the tolerance, an event id present), and records what
came in::

    async with FakePlatform(secret) as platform:
        sender = WebhookSender(platform.url, secret)
        ...
        await platform.wait_for(3)
        assert [e.json["type"] for e in platform.events] == [...]

``fail_next(n)`` answers the next n requests with an error (503 by default, optionally with
``Retry-After``) before looking at them, as an overloaded receiver would. A repeated event id is
answered 200 and counted in ``duplicates``, not added to ``events`` again.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from disputebot.delivery.webhooks import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    TOLERANCE,
    verify,
)

__all__ = ["FakePlatform", "ReceivedEvent", "Rejection"]


@dataclass(frozen=True)
class ReceivedEvent:
    """One accepted event: its id, signed timestamp, raw body and parsed JSON."""

    event_id: str
    timestamp: int
    body: bytes
    json: Any
    received_at: float  # Unix seconds


@dataclass(frozen=True)
class Rejection:
    """A request the platform refused, and why (``status`` is what it answered)."""

    status: int
    reason: str
    body: bytes


@dataclass(frozen=True)
class _Failure:
    status: int
    retry_after: str | None


class FakePlatform:
    """The enforcement system's webhook endpoint, at ``url``; see the module docstring.

    Args:
        secret: the shared HMAC key.
        path: where events are POSTed.
        tolerance: seconds a timestamp may differ from ``clock()``.
        clock: Unix seconds, for the replay check; tests pass a fixed one.
    """

    def __init__(
        self,
        secret: str | bytes,
        *,
        path: str = "/events",
        tolerance: float = TOLERANCE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.secret = secret
        self.path = path
        self.tolerance = tolerance
        self.clock = clock
        self.events: list[ReceivedEvent] = []
        self.rejections: list[Rejection] = []
        self.duplicates = 0
        self.requests = 0
        self._seen: set[str] = set()
        self._failures: deque[_Failure] = deque()
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._url: str | None = None

    async def start(self) -> None:
        """Listen on 127.0.0.1 on a free port."""
        app = web.Application()
        app.router.add_post(self.path, self._receive)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        self._runner = runner
        self._url = f"http://{host}:{port}{self.path}"

    async def close(self) -> None:
        """Stop listening."""
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
        """The full URL events are POSTed to."""
        if self._url is None:
            raise RuntimeError("FakePlatform is not started")
        return self._url

    def fail_next(
        self, times: int = 1, *, status: int = 503, retry_after: int | str | None = None
    ) -> None:
        """Answer the next ``times`` requests with ``status`` (and ``Retry-After``, if given)."""
        header = None if retry_after is None else str(retry_after)
        self._failures.extend(_Failure(status, header) for _ in range(times))

    async def wait_for(
        self,
        count: int,
        timeout: float = 10.0,  # noqa: ASYNC109 - the test helper API takes a plain timeout
    ) -> list[ReceivedEvent]:
        """Wait until at least ``count`` distinct events arrived; returns them."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: len(self.events) >= count)
        return list(self.events)

    async def _receive(self, request: web.Request) -> web.Response:
        self.requests += 1
        body = await request.read()
        try:
            return self._answer(request, body)
        finally:
            async with self._changed:
                self._changed.notify_all()

    def _answer(self, request: web.Request, body: bytes) -> web.Response:
        if self._failures:
            failure = self._failures.popleft()
            extra = {"Retry-After": failure.retry_after} if failure.retry_after else None
            return self._refuse(failure.status, "planned failure", body, extra)
        headers = request.headers
        stamp, signature = headers.get(TIMESTAMP_HEADER), headers.get(SIGNATURE_HEADER)
        ident = headers.get(EVENT_ID_HEADER)
        if not (stamp and signature and ident):
            return self._refuse(400, "missing signature, timestamp or event id header", body)
        if not verify(
            self.secret, stamp, body, signature, now=self.clock(), tolerance=self.tolerance
        ):
            return self._refuse(401, "bad signature or stale timestamp", body)
        try:
            event = json.loads(body)
        except ValueError:
            return self._refuse(400, "body is not JSON", body)
        if ident in self._seen:
            self.duplicates += 1
            return web.json_response({"ok": True, "duplicate": True})
        self._seen.add(ident)
        self.events.append(ReceivedEvent(ident, int(stamp), body, event, time.time()))
        return web.json_response({"ok": True})

    def _refuse(
        self, status: int, reason: str, body: bytes, headers: dict[str, str] | None = None
    ) -> web.Response:
        self.rejections.append(Rejection(status, reason, body))
        return web.json_response({"ok": False, "error": reason}, status=status, headers=headers)
