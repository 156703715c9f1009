"""API: orders (list by customer and time; read with lines; record a new one; change what surrounds its lines)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from ravingfans.services import orders
from ravingfans.services.inputs import MAX_ID
from ravingfans.services.records import DEFAULT_LIMIT, MAX_LIMIT
from ravingfans.web.api.deps import ApiManager, ApiStaff, Idempotency
from ravingfans.web.api.problems import conflict_response
from ravingfans.web.api.responses import CREATED_HEADERS, create_once
from ravingfans.web.api.schemas import OrderCreate, OrderList, OrderPublic, OrderUpdate
from ravingfans.web.deps import SessionDep, SettingsDep, WriteSessionDep

router = APIRouter(prefix="/orders", tags=["orders"])
OrderId = Annotated[int, Path(ge=1, le=MAX_ID, description="The order's id.", examples=[1])]


@router.get("", response_model=OrderList, summary="List orders")
def list_orders(
    _: ApiStaff,
    session: SessionDep,
    settings: SettingsDep,
    customer_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Only this customer's orders.")] = None,
    since: Annotated[datetime | None, Query(description="Placed at or after this time.")] = None,
    until: Annotated[datetime | None, Query(description="Placed before this time.")] = None,
    cursor: Annotated[str | None, Query(max_length=200, description="From the previous page's next_cursor.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="How many per page.")] = DEFAULT_LIMIT,
) -> OrderList:
    """Orders by id with their lines, a page at a time."""
    page = orders.list_orders(session, customer_id=customer_id, since=since, until=until, cursor=cursor, limit=limit,
                              zone=settings.zone)
    return OrderList(items=[OrderPublic.model_validate(o) for o in page.items], next_cursor=page.next_cursor)


@router.get("/{order_id}", response_model=OrderPublic, summary="Read an order")
def get_order(order_id: OrderId, _: ApiStaff, session: SessionDep) -> OrderPublic:
    """One order with its lines."""
    return OrderPublic.model_validate(orders.get_order(session, order_id))


@router.post("", status_code=201, response_model=OrderPublic, summary="Record an order",
             responses={201: {"headers": CREATED_HEADERS}, **conflict_response("external_id or Idempotency-Key")})
def create_order(body: OrderCreate, principal: ApiManager, session: WriteSessionDep, settings: SettingsDep,
                 idempotent: Idempotency) -> Response:
    """Record an order with its lines (managers and owners)."""
    return create_once(session, principal, idempotent, lambda: OrderPublic.model_validate(
        orders.create_order(session, body, zone=settings.zone)), "/api/v1/orders/{id}")


@router.patch("/{order_id}", response_model=OrderPublic, summary="Change an order")
def update_order(order_id: OrderId, body: OrderUpdate, _: ApiManager, session: WriteSessionDep,
                 settings: SettingsDep) -> OrderPublic:
    """Change who served, channel, location, payment status or cancellation (managers and owners).

    Lines and money never change: record a return or refund as a new order with return or refund lines.
    """
    return OrderPublic.model_validate(orders.update_order(session, order_id, body, zone=settings.zone))
