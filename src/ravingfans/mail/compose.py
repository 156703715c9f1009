"""Building e-mail: templates rendered in the customer's language, then one RFC 5322 message with safe headers.

Templates live in ``mail/templates``: ``NAME.subject.txt``, ``NAME.txt`` and ``NAME.html`` (the HTML is
autoescaped; the text and subject are not, as they are not markup). Texts are translated with the
gettext catalogs of :mod:`ravingfans.i18n` (``locale/<lang>/LC_MESSAGES/mail.po``).

Headers are made with :class:`email.message.EmailMessage` under :data:`email.policy.SMTP`: names and
subjects are cleaned of control characters first (a line break in a customer's name becomes a space),
non-ASCII text is RFC 2047-encoded, and the policy itself refuses any CR or LF left in a header, so no
text from a customer or a form can add a header or a recipient.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from importlib.resources import files
from typing import Any
from urllib.parse import quote

from babel.dates import format_date
from jinja2 import Environment, TemplateNotFound, UndefinedError

from ravingfans.errors import ValidationFailed
from ravingfans.i18n import best_language, translated_environment

TEMPLATES = ("message", "survey_invitation", "survey_reminder")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_ADDRESS = re.compile(r"^[^\s@<>()\[\]\\,;:\"]+@[^\s@<>()\[\]\\,;:\"]+\.?[^\s@<>()\[\]\\,;:\"]*$")
MAX_SUBJECT = 200
# SMTP's policy (CRLF, refuses CR/LF in header values), with every part 7-bit (quoted-printable or base64):
# the stored message is plain ASCII and passes any server, 8BITMIME or not.
POLICY = SMTP.clone(cte_type="7bit")
_WIRE = POLICY.clone(refold_source="none")  # headers set raw (List-Unsubscribe) go out as they were folded
_UNSAFE_URI = re.compile(r"[\s<>\"'\x00-\x1f\x7f-\x9f]|[^\x00-\x7f]")


@dataclass(frozen=True, slots=True)
class Rendered:
    """A template rendered for one customer: subject, plain text and HTML."""

    subject: str
    text: str
    html: str


def one_line(value: object, limit: int = MAX_SUBJECT) -> str:
    """Text safe for a header: control characters (CR, LF, tab, ...) become single spaces; trimmed and capped."""
    return _CONTROL.sub(" ", str(value)).strip()[:limit]


# RFC 5322 "specials" that give a display name structure (groups, address lists, angle addresses, comments).
# The standard library quotes a name holding them, but drops the quotes when it folds a long header, so
# "Bcc: x@evil.example ..." would become a group with an extra recipient: names lose them instead.
_PHRASE_SPECIALS = re.compile(r'[()<>\[\]:;@\\,"]+')


def display_name(value: object, limit: int = 120) -> str:
    """A person's or business's name fit for From/To: one line, without the characters that make structure."""
    return " ".join(_PHRASE_SPECIALS.sub(" ", one_line(value, 10 * limit)).split())[:limit]


def check_address(address: str, field: str = "to") -> str:
    """The address trimmed, or ValidationFailed naming the field (one @, no spaces, brackets or line breaks)."""
    cleaned = address.strip() if isinstance(address, str) else ""
    if not cleaned or len(cleaned) > 254 or not _ADDRESS.fullmatch(cleaned) or not cleaned.isascii():
        raise ValidationFailed(f"{field}: {address!r} is not an e-mail address this app can send to.", field=field,
                               hint="Use a plain address such as ana@example.com.")
    return cleaned


def message_id_for(key: str, mail_from: str) -> str:
    """The stable Message-ID of the outbox key: the same key always gives the same id (resends dedupe on it)."""
    domain = mail_from.rsplit("@", 1)[-1].strip() or "localhost"
    return f"<{hashlib.sha256(key.encode('utf-8')).hexdigest()[:32]}@{domain}>"


def _folder() -> str:
    return str(files("ravingfans").joinpath("mail", "templates"))


def _environment(language: str, autoescape: bool) -> Environment:
    """The e-mail templates translated into ``language`` (HTML autoescaped, text not)."""
    return translated_environment(_folder(), language, autoescape=autoescape, keep_trailing_newline=True)


def _shown(value: Any, language: str) -> Any:
    """Dates as the customer's language writes them; other values as given."""
    if isinstance(value, datetime):
        return format_date(value.date(), format="long", locale=language)
    if isinstance(value, date):
        return format_date(value, format="long", locale=language)
    return value


