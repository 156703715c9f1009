"""The public unsubscribe page: GET changes nothing; the one-click POST needs no cookie and suppresses at once."""

from __future__ import annotations

import re
import warnings
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from ravingfans.config import Settings
from ravingfans.db import Database
from ravingfans.db.models import Consent, Customer, MailSuppression, OutboxMessage
from ravingfans.mail import enqueue, suppression_reason

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _marketing_link(db: Database, settings: Settings, customer_id: int, email: str, key: str = "k") -> str:
    """Queue a marketing message to the customer (consent on) and return its unsubscribe path."""
    with db.session(write=True) as s:
        customer = s.get(Customer, customer_id)
        customer.email_consent = True
        result = enqueue(s, key=key, customer_id=customer_id, to=email, template="survey_invitation",
                         context={"customer_first_name": customer.first_name, "survey_title": "Check-in",
                                  "survey_url": "https://shop.example/s/x", "business_name": "Shoe & Co",
                                  "expires_on": date(2026, 4, 1)},
                         language=None, purpose="marketing",
                         settings=settings.model_copy(update={"business_address": "1 Main St",
                                                              "public_url": "https://shop.example"}))
        raw = s.get(OutboxMessage, result.outbox_id).raw
    header = re.search(r"List-Unsubscribe: <https://shop\.example(/unsubscribe/[A-Za-z0-9_-]+)>", raw)
    assert header is not None, raw[:800]
    return header.group(1)


def _state(db: Database, customer_id: int, email: str) -> tuple[bool | None, int, str | None]:
    with db.session() as s:
        return (s.get(Customer, customer_id).email_consent,
                int(s.scalar(select(func.count()).select_from(Consent).where(Consent.customer_id == customer_id))),
                suppression_reason(s, email))


def test_get_only_asks(anon_client: TestClient, db: Database, web_settings: Settings, shop) -> None:  # noqa: ANN001
    path = _marketing_link(db, web_settings, shop.grace, "grace@navy.example")
    before = _state(db, shop.grace, "grace@navy.example")
    for _ in range(3):  # a link scanner fetching it again and again
        page = anon_client.get(path)
        assert page.status_code == 200
    assert f'<form method="post" action="{path}">' in page.text and "<button" in page.text
    assert "Shoe &amp; Co" in page.text and "<script" not in page.text
    assert _state(db, shop.grace, "grace@navy.example") == before == (True, 0, None)


def test_one_click_post_without_cookie_suppresses_at_once(anon_client: TestClient, db: Database,
                                                          web_settings: Settings, shop) -> None:  # noqa: ANN001
    path = _marketing_link(db, web_settings, shop.grace, "grace@navy.example")
    anon_client.cookies.clear()
    # As a mail provider sends it (RFC 8058): a POST with this body, from another site, no cookie, no CSRF token.
    answer = anon_client.post(path, data={"List-Unsubscribe": "One-Click"},
                              headers={"origin": "https://mail.example", "sec-fetch-site": "cross-site"})
    assert answer.status_code == 200 and "location" not in answer.headers
    assert "You are unsubscribed" in answer.text
    assert _state(db, shop.grace, "grace@navy.example") == (False, 1, "unsubscribed")
    with db.session() as s:
        consent = s.scalars(select(Consent).where(Consent.customer_id == shop.grace)).one()
        assert (consent.purpose, consent.channel, consent.granted, consent.source) == (
            "marketing", "email", False, "one-click unsubscribe")
    again = anon_client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200 and _state(db, shop.grace, "grace@navy.example") == (False, 1, "unsubscribed")
    assert "You will receive no more" in anon_client.get(path).text  # the page now says so, with no button
    # Marketing to the address is refused from now on.
    with db.session(write=True) as s:
        s.get(Customer, shop.grace).email_consent = True  # even if consent is given again by mistake
    with db.session(write=True) as s:
        refused = enqueue(s, key="k2", customer_id=shop.grace, to="Grace@Navy.example", template="message",
                          context={"subject": "News", "body": "Hi"}, language=None, purpose="marketing",
                          settings=web_settings.model_copy(update={"business_address": "1 Main St"}))
    assert refused.status == "suppressed"


def test_link_names_one_address_only(anon_client: TestClient, db: Database, web_settings: Settings,
                                     shop) -> None:  # noqa: ANN001
    grace = _marketing_link(db, web_settings, shop.grace, "grace@navy.example", key="g")
    _marketing_link(db, web_settings, shop.linus, "linus@example.org", key="l")
    assert anon_client.post(grace).status_code == 200
    assert _state(db, shop.linus, "linus@example.org") == (True, 0, None)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(MailSuppression)) == 1


@pytest.mark.parametrize("token", ["A" * 32, "short", "x" * 200, "%00", "%3Cscript%3E"])
def test_unknown_token_is_a_plain_404(anon_client: TestClient, db: Database, web_settings: Settings, shop,
                                      token: str) -> None:  # noqa: ANN001
    _marketing_link(db, web_settings, shop.grace, "grace@navy.example")
    pages = [anon_client.get(f"/unsubscribe/{token}"), anon_client.post(f"/unsubscribe/{token}")]
    for page in pages:
        assert page.status_code == 404
        assert "This link is not valid" in page.text
        assert "Shoe" not in page.text and "/customers" not in page.text and "grace" not in page.text.lower()
    assert _state(db, shop.grace, "grace@navy.example") == (True, 0, None)


def test_page_is_in_the_customers_language(anon_client: TestClient, db: Database, web_settings: Settings,
                                           shop) -> None:  # noqa: ANN001
    with db.session(write=True) as s:
        s.get(Customer, shop.linus).language = "es"
    path = _marketing_link(db, web_settings, shop.linus, "linus@example.org")
    page = anon_client.get(path)
    assert 'lang="es"' in page.text and "Darse de baja" in page.text
    assert "Se ha dado de baja" in anon_client.post(path).text
