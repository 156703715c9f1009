"""Mail fixtures: a real SMTP server (aiosmtpd) per test, settings pointing at it, and customers to write to."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from smtp_sink import SmtpServer, running_smtp

from ravingfans.config import Settings


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server on a free local port, for this test."""
    with running_smtp() as server:
        yield server


@pytest.fixture
def mail_settings(database_url: str, smtp: SmtpServer) -> Settings:
    """Settings that send to the test server, with a business name and postal address."""
    return Settings(database_url=database_url, smtp_host=smtp.host, smtp_port=smtp.port, smtp_timeout_seconds=5,
                    mail_from="hello@shoe.example", business_name="Shoe & Co",
                    business_address="12 High Street\nSpringfield 12345", public_url="https://shop.example",
                    _env_file=None)
