"""Word of mouth: mentions (a customer spoke of us), referrals, and advocates ranked by what they brought.

A **mention** is one time a customer spoke of the business where others could hear it: a review, a
social post, a friend told, the press. It has a kind, where it was, an optional web address (http or
https only), a sentiment (praise, neutral, complaint), a note, who on the staff heard of it and when.

A **referral** is the customer's ``referred_by_id`` (set on the customer's edit page, the API or an
import); :func:`check_referral` is the rule that keeps referrals free of circles.

What a customer **brought** is counted over the customers they referred directly (not erased):
their net spend from the ledger (orders not cancelled, returns and refunds taken off, as "total
spend" everywhere) and their lifetime value (CLV) in the latest scoring run. A customer's **worth
with referrals** is their own CLV plus the CLV of the customers they referred, both from the latest
scoring run. **Advocates** are customers who referred someone or praised us in a mention, ranked by
the revenue of the customers they brought (ties: their CLV, then how many, then praise), in one query.
Erased customers are never ranked, and their mentions are never shown.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from types import EllipsisType
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from sqlalchemy import (BigInteger, Float, Integer, Row, Select, bindparam, case, cast, func, literal, null, select,
                        text, type_coerce, union_all)
from sqlalchemy.orm import Session

from ravingfans.clock import Clock, utcnow
from ravingfans.db.models import Customer, CustomerScore, Employee, Mention, Order, ScoreRun
from ravingfans.db.models.customers import name_as_said
from ravingfans.db.reads import read_rows
from ravingfans.db.types import from_minor
from ravingfans.errors import NotFound, ValidationFailed
from ravingfans.services.common import get_customer, validated
from ravingfans.services.customers import CustomerLink
from ravingfans.services.inputs import MAX_ID, clean_text, to_utc
from ravingfans.services.relationship import Referrals, referrals
from ravingfans.services.runs import latest_run

KIND_LABELS = {"review": "Review", "social_post": "Social post", "told_friend": "Told a friend", "press": "Press",
               "other": "Other"}
SENTIMENTS = {"praise": 1, "neutral": 0, "complaint": -1}
SENTIMENT_NAMES = {value: name for name, value in SENTIMENTS.items()}
MAX_WHERE = 120
MAX_URL = 500
MAX_NOTE = 5000
MENTIONS_SHOWN = 50
DEFAULT_ADVOCATES = 50
MAX_ADVOCATES = 1000
FUTURE_TOLERANCE = timedelta(minutes=5)
_URL_FORBIDDEN = frozenset('<>"`\\{}|^')

# The customers table as the referred side of a referral. Built once: an alias sets up its ~30 column
# proxies on first use, which cost about a third of the profile's word-of-mouth section done per request.
_REFERRED = Customer.__table__.alias("referred")
_LABELS = {"kind": "Kind", "where": "Where", "url": "Web address", "sentiment": "Sentiment", "note": "Note",
           "employee_id": "Heard by", "occurred_at": "When"}


# ----------------------------------------------------------------------------------------------
# Mentions: what staff type, checked
# ----------------------------------------------------------------------------------------------


def check_url(value: str | None) -> str | None:
    """A mention's web address: http or https with a site, no spaces, quotes or hidden characters; blank is None.

    Anything else (``javascript:``, ``data:``, a relative path, a user name in the address) is refused with
    a ValueError saying why, so no stored link can run script or hide where it goes.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if len(text) > MAX_URL:
        raise ValueError(f"must be at most {MAX_URL} characters")
    for char in text:
        if char.isspace() or char in _URL_FORBIDDEN or unicodedata.category(char) in ("Cc", "Cf", "Cs"):
            raise ValueError("must be one web address, without spaces, quotes, angle brackets or hidden characters")
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError("must start with http:// or https:// (other kinds of link are not accepted)")
    if not parts.netloc or not parts.hostname or "@" in parts.netloc:
        raise ValueError("must name a site without a user name, e.g. https://www.example.com/reviews/123")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        raise ValueError("has a port that is not a number from 0 to 65535") from None
    return parts.scheme.lower() + text[len(parts.scheme):]


