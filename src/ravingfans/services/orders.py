"""Orders as records: list by cursor, read one with its lines, record a new one, change what surrounds it.

Lines follow the importer's rules (:mod:`ravingfans.ingest.importer`): a client sends positive
quantities and prices; a ``return`` line is stored with negative quantity and amount, a ``refund``
line with a negative price and amount; each amount is quantity x price - discount and the order's
total is the sum of its lines, in exact cents. A SKU that names a known variant links the line to it.

Once recorded, an order's lines, money, customer, number and time do not change (scores and the
profile's timeline are built on them): a return or refund is recorded as a new order with ``return``
or ``refund`` lines. What may change afterwards (:class:`OrderUpdate`) is who served, the channel,
the location, the payment status and whether and when it was cancelled.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from ravingfans.clock import Clock, utcnow
from ravingfans.db.models import Customer, Employee, Order, OrderLine, Product, ProductVariant
from ravingfans.errors import Conflict, NotFound, ValidationFailed
from ravingfans.services import restock_holds
from ravingfans.services.inputs import (
    MAX_ID,
    CleanLine,
    Line20,
    Line40,
    Line120,
    Line200,
    Money,
    Quantity,
    RowId,
    to_utc,
)
from ravingfans.services.records import (
    DEFAULT_LIMIT,
    Page,
    check_limit,
    decode_cursor,
    filter_scope,
    flush_or_conflict,
    id_filter,
    page_after,
)

SOURCE = "api"
MAX_LINES = 500
FUTURE_TOLERANCE = timedelta(minutes=5)
LineKind = Literal["sale", "return", "refund"]


class OrderLineCreate(BaseModel):
    """One line of a new order, with positive quantity and price whatever its kind."""

    model_config = ConfigDict(extra="forbid")

    kind: LineKind = "sale"
    sku: Line120 | None = Field(default=None, description="Links the line to the variant with this SKU, if any.")
    variant_id: RowId | None = None
    product_name: Line200 | None = None
    quantity: Quantity = 1
    unit_price: Money
    discount: Money = Decimal("0.00")


class OrderCreate(BaseModel):
    """A new order: your order number, who bought, when, and its lines."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "external_id": "W-10042", "customer_id": 1, "placed_at": "2024-03-01T10:30:00+01:00", "channel": "web",
        "lines": [{"sku": "BOOT-38-BR", "product_name": "Boots", "quantity": 1, "unit_price": "120.00"},
                  {"kind": "return", "product_name": "Socks", "quantity": 1, "unit_price": "5.25"}]}]})

    external_id: Annotated[str, CleanLine, StringConstraints(min_length=1, max_length=120)] | None = Field(
        default=None, description="Your order number; unique, so the same order cannot be recorded twice. "
        "One is made if left out.")
    customer_id: RowId | None = None
    employee_id: RowId | None = Field(default=None, description="Who served.")
    placed_at: datetime = Field(description="When; a time without a zone is read in the business's time zone.")
    channel: Line20 | None = None
    location: Line120 | None = None
    financial_status: Line40 | None = None
    cancelled_at: datetime | None = None
    lines: list[OrderLineCreate] = Field(min_length=1, max_length=MAX_LINES)


