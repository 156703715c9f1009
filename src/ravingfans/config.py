"""Settings from ``RAVINGFANS_*`` environment variables and an optional ``.env`` file.

Nothing is read at import time: call :func:`get_settings` (or build :class:`Settings` directly in
tests). Every setting is documented in ``docs/settings.md``; a test fails when one is not.
"""

from __future__ import annotations

from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ravingfans.errors import ConfigError

DEV_SECRET = "dev-insecure-secret-change-me"
DEFAULT_DATABASE_URL = "sqlite:///ravingfans.db"


class Settings(BaseSettings):
    """Everything ravingfans can be told from outside; see docs/settings.md."""

    model_config = SettingsConfigDict(
        env_prefix="RAVINGFANS_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    environment: Literal["development", "production"] = "development"
    database_url: str = DEFAULT_DATABASE_URL
    secret_key: SecretStr = SecretStr(DEV_SECRET)
    business_name: str = "My Business"
    business_address: str = ""
    time_zone: str = "UTC"
    currency: str = Field(default="USD", min_length=3, max_length=3)
    default_region: str = Field(default="US", min_length=2, max_length=2)
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_user: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = False
    mail_from: str = "ravingfans@localhost"
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    public_url: str = "http://127.0.0.1:8000"
    survey_interval_days: int = Field(default=90, ge=0, le=3660)
    survey_link_days: int = Field(default=30, ge=1, le=366)
    survey_reminder_days: int = Field(default=7, ge=1, le=90)
    gross_margin: float = Field(default=1.0, gt=0, le=1)
    clv_horizon_days: float = Field(default=365.0, gt=0, le=3660)
    monthly_discount_rate: float = Field(default=0.01, ge=0, lt=1)
    session_idle_minutes: int = Field(default=60, ge=1, le=24 * 60)
    session_max_hours: int = Field(default=12, ge=1, le=24 * 30)
    login_max_failures: int = Field(default=5, ge=1, le=1000)
    login_max_failures_per_address: int = Field(default=20, ge=1, le=100000)
    login_lockout_minutes: int = Field(default=15, ge=1, le=24 * 60)
    trusted_proxies: str = ""
    hold_days: int = Field(default=7, ge=0, le=90)
    campaign_holdout_share: float = Field(default=0.2, ge=0.05, le=0.5)
    worker_poll_seconds: float = Field(default=30.0, ge=1, le=3600)
    job_score_minutes: int = Field(default=1440, ge=0, le=60 * 24 * 31)
    job_rules_minutes: int = Field(default=60, ge=0, le=60 * 24 * 31)
    job_campaigns_minutes: int = Field(default=60, ge=0, le=60 * 24 * 31)
    job_holds_minutes: int = Field(default=15, ge=0, le=60 * 24 * 31)
    job_outbox_minutes: int = Field(default=1, ge=0, le=60 * 24 * 31)
    job_lease_minutes: int = Field(default=30, ge=1, le=60 * 24)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as 'Europe/Berlin'") from exc
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")) or any(c in value for c in " \r\n\t<>\"'"):
            raise ValueError("must be the address customers reach the app at, e.g. 'https://shop.example'")
        return value.rstrip("/")

    @field_validator("currency", "default_region")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    @property
    def zone(self) -> ZoneInfo:
        """The business's time zone, for showing times (they are stored in UTC)."""
        return ZoneInfo(self.time_zone)

    def check_production(self) -> None:
        """Refuse to run a production server on the development secret or a short one."""
        if self.environment != "production":
            return
        key = self.secret_key.get_secret_value()
        if key == DEV_SECRET or len(key) < 32:
            raise ConfigError(
                "RAVINGFANS_SECRET_KEY is not set to a real secret, and RAVINGFANS_ENVIRONMENT is production.",
                hint='Set RAVINGFANS_SECRET_KEY to at least 32 random characters, e.g. '
                '`python -c "import secrets; print(secrets.token_urlsafe(48))"`.',
            )

    def masked(self) -> dict[str, Any]:
        """The settings in force, secrets shown as '********' (for `ravingfans config`)."""
        shown: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = "********" if value.get_secret_value() else ""
            elif name == "database_url":
                value = mask_url(value)
            shown[name] = value
        return shown


def mask_url(url: str) -> str:
    """Hide the password in a database URL."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a malformed URL is shown as given; the engine reports it
        return url


def get_settings(**overrides: Any) -> Settings:
    """Build settings from the environment (and ``.env``), turning bad values into a ConfigError."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = "RAVINGFANS_" + "_".join(str(p) for p in err["loc"]).upper()
            lines.append(f"{name}: {err['msg']}")
        raise ConfigError("Invalid settings:\n  " + "\n  ".join(lines)) from None
