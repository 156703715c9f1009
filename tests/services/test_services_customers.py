"""Customer services on a real database: search, list, profile, notes and moments of truth."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from ravingfans.clock import fixed
from ravingfans.db import Database
from ravingfans.db.models import Consent, Customer, Employee, Interaction, Note, Order, OrderLine
from ravingfans.errors import NotFound, ValidationFailed
from ravingfans.services import customers as svc
from sqlcount import objects_loaded, selects_built

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def person(s: Session, first: str | None, last: str | None, email: str | None = None, phone: str | None = None,
           **extra: object) -> int:
    """Add a customer and return its id."""
    row = Customer(first_name=first, last_name=last, email=email, phone=phone, created_at=T0, updated_at=T0, **extra)
    s.add(row)
    s.flush()
    return row.id


def order(s: Session, customer_id: int, ext: str, at: datetime, *amounts: str, cancelled: bool = False,
          employee_id: int | None = None) -> int:
    """Add an order whose lines have these net amounts (negative = a return)."""
    row = Order(source="t", external_id=ext, customer_id=customer_id, placed_at=at, employee_id=employee_id,
                cancelled_at=at if cancelled else None)
    for number, amount in enumerate(amounts, start=1):
        value = Decimal(amount)
        row.lines.append(OrderLine(line_no=number, kind="sale" if value >= 0 else "return",
                                   quantity=1 if value >= 0 else -1, unit_price=abs(value), amount=value,
                                   product_name=f"item {number}"))
    row.total = sum((Decimal(a) for a in amounts), Decimal(0))
    s.add(row)
    s.flush()
    return row.id


def staff(s: Session, name: str, *, active: bool = True) -> int:
    """Add an employee and return its id."""
    row = Employee(name=name, source="t", external_id=name, active=active, created_at=T0)
    s.add(row)
    s.flush()
    return row.id


def names(rows: list[svc.CustomerRow]) -> list[str]:
    """The display names of rows, in order."""
    return [r.name for r in rows]


@pytest.fixture
def people(db: Database) -> dict[str, int]:
    """A few customers to search for."""
    with db.session(write=True) as s:
        return {
            "ada": person(s, "Ada", "Lovelace", "ada@example.com", "+14155550123"),
            "grace": person(s, "Grace", "Hopper", "grace@navy.example", "+12025550199"),
            "anna": person(s, "Anna", "Zed", None, "+442079460958"),
            "under": person(s, "a_b", "Literal", "under@example.com"),
            "axb": person(s, "axb", "Wild", "axb@example.com"),
            "mail": person(s, None, None, "only.mail@example.com"),
        }


@pytest.mark.parametrize(("query", "region", "expected"), [
    ("ada", "US", ["Ada Lovelace"]),
    ("ADA", "US", ["Ada Lovelace"]),
    ("lovelace", "US", ["Ada Lovelace"]),
    ("Ada Love", "US", ["Ada Lovelace"]),
    ("lovelace, a", "US", ["Ada Lovelace"]),
    ("hopper g", "US", ["Grace Hopper"]),
    ("Grace@Navy.", "US", ["Grace Hopper"]),
    ("ONLY.MAIL", "US", ["only.mail@example.com"]),
    ("415 555 01", "US", ["Ada Lovelace"]),
    ("(415) 555-0123", "US", ["Ada Lovelace"]),
    ("1-415-555", "US", ["Ada Lovelace"]),
    ("+1 (202) 555", "US", ["Grace Hopper"]),
    ("020 7946", "GB", ["Anna Zed"]),
    ("0044 20 79", "US", ["Anna Zed"]),
    ("a_b", "US", ["a_b Literal"]),  # '_' is a letter here, not a LIKE wildcard
    ("a%", "US", []),
    ("velace", "US", []),  # prefix search: not the middle of a word
    ("55", "US", []),  # too few digits to be a phone search
])
def test_search_matches_prefixes_of_name_email_or_phone(db: Database, people: dict[str, int], query: str,
                                                        region: str, expected: list[str]) -> None:
    with db.session() as s:
        assert names(svc.search_customers(s, query, region=region)) == expected


def test_search_refuses_empty_long_or_control_character_queries(db: Database, people: dict[str, int]) -> None:
    with db.session() as s:
        for query, fragment in (("  ", "type part"), ("x" * 101, "at most"), ("ad\x00a", "control")):
            with pytest.raises(ValidationFailed) as err:
                svc.search_customers(s, query)
            assert err.value.field == "q"
            assert fragment in err.value.message


def test_phone_prefixes_cover_national_and_international_dialling() -> None:
    assert svc.phone_prefixes("(415) 555-01", "US") == ["+41555501", "+141555501"]
    assert svc.phone_prefixes("1 415 555", "US") == ["+1415555"]  # the trunk prefix 1 is dropped nationally
    assert svc.phone_prefixes("030 1234", "DE") == ["+0301234", "+49301234"]
    assert svc.phone_prefixes("+44 20", "US") == ["+4420"]
    assert svc.phone_prefixes("0049 30", "US") == ["+4930"]
    assert svc.phone_prefixes("ada", "US") == []
    assert svc.phone_prefixes("12", "US") == []


@pytest.fixture
def shop(db: Database) -> dict[str, int]:
    """Customers with orders: one big spender, one with a return, one cancelled, one who never bought."""
    with db.session(write=True) as s:
        ids = {
            "zoe": person(s, "Zoe", "Adams"),
            "bob": person(s, "bob", "baker"),
            "cat": person(s, "Cat", "Baker"),
            "dan": person(s, "Dan", None),
            "eve": person(s, None, None, "eve@example.com"),
        }
        order(s, ids["zoe"], "Z1", T0 - timedelta(days=300), "50.00")
        order(s, ids["bob"], "B1", T0 - timedelta(days=10), "100.00", "-40.00")  # net 60
        order(s, ids["bob"], "B2", T0 - timedelta(days=400), "5.00")
        order(s, ids["cat"], "C1", T0 - timedelta(days=100), "70.00")
        order(s, ids["cat"], "C2", T0 - timedelta(days=1), "9999.00", cancelled=True)
        return ids


def test_list_sorts_by_name_surname_first_case_insensitively(db: Database, shop: dict[str, int]) -> None:
    with db.session() as s:
        page = svc.list_customers(s)
        assert names(page.items) == ["Zoe Adams", "bob baker", "Cat Baker", "Dan", "eve@example.com"]
        assert names(svc.list_customers(s, direction="desc").items) == [
            "eve@example.com", "Dan", "Cat Baker", "bob baker", "Zoe Adams"]
        # a search sorts the same way (through another spelling of the order, which no index matches)
        assert names(svc.list_customers(s, query="BAKER").items) == ["bob baker", "Cat Baker"]
        assert names(svc.list_customers(s, query="baker", direction="desc").items) == ["Cat Baker", "bob baker"]


def test_list_sorts_by_spend_and_last_purchase_ignoring_cancelled_orders(db: Database, shop: dict[str, int]) -> None:
    with db.session() as s:
        by_spend = svc.list_customers(s, sort="total_spend", direction="desc").items
        assert [(r.name, r.total_spend, r.order_count) for r in by_spend[:3]] == [
            ("Cat Baker", Decimal("70.00"), 1), ("bob baker", Decimal("65.00"), 2), ("Zoe Adams", Decimal("50.00"), 1)]
        assert {r.total_spend for r in by_spend[3:]} == {Decimal("0.00")}
        by_recent = svc.list_customers(s, sort="last_purchase", direction="desc").items
        assert names(by_recent[:3]) == ["bob baker", "Cat Baker", "Zoe Adams"]
        assert by_recent[0].last_purchase_at == T0 - timedelta(days=10)
        assert by_recent[1].last_purchase_at == T0 - timedelta(days=100)  # the later order was cancelled
        by_oldest = svc.list_customers(s, sort="last_purchase", direction="asc").items
        assert names(by_oldest[:3]) == ["Zoe Adams", "Cat Baker", "bob baker"]
        assert [r.last_purchase_at for r in by_oldest[3:]] == [None, None]  # never bought: last either way


def test_name_sorted_rows_carry_the_same_figures(db: Database, shop: dict[str, int]) -> None:
    with db.session() as s:
        rows = {r.name: r for r in svc.list_customers(s).items}
        assert (rows["bob baker"].order_count, rows["bob baker"].total_spend) == (2, Decimal("65.00"))
        assert rows["Dan"].last_purchase_at is None


def test_list_pages_and_filters(db: Database, shop: dict[str, int]) -> None:
    with db.session() as s:
        first = svc.list_customers(s, per_page=2)
        assert (first.total, first.pages, first.has_previous, first.has_next) == (5, 3, False, True)
        third = svc.list_customers(s, per_page=2, page=3)
        assert names(third.items) == ["eve@example.com"]
        assert not third.has_next
        assert svc.list_customers(s, per_page=2, page=4).items == []
        baker = svc.list_customers(s, query="BAKER", sort="total_spend", direction="asc")
        assert (baker.total, names(baker.items), baker.query) == (2, ["bob baker", "Cat Baker"], "BAKER")


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"sort": "email"}, "sort"),
    ({"direction": "up"}, "direction"),
    ({"page": 0}, "page"),
    ({"page": 10**12}, "page"),
    ({"per_page": 0}, "per_page"),
    ({"per_page": 101}, "per_page"),
    ({"query": "q" * 101}, "q"),
])
def test_list_refuses_bad_arguments_naming_the_field(db: Database, kwargs: dict[str, object], field: str) -> None:
    with db.session() as s, pytest.raises(ValidationFailed) as err:
        svc.list_customers(s, **kwargs)  # type: ignore[arg-type]
    assert err.value.field == field


def test_profile_gathers_everything_newest_first(db: Database) -> None:
    with db.session(write=True) as s:
        sam = staff(s, "Sam")
        friend = person(s, "Fran", "Friend")
        cid = person(s, "Ada", "Lovelace", "ada@example.com", "+14155550123", city="London", postal_code="N1",
                     address_line1="1 Analytical Row", birthday=datetime(1815, 12, 10).date(), language="en",
                     likes=["tea", None, ""], dislikes=["noise"], sizes={"shoe": "38", "dress": None},
                     tags=["vip"], personal_details={"dog": "Rex", "kids": 2}, notes="From the old till",
                     referred_by_id=friend, email_consent=True)
        s.add_all([
            Consent(customer_id=cid, purpose="marketing", channel="email", granted=True, at=T0 - timedelta(days=9),
                    source="till", wording="Yes please"),
            Consent(customer_id=cid, purpose="marketing", channel="email", granted=False, at=T0, source="link"),
        ])
        order(s, cid, "OLD", T0 - timedelta(days=30), "10.00", employee_id=sam)
        order(s, cid, "NEW", T0 - timedelta(days=1), "30.00", "-5.00")
        order(s, cid, "GONE", T0 - timedelta(days=2), "99.00", cancelled=True)
        s.add(Interaction(customer_id=cid, employee_id=sam, occurred_at=T0 - timedelta(days=3), channel="phone",
                          kind="courtesy_call", rating=1, note="Happy", created_at=T0))
        s.add(Interaction(customer_id=cid, occurred_at=T0 - timedelta(days=1), channel="store", kind="question",
                          rating=None, note="", created_at=T0))
        s.add(Note(customer_id=cid, author="Kim", body="first", created_at=T0 - timedelta(days=5)))
        s.add(Note(customer_id=cid, author="", body="second", created_at=T0 - timedelta(days=4)))

    with db.session() as s:
        p = svc.get_profile(s, cid)
    c = p.customer
    assert (c.name, c.email, c.phone) == ("Ada Lovelace", "ada@example.com", "+14155550123")
    assert c.address_lines == ["1 Analytical Row", "N1 London"]
    assert (c.likes, c.dislikes, c.tags) == (["tea"], ["noise"], ["vip"])
    assert c.sizes == {"shoe": "38", "dress": ""}
    assert c.personal_details == {"dog": "Rex", "kids": "2"}
    assert c.imported_note == "From the old till"
    assert c.referred_by == svc.CustomerLink(friend, "Fran Friend")
    assert c.birthday is not None and c.birthday.year == 1815
    assert [x.granted for x in p.consents] == [False, True]
    assert [o.external_id for o in p.orders] == ["NEW", "GONE", "OLD"]
    assert p.orders_total == 3
    assert [(line.line_no, line.amount) for line in p.orders[0].lines] == [(1, Decimal("30.00")), (2, Decimal("-5.00"))]
    assert p.orders[2].employee_name == "Sam"
    assert p.orders[1].cancelled_at is not None
    assert (p.stats.order_count, p.stats.total_spend, p.stats.average_order) == (2, Decimal("35.00"), Decimal("17.50"))
    assert (p.stats.first_purchase_at, p.stats.last_purchase_at) == (T0 - timedelta(days=30), T0 - timedelta(days=1))
    assert [(i.kind, i.rating, i.employee_name) for i in p.interactions] == [
        ("question", None, None), ("courtesy_call", "magic", "Sam")]
    assert [n.body for n in p.notes] == ["second", "first"]
    assert p.notes_total == 2


def test_profile_lists_are_capped_with_totals(db: Database) -> None:
    with db.session(write=True) as s:
        cid = person(s, "Busy", "Buyer")
        for n in range(5):
            order(s, cid, f"O{n}", T0 - timedelta(days=n), "1.00")
            s.add(Note(customer_id=cid, body=f"n{n}", created_at=T0 - timedelta(days=n)))
    with db.session() as s:
        p = svc.get_profile(s, cid, order_limit=2, note_limit=3)
    assert ([o.external_id for o in p.orders], p.orders_total) == (["O0", "O1"], 5)
    assert ([n.body for n in p.notes], p.notes_total) == (["n0", "n1", "n2"], 5)


def test_profile_orders_keep_their_own_lines_in_line_order_without_loading_objects(db: Database) -> None:
    with db.session(write=True) as s:
        cid = person(s, "Lina", "Lines")
        other = person(s, "Otto", "Other")
        first = order(s, cid, "A", T0 - timedelta(days=2), "1.00")
        order(s, other, "X", T0 - timedelta(days=1), "7.00")  # another customer's lines between ours
        second = Order(source="t", external_id="B", customer_id=cid, placed_at=T0, total=Decimal("6.00"))
        s.add(second)
        s.flush()
        for number in (3, 1, 2):  # stored out of line order
            s.add(OrderLine(order_id=second.id, line_no=number, kind="sale", quantity=1, unit_price=Decimal(number),
                            amount=Decimal(number), product_name=f"item {number}"))
        s.add(OrderLine(order_id=first, line_no=2, kind="sale", quantity=1, unit_price=Decimal(5), amount=Decimal(5)))
    loaded: list[object] = []
    with db.session() as s, objects_loaded(loaded, Order, OrderLine):
        p = svc.get_profile(s, cid)
    assert loaded == []  # tracked orders and lines cost a tenth of a profile page
    assert [(o.external_id, [(x.line_no, x.amount) for x in o.lines]) for o in p.orders] == [
        ("B", [(1, Decimal("1.00")), (2, Decimal("2.00")), (3, Decimal("3.00"))]),
        ("A", [(1, Decimal("1.00")), (2, Decimal("5.00"))])]


def test_profile_runs_statements_built_once(db: Database) -> None:
    """Building a statement and its cache key cost as much as running it: the profile (read at every counter) reuses
    statements built at import, with the customer as a parameter."""
    with db.session(write=True) as s:
        cid = person(s, "Ada", "Lovelace")
        order(s, cid, "A", T0, "1.00")
    with db.session() as s, selects_built() as built:
        profile = svc.get_profile(s, cid, staff_names={})
    assert [o.external_id for o in profile.orders] == ["A"] and profile.orders_total == 1
    assert built == []


def test_profile_of_someone_without_anything(db: Database) -> None:
    with db.session(write=True) as s:
        cid = person(s, None, None, None, "+15550000000")
    with db.session() as s:
        p = svc.get_profile(s, cid)
    assert p.customer.name == "+15550000000"
    assert (p.stats.order_count, p.stats.total_spend, p.stats.average_order) == (0, Decimal("0.00"), None)
    assert (p.orders, p.interactions, p.notes, p.consents) == ([], [], [], [])


@pytest.mark.parametrize("customer_id", [0, -5, 424242, 2**31, 2**63])
def test_unknown_customers_are_not_found(db: Database, customer_id: int) -> None:
    with db.session() as s, pytest.raises(NotFound):
        svc.get_profile(s, customer_id)


def test_add_note_stores_a_cleaned_note(db: Database) -> None:
    with db.session(write=True) as s:
        cid = person(s, "Ada", "Lovelace")
    note = svc.parse_note({"body": "  line one\r\nline two  ", "author": " Kim "})
    with db.session(write=True) as s:
        entry = svc.add_note(s, cid, note, clock=fixed(T0))
    assert (entry.body, entry.author, entry.created_at) == ("line one\nline two", "Kim", T0)
    with db.session() as s:
        stored = s.scalars(select(Note)).one()
    assert (stored.customer_id, stored.body, stored.created_at) == (cid, "line one\nline two", T0)


def test_add_note_to_a_missing_customer_writes_nothing(db: Database) -> None:
    with pytest.raises(NotFound), db.session(write=True) as s:
        svc.add_note(s, 999, svc.NoteCreate(body="hello"))
    with db.session() as s:
        assert s.scalars(select(Note)).all() == []


@pytest.mark.parametrize(("data", "field"), [
    ({"body": ""}, "body"),
    ({"body": " \n\t "}, "body"),
    ({"body": "x" * 5001}, "body"),
    ({"body": "bell \x07"}, "body"),
    ({"body": "ok", "author": "two\nlines"}, "author"),
    ({"body": "ok", "author": "a" * 121}, "author"),
    ({"body": "ok", "customer_id": 3}, "customer_id"),
    ({"body": 12}, "body"),
])
def test_parse_note_names_the_bad_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        svc.parse_note(data)
    assert err.value.field == field


def test_log_interaction_stores_a_rated_moment(db: Database) -> None:
    with db.session(write=True) as s:
        cid = person(s, "Ada", "Lovelace")
        sam = staff(s, "Sam")
    moment = svc.parse_interaction({"channel": "phone", "kind": "courtesy_call", "rating": "misery",
                                    "note": "Boots fell apart", "employee_id": str(sam)})
    with db.session(write=True) as s:
        entry = svc.log_interaction(s, cid, moment, clock=fixed(T0))
    assert (entry.rating, entry.employee_name, entry.occurred_at) == ("misery", "Sam", T0)
    with db.session() as s:
        row = s.scalars(select(Interaction)).one()
    assert (row.customer_id, row.employee_id, row.rating, row.channel, row.kind, row.note) == (
        cid, sam, -1, "phone", "courtesy_call", "Boots fell apart")
    assert row.created_at == T0


def test_log_interaction_reads_zoneless_times_in_the_business_zone(db: Database) -> None:
    with db.session(write=True) as s:
        cid = person(s, "Ada", "Lovelace")
    moment = svc.parse_interaction({"channel": "store", "kind": "purchase", "rating": "",
                                    "occurred_at": "2024-01-15T09:30", "employee_id": ""},
                                   zone=ZoneInfo("Europe/Berlin"))
    assert moment.rating is None and moment.employee_id is None
    with db.session(write=True) as s:
        entry = svc.log_interaction(s, cid, moment, clock=fixed(T0))
    assert entry.occurred_at == datetime(2024, 1, 15, 8, 30, tzinfo=UTC)
    assert entry.rating is None


def test_log_interaction_checks_employee_and_time(db: Database) -> None:
    with db.session(write=True) as s:
        cid = person(s, "Ada", "Lovelace")
    with db.session(write=True) as s:
        with pytest.raises(ValidationFailed) as err:
            svc.log_interaction(s, cid, svc.InteractionCreate(channel="store", kind="other", employee_id=77),
                                clock=fixed(T0))
        assert err.value.field == "employee_id"
        later = svc.InteractionCreate(channel="store", kind="other", occurred_at=T0 + timedelta(hours=1))
        with pytest.raises(ValidationFailed) as err:
            svc.log_interaction(s, cid, later, clock=fixed(T0))
        assert err.value.field == "occurred_at"
        with pytest.raises(NotFound):
            svc.log_interaction(s, cid + 1, svc.InteractionCreate(channel="store", kind="other"))
    with db.session() as s:
        assert s.scalars(select(Interaction)).all() == []


@pytest.mark.parametrize(("change", "field"), [
    ({"channel": "telegram"}, "channel"),
    ({"channel": ""}, "channel"),
    ({"kind": "purchase "}, "kind"),
    ({"rating": "great"}, "rating"),
    ({"rating": 1}, "rating"),
    ({"employee_id": "0"}, "employee_id"),
    ({"employee_id": str(2**31)}, "employee_id"),
    ({"employee_id": "1.5"}, "employee_id"),
    ({"occurred_at": "not a time"}, "occurred_at"),
    ({"note": "x" * 5001}, "note"),
    ({"note": "nul\x00"}, "note"),
    ({"extra": "x"}, "extra"),
])
def test_parse_interaction_names_the_bad_field(change: dict[str, object], field: str) -> None:
    data: dict[str, object] = {"channel": "store", "kind": "purchase", "rating": "magic"} | change
    with pytest.raises(ValidationFailed) as err:
        svc.parse_interaction(data)
    assert err.value.field == field


def test_zoneless_times_need_a_zone() -> None:
    data = {"channel": "store", "kind": "other", "occurred_at": "2024-01-01T10:00"}
    with pytest.raises(PydanticValidationError, match="needs a time zone"):
        svc.InteractionCreate.model_validate(data)
    assert svc.parse_interaction(data).occurred_at == datetime(2024, 1, 1, 10, 0, tzinfo=UTC)  # default zone UTC
    aware = svc.parse_interaction(data | {"occurred_at": "2024-01-01T10:00:00+02:00"}, zone=ZoneInfo("Asia/Tokyo"))
    assert aware.occurred_at == datetime(2024, 1, 1, 8, 0, tzinfo=UTC)


def test_list_employees_offers_active_staff_by_name(db: Database) -> None:
    with db.session(write=True) as s:
        staff(s, "zed")
        staff(s, "Amy")
        staff(s, "Gone", active=False)
    with db.session() as s:
        assert [e.name for e in svc.list_employees(s)] == ["Amy", "zed"]
        assert [e.name for e in svc.list_employees(s, active_only=False)] == ["Amy", "Gone", "zed"]


def test_search_folds_case_beyond_ascii(db: Database) -> None:
    with db.session(write=True) as s:
        person(s, "Ölaf", "Émile")
    with db.session() as s:
        assert names(svc.search_customers(s, "öla")) == ["Ölaf Émile"]
        assert names(svc.search_customers(s, "ÉMI")) == ["Ölaf Émile"]


@pytest.mark.parametrize("scan_from", [svc.SQLITE_SCAN_FROM, 1])
def test_list_search_finds_what_a_case_blind_prefix_check_finds(db: Database, scan_from: int,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Held against plain Python over mixed-case ASCII names: on SQLite such queries skip lower() (the fast path),
    whether a search reads its indexes or (as many matches as ``SQLITE_SCAN_FROM``) the whole book."""
    import random

    monkeypatch.setattr(svc, "SQLITE_SCAN_FROM", scan_from)

    rnd = random.Random(7)
    syllables = ["an", "na", "Mc", "do", "LE", "ve", "ka", "ri", "Os", "tu", "b_", "y%", "s*", "[e", "u?"]

    def word() -> str:
        return "".join(rnd.choice(syllables) for _ in range(rnd.randint(1, 3))).capitalize()

    people: dict[int, tuple[str | None, str | None, str | None]] = {}
    with db.session(write=True) as s:
        for i in range(40):
            first, last = (word() if rnd.random() > 0.1 else None), (word() if rnd.random() > 0.1 else None)
            email = f"{(first or 'x').lower()}.{i}@example.com" if rnd.random() > 0.3 else None
            people[person(s, first, last, email) if (first or last or email) else person(s, "Solo", None)] = (
                first, last, email) if (first or last or email) else ("Solo", None, None)

    def expected(query: str) -> set[int]:
        q = query.lower()
        found = set()
        for cid, (first, last, email) in people.items():
            forms = [first, last, email]
            if first is not None and last is not None:
                forms += [f"{first} {last}", f"{last} {first}", f"{last}, {first}"]
            if any(f is not None and f.lower().startswith(q) for f in forms):
                found.add(cid)
        return found

    queries = {"an", "AN", "mc", "mCdo", "b_", "y%", "na.", "ri ", "x.1", "Os, ", "s*", "[e", "u?", "S*[E", "s?"}
    for first, last, _email in list(people.values())[:15]:
        if first and last:
            queries |= {f"{first[:3].upper()}", f"{first.lower()} {last[:2]}", f"{last}, {first[:1].lower()}"}
    with db.session() as s:
        for query in sorted(queries):
            got = {row.id for row in svc.list_customers(s, query=query.strip() or "x", per_page=100).items}
            assert got == expected(query.strip() or "x"), query


