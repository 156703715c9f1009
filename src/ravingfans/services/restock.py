"""Back in stock: customers wait for a variant; when its stock comes back they are told once, and may get a hold.

A **wait** is one customer waiting for one variant (a SKU): asked for in store, from the profile, or
inferred from what they bought before (the same product in the same size). A customer has at most one
open wait per variant. A **restock** is written whenever a variant's stock rises from 0 or less to more
than 0 while someone waits (:func:`record_stock_change`, and :func:`record_import_restocks` for the
products import). :func:`fan_out_restocks` then tells each waiting customer by e-mail, once per restock
(the outbox key ``restock:<restock>:wait:<wait>`` makes a second run, or a racing one, a no-op), and, when
``hold_days`` > 0, holds a unit for those who asked for one (:mod:`ravingfans.services.restock_fanout`;
holds and purchases: :mod:`ravingfans.services.restock_holds`). See docs/stock.md.

Mail purpose follows how the wait came about: a customer who asked gets a service e-mail; an inferred
wait is marketing, so it needs e-mail consent (:func:`ravingfans.mail.outbox.enqueue` enforces it).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (Connection, Integer, Select, and_, bindparam, column, exists, func, insert, literal, or_,
                        select, table)
from sqlalchemy.orm import Session, aliased

from ravingfans.clock import Clock, utcnow
from ravingfans.db.models import Customer, Order, OrderLine, Product, ProductVariant
from ravingfans.db.models.customers import name_as_said
from ravingfans.db.models.stock import WAIT_SOURCES, Restock, StockWait
from ravingfans.db.reads import read_rows
from ravingfans.db.types import UTCDateTime
from ravingfans.errors import Conflict, NotFound, ValidationFailed
from ravingfans.services.common import load_customer
from ravingfans.services.inputs import MAX_ID
from ravingfans.services.restock_fanout import ASKED_SOURCES, FanOutReport, fan_out, fan_out_restocks
from ravingfans.services.restock_holds import (
    MAX_LIST,
    HoldRow,
    describe_variant,
    expire_holds,
    held_units,
    list_holds,
    release_hold,
    release_holds_on_purchase,
    release_purchased,
)

__all__ = [  # holds live in restock_holds, the fan-out in restock_fanout; callers may import all of it from here
    "ASKED_SOURCES", "FanOutReport", "HoldRow", "RestockRow", "WaitCount", "WaitResult", "WaitRow", "add_wait", "cancel_wait",
    "describe_variant", "expire_holds", "fan_out", "fan_out_restocks", "find_customer", "find_variant", "held_units",
    "infer_waits", "list_holds", "list_restocks", "list_waits", "pending_restocks", "record_import_restocks",
    "record_stock_change", "release_hold", "release_holds_on_purchase", "release_purchased", "set_stock",
    "waits_by_variant",
]

RESTOCK_SOURCES = ("import", "api", "web", "cli")
PG_WAIT_LOCK = 7_270_061  # advisory lock key: one writer of new waits at a time (no duplicate open waits)


# ----------------------------------------------------------------------------------------------
# Finding what people name
# ----------------------------------------------------------------------------------------------


def find_variant(session: Session, sku: str) -> ProductVariant:
    """The variant with this SKU; NotFound naming the SKU otherwise."""
    text = (sku or "").strip()
    variant = session.scalar(select(ProductVariant).where(ProductVariant.sku == text)) if text else None
    if variant is None:
        raise NotFound(f"There is no variant with SKU {text!r}.",
                       hint="Check the SKU on the product's label or with GET /api/v1/products?sku=...")
    return variant


def find_customer(session: Session, ref: str) -> Customer:
    """A customer by number or e-mail address (erased customers are not found)."""
    text = (ref or "").strip().lstrip("#")
    if text.isascii() and text.isdigit():
        number = int(text)
        customer = load_customer(session, number)
    elif "@" in text:
        found = list(session.scalars(select(Customer).where(func.lower(Customer.email) == text.lower(),
                                                            Customer.erased_at.is_(None)).limit(3)))
        if len(found) > 1:
            raise Conflict(f"Several customers have the e-mail {text!r}: numbers "
                           f"{', '.join(str(c.id) for c in found)}.", hint="Give the customer's number instead.")
        customer = load_customer(session, found[0].id) if found else None  # a writer waits for an erasure
    else:
        raise ValidationFailed(f"customer: {ref!r} is neither a customer number nor an e-mail address.",
                               field="customer")
    if customer is None or customer.erased_at is not None:
        raise NotFound(f"There is no customer {text!r}.")
    return customer


def _customer(session: Session, customer_id: int) -> Customer:
    customer = load_customer(session, customer_id)
    if customer is None or customer.erased_at is not None:
        raise NotFound(f"There is no customer number {customer_id}.")
    return customer


def _variant(session: Session, variant_id: int) -> ProductVariant:
    variant = session.get(ProductVariant, variant_id) if 1 <= variant_id <= MAX_ID else None
    if variant is None:
        raise NotFound(f"There is no variant number {variant_id}.")
    return variant


def _lock_wait_writers(session: Session) -> None:
    """On PostgreSQL, one transaction at a time adds waits, so two never add the same open wait."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(PG_WAIT_LOCK)))


