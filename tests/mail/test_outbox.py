"""The outbox against a real SMTP server: headers, parts, language, consent, retries, bounces, duplicates."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from helpers_mail import T0, add_customer, queue, survey_context
from smtp_sink import SmtpServer
from sqlalchemy import select

from ravingfans.config import Settings
from ravingfans.db import Database
from ravingfans.db.models import Consent, Customer, OutboxMessage
from ravingfans.errors import ValidationFailed
from ravingfans.ingest.suppression import suppression_digests
from ravingfans.mail import enqueue, message_id_for, send_pending, suppression_reason
from ravingfans.mail.unsubscribe import HARD_BOUNCE, UNSUBSCRIBED, suppress
from ravingfans.services.erasure import erase_customer


def _row(db: Database, outbox_id: int) -> OutboxMessage:
    with db.session() as s:
        row = s.get(OutboxMessage, outbox_id)
        assert row is not None
        return row


def _parts(message) -> dict[str, str]:  # noqa: ANN001
    return {part.get_content_type(): part.get_content() for part in message.walk()
            if part.get_content_maintype() == "text"}


def test_marketing_message_headers_parts_and_footer(db: Database, mail_settings: Settings, smtp: SmtpServer) -> None:
    ana = add_customer(db, "Ana", "ana@example.com", last="Núñez")
    result = queue(db, mail_settings, ana, "ana@example.com", key="survey:1:invite:1")
    assert result.status == "queued" and result.outbox_id is not None
    report = send_pending(db, mail_settings, clock=lambda: T0)
    assert (report.sent, report.error) == (1, None)
    [received] = smtp.sink.messages
    assert received.rcpt_tos == ["ana@example.com"] and received.mail_from == "hello@shoe.example"
    message = received.parsed()
    assert message["From"].addresses[0].display_name == "Shoe & Co"
    assert message["From"].addresses[0].addr_spec == "hello@shoe.example"
    assert message["To"].addresses[0].display_name == "Ana Núñez"
    assert message["Subject"] == "How are we doing? A quick question from Shoe & Co"
    assert message["Message-ID"] == message_id_for("survey:1:invite:1", "hello@shoe.example")
    assert re.fullmatch(r"<[0-9a-f]{32}@shoe\.example>", message["Message-ID"])
    assert message.get_content_type() == "multipart/alternative"
    unsubscribe = message["List-Unsubscribe"]
    https, mailto = re.findall(r"<([^>]+)>", unsubscribe)
    assert re.fullmatch(r"https://shop\.example/unsubscribe/[A-Za-z0-9_-]{32}", https)
    assert mailto == "mailto:hello@shoe.example?subject=unsubscribe"
    head = received.content.split(b"\r\n\r\n", 1)[0].decode()
    assert f"List-Unsubscribe: <{https}>,\r\n <{mailto}>\r\n" in head  # plain URIs, never encoded words
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    parts = _parts(message)
    assert set(parts) == {"text/plain", "text/html"}
    for body in parts.values():
        assert "Hello Ana," in body and "Spring check-in" in body and "https://shop.example/s/tok123" in body
        assert "12 High Street" in body and "Springfield 12345" in body and https in body
        assert "April 1, 2026" in body
    assert '<a href="https://shop.example/s/tok123"' in parts["text/html"]
    row = _row(db, result.outbox_id)
    assert (row.status, row.attempts, row.customer_id, row.sent_at) == ("sent", 1, ana, T0)


def test_service_message_has_no_unsubscribe_and_needs_no_consent(db: Database, mail_settings: Settings,
                                                                 smtp: SmtpServer) -> None:
    bo = add_customer(db, "Bo", "bo@example.com", consent=None)
    result = queue(db, mail_settings, bo, "bo@example.com", key="receipt:9", template="message", purpose="service",
                   context={"subject": "Your receipt", "body": "Thanks for your order.\n\nSee you soon <3"})
    assert result.status == "queued"
    assert send_pending(db, mail_settings).sent == 1
    message = smtp.sink.messages[0].parsed()
    assert message["List-Unsubscribe"] is None and message["List-Unsubscribe-Post"] is None
    assert message["Subject"] == "Your receipt"
    parts = _parts(message)
    assert "See you soon <3" in parts["text/plain"] and "See you soon &lt;3" in parts["text/html"]


def test_spanish_customer_gets_spanish_mail(db: Database, mail_settings: Settings, smtp: SmtpServer) -> None:
    eva = add_customer(db, "Eva", "eva@example.es", language="es-MX")
    queue(db, mail_settings, eva, "eva@example.es", key="survey:1:remind:2", template="survey_reminder",
          context=survey_context(first="Eva"))
    send_pending(db, mail_settings)
    message = smtp.sink.messages[0].parsed()
    assert message["Subject"] == "Un recordatorio de Shoe & Co: ¿qué tal lo estamos haciendo?"
    assert message["Content-Language"] == "es"
    for body in _parts(message).values():
        assert "Hola, Eva:" in body and "1 de abril de 2026" in body and "Darse de baja" in body
        assert "Hello" not in body


def test_consent_and_suppression_are_honoured(db: Database, mail_settings: Settings, smtp: SmtpServer) -> None:
    never = add_customer(db, "Nev", "nev@example.com", consent=None)
    refused = add_customer(db, "Ref", "ref@example.com", consent=False)
    unsub = add_customer(db, "Uns", "uns@example.com")
    bounced = add_customer(db, "Bou", "bou@example.com")
    gone = add_customer(db, "Gon", "gon@example.com")
    with db.session(write=True) as s:
        suppress(s, "UNS@example.com ", reason=UNSUBSCRIBED)
        suppress(s, "bou@example.com", reason=HARD_BOUNCE)
        erase_customer(s, gone, by_user_id=None, secret=mail_settings.secret_key.get_secret_value())
    assert queue(db, mail_settings, never, "nev@example.com", key="a").status == "no_consent"
    assert queue(db, mail_settings, refused, "ref@example.com", key="b").status == "no_consent"
    assert queue(db, mail_settings, None, "stranger@example.com", key="c").status == "no_consent"
    assert queue(db, mail_settings, unsub, "uns@example.com", key="d") .status == "suppressed"
    assert queue(db, mail_settings, bounced, "bou@example.com", key="e").status == "suppressed"
    assert queue(db, mail_settings, gone, "gon@example.com", key="f").status == "suppressed"
    # A new record of an erased person's address (erasure marker) gets no marketing either.
    again = add_customer(db, "Gon", "gon@example.com")
    assert queue(db, mail_settings, again, "gon@example.com", key="g").status == "suppressed"
    # Service mail: an unsubscribe does not stop it; a hard bounce and an erasure do.
    assert queue(db, mail_settings, unsub, "uns@example.com", key="h", purpose="service").status == "queued"
    assert queue(db, mail_settings, bounced, "bou@example.com", key="i", purpose="service").status == "suppressed"
    assert queue(db, mail_settings, gone, "gon@example.com", key="j", purpose="service").status == "suppressed"
    with db.session() as s:
        assert s.scalar(select(OutboxMessage.key)) == "h" and len(s.scalars(select(OutboxMessage)).all()) == 1
    send_pending(db, mail_settings)
    assert [m.rcpt_tos for m in smtp.sink.messages] == [["uns@example.com"]]


def test_consent_withdrawn_after_queueing_stops_the_message(db: Database, mail_settings: Settings,
                                                            smtp: SmtpServer) -> None:
    ana = add_customer(db, "Ana", "ana@example.com")
    cy = add_customer(db, "Cy", "cy@example.com")
    dee = add_customer(db, "Dee", "dee@example.com")
    first = queue(db, mail_settings, ana, "ana@example.com", key="k1")
    second = queue(db, mail_settings, cy, "cy@example.com", key="k2")
    third = queue(db, mail_settings, dee, "dee@example.com", key="k3")
    with db.session(write=True) as s:
        s.get(Customer, ana).email_consent = False
        suppress(s, "cy@example.com", reason=UNSUBSCRIBED)
        erase_customer(s, dee, by_user_id=None, secret="x" * 32)  # erasure deletes her queued mail outright
    report = send_pending(db, mail_settings)
    assert (report.sent, report.suppressed, report.cancelled) == (0, 2, 0)
    assert smtp.sink.messages == []
    assert [_row(db, r.outbox_id).status for r in (first, second)] == ["suppressed", "suppressed"]
    with db.session() as s:
        assert s.get(OutboxMessage, third.outbox_id) is None


def test_duplicate_key_queues_once(db: Database, mail_settings: Settings, smtp: SmtpServer) -> None:
    ana = add_customer(db, "Ana", "ana@example.com")
    first = queue(db, mail_settings, ana, "ana@example.com", key="survey:7:invite:1")
    second = queue(db, mail_settings, ana, "ana@example.com", key="survey:7:invite:1",
                   context=survey_context(title="Other"))
    assert (first.status, second.status, second.outbox_id) == ("queued", "duplicate", first.outbox_id)
    assert send_pending(db, mail_settings).sent == 1
    assert send_pending(db, mail_settings).sent == 0
    third = queue(db, mail_settings, ana, "ana@example.com", key="survey:7:invite:1")
    assert third == second
    assert len(smtp.sink.messages) == 1


def test_enqueue_joins_the_callers_transaction(db: Database, mail_settings: Settings) -> None:
    ana = add_customer(db, "Ana", "ana@example.com")
    with pytest.raises(RuntimeError), db.session(write=True) as s:
        assert enqueue(s, key="rolled", customer_id=ana, to="ana@example.com", template="survey_invitation",
                       context=survey_context(), language=None, purpose="marketing",
                       settings=mail_settings).status == "queued"
        raise RuntimeError("the business event failed")
    with db.session() as s:
        assert s.scalars(select(OutboxMessage)).all() == []


def test_temporary_failure_then_success_with_backoff(db: Database, mail_settings: Settings, smtp: SmtpServer) -> None:
    ana = add_customer(db, "Ana", "ana@example.com")
    result = queue(db, mail_settings, ana, "ana@example.com", key="k")
    smtp.sink.script_rcpt("ana@example.com", "451 4.7.1 Greylisted, try again later")
    report = send_pending(db, mail_settings, clock=lambda: T0)
    assert (report.sent, report.retried) == (0, 1) and smtp.sink.messages == []
    row = _row(db, result.outbox_id)
    assert row.status == "pending" and row.attempts == 1 and "451" in (row.last_error or "")
    assert T0 + timedelta(seconds=30) <= row.next_attempt_at <= T0 + timedelta(seconds=60)
    assert send_pending(db, mail_settings, clock=lambda: T0 + timedelta(seconds=29)).claimed == 0
    later = T0 + timedelta(seconds=61)
    assert send_pending(db, mail_settings, clock=lambda: later).sent == 1
    row = _row(db, result.outbox_id)
    assert (row.status, row.attempts, row.sent_at) == ("sent", 2, later)
    assert len(smtp.sink.messages) == 1


def test_backoff_grows_and_gives_up_after_max_attempts(db: Database, mail_settings: Settings,
                                                       smtp: SmtpServer) -> None:
    ana = add_customer(db, "Ana", "ana@example.com")
    result = queue(db, mail_settings, ana, "ana@example.com", key="k")
    smtp.sink.script_rcpt("ana@example.com", *["452 4.2.2 Mailbox full"] * 3)
    now, waits = T0, []
    for _ in range(3):
        send_pending(db, mail_settings, clock=lambda: now, max_attempts=3)
        row = _row(db, result.outbox_id)
        if row.status == "failed":
            break
        waits.append((row.next_attempt_at - now).total_seconds())
        now = row.next_attempt_at
    assert row.status == "failed" and row.attempts == 3 and "452" in (row.last_error or "")
    assert 30 <= waits[0] <= 60 and 60 <= waits[1] <= 120
    assert smtp.sink.messages == []


def test_hard_bounce_suppresses_and_withdraws_consent(db: Database, mail_settings: Settings, smtp: SmtpServer) -> None:
    ana = add_customer(db, "Ana", "ana@example.com")
    result = queue(db, mail_settings, ana, "ana@example.com", key="k")
    smtp.sink.script_rcpt("ana@example.com", "550 5.1.1 No such user here")
    report = send_pending(db, mail_settings, clock=lambda: T0)
    assert (report.bounced, report.sent) == (1, 0)
    row = _row(db, result.outbox_id)
    assert row.status == "bounced" and "550" in (row.last_error or "")
    with db.session() as s:
        assert suppression_reason(s, "Ana@Example.com") == HARD_BOUNCE
        customer = s.get(Customer, ana)
        assert customer.email_consent is False
        [consent] = s.scalars(select(Consent).where(Consent.customer_id == ana)).all()
        assert (consent.purpose, consent.channel, consent.granted, consent.source) == (
            "marketing", "email", False, "hard bounce")
        assert "550" in consent.wording
    assert queue(db, mail_settings, ana, "ana@example.com", key="k2", purpose="service").status == "suppressed"


def test_rejection_at_data_is_a_bounce_too(db: Database, mail_settings: Settings, smtp: SmtpServer) -> None:
    ana = add_customer(db, "Ana", "ana@example.com")
    result = queue(db, mail_settings, ana, "ana@example.com", key="k")
    smtp.sink.script_data("ana@example.com", "554 5.7.1 Rejected")
    assert send_pending(db, mail_settings).bounced == 1
    assert _row(db, result.outbox_id).status == "bounced"


def test_one_bad_address_does_not_stop_the_batch(db: Database, mail_settings: Settings, smtp: SmtpServer) -> None:
    ids = [add_customer(db, f"C{i}", f"c{i}@example.com") for i in range(5)]
    for i, cid in enumerate(ids):
        queue(db, mail_settings, cid, f"c{i}@example.com", key=f"k{i}")
    smtp.sink.script_rcpt("c1@example.com", "550 no")
    smtp.sink.script_rcpt("c3@example.com", "421 4.3.2 busy")
    report = send_pending(db, mail_settings, batch_size=2)
    assert (report.sent, report.bounced, report.retried, report.error) == (3, 1, 1, None)
    assert sorted(m.rcpt_tos[0] for m in smtp.sink.messages) == ["c0@example.com", "c2@example.com", "c4@example.com"]


def test_limit_sends_at_most_that_many(db: Database, mail_settings: Settings, smtp: SmtpServer) -> None:
    for i in range(4):
        cid = add_customer(db, f"C{i}", f"c{i}@example.com")
        queue(db, mail_settings, cid, f"c{i}@example.com", key=f"k{i}")
    assert send_pending(db, mail_settings, limit=3).sent == 3
    assert send_pending(db, mail_settings, limit=3).sent == 1
    assert len(smtp.sink.deduped()) == 4


def test_server_down_keeps_messages_queued(db: Database, mail_settings: Settings) -> None:
    from smtp_sink import free_port

    ana = add_customer(db, "Ana", "ana@example.com")
    result = queue(db, mail_settings, ana, "ana@example.com", key="k")
    down = mail_settings.model_copy(update={"smtp_port": free_port(), "smtp_timeout_seconds": 2})
    report = send_pending(db, down, clock=lambda: T0)
    assert report.sent == 0 and report.error is not None and "cannot be reached" in report.error
    row = _row(db, result.outbox_id)
    assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 0, T0)


def test_marketing_needs_a_postal_address(db: Database, mail_settings: Settings) -> None:
    ana = add_customer(db, "Ana", "ana@example.com")
    bare = mail_settings.model_copy(update={"business_address": "  "})
    with pytest.raises(ValidationFailed) as caught:
        queue(db, bare, ana, "ana@example.com", key="k")
    assert caught.value.field == "business_address"


@pytest.mark.parametrize(("field", "change"), [
    ("to", {"to": "not an address"}), ("to", {"to": "a@b.example\r\nBcc: x@y.example"}),
    ("key", {"key": ""}), ("key", {"key": "a\nb"}), ("template", {"template": "../secret"}),
    ("template", {"template": "nope"}), ("purpose", {"purpose": "spam"}),
    ("survey_url", {"context": {**survey_context(), "survey_url": "javascript:alert(1)"}}),
    ("context", {"context": {"customer_first_name": "Ana"}}),
])
def test_bad_input_names_the_field(db: Database, mail_settings: Settings, field: str, change: dict) -> None:
    ana = add_customer(db, "Ana", "ana@example.com")
    args = {"key": "k", "customer_id": ana, "to": "ana@example.com", "template": "survey_invitation",
            "context": survey_context(), "language": None, "purpose": "marketing", **change}
    with pytest.raises(ValidationFailed) as caught, db.session(write=True) as s:
        enqueue(s, settings=mail_settings, **args)
    assert caught.value.field == field


def test_erasure_marker_digest_is_the_ingest_one(mail_settings: Settings) -> None:
    # The outbox reuses ingest's marker: the same normalisation must match both ways.
    secret = mail_settings.secret_key.get_secret_value()
    assert suppression_digests(secret, email=" Gon@Example.com", phone=None) == suppression_digests(
        secret, email="gon@example.com", phone=None)
