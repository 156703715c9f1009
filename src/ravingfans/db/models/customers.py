"""The customer book: who each customer is, how to reach them, what they like, what they agreed to."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ravingfans.db.models.base import Base
from ravingfans.db.types import UTCDateTime


EXPRESSION_INDEXES = frozenset({"ix_customers_name_order", "ix_customers_first_name_folded",
                                "ix_customers_last_name_folded"})
"""Indexes on expressions that differ by database, made by migrations and not declared here (Alembic can neither
reflect nor compare them); the migrations check leaves them out."""


def name_as_said(first: str | None, last: str | None, email: str | None, phone: str | None, customer_id: int,
                 erased: bool = False) -> str:
    """Customer.display_name from the bare columns, for lists that read columns rather than whole customers."""
    name = " ".join(p for p in (first, last) if p)
    if name or email or phone:  # an erased customer has none of them
        return name or email or phone or ""
    return f"Erased customer #{customer_id}" if erased else f"Customer #{customer_id}"


class Customer(Base):
    """One person (or firm) the business serves; the centre of every profile and list."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str | None] = mapped_column(String(120))
    last_name: Mapped[str | None] = mapped_column(String(120))
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    address_line1: Mapped[str | None] = mapped_column(String(200))
    address_line2: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(120))
    region: Mapped[str | None] = mapped_column(String(120))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    country: Mapped[str | None] = mapped_column(String(2))
    birthday: Mapped[date | None] = mapped_column(Date)
    language: Mapped[str | None] = mapped_column(String(16))
    personal_details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    likes: Mapped[list[str]] = mapped_column(JSON, default=list)
    dislikes: Mapped[list[str]] = mapped_column(JSON, default=list)
    sizes: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    notes: Mapped[str | None] = mapped_column(Text)
    email_consent: Mapped[bool | None] = mapped_column(Boolean)
    referred_by_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"), index=True)
    # Where the record was first seen; every source id (unique per source) is in CustomerIdentity.
    source: Mapped[str] = mapped_column(String(40), default="manual")
    external_id: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Set when the person was erased (services/erasure.py): the row stays as a tombstone with no personal data,
    # so orders keep counting; lists, search and lookups leave it out (erased_at IS NULL).
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    erased_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    referred_by: Mapped[Customer | None] = relationship(remote_side=[id])
    identities: Mapped[list[CustomerIdentity]] = relationship(back_populates="customer", cascade="all, delete-orphan")
    consents: Mapped[list[Consent]] = relationship(back_populates="customer", cascade="all, delete-orphan",
                                                    order_by="Consent.at")
    note_entries: Mapped[list[Note]] = relationship(back_populates="customer", cascade="all, delete-orphan",
                                                    order_by="Note.created_at.desc()")

    __table_args__ = (
        # Both name orders, for the as-you-type search; on PostgreSQL built COLLATE "C" (migration 0005).
        Index("ix_customers_name", "last_name", "first_name"),
        Index("ix_customers_first_last", "first_name", "last_name"),
        # Only the (few) erased rows: an index holding every live row under NULL led SQLite, before it had
        # statistics, to read whole lists through it instead of in order (migration 0013).
        Index("ix_customers_erased_at", "erased_at", sqlite_where=text("erased_at IS NOT NULL"),
              postgresql_where=text("erased_at IS NOT NULL")),
        # The customer list's name order is an expression index made by migration 0013 (see name_order).
        # Its search's case-blind name prefixes have expression indexes made by migration 0014 (search_clause).
    )

    @property
    def display_name(self) -> str:
        """Name as staff say it; falls back to e-mail, phone, then the number ("Erased customer #N" once erased)."""
        return name_as_said(self.first_name, self.last_name, self.email, self.phone, self.id,
                            self.erased_at is not None)


class CustomerIdentity(Base):
    """An id a customer has in a source system; several after a merge, so re-imports find them."""

    __tablename__ = "customer_identities"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str] = mapped_column(String(120))
    row_hash: Mapped[int | None] = mapped_column(BigInteger)  # content of the last imported row, to skip re-imports

    customer: Mapped[Customer] = relationship(back_populates="identities")

    __table_args__ = (UniqueConstraint("source", "external_id"),)


class Consent(Base):
    """A consent given or withdrawn: what for, by which channel, when, where and with what words."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(40))  # marketing, surveys, service
    channel: Mapped[str] = mapped_column(String(20))  # email, sms, phone, post
    granted: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(String(200))
    wording: Mapped[str] = mapped_column(Text, default="")

    customer: Mapped[Customer] = relationship(back_populates="consents")


class Note(Base):
    """A free note on a customer, by a member of staff."""

    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(120), default="")
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    customer: Mapped[Customer] = relationship(back_populates="note_entries")


class ErasureSuppression(Base):
    """A keyed hash (HMAC-SHA256) of an erased customer's e-mail or phone, so a new record of it gets no marketing.

    Only the digest is kept: no customer id and no time, so the marker is not linked to the tombstone.
    """

    __tablename__ = "erasure_suppressions"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