class MentionCreate(BaseModel):
    """A mention to record (or the new values of one being corrected)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str = Field(description="review, social_post, told_friend, press or other.", examples=["review"])
    where: str = Field(default="", max_length=MAX_WHERE, description="Google, Instagram, a friend's name...",
                       examples=["Google"])
    url: str | None = Field(default=None, max_length=MAX_URL, description="A link to it (http or https only).",
                            examples=["https://www.example.com/reviews/123"])
    sentiment: str | None = Field(default=None, description="praise, neutral or complaint (null: not said).",
                                  examples=["praise"])
    note: str = Field(default="", max_length=MAX_NOTE, description="What they said, in a few words.")
    employee_id: int | None = Field(default=None, ge=1, le=MAX_ID, description="The employee who heard of it.")
    occurred_at: datetime | None = Field(default=None, description="When (a day or a time; default now).")

    @field_validator("kind", mode="before")
    @classmethod
    def _known_kind(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().lower().replace("-", "_").replace(" ", "_")
            if value not in KIND_LABELS:
                raise ValueError(f"must be one of {', '.join(KIND_LABELS)}")
        return value

    @field_validator("sentiment", "employee_id", "occurred_at", "url", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("sentiment")
    @classmethod
    def _known_sentiment(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().lower()
        if value not in SENTIMENTS:
            raise ValueError(f"must be one of {', '.join(SENTIMENTS)} (or blank)")
        return value

    @field_validator("where", mode="before")
    @classmethod
    def _clean_where(cls, value: Any) -> Any:
        return clean_text(value, multiline=False)

    @field_validator("note", mode="before")
    @classmethod
    def _clean_note(cls, value: Any) -> Any:
        return clean_text(value, multiline=True)

    @field_validator("url", mode="before")
    @classmethod
    def _safe_url(cls, value: Any) -> Any:
        return check_url(value) if isinstance(value, str) else value

    @field_validator("occurred_at")
    @classmethod
    def _aware_utc(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        """A day or time without a zone is read in the business time zone (given as context 'zone')."""
        if value is None:
            return None
        zone = (info.context or {}).get("zone", UTC)
        try:
            return to_utc(value, "occurred_at", zone=zone)
        except ValidationFailed:
            raise ValueError("must be a day between 1900 and 2199") from None


def parse_mention(data: Mapping[str, Any], *, zone: tzinfo = UTC) -> MentionCreate:
    """Validate raw mention input (a form, the CLI, a JSON body); the first problem is a ValidationFailed naming it."""
    return validated(MentionCreate, data, context={"zone": zone}, labels=_LABELS)


# ----------------------------------------------------------------------------------------------
# Mentions: record, correct, delete, read
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MentionEntry:
    """One recorded mention, as pages, the CLI and the API show it."""

    id: int
    customer_id: int
    customer_name: str
    kind: str
    where: str
    url: str | None
    sentiment: str | None  # praise, neutral, complaint, or None when not said
    note: str
    employee_id: int | None
    employee_name: str | None
    occurred_at: datetime
    created_at: datetime

    @property
    def kind_label(self) -> str:
        """The kind in words ("Told a friend")."""
        return KIND_LABELS.get(self.kind, self.kind)


def _entry(row: Mention | Row[Any], customer_name: str, employee_name: str | None) -> MentionEntry:
    """A mention as pages show it, from the stored object or a row with the same column names."""
    return MentionEntry(id=row.id, customer_id=row.customer_id, customer_name=customer_name, kind=row.kind,
                        where=row.where or "", url=row.url, sentiment=SENTIMENT_NAMES.get(row.sentiment)
                        if row.sentiment is not None else None, note=row.note or "", employee_id=row.employee_id,
                        employee_name=employee_name, occurred_at=row.occurred_at, created_at=row.created_at)


def _employee_name(session: Session, employee_id: int | None) -> str | None:
    """The employee's name; ValidationFailed naming the field when there is no such employee."""
    if employee_id is None:
        return None
    employee = session.get(Employee, employee_id)
    if employee is None:
        raise ValidationFailed(f"Heard by: there is no employee number {employee_id}", field="employee_id")
    return employee.name


def _when(mention: MentionCreate, now: datetime, default: datetime) -> datetime:
    occurred = mention.occurred_at or default
    if occurred > now + FUTURE_TOLERANCE:
        raise ValidationFailed("When: a mention cannot be in the future", field="occurred_at")
    return occurred


