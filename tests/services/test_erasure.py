"""Erasing a customer: the person goes, the business's numbers stay, in one transaction, on a real database."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from overlap import overlapping
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from ravingfans.clock import fixed
from ravingfans.config import Settings
from ravingfans.db import Database
from ravingfans.db.models import (
    Consent,
    Customer,
    CustomerIdentity,
    CustomerScore,
    Employee,
    ErasureSuppression,
    IdempotencyKey,
    Interaction,
    Note,
    Order,
    OrderLine,
    ScoreRun,
    User,
)
from ravingfans.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from ravingfans.ingest.importer import ImportOptions, import_file
from ravingfans.ingest.suppression import SUPPRESSED_ATTRIBUTE, suppression_digests
from ravingfans.services import customer_records, customers, dashboard, duplicates, erasure, moments, search
from ravingfans.services.common import get_customer
from ravingfans.services.ledger import load_transactions
from ravingfans.services.scoring import segment_counts

T0 = datetime(2024, 1, 5, 9, 0, tzinfo=UTC)
ERASED_AT = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
SECRET = "erasure-test-secret"
# What a tombstone keeps; every other column of customers must be blank after an erasure.
KEPT_COLUMNS = {"id", "source", "created_at", "updated_at", "erased_at", "erased_by"}


@dataclass
class Book:
    """Ids of the seeded rows."""

    ada: int
    grace: int
    linus: int
    owner: int
    manager: int
    runs: tuple[int, int]


def _customer(first: str, last: str, email: str | None, phone: str | None, **extra: object) -> Customer:
    return Customer(first_name=first, last_name=last, email=email, phone=phone, created_at=T0, updated_at=T0,
                    **extra)


def _order(customer_id: int, ext: str, amount: str, *, cancelled: bool = False) -> Order:
    value = Decimal(amount)
    order = Order(source="till", external_id=ext, customer_id=customer_id, placed_at=T0, total=value,
                  location="Main St", cancelled_at=T0 if cancelled else None)
    order.lines.append(OrderLine(line_no=1, kind="sale", sku="B-1", product_name="Boots", quantity=1,
                                 unit_price=value, amount=value))
    return order


def _score(run_id: int, customer_id: int, segment: str, clv: float) -> CustomerScore:
    return CustomerScore(run_id=run_id, customer_id=customer_id, first_purchase=date(2024, 1, 5),
                         last_purchase=date(2024, 1, 5), purchases=2, frequency=1, recency=1.0, T=10.0,
                         monetary_value=50.0, total_spend=100.0, days_since_last=3.0, R=5, F=4, M=3, FM=4,
                         segment=segment, clv=clv)


@pytest.fixture
def book(db: Database) -> Book:
    """Ada with every personal field, notes, moments, consents, ids, orders, scores and referrals; Grace and Linus."""
    with db.session(write=True) as s:
        owner = User(email="owner@shop.example", role="owner", password_hash="x", created_at=T0)
        manager = User(email="manager@shop.example", role="manager", password_hash="x", created_at=T0)
        employee = Employee(name="Sam", source="t", external_id="E1", created_at=T0)
        grace = _customer("Grace", "Hopper", "grace@navy.example", "+12025550199")
        s.add_all([owner, manager, employee, grace])
        s.flush()
        ada = _customer("Ada", "Lovelace", "ada@example.com", "+14155550123", address_line1="12 St James's Sq",
                        address_line2="Flat 2", city="London", region="Greater London", postal_code="SW1Y 4JH",
                        country="GB", birthday=date(1815, 12, 10), language="en",
                        personal_details={"dog_name": "Rex"}, likes=["poetry"], dislikes=["noise"],
                        sizes={"shoe": "38"}, attributes={"crm": "vip"}, tags=["vip"], notes="Prefers mornings",
                        email_consent=True, referred_by_id=grace.id, source="shop", external_id="S-1")
        s.add(ada)
        s.flush()
        linus = _customer("Linus", "Torvalds", "linus@example.org", None, referred_by_id=ada.id)
        s.add(linus)
        s.flush()
        s.add(CustomerIdentity(customer_id=ada.id, source="shop", external_id="S-1"))
        s.add(CustomerIdentity(customer_id=ada.id, source="till", external_id="T-9"))
        s.add_all([Consent(customer_id=ada.id, purpose="marketing", channel="email", granted=True, at=T0,
                           source="till", wording="Yes to news"),
                   Consent(customer_id=grace.id, purpose="marketing", channel="email", granted=True, at=T0,
                           source="till", wording="Yes")])
        s.add_all([Note(customer_id=ada.id, author="Sam", body="Ask about the poetry reading", created_at=T0),
                   Note(customer_id=ada.id, author="Sam", body="Her daughter is called Ada too", created_at=T0),
                   Note(customer_id=grace.id, author="Sam", body="Navy discount", created_at=T0)])
        s.add_all([Interaction(customer_id=ada.id, employee_id=employee.id, occurred_at=T0, channel="phone",
                               kind="courtesy_call", rating=1, note="Loves the boots, lives at 12 St James's",
                               created_at=T0),
                   Interaction(customer_id=ada.id, employee_id=employee.id, occurred_at=ERASED_AT, channel="store",
                               kind="complaint", rating=-1, note="Shoe too small", created_at=T0)])
        s.add_all([_order(ada.id, "A-1", "120.00"), _order(ada.id, "A-2", "30.00"),
                   _order(ada.id, "A-X", "999.00", cancelled=True), _order(grace.id, "G-1", "900.00")])
        runs = []
        for day, ada_segment, ada_clv, segments in (
                (date(2024, 3, 1), "Loyal", 40.0, {"Loyal": [1, 40.0], "Champions": [1, 500.0]}),
                (date(2024, 5, 1), "Champions", 70.0, {"Champions": [2, 570.0]})):
            run = ScoreRun(created_at=T0, observation_end=day, customers=2, model="bgnbd", params={},
                           segments=segments)
            s.add(run)
            s.flush()
            s.add_all([_score(run.id, ada.id, ada_segment, ada_clv), _score(run.id, grace.id, "Champions", 500.0)])
            runs.append(run.id)
        s.add_all([
            IdempotencyKey(user_id=manager.id, key="k1", route="/api/v1/customers", request_hash="h", status_code=201,
                           response_body=json.dumps({"id": ada.id, "email": "ada@example.com"}), created_at=T0),
            IdempotencyKey(user_id=manager.id, key="k2", route="/api/v1/interactions", request_hash="h",
                           status_code=201, response_body=json.dumps({"id": 77, "customer_id": ada.id,
                                                                      "note": "Loves the boots"}), created_at=T0),
            IdempotencyKey(user_id=manager.id, key="k3", route="/api/v1/customers", request_hash="h", status_code=201,
                           response_body=json.dumps({"id": grace.id, "email": "grace@navy.example"}), created_at=T0),
        ])
        return Book(ada=ada.id, grace=grace.id, linus=linus.id, owner=owner.id, manager=manager.id,
                    runs=(runs[0], runs[1]))


def erase(db: Database, customer_id: int, by: int | None, secret: str = SECRET) -> erasure.ErasureReport:
    """Erase in a committed write transaction, as the edges do."""
    with db.session(write=True) as s:
        return erasure.erase_customer(s, customer_id, by_user_id=by, secret=secret, clock=fixed(ERASED_AT))


def counts(db: Database, customer_id: int) -> dict[str, int]:
    """How many rows of each kind point at the customer."""
    with db.session() as s:
        return {model.__name__: int(s.scalar(select(func.count()).select_from(model)
                                             .where(model.customer_id == customer_id)) or 0)
                for model in (Note, Consent, CustomerIdentity, CustomerScore, Interaction, Order)}


def test_every_personal_field_is_cleared_and_the_row_is_a_tombstone(db: Database, book: Book) -> None:
    report = erase(db, book.ada, book.owner)
    with db.session() as s:
        ada = s.get(Customer, book.ada)
        assert ada is not None
        for column in Customer.__table__.columns:
            if column.name in KEPT_COLUMNS:
                continue
            assert getattr(ada, column.name) in (None, [], {}), column.name
        assert ada.display_name == f"Erased customer #{book.ada}"
        assert ada.erased_at == ERASED_AT and ada.erased_by == book.owner
        assert ada.source == "shop" and ada.created_at == T0
        assert s.get(Customer, book.linus).referred_by_id is None  # the link both ways
    assert report.customer_id == book.ada and report.erased_by == book.owner
    assert (report.notes_deleted, report.consents_deleted, report.identities_deleted) == (2, 1, 2)
    assert (report.scores_deleted, report.referrals_cleared, report.replays_deleted) == (2, 2, 2)
    assert (report.orders_kept, report.moments_cleared, report.suppression_markers) == (3, 2, 2)


def test_orders_and_revenue_stay_with_the_tombstone(db: Database, book: Book) -> None:
    def ledger() -> list[tuple[str, int | None, Decimal, list[Decimal]]]:
        with db.session() as s:
            return [(o.external_id, o.customer_id, o.total, [line.amount for line in o.lines])
                    for o in s.scalars(select(Order).order_by(Order.external_id))]

    before = ledger()
    erase(db, book.ada, book.owner)
    assert ledger() == before
    assert [o for o in before if o[1] == book.ada]  # the check above covered Ada's orders
    with db.session() as s:
        revenue = s.scalar(select(func.sum(OrderLine.amount)))
    assert revenue == Decimal("2049.00")


def test_moments_stay_without_their_text(db: Database, book: Book) -> None:
    erase(db, book.ada, book.owner)
    with db.session() as s:
        moments = s.execute(select(Interaction.note, Interaction.rating, Interaction.occurred_at, Interaction.kind)
                            .where(Interaction.customer_id == book.ada).order_by(Interaction.occurred_at)).all()
    assert [tuple(m) for m in moments] == [("", 1, T0, "courtesy_call"), ("", -1, ERASED_AT, "complaint")]


def test_notes_consents_ids_and_scores_go_and_only_hers(db: Database, book: Book) -> None:
    grace_before = counts(db, book.grace)
    erase(db, book.ada, book.owner)
    assert counts(db, book.ada) == {"Note": 0, "Consent": 0, "CustomerIdentity": 0, "CustomerScore": 0,
                                    "Interaction": 2, "Order": 3}
    assert counts(db, book.grace) == grace_before


def test_runs_count_the_scores_that_remain(db: Database, book: Book) -> None:
    erase(db, book.ada, book.owner)
    with db.session() as s:
        for run_id in book.runs:
            run = s.get(ScoreRun, run_id)
            assert run is not None and run.customers == 1
            assert segment_counts(s, run_id) == {"Champions": (1, pytest.approx(500.0))}
            rows = s.execute(select(CustomerScore.segment, func.count()).where(CustomerScore.run_id == run_id)
                             .group_by(CustomerScore.segment)).all()
            assert [tuple(r) for r in rows] == [("Champions", 1)]


def test_a_keyed_hash_of_email_and_phone_remains_not_the_address(db: Database, book: Book) -> None:
    erase(db, book.ada, book.owner)
    with db.session() as s:
        stored = set(s.scalars(select(ErasureSuppression.digest)))
    expected = set(suppression_digests(SECRET, email="ADA@example.com ", phone="+1 415 555 0123"))
    assert stored == expected and len(stored) == 2
    assert all(len(d) == 64 and "ada" not in d and "4155550123" not in d for d in stored)
    assert not stored & set(suppression_digests("another-secret", email="ada@example.com",
                                                        phone="+14155550123"))


def test_stored_api_answers_that_hold_her_data_go(db: Database, book: Book) -> None:
    erase(db, book.ada, book.owner)
    with db.session() as s:
        assert list(s.scalars(select(IdempotencyKey.key))) == ["k3"]


def test_a_second_erasure_is_refused_and_lookups_say_erased(db: Database, book: Book) -> None:
    erase(db, book.ada, book.owner)
    with pytest.raises(Conflict, match="already erased"):
        erase(db, book.ada, book.owner)
    with db.session() as s:
        with pytest.raises(NotFound, match="was erased"):
            get_customer(s, book.ada)
        with pytest.raises(Conflict, match="already erased"):
            erasure.preview_erasure(s, book.ada)
        with pytest.raises(NotFound):
            customers.get_profile(s, book.ada)
    with pytest.raises(NotFound):
        erase(db, 999_999, book.owner)
    with db.session() as s, pytest.raises(NotFound):
        erasure.preview_erasure(s, 999_999)


def test_only_an_owner_may_erase_and_a_refusal_changes_nothing(db: Database, book: Book) -> None:
    before = counts(db, book.ada)
    with pytest.raises(PermissionDenied):
        erase(db, book.ada, book.manager)
    assert counts(db, book.ada) == before
    with db.session() as s:
        assert s.get(Customer, book.ada).email == "ada@example.com"


def test_the_command_line_erases_without_a_user(db: Database, book: Book) -> None:
    report = erase(db, book.ada, None)
    assert report.erased_by is None
    with db.session() as s:
        assert s.get(Customer, book.ada).erased_at == ERASED_AT


def test_an_erased_customer_is_in_no_list_search_count_or_new_scoring(db: Database, book: Book) -> None:
    settings = Settings(database_url="sqlite://", _env_file=None)
    with db.session() as s:
        before = dashboard.home_summary(s, settings, clock=fixed(ERASED_AT)).customers
    erase(db, book.ada, book.owner)
    with db.session() as s:
        listed = [row.id for row in customers.list_customers(s).items]
        assert book.ada not in listed and book.grace in listed
        assert customers.list_customers(s).total == 2
        for query in ("Ada", "Lovelace", "ada@example.com", "+1415555", "Erased"):
            assert customers.list_customers(s, query=query).items == [], query
            assert search.search(s, query, vocabulary=search.NameVocabulary()).count == 0, query
        records = customer_records.list_customer_records(s)
        assert book.ada not in [r.id for r in records.items]
        summary = dashboard.home_summary(s, settings, clock=fixed(ERASED_AT))
        assert summary.customers == before - 1
        assert all(m.customer_id != book.ada for m in summary.misery)
    assert book.ada not in set(load_transactions(db.engine)["customer_id"].to_list())
    assert book.grace in set(load_transactions(db.engine)["customer_id"].to_list())


def test_an_erased_record_is_never_merged_or_named_as_referrer(db: Database, book: Book) -> None:
    erase(db, book.ada, book.owner)
    with db.session(write=True) as s:
        with pytest.raises(NotFound, match="erased"):
            duplicates.merge_customers(s, book.grace, book.ada)
        with pytest.raises(ValidationFailed) as refused:
            customer_records.update_customer(s, book.grace, customer_records.CustomerUpdate(referred_by_id=book.ada))
        assert refused.value.field == "referred_by_id"


def test_a_failure_half_way_leaves_everything_as_it_was(db: Database, book: Book) -> None:
    """The score delete (late in the erasure) is refused by a trigger: the notes, ids and fields deleted before stay."""
    before = counts(db, book.ada)
    postgres = db.engine.dialect.name == "postgresql"
    with db.engine.begin() as conn:
        if postgres:
            conn.execute(text("CREATE FUNCTION refuse_delete() RETURNS trigger LANGUAGE plpgsql AS "
                              "$$ BEGIN RAISE EXCEPTION 'refused by test'; END $$"))
            conn.execute(text("CREATE TRIGGER refuse_score_delete BEFORE DELETE ON customer_scores "
                              "FOR EACH ROW EXECUTE FUNCTION refuse_delete()"))
        else:
            conn.execute(text("CREATE TRIGGER refuse_score_delete BEFORE DELETE ON customer_scores "
                              "BEGIN SELECT RAISE(ABORT, 'refused by test'); END"))
    try:
        with pytest.raises(DBAPIError, match="refused by test"):
            erase(db, book.ada, book.owner)
    finally:
        with db.engine.begin() as conn:
            conn.execute(text("DROP TRIGGER refuse_score_delete" + (" ON customer_scores" if postgres else "")))
            if postgres:
                conn.execute(text("DROP FUNCTION refuse_delete()"))
    assert counts(db, book.ada) == before
    with db.session() as s:
        ada = s.get(Customer, book.ada)
        assert ada.erased_at is None and ada.email == "ada@example.com" and ada.first_name == "Ada"
        assert s.scalar(select(func.count()).select_from(ErasureSuppression)) == 0
        assert s.scalar(select(Interaction.note).where(Interaction.rating == 1)).startswith("Loves")
        assert s.get(Customer, book.linus).referred_by_id == book.ada


def test_a_customer_without_contact_leaves_no_marker(db: Database, book: Book) -> None:
    with db.session(write=True) as s:
        nameless = _customer("Zed", "Nobody", None, None)
        s.add(nameless)
        s.flush()
        zed = nameless.id
    assert erase(db, zed, book.owner).suppression_markers == 0
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(ErasureSuppression)) == 0


def test_the_plan_says_what_goes_and_what_stays(db: Database, book: Book) -> None:
    with db.session() as s:
        plan = erasure.preview_erasure(s, book.ada)
    assert (plan.name, plan.notes, plan.moments, plan.consents, plan.identities) == ("Ada Lovelace", 2, 2, 1, 2)
    assert (plan.scores, plan.referrals, plan.orders, plan.revenue) == (2, 2, 3, Decimal("150.00"))
    assert plan.has_contact
    assert any("150.00" in line for line in plan.summary())


@pytest.mark.parametrize(("typed", "ok"), [("5", True), (" #5 ", True), ("# 5", True), ("6", False), ("", False),
                                           ("55", False), ("yes", False)])
def test_the_typed_confirmation_must_be_the_number(typed: str, ok: bool) -> None:
    if ok:
        erasure.check_confirmation(5, typed)
    else:
        with pytest.raises(ValidationFailed) as refused:
            erasure.check_confirmation(5, typed)
        assert refused.value.field == "confirm"


def test_a_new_api_record_of_an_erased_address_starts_without_marketing_consent(db: Database, book: Book) -> None:
    erase(db, book.ada, book.owner)
    with db.session(write=True) as s:
        again = customer_records.create_customer(
            s, customer_records.CustomerCreate(first_name="Ada", email="Ada@Example.com", email_consent=True),
            secret=SECRET)
        phone_only = customer_records.create_customer(
            s, customer_records.CustomerCreate(phone="+1 (415) 555-0123", email_consent=True), secret=SECRET)
        other_key = customer_records.create_customer(
            s, customer_records.CustomerCreate(email="ada@example.com", email_consent=True), secret="rotated")
        stranger = customer_records.create_customer(
            s, customer_records.CustomerCreate(email="new@example.com", email_consent=True), secret=SECRET)
    assert again.id != book.ada and again.email_consent is None and phone_only.email_consent is None
    assert other_key.email_consent is True and stranger.email_consent is True
    with db.session() as s:
        assert s.get(Customer, again.id).attributes == {SUPPRESSED_ATTRIBUTE: True}
        assert s.get(Customer, stranger.id).attributes == {}
        assert s.scalar(select(func.count()).select_from(Consent).where(Consent.customer_id == again.id)) == 0
        assert s.scalar(select(func.count()).select_from(Consent).where(Consent.customer_id == stranger.id)) == 1


def test_a_re_import_makes_a_new_customer_without_marketing_consent(db: Database, book: Book, database_url: str,
                                                                    tmp_path: Path) -> None:
    settings = Settings(database_url=database_url, _env_file=None)
    erase(db, book.ada, book.owner, secret=settings.secret_key.get_secret_value())
    path = tmp_path / "customers.csv"
    path.write_text("customer_id,first_name,last_name,email,email_consent\n"
                    "S-1,Ada,Lovelace,ada@example.com,yes\n"
                    "S-2,Mary,Shelley,mary@example.com,yes\n", encoding="utf-8")
    report = import_file(db.engine, settings, path, ImportOptions(kind="customers", source="shop"))
    assert report.created == 2
    with db.session() as s:
        ada = s.scalar(select(Customer).where(Customer.email == "ada@example.com"))
        mary = s.scalar(select(Customer).where(Customer.email == "mary@example.com"))
        assert ada is not None and mary is not None
        assert ada.id != book.ada and ada.email_consent is None
        assert ada.attributes == {SUPPRESSED_ATTRIBUTE: True}
        assert mary.email_consent is True and mary.attributes == {}
        assert s.scalar(select(func.count()).select_from(Consent).where(Consent.customer_id == ada.id)) == 0
        identity = s.scalar(select(CustomerIdentity.customer_id).where(CustomerIdentity.external_id == "S-1"))
        assert identity == ada.id
        assert s.get(Customer, book.ada).erased_at is not None  # the tombstone stays as it was


def test_survey_words_links_and_mail_go_but_the_score_stays(db: Database, book: Book, database_url: str) -> None:
    from ravingfans.db.models import OutboxMessage, SurveyLink, SurveyResponse
    from ravingfans.mail import enqueue
    from ravingfans.services import survey_audiences, surveys

    settings = Settings(database_url=database_url, business_address="1 High Street")
    with db.session(write=True) as s:
        survey = surveys.default_survey(s)
        nps_q, text_q = (q.id for q in survey.questions)
        surveys.record_answers_for_customer(s, survey.id, book.ada, {str(nps_q): 9, str(text_q): "Ask for Ada Lovelace"},
                                            None, "store", clock=fixed(T0))
        s.get(Customer, book.ada).email_consent = True
        survey_audiences.issue_link(s, survey.id, book.ada, settings=settings, clock=fixed(T0))
        result = enqueue(s, key="test:ada", customer_id=book.ada, to="ada@example.com", template="message",
                         context={"subject": "Hello", "body": "Dear Ada"}, language=None, purpose="service",
                         settings=settings, clock=fixed(T0))
        assert result.status == "queued"
    erase(db, book.ada, book.owner)
    with db.session() as s:
        answers = s.scalars(select(SurveyResponse.answers).where(SurveyResponse.customer_id == book.ada)).one()
        assert answers == {str(nps_q): 9}
        assert s.scalar(select(func.count()).select_from(SurveyLink)) == 0
        assert s.scalar(select(func.count()).select_from(OutboxMessage)
                        .where(OutboxMessage.customer_id == book.ada)) == 0


def test_tasks_waits_holds_and_mentions_go_but_campaign_membership_stays(db: Database, book: Book) -> None:
    """What the person did or wants is personal; being counted in a campaign's lift is not."""
    from ravingfans.db.models import Campaign, CampaignMember, Hold, Mention, Product, ProductVariant, StockWait, Task

    with db.session(write=True) as s:
        product = Product(external_id="P1", name="Boots", created_at=T0)
        campaign = Campaign(name="Thanks", kind="appreciation", seed=1, created_at=T0)
        s.add_all([product, campaign])
        s.flush()
        variant = ProductVariant(product_id=product.id, sku="B-38", size="38", stock=0, updated_at=T0)
        s.add(variant)
        s.flush()
        for who in (book.ada, book.grace):
            s.add_all([
                Task(dedupe_key=f"manual:{who}", customer_id=who, rule="manual", kind="call",
                     reason="Ask how the boots hold up", due_on=T0.date(), created_at=T0),
                StockWait(customer_id=who, variant_id=variant.id, source="store", created_at=T0),
                Hold(customer_id=who, variant_id=variant.id, created_at=T0, expires_at=T0),
                Mention(customer_id=who, kind="review", note="Wrote about her daughter", occurred_at=T0,
                        created_at=T0),
                CampaignMember(campaign_id=campaign.id, customer_id=who, group="treated", assigned_at=T0),
            ])
    report = erase(db, book.ada, book.owner)
    assert report.follow_ups_deleted == 4
    assert "4 task(s), stock wait(s), hold(s) and mention(s) deleted" in report.summary()[0]
    with db.session() as s:
        for model in (Task, StockWait, Hold, Mention, CampaignMember):
            mine = s.scalar(select(func.count()).select_from(model).where(model.customer_id == book.ada))
            hers = s.scalar(select(func.count()).select_from(model).where(model.customer_id == book.grace))
            assert (mine, hers) == ((1, 1) if model is CampaignMember else (0, 1)), model.__name__


