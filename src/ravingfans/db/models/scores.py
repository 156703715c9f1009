"""Score snapshots: every scoring run with its parameters, and each customer's scores in it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Float, ForeignKey, Index, Integer, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ravingfans.db.models.base import Base
from ravingfans.db.types import UTCDateTime


class ScoreRun(Base):
    """One scoring run: when, as of which day, with which fitted parameters (or why none)."""

    __tablename__ = "score_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    observation_end: Mapped[date] = mapped_column(Date)
    customers: Mapped[int] = mapped_column(Integer)
    model: Mapped[str] = mapped_column(String(20))  # "bgnbd", or "none" when too few repeat buyers
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    fallback_reason: Mapped[str | None] = mapped_column(Text)
    # {segment: [customers, total CLV]}, counted once when the run is stored so pages need not group a million rows.
    segments: Mapped[dict[str, list[float]] | None] = mapped_column(JSON)


class CustomerScore(Base):
    """A customer's summary and scores in one run (derived data: a merge drops, never moves, these rows)."""

    __tablename__ = "customer_scores"
    __table_args__ = (
        UniqueConstraint("run_id", "customer_id"),
        Index("ix_customer_scores_customer_run", "customer_id", "run_id"),
        # The fans list: a run's customers by value, best first (read backwards; see services/scoring.fans).
        Index("ix_customer_scores_run_clv", "run_id", "clv"),
        {"info": {"derived": True}},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("score_runs.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    first_purchase: Mapped[date] = mapped_column(Date)
    last_purchase: Mapped[date] = mapped_column(Date)
    purchases: Mapped[int] = mapped_column(Integer)
    frequency: Mapped[int] = mapped_column(Integer)
    recency: Mapped[float] = mapped_column(Float)
    T: Mapped[float] = mapped_column(Float)  # noqa: N815 - the literature's name
    monetary_value: Mapped[float] = mapped_column(Float)
    total_spend: Mapped[float] = mapped_column(Float)
    mean_gap: Mapped[float | None] = mapped_column(Float)
    gap_std: Mapped[float | None] = mapped_column(Float)
    days_since_last: Mapped[float] = mapped_column(Float)
    R: Mapped[int] = mapped_column(SmallInteger)  # noqa: N815
    F: Mapped[int] = mapped_column(SmallInteger)  # noqa: N815
    M: Mapped[int] = mapped_column(SmallInteger)  # noqa: N815
    FM: Mapped[int] = mapped_column(SmallInteger)  # noqa: N815
    segment: Mapped[str] = mapped_column(String(40))
    p_alive: Mapped[float | None] = mapped_column(Float)
    expected_purchases: Mapped[float | None] = mapped_column(Float)
    expected_spend: Mapped[float | None] = mapped_column(Float)
    clv: Mapped[float | None] = mapped_column(Float)
    slipping_rank: Mapped[int | None] = mapped_column(Integer)  # set for slipping fans: 1 = most value at risk
    value_at_risk: Mapped[float | None] = mapped_column(Float)
    slipping_reason: Mapped[str | None] = mapped_column(Text)
