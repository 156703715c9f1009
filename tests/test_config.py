"""Settings: defaults, validation, and the production secret-key guard."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from ravingfans.config import DEV_SECRET, Settings, get_settings
from ravingfans.errors import ConfigError


def test_production_refuses_the_development_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAVINGFANS_ENVIRONMENT", "production")
    settings = get_settings()
    assert settings.secret_key.get_secret_value() == DEV_SECRET
    with pytest.raises(ConfigError, match="RAVINGFANS_SECRET_KEY"):
        settings.check_production()
    with pytest.raises(ConfigError):
        Settings(environment="production", secret_key=SecretStr("short"), _env_file=None).check_production()
    Settings(environment="production", secret_key=SecretStr("x" * 40), _env_file=None).check_production()


def test_development_allows_the_placeholder() -> None:
    Settings(_env_file=None).check_production()


def test_currency_and_region_are_upper_cased(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAVINGFANS_CURRENCY", "eur")
    monkeypatch.setenv("RAVINGFANS_DEFAULT_REGION", "de")
    settings = get_settings()
    assert (settings.currency, settings.default_region) == ("EUR", "DE")


def test_bad_values_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAVINGFANS_SMTP_PORT", "99999")
    with pytest.raises(ConfigError, match="RAVINGFANS_SMTP_PORT"):
        get_settings()
