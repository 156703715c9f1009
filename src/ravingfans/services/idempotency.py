"""Idempotency keys for API creates: a retried request gets the first answer again instead of a second record.

A client sends an ``Idempotency-Key`` header (any visible ASCII, up to 255 characters) with a create.
The first request's status and body are kept with a fingerprint of the request (method, path and
body); the same key with the same request replays them, the same key with another request is a
:class:`~ravingfans.errors.Conflict`. Keys belong to the user who sent them and are forgotten after
:data:`KEY_LIFETIME`. The record and the key are written in one transaction, so a create that fails
leaves no key behind and can be retried with it.

Expired keys are swept as new ones come: each new key first deletes the expired ones among the
:data:`PURGE_BATCH` oldest (found by primary key, so the sweep costs the same however many keys are
kept). As each new key can take away several old ones, the expired keys never pile up.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ravingfans.clock import Clock, utcnow
from ravingfans.db.models import IdempotencyKey
from ravingfans.errors import Conflict, ValidationFailed
from ravingfans.services.records import flush_or_conflict

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"  # visible ASCII, no spaces
KEY_LIFETIME = timedelta(hours=24)
PURGE_BATCH = 20  # expired keys a new key sweeps away at most
_KEY = re.compile(KEY_PATTERN)


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """The answer given to the first request with a key: its status and JSON body."""

    status_code: int
    body: str


def check_key(key: str) -> str:
    """The key as sent, or ValidationFailed naming the header."""
    if not _KEY.match(key):
        raise ValidationFailed(f"{HEADER}: 1 to 255 visible ASCII characters, no spaces (e.g. a UUID)", field=HEADER)
    return key


def fingerprint(method: str, path: str, body: bytes) -> str:
    """SHA-256 of the request: JSON bodies in canonical form, so spacing and key order do not matter."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = body
    digest = hashlib.sha256(f"{method.upper()} {path}\n".encode())
    digest.update(canonical)
    return digest.hexdigest()


def replay(session: Session, user_id: int, key: str, route: str, request_hash: str, *,
           clock: Clock = utcnow) -> StoredResponse | None:
    """The stored answer to this user's key; None when the key is new (or expired); Conflict for another request."""
    row = session.scalar(select(IdempotencyKey).where(IdempotencyKey.user_id == user_id,
                                                      IdempotencyKey.key == check_key(key)))
    if row is None:
        return None
    if row.created_at <= clock() - KEY_LIFETIME:
        session.delete(row)
        session.flush()
        return None
    if row.route != route[:255] or row.request_hash != request_hash:
        log.info("idempotency key reused for another request: user_id=%s", user_id)
        raise Conflict(f"This {HEADER} was already used for a different request.",
                       hint="Send a new key for a new request; the same request with its key gets its answer again.")
    return StoredResponse(status_code=row.status_code, body=row.response_body)


def remember(session: Session, user_id: int, key: str, route: str, request_hash: str, status_code: int, body: str,
             *, clock: Clock = utcnow) -> None:
    """Keep the answer to a request with a key, in the caller's transaction (so it lands with the record).

    Expired keys are swept first (a few at most, see :func:`purge_expired`).
    """
    purge_expired(session, clock=clock, batch=PURGE_BATCH)
    session.add(IdempotencyKey(user_id=user_id, key=check_key(key), route=route[:255], request_hash=request_hash,
                               status_code=status_code, response_body=body, created_at=clock()))
    flush_or_conflict(session, f"Another request with this {HEADER} is being handled right now.",
                      hint="Wait a moment and send it again to get its answer.")


def purge_expired(session: Session, *, clock: Clock = utcnow, batch: int | None = None) -> int:
    """Delete keys older than :data:`KEY_LIFETIME`, all of them or those among the ``batch`` oldest; how many went.

    With ``batch`` it reads ``batch`` rows by primary key and no more (keys are stored in the order they
    come, so the oldest ids are the first to expire), cheap enough to run on every new key.
    """
    cutoff = clock() - KEY_LIFETIME
    expired = delete(IdempotencyKey).where(IdempotencyKey.created_at <= cutoff)
    if batch is not None:
        oldest = session.execute(select(IdempotencyKey.id, IdempotencyKey.created_at)
                                 .order_by(IdempotencyKey.id).limit(batch))
        ids = [row.id for row in oldest if row.created_at <= cutoff]
        if not ids:
            return 0
        expired = expired.where(IdempotencyKey.id.in_(ids))
    return session.execute(expired.execution_options(synchronize_session=False)).rowcount or 0