# ----------------------------------------------------------------------------------------------
# Waits
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WaitResult:
    """The customer's open wait for the variant, and whether this call made it (False: it was there)."""

    wait_id: int
    created: bool


def add_wait(session: Session, customer_id: int, variant_id: int, *, source: str, want_hold: bool = True,
             clock: Clock = utcnow) -> WaitResult:
    """Record that a customer waits for a variant; their open wait if they already have one (never two).

    Refused for a variant that can be sold now (stock left after the holds): sell it to them instead.
    """
    if source not in WAIT_SOURCES:
        raise ValidationFailed(f"source: {source!r} is not one of {', '.join(WAIT_SOURCES)}.", field="source")
    customer = _customer(session, customer_id)
    variant = _variant(session, variant_id)
    available = variant.stock - held_units(session, variant.id)
    if available > 0:
        raise Conflict(f"SKU {variant.sku} is in stock ({available} free to sell); a wait is for a variant that is "
                       "out of stock.", hint="Sell it to them now, or hold one for them at the till.")
    _lock_wait_writers(session)
    existing = session.scalar(select(StockWait.id).where(StockWait.customer_id == customer.id,
                                                         StockWait.variant_id == variant.id,
                                                         StockWait.closed_at.is_(None)).limit(1))
    if existing is not None:
        return WaitResult(int(existing), False)
    wait = StockWait(customer_id=customer.id, variant_id=variant.id, source=source, want_hold=want_hold,
                     created_at=clock())
    session.add(wait)
    session.flush()
    return WaitResult(wait.id, True)


def cancel_wait(session: Session, wait_id: int, *, customer_id: int | None = None, clock: Clock = utcnow) -> bool:
    """Stop a wait (the customer no longer wants it); False when it was already closed."""
    wait = session.get(StockWait, wait_id) if 1 <= wait_id <= MAX_ID else None
    if wait is None or (customer_id is not None and wait.customer_id != customer_id):
        raise NotFound(f"There is no wait number {wait_id}" + (f" for customer {customer_id}." if customer_id else "."))
    if wait.closed_at is not None:
        return False
    wait.closed_at, wait.closed_reason = clock(), "cancelled"
    session.flush()
    return True


@dataclass(frozen=True, slots=True)
class WaitRow:
    """An open wait, as pages and the CLI show it."""

    id: int
    customer_id: int
    customer_name: str
    variant_id: int
    sku: str
    product_name: str
    variant: str
    stock: int
    source: str
    want_hold: bool
    created_at: datetime


def list_waits(session: Session, *, customer_id: int | None = None, variant_id: int | None = None,
               source: str | None = None, limit: int = MAX_LIST) -> list[WaitRow]:
    """Open waits, oldest first (first come, first served), of one customer or one variant if given."""
    filters = {"customer_id": customer_id, "variant_id": variant_id, "source": source}
    given = {name: value for name, value in filters.items() if value is not None}
    stmt = _waits_statement(frozenset(given))
    return [WaitRow(id=wid, customer_id=cid, customer_name=name_as_said(first, last, email, phone, cid),
                    variant_id=vid, sku=sku, product_name=name, variant=describe_variant(size, colour), stock=stock,
                    source=source, want_hold=bool(want_hold), created_at=created_at)
            for wid, source, want_hold, created_at, cid, first, last, email, phone, vid, sku, size, colour, stock, name
            in read_rows(session, stmt, {**given, "limit": limit})]


