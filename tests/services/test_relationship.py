"""Family and occasions, referrals both ways, what to do next, and the profile edit form's text parsers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ravingfans.db import Database
from ravingfans.db.models import Customer, Interaction
from ravingfans.errors import Conflict, ValidationFailed
from ravingfans.services import customers, profile_form, relationship
from ravingfans.services.customer_records import get_customer_record

TODAY = date(2024, 6, 3)
NOW = datetime(2024, 6, 3, 12, 0, tzinfo=UTC)
AT = datetime(2023, 1, 5, tzinfo=UTC)


def test_details_are_sorted_into_family_occasions_and_the_rest() -> None:
    sorted_out = relationship.family_and_occasions(
        date(1990, 6, 10),
        {"partner": "Sam", "children": 2, "dog_name": "Rex", "wedding_anniversary": "2015-06-05",
         "occupation": "teacher", "location_note": "north", "name_day": "--12-06", "graduation_day": "in spring"},
        TODAY)
    assert [(f.key, f.value) for f in sorted_out.family] == [("partner", "Sam"), ("children", "2"), ("dog_name", "Rex")]
    assert [(f.key, f.value) for f in sorted_out.other] == [("occupation", "teacher"), ("location_note", "north")]
    first, second, third, fourth = sorted_out.occasions  # soonest first; one without a day last
    assert (first.label, first.next_on, first.in_days, first.years) == ("Wedding anniversary", date(2024, 6, 5), 2, 9)
    assert (second.label, second.next_on, second.years) == ("Birthday", date(2024, 6, 10), 34)
    assert (third.label, third.next_on, third.years) == ("Name day", date(2024, 12, 6), None)
    assert (fourth.label, fourth.next_on, fourth.on_record) == ("Graduation day", None, "in spring")


@pytest.mark.parametrize(("month", "day", "today", "expected"), [
    (6, 3, date(2024, 6, 3), date(2024, 6, 3)),
    (6, 2, date(2024, 6, 3), date(2025, 6, 2)),
    (2, 29, date(2024, 3, 1), date(2025, 2, 28)),  # not a leap year: the day before March
    (2, 29, date(2023, 12, 1), date(2024, 2, 29)),
    (12, 31, date(2024, 12, 31), date(2024, 12, 31)),
])
def test_next_occurrence(month: int, day: int, today: date, expected: date) -> None:
    assert relationship.next_occurrence(month, day, today) == expected


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)),
       st.dates(min_value=date(1901, 1, 1), max_value=date(2099, 12, 31)))
def test_parse_day_reads_iso_days_and_the_next_one_is_within_a_year(day: date, today: date) -> None:
    assert relationship.parse_day(day.isoformat()) == (day.year, day.month, day.day)
    assert relationship.parse_day(f"--{day.month:02d}-{day.day:02d}") == (None, day.month, day.day)
    upcoming = relationship.next_occurrence(day.month, day.day, today)
    assert today <= upcoming < today + timedelta(days=366)
    assert upcoming.month == day.month and upcoming.day in (day.day, 28)


@given(st.text(max_size=30))
def test_parse_day_never_fails_on_any_text(text: str) -> None:
    parsed = relationship.parse_day(text)
    assert parsed is None or (1 <= parsed[1] <= 12 and 1 <= parsed[2] <= 31)


def _profile(db: Database, customer_id: int) -> customers.CustomerProfile:
    with db.session() as s:
        return customers.get_profile(s, customer_id)


def _customer(db: Database, **fields: object) -> int:
    with db.session(write=True) as s:
        row = Customer(created_at=AT, updated_at=AT, **fields)
        s.add(row)
        s.flush()
        return row.id


def test_next_steps_from_the_data(db: Database) -> None:
    quiet = _customer(db, first_name="Quiet", email="q@example.com", birthday=date(1980, 6, 9))
    with db.session(write=True) as s:
        s.add(Interaction(customer_id=quiet, occurred_at=NOW - timedelta(days=3), channel="store", kind="complaint",
                          rating=-1, note="", created_at=NOW))
    profile = _profile(db, quiet)
    occasions = relationship.family_and_occasions(profile.customer.birthday, {}, TODAY).occasions
    slipping = {"segment": "At risk", "slipping_rank": 1, "slipping_reason": "Usually every 20 days; 90 now."}
    steps = relationship.next_steps(profile, occasions, slipping, now=NOW, today=TODAY)
    assert [s.kind for s in steps] == ["call", "follow_up", "occasion", "consent"]
    assert "Usually every 20 days" in steps[0].text
    assert "Birthday in 6 days, 09 June (turns 44)" in steps[2].text
    later = relationship.next_steps(profile, occasions, None, now=NOW + timedelta(days=31), today=TODAY)
    assert [s.kind for s in later] == ["occasion", "consent"]  # the misery is old news; no run, no call


def test_a_fan_not_thanked_and_a_customer_without_contact(db: Database) -> None:
    nobody = _customer(db, first_name="Nobody")
    steps = relationship.next_steps(_profile(db, nobody), [], {"segment": "Champions"}, now=NOW, today=TODAY)
    assert [s.kind for s in steps] == ["contact", "thank"]
    assert relationship.next_steps(_profile(db, nobody), [], {"segment": "Hibernating"}, now=NOW,
                                   today=TODAY)[-1].kind == "contact"


def test_referrals_both_ways(db: Database) -> None:
    ada = _customer(db, first_name="Ada", last_name="Lovelace")
    kids = [_customer(db, first_name=f"Friend{i}", last_name="Zed", referred_by_id=ada) for i in range(3)]
    with db.session() as s:
        mine = relationship.referrals(s, ada, None)
        theirs = relationship.referrals(s, kids[0], customers.CustomerLink(ada, "Ada Lovelace"))
    assert [link.id for link in mine.referred] == kids and not mine.more
    assert theirs.referred_by is not None and theirs.referred_by.id == ada and theirs.referred == []


# ---- the edit form ----

keys = st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True).filter(lambda k: not k.endswith("_"))
values = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=40).map(str.strip)


@given(st.dictionaries(keys, values, max_size=10))
def test_pairs_survive_a_round_trip_through_the_form(mapping: dict[str, str]) -> None:
    assert profile_form.parse_pairs(profile_form.pairs_text(mapping), "sizes") == mapping


@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"),
                                               blacklist_characters=",\n\r\x85"), min_size=1, max_size=20)
                .map(str.strip).filter(bool), max_size=10, unique_by=str.lower))
def test_items_survive_a_round_trip_through_the_form(items: list[str]) -> None:
    assert profile_form.parse_items(profile_form.items_text(items)) == items


def test_pairs_need_a_colon_and_items_drop_blanks_and_repeats() -> None:
    assert profile_form.parse_pairs("Dog Name: Rex\n\n shoe size : 38 ", "x") == {"dog_name": "Rex", "shoe_size": "38"}
    with pytest.raises(ValidationFailed) as caught:
        profile_form.parse_pairs("partner Sam", "personal_details")
    assert caught.value.field == "personal_details" and "line 1" in caught.value.message
    assert profile_form.parse_items("tea, Tea,\n poetry ,,") == ["tea", "poetry"]


def test_editing_saves_through_the_api_service_and_refuses_a_stale_form(db: Database) -> None:
    ada = _customer(db, first_name="Ada", last_name="Lovelace", email="ada@example.com", personal_details={"x": "1"})
    with db.session() as s:
        form = profile_form.profile_form(get_customer_record(s, ada))
    values = dict(form.values, phone="(415) 555-0123", personal_details="partner: Sam\nchildren: 2",
                  likes="tea, poetry", country="de", birthday="1990-06-10")
    with db.session(write=True) as s:
        saved = profile_form.edit_customer(s, ada, values, version=form.version)
    assert (saved.phone, saved.country, saved.personal_details, saved.likes) == (
        "+14155550123", "DE", {"partner": "Sam", "children": "2"}, ["tea", "poetry"])
    with db.session(write=True) as s, pytest.raises(Conflict):
        profile_form.edit_customer(s, ada, values, version=form.version)  # drawn before the change above
    with db.session(write=True) as s, pytest.raises(ValidationFailed) as caught:
        profile_form.edit_customer(s, ada, dict(values, referred_by_id=str(ada)), version="")
    assert caught.value.field == "referred_by_id"
