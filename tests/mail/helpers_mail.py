"""Small builders for mail tests: customers and queued messages."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from ravingfans.config import Settings
from ravingfans.db import Database
from ravingfans.db.models import Customer
from ravingfans.mail import EnqueueResult, enqueue

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def add_customer(db: Database, first: str | None, email: str, *, consent: bool | None = True,
                 language: str | None = None, last: str | None = None) -> int:
    """A customer with an e-mail address; their id."""
    with db.session(write=True) as s:
        customer = Customer(first_name=first, last_name=last, email=email, email_consent=consent, language=language,
                            created_at=T0, updated_at=T0)
        s.add(customer)
        s.flush()
        return customer.id


def survey_context(first: str | None = "Ana", title: str = "Spring check-in") -> dict[str, Any]:
    """The context the survey service passes to the survey templates."""
    return {"customer_first_name": first, "survey_title": title, "survey_url": "https://shop.example/s/tok123",
            "business_name": "Shoe & Co", "expires_on": date(2026, 4, 1)}


def queue(db: Database, settings: Settings, customer_id: int | None, to: str, *, key: str,
          template: str = "survey_invitation", purpose: str = "marketing", language: str | None = None,
          context: dict[str, Any] | None = None) -> EnqueueResult:
    """Enqueue one message in its own committed transaction."""
    with db.session(write=True) as s:
        return enqueue(s, key=key, customer_id=customer_id, to=to, template=template,
                       context=context if context is not None else survey_context(), language=language,
                       purpose=purpose, settings=settings, clock=lambda: T0)  # type: ignore[arg-type]


def queue_receipts(db: Database, database_url: str, n: int, *, sender: str, at: datetime = T0) -> list[str]:
    """n customers, each with one service message (a receipt) queued at ``at``; the messages' keys."""
    settings = Settings(database_url=database_url, mail_from=sender, _env_file=None)
    keys = []
    with db.session(write=True) as s:
        for i in range(n):
            customer = Customer(first_name=f"C{i}", email=f"c{i}@example.com", created_at=at, updated_at=at)
            s.add(customer)
            s.flush()
            keys.append(f"receipt:{i}")
            enqueue(s, key=keys[-1], customer_id=customer.id, to=customer.email, template="message",
                    context={"subject": f"Receipt {i}", "body": "Thanks"}, language=None, purpose="service",
                    settings=settings, clock=lambda: at)
    return keys
