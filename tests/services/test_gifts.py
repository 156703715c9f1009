"""The gift catalog, and gifts reaching customers by e-mail through a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from helpers_campaigns import T0, add_customer, add_run, campaign_settings
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "mail"))  # the SMTP test server lives with the mail tests
from smtp_sink import SmtpServer, running_smtp  # noqa: E402

from ravingfans.clock import fixed  # noqa: E402
from ravingfans.config import Settings  # noqa: E402
from ravingfans.db import Database  # noqa: E402
from ravingfans.db.models import Customer, OutboxMessage  # noqa: E402
from ravingfans.errors import Conflict, NotFound, ValidationFailed  # noqa: E402
from ravingfans.mail import send_pending  # noqa: E402
from ravingfans.services.campaigns import create_campaign, start_campaign  # noqa: E402
from ravingfans.services.gifts import add_gift, get_gift, list_gifts, parse_value, retire_gift  # noqa: E402


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server for this test."""
    with running_smtp() as server:
        yield server


# --- the catalog ----------------------------------------------------------------------------------------------


def test_each_kind_of_gift_is_added_with_what_it_needs(db: Database) -> None:
    with db.session(write=True) as s:
        code = add_gift(s, name="Ten off", kind="discount_code", code="BACK10", value="10", clock=fixed(T0))
        voucher = add_gift(s, name="Voucher", kind="Voucher", value="25.50")
        item = add_gift(s, name="Socks", kind="free_item", description="A pair of wool socks\nany colour")
        note = add_gift(s, name="Card", kind="note", description="A handwritten thank-you card")
        assert (code.kind, code.code, code.value, code.created_at) == ("discount_code", "BACK10", Decimal("10.00"), T0)
        assert voucher.kind == "voucher" and voucher.value == Decimal("25.50") and voucher.code is None
        assert item.description == "A pair of wool socks\nany colour" and item.kind_label == "Free item"
        assert note.kind_label == "Handwritten note" and note.active


@pytest.mark.parametrize(("values", "message"), [
    ({"name": "", "kind": "voucher", "value": "5"}, "Name: write something"),
    ({"name": "X", "kind": "hug"}, "Kind: choose one of"),
    ({"name": "X", "kind": "discount_code", "value": "5"}, "needs its code and its value"),
    ({"name": "X", "kind": "discount_code", "code": "SAVE"}, "needs its code and its value"),
    ({"name": "X", "kind": "discount_code", "code": "SAVE 10", "value": "5"}, "Code: letters, digits"),
    ({"name": "X", "kind": "voucher"}, "A voucher needs its value"),
    ({"name": "X", "kind": "voucher", "value": "-5"}, "Value: an amount above 0"),
    ({"name": "X", "kind": "voucher", "value": "5.555"}, "at most 2 decimal places"),
    ({"name": "X", "kind": "voucher", "value": "ten"}, "is not an amount"),
    ({"name": "X", "kind": "voucher", "value": "NaN"}, "Value: an amount above 0"),
    ({"name": "X", "kind": "free_item"}, "A free item needs a description"),
    ({"name": "X", "kind": "note", "value": "3"}, "handwritten note has no code or value"),
    ({"name": "X\x00", "kind": "note"}, "control characters"),
])
def test_bad_gifts_are_refused_naming_the_field(db: Database, values: dict[str, str], message: str) -> None:
    with db.session(write=True) as s, pytest.raises(ValidationFailed, match=message):
        add_gift(s, **values)


def test_names_are_unique_and_retiring_keeps_the_gift(db: Database, database_url: str) -> None:
    conf = campaign_settings(database_url)
    with db.session(write=True) as s:
        first = add_gift(s, name="Ten off", kind="voucher", value="10").id
        add_gift(s, name="Socks", kind="free_item", description="Socks")
        with pytest.raises(Conflict, match="already a gift called 'ten OFF'"):
            add_gift(s, name="ten OFF", kind="voucher", value="10")
        people = {add_customer(s, "Ana"): "Lost"}
        add_run(s, people)
        create_campaign(s, conf, name="Back", kind="win_back", gift_id=first, segments=["Lost"])
        assert retire_gift(s, first).active is False
        assert retire_gift(s, first).active is False  # twice is harmless
        listed = list_gifts(s)
        assert [(g.name, g.active, g.campaigns) for g in listed] == [("Socks", True, 0), ("Ten off", False, 1)]
        assert [g.name for g in list_gifts(s, include_retired=False)] == ["Socks"]
        assert get_gift(s, first).name == "Ten off"
        with pytest.raises(NotFound, match="no gift number 77"):
            retire_gift(s, 77)
    assert parse_value(" 7.5 ") == Decimal("7.50") and parse_value("") is None


# --- by e-mail, through a real SMTP server -------------------------------------------------------------------------


