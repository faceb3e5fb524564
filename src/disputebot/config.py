"""Settings from the environment or ``.env``; the only module that reads the environment."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# The repository root when running from a checkout (src layout); data folders live there.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    """Every knob the bot has. Names are ``DISPUTEBOT_`` + the field name in capitals."""

    model_config = SettingsConfigDict(
        env_prefix="DISPUTEBOT_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        # A validation error would otherwise quote its input, which for a check over several
        # fields (_platform_webhook_pair) is every setting, tokens and secrets included.
        hide_input_in_errors=True,
    )

    bot_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"
    database_url: str = "sqlite+aiosqlite:///./disputebot.db"
    # SQLite only: units of work queued on the writer share one transaction (a SAVEPOINT
    # each) and are acknowledged once it commits. Off by default: it commits ten times less
    # often but is no faster yet here (docs/RELIABILITY.md, "Group commit on SQLite").
    group_commit: bool = False
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    staff_chat_id: int | None = None
    framework: Literal["ptb", "aiogram"] = "ptb"
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_host: str = "127.0.0.1"
    webhook_port: int = Field(default=8080, ge=0, le=65535)
    default_locale: str = "en"
    evidence_dir: Path = Path("./evidence")

    conversations_dir: Path = PROJECT_ROOT / "conversations"
    locales_dir: Path = PROJECT_ROOT / "locales"
    # A TrueType/OpenType font for the /stats chart's labels. Pillow's built-in font has Latin
    # letters only, so without one the chart is labelled in English whatever the reader's
    # language (its numbers and dates read the same everywhere).
    chart_font: Path | None = None
    platform_profile: Path = PROJECT_ROOT / "platform" / "aliexpress.yaml"

    max_reports_per_day: int = Field(default=5, ge=1)
    false_report_cooldown_days: int = Field(default=14, ge=0)
    # A reporter whose case waits on staff this long is told it is still under review, and
    # again every as long while it keeps waiting; 0 turns the reminders off.
    review_reminder_hours: float = Field(default=72, ge=0)
    # The reported party's channel, appeals and reporter standing (DSA Arts. 16, 17, 20, 23).
    # The bot's username, for claim links (https://t.me/<bot>?start=claim_…); without it the
    # link is given as the /start command to send.
    bot_username: str | None = None
    claim_link_hours: float = Field(default=72, gt=0)
    party_answer_days: float = Field(default=14, gt=0)
    appeal_days: float = Field(default=183, ge=183)
    # Reports rejected as manifestly unfounded before staff are asked to warn the reporter,
    # and (counted from the same start) to suspend them from filing for suspension_days.
    warn_after_unfounded: int = Field(default=3, ge=1)
    suspend_after_unfounded: int = Field(default=5, ge=2)
    suspension_days: float = Field(default=30, gt=0)
    # A possible coordinated campaign: campaign_min_reports reports against one account within
    # campaign_window_hours, from reporters with no earlier report.
    campaign_window_hours: float = Field(default=24, gt=0)
    campaign_min_reports: int = Field(default=3, ge=2)
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"
    # With a port set, /metrics and /healthz are served here (in webhook mode the webhook
    # server serves them as well).
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = Field(default=None, ge=0, le=65535)

    # Outbox delivery (delivery/worker.py). Telegram's limits: about 30 messages a second in
    # total, one a second in a chat, 20 a minute in a group.
    delivery_global_per_second: int = Field(default=30, ge=1)
    delivery_chat_per_second: int = Field(default=1, ge=1)
    delivery_group_per_minute: int = Field(default=20, ge=1)
    # Failed attempts (429s not counted) before a message is dead-lettered.
    delivery_max_attempts: int = Field(default=8, ge=1)
    # How long a worker's claim on a message lasts; a dead worker's claims come back after it.
    delivery_lease_seconds: float = Field(default=30.0, gt=0)
    # Sends in flight at once, each to a different chat.
    delivery_concurrency: int = Field(default=16, ge=1)
    # `disputebot run` delivers the outbox itself; turn off when `disputebot worker` does.
    delivery_in_process: bool = True

    # Case events POSTed to the marketplace's enforcement system (delivery/webhooks.py),
    # signed with the secret (HMAC-SHA256). Both or neither: without them no event is sent.
    platform_webhook_url: str | None = None
    platform_webhook_secret: SecretStr | None = None

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [int(part) for part in value.replace(";", ",").split(",") if part.strip()]
        if isinstance(value, int):
            return [value]
        return value

    @model_validator(mode="after")
    def _platform_webhook_pair(self) -> Settings:
        url = self.platform_webhook_url
        secret = self.platform_webhook_secret
        if bool(url) != bool(secret and secret.get_secret_value()):
            raise ValueError(
                "DISPUTEBOT_PLATFORM_WEBHOOK_URL and DISPUTEBOT_PLATFORM_WEBHOOK_SECRET go "
                "together: set both (a non-empty secret) or neither"
            )
        if self.suspend_after_unfounded <= self.warn_after_unfounded:
            raise ValueError(
                "DISPUTEBOT_SUSPEND_AFTER_UNFOUNDED must be above DISPUTEBOT_WARN_AFTER_UNFOUNDED"
            )
        if url:
            parts = urlsplit(url)
            if parts.scheme not in {"http", "https"} or not parts.netloc:
                raise ValueError("DISPUTEBOT_PLATFORM_WEBHOOK_URL must be an http(s):// URL")
        return self

    @property
    def platform_webhooks(self) -> bool:
        """Whether case events are sent to the platform (its URL and secret are set)."""
        return bool(self.platform_webhook_url and self.platform_webhook_secret)

    @property
    def false_report_cooldown(self) -> timedelta:
        return timedelta(days=self.false_report_cooldown_days)

    @property
    def review_reminder_after(self) -> timedelta | None:
        """The "still under review" interval; ``None`` when reminders are off."""
        hours = self.review_reminder_hours
        return timedelta(hours=hours) if hours > 0 else None

    def secrets(self) -> list[str]:
        """Values that must never appear in a log line."""
        found = [
            s.get_secret_value()
            for s in (self.bot_token, self.webhook_secret, self.platform_webhook_secret)
            if s
        ]
        password = _url_password(self.database_url)
        if password:
            found.append(password)
        if self.platform_webhook_url:
            found.append(urlsplit(self.platform_webhook_url).password or "")
        return [s for s in found if s]


def _url_password(url: str) -> str | None:
    from sqlalchemy.engine import make_url  # noqa: PLC0415  (keeps settings import light)

    try:
        return make_url(url).password
    except Exception:
        return None
