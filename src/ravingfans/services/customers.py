"""Customer use cases the web pages and the API call: find, list and read customers and their profiles.

Every function takes an open SQLAlchemy Session and explicit arguments, returns plain frozen
dataclasses (never ORM objects, so nothing lazy-loads after the session ends), and raises
:class:`~ravingfans.errors.NotFound` or :class:`~ravingfans.errors.ValidationFailed` (with
``field``) for anything a person got wrong. Nothing here knows about HTTP. Notes and moments of
truth live in :mod:`ravingfans.services.moments` (their names are re-exported here).

Money figures count orders that were not cancelled; returns and refunds are negative lines, so
"total spend" is net of them.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, cast

import phonenumbers
from sqlalchemy import ColumnElement, Integer, Select, and_, bindparam, case, func, literal_column, or_, select
from sqlalchemy.orm import Session, load_only
from sqlalchemy.sql.expression import UnaryExpression
from sqlalchemy.sql.operators import custom_op

from ravingfans.db.models import Consent, Customer, CustomerScore, Employee, Interaction, Note, Order, OrderLine
from ravingfans.db.reads import read_rows
from ravingfans.errors import ValidationFailed
from ravingfans.services.common import FIELD_LABELS, MAX_ID  # noqa: F401 - the edges import them from here
from ravingfans.services.common import get_customer as _get_customer
from ravingfans.services.moments import (  # noqa: F401 - moved to services.moments; re-exported for old imports
    FUTURE_TOLERANCE,
    MAX_AUTHOR_LENGTH,
    MAX_NOTE_LENGTH,
    InteractionCreate,
    InteractionEntry,
    NoteCreate,
    NoteEntry,
    add_note,
    employee_names,
    interaction_entry,
    log_interaction,
    note_entry,
    parse_interaction,
    parse_note,
)
from ravingfans.services.runs import latest_run

SortKey = Literal["name", "last_purchase", "total_spend", "clv"]
SortDirection = Literal["asc", "desc"]
SORT_KEYS: tuple[SortKey, ...] = ("name", "last_purchase", "total_spend", "clv")
SORT_DIRECTIONS: tuple[SortDirection, ...] = ("asc", "desc")

MAX_QUERY_LENGTH = 100
MAX_SEGMENT_LENGTH = 40  # as long as CustomerScore.segment can be
DEFAULT_PER_PAGE = 25
SQLITE_SCAN_FROM = 5_000
"""On SQLite, a list search that finds this many customers reads the whole book rather than its indexes."""
MAX_PER_PAGE = 100
MAX_PAGE = 1_000_000
MIN_PHONE_DIGITS = 3
_PHONE_LIKE = re.compile(r"^\+?[\d\s().\-/]+$")


# ----------------------------------------------------------------------------------------------
# Views returned to the edges
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CustomerRow:
    """One line of the customer list or of search results."""

    id: int
    name: str
    email: str | None
    phone: str | None
    city: str | None
    order_count: int
    total_spend: Decimal
    last_purchase_at: datetime | None
    segment: str | None = None  # from the newest scoring run; None when they are not in it
    clv: float | None = None
    p_alive: float | None = None


@dataclass(frozen=True, slots=True)
class CustomerPage:
    """One page of the customer list, with what is needed to draw the pager and sort links."""

    items: list[CustomerRow]
    total: int
    page: int
    per_page: int
    sort: SortKey
    direction: SortDirection
    query: str
    segment: str = ""
    run_id: int | None = None  # the newest scoring run the scores come from; None before the first
    scored_as_of: date | None = None

    @property
    def pages(self) -> int:
        """How many pages the whole list has (at least 1)."""
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_previous(self) -> bool:
        """Whether there is a page before this one."""
        return self.page > 1

    @property
    def has_next(self) -> bool:
        """Whether there is a page after this one."""
        return self.page < self.pages


@dataclass(frozen=True, slots=True)
class CustomerLink:
    """A customer named elsewhere (e.g. who referred this one)."""

    id: int
    name: str


@dataclass(frozen=True, slots=True)
class CustomerDetails:
    """Who the customer is, how to reach them and what they like."""

    id: int
    name: str
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    address_lines: list[str]
    birthday: date | None
    language: str | None
    personal_details: dict[str, str]
    likes: list[str]
    dislikes: list[str]
    sizes: dict[str, str]
    tags: list[str]
    imported_note: str | None
    email_consent: bool | None
    referred_by: CustomerLink | None
    source: str
    external_id: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class CustomerStats:
    """Purchase figures over the customer's orders that were not cancelled."""

    order_count: int
    total_spend: Decimal
    first_purchase_at: datetime | None
    last_purchase_at: datetime | None

    @property
    def average_order(self) -> Decimal | None:
        """Mean net value of an order, or None without orders."""
        if not self.order_count:
            return None
        return (self.total_spend / self.order_count).quantize(Decimal("0.01"))


