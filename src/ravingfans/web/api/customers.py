"""API: customers (list with search, segment and change filters; read; create; change; erase)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from ravingfans.services import customer_records, erasure
from ravingfans.services.inputs import MAX_ID
from ravingfans.services.records import DEFAULT_LIMIT, MAX_LIMIT
from ravingfans.web.api.deps import ApiManager, ApiOwner, ApiStaff, Idempotency
from ravingfans.web.api.problems import Problem, conflict_response
from ravingfans.web.api.responses import CREATED_HEADERS, create_once
from ravingfans.web.api.schemas import CustomerCreate, CustomerList, CustomerPublic, CustomerUpdate
from ravingfans.web.deps import SessionDep, SettingsDep, WriteSessionDep

router = APIRouter(prefix="/customers", tags=["customers"])
CustomerId = Annotated[int, Path(ge=1, le=MAX_ID, description="The customer's id.", examples=[1])]
Cursor = Annotated[str | None, Query(max_length=200, description="From the previous page's next_cursor.")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="How many per page.")]


@router.get("", response_model=CustomerList, summary="List customers")
def list_customers(
    _: ApiStaff,
    session: SessionDep,
    settings: SettingsDep,
    q: Annotated[str, Query(max_length=100, description="Name, e-mail or phone prefix (case-insensitive).")] = "",
    segment: Annotated[str, Query(max_length=40, description="Only customers in this segment of the current "
                                  "scoring run (e.g. champions).")] = "",
    updated_since: Annotated[datetime | None, Query(description="Only customers changed at or after this time.")]
    = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> CustomerList:
    """Customers by id, a page at a time."""
    page = customer_records.list_customer_records(
        session, query=q, segment=segment, updated_since=updated_since, cursor=cursor, limit=limit,
        region=settings.default_region, zone=settings.zone)
    return CustomerList(items=[CustomerPublic.model_validate(c) for c in page.items], next_cursor=page.next_cursor)


@router.get("/{customer_id}", response_model=CustomerPublic, summary="Read a customer")
def get_customer(customer_id: CustomerId, _: ApiStaff, session: SessionDep) -> CustomerPublic:
    """One customer."""
    return CustomerPublic.model_validate(customer_records.get_customer_record(session, customer_id))


@router.post("", status_code=201, response_model=CustomerPublic, summary="Create a customer",
             responses={201: {"headers": CREATED_HEADERS}, **conflict_response("external_id or Idempotency-Key")})
def create_customer(body: CustomerCreate, principal: ApiManager, session: WriteSessionDep, settings: SettingsDep,
                    idempotent: Idempotency) -> Response:
    """Add a customer (managers and owners)."""
    return create_once(session, principal, idempotent, lambda: CustomerPublic.model_validate(
        customer_records.create_customer(session, body, secret=settings.secret_key.get_secret_value(),
                                         region=settings.default_region)), "/api/v1/customers/{id}")


@router.patch("/{customer_id}", response_model=CustomerPublic, summary="Change a customer")
def update_customer(customer_id: CustomerId, body: CustomerUpdate, _: ApiManager, session: WriteSessionDep,
                    settings: SettingsDep) -> CustomerPublic:
    """Change the fields sent; null clears one (managers and owners)."""
    return CustomerPublic.model_validate(
        customer_records.update_customer(session, customer_id, body, region=settings.default_region))


@router.delete("/{customer_id}", status_code=204, response_class=Response, summary="Erase a customer",
               responses={204: {"description": "Erased: the personal data is gone."},
                          409: {"model": Problem, "description": "This customer was already erased."}})
def erase_customer(customer_id: CustomerId, principal: ApiOwner, session: WriteSessionDep,
                   settings: SettingsDep) -> Response:
    """Erase a customer's personal data for good (the right to erasure; owners only).

    Names, contact, address, personal details, notes, consents, source ids and scores go; orders stay,
    linked to an anonymous "Erased customer #N", and moments of truth stay without their text. The
    customer is then a 404 everywhere; erasing them again is a 409.
    """
    erasure.erase_customer(session, customer_id, by_user_id=principal.user_id,
                           secret=settings.secret_key.get_secret_value())
    return Response(status_code=204)
