"""Running the bot on Telegram: polling or webhook, plus delivery of the outbox.

The outbox (receipts and, later, progress notifications) is drained by a loop that wakes as soon
as an update commits and at least every second otherwise; after each drain it refreshes the
outbox gauges. With ``DISPUTEBOT_METRICS_PORT`` set, ``/metrics`` and ``/healthz`` are served
there (webhook mode serves them on the webhook server too).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from urllib.parse import urlsplit

from disputebot.channels.telegram.handler import UpdateHandler
from disputebot.channels.telegram.model import CHANNEL, BotApi
from disputebot.channels.telegram.polling import Poller
from disputebot.channels.telegram.sequencer import Sequencer
from disputebot.channels.telegram.webhook import WebhookServer
from disputebot.config import Settings
from disputebot.delivery.drain import drain_once
from disputebot.engine.effects import N_, Msg, say_from_json
from disputebot.errors import ConfigError, DeliveryError
from disputebot.i18n.catalog import Catalogs
from disputebot.metrics import Metrics
from disputebot.ports import Clock, OutboxItem, UnitOfWorkFactory
from disputebot.service.bot import BotService
from disputebot.service.evidence import EvidenceVault
from disputebot.service.inbound import Reply
from disputebot.web.ops import OpsServer, database_health

log = logging.getLogger(__name__)

MENU = (
    ("report", N_("bot.command.report")),
    ("status", N_("bot.command.status")),
    ("tips", N_("bot.command.tips")),
    ("language", N_("bot.command.language")),
    ("help", N_("bot.command.help")),
    ("back", N_("bot.command.back")),
    ("cancel", N_("bot.command.cancel")),
)


class TelegramRuntime:
    def __init__(
        self,
        api: BotApi,
        *,
        settings: Settings,
        service: BotService,
        vault: EvidenceVault,
        catalogs: Catalogs,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        album_wait: float = 0.8,
        metrics: Metrics | None = None,
    ) -> None:
        self._api = api
        self._settings = settings
        self._catalogs = catalogs
        self._uow_factory = uow_factory
        self._clock = clock
        self._committed = asyncio.Event()
        self.metrics = metrics if metrics is not None else Metrics()
        self._healthy = database_health(uow_factory)
        webhook = settings.mode == "webhook"
        self.handler = UpdateHandler(
            api,
            service,
            vault,
            catalogs,
            on_committed=self._committed,
            # Polling gathers an album before applying it; a webhook cannot (see handler).
            album_reply_wait=album_wait if webhook else None,
            metrics=self.metrics,
        )
        self.sequencer = Sequencer(self.handler, album_wait=0 if webhook else album_wait)
        self.webhook: WebhookServer | None = None
        self.ops: OpsServer | None = None
        self.ready = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set; then finish what is in flight and deliver what is due."""
        settings = self._settings
        try:
            identity = await self._api.start()
        except BaseException:
            await self._api.close()
            raise
        self.handler.bot_username = identity.username
        log.info("connected as @%s (%s mode)", identity.username, settings.mode)
        await self._register_commands()
        delivery = asyncio.create_task(self._deliver(stop))
        try:
            if settings.metrics_port is not None:
                self.ops = OpsServer(healthy=self._healthy, metrics=self.metrics)
                await self.ops.start(settings.metrics_host, settings.metrics_port)
            if settings.mode == "webhook":
                await self._serve_webhook(stop)
            else:
                await self._api.delete_webhook()
                self.ready.set()
                await Poller(self._api, self.sequencer, metrics=self.metrics).run(stop)
        finally:
            await self.sequencer.close()
            await self.handler.close()
            self._committed.set()
            await delivery
            if self.ops is not None:
                await self.ops.stop()
            await self._api.close()

    async def _serve_webhook(self, stop: asyncio.Event) -> None:
        settings = self._settings
        if not settings.webhook_url or settings.webhook_secret is None:
            raise ConfigError("webhook mode needs DISPUTEBOT_WEBHOOK_URL and WEBHOOK_SECRET")
        secret = settings.webhook_secret.get_secret_value()
        self.webhook = WebhookServer(
            self._api,
            self.sequencer,
            secret=secret,
            path=urlsplit(settings.webhook_url).path or "/",
            healthy=self._healthy,
            metrics=self.metrics,
        )
        await self.webhook.start(settings.webhook_host, settings.webhook_port)
        try:
            await self._api.set_webhook(settings.webhook_url, secret)
            self.ready.set()
            await stop.wait()
        finally:
            await self.webhook.stop()

    async def _deliver(self, stop: asyncio.Event) -> None:
        while True:
            try:
                await drain_once(
                    self._uow_factory,
                    self._send_item,
                    self._clock,
                    channel=CHANNEL,
                    metrics=self.metrics,
                )
                await self._refresh_backlog()
            except Exception:
                log.exception("outbox delivery failed; retrying")
            if stop.is_set():
                return
            self._committed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._committed.wait(), 1.0)

    async def _refresh_backlog(self) -> None:
        async with self._uow_factory() as uow:
            pending, oldest = await uow.outbox.backlog(self._clock.now(), channel=CHANNEL)
        self.metrics.backlog(CHANNEL, pending, oldest)

    async def _send_item(self, item: OutboxItem) -> None:
        reply = Reply(item.chat, say_from_json(item.payload), item.locale)
        await self.handler.send(reply, attempts=1)

    async def _register_commands(self) -> None:
        catalogs = self._catalogs
        for locale in (None, *catalogs.locales):
            shown = locale or catalogs.default_locale
            commands = [(name, catalogs.render(Msg(key), shown)) for name, key in MENU]
            code = locale.split("_")[0] if locale else None
            try:
                await self._api.set_commands(commands, code)
            except DeliveryError as exc:
                log.warning("could not set the command menu for %s: %s", shown, exc)
