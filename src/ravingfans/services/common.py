"""What the customer services share: field labels, cleaning of typed text, validation, finding a customer.

Kept apart from :mod:`ravingfans.services.customers` so the modules split out of it (moments, edits,
search) use one set of rules without importing each other in a circle.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import Integer, bindparam, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from ravingfans.db.models import Customer
from ravingfans.errors import NotFound, ValidationFailed
from ravingfans.services.inputs import MAX_ID, clean_text  # noqa: F401 - one rule for every form and API body

FIELD_LABELS = {
    "q": "Search",
    "sort": "Sort",
    "direction": "Sort direction",
    "page": "Page",
    "per_page": "Page size",
    "segment": "Segment",
    "body": "Note",
    "author": "Author",
    "channel": "Channel",
    "kind": "Kind",
    "rating": "Rating",
    "note": "Note",
    "employee_id": "Employee",
    "occurred_at": "When",
    "first_name": "First name",
    "last_name": "Last name",
    "email": "E-mail",
    "phone": "Phone",
    "address_line1": "Address",
    "address_line2": "Address (second line)",
    "postal_code": "Postal code",
    "city": "City",
    "region": "Region",
    "country": "Country",
    "birthday": "Birthday",
    "language": "Language",
    "personal_details": "Family and personal details",
    "likes": "Likes",
    "dislikes": "Dislikes",
    "sizes": "Sizes",
    "referred_by_id": "Referred by",
    "customer_note": "Note on the record",
    "version": "Version",
    "business_name": "Business name",
    "business_address": "Postal address",
    "time_zone": "Time zone",
    "currency": "Currency",
    "limit": "Show",
}

_Model = TypeVar("_Model", bound=BaseModel)


def validated(model: type[_Model], data: Mapping[str, Any], context: dict[str, Any] | None = None, *,
              labels: Mapping[str, str] | None = None) -> _Model:
    """Build ``model`` from ``data``; the first problem becomes a ValidationFailed naming its field (by ``labels``
    first, then :data:`FIELD_LABELS`)."""
    try:
        return model.model_validate(dict(data), context=context)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else None
        label = (labels or {}).get(field or "") or FIELD_LABELS.get(field or "", field or "Input")
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ValidationFailed(f"{label}: {message}", field=field) from None


def load_customer(session: Session, customer_id: int) -> Customer | None:
    """The customer row with this id (erased ones too), or None; for a writer, as it is once an erasure under way ends.

    In a write transaction on PostgreSQL the row is read FOR KEY SHARE: an erasure (which locks it FOR UPDATE)
    is waited for and then seen, so nothing is written to a customer erased meanwhile. Key-share locks block
    neither each other nor plain updates, so two writers of one customer never deadlock on it.
    """
    if not 1 <= customer_id <= MAX_ID:
        return None
    if session.info.get("writer") and session.get_bind().dialect.name == "postgresql":
        return session.get(Customer, customer_id, with_for_update={"read": True, "key_share": True},
                           populate_existing=True)
    if session.identity_map.get(identity_key(Customer, customer_id)) is not None:
        return session.get(Customer, customer_id)  # loaded already: no query (an expired one is refreshed)
    # The first load runs a statement built once: Session.get builds its select and cache key on every call (205-230
    # µs against 130-158 µs, bench/statement_cost.py), and the profile (read at every counter) starts with this.
    return session.scalars(_CUSTOMER_BY_ID, {"customer_id": customer_id}).one_or_none()


_CUSTOMER_BY_ID = select(Customer).where(Customer.id == bindparam("customer_id", type_=Integer))


def get_customer(session: Session, customer_id: int) -> Customer:
    """The customer with this id, or NotFound (also for ids no row can have, and for erased customers);
    writers wait for an erasure under way (see load_customer)."""
    customer = load_customer(session, customer_id)
    if customer is None:
        raise NotFound(f"There is no customer number {customer_id}.",
                       hint="They may have been merged into another record; search by name instead.")
    if customer.erased_at is not None:
        raise NotFound(f"Customer #{customer_id} was erased.",
                       hint="Their personal data is gone; their orders still count in the figures.")
    return customer
