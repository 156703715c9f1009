"""Customer records as an integrator (or an edit form) sees them: list by cursor, read, create, change.

The search is the one the customer list uses (:mod:`ravingfans.services.customers`); e-mails and phone
numbers are normalised as imports do (:mod:`ravingfans.ingest.normalize`), so a customer added here is
found and merged like any other. A change of e-mail consent is also written to the consent history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator
from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from ravingfans.clock import Clock, utcnow
from ravingfans.db.models import Consent, Customer, CustomerIdentity, CustomerScore
from ravingfans.errors import Conflict, ValidationFailed
from ravingfans.ingest.normalize import normalize_email, normalize_phone
from ravingfans.ingest.suppression import SUPPRESSED_ATTRIBUTE, is_suppressed
from ravingfans.services import customers
from ravingfans.services.common import get_customer
from ravingfans.services.inputs import (
    CleanLine,
    Line20,
    Line40,
    Line120,
    Line200,
    Line254,
    RowId,
    Text5000,
    to_utc,
)
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
MAX_ITEMS = 100
Country = Annotated[str, CleanLine, StringConstraints(pattern=r"^[A-Za-z]{2}$")]
Language = Annotated[str, CleanLine, StringConstraints(max_length=16, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")]
DetailKey = Annotated[str, CleanLine, StringConstraints(min_length=1, max_length=60)]
Item = Annotated[str, CleanLine, StringConstraints(min_length=1, max_length=200)]


class CustomerFields(BaseModel):
    """What a client may set on a customer; every field optional (a change names only what changes)."""

    model_config = ConfigDict(extra="forbid")

    first_name: Line120 | None = None
    last_name: Line120 | None = None
    email: Line254 | None = Field(default=None, description="Stored lower-case; must look like name@example.com.")
    phone: Line40 | None = Field(default=None, description="Any common format; stored in E.164 (+14155550123). "
                                 "National numbers are read in the business's default region.")
    address_line1: Line200 | None = None
    address_line2: Line200 | None = None
    city: Line120 | None = None
    region: Line120 | None = None
    postal_code: Line20 | None = None
    country: Country | None = Field(default=None, description="ISO 3166-1 alpha-2 code, e.g. DE.")
    birthday: date | None = None
    language: Language | None = Field(default=None, description="A language tag such as en or pt-BR.")
    personal_details: dict[DetailKey, Line200] = Field(default_factory=dict, max_length=50,
                                                       description="Free facts, e.g. {\"dog_name\": \"Rex\"}.")
    likes: list[Item] = Field(default_factory=list, max_length=MAX_ITEMS)
    dislikes: list[Item] = Field(default_factory=list, max_length=MAX_ITEMS)
    sizes: dict[DetailKey, Line40] = Field(default_factory=dict, max_length=50,
                                           description="Sizes by garment, e.g. {\"shoe\": \"38\"}.")
    tags: list[Item] = Field(default_factory=list, max_length=MAX_ITEMS)
    notes: Text5000 | None = Field(default=None, description="A free note kept on the record itself.")
    email_consent: bool | None = Field(default=None, description="Marketing e-mail consent; changes are logged.")
    referred_by_id: RowId | None = Field(default=None, description="The customer who referred this one.")

    @field_validator("birthday")
    @classmethod
    def _plausible_birthday(cls, value: date | None) -> date | None:
        if value is not None and not date(1900, 1, 1) <= value <= datetime.now(UTC).date():
            raise ValueError("must be a day between 1900-01-01 and today")
        return value


class CustomerCreate(CustomerFields):
    """A new customer: at least a name, an e-mail or a phone number."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "phone": "+44 20 7946 0958",
        "city": "London", "country": "GB", "likes": ["green tea"], "sizes": {"shoe": "38"}, "email_consent": True,
        "external_id": "crm-1815"}]})

    external_id: Annotated[str, CleanLine, StringConstraints(min_length=1, max_length=120)] | None = Field(
        default=None, description="Your system's id for this customer; unique, so a retry cannot make a second one.")

    @model_validator(mode="after")
    def _someone(self) -> CustomerCreate:
        if not any((self.first_name, self.last_name, self.email, self.phone)):
            raise ValueError("give at least a first name, a last name, an e-mail or a phone number")
        return self