@functools.cache
def _waits_statement(filters: frozenset[str]) -> Select[Any]:
    """list_waits' statement for these filters, built once per combination (the profile asks for one customer's on
    every page, and building a statement costs about as much as running it); filters and limit are parameters."""
    stmt = (select(StockWait.id, StockWait.source, StockWait.want_hold, StockWait.created_at,  # columns: no objects
                   Customer.id, Customer.first_name, Customer.last_name, Customer.email, Customer.phone,
                   ProductVariant.id, ProductVariant.sku, ProductVariant.size, ProductVariant.colour,
                   ProductVariant.stock, Product.name)
            .join(Customer, Customer.id == StockWait.customer_id)
            .join(ProductVariant, ProductVariant.id == StockWait.variant_id)
            .join(Product, Product.id == ProductVariant.product_id)
            .where(StockWait.closed_at.is_(None), Customer.erased_at.is_(None))
            .order_by(StockWait.created_at, StockWait.id).limit(bindparam("limit", type_=Integer)))
    for name in sorted(filters):
        stmt = stmt.where(getattr(StockWait, name) == bindparam(name))
    return stmt


@dataclass(frozen=True, slots=True)
class WaitCount:
    """How many customers wait for one variant."""

    variant_id: int
    sku: str
    product_name: str
    variant: str
    stock: int
    waiting: int
    inferred: int


def waits_by_variant(session: Session, *, limit: int = 200) -> list[WaitCount]:
    """Variants with open waits, most awaited first: who is waiting, and how many of them were inferred."""
    inferred = func.count(StockWait.id).filter(StockWait.source == "inferred")
    stmt = (select(ProductVariant.id, ProductVariant.sku, Product.name, ProductVariant.size, ProductVariant.colour,
                   ProductVariant.stock, func.count(StockWait.id), inferred)
            .join(StockWait, StockWait.variant_id == ProductVariant.id)
            .join(Product, Product.id == ProductVariant.product_id)
            .where(StockWait.closed_at.is_(None))
            .group_by(ProductVariant.id, ProductVariant.sku, Product.name, ProductVariant.size, ProductVariant.colour,
                      ProductVariant.stock)
            .order_by(func.count(StockWait.id).desc(), ProductVariant.sku).limit(limit))
    return [WaitCount(variant_id=vid, sku=sku, product_name=name, variant=describe_variant(size, colour),
                      stock=stock, waiting=int(n), inferred=int(k or 0))
            for vid, sku, name, size, colour, stock, n, k in session.execute(stmt)]


def infer_waits(session: Session, *, product_id: int | None = None, clock: Clock = utcnow) -> int:
    """Add a wait (source ``inferred``, no hold) for each customer who bought a product in a size now out of stock.

    A purchase counts when it is a sale line of an order not cancelled, of any variant of the same product in the
    same size (a product without sizes: the variant itself). Never for erased customers, never a second open
    wait, and not again after a wait made since their latest such purchase (told once per purchase). One
    INSERT ... SELECT: as fast on a million customers as the join allows. Returns how many waits were added.
    """
    now = clock()
    _lock_wait_writers(session)
    wanted, bought = aliased(ProductVariant), aliased(ProductVariant)
    later = exists().where(StockWait.customer_id == Order.customer_id, StockWait.variant_id == wanted.id,
                           or_(StockWait.closed_at.is_(None), StockWait.created_at >= Order.placed_at))
    pairs = (select(Order.customer_id, wanted.id)
             .select_from(wanted)
             .join(bought, and_(bought.product_id == wanted.product_id,
                                or_(bought.id == wanted.id, and_(wanted.size.is_not(None), bought.size == wanted.size))))
             .join(OrderLine, OrderLine.variant_id == bought.id)
             .join(Order, Order.id == OrderLine.order_id)
             .join(Customer, Customer.id == Order.customer_id)
             .where(wanted.stock <= 0, OrderLine.kind == "sale", OrderLine.quantity > 0, Order.cancelled_at.is_(None),
                    Customer.erased_at.is_(None), ~later)
             .distinct())
    if product_id is not None:
        pairs = pairs.where(wanted.product_id == product_id)
    found = pairs.subquery()
    rows = select(found.c[0], found.c[1], literal("inferred"), literal(False), literal(now, UTCDateTime()))
    added = session.execute(insert(StockWait).from_select(
        ["customer_id", "variant_id", "source", "want_hold", "created_at"], rows).returning(StockWait.id))
    return len(added.all())  # counted from RETURNING: psycopg reports no rowcount for INSERT ... SELECT


# ----------------------------------------------------------------------------------------------
# Stock changes -> restocks
# ----------------------------------------------------------------------------------------------


def _open_wait_exists(variant_id: Any) -> Any:
    return exists().where(StockWait.variant_id == variant_id, StockWait.closed_at.is_(None))