def add_mention(session: Session, customer_id: int, mention: MentionCreate, *, clock: Clock = utcnow) -> MentionEntry:
    """Record that a customer spoke of us; NotFound for an unknown or erased customer."""
    customer = get_customer(session, customer_id)
    now = clock()
    employee_name = _employee_name(session, mention.employee_id)
    row = Mention(customer_id=customer.id, kind=mention.kind, where=mention.where, url=mention.url,
                  sentiment=SENTIMENTS[mention.sentiment] if mention.sentiment is not None else None,
                  note=mention.note, employee_id=mention.employee_id, occurred_at=_when(mention, now, now),
                  created_at=now)
    session.add(row)
    session.flush()
    return _entry(row, customer.display_name, employee_name)


def _load(session: Session, mention_id: int) -> tuple[Mention, Customer]:
    """The mention and its customer; NotFound when unknown or when its customer was erased."""
    found = None
    if 1 <= mention_id <= MAX_ID:
        found = session.execute(select(Mention, Customer).join(Customer, Customer.id == Mention.customer_id)
                                .where(Mention.id == mention_id, Customer.erased_at.is_(None))).first()
    if found is None:
        raise NotFound(f"There is no mention number {mention_id}.", hint="It may have been deleted; reload the page.")
    return found[0], found[1]


def get_mention(session: Session, mention_id: int) -> MentionEntry:
    """One mention; NotFound when unknown."""
    row, customer = _load(session, mention_id)
    return _entry(row, customer.display_name, _employee_name(session, row.employee_id))


def update_mention(session: Session, mention_id: int, mention: MentionCreate, *, clock: Clock = utcnow) -> MentionEntry:
    """Correct a mention (managers): every field is replaced; a blank time keeps the time on record."""
    row, customer = _load(session, mention_id)
    employee_name = _employee_name(session, mention.employee_id)
    occurred = _when(mention, clock(), row.occurred_at)
    row.kind, row.where, row.url, row.note = mention.kind, mention.where, mention.url, mention.note
    row.sentiment = SENTIMENTS[mention.sentiment] if mention.sentiment is not None else None
    row.employee_id, row.occurred_at = mention.employee_id, occurred
    session.flush()
    return _entry(row, customer.display_name, employee_name)


def delete_mention(session: Session, mention_id: int) -> int | None:
    """Delete a mention (managers); its customer's id, or None when there was none (deleted already: no error)."""
    row = session.get(Mention, mention_id) if 1 <= mention_id <= MAX_ID else None
    if row is None:
        return None
    customer_id = row.customer_id
    session.delete(row)
    session.flush()
    return customer_id


def list_mentions(session: Session, *, customer_id: int | None = None,
                  limit: int = MENTIONS_SHOWN) -> list[MentionEntry]:
    """The newest mentions (of one customer, or of everyone not erased), newest first."""
    if limit < 1:
        raise ValidationFailed("limit must be 1 or more", field="limit")
    params: dict[str, int] = {"limit": limit}
    if customer_id is not None:
        params["customer_id"] = get_customer(session, customer_id).id
    return [_entry(row, name_as_said(row.first_name, row.last_name, row.email, row.phone, row.customer_id),
                   row.employee_name)
            for row in read_rows(session, _mentions_statement(customer_id is not None), params)]


@functools.cache
def _mentions_statement(of_one_customer: bool) -> Select[Any]:
    """list_mentions' statement, built once for everyone's and once for one customer's (the profile's, every page)."""
    # Columns, not objects (a whole Customer a row, JSON decoded, for a name); named as _entry reads them.
    stmt = (select(Mention.id, Mention.customer_id, Mention.kind, Mention.where, Mention.url, Mention.sentiment,
                   Mention.note, Mention.employee_id, Mention.occurred_at, Mention.created_at, Customer.first_name,
                   Customer.last_name, Customer.email, Customer.phone, Employee.name.label("employee_name"))
            .join(Customer, Customer.id == Mention.customer_id)
            .outerjoin(Employee, Employee.id == Mention.employee_id).where(Customer.erased_at.is_(None))
            .order_by(Mention.occurred_at.desc(), Mention.id.desc()).limit(bindparam("limit", type_=Integer)))
    return stmt.where(Mention.customer_id == bindparam("customer_id")) if of_one_customer else stmt


# ----------------------------------------------------------------------------------------------
# Referrals
# ----------------------------------------------------------------------------------------------