@dataclass(frozen=True, slots=True)
class ConsentEntry:
    """One consent given or withdrawn."""

    purpose: str
    channel: str
    granted: bool
    at: datetime
    source: str
    wording: str


@dataclass(frozen=True, slots=True)
class OrderLineEntry:
    """One line of an order."""

    line_no: int
    kind: str
    sku: str | None
    product_name: str | None
    quantity: int
    unit_price: Decimal
    discount: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True)
class OrderEntry:
    """One order with its lines."""

    id: int
    source: str
    external_id: str
    placed_at: datetime
    channel: str | None
    location: str | None
    financial_status: str | None
    cancelled_at: datetime | None
    total: Decimal
    employee_name: str | None
    lines: list[OrderLineEntry]


@dataclass(frozen=True, slots=True)
class EmployeeChoice:
    """A member of staff a moment of truth can name (``active``: still offered on the forms)."""

    id: int
    name: str
    active: bool = True


@dataclass(frozen=True, slots=True)
class CustomerProfile:
    """Everything staff need while serving one customer; lists newest first, each capped."""

    customer: CustomerDetails
    stats: CustomerStats
    consents: list[ConsentEntry]
    orders: list[OrderEntry]
    orders_total: int
    interactions: list[InteractionEntry]
    interactions_total: int
    notes: list[NoteEntry]
    notes_total: int


# ----------------------------------------------------------------------------------------------
# Queries
# ----------------------------------------------------------------------------------------------


def _check_choice(value: str, choices: Sequence[str], field: str) -> str:
    if value not in choices:
        raise ValidationFailed(f"{FIELD_LABELS[field]}: must be one of {', '.join(choices)}", field=field)
    return value


def check_query(query: str) -> str:
    """The search text without surrounding spaces, or ValidationFailed (too long, control characters)."""
    text = query.strip()
    if len(text) > MAX_QUERY_LENGTH:
        raise ValidationFailed(f"Search: at most {MAX_QUERY_LENGTH} characters, please", field="q")
    if any(unicodedata.category(char) == "Cc" for char in text):
        raise ValidationFailed("Search: must not contain control characters", field="q")
    return text