# --- erasing while someone else writes (PostgreSQL runs them side by side; SQLite queues its writers) ---------


def _erasing(db: Database, book: Book) -> Any:
    return lambda s: erasure.erase_customer(s, book.ada, by_user_id=book.owner, secret=SECRET,
                                            clock=fixed(ERASED_AT))


def test_a_note_added_while_she_is_erased_is_refused_not_kept(db: Database, book: Book) -> None:
    note = moments.parse_note({"body": "Her new address is 3 Elm Row", "author": "Sam"})
    _results, errors = overlapping(db, _erasing(db, book), lambda s: moments.add_note(s, book.ada, note))
    assert errors[0] is None and isinstance(errors[1], NotFound)
    assert counts(db, book.ada)["Note"] == 0


def test_an_edit_made_while_she_is_erased_is_refused_not_written_back(db: Database, book: Book) -> None:
    change = customer_records.CustomerUpdate(first_name="Augusta", city="Marylebone")
    _results, errors = overlapping(db, _erasing(db, book),
                                   lambda s: customer_records.update_customer(s, book.ada, change))
    assert errors[0] is None and isinstance(errors[1], NotFound)
    with db.session() as s:
        ada = s.get(Customer, book.ada)
        assert ada.erased_at is not None and (ada.first_name, ada.city) == (None, None)


