"""The composition root: the one place that wires concrete parts together."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine

from disputebot.cases.standing import StandingRules
from disputebot.clock import SystemClock
from disputebot.config import Settings
from disputebot.engine.context import Policies
from disputebot.engine.spec import FlowBook
from disputebot.errors import ConfigError
from disputebot.i18n.catalog import Catalogs
from disputebot.i18n.negotiate import negotiate
from disputebot.loading import load_flows, load_lexicons, load_profile
from disputebot.metrics import Metrics
from disputebot.policy.abuse import AbuseRules
from disputebot.ports import Clock, UnitOfWorkFactory
from disputebot.service.addons import FairnessRules
from disputebot.service.bot import BotService, LocaleChoice
from disputebot.service.desk import DIALOG_STEPS
from disputebot.service.evidence import EvidenceVault
from disputebot.service.filing import REPORT_STEPS
from disputebot.service.statsview import StatsView
from disputebot.store import migrate
from disputebot.store.database import create_engine, make_session_factory
from disputebot.store.uow import SqlUnitOfWorkFactory

if TYPE_CHECKING:
    from disputebot.channels.telegram.model import BotApi
    from disputebot.channels.telegram.runtime import TelegramRuntime


@dataclass
class Content:
    """Everything read from the operator's files, validated."""

    book: FlowBook
    policies: Policies
    catalogs: Catalogs


@dataclass
class App:
    settings: Settings
    content: Content
    engine: AsyncEngine
    uow_factory: UnitOfWorkFactory
    vault: EvidenceVault
    service: BotService
    clock: Clock
    metrics: Metrics = field(default_factory=Metrics)

    async def close(self) -> None:
        await self.engine.dispose()


def load_content(settings: Settings) -> Content:
    """Conversations, profile, word lists and catalogs; raises ``ConfigError`` on any problem."""
    book = load_flows(settings.conversations_dir)
    report = book.current("report")
    missing = [s for s in REPORT_STEPS if not report.has_step(s)]
    if missing:
        raise ConfigError(f"the report flow lacks the steps {', '.join(missing)}")
    for name, steps in DIALOG_STEPS.items():
        try:
            flow = book.current(name)
        except KeyError:
            raise ConfigError(f"conversations/: the {name!r} flow is missing") from None
        lacking = [s for s in steps if not flow.has_step(s)]
        if lacking or flow.confirm.action != "finish":
            raise ConfigError(
                f"the {name!r} flow needs the steps {', '.join(steps)} and a confirm step"
                " with `action: finish`"
            )
    policies = Policies(
        profile=load_profile(settings.platform_profile),
        lexicons=load_lexicons(settings.locales_dir),
        abuse=AbuseRules(
            max_reports_per_day=settings.max_reports_per_day,
            false_report_cooldown=settings.false_report_cooldown,
        ),
    )
    catalogs = Catalogs.load(settings.locales_dir, default_locale=settings.default_locale)
    return Content(book, policies, catalogs)


async def build(settings: Settings, *, upgrade_sqlite: bool = True) -> App:
    """Open the database (migrating an embedded SQLite file) and wire the bot."""
    content = load_content(settings)
    if upgrade_sqlite and settings.database_url.startswith("sqlite"):
        await migrate.upgrade(settings.database_url)
    elif not await migrate.is_up_to_date(settings.database_url):
        raise ConfigError("the database schema is behind: run `disputebot db upgrade`")
    engine = create_engine(settings.database_url)
    uow_factory = SqlUnitOfWorkFactory(
        make_session_factory(engine), group_commit=settings.group_commit
    )
    clock = SystemClock()
    locales = LocaleChoice(
        available=content.catalogs.locales,
        default=settings.default_locale,
        negotiate=negotiate,
    )
    metrics = Metrics()
    vault = EvidenceVault(settings.evidence_dir)
    service = BotService(
        uow_factory,
        content.book,
        content.policies,
        clock=clock,
        locales=locales,
        metrics=metrics,
        admins=frozenset(settings.admin_ids),
        staff_chat_id=settings.staff_chat_id,
        stats=StatsView(clock, content.catalogs, font=settings.chart_font),
        reminder_after=settings.review_reminder_after,
        platform_events=settings.platform_webhooks,
        fairness=fairness_rules(settings),
        evidence_settled=vault.settle,
    )
    return App(settings, content, engine, uow_factory, vault, service, clock, metrics)


def fairness_rules(settings: Settings) -> FairnessRules:
    """The fairness features' settings, as the service takes them."""
    return FairnessRules(
        party_answer=timedelta(days=settings.party_answer_days),
        claim_link_ttl=timedelta(hours=settings.claim_link_hours),
        appeal_window=timedelta(days=settings.appeal_days),
        standing=StandingRules(
            warn_after=settings.warn_after_unfounded,
            suspend_after=settings.suspend_after_unfounded,
            suspension=timedelta(days=settings.suspension_days),
        ),
        campaign_window=timedelta(hours=settings.campaign_window_hours),
        campaign_min_reports=settings.campaign_min_reports,
        bot_username=settings.bot_username,
    )


def telegram_runtime(app: App, *, album_wait: float = 0.8) -> TelegramRuntime:
    """The Telegram bot on the configured framework (python-telegram-bot unless ``aiogram``)."""
    from disputebot.channels.telegram.runtime import TelegramRuntime  # noqa: PLC0415

    settings = app.settings
    if settings.bot_token is None:
        raise ConfigError("DISPUTEBOT_BOT_TOKEN is not set")
    token = settings.bot_token.get_secret_value()
    api: BotApi
    if settings.framework == "aiogram":
        from disputebot.channels.telegram_aiogram.api import AiogramBotApi  # noqa: PLC0415

        api = AiogramBotApi(token, settings.telegram_api_url)
    else:
        from disputebot.channels.telegram_ptb.api import PtbBotApi  # noqa: PLC0415

        api = PtbBotApi(token, settings.telegram_api_url)
    return TelegramRuntime(
        api,
        settings=settings,
        service=app.service,
        vault=app.vault,
        catalogs=app.content.catalogs,
        uow_factory=app.uow_factory,
        clock=app.clock,
        album_wait=album_wait,
        metrics=app.metrics,
    )
