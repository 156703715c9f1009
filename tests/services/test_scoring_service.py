"""Scoring runs on the database (SQLite and PostgreSQL): snapshots, fans, values, segment moves, insights."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl
import pytest
from sqlalchemy import func, select

from ravingfans.clock import fixed
from ravingfans.config import Settings
from ravingfans.db import Database
from ravingfans.db.models import Customer, CustomerScore, ScoreRun
from ravingfans.demo.generator import generate
from ravingfans.demo.load import load
from ravingfans.errors import NotFound, ValidationFailed
from ravingfans.services import scoring as svc
from ravingfans.services.duplicates import merge_customers
from ravingfans.services.insights import fan_affinity, slipping
from sqlcount import objects_loaded

NOW = fixed(datetime(2026, 11, 2, 12, tzinfo=UTC))
END = date(2026, 10, 31)
MID = date(2026, 4, 30)


@pytest.fixture(scope="module")
def business():
    return generate(seed=11, customers=400, years=2)


@pytest.fixture
def shop(db: Database, settings: Settings, business) -> Settings:
    load(business, db.engine)
    return settings.model_copy(update={"time_zone": business.time_zone})


def test_a_run_stores_every_customer_with_its_parameters(db: Database, shop: Settings) -> None:
    result = svc.score_database(db.engine, shop, until=END, clock=NOW)
    with db.session() as s:
        run = s.get(ScoreRun, result.run_id)
        stored = s.scalar(select(func.count()).select_from(CustomerScore).where(CustomerScore.run_id == run.id))
    assert stored == result.customers == run.customers > 300
    assert run.model == "bgnbd" and run.observation_end == END
    assert set(run.params["bgnbd"]) >= {"r", "alpha", "a", "b", "stderr"}
    frame = svc.run_frame(db.engine, run.id)
    assert frame.height == stored
    assert frame["p_alive"].null_count() == 0 and frame["segment"].null_count() == 0
    # The stored numbers are the pure scoring's numbers.
    expected = result.scoring.table.sort("customer_id")
    assert frame.sort("customer_id")["clv"].to_list() == pytest.approx(expected["clv"].to_list())


def test_fans_are_champions_and_loyal_sorted_by_value(db: Database, shop: Settings) -> None:
    svc.score_database(db.engine, shop, until=END, clock=NOW)
    with db.session() as s:
        rows = svc.fans(s, limit=500)
        by_spend = svc.fans(s, sort="spend", limit=5)
        with pytest.raises(ValidationFailed, match="cannot sort by 'age'"):
            svc.fans(s, sort="age")
    assert rows and {r.segment for r in rows} <= {"Champions", "Loyal"}
    values = [r.clv for r in rows]
    assert values == sorted(values, reverse=True)
    assert [r.total_spend for r in by_spend] == sorted((r.total_spend for r in by_spend), reverse=True)


def test_fans_rows_are_read_as_columns_and_name_customers_as_their_profiles_do(db: Database, shop: Settings) -> None:
    svc.score_database(db.engine, shop, until=END, clock=NOW)
    with db.session() as s:
        top = svc.fans(s, limit=3)
        for who, change in zip(top, ({"first_name": None, "last_name": None},  # known by e-mail only
                                     {"first_name": None, "last_name": None, "email": None, "phone": None},
                                     {"first_name": None, "last_name": None, "email": None, "phone": None,
                                      "erased_at": NOW()}), strict=True):
            customer = s.get(Customer, who.customer_id)
            for field, value in change.items():
                setattr(customer, field, value)
    loaded: list[object] = []
    with db.session() as s:
        with objects_loaded(loaded, Customer, CustomerScore):
            rows = svc.fans(s, limit=50)
        expected = {c.id: (c.display_name, c.email) for c in s.scalars(select(Customer).where(
            Customer.id.in_([r.customer_id for r in rows])))}
    # A list row costs no tracked object: whole customers and scores made the fans page a third slower.
    assert loaded == []
    assert {r.customer_id: (r.name, r.email) for r in rows} == expected
    assert [r.name for r in rows[:3]][1:] == [f"Customer #{top[1].customer_id}",
                                              f"Erased customer #{top[2].customer_id}"]


def test_segment_counts_are_stored_with_the_run_and_match_the_rows(db: Database, shop: Settings) -> None:
    result = svc.score_database(db.engine, shop, until=END, clock=NOW)
    with db.session() as s:
        stored = svc.segment_counts(s, result.run_id)
        grouped = {segment: (int(n), float(clv or 0.0)) for segment, n, clv in s.execute(
            select(CustomerScore.segment, func.count(), func.sum(CustomerScore.clv))
            .where(CustomerScore.run_id == result.run_id).group_by(CustomerScore.segment))}
        run = s.get(ScoreRun, result.run_id)
        assert run is not None and run.segments is not None
        run.segments = None  # a run stored before counts were kept: counted from its rows instead
        s.flush()
        counted_now = svc.segment_counts(s, result.run_id)
    assert set(stored) == set(grouped) and sum(n for n, _ in stored.values()) == result.customers
    for segment, (n, clv) in grouped.items():
        assert stored[segment][0] == counted_now[segment][0] == n
        assert stored[segment][1] == pytest.approx(clv) == counted_now[segment][1]


def test_no_run_yet_says_how_to_make_one(db: Database) -> None:
    with db.session() as s, pytest.raises(NotFound, match="Nobody has been scored yet"):
        svc.fans(s)


def test_an_empty_ledger_is_refused_with_the_fix(db: Database, settings: Settings) -> None:
    with pytest.raises(ValidationFailed, match="no orders to score") as err:
        svc.score_database(db.engine, settings, clock=NOW)
    assert "ravingfans import orders" in str(err.value)


def test_a_future_day_is_refused(db: Database, shop: Settings) -> None:
    with pytest.raises(ValidationFailed, match="in the future"):
        svc.score_database(db.engine, shop, until=date(2027, 1, 1), clock=NOW)


def test_customer_value_explains_and_keeps_history(db: Database, shop: Settings) -> None:
    svc.score_database(db.engine, shop, until=END, clock=NOW)
    svc.score_database(db.engine, shop, until=MID, clock=NOW)  # a backfill: newer run, older day
    with db.session() as s:
        top = svc.fans(s, limit=1)[0]
        value = svc.customer_value(s, top.customer_id, shop)
    assert value is not None and value.observation_end == END
    assert [h.observation_end for h in value.history] == [MID, END]
    text = " ".join(value.explanation)
    assert top.segment in text and "P(alive)" in text and "lifetime value" in text
    with db.session() as s, pytest.raises(NotFound):
        svc.customer_value(s, 10**9, shop)


def test_customer_value_reads_its_history_as_columns_not_objects(db: Database, shop: Settings) -> None:
    """A customer scored night after night: the profile's value costs no score or run objects per past run."""
    days = [date(2026, 8, 31), MID, END]
    runs = [svc.score_database(db.engine, shop, until=day, clock=NOW).run_id for day in days]
    loaded: list[object] = []
    with db.session() as s:
        top = svc.fans(s, limit=1)[0]
        with objects_loaded(loaded, CustomerScore, ScoreRun):
            value = svc.customer_value(s, top.customer_id, shop)
    assert loaded == []
    assert value is not None and (value.run_id, value.observation_end) == (runs[2], END)
    # oldest day first, whatever order the runs were made in
    assert [(h.run_id, h.observation_end) for h in value.history] == [(runs[1], MID), (runs[0], days[0]),
                                                                      (runs[2], END)]
    assert value.history[-1].segment == top.segment and value.scores["segment"] == top.segment
    assert any("P(alive)" in line for line in value.explanation)


