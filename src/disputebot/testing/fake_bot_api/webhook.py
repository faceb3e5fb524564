"""Pushing updates to a webhook the way Telegram does.

Each pending update is POSTed as JSON, oldest first. Updates of one chat go one at a time, so a
chat's second update waits until its first got a 2xx; different chats may be in flight at the
same time, up to ``max_connections``. A non-2xx answer or a connection error leaves the update
pending and it is tried again after ``FakeBotApi.webhook_retry_delay`` seconds; only a 2xx
removes it. A 2xx answer may carry a Bot API call (``{"method": ...}`` as JSON or multipart),
which Telegram executes, and so does the fake.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import TYPE_CHECKING, Any

import aiohttp

from disputebot.testing.fake_bot_api.params import Upload, read_multipart
from disputebot.testing.fake_bot_api.state import WebhookDelivery

if TYPE_CHECKING:
    from disputebot.testing.fake_bot_api.server import FakeBotApi

__all__ = ["SECRET_HEADER", "WebhookPusher", "chat_key"]

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_log = logging.getLogger(__name__)


def chat_key(update: dict[str, Any]) -> object:
    """What orders deliveries: the update's chat, else its sender, else nothing."""
    for kind, payload in update.items():
        if kind == "update_id" or not isinstance(payload, dict):
            continue
        chat = payload.get("chat") or (payload.get("message") or {}).get("chat")
        if chat:
            return chat["id"]
        sender = payload.get("from")
        if sender:
            return ("user", sender["id"])
    return None


class WebhookPusher:
    """The delivery loop behind setWebhook; idle while no webhook is set."""

    def __init__(self, api: FakeBotApi) -> None:
        self.api = api
        self.url = ""
        self.secret: str | None = None
        self.max_connections = 40
        self.allowed_updates: list[str] | None = None
        self.last_error_date: int | None = None
        self.last_error_message: str | None = None
        self._session: aiohttp.ClientSession | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._inflight: dict[int, asyncio.Task[None]] = {}
        self._busy: set[object] = set()

    @property
    def active(self) -> bool:
        """Whether a webhook is set (getUpdates then answers 409)."""
        return bool(self.url)

    async def set(
        self,
        url: str,
        *,
        secret: str | None,
        max_connections: int,
        allowed_updates: list[str] | None,
    ) -> None:
        """Start (or re-point) deliveries."""
        self.url, self.secret = url, secret
        self.max_connections = max_connections
        self.allowed_updates = allowed_updates
        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=self.api.webhook_timeout)
            self._session = aiohttp.ClientSession(timeout=timeout)
        if self._loop_task is None:
            self._loop_task = asyncio.create_task(self._run(), name="fake-bot-api-webhook")
        self.api.updates.signal.notify()

    async def delete(self) -> None:
        """Stop deliveries; updates being pushed right now stay pending."""
        self.url, self.secret, self.allowed_updates = "", None, None
        tasks = [t for t in (self._loop_task, *self._inflight.values()) if t is not None]
        self._loop_task = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._inflight.clear()
        self._busy.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None
        self.api.updates.signal.notify()

    def info(self) -> dict[str, Any]:
        """The WebhookInfo object."""
        info: dict[str, Any] = {
            "url": self.url,
            "has_custom_certificate": False,
            "pending_update_count": len(self.api.updates.pending),
        }
        if self.url:
            info["ip_address"] = "127.0.0.1"
            info["max_connections"] = self.max_connections
            if self.allowed_updates:
                info["allowed_updates"] = self.allowed_updates
        if self.last_error_date is not None:
            info["last_error_date"] = self.last_error_date
            info["last_error_message"] = self.last_error_message
        return info

    async def _run(self) -> None:
        signal = self.api.updates.signal
        while True:
            # Take the event before scheduling so a change made meanwhile is not missed.
            changed = signal.current()
            self._schedule()
            await changed.wait()

    def _schedule(self) -> None:
        if not self.url:
            return
        taken: set[object] = set(self._busy)
        for update in list(self.api.updates.pending):
            if len(self._inflight) >= self.max_connections:
                return
            key = chat_key(update)
            if key in taken:
                continue  # an earlier update of this chat is pending or in flight
            taken.add(key)
            self._busy.add(key)
            update_id = update["update_id"]
            self._inflight[update_id] = asyncio.create_task(
                self._deliver(update, key), name=f"fake-bot-api-push-{update_id}"
            )

    async def _deliver(self, update: dict[str, Any], key: object) -> None:
        update_id = update["update_id"]
        try:
            if await self._push(update):
                self.api.updates.remove(update_id)
            else:
                await asyncio.sleep(self.api.webhook_retry_delay)
        finally:
            self._inflight.pop(update_id, None)
            self._busy.discard(key)
            self.api.updates.signal.notify()
            self.api.changed.notify()

    async def _push(self, update: dict[str, Any]) -> bool:
        assert self._session is not None
        url, secret = self.url, self.secret
        headers = {"Content-Type": "application/json"}
        if secret:
            headers[SECRET_HEADER] = secret
        reply: tuple[dict[str, Any], dict[str, Upload]] | None = None
        try:
            async with self._session.post(url, data=json.dumps(update), headers=headers) as resp:
                status, reason = resp.status, resp.reason
                if 200 <= status < 300:
                    reply = await _read_reply(resp)
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            self._record(update_id=update["update_id"], url=url, status=None, error=repr(error))
            self.last_error_date = int(time.time())
            self.last_error_message = f"Connection failed: {error}"
            return False
        ok = 200 <= status < 300
        self._record(update_id=update["update_id"], url=url, status=status, error=None)
        if not ok:
            self.last_error_date = int(time.time())
            self.last_error_message = f"Wrong response from the webhook: {status} {reason}"
            return False
        if reply is not None:
            values, files = reply
            method = str(values.pop("method"))
            await self.api.invoke(method, values, files)
        return True

    def _record(self, *, update_id: int, url: str, status: int | None, error: str | None) -> None:
        self.api.webhook_deliveries.append(
            WebhookDelivery(update_id, url, status, error, time.monotonic(), self.secret)
        )
        self.api.changed.notify()


async def _read_reply(
    resp: aiohttp.ClientResponse,
) -> tuple[dict[str, Any], dict[str, Upload]] | None:
    """A Bot API call carried in a webhook answer, if there is one."""
    try:
        if resp.content_type == "application/json":
            body = await resp.json()
            if isinstance(body, dict) and body.get("method"):
                return dict(body), {}
        elif resp.content_type == "multipart/form-data":
            values, files = await read_multipart(
                aiohttp.MultipartReader(resp.headers, resp.content)
            )
            if values.get("method"):
                return values, files
    except (ValueError, aiohttp.ClientError) as error:
        _log.warning("unreadable webhook answer: %r", error)
    return None
