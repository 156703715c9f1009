"""What the business sells: products and their variants (size, colour) with stock."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ravingfans.db.models.base import Base
from ravingfans.db.types import Money, UTCDateTime


class Product(Base):
    """A thing sold, independent of size and colour."""

    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(40), default="manual")
    external_id: Mapped[str] = mapped_column(String(120))
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(120), index=True)
    brand: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    variants: Mapped[list[ProductVariant]] = relationship(back_populates="product", cascade="all, delete-orphan")

    __table_args__ = (UniqueConstraint("source", "external_id"),)


class ProductVariant(Base):
    """One sellable variant (a SKU): a size and colour of a product, with its stock level."""

    __tablename__ = "product_variants"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    sku: Mapped[str] = mapped_column(String(120), unique=True)
    size: Mapped[str | None] = mapped_column(String(40))
    colour: Mapped[str | None] = mapped_column(String(60))
    price: Mapped[Decimal | None] = mapped_column(Money())
    stock: Mapped[int] = mapped_column(Integer, default=0)
    row_hash: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    product: Mapped[Product] = relationship(back_populates="variants")
