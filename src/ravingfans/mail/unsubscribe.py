"""Unsubscribe links and the suppression list: who gets no more marketing mail (or no mail at all), and why.

A link's token is 24 random bytes (192 bits, URL-safe base64); only its SHA-256 is stored, so neither
guessing nor a database leak forges a link, and a token names one address only. Following a link
(the web page's POST, or a mail provider's RFC 8058 one-click POST) suppresses the address at once
and records the withdrawal of e-mail marketing consent on the customer. Addresses are kept on the
suppression list only as SHA-256 digests of their normalised form, with no customer id.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ravingfans.clock import Clock, utcnow
from ravingfans.db.models import Consent, Customer, MailSuppression, UnsubscribeToken
from ravingfans.errors import NotFound

log = logging.getLogger(__name__)

TOKEN_BYTES = 24
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{32}$")  # what token_urlsafe(24) gives; anything else is refused unread
UNSUBSCRIBED = "unsubscribed"
HARD_BOUNCE = "hard_bounce"
#: Reasons that stop service mail too (the address does not exist); an unsubscribe stops marketing only.
BLOCKS_ALL = frozenset({HARD_BOUNCE})


def normalise_address(address: str) -> str:
    """The form addresses are compared in: trimmed and lower-case."""
    return address.strip().lower()


def address_digest(address: str) -> str:
    """Hex SHA-256 of the normalised address: the suppression list's key."""
    return hashlib.sha256(normalise_address(address).encode("utf-8")).hexdigest()


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def issue_tokens(session: Session, wanted: Sequence[tuple[str, int | None, str]], *,
                 clock: Clock = utcnow) -> list[str]:
    """New unsubscribe tokens for many ``(address, customer_id, language)`` at once (one INSERT); the tokens."""
    now = clock()
    tokens = [secrets.token_urlsafe(TOKEN_BYTES) for _ in wanted]
    if tokens:
        session.execute(insert(UnsubscribeToken), [
            {"token_hash": _token_hash(token), "address_digest": address_digest(address), "customer_id": customer_id,
             "language": language, "created_at": now}
            for token, (address, customer_id, language) in zip(tokens, wanted, strict=True)])
    return tokens


def find_token(session: Session, token: str) -> UnsubscribeToken | None:
    """The stored link for ``token``, or None (a malformed token is refused without a lookup)."""
    if not _TOKEN_SHAPE.fullmatch(token):
        return None
    return session.get(UnsubscribeToken, _token_hash(token))


def suppress(session: Session, address_or_digest: str, *, reason: str, clock: Clock = utcnow) -> None:
    """Put an address on the suppression list (a hard bounce wins over an unsubscribe; nothing is ever lifted)."""
    digest = address_or_digest if re.fullmatch(r"[0-9a-f]{64}", address_or_digest) else address_digest(
        address_or_digest)
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(MailSuppression).values(digest=digest, reason=reason, created_at=clock())
    if reason == HARD_BOUNCE:
        stmt = stmt.on_conflict_do_update(index_elements=["digest"], set_={"reason": HARD_BOUNCE})
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=["digest"])
    session.execute(stmt)


def suppressions(session: Session, addresses: Iterable[str]) -> dict[str, str]:
    """For the given addresses, the reason each suppressed one is on the list (by digest)."""
    digests = sorted({address_digest(a) for a in addresses})
    found: dict[str, str] = {}
    for start in range(0, len(digests), 500):
        chunk = digests[start:start + 500]
        found.update(session.execute(select(MailSuppression.digest, MailSuppression.reason)
                                     .where(MailSuppression.digest.in_(chunk))).all())
    return found


def suppression_reason(session: Session, address: str) -> str | None:
    """Why this address gets no more marketing (or no mail at all), or None."""
    row = session.get(MailSuppression, address_digest(address))
    return row.reason if row is not None else None


def withdraw_email_consent(session: Session, customer_id: int | None, *, source: str, wording: str = "",
                           clock: Clock = utcnow) -> bool:
    """Record that the customer withdrew e-mail marketing consent (and clear the flag); False if erased or unknown."""
    if customer_id is None:
        return False
    customer = session.get(Customer, customer_id)
    if customer is None or customer.erased_at is not None:
        return False
    now = clock()
    session.add(Consent(customer_id=customer.id, purpose="marketing", channel="email", granted=False, at=now,
                        source=source, wording=wording))
    customer.email_consent = False
    customer.updated_at = now
    return True


@dataclass(frozen=True, slots=True)
class Unsubscribed:
    """What following an unsubscribe link did: ``first`` is False when the link had been used before."""

    first: bool
    language: str


def unsubscribe(session: Session, token: str, *, source: str = "one-click unsubscribe",
                clock: Clock = utcnow) -> Unsubscribed:
    """Suppress the link's address for marketing and record the consent withdrawal; NotFound for a bad token.

    Idempotent: using a link again changes nothing and is answered the same way.
    """
    found = find_token(session, token)
    if found is None:
        raise NotFound("This unsubscribe link is not valid.")
    if found.used_at is not None:
        return Unsubscribed(first=False, language=found.language)
    now = clock()
    found.used_at = now
    suppress(session, found.address_digest, reason=UNSUBSCRIBED, clock=clock)
    withdraw_email_consent(session, found.customer_id, source=source, clock=clock)
    session.flush()
    log.info("unsubscribed: customer_id=%s", found.customer_id)
    return Unsubscribed(first=True, language=found.language)
