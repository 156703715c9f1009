"""Holds: a unit of a restocked variant kept back for a customer who asked, until it expires, they buy it, or staff
let it go; and what a purchase closes (the customer's hold and wait for what they bought).

Holds are made by the restock fan-out (:mod:`ravingfans.services.restock`), one per restock and customer
(a unique key), never more than the units that came in. A hold does not change the stock count: it is a
promise staff keep at the till, shown on the /holds page and the customer's profile.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Integer, Select, bindparam, exists, func, select, update
from sqlalchemy.orm import Session

from ravingfans.clock import Clock, utcnow
from ravingfans.db.models import Customer, Order, OrderLine, Product, ProductVariant
from ravingfans.db.models.customers import name_as_said
from ravingfans.db.models.stock import HOLD_RELEASES, Hold, StockWait
from ravingfans.db.reads import read_rows
from ravingfans.errors import NotFound, ValidationFailed
from ravingfans.services.inputs import MAX_ID

MAX_LIST = 1000


def describe_variant(size: str | None, colour: str | None) -> str:
    """"size 39, brown" (or what there is of it): how a variant is named to a customer and on pages."""
    return ", ".join(p for p in ((f"size {size}" if size else ""), colour or "") if p)


def held_units(session: Session, variant_id: int) -> int:
    """Units of the variant held for customers now (open holds)."""
    return int(session.scalar(select(func.coalesce(func.sum(Hold.quantity), 0)).where(
        Hold.variant_id == variant_id, Hold.released_at.is_(None))) or 0)


@dataclass(frozen=True, slots=True)
class HoldRow:
    """A hold as pages and the CLI show it."""

    id: int
    customer_id: int
    customer_name: str
    customer_phone: str | None
    variant_id: int
    sku: str
    product_name: str
    variant: str
    quantity: int
    created_at: datetime
    expires_at: datetime
    released_at: datetime | None
    release_reason: str | None


def list_holds(session: Session, *, customer_id: int | None = None, variant_id: int | None = None,
               hold_id: int | None = None, open_only: bool = True, limit: int = MAX_LIST) -> list[HoldRow]:
    """Holds by variant (SKU), soonest to expire first; only the open ones unless ``open_only`` is False."""
    filters = {"customer_id": customer_id, "variant_id": variant_id, "id": hold_id}
    given = {name: value for name, value in filters.items() if value is not None}
    stmt = _holds_statement(frozenset(given), open_only)
    return [HoldRow(id=hid, customer_id=cid,
                    customer_name=name_as_said(first, last, email, phone, cid, erased is not None),
                    customer_phone=phone, variant_id=vid, sku=sku, product_name=name,
                    variant=describe_variant(size, colour), quantity=quantity, created_at=created_at,
                    expires_at=expires_at, released_at=released_at, release_reason=reason)
            for (hid, quantity, created_at, expires_at, released_at, reason,
                 cid, first, last, email, phone, erased, vid, sku, size, colour, name)
            in read_rows(session, stmt, {**given, "limit": limit})]


@functools.cache
def _holds_statement(filters: frozenset[str], open_only: bool) -> Select[Any]:
    """list_holds' statement for these filters, built once per combination (the profile asks for one customer's on
    every page, and building a statement costs about as much as running it); filters and limit are parameters."""
    stmt = (select(Hold.id, Hold.quantity, Hold.created_at, Hold.expires_at, Hold.released_at,  # columns: no objects
                   Hold.release_reason, Customer.id, Customer.first_name, Customer.last_name, Customer.email,
                   Customer.phone, Customer.erased_at, ProductVariant.id, ProductVariant.sku, ProductVariant.size,
                   ProductVariant.colour, Product.name)
            .join(Customer, Customer.id == Hold.customer_id)
            .join(ProductVariant, ProductVariant.id == Hold.variant_id)
            .join(Product, Product.id == ProductVariant.product_id)
            .limit(bindparam("limit", type_=Integer)))
    if open_only:
        stmt = stmt.where(Hold.released_at.is_(None)).order_by(ProductVariant.sku, Hold.expires_at, Hold.id)
    else:
        stmt = stmt.order_by(Hold.created_at.desc(), Hold.id.desc())
    for name in sorted(filters):
        stmt = stmt.where(getattr(Hold, name) == bindparam(name))
    return stmt


def release_hold(session: Session, hold_id: int, *, reason: str = "staff", clock: Clock = utcnow) -> bool:
    """Let a hold go (staff: the customer will not come, or it is needed); False when it was already released."""
    if reason not in HOLD_RELEASES:
        raise ValidationFailed(f"reason: {reason!r} is not one of {', '.join(HOLD_RELEASES)}.", field="reason")
    hold = session.get(Hold, hold_id) if 1 <= hold_id <= MAX_ID else None
    if hold is None:
        raise NotFound(f"There is no hold number {hold_id}.", hint="List the open holds with: ravingfans holds list")
    done = session.execute(update(Hold).where(Hold.id == hold.id, Hold.released_at.is_(None))
                           .values(released_at=clock(), release_reason=reason)
                           .execution_options(synchronize_session="fetch"))
    return bool(done.rowcount)


def expire_holds(session: Session, *, clock: Clock = utcnow) -> int:
    """Release every hold past its expiry (reason ``expired``); how many. Safe to run as often as wanted."""
    done = session.execute(update(Hold).where(Hold.released_at.is_(None), Hold.expires_at <= clock())
                           .values(released_at=clock(), release_reason="expired")
                           .execution_options(synchronize_session=False))
    return int(done.rowcount or 0)


def release_holds_on_purchase(session: Session, customer_id: int, variant_ids: Iterable[int], *,
                              placed_at: datetime | None = None, clock: Clock = utcnow) -> int:
    """A customer bought these variants: release their holds on them (``purchased``) and close their waits.

    With ``placed_at`` (an order recorded later), only holds and waits made before the purchase are touched.
    Returns how many holds were released.
    """
    ids = sorted({int(v) for v in variant_ids if v is not None})
    if not ids:
        return 0
    now = clock()
    hold = update(Hold).where(Hold.customer_id == customer_id, Hold.variant_id.in_(ids), Hold.released_at.is_(None))
    wait = update(StockWait).where(StockWait.customer_id == customer_id, StockWait.variant_id.in_(ids),
                                   StockWait.closed_at.is_(None))
    if placed_at is not None:
        hold = hold.where(Hold.created_at <= placed_at)
        wait = wait.where(StockWait.created_at <= placed_at)
    released = session.execute(hold.values(released_at=now, release_reason="purchased")
                               .execution_options(synchronize_session=False))
    session.execute(wait.values(closed_at=now, closed_reason="purchased").execution_options(synchronize_session=False))
    return int(released.rowcount or 0)


def _bought_since(customer: object, variant: object, since: object) -> object:
    """A sale line of the variant, in an order of the customer placed at or after ``since`` and not cancelled."""
    o, line = Order.__table__, OrderLine.__table__
    return exists().select_from(o.join(line, line.c.order_id == o.c.id)).where(
        o.c.customer_id == customer, line.c.variant_id == variant, line.c.kind == "sale", line.c.quantity > 0,
        o.c.cancelled_at.is_(None), o.c.placed_at >= since)


def release_purchased(conn: Connection | Session, *, now: datetime) -> tuple[int, int]:
    """After an orders import: release every open hold, and close every open wait, that a purchase made since
    answers (set-based, one statement each, costing one index probe per open hold or wait). (holds, waits)."""
    holds = conn.execute(update(Hold).where(
        Hold.released_at.is_(None), _bought_since(Hold.customer_id, Hold.variant_id, Hold.created_at))
        .values(released_at=now, release_reason="purchased").execution_options(synchronize_session=False))
    waits = conn.execute(update(StockWait).where(
        StockWait.closed_at.is_(None),
        _bought_since(StockWait.customer_id, StockWait.variant_id, StockWait.created_at))
        .values(closed_at=now, closed_reason="purchased").execution_options(synchronize_session=False))
    return int(holds.rowcount or 0), int(waits.rowcount or 0)
