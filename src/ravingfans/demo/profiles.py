"""Who the demo customers are: names, contacts, sizes, tastes, and what staff wrote down about them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from ravingfans.demo import names
from ravingfans.demo.catalog import Staff
from ravingfans.demo.draws import Draws, cumulate
from ravingfans.demo.model import FAN, LAPSING_FAN, ONE_OFF, DemoConsent, DemoCustomer, DemoNote
from ravingfans.demo.timeline import Timeline

CHANNELS = ("store", "phone", "email", "web", "other")
MARKETING_WORDING = "Yes, send me news, offers and invitations by e-mail. I can unsubscribe at any time."
SURVEY_WORDING = "You may e-mail me now and then to ask how you are doing."
_FEMALE_SHIRT = cumulate([35, 40, 20, 5])
_MALE_SHIRT = cumulate([10, 35, 35, 20])
_LANGUAGES = (("en", 90), ("es", 8), ("vi", 2))
_LANGUAGE_CUM = cumulate([w for _l, w in _LANGUAGES])
_CITY_CUM = cumulate([w for *_rest, w in names.CITIES])


@dataclass(slots=True)
class Person:
    """A customer while the simulation runs: fixed traits plus what happened to them so far."""

    index: int
    key: str
    segment: str
    female: bool
    first_name: str
    last_name: str
    shoe_size: str
    shirt_size: str
    category_cum: list[float]
    favourite_colour: str
    favourite_brand: str
    channel_cum: list[float]
    mood: float
    dislikes: list[str]
    hobby: str | None
    birthday: date | None
    rate: float
    dropout: float
    acquired_day: int
    preferred_employee: int | None = None
    first_channel: str = "store"
    first_epoch: int = 0
    last_epoch: int = 0
    orders: int = 0
    spend_cents: int = 0
    bought_categories: dict[int, int] = field(default_factory=dict)
    referred_by: str | None = None


def _nearest_size(value: float, sizes: tuple[str, ...]) -> str:
    return min(sizes, key=lambda s: abs(float(s) - value))


def make_people(draws: Draws, rng: np.random.Generator, segments: list[str], acquired: np.ndarray,
                rates: np.ndarray, dropouts: np.ndarray, category_weight: list[float], today: date) -> list[Person]:
    """The customers' fixed traits, in acquisition order (keys C00001, C00002, ...)."""
    n = len(segments)
    n_categories = len(category_weight)
    taste = rng.gamma(0.5, 1.0, size=(n, n_categories)) * np.asarray(category_weight)
    web_share = rng.beta(1.3, 3.2, size=n)
    moods = rng.normal(0.0, 0.5, size=n)
    dress = next(c for c, cat in enumerate(names.CATEGORIES) if cat[0] == "Dresses")
    people: list[Person] = []
    for i in range(n):
        female = draws.chance(0.55)
        first = draws.pick(names.FEMALE_FIRST if female else names.MALE_FIRST)
        segment = segments[i]
        if female:
            shoe = _nearest_size(min(max(draws.normal(8.0, 0.9), 6.0), 11.0), names.SHOE_SIZES)
            shirt = names.CLOTHING_SIZES[draws.weighted(_FEMALE_SHIRT)]
        else:
            taste[i, dress] *= 0.05
            shoe = _nearest_size(min(max(draws.normal(10.2, 1.0), 7.5), 13.0), names.SHOE_SIZES)
            shirt = names.CLOTHING_SIZES[draws.weighted(_MALE_SHIRT)]
        web = float(web_share[i]) * (0.7 if segment in (FAN, LAPSING_FAN) else 1.0)
        channel_cum = cumulate([(1 - web) * 0.9, (1 - web) * 0.07, 0.015, web, 0.015])
        dislikes = []
        if draws.chance(0.4):
            dislikes = [draws.pick(names.DISLIKES)]
            if draws.chance(0.3):
                extra = draws.pick(names.DISLIKES)
                if extra not in dislikes:
                    dislikes.append(extra)
        people.append(Person(
            index=i, key=f"C{i + 1:05d}", segment=segment, female=female, first_name=first,
            last_name=draws.pick(names.LAST), shoe_size=shoe, shirt_size=shirt,
            category_cum=cumulate(taste[i].tolist()), favourite_colour=draws.pick(names.COLOURS)[0],
            favourite_brand=draws.pick(names.BRANDS)[0], channel_cum=channel_cum,
            mood=float(moods[i]) + (0.4 if segment == FAN else 0.0), dislikes=dislikes,
            hobby=draws.pick(names.HOBBIES) if draws.chance(0.5) else None,
            birthday=_birthday(draws, today) if draws.chance(0.65) else None, rate=float(rates[i]),
            dropout=float(dropouts[i]), acquired_day=int(acquired[i]),
        ))
    return people


