"""Word of mouth: mentions recorded safely, referrals without circles, advocates ranked by what they brought."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update
from sqlcount import counted

from ravingfans.clock import fixed
from ravingfans.db import Database
from ravingfans.db.models import Customer, CustomerScore, Employee, Mention, Order, OrderLine, ScoreRun
from ravingfans.errors import NotFound, ValidationFailed
from ravingfans.services import erasure
from ravingfans.services import word_of_mouth as wom

T0 = datetime(2024, 1, 5, 9, 0, tzinfo=UTC)
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
SECRET = "a test secret that is long enough for hmac"


def customer(db: Database, first: str, referred_by: int | None = None, **extra: object) -> int:
    """A new customer; their id."""
    with db.session(write=True) as s:
        row = Customer(first_name=first, last_name="Test", email=f"{first.lower()}@example.com",
                       referred_by_id=referred_by, created_at=T0, updated_at=T0, **extra)
        s.add(row)
        s.flush()
        return row.id


_orders = iter(range(1, 10_000))


def order(db: Database, customer_id: int, *amounts: str, cancelled: bool = False) -> None:
    """An order of one line per amount (negative: a refund line)."""
    with db.session(write=True) as s:
        values = [Decimal(a) for a in amounts]
        row = Order(source="till", external_id=f"O-{next(_orders)}", customer_id=customer_id, placed_at=T0,
                    total=sum(values, Decimal("0.00")), cancelled_at=T0 if cancelled else None)
        for n, value in enumerate(values, start=1):
            row.lines.append(OrderLine(line_no=n, kind="sale" if value >= 0 else "refund", quantity=1,
                                       unit_price=abs(value), amount=value))
        s.add(row)


def scored(db: Database, clvs: dict[int, float | None], day: date = date(2024, 5, 31)) -> int:
    """A scoring run giving these customers these lifetime values; its id."""
    with db.session(write=True) as s:
        run = ScoreRun(created_at=T0, observation_end=day, customers=len(clvs), model="bgnbd", params={})
        s.add(run)
        s.flush()
        for cid, clv in clvs.items():
            s.add(CustomerScore(run_id=run.id, customer_id=cid, first_purchase=date(2024, 1, 5),
                                last_purchase=date(2024, 1, 5), purchases=1, frequency=0, recency=0.0, T=10.0,
                                monetary_value=50.0, total_spend=50.0, days_since_last=3.0, R=3, F=1, M=3, FM=2,
                                segment="Loyal", clv=clv))
        return run.id


def mention(db: Database, customer_id: int, sentiment: str | None = "praise", **fields: object) -> wom.MentionEntry:
    with db.session(write=True) as s:
        return wom.add_mention(s, customer_id, wom.parse_mention({"kind": "review", "sentiment": sentiment, **fields}),
                               clock=fixed(NOW))


def ranking(db: Database, limit: int = 50) -> list[tuple[int, int, Decimal, float | None]]:
    with db.session() as s:
        return [(a.customer_id, a.referrals, a.revenue, a.clv) for a in wom.advocates(s, limit=limit)]


# ----------------------------------------------------------------------------------------------- advocates


def test_advocates_are_ranked_by_the_revenue_of_whom_they_referred_then_value_then_count(db: Database) -> None:
    ann, bob, cat, dan = (customer(db, n) for n in ("Ann", "Bob", "Cat", "Dan"))
    x, y = customer(db, "X", ann), customer(db, "Y", ann)
    z = customer(db, "Z", bob)
    w = customer(db, "W", cat)
    d1, d2 = customer(db, "D1", dan), customer(db, "D2", dan)
    order(db, x, "100.00")
    order(db, y, "50.00")
    order(db, z, "150.00")
    order(db, w, "300.00")
    order(db, d1, "75.00")
    order(db, d2, "75.00")
    order(db, ann, "5000.00")  # the advocate's own spending does not count
    # No run yet: equal revenue (150) is broken by how many they referred (Ann 2, Dan 2), then by number.
    assert ranking(db) == [(cat, 1, Decimal("300.00"), None), (ann, 2, Decimal("150.00"), None),
                           (dan, 2, Decimal("150.00"), None), (bob, 1, Decimal("150.00"), None)]
    # With a run, the referred customers' CLV decides the tie before the count does.
    scored(db, {x: 10.0, y: 10.0, z: 40.0, d1: 5.0, w: 1.0, ann: 999.0})
    assert ranking(db) == [(cat, 1, Decimal("300.00"), 1.0), (bob, 1, Decimal("150.00"), 40.0),
                           (ann, 2, Decimal("150.00"), 20.0), (dan, 2, Decimal("150.00"), 5.0)]
    assert [a for a, *_ in ranking(db, limit=2)] == [cat, bob]


def test_returns_refunds_and_cancelled_orders_reduce_what_they_brought(db: Database) -> None:
    ann = customer(db, "Ann")
    x = customer(db, "X", ann)
    order(db, x, "200.00", "-50.00")  # a refund line
    order(db, x, "999.00", cancelled=True)
    order(db, x, "-30.00")  # a return on its own
    assert ranking(db) == [(ann, 1, Decimal("120.00"), None)]
    with db.session() as s:
        assert wom.referral_value(s, ann).revenue == Decimal("120.00")


def test_erased_customers_are_never_ranked_and_take_their_referrals_with_them(db: Database) -> None:
    ann, bob = customer(db, "Ann"), customer(db, "Bob")
    x, y = customer(db, "X", ann), customer(db, "Y", bob)
    praiser = customer(db, "Pia")
    order(db, x, "100.00")
    order(db, y, "80.00")
    mention(db, praiser)
    assert [a for a, *_ in ranking(db)] == [ann, bob, praiser]
    with db.session(write=True) as s:
        erasure.erase_customer(s, ann, by_user_id=None, secret=SECRET)
        erasure.erase_customer(s, y, by_user_id=None, secret=SECRET)
        erasure.erase_customer(s, praiser, by_user_id=None, secret=SECRET)
    assert ranking(db) == []  # Ann and Pia erased; Bob's only referral was erased
    with db.session() as s:
        assert wom.list_mentions(s) == []
        with pytest.raises(NotFound):
            wom.referral_value(s, ann)


def test_an_erased_advocate_whose_links_were_left_by_old_data_is_not_ranked(db: Database) -> None:
    ann, bob = customer(db, "Ann"), customer(db, "Bob")
    order(db, customer(db, "X", ann), "100.00")
    order(db, customer(db, "Y", bob), "10.00")
    mention(db, ann)
    with db.session(write=True) as s:  # marked erased without erase_customer(): links and mentions stay
        s.execute(update(Customer).where(Customer.id == ann).values(erased_at=T0, first_name=None, email=None))
    assert ranking(db) == [(bob, 1, Decimal("10.00"), None)]


def test_praise_without_referrals_ranks_after_referrers_and_complaints_alone_do_not_count(db: Database) -> None:
    ann, pia, pat, moe = (customer(db, n) for n in ("Ann", "Pia", "Pat", "Moe"))
    customer(db, "X", ann)  # referred, spent nothing yet
    mention(db, pia)
    mention(db, pia, "neutral")
    mention(db, pat)
    mention(db, pat)
    mention(db, moe, "complaint")
    with db.session() as s:
        rows = wom.advocates(s)
    assert [(a.customer_id, a.referrals, a.mentions, a.praise) for a in rows] == [
        (ann, 1, 0, 0), (pat, 0, 2, 2), (pia, 0, 2, 1)]
    assert [a.rank for a in rows] == [1, 2, 3]


def test_advocates_is_one_query_whatever_the_number_of_customers(db: Database) -> None:
    ann = customer(db, "Ann")
    for n in range(30):
        order(db, customer(db, f"R{n}", ann), "10.00")
    bob = customer(db, "Bob")
    order(db, customer(db, "Z", bob), "1.00")
    scored(db, {ann: 1.0})
    with db.session() as s, counted(db) as statements:
        rows = wom.advocates(s)
    assert [(a.customer_id, a.referrals, a.revenue) for a in rows] == [(ann, 30, Decimal("300.00")),
                                                                       (bob, 1, Decimal("1.00"))]
    queries = [q for q in statements if q.lstrip().upper().startswith(("SELECT", "WITH"))]
    assert len(queries) == 2, queries  # the latest run, then the ranking


def test_advocates_refuses_a_limit_out_of_range(db: Database) -> None:
    with db.session() as s:
        for bad in (0, wom.MAX_ADVOCATES + 1):
            with pytest.raises(ValidationFailed) as refused:
                wom.advocates(s, limit=bad)
            assert refused.value.field == "limit"


def test_the_csv_has_a_header_and_defuses_formulas(db: Database) -> None:
    ann = customer(db, "=HYPERLINK(\"http://evil\")")
    order(db, customer(db, "X", ann), "12.50")
    with db.session() as s:
        text = wom.advocates_csv(wom.advocates(s))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list(wom.ADVOCATE_HEADER)
    assert rows[1][0:2] == ["1", str(ann)] and rows[1][2].startswith("'=") and rows[1][5] == "12.50"


# ----------------------------------------------------------------------------------------------- referral value


def test_referral_value_counts_referred_revenue_and_worth_adds_their_clv(db: Database) -> None:
    ann = customer(db, "Ann")
    x, y = customer(db, "X", ann), customer(db, "Y", ann)
    customer(db, "Other")
    order(db, x, "40.00")
    order(db, y, "60.00")
    mention(db, ann)
    mention(db, ann, "complaint")
    with db.session() as s:
        before = wom.referral_value(s, ann)
    assert (before.referrals, before.revenue, before.clv, before.worth, before.mentions, before.praise) == (
        2, Decimal("100.00"), None, None, 2, 1)
    scored(db, {ann: 25.0, x: 10.0}, day=date(2024, 4, 1))
    newest = scored(db, {ann: 30.0, x: 12.0, y: 8.0})
    with db.session() as s:
        value = wom.referral_value(s, ann)
    assert (value.run_id, value.own_clv, value.clv) == (newest, 30.0, 20.0)
    assert value.worth == pytest.approx(50.0)
    unscored = customer(db, "Una")
    customer(db, "U1", unscored)
    with db.session() as s:
        lone = wom.referral_value(s, unscored)
    assert (lone.own_clv, lone.clv, lone.worth, lone.revenue) == (None, 0.0, 0.0, Decimal("0.00"))


def test_the_profile_view_lists_whom_they_referred_with_their_spend(db: Database) -> None:
    ann = customer(db, "Ann")
    zed = customer(db, "Zed", ann)
    amy = customer(db, "Amy", ann)
    order(db, zed, "70.00")
    scored(db, {zed: 7.0})
    root = customer(db, "Root")
    with db.session(write=True) as s:
        s.execute(update(Customer).where(Customer.id == ann).values(referred_by_id=root))
    with db.session() as s:
        view = wom.customer_word_of_mouth(s, ann)
    assert view.referred_by is not None and view.referred_by.name == "Root Test"
    assert [(r.id, r.revenue, r.clv) for r in view.referred] == [(amy, Decimal("0.00"), None),
                                                                  (zed, Decimal("70.00"), 7.0)]
    assert view.value.referrals == 2 and not view.more


# ----------------------------------------------------------------------------------------------- referrals


def test_a_referral_that_would_close_a_circle_is_refused(db: Database) -> None:
    a = customer(db, "A")
    b = customer(db, "B", a)
    c = customer(db, "C", b)
    with db.session() as s:
        wom.check_referral(s, c, a)  # A referred B referred C: A may also refer C directly
        wom.check_referral(s, None, c)  # a new customer closes no circle
        for who, by in ((a, b), (a, c), (b, c)):
            with pytest.raises(ValidationFailed) as refused:
                wom.check_referral(s, who, by)
            assert refused.value.field == "referred_by_id"
            assert f"#{by}" in refused.value.message and "circle" in refused.value.message
        with pytest.raises(ValidationFailed, match="cannot refer themselves"):
            wom.check_referral(s, a, a)


def test_the_circle_check_ends_on_a_circle_already_in_the_data(db: Database) -> None:
    a, b = customer(db, "A"), customer(db, "B")
    with db.session(write=True) as s:  # imported data made a circle before the check existed
        s.execute(update(Customer).where(Customer.id == a).values(referred_by_id=b))
        s.execute(update(Customer).where(Customer.id == b).values(referred_by_id=a))
    d = customer(db, "D")
    with db.session() as s:
        wom.check_referral(s, d, a)  # terminates: D is not in the A-B circle
        with pytest.raises(ValidationFailed):
            wom.check_referral(s, a, b)


# ----------------------------------------------------------------------------------------------- mentions


@pytest.mark.parametrize("url", [
    "javascript:alert(1)", "JavaScript:alert(document.cookie)", " javascript:alert(1)", "java\tscript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", "vbscript:msgbox(1)", "//evil.example/x",
    "/relative/path", "http://", "https://user:pass@evil.example/", "https://@evil.example", "ftp://example.com/f",
    'https://example.com/"onmouseover="alert(1)', "https://example.com/<script>", "https://exa mple.com/",
    "https://example.com/\u202egnp.exe", "https://example.com:99999/", "https://example.com/" + "a" * 500,
    "https://example.com/\x00",
])
def test_hostile_or_broken_web_addresses_are_refused(url: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        wom.parse_mention({"kind": "review", "url": url})
    assert refused.value.field == "url" and refused.value.message.startswith("Web address:")


@pytest.mark.parametrize(("given", "stored"), [
    ("https://www.google.com/maps/reviews/123?hl=en#x", "https://www.google.com/maps/reviews/123?hl=en#x"),
    ("HTTP://Example.com/Path", "http://Example.com/Path"), ("  https://instagr.am/p/abc  ", "https://instagr.am/p/abc"),
    ("https://de.wikipedia.org/wiki/Müller", "https://de.wikipedia.org/wiki/Müller"), ("", None),
])
def test_web_addresses_are_kept_as_given_with_the_scheme_in_lower_case(given: str, stored: str | None) -> None:
    assert wom.parse_mention({"kind": "review", "url": given}).url == stored


def test_a_mention_is_recorded_read_corrected_and_deleted(db: Database) -> None:
    ann = customer(db, "Ann")
    with db.session(write=True) as s:
        employee = Employee(name="Sam Seller", source="t", external_id="E1", created_at=T0)
        s.add(employee)
        s.flush()
        sam = employee.id
    tokyo = ZoneInfo("Asia/Tokyo")
    made = mention(db, ann, "praise", where="Google", url="https://g.example/r/1", note="Five stars",
                   employee_id=str(sam), occurred_at="2024-05-02")
    assert (made.kind, made.kind_label, made.where, made.sentiment, made.employee_name) == (
        "review", "Review", "Google", "praise", "Sam Seller")
    assert made.occurred_at == datetime(2024, 5, 2, tzinfo=UTC)  # a day without a zone: the zone given (UTC here)
    with db.session(write=True) as s:
        fixed_up = wom.update_mention(s, made.id, wom.parse_mention(
            {"kind": "told-friend", "where": "Her sister", "sentiment": "", "occurred_at": ""}, zone=tokyo),
            clock=fixed(NOW))
    assert (fixed_up.kind, fixed_up.where, fixed_up.sentiment, fixed_up.url, fixed_up.employee_id) == (
        "told_friend", "Her sister", None, None, None)
    assert fixed_up.occurred_at == made.occurred_at  # a blank time keeps the one on record
    with db.session() as s:
        assert wom.get_mention(s, made.id) == fixed_up
        assert [m.id for m in wom.list_mentions(s, customer_id=ann)] == [made.id]
    with db.session(write=True) as s:
        assert wom.delete_mention(s, made.id) == ann
    with db.session(write=True) as s:
        assert wom.delete_mention(s, made.id) is None  # twice: nothing more to do, no error
        assert wom.delete_mention(s, 2**40) is None
        with pytest.raises(NotFound):
            wom.get_mention(s, made.id)


def test_a_day_without_a_zone_is_read_in_the_business_zone() -> None:
    parsed = wom.parse_mention({"kind": "press", "occurred_at": "2024-03-01"}, zone=ZoneInfo("Asia/Tokyo"))
    assert parsed.occurred_at == datetime(2024, 2, 29, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(("data", "field"), [
    ({"kind": "rumour"}, "kind"), ({"kind": ""}, "kind"), ({}, "kind"),
    ({"kind": "review", "sentiment": "ecstatic"}, "sentiment"), ({"kind": "review", "where": "x" * 121}, "where"),
    ({"kind": "review", "where": "a\x00b"}, "where"), ({"kind": "review", "note": "n" * 5001}, "note"),
    ({"kind": "review", "employee_id": "abc"}, "employee_id"),
    ({"kind": "review", "occurred_at": "soon"}, "occurred_at"),
    ({"kind": "review", "occurred_at": "0001-01-01"}, "occurred_at"), ({"kind": "review", "stars": 5}, "stars"),
])
def test_bad_mention_input_is_refused_naming_the_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        wom.parse_mention(data)
    assert refused.value.field == field


def test_mentions_refuse_the_future_unknown_employees_and_unknown_or_erased_customers(db: Database) -> None:
    ann = customer(db, "Ann")
    with db.session(write=True) as s:
        with pytest.raises(ValidationFailed, match="future") as future:
            wom.add_mention(s, ann, wom.parse_mention({"kind": "review", "occurred_at": (NOW + timedelta(days=1))
                                                       .isoformat()}), clock=fixed(NOW))
        assert future.value.field == "occurred_at"
        with pytest.raises(ValidationFailed, match="no employee number 999"):
            wom.add_mention(s, ann, wom.parse_mention({"kind": "review", "employee_id": "999"}))
        with pytest.raises(NotFound):
            wom.add_mention(s, 424242, wom.parse_mention({"kind": "review"}))
    with db.session(write=True) as s:
        erasure.erase_customer(s, ann, by_user_id=None, secret=SECRET)
    with db.session(write=True) as s, pytest.raises(NotFound):
        wom.add_mention(s, ann, wom.parse_mention({"kind": "review"}))
    with db.session() as s:
        assert s.scalar(select(Mention.id)) is None


def test_hostile_text_is_stored_as_typed_for_the_pages_to_escape(db: Database) -> None:
    ann = customer(db, "Ann")
    made = mention(db, ann, where="<script>alert('w')</script>", note="<img src=x onerror=alert(1)>")
    assert made.where == "<script>alert('w')</script>" and made.note == "<img src=x onerror=alert(1)>"
