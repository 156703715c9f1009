"""Back in stock: customers waiting for a variant, each restock that tells them, and the sizes held for them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ravingfans.db.models.base import Base
from ravingfans.db.types import UTCDateTime

WAIT_SOURCES = ("store", "profile", "inferred", "api", "web")
HOLD_RELEASES = ("expired", "purchased", "staff", "cancelled")


class StockWait(Base):
    """A customer waiting for one variant to be back; open until notified, bought, or cancelled."""

    __tablename__ = "stock_waits"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("product_variants.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(12))
    want_hold: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    notified_restock_id: Mapped[int | None] = mapped_column(ForeignKey("restocks.id", ondelete="SET NULL"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_reason: Mapped[str | None] = mapped_column(String(20))  # notified, purchased, cancelled

    __table_args__ = (Index("ix_stock_waits_variant_open", "variant_id", "closed_at"),)


class Restock(Base):
    """A rise in one variant's stock (from an import, the API or a page); its waiting customers are told once."""

    __tablename__ = "restocks"

    id: Mapped[int] = mapped_column(primary_key=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("product_variants.id", ondelete="CASCADE"), index=True)
    stock_before: Mapped[int] = mapped_column(Integer)
    stock_after: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(12))  # import, api, web, cli
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    fanned_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    notified: Mapped[int] = mapped_column(Integer, default=0)
    held: Mapped[int] = mapped_column(Integer, default=0)


class Hold(Base):
    """A unit of a variant kept back for a customer until ``expires_at``, released on purchase or by staff."""

    __tablename__ = "holds"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("product_variants.id", ondelete="CASCADE"), index=True)
    restock_id: Mapped[int | None] = mapped_column(ForeignKey("restocks.id", ondelete="SET NULL"))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    release_reason: Mapped[str | None] = mapped_column(String(12))

    __table_args__ = (UniqueConstraint("restock_id", "customer_id"),
                      Index("ix_holds_open", "released_at", "expires_at"))