def _email(draws: Draws, person: Person, taken: set[str]) -> str:
    first, last = person.first_name.lower(), person.last_name.lower().replace("'", "")
    forms = (f"{first}.{last}", f"{first}{last}", f"{first[0]}{last}", f"{first}_{last}", f"{last}.{first}")
    local = draws.pick(forms)
    address = f"{local}@{draws.pick(names.EMAIL_DOMAINS)}"
    while address in taken:
        address = f"{local}{draws.below(990) + 10}@{draws.pick(names.EMAIL_DOMAINS)}"
    taken.add(address)
    return address


def _phone(draws: Draws, region: str, taken: set[str]) -> str:
    # 555 numbers are the ones North American fiction uses.
    while True:
        number = f"+1{draws.pick(names.AREA_CODES[region])}555{draws.below(10000):04d}"
        if number not in taken:
            taken.add(number)
            return number


def _birthday(draws: Draws, today: date) -> date:
    age = 18 + int(draws.between(0, 30) + draws.between(0, 32))
    year = today.year - age
    return date(year, 1, 1) + timedelta(days=draws.below(365))


def _utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def finish_customers(draws: Draws, people: list[Person], timeline: Timeline, staff: Staff,
                     categories: list[str]) -> tuple[list[DemoCustomer], list[DemoConsent], list[DemoNote]]:
    """Contacts, tastes, notes, tags and e-mail consents, consistent with what each customer did."""
    emails: set[str] = set()
    phones: set[str] = set()
    now_epoch = timeline.midnight[-1]
    spend_cut = sorted((p.spend_cents for p in people), reverse=True)[max(len(people) // 20 - 1, 0)]
    customers: list[DemoCustomer] = []
    consents: list[DemoConsent] = []
    notes: list[DemoNote] = []
    for p in people:
        loyal = p.segment in (FAN, LAPSING_FAN)
        city, region, postcodes, _w = names.CITIES[draws.weighted(_CITY_CUM)]
        has_address = draws.chance(0.8 if loyal else 0.55)
        email = _email(draws, p, emails) if (p.first_channel == "web" or draws.chance(0.88)) else None
        phone = _phone(draws, region, phones) if draws.chance(0.6 if loyal else 0.4) else None
        top = sorted(p.bought_categories, key=lambda c: -p.bought_categories[c])[:2]
        likes: list[str] = []
        if draws.chance(0.9 if loyal else 0.55):
            likes = [categories[c].lower() for c in top]
            if draws.chance(0.4):
                likes.append(p.favourite_brand)
            if draws.chance(0.3):
                likes.append(p.favourite_colour.lower())
            if p.hobby:
                likes.append(p.hobby)
        sizes: dict[str, str] = {}
        if draws.chance(0.8 if loyal else 0.15 if p.segment == ONE_OFF else 0.45):
            sizes = {"shoe": p.shoe_size, "shirt": p.shirt_size}
        details: dict[str, Any] = {}
        if draws.chance(0.5 if loyal else 0.25):
            details["occupation"] = draws.pick(names.OCCUPATIONS)
            if draws.chance(0.4):
                details["partner"] = draws.pick(names.MALE_FIRST if p.female else names.FEMALE_FIRST)
            if draws.chance(0.35):
                details["children"] = 1 + draws.below(3)
        note_text: str | None = None
        if draws.chance(0.18):
            note_text = draws.pick(names.CUSTOMER_NOTES)
        if loyal and p.preferred_employee is not None and draws.chance(0.3):
            who = staff.employees[p.preferred_employee].name.split()[0]
            note_text = f"{note_text} Prefers {who} to serve them." if note_text else f"Prefers {who} to serve them."
        created = _utc(p.first_epoch)
        updated_epoch = p.first_epoch
        consent: bool | None = None
        if email is not None:
            grant_p = {FAN: 0.8, LAPSING_FAN: 0.75, ONE_OFF: 0.35}.get(p.segment, 0.55)
            consent = draws.chance(grant_p)
            where = "web checkout" if p.first_channel == "web" else "in-store sign-up form"
            consents.append(DemoConsent(customer_key=p.key, purpose="marketing", channel="email", granted=consent,
                                        at=created, source=where, wording=MARKETING_WORDING))
            if consent and draws.chance(0.4):
                consents.append(DemoConsent(customer_key=p.key, purpose="surveys", channel="email", granted=True,
                                            at=created, source=where, wording=SURVEY_WORDING))
            unsubscribes = draws.chance(0.2 if p.segment == LAPSING_FAN else 0.07)
            if consent and unsubscribes and now_epoch - p.first_epoch > 86400:
                at = p.first_epoch + int(draws.u() * (now_epoch - p.first_epoch - 3600))
                consents.append(DemoConsent(customer_key=p.key, purpose="marketing", channel="email", granted=False,
                                            at=_utc(at), source="unsubscribe link",
                                            wording="Unsubscribed with the link in a newsletter."))
                consent = False
                updated_epoch = max(updated_epoch, at)
        tags: list[str] = []
        if p.spend_cents >= spend_cut and p.orders > 1:
            tags.append("VIP")
        if consent:
            tags.append("newsletter")
        if p.referred_by:
            tags.append("referred")
        if "running shoes" in likes or p.hobby in ("trail running", "marathons"):
            tags.append("runner")
        if note_text and "Wide feet" in note_text:
            tags.append("wide-fit")
        if loyal and p.orders >= 5 and p.preferred_employee is not None and draws.chance(0.3):
            author = staff.employees[p.preferred_employee]
            for _ in range(1 + draws.below(2)):
                at = p.first_epoch + int(draws.u() * max(p.last_epoch - p.first_epoch, 1))
                body = draws.pick(names.STAFF_NOTES).format(size=p.shoe_size, brand=p.favourite_brand)
                notes.append(DemoNote(customer_key=p.key, author=author.name, body=body, created_at=_utc(at)))
        street = f"{100 + draws.below(9800)} {draws.pick(names.STREETS)}" if has_address else None
        customers.append(DemoCustomer(
            key=p.key, first_name=p.first_name, last_name=p.last_name, email=email, phone=phone,
            address_line1=street,
            address_line2=(f"Apt {1 + draws.below(30)}{draws.pick('ABCD')}"
                           if has_address and draws.chance(0.15) else None),
            city=city if has_address else None, region=region if has_address else None,
            postal_code=draws.pick(postcodes) if has_address else None, country="US" if has_address else None,
            birthday=p.birthday,
            language=_LANGUAGES[draws.weighted(_LANGUAGE_CUM)][0], personal_details=details, likes=likes,
            dislikes=list(p.dislikes), sizes=sizes, tags=tags, notes=note_text, email_consent=consent,
            referred_by=p.referred_by, created_at=created, updated_at=_utc(updated_epoch),
        ))
    return customers, consents, notes
