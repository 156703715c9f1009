"""The demo business as plain rows (one dataclass per table) plus the ground truth behind them.

Rows refer to each other by string keys (``C00001``, ``E01``, ``100001``, SKUs), not database ids,
so the same business can be loaded into any database or written as CSV files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ravingfans.demo.feedback import DemoSurveyAnswer

# The demo store: a shoe and clothing shop in Portland, Oregon (no sales tax, US sizes, USD).
BUSINESS_NAME = "Alder & Pine Shoes and Clothing"
BUSINESS_ADDRESS = "418 Alder Street, Portland, OR 97205"  # fictional; marketing e-mail must carry one
TIME_ZONE = "America/Los_Angeles"
CURRENCY = "USD"
REGION = "US"
SOURCE = "demo"  # the source of every record the demo writes; how a demo database is recognised

DEFAULT_SEED = 7
DEFAULT_CUSTOMERS = 5000
DEFAULT_YEARS = 3
DEFAULT_END = date(2026, 10, 31)  # the last day of the demo's history; "now" is the next midnight

# Ground-truth customer kinds.
FAN = "fan"
LAPSING_FAN = "lapsing fan"
ONE_OFF = "one-off"
REGULAR = "regular"
SEGMENT_KINDS = (FAN, LAPSING_FAN, ONE_OFF, REGULAR)


@dataclass(slots=True)
class DemoEmployee:
    """A member of staff; ``hired``/``left`` bound the days they serve customers."""

    key: str
    name: str
    email: str
    role: str
    active: bool
    created_at: datetime
    hired: date
    left: date | None = None


@dataclass(slots=True)
class DemoProduct:
    """A product (all its sizes and colours)."""

    key: str  # the handle, e.g. "cascade-runner-swift-running-shoe"
    name: str
    category: str
    brand: str
    created_at: datetime


@dataclass(slots=True)
class DemoVariant:
    """A sellable size/colour of a product, with its price and current stock."""

    sku: str
    product_key: str
    size: str | None
    colour: str | None
    price: Decimal
    stock: int
    updated_at: datetime


@dataclass(slots=True)
class DemoCustomer:
    """One customer with everything staff know about them."""

    key: str
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    address_line1: str | None
    address_line2: str | None
    city: str | None
    region: str | None
    postal_code: str | None
    country: str | None
    birthday: date | None
    language: str
    personal_details: dict[str, Any]
    likes: list[str]
    dislikes: list[str]
    sizes: dict[str, str]
    tags: list[str]
    notes: str | None
    email_consent: bool | None
    referred_by: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(slots=True)
class DemoConsent:
    """A consent given or withdrawn by a customer."""

    customer_key: str
    purpose: str
    channel: str
    granted: bool
    at: datetime
    source: str
    wording: str


@dataclass(slots=True)
class DemoNote:
    """A staff note on a customer."""

    customer_key: str
    author: str
    body: str
    created_at: datetime


@dataclass(slots=True)
class DemoOrder:
    """An order (a sale receipt, a web order, or a return receipt); ``total`` is the sum of its lines."""

    key: str
    customer_key: str
    employee_key: str | None
    placed_at: datetime
    channel: str
    location: str
    financial_status: str
    cancelled_at: datetime | None
    total: Decimal
    discount_code: str | None = None  # the code a Shopify export shows (SUMMER25, BLACKFRIDAY20, THANKYOU10)
    returns_order: str | None = None  # on a return receipt: the order whose goods came back


@dataclass(slots=True)
class DemoLine:
    """An order line: sale, return (negative quantity and amount) or refund (quantity 1, negative price and amount).

    ``amount`` is ``quantity * unit_price - discount`` for sales and refunds; a return gives back what
    its sale cost, ``-(|quantity| * unit_price - discount)``, with the discount kept as sold.
    """

    order_key: str
    line_no: int
    kind: str
    sku: str | None
    product_name: str
    quantity: int
    unit_price: Decimal
    discount: Decimal
    amount: Decimal


@dataclass(slots=True)
class DemoInteraction:
    """A moment of truth: a rated contact with a customer."""

    customer_key: str
    employee_key: str | None
    occurred_at: datetime
    channel: str
    kind: str
    rating: int | None
    note: str


@dataclass
class DemoTruth:
    """What the simulation knows and analytics must discover: who lapsed, who is good, who buys how often."""

    lapsed: dict[str, datetime] = field(default_factory=dict)  # customer -> moment after which they never order
    employee_skill: dict[str, float] = field(default_factory=dict)  # employee -> latent skill (higher is better)
    purchase_rate: dict[str, float] = field(default_factory=dict)  # customer -> purchases per year while active
    segment_kind: dict[str, str] = field(default_factory=dict)  # customer -> fan / lapsing fan / one-off / regular
    dropout_probability: dict[str, float] = field(default_factory=dict)  # customer -> P(drop out after a purchase)
    # customer -> the theme planted in their open survey answer (None: an answer that says nothing)
    answer_theme: dict[str, str | None] = field(default_factory=dict)
    answer_positive: dict[str, bool | None] = field(default_factory=dict)  # customer -> planted sentiment
    answer_request: dict[str, bool] = field(default_factory=dict)  # customer -> the answer asks for something

    def alive(self, customer_key: str) -> bool:
        """Whether the customer is still active at the demo's "now" (they will buy again)."""
        return customer_key not in self.lapsed


@dataclass
class DemoBusiness:
    """A whole synthetic business: its tables, its time window and its ground truth."""

    seed: int
    start: date
    end: date
    now: datetime
    employees: list[DemoEmployee]
    products: list[DemoProduct]
    variants: list[DemoVariant]
    customers: list[DemoCustomer]
    consents: list[DemoConsent]
    notes: list[DemoNote]
    orders: list[DemoOrder]
    lines: list[DemoLine]
    interactions: list[DemoInteraction]
    truth: DemoTruth
    survey_answers: list[DemoSurveyAnswer] = field(default_factory=list)
    business_name: str = BUSINESS_NAME
    business_address: str = BUSINESS_ADDRESS
    time_zone: str = TIME_ZONE
    currency: str = CURRENCY

    def counts(self) -> dict[str, int]:
        """Rows per table, named as the database tables are."""
        return {
            "employees": len(self.employees),
            "products": len(self.products),
            "product_variants": len(self.variants),
            "customers": len(self.customers),
            "customer_identities": len(self.customers),
            "consents": len(self.consents),
            "notes": len(self.notes),
            "orders": len(self.orders),
            "order_lines": len(self.lines),
            "interactions": len(self.interactions),
            "survey_invitations": sum(1 for a in self.survey_answers if a.channel == "email"),
            "survey_responses": sum(1 for a in self.survey_answers if a.answer is not None),
        }

    def revenue(self) -> Decimal:
        """Net revenue: every line of every order that was not cancelled (returns and refunds subtract)."""
        cancelled = {o.key for o in self.orders if o.cancelled_at is not None}
        return sum((ln.amount for ln in self.lines if ln.order_key not in cancelled), Decimal("0.00"))