def _literal_pattern(text: str) -> str:
    """A LIKE pattern matching ``text`` itself, its wildcards escaped (escape character '\\')."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _prefix_pattern(text: str) -> str:
    """A LIKE pattern matching values that start with ``text`` literally (escape character '\\')."""
    return _literal_pattern(text) + "%"


def phone_prefixes(query: str, region: str) -> list[str]:
    """E.164 prefixes a phone-like query can stand for: as dialled internationally and nationally."""
    text = query.strip()
    if not _PHONE_LIKE.match(text):
        return []
    digits = re.sub(r"\D", "", text)
    if text.startswith("00"):
        digits, text = digits[2:], "+" + text
    if len(digits) < MIN_PHONE_DIGITS:
        return []
    prefixes = ["+" + digits]
    if text.startswith("+"):
        return prefixes
    country = phonenumbers.country_code_for_region(region.upper())
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region.upper(), None)
    national = digits
    trunk = metadata.national_prefix if metadata is not None else None
    if trunk and national.startswith(trunk):
        national = national[len(trunk):]
    if country and national:
        prefixes.append(f"+{country}{national}")
    return list(dict.fromkeys(prefixes))


def _glob_prefix(text: str) -> str:
    """A GLOB pattern matching values that start with ``text`` literally (each wildcard in brackets)."""
    return "".join(f"[{char}]" if char in "*?[" else char for char in text) + "*"


def search_clause(query: str, region: str, *, dialect: str = "postgresql",
                  indexed: bool = True) -> ColumnElement[bool]:
    """Customers whose name, e-mail or phone starts with ``query`` (case-insensitive).

    Each test is spelled so that an index serves it (migrations 0005 and 0014) and the database combines the
    scans, instead of reading every customer: SQLite's LIKE on the names (ASCII-folding, served by COLLATE
    NOCASE indexes) and GLOB on e-mail and phone, stored normalised (lower-case, E.164), served by their plain
    indexes; PostgreSQL's LIKE on lower(name) (text_pattern_ops indexes) and on the "C"-collated e-mail and
    phone. SQLite's lower() is a Python function (it folds all of Unicode, as PostgreSQL's does) that no
    index holds: only a query with other letters ("öl" for "Ölaf") goes through it, reading every row.
    ``indexed=False`` spells the same tests so that no SQLite index serves them (a unary ``+``, SQLite's
    documented way), for a search that matches so much of the book that reading it all is quicker (see
    list_customers).
    """
    sqlite = dialect == "sqlite"
    pattern = _prefix_pattern(query.lower())
    plain: Callable[[Any], Any] = (lambda value: value) if indexed or not sqlite else (
        lambda value: UnaryExpression(value, operator=custom_op("+"), type_=value.type))
    fold: Callable[[Any], Any] = plain if sqlite and query.isascii() else func.lower

    def starts(column: Any, prefix: str) -> ColumnElement[bool]:
        if sqlite:
            return cast(ColumnElement[bool], plain(column).op("GLOB")(_glob_prefix(prefix)))
        return cast(ColumnElement[bool], column.like(_prefix_pattern(prefix), escape="\\"))

    clauses: list[ColumnElement[bool]] = [
        fold(Customer.first_name).like(pattern, escape="\\"),
        fold(Customer.last_name).like(pattern, escape="\\"),
        starts(Customer.email, query.lower()),
        starts(Customer.phone, query),
    ]
    clauses += [starts(Customer.phone, p) for p in phone_prefixes(query, region)]
    # "Ada Lovelace", "Lovelace Ada", "Lovelace, Ada": a query without a space or comma starts one of these
    # exactly when it starts the first or the last name, matched above, so only such queries pay for joining
    # every row's names
    if not re.search(r"[\s,]", query):
        return or_(*clauses)
    joined = [fold(Customer.first_name + " " + Customer.last_name).like(pattern, escape="\\"),
              fold(Customer.last_name + " " + Customer.first_name).like(pattern, escape="\\"),
              fold(Customer.last_name + ", " + Customer.first_name).like(pattern, escape="\\")]
    # No index holds the joined forms, but a name that starts one of them either starts with the whole query
    # or is the query up to one of its spaces or commas ("anna smith": a first or last name "anna"), which the
    # name indexes find; the joined forms are then checked on those candidates only.
    lowered = query.lower()
    heads = sorted({lowered[:k] for k, char in enumerate(lowered) if char == "," or char.isspace()})
    candidates = clauses + [fold(column).like(_literal_pattern(head), escape="\\")
                            for head in heads for column in (Customer.first_name, Customer.last_name)]
    return and_(or_(*candidates), or_(*clauses, *joined))


def _stats_select() -> Select[Any]:
    """Per-customer order count, net spend and first/last purchase over orders not cancelled."""
    return (
        select(
            Order.customer_id.label("customer_id"),
            func.count(Order.id).label("order_count"),
            func.sum(Order.total).label("total_spend"),
            func.min(Order.placed_at).label("first_purchase_at"),
            func.max(Order.placed_at).label("last_purchase_at"),
        )
        .where(Order.customer_id.is_not(None), Order.cancelled_at.is_(None))
        .group_by(Order.customer_id)
    )


def _row(customer: Customer, order_count: int | None, spend: Decimal | None, last: datetime | None,
         segment: str | None = None, clv: float | None = None, p_alive: float | None = None) -> CustomerRow:
    return CustomerRow(
        id=customer.id,
        name=customer.display_name,
        email=customer.email,
        phone=customer.phone,
        city=customer.city,
        order_count=order_count or 0,
        total_spend=spend if spend is not None else Decimal("0.00"),
        last_purchase_at=last,
        segment=segment,
        clv=clv,
        p_alive=p_alive,
    )


_LIST_COLUMNS = (Customer.first_name, Customer.last_name, Customer.email, Customer.phone, Customer.city,
                 Customer.erased_at)
_SCORE_COLUMNS = (CustomerScore.segment, CustomerScore.clv, CustomerScore.p_alive)


def newest_run(session: Session) -> tuple[int, date] | None:
    """The current scoring run's id and day (the rule is :func:`ravingfans.services.runs.latest_run`)."""
    run = latest_run(session)
    return (run.id, run.observation_end) if run is not None else None


