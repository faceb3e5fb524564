"""Settings from the environment or ``.env``; the only module that reads the environment."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# The repository root when running from a checkout (src layout); data folders live there.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    """Every knob the bot has. Names are ``DISPUTEBOT_`` + the field name in capitals."""

    model_config = SettingsConfigDict(
        env_prefix="DISPUTEBOT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    bot_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"
    database_url: str = "sqlite+aiosqlite:///./disputebot.db"
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
    platform_profile: Path = PROJECT_ROOT / "platform" / "aliexpress.yaml"

    max_reports_per_day: int = Field(default=5, ge=1)
    false_report_cooldown_days: int = Field(default=14, ge=0)
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"
    # With a port set, /metrics and /healthz are served here (in webhook mode the webhook
    # server serves them as well).
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = Field(default=None, ge=0, le=65535)

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [int(part) for part in value.replace(";", ",").split(",") if part.strip()]
        if isinstance(value, int):
            return [value]
        return value

    @property
    def false_report_cooldown(self) -> timedelta:
        return timedelta(days=self.false_report_cooldown_days)

    def secrets(self) -> list[str]:
        """Values that must never appear in a log line."""
        found = [s.get_secret_value() for s in (self.bot_token, self.webhook_secret) if s]
        password = _url_password(self.database_url)
        if password:
            found.append(password)
        return [s for s in found if s]


def _url_password(url: str) -> str | None:
    from sqlalchemy.engine import make_url  # noqa: PLC0415  (keeps settings import light)

    try:
        return make_url(url).password
    except Exception:
        return None
