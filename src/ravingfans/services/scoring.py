"""Scoring runs on the database: score everyone, keep each run as a snapshot, and read fans and values back.

The edges (CLI, pages, API) call these functions; the numbers come from the pure
:mod:`ravingfans.analytics.scoring`, and this module only moves tables between it and the database.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import polars as pl
from sqlalchemy import Engine, Integer, Row, Select, Text, bindparam, cast, func, insert, select
from sqlalchemy.orm import Session

from ravingfans.analytics.scoring import FAN_SEGMENTS, Scoring, ScoringOptions, score_customers
from ravingfans.analytics.summary import customer_summary
from ravingfans.clock import Clock, utcnow
from ravingfans.config import Settings
from ravingfans.db import write_transaction
from ravingfans.db.models import Customer, CustomerScore, ScoreRun
from ravingfans.db.models.customers import name_as_said
from ravingfans.db.reads import read_rows
from ravingfans.errors import NotFound, ValidationFailed
from ravingfans.services.common import get_customer
from ravingfans.services.ledger import load_transactions
from ravingfans.services.runs import latest_run, list_runs, require_run  # noqa: F401 - the edges use them from here

STORED_COLUMNS = tuple(c.name for c in CustomerScore.__table__.columns if c.name not in ("id", "run_id"))
_INSERT_BATCH = 5_000


def options_from(settings: Settings) -> ScoringOptions:
    """The scoring options a business has set (margin, horizon, discount rate)."""
    return ScoringOptions(horizon_days=settings.clv_horizon_days, margin=settings.gross_margin,
                          monthly_discount_rate=settings.monthly_discount_rate)


@dataclass(frozen=True)
class RunResult:
    """What a scoring run stored."""

    run_id: int
    observation_end: date
    customers: int
    scoring: Scoring


def score_database(engine: Engine, settings: Settings, *, until: date | None = None, clock: Clock = utcnow,
                   progress: Callable[[str], None] | None = None) -> RunResult:
    """Score every customer from the ledger as of ``until`` (default: today) and store it as a new snapshot."""
    say = progress or (lambda _msg: None)
    today = clock().astimezone(settings.zone).date()
    end = until or today
    if end > today:
        raise ValidationFailed(f"--until {end.isoformat()} is in the future (today is {today.isoformat()}).",
                               field="until")
    say("Reading the order ledger")
    transactions = load_transactions(engine)
    if transactions.height == 0:
        raise ValidationFailed("There are no orders to score yet.", field="orders",
                               hint="Import orders first: ravingfans import orders FILE")
    summary = customer_summary(transactions, observation_end=end, order_id_col="order_id",
                               timezone_name=settings.time_zone)
    say(f"Scoring {summary.height:,} customers")
    scoring = score_customers(summary, options_from(settings))
    say("Finding slipping fans")
    slipping = _slipping(engine, settings, scoring.table, transactions, end)
    table = scoring.table.join(slipping, on="customer_id", how="left", maintain_order="left")
    run_id = _store(engine, table, scoring, end, clock())
    return RunResult(run_id=run_id, observation_end=end, customers=scoring.table.height, scoring=scoring)


def _slipping(engine: Engine, settings: Settings, scores: pl.DataFrame, transactions: pl.DataFrame,
              end: date) -> pl.DataFrame:
    """Slipping fans of this run (rank, value at risk, reason), against the run before it for the P(alive) drop."""
    from ravingfans.analytics.lapse import slipping_fans, spend_trend

    until = datetime.combine(end, time.max, tzinfo=settings.zone)
    with engine.connect() as conn:
        before = conn.execute(select(ScoreRun.__table__.c.id).where(ScoreRun.__table__.c.observation_end < end)
                              .order_by(ScoreRun.__table__.c.observation_end.desc(), ScoreRun.__table__.c.id.desc())
                              .limit(1)).scalar()
    previous = run_frame(engine, before).select("customer_id", "p_alive") if before is not None else None
    spend = spend_trend(transactions, observation_end=until, order_id_col="order_id", timezone_name=settings.time_zone)
    found = slipping_fans(scores, previous=previous, spend=spend, ratings=_ratings(engine), ratings_until=until)
    return found.select("customer_id", pl.col("rank").alias("slipping_rank"), "value_at_risk",
                        pl.col("reason").alias("slipping_reason"))


def _ratings(engine: Engine) -> pl.DataFrame:
    """Every rated moment of truth: customer, when, rating (-1, 0, 1)."""
    from ravingfans.db.models import Interaction

    table = Interaction.__table__
    with engine.connect() as conn:
        rows = conn.execute(select(table.c.customer_id, table.c.occurred_at, table.c.rating)
                            .where(table.c.rating.is_not(None))).all()
    return pl.DataFrame(rows, schema={"customer_id": pl.Int64, "occurred_at": pl.Datetime("us", "UTC"),
                                      "rating": pl.Int64}, orient="row")


def _store(engine: Engine, table: pl.DataFrame, scoring: Scoring, end: date, now: datetime) -> int:
    """Write the run and every customer's row in one transaction: a killed run leaves no partial snapshot."""
    table = table.select(STORED_COLUMNS).with_columns(
        pl.col("frequency").cast(pl.Int64), pl.col("purchases").cast(pl.Int64))
    with write_transaction(engine) as conn:
        run_id = conn.execute(insert(ScoreRun.__table__).values(
            created_at=now, observation_end=end, customers=table.height,
            model="bgnbd" if scoring.bgnbd is not None else "none", params=scoring.params(),
            fallback_reason=scoring.fallback_reason, segments=_segment_totals(table),
        ).returning(ScoreRun.__table__.c.id)).scalar_one()
        for batch in table.iter_slices(_INSERT_BATCH):
            rows = [dict(row, run_id=run_id) for row in batch.iter_rows(named=True)]
            conn.execute(insert(CustomerScore.__table__), rows)
    return int(run_id)


