"""The API's request and response bodies: Create, Update and Public models per resource, and list pages.

Create and Update models are the services' own input models (one set of rules for the API and the
pages); Public models list exactly the fields a client may see, built from the services' records, so
no internal column (import hashes, password hashes, raw import attributes) can leak into a response.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from ravingfans.db.models import CHANNELS, KINDS
from ravingfans.services.customer_records import CustomerCreate, CustomerUpdate
from ravingfans.services.inputs import MAX_ID, Text5000
from ravingfans.services.orders import OrderCreate, OrderLineCreate, OrderUpdate
from ravingfans.services.products import ProductCreate, ProductUpdate, VariantCreate, VariantUpdate

__all__ = [
    "CustomerCreate", "CustomerList", "CustomerPublic", "CustomerUpdate",
    "InteractionCreate", "InteractionList", "InteractionPublic", "InteractionUpdate",
    "OrderCreate", "OrderLineCreate", "OrderLinePublic", "OrderList", "OrderPublic", "OrderUpdate",
    "ProductCreate", "ProductList", "ProductPublic", "ProductUpdate",
    "ScoreList", "ScorePublic", "VariantCreate", "VariantPublic", "VariantUpdate",
]

Amount = Annotated[Decimal, Field(description="Money as a decimal string with 2 places, e.g. \"19.99\".")]
NEXT_CURSOR = "Pass as ?cursor= to get the next page; null on the last page."


class _Public(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# ------------------------------------------------------------------------------------------- customers


class CustomerPublic(_Public):
    """A customer."""

    id: int
    name: str = Field(description="As staff say it: the full name, else the e-mail or phone.")
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None = Field(description="E.164, e.g. +14155550123.")
    address_line1: str | None
    address_line2: str | None
    city: str | None
    region: str | None
    postal_code: str | None
    country: str | None
    birthday: date | None
    language: str | None
    personal_details: dict[str, str]
    likes: list[str]
    dislikes: list[str]
    sizes: dict[str, str]
    tags: list[str]
    notes: str | None
    email_consent: bool | None
    referred_by_id: int | None
    source: str = Field(description="Where the record came from: api, or the import it was first seen in.")
    external_id: str | None
    created_at: datetime
    updated_at: datetime


class CustomerList(BaseModel):
    """A page of customers."""

    items: list[CustomerPublic]
    next_cursor: str | None = Field(description=NEXT_CURSOR)


# ------------------------------------------------------------------------------------------- orders


class OrderLinePublic(_Public):
    """A line of an order; returns have negative quantity and amount, refunds negative price and amount."""

    line_no: int
    kind: str
    variant_id: int | None
    sku: str | None
    product_name: str | None
    quantity: int
    unit_price: Amount
    discount: Amount
    amount: Amount


class OrderPublic(_Public):
    """An order with its lines; ``total`` is net of returns and refunds."""

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
    total: Amount
    lines: list[OrderLinePublic]


class OrderList(BaseModel):
    """A page of orders."""

    items: list[OrderPublic]
    next_cursor: str | None = Field(description=NEXT_CURSOR)


# ------------------------------------------------------------------------------------------- products


class VariantPublic(_Public):
    """A variant (a SKU) of a product, with its stock."""

    id: int
    product_id: int
    sku: str
    size: str | None
    colour: str | None
    price: Amount | None
    stock: int
    updated_at: datetime


class ProductPublic(_Public):
    """A product with its variants."""

    id: int
    source: str
    external_id: str
    name: str
    category: str | None
    brand: str | None
    created_at: datetime
    variants: list[VariantPublic]


class ProductList(BaseModel):
    """A page of products."""

    items: list[ProductPublic]
    next_cursor: str | None = Field(description=NEXT_CURSOR)


# ------------------------------------------------------------------------------------------- interactions

Channel = Literal[CHANNELS]  # type: ignore[valid-type]
Kind = Literal[KINDS]  # type: ignore[valid-type]
Rating = Literal["magic", "mediocre", "misery"]


class InteractionCreate(BaseModel):
    """A moment of truth to log on a customer's timeline: how, about what, how it went."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "customer_id": 1, "channel": "phone", "kind": "courtesy_call", "rating": "magic",
        "note": "Loves the new boots"}]})

    customer_id: int = Field(ge=1, le=MAX_ID)
    channel: Channel
    kind: Kind
    rating: Rating | None = None
    note: Text5000 = ""
    employee_id: int | None = Field(default=None, ge=1, le=MAX_ID, description="Who served.")
    occurred_at: datetime | None = Field(default=None, description="When (default now); a time without a zone "
                                         "is read in the business's time zone; not in the future.")


class InteractionUpdate(BaseModel):
    """A correction to a logged moment of truth: only the fields sent change.

    ``null`` clears the rating, the employee or the note; channel, kind and time cannot be cleared.
    """

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"rating": "magic", "note": "Called back: the boots fit"}]})

    channel: Channel | None = None
    kind: Kind | None = None
    rating: Rating | None = None
    note: Text5000 | None = None
    employee_id: int | None = Field(default=None, ge=1, le=MAX_ID, description="Who served.")
    occurred_at: datetime | None = Field(default=None, description="When; a time without a zone is read in the "
                                         "business's time zone; not in the future.")


class InteractionPublic(_Public):
    """A logged moment of truth."""

    id: int
    customer_id: int
    occurred_at: datetime
    channel: str
    kind: str
    rating: Rating | None
    note: str
    employee_id: int | None
    employee_name: str | None
    created_at: datetime


class InteractionList(BaseModel):
    """A page of moments of truth."""

    items: list[InteractionPublic]
    next_cursor: str | None = Field(description=NEXT_CURSOR)


# ------------------------------------------------------------------------------------------- scores


class ScorePublic(_Public):
    """A customer's scores in the current run: RFM, segment, P(alive), expected purchases and value (CLV)."""

    customer_id: int
    run_id: int
    observation_end: date = Field(description="The day the run scored up to.")
    segment: str
    first_purchase: date
    last_purchase: date
    purchases: int
    frequency: int = Field(description="Repeat purchases (days with a purchase after the first).")
    recency: float | None = Field(description="Days from the first to the last purchase.")
    T: float | None = Field(description="Days from the first purchase to the run's day.")  # noqa: N815
    days_since_last: float | None
    monetary_value: float | None = Field(description="Mean spend of a repeat purchase.")
    total_spend: float | None
    R: int = Field(description="Recency score, 1-5.")  # noqa: N815
    F: int = Field(description="Frequency score, 1-5.")  # noqa: N815
    M: int = Field(description="Money score, 1-5.")  # noqa: N815
    p_alive: float | None = Field(description="Probability the customer still buys (BG/NBD); null without a model.")
    expected_purchases: float | None
    expected_spend: float | None
    clv: float | None = Field(description="Customer lifetime value over the horizon, discounted.")
    slipping_rank: int | None = Field(description="1 = the slipping fan with most value at risk; null if not slipping.")
    value_at_risk: float | None
    slipping_reason: str | None


class ScoreList(BaseModel):
    """A page of scores."""

    items: list[ScorePublic]
    next_cursor: str | None = Field(description=NEXT_CURSOR)
