"""Building messages: no text can inject a header, Unicode is encoded, every template text is translated."""

from __future__ import annotations

from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ravingfans.mail.compose import Envelope, as_wire, build_message, display_name, message_id_for, one_line, render

SRC = Path(__file__).resolve().parents[2] / "src" / "ravingfans"
HEADERS = {"subject", "from", "to", "date", "message-id", "mime-version", "content-type", "content-language",
           "list-unsubscribe", "list-unsubscribe-post"}
_PIECES = st.sampled_from(["a", "b", " ", "é", "漢", "\r", "\n", "\r\n", "\t", ":", "<", ">", '"', "@", ",", ";",
                           "=?", "?=", "\x00", "\x0b", "\u2028", "\r\nBcc: x@evil.example",
                           "\r\nTo: y@evil.example\r\n", "\n\nbody"])
hostile = st.lists(_PIECES, max_size=12).map("".join) | st.text(max_size=30)


def _wire(first: str, business: str, subject: str) -> bytes:
    rendered = render("message", {"subject": subject, "body": "Hi", "customer_first_name": first}, "en",
                      business_name=business, business_address="1 Main St", unsubscribe_url="https://s.example/u/t")
    message = build_message(rendered, Envelope(
        from_name=business, from_address="hello@shoe.example", to_address="ana@example.com", to_name=first,
        message_id=message_id_for("k", "hello@shoe.example"), date=datetime(2026, 1, 1, tzinfo=UTC), language="en",
        unsubscribe_url="https://s.example/u/t", unsubscribe_mailto="mailto:hello@shoe.example?subject=unsubscribe"))
    return as_wire(message).encode("ascii")


def _squeezed(text: str) -> str:
    return "".join(text.split())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=hostile, business=hostile, subject=hostile)
def test_no_text_can_add_a_header_or_a_recipient(first: str, business: str, subject: str) -> None:
    parsed = BytesParser(policy=policy.default).parsebytes(_wire(first, business, subject))
    assert {name.lower() for name in parsed.keys()} == HEADERS
    assert [a.addr_spec for a in parsed["To"].addresses] == ["ana@example.com"]
    assert [a.addr_spec for a in parsed["From"].addresses] == ["hello@shoe.example"]
    assert _squeezed(str(parsed["Subject"])) == _squeezed(one_line(subject))
    # Compared without spaces: the standard library's folding may split a long encoded word with one.
    assert _squeezed(parsed["From"].addresses[0].display_name) == _squeezed(display_name(business))
    assert _squeezed(parsed["To"].addresses[0].display_name) == _squeezed(display_name(first))


def test_a_long_name_full_of_header_syntax_stays_one_recipient() -> None:
    # Found by the test above: the standard library dropped the quotes around a long name when folding.
    first = "\r\nBcc: x@evil.example" * 4
    parsed = BytesParser(policy=policy.default).parsebytes(_wire(first, "Shop, Inc. <shop@evil.example>", "Hi"))
    assert [a.addr_spec for a in parsed["To"].addresses] == ["ana@example.com"]
    assert [a.addr_spec for a in parsed["From"].addresses] == ["hello@shoe.example"]
    assert parsed["To"].addresses[0].display_name.startswith("Bcc x evil.example")


def test_unicode_names_are_encoded_words() -> None:
    wire = _wire("Zoë 漢字", "Café Ñandú", "¿Qué tal?").decode("ascii")
    head = wire.split("\r\n\r\n", 1)[0]
    assert "=?utf-8?" in head and "Zoë" not in head
    parsed = BytesParser(policy=policy.default).parsebytes(wire.encode())
    assert parsed["From"].addresses[0].display_name == "Café Ñandú" and str(parsed["Subject"]) == "¿Qué tal?"
    assert parsed["To"].addresses[0].display_name == "Zoë 漢字"


def test_every_customer_text_has_a_spanish_translation() -> None:
    translated: set[str] = set()
    for po in sorted((SRC / "locale" / "es" / "LC_MESSAGES").glob("*.po")):  # one catalog per feature
        with po.open("rb") as handle:
            translated |= {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(handle, locale="es")
                           if m.id and m.string}
    wanted = set()
    for folder in (SRC / "mail" / "templates", SRC / "web" / "templates" / "unsubscribe"):
        for _file, _line, message, _comments, _context in extract_from_dir(
                folder, method_map=[("**.html", "jinja2"), ("**.txt", "jinja2")],
                options_map={"**": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}):
            wanted.add(message if isinstance(message, str) else message[0])
    assert len(wanted) >= 15
    missing = sorted(wanted - translated)
    assert missing == [], f"translate these in a catalog under locale/es/LC_MESSAGES: {missing}"


def test_a_header_value_with_a_bare_line_break_is_refused() -> None:
    # Names and subjects are cleaned before they get here; the last check stops anything that slipped through.
    rendered = render("message", {"subject": "Hi", "body": "Hi", "customer_first_name": "Ana"}, "en",
                      business_name="Shop", business_address="1 Main St")
    with pytest.raises(ValueError, match="Message-ID"):
        build_message(rendered, Envelope(
            from_name="Shop", from_address="hello@shoe.example", to_address="ana@example.com", to_name="Ana",
            message_id="<a@b>\r\nBcc: x@evil.example", date=datetime(2026, 1, 1, tzinfo=UTC), language="en"))


def test_the_stored_message_is_seven_bit_and_reads_back_as_written() -> None:
    wire = _wire("Zoë", "Café", "Hi")
    assert all(byte < 128 for byte in wire) and b"\r\n" in wire and b"\n" not in wire.replace(b"\r\n", b"")
    parsed = BytesParser(policy=policy.default).parsebytes(wire)
    assert parsed.get_body(("plain",)).get_content().startswith("Hello Zoë")
    assert parsed.get_body(("html",)).get_content().lstrip().lower().startswith("<!doctype html>")
    assert parsed["Content-Language"] == "en" and parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