@dataclass(frozen=True)
class FanRow:
    """A customer in a ranked list, with their scores."""

    customer_id: int
    name: str
    email: str | None
    segment: str
    R: int
    F: int
    M: int
    purchases: int
    total_spend: float
    last_purchase: date
    days_since_last: float
    p_alive: float | None
    clv: float | None


SORTS = {"clv": CustomerScore.clv, "spend": CustomerScore.total_spend, "frequency": CustomerScore.frequency,
         "recency": CustomerScore.days_since_last, "p_alive": CustomerScore.p_alive}


def fans(session: Session, *, segments: Sequence[str] = FAN_SEGMENTS, sort: str = "clv", limit: int = 50,
         run_id: int | None = None) -> list[FanRow]:
    """Customers of the given segments in a run (default: the newest), best first by ``sort``."""
    if sort not in SORTS:
        raise ValidationFailed(f"cannot sort by {sort!r}; choose one of: {', '.join(SORTS)}", field="sort")
    if limit < 1:
        raise ValidationFailed("limit must be 1 or more", field="limit")
    run = require_run(session, run_id)
    known, unknown = _fan_statements(tuple(segments), sort)
    params = {"run_id": run.id, "limit": limit}
    found = read_rows(session, known, params).all()
    if unknown is not None and len(found) < limit:
        found += read_rows(session, unknown, {**params, "limit": limit - len(found)}).all()
    return [_fan_row(row) for row in found]


@functools.lru_cache(maxsize=64)  # bounded: the segments come from the request
def _fan_statements(segments: tuple[str, ...], sort: str) -> tuple[Select[Any], Select[Any] | None]:
    """The fans list's reads for these segments and this order, built once (the run and the length bound).

    Biggest first with the unknown (NULL) last, asked as two reads so that an index on (run_id, clv) serves the first
    one read backwards, on SQLite and PostgreSQL alike; the second runs only when the first falls short. Recency
    (smallest first) is one read.
    """
    key = SORTS[sort]
    ties = (CustomerScore.total_spend.desc(), CustomerScore.customer_id)
    stmt = (select(*_FAN_COLUMNS).join(Customer, Customer.id == CustomerScore.customer_id)
            .where(CustomerScore.run_id == bindparam("run_id", type_=Integer)))
    if segments:
        stmt = stmt.where(CustomerScore.segment.in_(segments))
    limit = bindparam("limit", type_=Integer)
    if sort == "recency":
        return stmt.order_by(key.asc(), *ties).limit(limit), None
    return (stmt.where(key.is_not(None)).order_by(key.desc(), *ties).limit(limit),
            stmt.where(key.is_(None)).order_by(*ties).limit(limit))


# A list row needs these columns only: reading whole customers and scores (their JSON columns decoded, each object
# tracked by the session) took about a quarter of the fans page's CPU.
_FAN_COLUMNS = (Customer.id, Customer.first_name, Customer.last_name, Customer.email, Customer.phone,
                Customer.erased_at, CustomerScore.segment, CustomerScore.R, CustomerScore.F, CustomerScore.M,
                CustomerScore.purchases, CustomerScore.total_spend, CustomerScore.last_purchase,
                CustomerScore.days_since_last, CustomerScore.p_alive, CustomerScore.clv)


