"""Running the bot on Telegram: polling or webhook, plus delivery of the outbox.

The outbox (receipts, progress notifications, staff alerts) is delivered by the outbox worker
(``delivery.worker``): inside ``run`` unless ``DISPUTEBOT_DELIVERY_IN_PROCESS`` is off, or on its
own in ``run_worker`` (``disputebot worker``). The worker wakes as soon as an update commits and
polls every second otherwise, and keeps the outbox gauges current. With
``DISPUTEBOT_PLATFORM_WEBHOOK_URL`` set, a second worker beside it delivers the platform webhook
events (``delivery.webhooks``), woken by the same commits. With
``DISPUTEBOT_METRICS_PORT`` set, ``/metrics`` and ``/healthz`` are served there (webhook mode
serves them on the webhook server too).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from disputebot.channels.telegram.handler import UpdateHandler
from disputebot.channels.telegram.model import CHANNEL, BotApi
from disputebot.channels.telegram.polling import Poller
from disputebot.channels.telegram.sequencer import Sequencer
from disputebot.config import Settings
from disputebot.delivery.webhooks import run_webhooks
from disputebot.delivery.worker import Worker, WorkerConfig
from disputebot.engine.effects import N_, Msg, say_from_json
from disputebot.errors import ConfigError, DeliveryError
from disputebot.i18n.catalog import Catalogs
from disputebot.metrics import Metrics
from disputebot.ports import Clock, OutboxItem, SenderLock, UnitOfWorkFactory
from disputebot.service.bot import BotService
from disputebot.service.evidence import EvidenceVault
from disputebot.service.inbound import Reply
from disputebot.service.reminders import run_reminders
from disputebot.web.ops import OpsServer, database_health

if TYPE_CHECKING:
    from disputebot.channels.telegram.webhook import WebhookServer

log = logging.getLogger(__name__)

MENU = (
    ("report", N_("bot.command.report")),
    ("status", N_("bot.command.status")),
    ("appeal", N_("bot.command.appeal")),
    ("check", N_("bot.command.check")),
    ("tips", N_("bot.command.tips")),
    ("language", N_("bot.command.language")),
    ("help", N_("bot.command.help")),
    ("back", N_("bot.command.back")),
    ("cancel", N_("bot.command.cancel")),
)


class _Fanout(asyncio.Event):
    """An event that sets others too: one "an update committed" signal for several workers,
    each waiting on (and clearing) an event of its own."""

    def __init__(self, *others: asyncio.Event) -> None:
        super().__init__()
        self._others = others

    def set(self) -> None:
        super().set()
        for other in self._others:
            other.set()


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
        # Set after each update commits: wakes the Telegram worker and the platform webhook
        # worker, each on an event of its own (a worker also sets its own after each send).
        self._telegram_wakeup = asyncio.Event()
        self._events_wakeup = asyncio.Event()
        self._committed: asyncio.Event = _Fanout(self._telegram_wakeup, self._events_wakeup)
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
        self._parts_sent: dict[int, set[int]] = {}

    def worker(self, sender_lock: SenderLock | None = None) -> Worker:
        """The outbox worker for Telegram, sending through this runtime's Bot API client."""
        return Worker(
            self._uow_factory,
            self._send_item,
            clock=self._clock,
            channel=CHANNEL,
            config=WorkerConfig.from_settings(self._settings),
            sender_lock=sender_lock,
            wakeup=self._telegram_wakeup,
            metrics=self.metrics,
        )

    async def webhooks(self, stop: asyncio.Event, sender_lock: SenderLock | None = None) -> None:
        """Deliver the platform webhook events until ``stop`` is set; returns at once when
        ``DISPUTEBOT_PLATFORM_WEBHOOK_URL`` is not set."""
        await run_webhooks(
            self._settings,
            self._uow_factory,
            self._clock,
            stop,
            wakeup=self._events_wakeup,
            metrics=self.metrics,
            sender_lock=sender_lock,
        )

    async def reminders(self, stop: asyncio.Event) -> None:
        """Turn due "still under review" deadlines into outbox messages until ``stop``."""
        await run_reminders(
            self._uow_factory,
            self._clock,
            stop,
            interval=self._settings.review_reminder_after,
            default_locale=self._settings.default_locale,
        )

    async def run(
        self,
        stop: asyncio.Event,
        *,
        sender_lock: SenderLock | None = None,
        webhook_lock: SenderLock | None = None,
    ) -> None:
        """Serve until ``stop`` is set; then finish the updates and the sends in flight.

        The outbox is delivered here too unless ``delivery_in_process`` is off, the platform
        webhook events included; ``sender_lock`` and ``webhook_lock`` (PostgreSQL) let one of
        several processes send on each at a time.
        """
        settings = self._settings
        try:
            identity = await self._api.start()
        except BaseException:
            await self._api.close()
            raise
        self.handler.bot_username = identity.username
        log.info("connected as @%s (%s mode)", identity.username, settings.mode)
        await self._register_commands()
        stop_delivery = asyncio.Event()
        delivery = (
            [
                asyncio.create_task(self.worker(sender_lock).run(stop_delivery)),
                asyncio.create_task(self.webhooks(stop_delivery, webhook_lock)),
                asyncio.create_task(self.reminders(stop_delivery)),
            ]
            if settings.delivery_in_process
            else []
        )
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
            # Stopped last: what the last updates commit to the outbox can still go out.
            stop_delivery.set()
            if delivery:
                await asyncio.gather(*delivery)
            if self.ops is not None:
                await self.ops.stop()
            await self._api.close()

    async def _serve_webhook(self, stop: asyncio.Event) -> None:
        # aiohttp's server is imported only when it serves: polling needs none of it.
        from disputebot.channels.telegram.webhook import WebhookServer  # noqa: PLC0415

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

    async def run_worker(
        self,
        stop: asyncio.Event,
        *,
        sender_lock: SenderLock | None = None,
        webhook_lock: SenderLock | None = None,
    ) -> None:
        """Only deliver the outbox, until ``stop`` is set (``disputebot worker``): no updates
        are read, so it runs beside a ``disputebot run`` process or in place of its worker.
        The platform webhook events too, when their URL is set."""
        settings = self._settings
        try:
            identity = await self._api.start()
        except BaseException:
            await self._api.close()
            raise
        log.info("delivering the outbox as @%s", identity.username)
        try:
            if settings.metrics_port is not None:
                self.ops = OpsServer(healthy=self._healthy, metrics=self.metrics)
                await self.ops.start(settings.metrics_host, settings.metrics_port)
            self.ready.set()
            await asyncio.gather(
                self.worker(sender_lock).run(stop), self.webhooks(stop, webhook_lock)
            )
        finally:
            if self.ops is not None:
                await self.ops.stop()
            await self._api.close()

    async def _send_item(self, item: OutboxItem) -> None:
        reply = Reply(item.chat, say_from_json(item.payload), item.locale)
        # The parts of a long message or an album that went out before a 429 are not sent
        # again when the worker retries the item (after a restart they are: at least once).
        sent = self._parts_sent.setdefault(item.id, set())
        try:
            await self.handler.send(reply, attempts=1, sent=sent)
        except DeliveryError as exc:
            if not exc.retryable or exc.unreachable:
                del self._parts_sent[item.id]
            raise
        del self._parts_sent[item.id]

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
