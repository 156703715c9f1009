"""Insights over a scoring run: slipping fans (with reasons) and what appeals to fans (affinity).

Each reads the run's stored scores plus the ledger and moments of truth it needs, and hands them to the
pure analytics (:mod:`ravingfans.analytics.lapse`, :mod:`ravingfans.analytics.affinity`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

import polars as pl
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ravingfans.analytics.affinity import affinity, affinity_facts
from ravingfans.analytics.lapse import slipping_fans, spend_trend
from ravingfans.analytics.scoring import FAN_SEGMENTS
from ravingfans.config import Settings
from ravingfans.db.models import Customer, Employee, Interaction, Order, OrderLine, Product, ProductVariant, ScoreRun
from ravingfans.errors import ValidationFailed
from ravingfans.services.ledger import load_transactions
from ravingfans.services.scoring import require_run, run_frame

DIMENSIONS = ("category", "product", "channel", "location", "employee")


@dataclass(frozen=True)
class SlippingRow:
    """A slipping fan: who, how much is at risk, and why in words."""

    rank: int
    customer_id: int
    name: str
    segment: str | None
    total_spend: float
    days_since_last: float
    p_alive: float | None
    value_at_risk: float
    reason: str


def _previous_run(session: Session, run: ScoreRun) -> ScoreRun | None:
    """The newest run as of an earlier day than ``run`` (for the P(alive) drop)."""
    return session.scalar(select(ScoreRun).where(ScoreRun.observation_end < run.observation_end)
                          .order_by(ScoreRun.observation_end.desc(), ScoreRun.id.desc()).limit(1))


def _ratings(engine: Engine) -> pl.DataFrame:
    """Every rated moment of truth: customer, when, rating (-1, 0, 1)."""
    table = Interaction.__table__
    with engine.connect() as conn:
        rows = conn.execute(select(table.c.customer_id, table.c.occurred_at, table.c.rating)
                            .where(table.c.rating.is_not(None))).all()
    return pl.DataFrame(rows, schema={"customer_id": pl.Int64, "occurred_at": pl.Datetime("us", "UTC"),
                                      "rating": pl.Int64}, orient="row")


def slipping(session: Session, engine: Engine, settings: Settings, *, run_id: int | None = None,
             limit: int = 50) -> tuple[ScoreRun, list[SlippingRow]]:
    """Former fans now below their own rhythm in a run (default: the newest), most value at risk first."""
    if limit < 1:
        raise ValidationFailed("limit must be 1 or more", field="limit")
    run = require_run(session, run_id)
    scores = run_frame(engine, run.id)
    before = _previous_run(session, run)
    previous = run_frame(engine, before.id).select("customer_id", "p_alive") if before is not None else None
    end = datetime.combine(run.observation_end, time.max, tzinfo=settings.zone)
    spend = spend_trend(load_transactions(engine), observation_end=end, order_id_col="order_id",
                        timezone_name=settings.time_zone)
    found = slipping_fans(scores, previous=previous, spend=spend, ratings=_ratings(engine), ratings_until=end,
                          top=limit)
    names = _names(session, found["customer_id"].to_list())
    rows = [SlippingRow(rank=r["rank"], customer_id=r["customer_id"], name=names.get(r["customer_id"], "?"),
                        segment=r["segment"], total_spend=r["total_spend"], days_since_last=r["days_since_last"],
                        p_alive=r["p_alive"], value_at_risk=r["value_at_risk"], reason=r["reason"])
            for r in found.iter_rows(named=True)]
    return run, rows


def _names(session: Session, ids: list[int]) -> dict[int, str]:
    """Display names of these customers, in one query."""
    if not ids:
        return {}
    return {c.id: c.display_name for c in session.scalars(select(Customer).where(Customer.id.in_(ids)))}


def fan_affinity(session: Session, engine: Engine, settings: Settings, *, run_id: int | None = None,
                 dimensions: tuple[str, ...] = DIMENSIONS, segments: tuple[str, ...] = FAN_SEGMENTS,
                 min_fan_customers: int = 5, alpha: float = 0.05) -> tuple[ScoreRun, pl.DataFrame]:
    """What fans buy, where and from whom more often than everyone: lift with a significance filter."""
    unknown = [d for d in dimensions if d not in DIMENSIONS]
    if unknown:
        raise ValidationFailed(f"unknown dimension {unknown[0]!r}; choose from: {', '.join(DIMENSIONS)}",
                               field="dimension")
    run = require_run(session, run_id)
    scores = run_frame(engine, run.id).select("customer_id", "segment")
    orders, lines = _orders_and_lines(engine, datetime.combine(run.observation_end, time.max, tzinfo=settings.zone))
    orders = orders.filter(pl.col("customer_id").is_in(scores["customer_id"].implode()))
    # Per order, not per customer: fans buy more of everything, so counted per customer every product
    # would look like a fan favourite. Per order, a value stands out when it is a larger share of
    # what fans buy than of what everyone buys.
    fan_ids = scores.filter(pl.col("segment").is_in(list(segments)))["customer_id"]
    fan_orders = orders.filter(pl.col("customer_id").is_in(fan_ids.implode()))["order_id"]
    facts = affinity_facts(orders, lines, dimensions=dimensions, per_order=True)
    table = affinity(facts, fan_orders, customer_id_col="order_id", dimension_col="dimension",
                     population=orders.height, min_fan_customers=min_fan_customers, alpha=alpha)
    return run, table


def _orders_and_lines(engine: Engine, until: datetime) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Non-cancelled orders of known customers up to ``until`` (channel, location, employee name) and their lines' products."""
    o, e = Order.__table__, Employee.__table__
    ln, v, p = OrderLine.__table__, ProductVariant.__table__, Product.__table__
    with engine.connect() as conn:
        orders = conn.execute(
            select(o.c.id.label("order_id"), o.c.customer_id, o.c.channel, o.c.location, e.c.name.label("employee_id"))
            .select_from(o.outerjoin(e, e.c.id == o.c.employee_id))
            .where(o.c.customer_id.is_not(None), o.c.cancelled_at.is_(None), o.c.placed_at <= until)).all()
        lines = conn.execute(
            select(ln.c.order_id, p.c.name.label("product"), p.c.category, ln.c.quantity.label("amount"))
            .select_from(ln.join(v, v.c.id == ln.c.variant_id).join(p, p.c.id == v.c.product_id))).all()
    order_frame = pl.DataFrame(orders, schema={"order_id": pl.Int64, "customer_id": pl.Int64, "channel": pl.String,
                                               "location": pl.String, "employee_id": pl.String}, orient="row")
    line_frame = pl.DataFrame(lines, schema={"order_id": pl.Int64, "product": pl.String, "category": pl.String,
                                             "amount": pl.Int64}, orient="row")
    return order_frame, line_frame