def check_referral(session: Session, customer_id: int | None, referrer_id: int | None) -> None:
    """Refuse a referrer that would close a circle (A referred B, B referred A; or longer): ValidationFailed.

    Walks up the referrer's own chain of referrers in one recursive query; ``customer_id`` None (a new
    customer) can close no circle. Self-referral and unknown referrers are the callers' own checks.
    """
    if customer_id is None or referrer_id is None:
        return
    if referrer_id == customer_id:
        raise ValidationFailed("Referred by: a customer cannot refer themselves", field="referred_by_id")
    table = Customer.__table__
    chain = select(table.c.id, table.c.referred_by_id).where(table.c.id == referrer_id).cte("chain", recursive=True)
    chain = chain.union(select(table.c.id, table.c.referred_by_id).join(chain, table.c.id == chain.c.referred_by_id))
    if session.scalar(select(chain.c.id).where(chain.c.id == customer_id).limit(1)) is not None:
        raise ValidationFailed(
            f"Referred by: customer #{referrer_id} was themselves referred, directly or through others, by "
            f"customer #{customer_id}, so #{customer_id} cannot have been referred by #{referrer_id} "
            "(that would be a circle)", field="referred_by_id")


@dataclass(frozen=True, slots=True)
class ReferralValue:
    """What the customers one customer referred are worth, and how often the customer spoke of us."""

    customer_id: int
    referrals: int  # customers they referred (not erased)
    revenue: Decimal  # those customers' net spend
    clv: float | None  # those customers' CLV in the latest scoring run; None before the first run
    own_clv: float | None  # the customer's own CLV in the latest run; None when not in it
    mentions: int
    praise: int
    run_id: int | None
    observation_end: date | None

    @property
    def worth(self) -> float | None:
        """Worth with referrals: own CLV plus the referred customers' CLV (latest run); None before any run."""
        if self.run_id is None:
            return None
        return (self.own_clv or 0.0) + (self.clv or 0.0)


def _spend_cents(customer_id: Any) -> Any:
    """Net spend in cents of one customer (correlated), over orders not cancelled."""
    orders = Order.__table__
    return (select(func.coalesce(func.sum(type_coerce(orders.c.total, BigInteger)), 0))
            .where(orders.c.customer_id == customer_id, orders.c.cancelled_at.is_(None)).scalar_subquery())


def _clv_in(customer_id: Any, run_id: Any) -> Any:
    """CLV of one customer (correlated) in the run given as an expression (a parameter)."""
    scores = CustomerScore.__table__
    return select(scores.c.clv).where(scores.c.run_id == run_id, scores.c.customer_id == customer_id).scalar_subquery()


def _clv_of(customer_id: Any, run_id: int | None) -> Any:
    """CLV of one customer (correlated) in the run; NULL without a run."""
    return cast(null(), Float) if run_id is None else _clv_in(customer_id, run_id)


def _referral_value_statement() -> Select[Any]:
    """One statement: the referred customers' totals, with the mention counts and own CLV as scalar subqueries."""
    customer_id, run_id = bindparam("customer_id", type_=Integer), bindparam("run_id", type_=Integer)
    referred = _REFERRED
    said = Mention.__table__
    mentions = select(func.count()).where(said.c.customer_id == customer_id).scalar_subquery()
    praise = select(func.count()).where(said.c.customer_id == customer_id, said.c.sentiment == 1).scalar_subquery()
    return (select(func.count(), func.coalesce(func.sum(_spend_cents(referred.c.id)), 0),
                   func.sum(_clv_in(referred.c.id, run_id)), mentions, praise, _clv_in(customer_id, run_id))
            .where(referred.c.referred_by_id == customer_id, referred.c.erased_at.is_(None)))


# Built once (the profile reads it for every customer shown): building a statement costs about as much as running
# it (bench/statement_cost.py).
_REFERRAL_VALUE = _referral_value_statement()


def referral_value(session: Session, customer_id: int, *,
                   run: ScoreRun | None | EllipsisType = ...) -> ReferralValue:
    """Revenue and CLV of the customers this one referred, how many, and their mentions; NotFound when erased.

    ``run`` is the latest scoring run when the caller has read it already (None: there is none yet).
    """
    customer = get_customer(session, customer_id)
    if run is ...:
        run = latest_run(session)
    run_id = run.id if run is not None else None
    # without a run the CLV subqueries match no row (run_id = NULL), so both CLVs come back NULL
    count, cents, clv, mentioned, praised, own = read_rows(
        session, _REFERRAL_VALUE, {"customer_id": customer.id, "run_id": run_id}).one()
    return ReferralValue(customer_id=customer.id, referrals=int(count), revenue=from_minor(int(cents)),
                         clv=(float(clv) if clv is not None else 0.0) if run_id is not None else None,
                         own_clv=float(own) if own is not None else None, mentions=int(mentioned),
                         praise=int(praised), run_id=run_id,
                         observation_end=run.observation_end if run is not None else None)