class OrderUpdate(BaseModel):
    """A change to an order after the fact; only the fields sent change, ``null`` clears one. Lines never change."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"financial_status": "paid", "employee_id": 1}, {"cancelled_at": "2024-03-02T09:00:00Z"}]})

    employee_id: RowId | None = Field(default=None, description="Who served.")
    channel: Line20 | None = None
    location: Line120 | None = None
    financial_status: Line40 | None = Field(default=None, description="Your payment status, e.g. paid or refunded.")
    cancelled_at: datetime | None = Field(default=None, description="When it was cancelled (a cancelled order no "
                                          "longer counts in scores); null if it stands. Not before it was placed.")


@dataclass(frozen=True, slots=True)
class OrderLineRecord:
    """One stored line: signed quantity and amount."""

    line_no: int
    kind: str
    variant_id: int | None
    sku: str | None
    product_name: str | None
    quantity: int
    unit_price: Decimal
    discount: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """An order with its lines and net total."""

    id: int
    source: str
    external_id: str
    customer_id: int | None
    employee_id: int | None
    placed_at: datetime
    channel: str | None
    location: str | None
    financial_status: str | None
    cancelled_at: datetime | None
    total: Decimal
    lines: list[OrderLineRecord]


def _record(order: Order) -> OrderRecord:
    return OrderRecord(
        id=order.id, source=order.source, external_id=order.external_id, customer_id=order.customer_id,
        employee_id=order.employee_id, placed_at=order.placed_at, channel=order.channel, location=order.location,
        financial_status=order.financial_status, cancelled_at=order.cancelled_at, total=order.total,
        lines=[OrderLineRecord(line.line_no, line.kind, line.variant_id, line.sku, line.product_name, line.quantity,
                               line.unit_price, line.discount, line.amount) for line in order.lines],
    )


def _order(session: Session, order_id: int) -> Order:
    """The stored order with its lines loaded; NotFound also for ids no row can have."""
    order = session.scalar(select(Order).where(Order.id == order_id).options(selectinload(Order.lines))) \
        if 1 <= order_id <= MAX_ID else None
    if order is None:
        raise NotFound(f"There is no order number {order_id}.")
    return order


def get_order(session: Session, order_id: int) -> OrderRecord:
    """One order with its lines; NotFound when there is none."""
    return _record(_order(session, order_id))


def list_orders(
    session: Session,
    *,
    customer_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
    zone: tzinfo = UTC,
) -> Page[OrderRecord]:
    """Orders by id, a page at a time, with their lines: of one customer, placed in ``[since, until)``."""
    start = to_utc(since, "since", zone=zone)
    end = to_utc(until, "until", zone=zone)
    check_limit(limit)
    scope = filter_scope(kind="orders", customer_id=customer_id, since=start, until=end)
    position = decode_cursor(cursor, scope)
    stmt = select(Order).options(selectinload(Order.lines)).where(*id_filter(Order.customer_id, customer_id))
    if start is not None:
        stmt = stmt.where(Order.placed_at >= start)
    if end is not None:
        stmt = stmt.where(Order.placed_at < end)
    return page_after(session, stmt, Order.id, position[0] if position else None, limit,
                      lambda row: _record(row[0]), lambda item: [item.id], scope)


def _variants(session: Session,
              lines: list[OrderLineCreate]) -> tuple[dict[int, ProductVariant], dict[str, ProductVariant]]:
    """The variants the lines name, by id and by SKU, with their products, in two queries at most."""
    ids = {line.variant_id for line in lines if line.variant_id is not None}
    skus = {line.sku for line in lines if line.sku}
    found: list[ProductVariant] = []
    if ids or skus:
        clauses = []
        if ids:
            clauses.append(ProductVariant.id.in_(ids))
        if skus:
            clauses.append(ProductVariant.sku.in_(skus))
        found = list(session.scalars(select(ProductVariant).where(or_(*clauses))
                                     .options(selectinload(ProductVariant.product).load_only(Product.name))))
    return {v.id: v for v in found}, {v.sku: v for v in found}


def _line(number: int, line: OrderLineCreate, by_id: dict[int, ProductVariant],
          by_sku: dict[str, ProductVariant]) -> OrderLine:
    """A stored line from a line as sent: signs applied, variant linked, amount computed."""
    where = f"lines[{number - 1}]"
    variant = None
    if line.variant_id is not None:
        variant = by_id.get(line.variant_id)
        if variant is None:
            raise ValidationFailed(f"{where}.variant_id: there is no variant number {line.variant_id}",
                                   field=f"{where}.variant_id")
        if line.sku and line.sku != variant.sku:
            raise ValidationFailed(f"{where}.sku: variant {variant.id} has SKU {variant.sku!r}", field=f"{where}.sku")
    elif line.sku:
        variant = by_sku.get(line.sku)
    gross = line.quantity * line.unit_price
    if line.discount > gross:
        raise ValidationFailed(f"{where}.discount: more than quantity x unit_price", field=f"{where}.discount")
    if line.kind == "refund" and line.discount:
        raise ValidationFailed(f"{where}.discount: a refund has no discount; send the amount refunded as unit_price",
                               field=f"{where}.discount")
    net = gross - line.discount
    sign = -1 if line.kind in ("return", "refund") else 1
    return OrderLine(
        line_no=number, kind=line.kind, variant_id=variant.id if variant is not None else None,
        sku=line.sku or (variant.sku if variant is not None else None),
        product_name=line.product_name or (variant.product.name if variant is not None else None),
        quantity=-line.quantity if line.kind == "return" else line.quantity,
        unit_price=-line.unit_price if line.kind == "refund" else line.unit_price,
        discount=line.discount, amount=sign * net,
    )


def _not_ahead(moment: datetime | None, field: str, now: datetime) -> datetime | None:
    """The time as given, or ValidationFailed when it is ahead of ``now`` by more than a clock's drift."""
    if moment is not None and moment > now + FUTURE_TOLERANCE:
        raise ValidationFailed(f"{field}: cannot be in the future", field=field)
    return moment