def check_segment(segment: str) -> str:
    """The segment name without surrounding spaces, or ValidationFailed (too long, control characters)."""
    text = segment.strip()
    if len(text) > MAX_SEGMENT_LENGTH or any(unicodedata.category(char) == "Cc" for char in text):
        raise ValidationFailed(f"Segment: at most {MAX_SEGMENT_LENGTH} characters, no control characters",
                               field="segment")
    return text


def name_order(sqlite: bool, *, indexed: bool = True) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """The customer list's name order: surname (else first name, e-mail, phone), then first name, case-blind.

    Spelled exactly as the index ix_customers_name_order (migration 0013), with the empty strings written into
    the SQL rather than bound, so that both databases read a page from the index instead of sorting every
    customer. SQLite folds with NOCASE (ASCII), not with its lower(), which the application replaces with a
    Python function; customers with no name, e-mail or phone come first ('').

    ``indexed=False`` spells the same order so that no index matches it (`` || ''``): for a search, whose
    matches may lie anywhere in name order, reading the book once and sorting the few found beats walking the
    index through every customer before the first one (measured: a rare name took twice as long that way).
    """
    blank = literal_column("''")
    surname_first = func.coalesce(func.nullif(Customer.last_name, blank), func.nullif(Customer.first_name, blank),
                                  Customer.email, Customer.phone, blank)
    first = func.coalesce(Customer.first_name, blank)
    if not indexed:
        surname_first, first = surname_first.concat(blank).self_group(), first.concat(blank).self_group()
    if sqlite:
        return surname_first.collate("NOCASE"), first.collate("NOCASE")
    return func.lower(surname_first), func.lower(first)


