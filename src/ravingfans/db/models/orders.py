"""The order ledger: every purchase, return and refund, with who served and where."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ravingfans.db.models.base import Base
from ravingfans.db.types import Money, UTCDateTime

LINE_KINDS = ("sale", "return", "refund")


class Order(Base):
    """One order (a till receipt or a web order); its money is the sum of its lines."""

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str] = mapped_column(String(120))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    employee_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id", ondelete="SET NULL"), index=True)
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    channel: Mapped[str | None] = mapped_column(String(20))
    location: Mapped[str | None] = mapped_column(String(120))
    financial_status: Mapped[str | None] = mapped_column(String(40))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    total: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    content_hash: Mapped[int | None] = mapped_column(BigInteger)

    lines: Mapped[list[OrderLine]] = relationship(back_populates="order", cascade="all, delete-orphan",
                                                  order_by="OrderLine.line_no")

    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_orders_customer_placed", "customer_id", "placed_at"),
        Index("ix_orders_placed_at", "placed_at"),  # the rules' daily pass: orders placed on given days
    )


class OrderLine(Base):
    """One line of an order: a sale, a return (negative quantity) or a refund (negative amount)."""

    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    line_no: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10), default="sale")
    variant_id: Mapped[int | None] = mapped_column(ForeignKey("product_variants.id", ondelete="SET NULL"), index=True)
    sku: Mapped[str | None] = mapped_column(String(120))
    product_name: Mapped[str | None] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Money())
    discount: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    amount: Mapped[Decimal] = mapped_column(Money())  # net: quantity * unit_price - discount, signed

    order: Mapped[Order] = relationship(back_populates="lines")

    __table_args__ = (UniqueConstraint("order_id", "line_no"),)