@hsettings(max_examples=200, deadline=None)
@given(prefix=st.text(alphabet="ab*?[]^!-\\%_", max_size=5), value=st.text(alphabet="ab*?[]^!-\\%_", max_size=7))
def test_glob_prefix_matches_exactly_the_values_that_start_with_the_text(prefix: str, value: str) -> None:
    """SQLite itself judges the pattern: every GLOB wildcard in the text is matched literally."""
    with sqlite3.connect(":memory:") as conn:
        matched = conn.execute("SELECT ? GLOB ?", (value, svc._glob_prefix(prefix))).fetchone()[0]
    assert bool(matched) == value.startswith(prefix)


@contextmanager
def _statements(db: Database) -> Iterator[list[tuple[str, Any]]]:
    """Every SQL statement the engine runs inside the block, with its parameters."""
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        captured.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        yield captured
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)


def _plans(db: Database, statements: list[tuple[str, Any]]) -> list[str]:
    """The database's plan for each captured statement that reads customers, run with its own parameters."""
    plans = []
    with db.engine.connect() as conn:
        raw = conn.connection.driver_connection
        cursor = raw.cursor()
        if db.engine.dialect.name == "postgresql":
            cursor.execute("SET enable_seqscan = off")  # a handful of test rows: an index must still be possible
        for statement, params in statements:
            if "FROM customers" not in statement:
                continue
            prefix = "EXPLAIN QUERY PLAN " if db.engine.dialect.name == "sqlite" else "EXPLAIN "
            cursor.execute(prefix + statement, params)
            plans.append(" | ".join(str(row[-1] if db.engine.dialect.name == "sqlite" else row[0])
                                    for row in cursor.fetchall()))
        cursor.close()
        conn.rollback()
    return plans


