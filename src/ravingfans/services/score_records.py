"""The current scoring run's customer scores as records: list by cursor, read one customer's.

"Current" is :func:`ravingfans.services.runs.latest_run`. A cursor remembers the run its list began
in, so a client walking the pages while a new run is stored finishes the run it started.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from ravingfans.db.models import CustomerScore, ScoreRun
from ravingfans.errors import NotFound, ValidationFailed
from ravingfans.services import customers
from ravingfans.services.inputs import MAX_ID
from ravingfans.services.records import DEFAULT_LIMIT, Page, check_limit, decode_cursor, filter_scope, page_after
from ravingfans.services.runs import latest_run


@dataclass(frozen=True, slots=True)
class ScoreRecord:
    """A customer's summary, segment and value in one scoring run."""

    customer_id: int
    run_id: int
    observation_end: date
    segment: str
    first_purchase: date
    last_purchase: date
    purchases: int
    frequency: int
    recency: float | None
    T: float | None  # noqa: N815 - the literature's name
    days_since_last: float | None
    monetary_value: float | None
    total_spend: float | None
    R: int  # noqa: N815
    F: int  # noqa: N815
    M: int  # noqa: N815
    p_alive: float | None
    expected_purchases: float | None
    expected_spend: float | None
    clv: float | None
    slipping_rank: int | None
    value_at_risk: float | None
    slipping_reason: str | None


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _record(s: CustomerScore, observation_end: date) -> ScoreRecord:
    return ScoreRecord(
        customer_id=s.customer_id, run_id=s.run_id, observation_end=observation_end, segment=s.segment,
        first_purchase=s.first_purchase, last_purchase=s.last_purchase, purchases=s.purchases, frequency=s.frequency,
        recency=_finite(s.recency), T=_finite(s.T), days_since_last=_finite(s.days_since_last),
        monetary_value=_finite(s.monetary_value), total_spend=_finite(s.total_spend), R=s.R, F=s.F, M=s.M,
        p_alive=_finite(s.p_alive), expected_purchases=_finite(s.expected_purchases),
        expected_spend=_finite(s.expected_spend), clv=_finite(s.clv), slipping_rank=s.slipping_rank,
        value_at_risk=_finite(s.value_at_risk), slipping_reason=s.slipping_reason,
    )


def get_score(session: Session, customer_id: int) -> ScoreRecord:
    """A customer's scores in the current run; NotFound before the first run or when they are not in it."""
    run = latest_run(session)
    score = session.scalar(select(CustomerScore).where(CustomerScore.run_id == run.id,
                                                       CustomerScore.customer_id == customer_id)) \
        if run is not None and 1 <= customer_id <= MAX_ID else None
    if run is None:
        raise NotFound("Nobody has been scored yet.", hint="Run: ravingfans score")
    if score is None:
        raise NotFound(f"Customer {customer_id} is not in the current scoring run.",
                       hint="Customers without a purchase before the run's day are not scored.")
    return _record(score, run.observation_end)


def list_scores(session: Session, *, segment: str = "", slipping: bool | None = None, cursor: str | None = None,
                limit: int = DEFAULT_LIMIT) -> Page[ScoreRecord]:
    """The current run's scores by customer id, a page at a time: of one segment, slipping or not."""
    segment_text = customers.check_segment(segment)
    check_limit(limit)
    scope = filter_scope(kind="scores", segment=segment_text, slipping=slipping)
    position = decode_cursor(cursor, scope, size=2)
    run = session.get(ScoreRun, position[0]) if position else latest_run(session)
    if run is None:
        if position:
            raise ValidationFailed("cursor: its scoring run has been deleted; start again without one", field="cursor")
        return Page(items=[], next_cursor=None)
    stmt = select(CustomerScore).where(CustomerScore.run_id == run.id)
    if segment_text:
        stmt = stmt.where(CustomerScore.segment == segment_text)
    if slipping is not None:
        rank = CustomerScore.slipping_rank
        stmt = stmt.where(rank.is_not(None) if slipping else rank.is_(None))
    end = run.observation_end
    return page_after(session, stmt, CustomerScore.customer_id, position[1] if position else None, limit,
                      lambda row: _record(row[0], end), lambda item: [item.run_id, item.customer_id], scope)