def test_customer_value_explains_with_its_own_runs_margin(db: Database, shop: Settings) -> None:
    """Runs made with different margins: the profile explains the latest-dated run with that run's margin."""
    svc.score_database(db.engine, shop.model_copy(update={"gross_margin": 0.3}), until=END, clock=NOW)
    svc.score_database(db.engine, shop.model_copy(update={"gross_margin": 0.6}), until=MID, clock=NOW)  # backfill
    with db.session() as s:
        top = svc.fans(s, limit=1)[0]
        value = svc.customer_value(s, top.customer_id, shop)
    assert value is not None and value.observation_end == END and len(value.history) == 2  # in both runs
    text = " ".join(value.explanation)
    assert "margin 30%" in text and "margin 60%" not in text


def test_segment_moves_between_runs(db: Database, shop: Settings) -> None:
    first = svc.score_database(db.engine, shop, until=MID, clock=NOW)
    second = svc.score_database(db.engine, shop, until=END, clock=NOW)
    with db.session() as s:
        migration = svc.segment_migration(s, since_days=90)
        assert (migration.from_run.id, migration.to_run.id) == (first.run_id, second.run_id)
        both = s.scalar(select(func.count()).select_from(CustomerScore).where(
            CustomerScore.run_id == first.run_id))
        assert sum(migration.counts.values()) == both
        a, b, n = migration.moved()[0]
        movers = svc.moved_customers(s, a, b, since_days=90, limit=1000)
        assert len(movers) == n and all(m.segment == b for m in movers)
        with pytest.raises(NotFound, match="no earlier scoring run"):
            svc.segment_migration(s, since_days=400)