class CustomerUpdate(CustomerFields):
    """A change to a customer: only the fields present are changed; null clears a field."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"phone": "+1 415 555 0123", "likes": ["green tea", "poetry"], "email_consent": False}]})


@dataclass(frozen=True, slots=True)
class CustomerRecord:
    """A customer as the API shows it (no import bookkeeping)."""

    id: int
    name: str
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
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
    source: str
    external_id: str | None
    created_at: datetime
    updated_at: datetime


_LIST_FIELDS = ("likes", "dislikes", "tags")
_MAP_FIELDS = ("personal_details", "sizes")


def _record(c: Customer) -> CustomerRecord:
    def strings(value: Any) -> list[str]:
        return [str(v) for v in value if v is not None] if isinstance(value, list) else []

    def mapping(value: Any) -> dict[str, str]:
        return {str(k): "" if v is None else str(v) for k, v in value.items()} if isinstance(value, dict) else {}

    return CustomerRecord(
        id=c.id, name=c.display_name, first_name=c.first_name, last_name=c.last_name, email=c.email, phone=c.phone,
        address_line1=c.address_line1, address_line2=c.address_line2, city=c.city, region=c.region,
        postal_code=c.postal_code, country=c.country, birthday=c.birthday, language=c.language,
        personal_details=mapping(c.personal_details), likes=strings(c.likes), dislikes=strings(c.dislikes),
        sizes=mapping(c.sizes), tags=strings(c.tags), notes=c.notes, email_consent=c.email_consent,
        referred_by_id=c.referred_by_id, source=c.source, external_id=c.external_id, created_at=c.created_at,
        updated_at=c.updated_at,
    )


def get_customer_record(session: Session, customer_id: int) -> CustomerRecord:
    """One customer; NotFound when there is none."""
    return _record(get_customer(session, customer_id))


def list_customer_records(
    session: Session,
    *,
    query: str = "",
    segment: str = "",
    updated_since: datetime | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
    region: str = "US",
    zone: tzinfo = UTC,
) -> Page[CustomerRecord]:
    """Customers by id, a page at a time: matching a search (name, e-mail or phone prefix), in a segment
    of the current scoring run, or changed since a moment."""
    text = customers.check_query(query)
    segment_text = customers.check_segment(segment)
    since = to_utc(updated_since, "updated_since", zone=zone)
    check_limit(limit)
    scope = filter_scope(kind="customers", q=text, segment=segment_text, updated_since=since)
    position = decode_cursor(cursor, scope)
    stmt = select(Customer).where(Customer.erased_at.is_(None))
    if text:
        stmt = stmt.where(customers.search_clause(text, region, dialect=session.get_bind().dialect.name))
    if segment_text:
        run = customers.newest_run(session)
        stmt = stmt.join(CustomerScore, and_(CustomerScore.customer_id == Customer.id,
                                             CustomerScore.run_id == (run[0] if run else None)))
        stmt = stmt.where(CustomerScore.segment == segment_text)
    if since is not None:
        stmt = stmt.where(Customer.updated_at >= since)
    return page_after(session, stmt, Customer.id, position[0] if position else None, limit,
                      lambda row: _record(row[0]), lambda item: [item.id], scope)


def _normalised(values: dict[str, Any], region: str) -> dict[str, Any]:
    """E-mail and phone in their stored forms, country upper-case; ValidationFailed naming the field."""
    out = dict(values)
    if out.get("email") is not None:
        try:
            out["email"] = normalize_email(out["email"])
        except ValueError as exc:
            raise ValidationFailed(f"email: {exc}", field="email") from None
    if out.get("phone") is not None:
        try:
            out["phone"] = normalize_phone(out["phone"], region)
        except ValueError as exc:
            raise ValidationFailed(f"phone: {exc}", field="phone") from None
    if out.get("country") is not None:
        out["country"] = out["country"].upper()
    for name in ("first_name", "last_name", "email", "phone", "address_line1", "address_line2", "city", "region",
                 "postal_code", "language", "notes"):
        if name in out and out[name] == "":
            out[name] = None  # an empty text clears the field
    return out


def _check_referrer(session: Session, referrer_id: int | None, customer_id: int | None) -> None:
    if referrer_id is None:
        return
    if referrer_id == customer_id:
        raise ValidationFailed("referred_by_id: a customer cannot refer themselves", field="referred_by_id")
    referrer = session.get(Customer, referrer_id)
    if referrer is None or referrer.erased_at is not None:
        raise ValidationFailed(f"referred_by_id: there is no customer number {referrer_id}", field="referred_by_id")
    from ravingfans.services.word_of_mouth import check_referral  # imported here: it builds on this module's neighbours

    check_referral(session, customer_id, referrer_id)


def _log_consent(session: Session, customer_id: int, granted: bool, now: datetime) -> None:
    session.add(Consent(customer_id=customer_id, purpose="marketing", channel="email", granted=granted, at=now,
                        source=SOURCE, wording="Set through the API"))


def create_customer(session: Session, data: CustomerCreate, *, secret: str, region: str = "US",
                    clock: Clock = utcnow) -> CustomerRecord:
    """Add a customer (source ``api``); an ``external_id`` already used is a Conflict.

    An e-mail or phone an erased customer had (``secret`` keys the check) starts without marketing consent,
    flagged in ``attributes`` (see :mod:`ravingfans.ingest.suppression`).
    """
    values = _normalised(data.model_dump(exclude={"external_id"}), region)
    attributes: dict[str, Any] = {}
    if is_suppressed(session, secret, email=values.get("email"), phone=values.get("phone")):
        values["email_consent"] = None
        attributes[SUPPRESSED_ATTRIBUTE] = True
    if not any(values.get(n) for n in ("first_name", "last_name", "email", "phone")):
        raise ValidationFailed("give at least a first name, a last name, an e-mail or a phone number", field="body")
    _check_referrer(session, values["referred_by_id"], None)
    if data.external_id is not None and session.scalar(select(CustomerIdentity.id).where(
            CustomerIdentity.source == SOURCE, CustomerIdentity.external_id == data.external_id)) is not None:
        raise Conflict(f"A customer with external_id {data.external_id!r} already exists.",
                       hint="Read it with GET /api/v1/customers?q=... or change it with PATCH.")
    now = clock()
    customer = Customer(**values, attributes=attributes, source=SOURCE, external_id=data.external_id, created_at=now,
                        updated_at=now)
    session.add(customer)
    session.flush()
    if data.external_id is not None:
        session.add(CustomerIdentity(customer_id=customer.id, source=SOURCE, external_id=data.external_id))
    if values["email_consent"] is not None:
        _log_consent(session, customer.id, values["email_consent"], now)
    flush_or_conflict(session, f"A customer with external_id {data.external_id!r} already exists.")
    return _record(customer)


def update_customer(session: Session, customer_id: int, changes: CustomerUpdate, *, region: str = "US",
                    clock: Clock = utcnow) -> CustomerRecord:
    """Change the fields given (null clears); ``updated_at`` moves only when something really changed."""
    customer = get_customer(session, customer_id)
    given = changes.model_dump(include=changes.model_fields_set)
    for name in (*_LIST_FIELDS, *_MAP_FIELDS):
        if name in given and given[name] is None:
            given[name] = [] if name in _LIST_FIELDS else {}
    values = _normalised(given, region)
    if "referred_by_id" in values:
        _check_referrer(session, values["referred_by_id"], customer.id)
    changed = {name: value for name, value in values.items() if getattr(customer, name) != value}
    if not changed:
        return _record(customer)
    remaining = {n: changed.get(n, getattr(customer, n)) for n in ("first_name", "last_name", "email", "phone")}
    if not any(remaining.values()):
        raise ValidationFailed("a customer needs at least a name, an e-mail or a phone number",
                               field=next(iter(n for n in remaining if n in changed)))
    now = clock()
    if "email_consent" in changed and changed["email_consent"] is not None:
        _log_consent(session, customer.id, changed["email_consent"], now)
    for name, value in changed.items():
        setattr(customer, name, value)
    customer.updated_at = now
    session.flush()
    return _record(customer)