def _cancelled(moment: datetime | None, placed: datetime, now: datetime) -> datetime | None:
    """A cancellation time: not ahead of now, not before the order was placed."""
    if moment is not None and moment < placed:
        raise ValidationFailed("cancelled_at: cannot be before the order was placed", field="cancelled_at")
    return _not_ahead(moment, "cancelled_at", now)


def _check_employee(session: Session, employee_id: int | None) -> None:
    """ValidationFailed unless the employee named (if any) exists."""
    if employee_id is not None and session.get(Employee, employee_id) is None:
        raise ValidationFailed(f"employee_id: there is no employee number {employee_id}", field="employee_id")


def create_order(session: Session, data: OrderCreate, *, zone: tzinfo = UTC, clock: Clock = utcnow) -> OrderRecord:
    """Record an order (source ``api``); its number already used is a Conflict, unknown references are 422s."""
    now = clock()
    placed = _not_ahead(to_utc(data.placed_at, "placed_at", zone=zone), "placed_at", now)
    assert placed is not None  # required by the schema
    cancelled = _cancelled(to_utc(data.cancelled_at, "cancelled_at", zone=zone), placed, now)
    buyer = session.get(Customer, data.customer_id) if data.customer_id is not None else None
    if data.customer_id is not None and (buyer is None or buyer.erased_at is not None):
        raise ValidationFailed(f"customer_id: there is no customer number {data.customer_id}"
                               f"{' any more (erased)' if buyer is not None else ''}", field="customer_id")
    _check_employee(session, data.employee_id)
    external_id = data.external_id or f"api-{uuid.uuid4().hex}"
    clash = f"An order with external_id {external_id!r} already exists."
    if session.scalar(select(Order.id).where(Order.source == SOURCE, Order.external_id == external_id)):
        raise Conflict(clash, hint="Each order is recorded once; read it with GET /api/v1/orders.")
    by_id, by_sku = _variants(session, data.lines)
    lines = [_line(number, line, by_id, by_sku) for number, line in enumerate(data.lines, start=1)]
    order = Order(source=SOURCE, external_id=external_id, customer_id=data.customer_id,
                  employee_id=data.employee_id, placed_at=placed, channel=data.channel or None,
                  location=data.location or None, financial_status=data.financial_status or None,
                  cancelled_at=cancelled, total=sum((line.amount for line in lines), Decimal("0.00")), lines=lines)
    session.add(order)
    flush_or_conflict(session, clash)
    if order.customer_id is not None and order.cancelled_at is None:  # what they bought ends their hold and wait
        restock_holds.release_holds_on_purchase(
            session, order.customer_id, [line.variant_id for line in lines if line.kind == "sale" and line.quantity > 0],
            placed_at=placed, clock=clock)
    return _record(order)


def update_order(session: Session, order_id: int, changes: OrderUpdate, *, zone: tzinfo = UTC,
                 clock: Clock = utcnow) -> OrderRecord:
    """Change who served, channel, location, payment status or cancellation of an order; its lines stay as they are."""
    order = _order(session, order_id)
    given = changes.model_dump(include=changes.model_fields_set)
    if "employee_id" in given:
        _check_employee(session, given["employee_id"])
    if "cancelled_at" in given:
        given["cancelled_at"] = _cancelled(to_utc(given["cancelled_at"], "cancelled_at", zone=zone),
                                           order.placed_at, clock())
    for name, value in given.items():
        setattr(order, name, (value or None) if isinstance(value, str) else value)
    session.flush()
    return _record(order)