@dataclass(frozen=True, slots=True)
class ReferredCustomer:
    """A customer someone referred, with what they spent and their CLV (latest run)."""

    id: int
    name: str
    revenue: Decimal
    clv: float | None


@dataclass(frozen=True, slots=True)
class WordOfMouth:
    """The profile's word-of-mouth section: who referred them, whom they referred, their worth, their mentions."""

    value: ReferralValue
    referred_by: CustomerLink | None
    referred: list[ReferredCustomer]
    more: bool
    mentions: list[MentionEntry]


def customer_word_of_mouth(session: Session, customer_id: int, links: Referrals | None = None, *,
                           run: ScoreRun | None | EllipsisType = ...) -> WordOfMouth:
    """Everything the profile shows about a customer's word of mouth; ``links`` are the customer's
    relationship.referrals and ``run`` the latest scoring run when the caller has them already (the profile
    does), else they are looked up."""
    value = referral_value(session, customer_id, run=run)
    customer = get_customer(session, customer_id)
    referrer = customer.referred_by  # loaded with the customer's details: no query
    referred_by = (CustomerLink(referrer.id, referrer.display_name)
                   if referrer is not None and referrer.erased_at is None else None)
    if links is None:
        links = referrals(session, customer.id, referred_by)
    ids = [link.id for link in links.referred]
    spent: dict[int, Decimal] = {}
    clvs: dict[int, float | None] = {}
    if ids:
        orders = Order.__table__
        spent = {cid: from_minor(int(cents)) for cid, cents in session.execute(
            select(orders.c.customer_id, func.sum(type_coerce(orders.c.total, BigInteger)))
            .where(orders.c.customer_id.in_(ids), orders.c.cancelled_at.is_(None)).group_by(orders.c.customer_id))}
        if value.run_id is not None:
            clvs = dict(session.execute(select(CustomerScore.customer_id, CustomerScore.clv).where(
                CustomerScore.run_id == value.run_id, CustomerScore.customer_id.in_(ids))).all())
    referred = [ReferredCustomer(link.id, link.name, spent.get(link.id, Decimal("0.00")), clvs.get(link.id))
                for link in links.referred]
    return WordOfMouth(value=value, referred_by=referred_by, referred=referred, more=links.more,
                       mentions=list_mentions(session, customer_id=customer.id, limit=MENTIONS_SHOWN))


# ----------------------------------------------------------------------------------------------
# Advocates
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Advocate:
    """A customer who spread the word, with what the customers they referred brought."""

    rank: int
    customer_id: int
    name: str
    email: str | None
    referrals: int
    revenue: Decimal  # net spend of the customers they referred
    clv: float | None  # CLV of those customers in the latest run; None before the first run
    mentions: int
    praise: int