def _checked_context(context: Mapping[str, Any], language: str) -> dict[str, Any]:
    prepared: dict[str, Any] = {}
    for name, value in context.items():
        if name.endswith("_url") and value is not None and (
                not isinstance(value, str) or not value.startswith(("https://", "http://")) or _CONTROL.search(value)):
            raise ValidationFailed(f"{name}: a link in an e-mail must be an http(s) address, not {value!r}.",
                                   field=name)
        value = _shown(value, language)
        # Names and titles are one line: a line break typed into a name does not start a new line (or header).
        prepared[name] = one_line(value, 1000) if isinstance(value, str) and name != "body" else value
    return prepared


def render(template: str, context: Mapping[str, Any], language: str | None, *, business_name: str,
           business_address: str = "", unsubscribe_url: str | None = None) -> Rendered:
    """Render ``template`` (subject, text, HTML) in the customer's language, with the footer: the business's name
    and postal address, and for marketing mail the unsubscribe link. ValidationFailed for an unknown template."""
    code = best_language(language)
    if not re.fullmatch(r"[a-z_]{1,64}", template) or template.startswith("_"):
        raise ValidationFailed(f"template: {template!r} is not a template name.", field="template",
                               hint=f"Known templates: {', '.join(TEMPLATES)}.")
    values = _checked_context(context, code)
    values.setdefault("business_name", business_name)
    if isinstance(values.get("body"), str):
        paragraphs = re.split(r"\n\s*\n", values["body"].replace("\r\n", "\n").strip())
        values["body_paragraphs"] = [p.split("\n") for p in paragraphs if p.strip()]
    values.update(language=code, unsubscribe_url=unsubscribe_url,
                  business_address_lines=[line.strip() for line in business_address.splitlines() if line.strip()])
    try:
        subject = _environment(code, False).get_template(f"{template}.subject.txt").render(values)
        text = _environment(code, False).get_template(f"{template}.txt").render(values)
        html = _environment(code, True).get_template(f"{template}.html").render(values)
    except TemplateNotFound:
        raise ValidationFailed(f"template: there is no e-mail template {template!r}.", field="template",
                               hint=f"Known templates: {', '.join(TEMPLATES)}.") from None
    except UndefinedError as exc:
        raise ValidationFailed(f"context: the {template!r} template needs a value the context lacks ({exc.message}).",
                               field="context") from None
    text = re.sub(r"\n{3,}", "\n\n", text.strip()) + "\n"
    return Rendered(subject=one_line(subject), text=text, html=html)


@dataclass(frozen=True, slots=True)
class Envelope:
    """Who a message is from and to, and how it is identified."""

    from_name: str
    from_address: str
    to_address: str
    to_name: str
    message_id: str
    date: datetime
    language: str
    unsubscribe_url: str | None = None  # marketing mail only
    unsubscribe_mailto: str | None = None


def unsubscribe_mailto(mail_from: str) -> str:
    """The mailto form of the unsubscribe link (RFC 2369): a message to the sender with the subject "unsubscribe"."""
    return f"mailto:{quote(mail_from, safe='@.+-_')}?subject=unsubscribe"


def build_message(rendered: Rendered, envelope: Envelope) -> EmailMessage:
    """The whole message: multipart/alternative (text, HTML), From/To/Subject/Date/Message-ID, and for marketing
    mail the List-Unsubscribe and List-Unsubscribe-Post (RFC 8058) headers."""
    message = EmailMessage(policy=POLICY)
    message["Subject"] = one_line(rendered.subject)
    message["From"] = Address(display_name=display_name(envelope.from_name), addr_spec=envelope.from_address)
    to_name = display_name(envelope.to_name)
    message["To"] = Address(display_name=to_name, addr_spec=envelope.to_address) if to_name else Address(
        addr_spec=envelope.to_address)
    message["Date"] = format_datetime(envelope.date)
    message["Message-ID"] = envelope.message_id
    if envelope.unsubscribe_url is not None:
        uris = [envelope.unsubscribe_url] + ([envelope.unsubscribe_mailto] if envelope.unsubscribe_mailto else [])
        if any(_UNSAFE_URI.search(uri) for uri in uris):
            raise ValueError(f"unsafe unsubscribe link: {uris!r}")
        links = [f"<{uri}>" for uri in uris]
        # Set raw, one URI per line: the library would turn a URI longer than a line into RFC 2047 encoded
        # words, which mail clients do not read as a link. Both URIs are made here and checked just above.
        message.set_raw("List-Unsubscribe", ",\n ".join(links))
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(rendered.text, subtype="plain", charset="utf-8")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8")
    message["Content-Language"] = envelope.language  # after the parts: set_content moves Content-* headers into them
    return message


def as_wire(message: EmailMessage) -> str:
    """The message as sent: ASCII, CRLF line ends, headers folded and encoded."""
    return message.as_bytes(policy=_WIRE).decode("ascii")
