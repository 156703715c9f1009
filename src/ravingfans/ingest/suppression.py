"""Suppression markers: keyed hashes of the e-mails and phones of erased customers, and what they change.

Erasing a customer (:mod:`ravingfans.services.erasure`) keeps, for each of their e-mail and phone, only
an HMAC-SHA256 digest under a key derived from the secret key (``RAVINGFANS_SECRET_KEY``), with no
customer id and no time. A new record of such an address (an import, an API create) starts without
marketing consent and carries ``attributes.marketing_suppressed = true``; a later explicit change of
consent is taken as given. Rotating the secret key makes the markers made before unmatchable.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Iterable

from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.orm import Session

from ravingfans.db.models import Consent, Customer, ErasureSuppression

log = logging.getLogger(__name__)

SUPPRESSED_ATTRIBUTE = "marketing_suppressed"
_KEY_LABEL = b"ravingfans erasure suppression v1"
_CHUNK = 500


def _canonical(kind: str, value: str) -> str:
    """The e-mail lower-case, the phone as + and digits: the forms imports and the API store."""
    text = value.strip()
    return text.lower() if kind == "email" else re.sub(r"[^\d+]", "", text)


def suppression_digests(secret: str, *, email: str | None, phone: str | None) -> list[str]:
    """Hex HMAC-SHA256 digests of the e-mail and phone, under a key derived from ``secret`` (none for blanks)."""
    key = hmac.new(secret.encode("utf-8"), _KEY_LABEL, hashlib.sha256).digest()
    found = []
    for kind, value in (("email", email), ("phone", phone)):
        if value and (text := _canonical(kind, value)):
            found.append(hmac.new(key, f"{kind}:{text}".encode(), hashlib.sha256).hexdigest())
    return found


def is_suppressed(session: Session | Connection, secret: str, *, email: str | None, phone: str | None) -> bool:
    """Whether an erased customer had this e-mail or phone (so a new record gets no marketing consent)."""
    digests = suppression_digests(secret, email=email, phone=phone)
    return bool(digests) and int(session.scalar(
        select(func.count()).select_from(ErasureSuppression).where(ErasureSuppression.digest.in_(digests))) or 0) > 0


def erased_emails(session: Session | Connection, secret: str, emails: Iterable[str]) -> set[str]:
    """Of the given e-mail addresses, those an erased customer had (one query per 500 addresses)."""
    digest_of = {email: suppression_digests(secret, email=email, phone=None) for email in set(emails)}
    wanted = sorted({d for digests in digest_of.values() for d in digests})
    found: set[str] = set()
    for start in range(0, len(wanted), _CHUNK):
        found.update(session.scalars(select(ErasureSuppression.digest)
                                     .where(ErasureSuppression.digest.in_(wanted[start:start + _CHUNK]))))
    return {email for email, digests in digest_of.items() if found.intersection(digests)}


def flag_new_customers(conn: Connection, secret: str, *, created_after: int) -> list[int]:
    """Customers with ids above ``created_after`` (just imported) whose e-mail or phone was erased: their marketing
    consent is cleared (its records deleted) and they are flagged in ``attributes``; their ids."""
    known = set(conn.scalars(select(ErasureSuppression.digest)))
    if not known:
        return []
    table = Customer.__table__
    hits = [cid for cid, email, phone in conn.execute(
        select(table.c.id, table.c.email, table.c.phone).where(table.c.id > created_after))
        if known.intersection(suppression_digests(secret, email=email, phone=phone))]
    for start in range(0, len(hits), _CHUNK):
        chunk = hits[start:start + _CHUNK]
        conn.execute(delete(Consent.__table__).where(Consent.__table__.c.customer_id.in_(chunk)))
        conn.execute(update(table).where(table.c.id.in_(chunk))
                     .values(email_consent=None, attributes={SUPPRESSED_ATTRIBUTE: True}))
    if hits:
        log.info("new customers of an erased address flagged: %d", len(hits))
    return hits
