"""Outgoing e-mail: the outbox (each message queued with its business event), the suppression list, unsubscribe links."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ravingfans.db.models.base import Base
from ravingfans.db.types import UTCDateTime

#: What an outbox row can be: waiting, claimed by a sender (leased), or one of the final states.
OUTBOX_STATUSES = ("pending", "sending", "sent", "bounced", "failed", "suppressed", "cancelled")


class OutboxMessage(Base):
    """One e-mail, rendered when queued, sent at most once per ``key`` by ``ravingfans outbox send``.

    ``raw`` is the whole RFC 5322 message (ASCII, headers and parts encoded) as it will go on the wire,
    so a resend after a crash is byte-identical, with the same Message-ID. While a sender holds the row
    (status ``sending``) ``next_attempt_at`` is the end of its lease: a row whose lease ran out is due again.
    """

    __tablename__ = "mail_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    message_id: Mapped[str] = mapped_column(String(200))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"), index=True)
    to_address: Mapped[str] = mapped_column(String(254))
    purpose: Mapped[str] = mapped_column(String(20))  # marketing or service
    template: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lease_owner: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_mail_outbox_due", "status", "next_attempt_at"),)


class MailSuppression(Base):
    """An address that gets no more mail of some kind: unsubscribed (no marketing) or hard-bounced (nothing).

    Only the SHA-256 of the normalised address is kept, with no customer id, so the list survives an
    erasure (the person stays unsubscribed) without holding a readable address.
    """

    __tablename__ = "mail_suppressions"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    reason: Mapped[str] = mapped_column(String(20))  # unsubscribed, hard_bounce
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class UnsubscribeToken(Base):
    """The secret of one unsubscribe link, stored as its SHA-256 (a database leak forges no link)."""

    __tablename__ = "mail_unsubscribe_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    address_digest: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"), index=True)
    language: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