def list_customers(
    session: Session,
    *,
    query: str = "",
    sort: str = "name",
    direction: str = "asc",
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
    region: str = "US",
    segment: str = "",
) -> CustomerPage:
    """One page of customers with their newest scores, filtered by search and segment, sorted by a column.

    Scores come from the newest scoring run through one outer join on (run, customer), so a page
    costs the same few queries however many rows it shows; customers not in that run get None.
    """
    text = check_query(query)
    segment_text = check_segment(segment)
    sort_key = cast(SortKey, _check_choice(sort, SORT_KEYS, "sort"))
    sort_dir = cast(SortDirection, _check_choice(direction, SORT_DIRECTIONS, "direction"))
    if not 1 <= page <= MAX_PAGE:
        raise ValidationFailed(f"Page: must be between 1 and {MAX_PAGE}", field="page")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise ValidationFailed(f"Page size: must be between 1 and {MAX_PER_PAGE}", field="per_page")

    run = newest_run(session)
    run_id = run[0] if run is not None else None
    scored = and_(CustomerScore.customer_id == Customer.id, CustomerScore.run_id == run_id)
    sqlite = session.get_bind().dialect.name == "sqlite"
    dialect = "sqlite" if sqlite else "postgresql"

    def where(*, indexed: bool = True) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = [Customer.erased_at.is_(None)]
        if text:
            found.append(search_clause(text, region, dialect=dialect, indexed=indexed))
        if segment_text:
            found.append(CustomerScore.segment == segment_text)
        return found

    def with_scores(stmt: Select[Any]) -> Select[Any]:
        return stmt.outerjoin(CustomerScore, scored) if segment_text else stmt

    filters = where()
    total: int | None = None
    if text and sqlite:
        # SQLite keeps no statistics that tell a rare name from a common one, and a search matching a tenth of
        # a million customers took up to twice as long through the indexes as reading them all (RESULTS). So
        # it first counts up to SQLITE_SCAN_FROM matches through the indexes: fewer, and that is the total; as
        # many, and the count and the page read the whole book instead.
        probe = with_scores(select(Customer.id)).where(*filters).limit(SQLITE_SCAN_FROM).subquery()
        found = int(session.scalar(select(func.count()).select_from(probe)) or 0)
        if found < SQLITE_SCAN_FROM:
            total = found
        else:
            filters = where(indexed=False)
    if total is None:
        total = int(session.scalar(with_scores(select(func.count()).select_from(Customer)).where(*filters)) or 0)
    offset = (page - 1) * per_page
    descending = sort_dir == "desc"

    if sort_key == "name":
        # Page through customers first, then total up only the orders of the customers shown.
        sort_name, then_first = name_order(sqlite, indexed=not text)
        order = [
            sort_name.desc() if descending else sort_name.asc(),
            then_first.desc() if descending else then_first.asc(),
            Customer.id.desc() if descending else Customer.id.asc(),
        ]
        stmt = (select(Customer, *_SCORE_COLUMNS).options(load_only(*_LIST_COLUMNS))
                .outerjoin(CustomerScore, scored).where(*filters))
        found = list(session.execute(stmt.order_by(*order).offset(offset).limit(per_page)))
        stats: dict[int, Any] = {}
        if found:
            ids = [row[0].id for row in found]
            for row in session.execute(_stats_select().where(Order.customer_id.in_(ids))):
                stats[row.customer_id] = row
        items = []
        for customer, seg, clv, p_alive in found:
            s = stats.get(customer.id)
            items.append(_row(customer, s.order_count if s else 0, s.total_spend if s else None,
                              s.last_purchase_at if s else None, seg, clv, p_alive))
    else:
        sq = _stats_select().subquery()
        key: ColumnElement[Any] = {
            "last_purchase": sq.c.last_purchase_at,
            "total_spend": func.coalesce(sq.c.total_spend, 0),
            "clv": CustomerScore.clv,
        }[sort_key]
        stmt2 = (
            select(Customer, sq.c.order_count, sq.c.total_spend, sq.c.last_purchase_at, *_SCORE_COLUMNS)
            .options(load_only(*_LIST_COLUMNS))
            .outerjoin(sq, sq.c.customer_id == Customer.id)
            .outerjoin(CustomerScore, scored)
            .where(*filters)
        )
        stmt2 = stmt2.order_by(
            (key.desc() if descending else key.asc()).nulls_last(),
            Customer.id.desc() if descending else Customer.id.asc(),
        )
        items = [_row(*row) for row in session.execute(stmt2.offset(offset).limit(per_page))]

    return CustomerPage(items=items, total=total, page=page, per_page=per_page, sort=sort_key,
                        direction=sort_dir, query=text, segment=segment_text, run_id=run_id,
                        scored_as_of=run[1] if run is not None else None)


def search_customers(session: Session, query: str, *, limit: int = 20, region: str = "US") -> list[CustomerRow]:
    """Customers whose name, e-mail or phone starts with ``query`` (case-insensitive), best known names first."""
    if not check_query(query):
        raise ValidationFailed("Search: type part of a name, e-mail or phone number", field="q")
    limit = max(1, min(limit, MAX_PER_PAGE))
    return list_customers(session, query=query, per_page=limit, region=region).items


def _str_list(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [str(v) for v in value if v is not None and str(v).strip()]


def _str_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): ("" if v is None else str(v)) for k, v in value.items()}