def record_stock_change(session: Session, variant_id: int, before: int, after: int, *, source: str,
                        clock: Clock = utcnow) -> int | None:
    """Note a change of a variant's stock; a Restock's id when it rose from <= 0 to > 0 and someone waits.

    Call it wherever stock is set (the API, pages, the CLI; the import uses :func:`record_import_restocks`).
    """
    if source not in RESTOCK_SOURCES:
        raise ValidationFailed(f"source: {source!r} is not one of {', '.join(RESTOCK_SOURCES)}.", field="source")
    if not (before <= 0 < after):
        return None
    if not session.scalar(select(_open_wait_exists(variant_id))):
        return None
    restock = Restock(variant_id=variant_id, stock_before=before, stock_after=after, source=source, at=clock(),
                      notified=0, held=0)
    session.add(restock)
    session.flush()
    return restock.id


def record_import_restocks(conn: Connection, *, now: datetime, staging: str = "stg_products") -> int:
    """Restocks for the products import, in one statement run just BEFORE it updates the variants.

    Reads the staging table (``variant_pk``, ``stock``, ``row_hash``, ``old_hash``): each changed row whose new
    stock is above 0, for a variant at 0 or below now with someone waiting, becomes a Restock. Returns how many.
    """
    staged = table(staging, column("variant_pk"), column("stock"), column("row_hash"), column("old_hash"))
    v = ProductVariant.__table__
    rises = (select(v.c.id, v.c.stock, staged.c.stock, literal("import"), literal(now, UTCDateTime()), literal(0),
                    literal(0))
             .select_from(staged.join(v, v.c.id == staged.c.variant_pk))
             .where(staged.c.stock > 0, v.c.stock <= 0,
                    or_(staged.c.old_hash.is_(None), staged.c.old_hash != staged.c.row_hash),
                    _open_wait_exists(v.c.id)))
    made = conn.execute(insert(Restock).from_select(
        ["variant_id", "stock_before", "stock_after", "source", "at", "notified", "held"], rises).returning(Restock.id))
    return len(made.all())


def set_stock(session: Session, sku: str, quantity: int, *, source: str, clock: Clock = utcnow) -> tuple[int, int,
                                                                                                        int | None]:
    """Set a variant's stock (a count, not a difference) through the products service, so the hook fires.

    Returns (stock before, stock after, the restock's id or None).
    """
    from ravingfans.services.products import VariantUpdate, update_variant

    if not isinstance(quantity, int) or quantity < 0 or quantity > 1_000_000_000:
        raise ValidationFailed("stock: give a whole number of units from 0 up.", field="stock")
    variant = find_variant(session, sku)
    before = variant.stock
    update_variant(session, variant.product_id, variant.id, VariantUpdate(stock=quantity), source=source, clock=clock)
    restock = session.scalar(select(Restock.id).where(Restock.variant_id == variant.id, Restock.fanned_out_at.is_(None))
                             .order_by(Restock.id.desc()).limit(1)) if before <= 0 < quantity else None
    return before, quantity, restock


@dataclass(frozen=True, slots=True)
class RestockRow:
    """A restock as pages and the CLI show it."""

    id: int
    variant_id: int
    sku: str
    product_name: str
    variant: str
    stock_before: int
    stock_after: int
    source: str
    at: datetime
    fanned_out_at: datetime | None
    notified: int
    held: int


def list_restocks(session: Session, *, limit: int = 50, pending_only: bool = False) -> list[RestockRow]:
    """The newest restocks (or those not yet fanned out) with what their fan-out did."""
    stmt = (select(Restock, ProductVariant, Product.name)
            .join(ProductVariant, ProductVariant.id == Restock.variant_id)
            .join(Product, Product.id == ProductVariant.product_id)
            .order_by(Restock.id.desc()).limit(limit))
    if pending_only:
        stmt = stmt.where(Restock.fanned_out_at.is_(None))
    return [RestockRow(id=r.id, variant_id=v.id, sku=v.sku, product_name=name,
                       variant=describe_variant(v.size, v.colour), stock_before=r.stock_before,
                       stock_after=r.stock_after, source=r.source, at=r.at, fanned_out_at=r.fanned_out_at,
                       notified=r.notified, held=r.held) for r, v, name in session.execute(stmt)]


# ----------------------------------------------------------------------------------------------
# Fan-out
# ----------------------------------------------------------------------------------------------


def pending_restocks(session: Session) -> int:
    """How many restocks wait for their fan-out."""
    return int(session.scalar(select(func.count(Restock.id)).where(Restock.fanned_out_at.is_(None))) or 0)
