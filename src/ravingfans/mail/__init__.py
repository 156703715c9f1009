"""Outgoing e-mail: queue with the business event (:func:`enqueue`; :func:`enqueue_many` for thousands), drain the
outbox (:func:`send_pending`), and honour unsubscribes and hard bounces (:mod:`ravingfans.mail.unsubscribe`).
See docs/mail.md."""

from ravingfans.mail.compose import TEMPLATES, message_id_for, render
from ravingfans.mail.delivery import MailServerUnavailable, Outcome, SmtpTransport
from ravingfans.mail.outbox import (
    EnqueueResult,
    Outgoing,
    SendReport,
    enqueue,
    enqueue_many,
    forget_customer,
    list_outbox,
    outbox_counts,
    retry_delay,
    send_pending,
)
from ravingfans.mail.unsubscribe import Unsubscribed, address_digest, suppress, suppression_reason, unsubscribe

__all__ = [
    "TEMPLATES",
    "EnqueueResult",
    "MailServerUnavailable",
    "Outcome",
    "Outgoing",
    "SendReport",
    "SmtpTransport",
    "Unsubscribed",
    "address_digest",
    "enqueue",
    "enqueue_many",
    "forget_customer",
    "list_outbox",
    "message_id_for",
    "outbox_counts",
    "render",
    "retry_delay",
    "send_pending",
    "suppress",
    "suppression_reason",
    "unsubscribe",
]