def _details(customer: Customer) -> CustomerDetails:
    lines = [customer.address_line1, customer.address_line2,
             " ".join(p for p in (customer.postal_code, customer.city) if p), customer.region, customer.country]
    referrer = customer.referred_by
    return CustomerDetails(
        id=customer.id,
        name=customer.display_name,
        first_name=customer.first_name,
        last_name=customer.last_name,
        email=customer.email,
        phone=customer.phone,
        address_lines=[line for line in lines if line],
        birthday=customer.birthday,
        language=customer.language,
        personal_details=_str_map(customer.personal_details),
        likes=_str_list(customer.likes),
        dislikes=_str_list(customer.dislikes),
        sizes=_str_map(customer.sizes),
        tags=_str_list(customer.tags),
        imported_note=customer.notes or None,
        email_consent=customer.email_consent,
        referred_by=CustomerLink(referrer.id, referrer.display_name) if referrer is not None else None,
        source=customer.source,
        external_id=customer.external_id,
        created_at=customer.created_at,
        updated_at=customer.updated_at,
    )


def get_profile(
    session: Session,
    customer_id: int,
    *,
    order_limit: int = 50,
    interaction_limit: int = 100,
    note_limit: int = 100,
    staff_names: Mapping[int, str] | None = None,
) -> CustomerProfile:
    """Everything known about one customer: details, preferences, consents, orders, moments, notes.

    ``staff_names`` (every employee's name by id, when the caller has read them anyway) saves the query for
    the names of the staff who served these orders and moments.
    """
    customer = _get_customer(session, customer_id)
    cid = customer.id

    figures = read_rows(session, _PROFILE_FIGURES, {"customer_id": cid}).one()
    stats = CustomerStats(
        order_count=int(figures.order_count or 0),
        total_spend=figures.total_spend if figures.total_spend is not None else Decimal("0.00"),
        first_purchase_at=figures.first_purchase_at,
        last_purchase_at=figures.last_purchase_at,
    )
    consents = read_rows(session, _PROFILE_CONSENTS, {"customer_id": cid}).all()
    orders = read_rows(session, _PROFILE_ORDERS, {"customer_id": cid, "limit": max(0, order_limit)}).all()
    lines = _order_lines(session, [o.id for o in orders])
    interactions = read_rows(session, _PROFILE_INTERACTIONS,
                             {"customer_id": cid, "limit": max(0, interaction_limit)}).all()
    notes = read_rows(session, _PROFILE_NOTES, {"customer_id": cid, "limit": max(0, note_limit)}).all()
    orders_total, interactions_total, notes_total = (
        int(n or 0) for n in (figures.orders_total, figures.interactions_total, figures.notes_total))
    names = staff_names if staff_names is not None else employee_names(
        session,
        {o.employee_id for o in orders if o.employee_id is not None}
        | {i.employee_id for i in interactions if i.employee_id is not None},
    )

    return CustomerProfile(
        customer=_details(customer),
        stats=stats,
        consents=[ConsentEntry(purpose, channel, bool(granted), at, source, wording or "")
                  for purpose, channel, granted, at, source, wording in consents],
        orders=[
            OrderEntry(
                id=o.id, source=o.source, external_id=o.external_id, placed_at=o.placed_at, channel=o.channel,
                location=o.location, financial_status=o.financial_status, cancelled_at=o.cancelled_at,
                total=o.total,
                employee_name=names.get(o.employee_id) if o.employee_id is not None else None,
                lines=lines.get(o.id, []),
            )
            for o in orders
        ],
        orders_total=orders_total,
        interactions=[interaction_entry(i, names) for i in interactions],
        interactions_total=interactions_total,
        notes=[note_entry(n) for n in notes],
        notes_total=notes_total,
    )


# The profile shows orders and lines as read: columns, not Order and OrderLine objects (50 orders' lines loaded as
# tracked objects were a tenth of the profile page's time).
_ORDER_COLUMNS = (Order.id, Order.source, Order.external_id, Order.placed_at, Order.channel, Order.location,
                  Order.financial_status, Order.cancelled_at, Order.total, Order.employee_id)
