"""Giving a campaign's gift to one treated customer: an e-mail through the outbox, or a task for staff.

Both are keyed ``campaign:<campaign>:gift:<customer>``: the outbox and the task list each keep one row
per key, so a gift is never sent or tasked twice for the same campaign and customer. The e-mail is
marketing (consent and the suppression list are checked by :func:`ravingfans.mail.enqueue`), written in
the customer's language from the ``gift`` templates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from babel.numbers import format_currency
from sqlalchemy.orm import Session

from ravingfans.config import Settings
from ravingfans.db.models import Campaign, Customer, Gift, Interaction
from ravingfans.i18n import best_language

SCRIPTS = {
    "win_back": "We have missed you, and we would love to see you again. We have a gift for you: {gift}.",
    "appreciation": "Thank you for being such a good customer. We have a small gift to say thank you: {gift}.",
}
KIND_WORDS = {"win_back": "Win-back", "appreciation": "Thank-you"}
REFUSED = {"no_consent": "not sent: no e-mail consent", "suppressed": "not sent: address suppressed or erased",
           "bad_address": "not sent: the e-mail address is not usable"}


def gift_key(campaign_id: int, customer_id: int) -> str:
    """The outbox and task key of one customer's gift in one campaign."""
    return f"campaign:{campaign_id}:gift:{customer_id}"


def money_text(value: Decimal | None, currency: str, language: str) -> str:
    """An amount as the customer's language writes it in the business's currency; empty for none."""
    if value is None:
        return ""
    return str(format_currency(value, currency, locale=language))


def _context(settings: Settings, campaign: Campaign, gift: Gift, customer: Customer, language: str) -> dict[str, Any]:
    assert campaign.ends_at is not None
    last_day = campaign.ends_at.astimezone(settings.zone).date() - timedelta(days=1)
    return {"customer_first_name": (customer.first_name or "").strip(), "campaign_kind": campaign.kind,
            "gift_kind": gift.kind, "gift_name": gift.name, "gift_code": gift.code or "",
            "gift_value": money_text(gift.value, settings.currency, language),
            "gift_description": " ".join((gift.description or "").split()), "body": campaign.message or "",
            "valid_until": last_day}


def email_gifts(session: Session, settings: Settings, campaign: Campaign, gift: Gift, customers: Sequence[Customer],
                now: datetime) -> dict[int, str]:
    """Queue the gift e-mails in the caller's transaction, a batch at a time; per customer, the outbox's answer
    (queued, duplicate, no_consent, suppressed) or ``bad_address`` for an address no server would take."""
    from ravingfans.mail.compose import can_send_to
    from ravingfans.mail.outbox import Outgoing, enqueue_many

    answers: dict[int, str] = {}
    mail: list[Outgoing] = []
    for customer in customers:
        if not can_send_to(customer.email):  # e.g. imported long ago, no server would take it: skip this customer
            answers[customer.id] = "bad_address"
            continue
        language = best_language(customer.language)
        mail.append(Outgoing(key=gift_key(campaign.id, customer.id), customer_id=customer.id, to=customer.email or "",
                             template="gift", context=_context(settings, campaign, gift, customer, language),
                             language=language, purpose="marketing"))
    for message, result in zip(mail, enqueue_many(session, mail, settings=settings, clock=lambda: now), strict=True):
        assert message.customer_id is not None
        answers[message.customer_id] = str(result.status)
    return answers


def task_gift(session: Session, settings: Settings, campaign: Campaign, gift: Gift, customer: Customer,
              value: float | None, now: datetime) -> int | None:
    """A task for staff to give the gift (owner: who served the customer last); None if it already exists."""
    from ravingfans.services.tasks import create_task

    described = gift.name + (f" ({gift.description})" if gift.description else "")
    script = campaign.message or SCRIPTS.get(campaign.kind, "{gift}").format(gift=described)
    reason = (f"{KIND_WORDS.get(campaign.kind, campaign.kind)} campaign '{campaign.name}': give "
              f"{customer.display_name} the gift '{gift.name}'.")
    return create_task(session, dedupe_key=gift_key(campaign.id, customer.id), customer_id=customer.id,
                       rule="campaign", kind="gift", reason=reason, script=script,
                       due_on=now.astimezone(settings.zone).date(),
                       priority=None if value is None else Decimal(str(round(value, 2))),
                       campaign_id=campaign.id, clock=lambda: now)


def give_gifts(session: Session, settings: Settings, campaign: Campaign, gift: Gift, customers: Sequence[Customer],
               values: Mapping[int, float], now: datetime) -> dict[int, tuple[datetime | None, str]]:
    """Give each treated customer the gift; per customer, when it went (None for a task) and a note on how."""
    outcomes: dict[int, tuple[datetime | None, str]] = {}
    mailed = email_gifts(session, settings, campaign, gift, customers, now) if campaign.delivery == "email" else {}
    for customer in customers:
        if campaign.delivery == "email":
            status = mailed[customer.id]
            if status in ("queued", "duplicate"):
                outcomes[customer.id] = (now, "e-mail queued")
                session.add(Interaction(customer_id=customer.id, occurred_at=now, channel="email", kind="gift",
                                        rating=None, note=f"Campaign '{campaign.name}': gift '{gift.name}' sent by "
                                                          "e-mail", created_at=now))
            else:
                outcomes[customer.id] = (None, REFUSED.get(status, f"not sent: {status}"))
        else:
            task_id = task_gift(session, settings, campaign, gift, customer, values.get(customer.id), now)
            outcomes[customer.id] = (None, f"task #{task_id} for staff" if task_id else "task already made")
    return outcomes