def _fan_row(row: Row[Any]) -> FanRow:
    """A list row from the columns of :data:`_FAN_COLUMNS`."""
    (cid, first, last, email, phone, erased_at, segment, r, f, m, purchases, total_spend, last_purchase,
     days_since_last, p_alive, clv) = row
    return FanRow(customer_id=cid, name=name_as_said(first, last, email, phone, cid, erased_at is not None),
                  email=email, segment=segment, R=r, F=f, M=m, purchases=purchases, total_spend=total_spend,
                  last_purchase=last_purchase, days_since_last=days_since_last, p_alive=p_alive, clv=clv)


def _segment_totals(table: pl.DataFrame) -> dict[str, list[float]]:
    """{segment: [customers, total CLV]} of a run's rows, stored with the run."""
    totals = table.group_by("segment").agg(pl.len().alias("n"), pl.col("clv").fill_null(0.0).sum().alias("clv"))
    return {row["segment"]: [int(row["n"]), float(row["clv"])] for row in totals.iter_rows(named=True)}


def segment_counts(session: Session, run_id: int | None = None) -> dict[str, tuple[int, float]]:
    """Customers and total CLV per segment in a run: stored with the run, counted here only for older runs."""
    run = require_run(session, run_id)
    if run.segments is not None:
        return {segment: (int(n), float(clv)) for segment, (n, clv) in run.segments.items()}
    rows = session.execute(select(CustomerScore.segment, func.count(), func.coalesce(func.sum(CustomerScore.clv), 0.0))
                           .where(CustomerScore.run_id == run.id).group_by(CustomerScore.segment))
    return {segment: (int(n), float(clv)) for segment, n, clv in rows}


def run_frame(engine: Engine, run_id: int) -> pl.DataFrame:
    """A stored run's scores as a table (for the lapse and affinity analytics and exports)."""
    table = CustomerScore.__table__
    with engine.connect() as conn:
        rows = conn.execute(select(*[table.c[c] for c in STORED_COLUMNS]).where(table.c.run_id == run_id)).all()
    return pl.DataFrame([tuple(r) for r in rows], schema=list(STORED_COLUMNS), orient="row",
                        infer_schema_length=None)


@dataclass(frozen=True)
class HistoryPoint:
    """A customer's segment and value in one past run."""

    run_id: int
    observation_end: date
    segment: str
    clv: float | None
    p_alive: float | None


@dataclass(frozen=True)
class CustomerValue:
    """A customer's newest scores, their history across runs, and the explanation in words."""

    customer_id: int
    name: str
    run_id: int
    observation_end: date
    scores: dict[str, Any]
    explanation: list[str]
    history: list[HistoryPoint]


# A customer's scores in their 60 latest runs, newest first; built once (the profile reads it for each customer).
HISTORY_RUNS = 60  # past runs a profile's value history shows

# The customer's newest-dated runs first, as plain columns, and each run's parameters as their JSON text, decoded
# for the latest run only: a customer scored every night for two months cost sixty score objects and sixty
# runs' decoded parameters on every view of the profile (5.8 ms against 0.3 ms with one run, at 400 customers).
_SCORES_OF = (select(ScoreRun.id.label("run_id"), ScoreRun.observation_end, ScoreRun.fallback_reason,
                     cast(ScoreRun.params, Text).label("params_json"),
                     *(CustomerScore.__table__.c[name] for name in STORED_COLUMNS))
              .join(ScoreRun, ScoreRun.id == CustomerScore.run_id)
              .where(CustomerScore.customer_id == bindparam("customer_id"))
              .order_by(ScoreRun.observation_end.desc(), ScoreRun.id.desc()).limit(HISTORY_RUNS))


def customer_value(session: Session, customer_id: int, settings: Settings) -> CustomerValue | None:
    """The customer's value as of the latest-dated run they appear in (None if never scored)."""
    from ravingfans.analytics.explain import explain_scores

    customer = get_customer(session, customer_id)  # NotFound for unknown and for erased customers
    rows = read_rows(session, _SCORES_OF, {"customer_id": customer.id}).all()
    if not rows:
        return None
    latest = rows[0]._mapping
    values = {c: latest[c] for c in STORED_COLUMNS}
    params = json.loads(latest["params_json"]) if latest["params_json"] else {}
    explanation = explain_scores(
        values, horizon_days=params.get("horizon_days", 365.0), margin=params.get("margin", 1.0),
        monthly_discount_rate=params.get("monthly_discount_rate", 0.01), currency=settings.currency,
        fallback_reason=latest["fallback_reason"])
    history = [HistoryPoint(r.run_id, r.observation_end, r.segment, r.clv, r.p_alive) for r in reversed(rows)]
    return CustomerValue(customer_id=customer.id, name=customer.display_name, run_id=latest["run_id"],
                         observation_end=latest["observation_end"], scores=values, explanation=explanation,
                         history=history)


