"""What the profile shows around the record: family and occasions, referrals both ways, what to do next.

Family and occasions come from the birthday and the free personal details (``partner``,
``children``, ``wedding_anniversary: 2015-06-20``...); an occasion with a day gets its next date.
"What to do next" is a short list derived from the data: a slipping fan to call, a recent misery
moment to follow up, an occasion coming up, a consent never asked, a fan not thanked for a while.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from ravingfans.analytics.scoring import FAN_SEGMENTS
from ravingfans.db.models import Customer
from ravingfans.db.models.customers import name_as_said
from ravingfans.db.reads import read_rows
from ravingfans.services.customers import CustomerLink, CustomerProfile

REFERRALS_SHOWN = 50
OCCASION_HORIZON_DAYS = 14
MISERY_FOLLOW_UP_DAYS = 30
THANK_AFTER_DAYS = 90

_FAMILY = re.compile(r"(?:^|[_\s-])(?:partner|spouse|husband|wife|child|kid|daughter|mother|father|mum|mom|dad|"
                     r"parent|sister|brother|sibling|family|grand|baby|dog|(?:son|pet|cat)s?(?=$|[_\s-]))")
_OCCASION = re.compile(r"(?:^|[_\s-])(?:anniversary|birthday|wedding|name_?day|occasion)|[_\s-](?:day|date)$")
_DAY = re.compile(r"^(?:(\d{4})-|--)?(\d{1,2})-(\d{1,2})$")


@dataclass(frozen=True, slots=True)
class Occasion:
    """A yearly day to remember: what, the day on record, and when it comes next."""

    label: str
    on_record: str
    month: int | None
    day: int | None
    year: int | None
    next_on: date | None
    in_days: int | None

    @property
    def years(self) -> int | None:
        """How many years it will be on its next day (the age for a birthday), when the year is known."""
        if self.year is None or self.next_on is None:
            return None
        return self.next_on.year - self.year


@dataclass(frozen=True, slots=True)
class Fact:
    """One personal detail: its key (as stored, for editing) and its value."""

    key: str
    value: str


@dataclass(frozen=True, slots=True)
class FamilyAndOccasions:
    """Family members (and pets), yearly occasions, and the other personal details."""

    family: list[Fact]
    occasions: list[Occasion]
    other: list[Fact]


@dataclass(frozen=True, slots=True)
class Referrals:
    """Who referred this customer, and the customers they referred (the first :data:`REFERRALS_SHOWN`)."""

    referred_by: CustomerLink | None
    referred: list[CustomerLink]
    more: bool


@dataclass(frozen=True, slots=True)
class Step:
    """Something to do for this customer, in words, with where on the profile to do it."""

    kind: str  # call, follow_up, occasion, consent, contact, thank
    text: str
    anchor: str


def parse_day(text: str) -> tuple[int | None, int, int] | None:
    """(year or None, month, day) of ``2015-06-20``, ``06-20`` or ``--06-20``; None when it is not a day."""
    found = _DAY.match(text.strip())
    if found is None:
        return None
    year = int(found.group(1)) if found.group(1) else None
    month, day = int(found.group(2)), int(found.group(3))
    try:
        date(year if year is not None else 2000, month, day)  # 2000 is a leap year: 29 February passes
    except ValueError:
        return None
    return year, month, day


def next_occurrence(month: int, day: int, today: date) -> date:
    """The next ``month``-``day`` on or after ``today``; 29 February is kept on 28 February in other years."""
    for year in (today.year, today.year + 1):
        shown = min(day, 28) if (month, day) == (2, 29) and not _leap(year) else day
        candidate = date(year, month, shown)
        if candidate >= today:
            return candidate
    raise AssertionError("unreachable: a day recurs within a year")


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _occasion(label: str, on_record: str, parsed: tuple[int | None, int, int] | None, today: date) -> Occasion:
    if parsed is None:
        return Occasion(label, on_record, None, None, None, None, None)
    year, month, day = parsed
    upcoming = next_occurrence(month, day, today)
    return Occasion(label, on_record, month, day, year, upcoming, (upcoming - today).days)


def _label(key: str) -> str:
    text = key.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def family_and_occasions(birthday: date | None, personal_details: Mapping[str, Any], today: date) -> FamilyAndOccasions:
    """Sort the birthday and personal details into family, occasions (with their next day) and the rest."""
    family: list[Fact] = []
    occasions: list[Occasion] = []
    other: list[Fact] = []
    if birthday is not None:
        occasions.append(_occasion("Birthday", birthday.isoformat(), (birthday.year, birthday.month, birthday.day),
                                   today))
    for key, raw in personal_details.items():
        value = "" if raw is None else str(raw)
        name = str(key).lower()
        parsed = parse_day(value)
        if _OCCASION.search(name) or (parsed is not None and not _FAMILY.search(name)):
            occasions.append(_occasion(_label(str(key)), value, parsed, today))
        elif _FAMILY.search(name):
            family.append(Fact(str(key), value))
        else:
            other.append(Fact(str(key), value))
    occasions.sort(key=lambda o: (o.in_days is None, o.in_days if o.in_days is not None else 0, o.label))
    return FamilyAndOccasions(family, occasions, other)


# Built once, names read as columns (the profile reads it for every customer it shows).
_REFERRED_BY = (select(Customer.id, Customer.first_name, Customer.last_name, Customer.email, Customer.phone,
                       Customer.erased_at)
                .where(Customer.referred_by_id == bindparam("customer_id"))
                .order_by(Customer.last_name, Customer.first_name, Customer.id).limit(REFERRALS_SHOWN + 1))


def referrals(session: Session, customer_id: int, referred_by: CustomerLink | None) -> Referrals:
    """The customers this one referred, by name (one query), with who referred them."""
    rows = read_rows(session, _REFERRED_BY, {"customer_id": customer_id}).all()
    links = [CustomerLink(cid, name_as_said(first, last, email, phone, cid, erased_at is not None))
             for cid, first, last, email, phone, erased_at in rows[:REFERRALS_SHOWN]]
    return Referrals(referred_by=referred_by, referred=links, more=len(rows) > REFERRALS_SHOWN)


def _when(days: int) -> str:
    return "today" if days == 0 else "tomorrow" if days == 1 else f"in {days} days"


def next_steps(profile: CustomerProfile, occasions: list[Occasion], scores: Mapping[str, Any] | None,
               *, now: datetime, today: date) -> list[Step]:
    """A short list of what to do next for this customer, most urgent first.

    ``scores`` are the customer's scores in the current scoring run (None when they are not in it).
    """
    steps: list[Step] = []
    c = profile.customer
    if scores is not None and scores.get("slipping_rank") is not None:
        reason = str(scores.get("slipping_reason") or "").strip()
        steps.append(Step("call", f"Slipping away: call them{(' — ' + reason) if reason else ''}.", "moments"))
    newest = profile.interactions[0] if profile.interactions else None
    if newest is not None and newest.rating == "misery" and now - newest.occurred_at <= timedelta(
            days=MISERY_FOLLOW_UP_DAYS):
        steps.append(Step("follow_up", "A misery moment in the last 30 days has had no follow-up: get in touch "
                          "and put it right.", "moments"))
    for occasion in occasions:
        if occasion.in_days is not None and occasion.in_days <= OCCASION_HORIZON_DAYS and occasion.next_on:
            turning = f" (turns {occasion.years})" if occasion.label == "Birthday" and occasion.years else ""
            steps.append(Step("occasion", f"{occasion.label} {_when(occasion.in_days)}, "
                              f"{occasion.next_on:%d %B}{turning}: a card or a note would be remembered.", "family"))
    if not c.email and not c.phone:
        steps.append(Step("contact", "No e-mail or phone on file: ask how they would like to be reached.", "details"))
    elif c.email and c.email_consent is None and not profile.consents:
        steps.append(Step("consent", "Never asked about e-mails: ask whether they would like news and offers.",
                          "consents"))
    if scores is not None and scores.get("segment") in FAN_SEGMENTS:
        if newest is None or now - newest.occurred_at > timedelta(days=THANK_AFTER_DAYS):
            steps.append(Step("thank", "A raving fan with no moment of truth in 90 days: thank them.", "moments"))
    return steps