def test_gift_mail_reaches_only_customers_who_agreed_in_their_language(db: Database, database_url: str,
                                                                       smtp: SmtpServer) -> None:
    conf = campaign_settings(database_url, smtp_host=smtp.host, smtp_port=smtp.port, smtp_timeout_seconds=5)
    with db.session(write=True) as s:
        ana = add_customer(s, "Ana", language="es")
        bob = add_customer(s, "Bob")
        cy = add_customer(s, "Cy", consent=False)
        di = add_customer(s, "Di", consent=None)
        ed = add_customer(s, "Ed")  # agrees now, withdraws before the outbox is drained
        add_run(s, {c: "At Risk" for c in (ana, bob, cy, di, ed)})
        gift = add_gift(s, name="Ten off", kind="discount_code", code="BACK10", value="10").id
        cid = create_campaign(s, conf, name="Back", kind="win_back", gift_id=gift, segments=["At Risk"],
                              holdout_share=0.0, window_days=30, message="We restocked your size.",
                              clock=fixed(T0)).id
        report = start_campaign(s, conf, cid, clock=fixed(T0))
        assert report.left_out["no_consent"] == 2 and report.treated == 3
    with db.session(write=True) as s:
        customer = s.get(Customer, ed)
        assert customer is not None
        customer.email_consent = False
    sent = send_pending(db, conf, clock=fixed(T0))
    assert sent.sent == 2 and sent.suppressed == 1 and sent.error is None
    received = {m.rcpt_tos[0]: m.parsed() for m in smtp.sink.messages}
    assert set(received) == {"ana@example.com", "bob@example.com"}
    spanish, english = received["ana@example.com"], received["bob@example.com"]
    assert spanish["Subject"] == "Le echamos de menos en Shoe & Co: un regalo para usted"
    assert english["Subject"] == "We miss you at Shoe & Co: a gift for you"
    text = english.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "Your code: BACK10" in text and "€10.00 off your next purchase." in text
    assert "We restocked your size." in text and "Valid until March 31, 2026." in text
    assert "12 High Street" in text and "https://shop.example/unsubscribe/" in text
    assert english["List-Unsubscribe"] and english["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = spanish.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert "BACK10" in html and "10,00\xa0€ de descuento" in html and "Válido hasta el 31 de marzo de 2026" in html
    with db.session() as s:
        statuses = dict(s.execute(select(OutboxMessage.key, OutboxMessage.status)).all())
        assert statuses == {f"campaign:{cid}:gift:{ana}": "sent", f"campaign:{cid}:gift:{bob}": "sent",
                            f"campaign:{cid}:gift:{ed}": "suppressed"}
    assert send_pending(db, conf, clock=fixed(T0)).sent == 0  # nothing goes twice
    assert len(smtp.sink.messages) == 2


def test_each_gift_kind_reads_right_in_the_mail(db: Database, database_url: str) -> None:
    conf: Settings = campaign_settings(database_url)
    with db.session(write=True) as s:
        people = [add_customer(s, name) for name in ("Ana", "Bob")]
        add_run(s, {c: "Champions" for c in people})
        voucher = add_gift(s, name="Gift card", kind="voucher", value="25", code="GC-1").id
        socks = add_gift(s, name="Socks", kind="free_item", description="Wool socks, any colour").id
        for n, gift in enumerate((voucher, socks)):
            cid = create_campaign(s, conf, name=f"Thanks {n}", kind="appreciation", gift_id=gift,
                                  segments=["Champions"], holdout_share=0.0, clock=fixed(T0)).id
            start_campaign(s, conf, cid, clock=fixed(T0))
        mails = list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    assert len(mails) == 4 and {m.subject for m in mails} == {"Thank you from Shoe & Co: a gift for you"}
    texts = [_plain(m.raw) for m in mails]
    assert "Thank you for being such a good customer." in texts[0]
    assert "A voucher worth €25.00." in texts[0] and "Your voucher code: GC-1" in texts[0]
    assert "Your gift: Socks" in texts[2] and "Wool socks, any colour" in texts[2] and "code" not in texts[2]


def _plain(raw: str) -> str:
    from email import message_from_string, policy

    message = message_from_string(raw, policy=policy.default)
    return message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr,attr-defined]


def test_every_text_of_the_gift_mail_has_a_spanish_translation() -> None:
    from babel.messages.extract import extract_from_dir
    from babel.messages.pofile import read_po

    src = Path(__file__).resolve().parents[2] / "src" / "ravingfans"
    found = extract_from_dir(str(src / "mail" / "templates"), method_map=[("gift.*", "jinja2")],
                             options_map={"gift.*": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}})
    wanted = {m if isinstance(m, str) else m[0] for _file, _line, m, _comments, _context in found}
    assert {"Your gift: %(gift)s", "Valid until %(date)s.", "Hello,"} <= wanted
    catalogs = {}
    for name in ("mail.po", "campaigns.po"):  # greetings come from mail.po, the rest from campaigns.po
        with (src / "locale" / "es" / "LC_MESSAGES" / name).open("rb") as handle:
            catalogs[name] = read_po(handle, locale="es")
    missing = sorted(m for m in wanted if not any(c.get(m) and c.get(m).string for c in catalogs.values()))
    assert missing == [], f"translate these in campaigns.po: {missing}"
    ours = {m.id for m in catalogs["campaigns.po"] if m.id}
    assert ours <= wanted, f"campaigns.po holds texts no gift template uses: {sorted(ours - wanted)}"
