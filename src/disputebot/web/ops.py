"""``/healthz`` and ``/metrics`` for operators, on any aiohttp application.

The webhook server adds these routes to its own application; in polling mode ``OpsServer``
serves them on ``DISPUTEBOT_METRICS_HOST``/``METRICS_PORT``. Both use ``database_health``:
healthy means a unit of work opens and answers a read.

aiohttp is imported when a server is built, not with this module: the bot checks its health
in polling mode too, where it serves nothing unless ``METRICS_PORT`` is set.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from disputebot.metrics import CONTENT_TYPE, Metrics
from disputebot.ports import ChatKey, UnitOfWorkFactory

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["HealthCheck", "OpsServer", "add_ops_routes", "database_health"]

log = logging.getLogger(__name__)

HealthCheck = Callable[[], Awaitable[bool]]


def database_health(uow_factory: UnitOfWorkFactory) -> HealthCheck:
    """A check that reads from the database (a session row that never exists)."""

    async def healthy() -> bool:
        try:
            async with uow_factory() as uow:
                await uow.sessions.get(ChatKey("health", 0))
        except Exception:
            log.exception("health check failed")
            return False
        return True

    return healthy


def add_ops_routes(
    app: web.Application, *, healthy: HealthCheck, metrics: Metrics | None = None
) -> None:
    """``GET /healthz`` (200 ``{"ok": true}`` or 503) and, with ``metrics``, ``GET /metrics``."""
    from aiohttp import web  # noqa: PLC0415  (see the module docstring)

    async def health(request: web.Request) -> web.Response:
        del request
        ok = await healthy()
        return web.json_response({"ok": ok}, status=200 if ok else 503)

    app.router.add_get("/healthz", health)
    if metrics is None:
        return

    async def exposition(request: web.Request) -> web.Response:
        del request
        return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    app.router.add_get("/metrics", exposition)


class OpsServer:
    """A small server with only ``/healthz`` and ``/metrics`` (polling mode has no other)."""

    def __init__(self, *, healthy: HealthCheck, metrics: Metrics) -> None:
        from aiohttp import web  # noqa: PLC0415  (see the module docstring)

        self.app = web.Application()
        add_ops_routes(self.app, healthy=healthy, metrics=metrics)
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def start(self, host: str, port: int) -> None:
        from aiohttp import web  # noqa: PLC0415  (see the module docstring)

        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=5)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        addresses = runner.addresses
        self.port = int(addresses[0][1]) if addresses else port
        log.info("serving /metrics and /healthz on %s:%s", host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