def test_merge_drops_the_merged_records_scores_and_keeps_the_kept_ones(db: Database, shop: Settings) -> None:
    svc.score_database(db.engine, shop, until=END, clock=NOW)
    with db.session() as s:
        keep, other = [r.customer_id for r in svc.fans(s, limit=2)]
    with db.session(write=True) as s:
        merge_customers(s, keep, other)
    with db.session() as s:
        owners = s.scalars(select(CustomerScore.customer_id).where(CustomerScore.customer_id.in_([keep, other])))
        assert list(owners) == [keep]


def test_slipping_fans_come_with_reasons_and_names(db: Database, shop: Settings) -> None:
    svc.score_database(db.engine, shop, until=MID, clock=NOW)
    svc.score_database(db.engine, shop, until=END, clock=NOW)
    with db.session() as s:
        run, rows = slipping(s, limit=10)
        names = {c.id: c.display_name for c in s.scalars(select(Customer))}
    assert run.observation_end == END
    assert rows, "the demo has lapsing fans"
    assert [r.rank for r in rows] == list(range(1, len(rows) + 1))
    assert all(r.reason and r.name == names[r.customer_id] for r in rows)
    assert [r.value_at_risk for r in rows] == sorted((r.value_at_risk for r in rows), reverse=True)
    # Stored with the run: the same list the pure analytics gives on the run's own scores.
    stored = svc.run_frame(db.engine, run.id).filter(pl.col("slipping_rank").is_not_null())
    assert stored.height >= len(rows) and stored["slipping_reason"].null_count() == 0
    assert sorted(stored["slipping_rank"].to_list()) == list(range(1, stored.height + 1))


def test_affinity_reads_categories_channels_and_staff(db: Database, shop: Settings) -> None:
    svc.score_database(db.engine, shop, until=END, clock=NOW)
    with db.session() as s:
        _run, table = fan_affinity(s, db.engine, shop, dimensions=("category", "channel", "employee"))
        with pytest.raises(ValidationFailed, match="unknown dimension 'colour'"):
            fan_affinity(s, db.engine, shop, dimensions=("colour",))
    assert set(table["dimension"].unique()) == {"category", "channel", "employee"}
    assert ((table["fan_customers"] <= table["customers"]) & (table["lift"] > 0)).all()
    assert table.filter(pl.col("significant"))["q_value"].max() < 0.05 or not table["significant"].any()