@dataclass(frozen=True)
class Migration:
    """How customers moved between segments from one run to another."""

    from_run: ScoreRun
    to_run: ScoreRun
    counts: dict[tuple[str, str], int]  # (segment before, segment after) -> customers, movers and stayers

    def moved(self) -> list[tuple[str, str, int]]:
        """The moves between different segments, largest first."""
        return sorted(((a, b, n) for (a, b), n in self.counts.items() if a != b), key=lambda t: (-t[2], t[0], t[1]))


def resolve_runs(session: Session, *, from_run: int | None = None, to_run: int | None = None,
                 since_days: int | None = None) -> tuple[ScoreRun, ScoreRun]:
    """The two runs to compare: as named; else the newest and the newest one ``since_days`` older (or the previous)."""
    to = require_run(session, to_run)
    if from_run is not None:
        before = require_run(session, from_run)
    else:
        stmt = select(ScoreRun).where(ScoreRun.id != to.id, ScoreRun.observation_end <= to.observation_end)
        if since_days is not None:
            from datetime import timedelta

            stmt = select(ScoreRun).where(ScoreRun.id != to.id,
                                          ScoreRun.observation_end <= to.observation_end - timedelta(days=since_days))
        found = session.scalar(stmt.order_by(ScoreRun.observation_end.desc(), ScoreRun.id.desc()).limit(1))
        if found is None:
            span = f" from {since_days} or more days before run #{to.id}" if since_days is not None else ""
            raise NotFound(f"There is no earlier scoring run{span} to compare with.",
                           hint="Segment moves need two runs: score again later (ravingfans score).")
        before = found
    if before.id == to.id:
        raise ValidationFailed("Compare two different runs.", field="from_run")
    return before, to


def segment_migration(session: Session, *, from_run: int | None = None, to_run: int | None = None,
                      since_days: int | None = None) -> Migration:
    """Counts of customers by (segment before, segment after) between two runs (customers in both)."""
    before, after = resolve_runs(session, from_run=from_run, to_run=to_run, since_days=since_days)
    old = CustomerScore.__table__.alias("old")
    new = CustomerScore.__table__.alias("new")
    rows = session.execute(
        select(old.c.segment, new.c.segment, func.count())
        .select_from(old.join(new, old.c.customer_id == new.c.customer_id))
        .where(old.c.run_id == before.id, new.c.run_id == after.id)
        .group_by(old.c.segment, new.c.segment)
    )
    return Migration(from_run=before, to_run=after, counts={(a, b): int(n) for a, b, n in rows})


def moved_customers(session: Session, from_segment: str, to_segment: str, *, from_run: int | None = None,
                    to_run: int | None = None, since_days: int | None = None, limit: int = 100) -> list[FanRow]:
    """Who moved from one segment to another between two runs, most valuable (before) first."""
    before, after = resolve_runs(session, from_run=from_run, to_run=to_run, since_days=since_days)
    old = CustomerScore.__table__.alias("old")
    ids = (select(old.c.customer_id).where(old.c.run_id == before.id, old.c.segment == from_segment))
    stmt = (select(*_FAN_COLUMNS).join(Customer, Customer.id == CustomerScore.customer_id)
            .where(CustomerScore.run_id == after.id, CustomerScore.segment == to_segment,
                   CustomerScore.customer_id.in_(ids))
            .order_by(CustomerScore.total_spend.desc(), CustomerScore.customer_id).limit(limit))
    return [_fan_row(row) for row in session.execute(stmt)]


def has_runs(engine: Engine) -> bool:
    """Whether any scoring run is stored."""
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(ScoreRun.__table__)) > 0


def ledger_last_day(engine: Engine, settings: Settings) -> date | None:
    """The business-calendar day of the newest order (None for an empty ledger)."""
    from ravingfans.db.models import Order

    with engine.connect() as conn:
        latest = conn.scalar(select(func.max(Order.__table__.c.placed_at)))
    if latest is None:
        return None
    moment = latest if isinstance(latest, datetime) else datetime.fromisoformat(str(latest))
    if moment.tzinfo is None:
        from datetime import UTC

        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(settings.zone).date()
