"""Insights over a scoring run: slipping fans (with reasons) and what appeals to fans (affinity).

Slipping fans are found when a run is scored (:func:`ravingfans.services.scoring.score_database`, with
:mod:`ravingfans.analytics.lapse`) and stored with it, so reading them is one query. Affinity reads the
run's segments and the orders, and hands them to :mod:`ravingfans.analytics.affinity`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

import polars as pl
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ravingfans.analytics.affinity import affinity, affinity_facts
from ravingfans.analytics.scoring import FAN_SEGMENTS
from ravingfans.config import Settings
from ravingfans.db.models import (
    Customer,
    CustomerScore,
    Employee,
    Order,
    OrderLine,
    Product,
    ProductVariant,
    ScoreRun,
)
from ravingfans.errors import ValidationFailed
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


def slipping(session: Session, *, run_id: int | None = None, limit: int = 50) -> tuple[ScoreRun, list[SlippingRow]]:
    """The slipping fans a run (default: the current one) found, most value at risk first."""
    if limit < 1:
        raise ValidationFailed("limit must be 1 or more", field="limit")
    run = require_run(session, run_id)
    stmt = (select(CustomerScore, Customer).join(Customer, Customer.id == CustomerScore.customer_id)
            .where(CustomerScore.run_id == run.id, CustomerScore.slipping_rank.is_not(None))
            .order_by(CustomerScore.slipping_rank).limit(limit))
    rows = [SlippingRow(rank=int(score.slipping_rank or 0), customer_id=customer.id, name=customer.display_name,
                        segment=score.segment, total_spend=score.total_spend, days_since_last=score.days_since_last,
                        p_alive=score.p_alive, value_at_risk=float(score.value_at_risk or 0.0),
                        reason=score.slipping_reason or "")
            for score, customer in session.execute(stmt)]
    return run, rows


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
