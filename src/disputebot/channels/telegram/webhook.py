"""Webhook mode: an aiohttp server that answers 200 only after an update's effect is committed.

Telegram retries an update until it gets a 2xx, so acknowledging late is what makes delivery
at-least-once; the recorded update ids make it once in effect. The secret header is compared in
constant time. ``/healthz`` reports whether the database answers and ``/metrics`` serves the
Prometheus metrics (routes shared with polling mode's server, see ``web.ops``).
"""

from __future__ import annotations

import asyncio
import hmac
import logging

from aiohttp import web

from disputebot.channels.telegram.model import BotApi
from disputebot.channels.telegram.sequencer import Sequencer
from disputebot.metrics import Metrics
from disputebot.web.ops import HealthCheck, add_ops_routes

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
__all__ = ["SECRET_HEADER", "HealthCheck", "WebhookServer"]


class WebhookServer:
    def __init__(
        self,
        api: BotApi,
        sequencer: Sequencer,
        *,
        secret: str,
        path: str,
        healthy: HealthCheck,
        metrics: Metrics | None = None,
    ) -> None:
        self._api = api
        self._sequencer = sequencer
        self._secret = secret.encode()
        self.app = web.Application()
        self.app.router.add_post(path, self._update)
        add_ops_routes(self.app, healthy=healthy, metrics=metrics)
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def start(self, host: str, port: int) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=30)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        addresses = self._runner.addresses
        self.port = int(addresses[0][1]) if addresses else port

    async def stop(self) -> None:
        """Stop taking requests, let the ones in flight finish, then drain the sequencer."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self._sequencer.drain()

    async def _update(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._secret):
            return web.Response(status=401, text="unauthorized")
        try:
            data = await request.json()
            update = self._api.parse_update(data)
        except Exception:
            # Telegram would resend a refused update forever; it is logged and dropped.
            log.exception("unreadable webhook update")
            return web.Response(status=200)
        # Shielded: if Telegram gives up on the request, the update is still applied.
        await asyncio.shield(self._sequencer.submit(update))
        return web.Response(status=200)
