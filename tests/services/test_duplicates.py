"""Duplicate detection and customer merge: every row is kept, ids move, fields combine, errors are clear."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ravingfans.clock import fixed
from ravingfans.db import Database
from ravingfans.db.models import (
    Consent,
    Customer,
    CustomerIdentity,
    Employee,
    Interaction,
    Note,
    Order,
    OrderLine,
)
from ravingfans.errors import NotFound, ValidationFailed
from ravingfans.services.duplicates import (
    SAME_EMAIL,
    SAME_PHONE,
    find_duplicates,
    merge_customers,
    preview_merge,
)

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
EARLIER = datetime(2023, 1, 15, 8, 30, tzinfo=UTC)


def _customer(session: Session, **fields: Any) -> Customer:
    fields.setdefault("created_at", NOW)
    fields.setdefault("updated_at", NOW)
    customer = Customer(**fields)
    session.add(customer)
    session.flush()
    if customer.external_id:
        session.add(CustomerIdentity(customer_id=customer.id, source=customer.source,
                                     external_id=customer.external_id))
    return customer


def _order(session: Session, customer_id: int, external_id: str, amounts: list[str]) -> Order:
    order = Order(source="pos", external_id=external_id, customer_id=customer_id, placed_at=NOW,
                  total=sum((Decimal(a) for a in amounts), Decimal(0)))
    order.lines = [OrderLine(line_no=i + 1, sku=f"SKU{i}", quantity=1, unit_price=Decimal(a), amount=Decimal(a))
                   for i, a in enumerate(amounts)]
    session.add(order)
    session.flush()
    return order


def _children(session: Session, customer_id: int) -> dict[str, int]:
    counts = {}
    for name, model in (("orders", Order), ("interactions", Interaction), ("notes", Note), ("consents", Consent),
                        ("identities", CustomerIdentity)):
        counts[name] = session.scalar(select(func.count()).select_from(model)
                                      .where(model.customer_id == customer_id)) or 0
    return counts


def _totals(session: Session) -> dict[str, int]:
    return {model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Order, OrderLine, Interaction, Note, Consent, CustomerIdentity)}


@pytest.fixture
def pair(db: Database) -> dict[str, int]:
    """Anna seen twice (shopify and the till), with orders, contacts, notes, consents and a referral."""
    with db.session(write=True) as s:
        emp = Employee(name="Eve", external_id="e1", created_at=NOW)
        s.add(emp)
        s.flush()
        keep = _customer(s, first_name="Anna", email="anna@example.com", tags=["vip"], likes=["green"],
                         sizes={"shoe": "38"}, personal_details={"dog": "Rex"}, source="shopify",
                         external_id="S1", notes="Prefers mornings.")
        other = _customer(s, first_name="anna", last_name="Berg", email="anna@example.com", phone="+4915112345678",
                          address_line1="Hauptstr. 1", city="Berlin", postal_code="10115", country="DE",
                          tags=["vip", "runner"], likes=["green", "blue"], dislikes=["wool"],
                          sizes={"shoe": "39", "shirt": "M"}, personal_details={"dog": "Rex", "kids": 2},
                          attributes={"loyalty": "gold"}, source="pos", external_id="P7", email_consent=True,
                          created_at=EARLIER, notes="Allergic to latex.")
        friend = _customer(s, first_name="Ben", email="ben@example.com", referred_by_id=other.id)
        s.add(CustomerIdentity(customer_id=other.id, source="web", external_id="W99"))
        _order(s, keep.id, "O1", ["10.00"])
        _order(s, other.id, "O2", ["19.99", "-5.00"])
        _order(s, other.id, "O3", ["7.50"])
        for cid, rating in ((keep.id, 1), (other.id, 0), (other.id, -1)):
            s.add(Interaction(customer_id=cid, employee_id=emp.id, occurred_at=NOW, channel="store",
                              kind="purchase", rating=rating, note="", created_at=NOW))
        s.add(Note(customer_id=other.id, author="Eve", body="Asked about trail shoes.", created_at=NOW))
        s.add(Consent(customer_id=other.id, purpose="marketing", channel="email", granted=True, at=EARLIER,
                      source="till form"))
        s.add(Consent(customer_id=other.id, purpose="surveys", channel="email", granted=True, at=NOW,
                      source="till form"))
        return {"keep": keep.id, "other": other.id, "friend": friend.id}


def test_merge_moves_every_child_row_and_deletes_the_other(db: Database, pair: dict[str, int]) -> None:
    keep_id, other_id = pair["keep"], pair["other"]
    with db.session() as s:
        before_totals = _totals(s)
        keep_before, other_before = _children(s, keep_id), _children(s, other_id)

    with db.session(write=True) as s:
        result = merge_customers(s, keep_id, other_id, clock=fixed(NOW))

    with db.session() as s:
        assert _totals(s) == before_totals
        assert s.get(Customer, other_id) is None
        after = _children(s, keep_id)
        assert after == {name: keep_before[name] + other_before[name] for name in after}
        assert after == {"orders": 3, "interactions": 3, "notes": 1, "consents": 2, "identities": 3}
        assert s.scalar(select(func.count()).select_from(Order).where(Order.customer_id == other_id)) == 0
        friend = s.get(Customer, pair["friend"])
        assert friend is not None and friend.referred_by_id == keep_id
    assert result.applied
    assert result.moved == {"orders": 2, "interactions": 2, "notes": 1, "consents": 2, "source identities": 2,
                            "referred customers": 1}
    moved_line = result.summary()[1]
    assert moved_line.startswith("Moved: ")
    assert set(moved_line.removeprefix("Moved: ").split(", ")) == {
        "2 orders", "2 interactions", "1 note", "2 consents", "2 source identities", "1 referred customer"}


def test_merge_moves_source_identities_so_reimports_find_the_kept_customer(db: Database,
                                                                          pair: dict[str, int]) -> None:
    with db.session(write=True) as s:
        merge_customers(s, pair["keep"], pair["other"])
    with db.session() as s:
        for source, external_id in (("pos", "P7"), ("web", "W99"), ("shopify", "S1")):
            owner = s.scalar(select(CustomerIdentity.customer_id).where(
                CustomerIdentity.source == source, CustomerIdentity.external_id == external_id))
            assert owner == pair["keep"], (source, external_id)


def test_merge_adds_an_identity_for_a_source_id_that_had_none(db: Database) -> None:
    with db.session(write=True) as s:
        keep = _customer(s, first_name="Kim", email="kim@example.com")
        other = Customer(first_name="Kim", email="kim@example.com", source="legacy", external_id="L1",
                         created_at=NOW, updated_at=NOW)
        s.add(other)
        s.flush()
        ids = keep.id, other.id
    with db.session(write=True) as s:
        result = merge_customers(s, *ids)
    assert result.moved == {"source identities": 1}
    with db.session() as s:
        owner = s.scalar(select(CustomerIdentity.customer_id).where(CustomerIdentity.source == "legacy"))
        assert owner == ids[0]


def test_merge_fills_empty_fields_unites_lists_and_keeps_own_values_on_conflict(db: Database,
                                                                                 pair: dict[str, int]) -> None:
    with db.session(write=True) as s:
        result = merge_customers(s, pair["keep"], pair["other"], clock=fixed(NOW))
    with db.session() as s:
        kept = s.get(Customer, pair["keep"])
        assert kept is not None
        assert kept.first_name == "Anna"  # same name, different case: not a conflict, kept as is
        assert kept.last_name == "Berg"
        assert kept.phone == "+4915112345678"
        assert (kept.address_line1, kept.city, kept.postal_code, kept.country) == \
            ("Hauptstr. 1", "Berlin", "10115", "DE")
        assert kept.tags == ["vip", "runner"]
        assert kept.likes == ["green", "blue"]
        assert kept.dislikes == ["wool"]
        assert kept.sizes == {"shoe": "38", "shirt": "M"}
        assert kept.personal_details == {"dog": "Rex", "kids": 2}
        assert kept.attributes == {"loyalty": "gold"}
        assert kept.email_consent is True
        assert kept.created_at == EARLIER
        assert kept.updated_at == NOW
        assert kept.notes is not None
        assert kept.notes.startswith("Prefers mornings.\n\nAllergic to latex.")
        assert "sizes.shoe: kept '38', other record had '39'" in kept.notes
        assert f"customer #{pair['other']}" in kept.notes
    assert result.conflicts == ["sizes.shoe: kept '38', other record had '39'"]
    assert {"last_name", "phone", "address", "tags", "sizes", "email_consent"} <= set(result.filled)
    assert "first_name" not in result.filled


def test_conflicting_contact_fields_keep_the_kept_value_and_are_noted(db: Database) -> None:
    with db.session(write=True) as s:
        keep = _customer(s, first_name="Jo", email="jo@example.com", phone="+14155550100", city="Oakland",
                         email_consent=False)
        other = _customer(s, first_name="Joanna", email="jo@work.example", phone="+14155550100", city="Reno",
                          email_consent=True)
        ids = keep.id, other.id
    with db.session(write=True) as s:
        result = merge_customers(s, *ids)
    with db.session() as s:
        kept = s.get(Customer, ids[0])
        assert kept is not None
        assert (kept.first_name, kept.email, kept.city) == ("Jo", "jo@example.com", "Oakland")
        assert kept.email_consent is False  # a withdrawal is never overridden by the other record
        assert kept.notes is not None and "email: kept 'jo@example.com', other record had 'jo@work.example'" \
            in kept.notes
    assert any(c.startswith("first_name: kept 'Jo'") for c in result.conflicts)
    assert any(c.startswith("address:") for c in result.conflicts)
    assert any(c.startswith("email_consent:") for c in result.conflicts)


def test_withdrawn_consent_on_the_merged_record_wins(db: Database) -> None:
    with db.session(write=True) as s:
        keep = _customer(s, email="x@example.com", email_consent=True)
        other = _customer(s, email="x@example.com", email_consent=False)
        ids = keep.id, other.id
    with db.session(write=True) as s:
        merge_customers(s, *ids)
    with db.session() as s:
        kept = s.get(Customer, ids[0])
        assert kept is not None and kept.email_consent is False


def test_referral_between_the_two_records_does_not_become_self_referral(db: Database) -> None:
    with db.session(write=True) as s:
        grandma = _customer(s, first_name="Gran")
        other = _customer(s, first_name="Sam", phone="+14155550111", referred_by_id=grandma.id)
        keep = _customer(s, first_name="Sam", phone="+14155550111", referred_by_id=other.id)
        ids = keep.id, other.id, grandma.id
    with db.session(write=True) as s:
        merge_customers(s, ids[0], ids[1])
    with db.session() as s:
        kept = s.get(Customer, ids[0])
        assert kept is not None and kept.referred_by_id == ids[2]


def test_merging_with_itself_is_refused_and_changes_nothing(db: Database, pair: dict[str, int]) -> None:
    with pytest.raises(ValidationFailed, match="itself"), db.session(write=True) as s:
        merge_customers(s, pair["keep"], pair["keep"])
    with db.session() as s:
        assert s.get(Customer, pair["keep"]) is not None
        assert _children(s, pair["keep"])["orders"] == 1


@pytest.mark.parametrize("missing_first", [True, False])
def test_merging_a_missing_customer_is_not_found_and_changes_nothing(db: Database, pair: dict[str, int],
                                                                      missing_first: bool) -> None:
    ids = (999_999, pair["other"]) if missing_first else (pair["keep"], 999_999)
    with pytest.raises(NotFound, match="#999999 not found"), db.session(write=True) as s:
        merge_customers(s, *ids)
    with db.session() as s:
        assert s.get(Customer, pair["other"]) is not None
        assert _children(s, pair["other"])["orders"] == 2


def test_preview_reports_the_same_moves_and_writes_nothing(db: Database, pair: dict[str, int]) -> None:
    with db.session() as s:
        preview = preview_merge(s, pair["keep"], pair["other"])
    assert not preview.applied
    assert preview.summary()[0].startswith("Would merge customer")
    with db.session() as s:
        assert s.get(Customer, pair["other"]) is not None
        assert _children(s, pair["other"])["orders"] == 2
    with db.session(write=True) as s:
        done = merge_customers(s, pair["keep"], pair["other"])
    assert preview.moved == done.moved
    assert preview.filled == done.filled
    assert preview.conflicts == done.conflicts


def test_finds_pairs_by_email_and_by_phone(db: Database) -> None:
    with db.session(write=True) as s:
        a = _customer(s, first_name="Ann", email="ann@example.com")
        b = _customer(s, first_name="Ann", last_name="Lee", email="ann@example.com", phone="+14155550123")
        c = _customer(s, first_name="Carl", phone="+14155550999")
        d = _customer(s, first_name="Carl", phone="+14155550999", email="carl@example.com")
        ids = a.id, b.id, c.id, d.id
    with db.session() as s:
        pairs = find_duplicates(s)
    assert [(p.keep_id, p.merge_id, p.reasons) for p in pairs] == [
        (ids[0], ids[1], (SAME_EMAIL,)),
        (ids[2], ids[3], (SAME_PHONE,)),
    ]
    assert pairs[0].email == "ann@example.com" and pairs[0].phone is None
    assert pairs[1].phone == "+14155550999" and pairs[1].email is None
    assert (pairs[0].keep_name, pairs[0].merge_name) == ("Ann", "Ann Lee")


def test_same_email_and_phone_give_one_pair_with_both_reasons(db: Database) -> None:
    with db.session(write=True) as s:
        a = _customer(s, email="dana@example.com", phone="+14155550001")
        b = _customer(s, email="dana@example.com", phone="+14155550001")
        ids = a.id, b.id
    with db.session() as s:
        pairs = find_duplicates(s)
    assert len(pairs) == 1
    assert (pairs[0].keep_id, pairs[0].merge_id) == ids
    assert pairs[0].reason == "same e-mail, same phone"


def test_different_people_and_blank_contacts_are_not_duplicates(db: Database) -> None:
    with db.session(write=True) as s:
        _customer(s, first_name="Pat", last_name="Kim", email="pat@example.com", phone="+14155550002")
        _customer(s, first_name="Pat", last_name="Kim", email="pat.kim@example.com", phone="+14155550003")
        _customer(s, first_name="No", last_name="Contact")
        _customer(s, first_name="Also", last_name="None")
        _customer(s, first_name="Blank", email="", phone="")
        _customer(s, first_name="Blank2", email="", phone="")
    with db.session() as s:
        assert find_duplicates(s) == []


def test_a_group_of_three_pairs_each_with_the_oldest(db: Database) -> None:
    with db.session(write=True) as s:
        ids = [_customer(s, email="trio@example.com").id for _ in range(3)]
    with db.session() as s:
        pairs = find_duplicates(s)
    assert [(p.keep_id, p.merge_id) for p in pairs] == [(ids[0], ids[1]), (ids[0], ids[2])]
    for other in ids[1:]:
        with db.session(write=True) as s:
            merge_customers(s, ids[0], other)
    with db.session() as s:
        assert find_duplicates(s) == []
        assert s.scalar(select(func.count()).select_from(Customer)) == 1


def test_both_records_asked_the_same_survey_fold_into_one_invitation_and_the_newer_answer(db: Database) -> None:
    from ravingfans.db.models import SurveyInvitation, SurveyResponse
    from ravingfans.services import surveys

    with db.session(write=True) as s:
        keep = _customer(s, first_name="Sam", phone="+14155550111")
        other = _customer(s, first_name="Sam", phone="+14155550111")
        survey = surveys.default_survey(s)
        nps_q, text_q = (str(q.id) for q in survey.questions)
        surveys.record_answers_for_customer(s, survey.id, keep.id, {nps_q: 3, text_q: "old"}, None, "store",
                                            clock=fixed(EARLIER))
        surveys.record_answers_for_customer(s, survey.id, other.id, {nps_q: 9, text_q: "newer"}, None, "phone",
                                            clock=fixed(NOW))
        ids = keep.id, other.id
    with db.session(write=True) as s:
        merge_customers(s, *ids)
    with db.session() as s:
        invitations = s.scalars(select(SurveyInvitation)).all()
        responses = s.scalars(select(SurveyResponse)).all()
        assert [(i.customer_id, i.sent_at) for i in invitations] == [(ids[0], EARLIER)]
        assert [(r.customer_id, r.nps, r.invitation_id) for r in responses] == [(ids[0], 9, invitations[0].id)]


def test_merge_keeps_one_campaign_membership_and_one_hold_where_both_records_had_one(db: Database) -> None:
    """A person is in a campaign once, in one group, and holds one unit of a restock: the kept record's rows stay."""
    from ravingfans.db.models import Campaign, CampaignMember, Hold, Mention, Product, ProductVariant, Restock, Task

    with db.session() as s:
        keep = _customer(s, first_name="Ada", email="ada@example.com").id
        other = _customer(s, first_name="Ada", email="ada@example.net").id
        both = Campaign(name="Thanks", kind="appreciation", seed=1, created_at=NOW)
        only_other = Campaign(name="Come back", kind="win_back", seed=2, created_at=NOW)
        product = Product(external_id="P1", name="Boots", created_at=NOW)
        s.add_all([both, only_other, product])
        s.flush()
        variant = ProductVariant(product_id=product.id, sku="B-38", size="38", stock=2, updated_at=NOW)
        s.add(variant)
        s.flush()
        restock = Restock(variant_id=variant.id, stock_before=0, stock_after=2, source="cli", at=NOW)
        s.add(restock)
        s.flush()
        s.add_all([
            CampaignMember(campaign_id=both.id, customer_id=keep, group="holdout", assigned_at=NOW),
            CampaignMember(campaign_id=both.id, customer_id=other, group="treated", assigned_at=NOW),
            CampaignMember(campaign_id=only_other.id, customer_id=other, group="treated", assigned_at=NOW),
            Hold(customer_id=keep, variant_id=variant.id, restock_id=restock.id, created_at=NOW, expires_at=NOW),
            Hold(customer_id=other, variant_id=variant.id, restock_id=restock.id, created_at=NOW, expires_at=NOW),
            Mention(customer_id=other, kind="review", occurred_at=NOW, created_at=NOW),
            Task(dedupe_key=f"manual:{other}:1", customer_id=other, rule="manual", kind="call", reason="Call",
                 due_on=NOW.date(), created_at=NOW),
        ])
    with db.session() as s:
        result = merge_customers(s, keep, other, clock=fixed(NOW))
    assert result.moved.get("campaign memberships") == 1 and result.moved.get("mentions") == 1
    with db.session() as s:
        members = s.execute(select(CampaignMember.campaign_id, CampaignMember.group)
                            .where(CampaignMember.customer_id == keep).order_by(CampaignMember.campaign_id)).all()
        assert [tuple(m) for m in members] == [(both.id, "holdout"), (only_other.id, "treated")]
        assert s.scalar(select(func.count()).select_from(Hold).where(Hold.customer_id == keep)) == 1
        assert s.scalar(select(func.count()).select_from(Task).where(Task.customer_id == keep)) == 1
        assert s.scalar(select(func.count()).select_from(Mention).where(Mention.customer_id == keep)) == 1
