"""Products and their variants (SKUs with size, colour, price and stock) as records: list, read, add, change.

A SKU names one variant across the whole catalogue (orders link their lines by it), so a SKU already
taken is a :class:`~ravingfans.errors.Conflict`, also when two requests race for it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from ravingfans.clock import Clock, utcnow
from ravingfans.db.models import Product, ProductVariant
from ravingfans.errors import Conflict, NotFound, ValidationFailed
from ravingfans.services import restock
from ravingfans.services.inputs import MAX_ID, CleanLine, Line40, Line60, Line120, Money, Name200, Stock
from ravingfans.services.records import (
    DEFAULT_LIMIT,
    Page,
    check_limit,
    decode_cursor,
    filter_scope,
    flush_or_conflict,
    page_after,
)

SOURCE = "api"
MAX_VARIANTS = 200
MAX_QUERY_LENGTH = 100
Sku = Annotated[str, CleanLine, StringConstraints(min_length=1, max_length=120)]


class VariantCreate(BaseModel):
    """A new variant: its SKU, and optionally size, colour, price and stock."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"sku": "BOOT-39-BR", "size": "39", "colour": "brown", "price": "120.00", "stock": 2}]})

    sku: Sku
    size: Line40 | None = None
    colour: Line60 | None = None
    price: Money | None = None
    stock: Stock = 0


class VariantUpdate(BaseModel):
    """A change to a variant: only the fields present change (e.g. ``{"stock": 4}``)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"stock": 4}]})

    size: Line40 | None = None
    colour: Line60 | None = None
    price: Money | None = None
    stock: Stock | None = Field(default=None, description="The new stock level (not a difference).")


class ProductCreate(BaseModel):
    """A new product with its variants."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "name": "Chelsea boots", "category": "shoes", "brand": "Acme",
        "variants": [{"sku": "BOOT-38-BR", "size": "38", "colour": "brown", "price": "120.00", "stock": 3}]}]})

    name: Name200
    category: Line120 | None = None
    brand: Line120 | None = None
    external_id: Sku | None = Field(default=None, description="Your system's id; unique. One is made if left out.")
    variants: list[VariantCreate] = Field(default_factory=list, max_length=MAX_VARIANTS)

    @model_validator(mode="after")
    def _distinct_skus(self) -> ProductCreate:
        skus = [v.sku for v in self.variants]
        if len(set(skus)) != len(skus):
            raise ValueError("variants: each SKU may appear only once")
        return self