@pytest.mark.parametrize("query", ["ann", "ANN@EXAMPLE", "Lee", "+1 415 555", "a_b", "s*", "Ada Love", "lovelace, a"])
def test_list_search_reads_indexes_not_every_customer(db: Database, people: dict[str, int], query: str) -> None:
    """The count and the page of a search combine index scans (migration 0014): a full scan of a million
    customers took 0.5-1.6 s (bench/RESULTS.md)."""
    with _statements(db) as captured, db.session() as s:
        svc.list_customers(s, query=query)
    plans = _plans(db, captured)
    assert len(plans) >= 2, captured  # the count and the page
    for plan in plans:
        if db.engine.dialect.name == "sqlite":
            assert "SCAN customers" not in plan and "MULTI-INDEX OR" in plan, plan
        else:
            assert "Seq Scan on customers" not in plan, plan


def test_a_search_matching_much_of_the_book_reads_it_whole_on_sqlite(db: Database, people: dict[str, int],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite has no statistics to prefer a scan for a common prefix: the list counts matches up to
    SQLITE_SCAN_FROM through the indexes first, and at that many reads the book instead."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's planner chooses from its statistics")
    monkeypatch.setattr(svc, "SQLITE_SCAN_FROM", 2)
    with _statements(db) as captured, db.session() as s:
        dense = svc.list_customers(s, query="a")  # Ada, Anna, a_b, axb
        rare = svc.list_customers(s, query="grace")
    assert (dense.total, sorted(names(dense.items))) == (4, ["Ada Lovelace", "Anna Zed", "a_b Literal", "axb Wild"])
    assert (rare.total, names(rare.items)) == (1, ["Grace Hopper"])
    plans = _plans(db, captured)
    probe, dense_count, dense_page, rare_probe, rare_page = plans  # the rare search's probe is its count
    assert "MULTI-INDEX OR" in probe and "MULTI-INDEX OR" in rare_probe and "MULTI-INDEX OR" in rare_page
    assert "SCAN customers" in dense_count and "SCAN customers" in dense_page, (dense_count, dense_page)


def test_a_search_starting_with_a_comma_finds_an_empty_surname(db: Database) -> None:
    """'last, first' with last_name '' starts with ', ': its candidates include names equal to the empty head."""
    with db.session(write=True) as s:
        person(s, "Ann", "")
        person(s, "Bob", "Ng")
    with db.session() as s:
        assert names(svc.list_customers(s, query=", an").items) == ["Ann"]
