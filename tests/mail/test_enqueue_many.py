"""Queuing in batches: the same answers as one message at a time, with the checks made per batch."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

import pytest
from helpers_mail import T0, add_customer, queue, survey_context
from smtp_sink import SmtpServer
from sqlalchemy import func, select
from sqlcount import counted

from ravingfans.config import Settings
from ravingfans.db import Database
from ravingfans.db.models import OutboxMessage, UnsubscribeToken
from ravingfans.errors import NotFound, ValidationFailed
from ravingfans.mail import send_pending
from ravingfans.mail.outbox import Outgoing, enqueue_many
from ravingfans.mail.unsubscribe import HARD_BOUNCE, UNSUBSCRIBED, find_token, suppress
from ravingfans.services.erasure import erase_customer


def _out(key: str, customer_id: int | None, to: str, purpose: str = "marketing") -> Outgoing:
    return Outgoing(key=key, customer_id=customer_id, to=to, template="survey_invitation", context=survey_context(),
                    language=None, purpose=purpose)  # type: ignore[arg-type]


def _count(db: Database, model: type) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_a_batch_gives_each_message_the_answer_enqueue_would(db: Database, mail_settings: Settings,
                                                             smtp: SmtpServer) -> None:
    ana = add_customer(db, "Ana", "ana@example.com")
    never = add_customer(db, "Nev", "nev@example.com", consent=None)
    unsub = add_customer(db, "Uns", "uns@example.com")
    bounced = add_customer(db, "Bou", "bou@example.com")
    gone = add_customer(db, "Gon", "gon@example.com")
    old = add_customer(db, "Old", "old@example.com")
    with db.session(write=True) as s:
        suppress(s, "uns@example.com", reason=UNSUBSCRIBED)
        suppress(s, "bou@example.com", reason=HARD_BOUNCE)
        erase_customer(s, gone, by_user_id=None, secret=mail_settings.secret_key.get_secret_value())
    again = add_customer(db, "Gon", "GON@example.com")  # a new record of the erased person's address
    earlier = queue(db, mail_settings, old, "old@example.com", key="old")
    batch = [_out("a", ana, "ana@example.com"), _out("b", never, "nev@example.com"),
             _out("c", unsub, "uns@example.com"), _out("d", unsub, "uns@example.com", "service"),
             _out("e", bounced, "bou@example.com", "service"), _out("f", gone, "gon@example.com", "service"),
             _out("g", again, "GON@example.com"), _out("old", old, "old@example.com"),
             _out("a", ana, "ana@example.com"), _out("h", None, "stranger@example.com", "service")]
    with db.session(write=True) as s:
        results = enqueue_many(s, batch, settings=mail_settings, clock=lambda: T0)
    assert [r.status for r in results] == ["queued", "no_consent", "suppressed", "queued", "suppressed",
                                           "suppressed", "suppressed", "duplicate", "duplicate", "queued"]
    assert results[7].outbox_id == earlier.outbox_id and results[8].outbox_id == results[0].outbox_id
    assert all(r.outbox_id is None for r in results if r.status in ("no_consent", "suppressed"))
    with db.session() as s:
        keys = dict(s.execute(select(OutboxMessage.key, OutboxMessage.id)).all())
    assert keys == {"old": earlier.outbox_id, "a": results[0].outbox_id, "d": results[3].outbox_id,
                    "h": results[9].outbox_id}
    assert _count(db, UnsubscribeToken) == 2  # one link per marketing message written ("old" and "a")
    report = send_pending(db, mail_settings, clock=lambda: T0)
    assert report.sent == 4
    by_rcpt = {m.rcpt_tos[0]: BytesParser(policy=policy.default).parsebytes(m.content) for m in smtp.sink.messages}
    assert set(by_rcpt) == {"old@example.com", "ana@example.com", "uns@example.com", "stranger@example.com"}
    assert by_rcpt["uns@example.com"]["List-Unsubscribe"] is None  # service mail carries no unsubscribe link
    link = by_rcpt["ana@example.com"]["List-Unsubscribe"]
    token = link.split("/unsubscribe/", 1)[1].split(">", 1)[0]
    with db.session() as s:
        found = find_token(s, token)
        assert found is not None and found.customer_id == ana


def test_one_bad_address_writes_nothing_and_names_the_field(db: Database, mail_settings: Settings) -> None:
    ana = add_customer(db, "Ana", "ana@example.com")
    with pytest.raises(ValidationFailed) as caught, db.session(write=True) as s:
        enqueue_many(s, [_out("a", ana, "ana@example.com"), _out("b", ana, "not an address")],
                     settings=mail_settings, clock=lambda: T0)
    assert caught.value.field == "to"
    with pytest.raises(NotFound), db.session(write=True) as s:
        enqueue_many(s, [_out("a", ana, "ana@example.com"), _out("b", 999_999, "x@example.com")],
                     settings=mail_settings, clock=lambda: T0)
    assert _count(db, OutboxMessage) == 0 and _count(db, UnsubscribeToken) == 0


def test_queries_do_not_grow_with_the_batch(db: Database, mail_settings: Settings) -> None:
    ids = [add_customer(db, f"C{n}", f"c{n}@example.com") for n in range(60)]

    def statements(n: int, prefix: str) -> int:
        with counted(db) as seen, db.session(write=True) as s:
            results = enqueue_many(s, [_out(f"{prefix}{i}", cid, f"c{i}@example.com")
                                       for i, cid in enumerate(ids[:n])], settings=mail_settings, clock=lambda: T0)
        assert [r.status for r in results] == ["queued"] * n
        return len(seen)

    assert statements(60, "big") == statements(3, "small")