def advocates(session: Session, *, limit: int = DEFAULT_ADVOCATES) -> list[Advocate]:
    """Advocates best first: by the revenue of the customers they referred, then those customers' CLV, then count.

    Customers who referred nobody but praised us in a mention are listed after, by praise. One query (after the
    latest run's): the referral links are read from the index on ``referred_by_id``, each referred customer's
    orders and score once, in customer order; erased customers are left out.
    """
    if not 1 <= limit <= MAX_ADVOCATES:
        raise ValidationFailed(f"limit must be between 1 and {MAX_ADVOCATES}", field="limit")
    run = latest_run(session)
    run_id = run.id if run is not None else None
    customers, mentions = Customer.__table__, Mention.__table__
    referred = _REFERRED
    # Every referral link, read from the index on referred_by_id alone, then put in customer order so that the
    # referred customers' orders and scores are read in that order (SQLite reads them three times faster so than
    # in referrer order). Erased customers have no links: erasure clears them both ways (services/erasure.py).
    links = (select(referred.c.referred_by_id.label("advocate_id"), referred.c.id.label("customer_id"))
             .where(referred.c.referred_by_id.is_not(None)).cte("referral_links").prefix_with("MATERIALIZED"))
    ids = select(links).order_by(links.c.customer_id).cte("referred_ids").prefix_with("MATERIALIZED")
    per_referred = (select(ids.c.advocate_id, _spend_cents(ids.c.customer_id).label("cents"),
                           _clv_of(ids.c.customer_id, run_id).label("clv"))
                    .cte("per_referred").prefix_with("MATERIALIZED"))
    brought = (select(per_referred.c.advocate_id, func.count().label("referrals"),
                      func.sum(per_referred.c.cents).label("cents"), func.sum(per_referred.c.clv).label("clv"))
               .group_by(per_referred.c.advocate_id).subquery("brought"))
    spoke = (select(mentions.c.customer_id.label("advocate_id"), func.count().label("mentions"),
                    func.sum(case((mentions.c.sentiment == 1, 1), else_=0)).label("praise"))
             .group_by(mentions.c.customer_id).subquery("spoke"))
    # Each advocate once: those who referred someone (with their mentions), then those who only praised us;
    # ranked and cut to ``limit`` before the names are read, so only those few customer rows are.
    erased = select(customers.c.id).where(customers.c.erased_at.is_not(None))  # few: read through their index
    referrers = (select(brought.c.advocate_id, brought.c.referrals, brought.c.cents, brought.c.clv,
                        func.coalesce(spoke.c.mentions, 0).label("mentions"),
                        func.coalesce(spoke.c.praise, 0).label("praise"))
                 .select_from(brought.outerjoin(spoke, spoke.c.advocate_id == brought.c.advocate_id))
                 .where(brought.c.advocate_id.not_in(erased)))
    referred_someone = select(referred.c.id).where(referred.c.referred_by_id == spoke.c.advocate_id).exists()
    praisers = (select(spoke.c.advocate_id, literal(0).label("referrals"), literal(0).label("cents"),
                       cast(null(), Float).label("clv"), spoke.c.mentions, spoke.c.praise)
                .where(spoke.c.praise > 0, ~referred_someone, spoke.c.advocate_id.not_in(erased)))
    both = union_all(referrers, praisers).subquery("both_kinds")

    def best_first(table: Any) -> list[Any]:
        return [table.c.cents.desc(), func.coalesce(table.c.clv, 0.0).desc(), table.c.referrals.desc(),
                table.c.praise.desc(), table.c.advocate_id]

    ranked = select(both).order_by(*best_first(both)).limit(limit).subquery("ranked")
    stmt = (select(Customer, ranked.c.referrals, ranked.c.cents, ranked.c.clv, ranked.c.mentions, ranked.c.praise)
            .join(ranked, ranked.c.advocate_id == Customer.id).order_by(*best_first(ranked)))
    if session.get_bind().dialect.name == "postgresql":
        # The planner prices the per-customer look-ups high and would compile the query to machine code first
        # (JIT), which takes longer than running it; this transaction only.
        session.execute(text("SET LOCAL jit = off"))
    return [Advocate(rank=rank, customer_id=customer.id, name=customer.display_name, email=customer.email,
                     referrals=int(n), revenue=from_minor(int(total)),
                     clv=(float(clv) if clv is not None else 0.0) if run_id is not None else None,
                     mentions=int(said), praise=int(good))
            for rank, (customer, n, total, clv, said, good) in enumerate(session.execute(stmt), start=1)]


ADVOCATE_HEADER = ("rank", "customer_id", "name", "email", "referrals", "referred_revenue", "referred_clv",
                   "mentions", "praise")


def advocates_csv(rows: Sequence[Advocate]) -> str:
    """The advocates as CSV text with a header line (RFC 4180, CRLF); cells a spreadsheet could run are defused."""
    import csv
    import io

    from ravingfans.ingest.export import neutralize

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(ADVOCATE_HEADER)
    for row in rows:
        writer.writerow([row.rank, row.customer_id, neutralize(row.name), neutralize(row.email or ""), row.referrals,
                         f"{row.revenue:.2f}", "" if row.clv is None else f"{row.clv:.2f}", row.mentions, row.praise])
    return out.getvalue()


def advocates_filename(today: date) -> str:
    """A file name for the export, e.g. ``advocates-2024-06-03.csv``."""
    return f"advocates-{today.isoformat()}.csv"