def test_an_import_running_into_an_erasure_makes_a_new_record_and_leaves_the_tombstone_blank(
        db: Database, book: Book, tmp_path: Path, database_url: str) -> None:
    path = tmp_path / "c.csv"
    path.write_text("customer_id,email,first_name,last_name\nS-1,ada@example.com,Augusta Ada,King\n")
    conf = Settings(database_url=database_url, secret_key=SECRET, _env_file=None)

    def importing(_s: Any) -> Any:  # the import opens its own connection and transactions
        return import_file(db.engine, conf, path, ImportOptions(kind="customers", source="shop"))

    results, errors = overlapping(db, _erasing(db, book), importing)
    assert errors == [None, None] and results[1].created == 1
    with db.session() as s:
        ada = s.get(Customer, book.ada)
        assert ada.erased_at is not None and (ada.first_name, ada.email) == (None, None)
        assert counts(db, book.ada)["CustomerIdentity"] == 0
        new = s.scalars(select(Customer).where(Customer.email == "ada@example.com")).one()
        assert new.id != book.ada and new.first_name == "Augusta Ada"


def test_survey_words_sent_while_she_is_erased_are_refused_not_kept(db: Database, book: Book) -> None:
    from ravingfans.services.survey_audiences import issue_link
    from ravingfans.db.models import SurveyResponse
    from ravingfans.services.surveys import default_survey, submit_answers

    conf = Settings(database_url="sqlite://", public_url="https://shop.example", _env_file=None)
    with db.session(write=True) as s:
        survey = default_survey(s)
        nps, words = (f"q{q.id}" for q in survey.questions)
        token = issue_link(s, survey.id, book.ada, settings=conf, clock=fixed(ERASED_AT)).token
    answer = lambda s: submit_answers(s, token, {nps: "9", words: "Send it to 3 Elm Row"},  # noqa: E731
                                      clock=fixed(ERASED_AT))
    _results, errors = overlapping(db, _erasing(db, book), answer)
    assert errors[0] is None and isinstance(errors[1], NotFound) and "not valid" in errors[1].message
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(SurveyResponse)) == 0