class ProductUpdate(BaseModel):
    """A change to a product's name, category or brand; only the fields present change."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"category": "boots"}]})

    name: Name200 | None = None
    category: Line120 | None = None
    brand: Line120 | None = None


@dataclass(frozen=True, slots=True)
class VariantRecord:
    """One variant of a product."""

    id: int
    product_id: int
    sku: str
    size: str | None
    colour: str | None
    price: Decimal | None
    stock: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ProductRecord:
    """A product with its variants (by id)."""

    id: int
    source: str
    external_id: str
    name: str
    category: str | None
    brand: str | None
    created_at: datetime
    variants: list[VariantRecord]


def _variant(v: ProductVariant) -> VariantRecord:
    return VariantRecord(id=v.id, product_id=v.product_id, sku=v.sku, size=v.size, colour=v.colour, price=v.price,
                         stock=v.stock, updated_at=v.updated_at)


def _record(p: Product) -> ProductRecord:
    return ProductRecord(id=p.id, source=p.source, external_id=p.external_id, name=p.name, category=p.category,
                         brand=p.brand, created_at=p.created_at,
                         variants=[_variant(v) for v in sorted(p.variants, key=lambda v: v.id)])


def _product(session: Session, product_id: int) -> Product:
    product = session.scalar(select(Product).where(Product.id == product_id).options(selectinload(Product.variants))) \
        if 1 <= product_id <= MAX_ID else None
    if product is None:
        raise NotFound(f"There is no product number {product_id}.")
    return product


def get_product(session: Session, product_id: int) -> ProductRecord:
    """One product with its variants; NotFound when there is none."""
    return _record(_product(session, product_id))


def _check_text(value: str, field: str) -> str:
    text = value.strip()
    if len(text) > MAX_QUERY_LENGTH or any(ord(c) < 32 or 0xD800 <= ord(c) <= 0xDFFF for c in text):
        raise ValidationFailed(f"{field}: at most {MAX_QUERY_LENGTH} characters, no control characters", field=field)
    return text


def list_products(session: Session, *, query: str = "", category: str = "", sku: str = "",
                  cursor: str | None = None, limit: int = DEFAULT_LIMIT) -> Page[ProductRecord]:
    """Products by id, a page at a time: whose name starts with ``query``, in a category, or having a SKU."""
    text, category_text, sku_text = _check_text(query, "q"), _check_text(category, "category"), _check_text(sku, "sku")
    check_limit(limit)
    scope = filter_scope(kind="products", q=text, category=category_text, sku=sku_text)
    position = decode_cursor(cursor, scope)
    stmt = select(Product).options(selectinload(Product.variants))
    if text:
        escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(func.lower(Product.name).like(escaped + "%", escape="\\"))
    if category_text:
        stmt = stmt.where(Product.category == category_text)
    if sku_text:
        stmt = stmt.where(Product.id.in_(select(ProductVariant.product_id).where(ProductVariant.sku == sku_text)))
    return page_after(session, stmt, Product.id, position[0] if position else None, limit,
                      lambda row: _record(row[0]), lambda item: [item.id], scope)


def _sku_clash(sku: str) -> Conflict:
    return Conflict(f"The SKU {sku!r} is already used by another variant.",
                    hint="Each SKU names one variant; find it with GET /api/v1/products?sku=...")


def _refuse_taken_skus(session: Session, skus: list[str]) -> None:
    if not skus:
        return
    taken = session.scalar(select(ProductVariant.sku).where(ProductVariant.sku.in_(skus)).limit(1))
    if taken is not None:
        raise _sku_clash(taken)


def create_product(session: Session, data: ProductCreate, *, clock: Clock = utcnow) -> ProductRecord:
    """Add a product (source ``api``) with its variants; a taken SKU or external id is a Conflict."""
    now = clock()
    external_id = data.external_id or f"api-{uuid.uuid4().hex}"
    if session.scalar(select(Product.id).where(Product.source == SOURCE, Product.external_id == external_id)):
        raise Conflict(f"A product with external_id {external_id!r} already exists.")
    _refuse_taken_skus(session, [v.sku for v in data.variants])
    product = Product(source=SOURCE, external_id=external_id, name=data.name, category=data.category or None,
                      brand=data.brand or None, created_at=now,
                      variants=[ProductVariant(sku=v.sku, size=v.size or None, colour=v.colour or None, price=v.price,
                                               stock=v.stock, updated_at=now) for v in data.variants])
    session.add(product)
    flush_or_conflict(session, "A SKU or the external_id was taken by another request just now.")
    return _record(product)


def update_product(session: Session, product_id: int, changes: ProductUpdate) -> ProductRecord:
    """Change a product's name, category or brand (null or empty clears category and brand)."""
    product = _product(session, product_id)
    given = changes.model_dump(include=changes.model_fields_set)
    if "name" in given and not given["name"]:
        raise ValidationFailed("name: a product needs a name", field="name")
    for name, value in given.items():
        setattr(product, name, value if name == "name" else (value or None))
    session.flush()
    return _record(product)


def add_variant(session: Session, product_id: int, data: VariantCreate, *, source: str = SOURCE,
                clock: Clock = utcnow) -> VariantRecord:
    """Add a variant to a product; a taken SKU is a Conflict."""
    product = _product(session, product_id)
    _refuse_taken_skus(session, [data.sku])
    variant = ProductVariant(product_id=product.id, sku=data.sku, size=data.size or None,
                             colour=data.colour or None, price=data.price, stock=data.stock, updated_at=clock())
    session.add(variant)
    flush_or_conflict(session, f"The SKU {data.sku!r} was taken by another request just now.")
    restock.record_stock_change(session, variant.id, 0, variant.stock, source=source, clock=clock)
    return _variant(variant)


def _variant_of(session: Session, product_id: int, variant_id: int) -> ProductVariant:
    variant = session.get(ProductVariant, variant_id) if 1 <= variant_id <= MAX_ID else None
    if variant is None or variant.product_id != product_id:
        raise NotFound(f"Product {product_id} has no variant number {variant_id}.")
    return variant


def get_variant(session: Session, product_id: int, variant_id: int) -> VariantRecord:
    """One variant of a product; NotFound when the product has no such variant."""
    return _variant(_variant_of(session, product_id, variant_id))


def update_variant(session: Session, product_id: int, variant_id: int, changes: VariantUpdate, *,
                   source: str = SOURCE, clock: Clock = utcnow) -> VariantRecord:
    """Change a variant's size, colour, price or stock; ``updated_at`` moves when something changed.

    Stock coming back (from 0 or less to more) for a variant someone waits for records a restock
    (``source`` says where the change came from: api, web, cli), which the restock fan-out then tells.
    """
    variant = _variant_of(session, product_id, variant_id)
    before = variant.stock
    given = changes.model_dump(include=changes.model_fields_set)
    if "stock" in given and given["stock"] is None:
        raise ValidationFailed("stock: give a number (0 when none are left)", field="stock")
    changed = {n: (v or None) if n in ("size", "colour") else v for n, v in given.items()}
    changed = {n: v for n, v in changed.items() if getattr(variant, n) != v}
    for name, value in changed.items():
        setattr(variant, name, value)
    if changed:
        variant.updated_at = clock()
    session.flush()
    if "stock" in changed:
        restock.record_stock_change(session, variant.id, before, variant.stock, source=source, clock=clock)
    return _variant(variant)