_LINE_COLUMNS = (OrderLine.order_id, OrderLine.line_no, OrderLine.kind, OrderLine.sku, OrderLine.product_name,
                 OrderLine.quantity, OrderLine.unit_price, OrderLine.discount, OrderLine.amount)


# The profile's reads, built once with their customer (and list length) as parameters: building a statement and
# its cache key costs about as much as running it, so the page (read at every counter) skips that part.
_CUSTOMER = bindparam("customer_id", type_=Integer)
_LIMIT = bindparam("limit", type_=Integer)
# consents, moments and notes as columns too (each section shows them as read), all through read_rows
_PROFILE_CONSENTS = (select(Consent.purpose, Consent.channel, Consent.granted, Consent.at, Consent.source,
                            Consent.wording).where(Consent.customer_id == _CUSTOMER)
                     .order_by(Consent.at.desc(), Consent.id.desc()))
_PROFILE_ORDERS = (select(*_ORDER_COLUMNS).where(Order.customer_id == _CUSTOMER)
                   .order_by(Order.placed_at.desc(), Order.id.desc()).limit(_LIMIT))
_PROFILE_LINES = (select(*_LINE_COLUMNS).where(OrderLine.order_id.in_(bindparam("order_ids", expanding=True)))
                  .order_by(OrderLine.order_id, OrderLine.line_no))
_PROFILE_INTERACTIONS = (select(Interaction.id, Interaction.occurred_at, Interaction.channel, Interaction.kind,
                                Interaction.rating, Interaction.note, Interaction.employee_id)
                         .where(Interaction.customer_id == _CUSTOMER)
                         .order_by(Interaction.occurred_at.desc(), Interaction.id.desc()).limit(_LIMIT))
_PROFILE_NOTES = (select(Note.id, Note.author, Note.body, Note.created_at).where(Note.customer_id == _CUSTOMER)
                  .order_by(Note.created_at.desc(), Note.id.desc()).limit(_LIMIT))
# The purchase figures (orders not cancelled, as _stats_select) and how many orders, moments and notes the customer
# has (the profile's "N of M"), in one statement: one pass over the customer's orders, the other two counted beside.
_KEPT = Order.cancelled_at.is_(None)
_PROFILE_FIGURES = select(
    func.count(case((_KEPT, Order.id))).label("order_count"),
    func.sum(case((_KEPT, Order.total))).label("total_spend"),
    func.min(case((_KEPT, Order.placed_at))).label("first_purchase_at"),
    func.max(case((_KEPT, Order.placed_at))).label("last_purchase_at"),
    func.count(Order.id).label("orders_total"),
    *(select(func.count()).select_from(model).where(model.customer_id == _CUSTOMER).scalar_subquery()
      .label(f"{name}_total") for name, model in (("interactions", Interaction), ("notes", Note))),
).where(Order.customer_id == _CUSTOMER)


def _order_lines(session: Session, order_ids: Sequence[int]) -> dict[int, list[OrderLineEntry]]:
    """The lines of these orders, by order id, each order's in line order."""
    found: dict[int, list[OrderLineEntry]] = {}
    if not order_ids:
        return found
    for order_id, *line in read_rows(session, _PROFILE_LINES, {"order_ids": list(order_ids)}):
        found.setdefault(order_id, []).append(OrderLineEntry(*line))
    return found


def list_employees(session: Session, *, active_only: bool = True) -> list[EmployeeChoice]:
    """Staff a moment of truth can name, by name (with those who left too, unless ``active_only``)."""
    return [EmployeeChoice(id=employee_id, name=name, active=bool(active))
            for employee_id, name, active in read_rows(session, _ACTIVE_STAFF if active_only else _ALL_STAFF)]


# Built once: the profile's forms read the staff on every page.
_ALL_STAFF = select(Employee.id, Employee.name, Employee.active).order_by(func.lower(Employee.name), Employee.id)
_ACTIVE_STAFF = _ALL_STAFF.where(Employee.active.is_(True))
