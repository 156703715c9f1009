"""A closed campaign's report: what each group did in the window, the lift with its intervals, in words.

The window runs from the start of the campaign to the business's midnight ``window_days`` later (or to
the moment a manager closed it early). For every member, treated or held out, the orders they placed
in it (cancelled ones left out) give whether they bought (an order with a positive total) and their
revenue (the sum of the totals, returns netted; 0 when they bought nothing). Redemptions are counted
as recorded by staff: orders carry no discount code, so an order cannot be matched to a gift by itself,
and the revenue the campaign earns is measured by window instead: the treated customers' revenue in
the window, and the part of it the hold-out says would not have come without the gift (the
incremental revenue). The statistics are :func:`ravingfans.analytics.lift.estimate_lift`.

The report is a plain JSON document stored in ``campaigns.report`` when the campaign closes, so pages
and commands only read it; it is never recomputed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from babel.numbers import format_currency
from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from ravingfans.config import Settings
from ravingfans.db.models import Campaign, CampaignMember, Order, Task

REPORT_VERSION = 1


def _money(currency: str) -> Any:
    def fmt(value: float) -> str:
        text = str(format_currency(abs(value), currency, locale="en"))
        return f"\u2212{text}" if value < 0 and round(value, 2) != 0 else text

    return fmt


def window_outcomes(session: Session, campaign_id: int, start: datetime,
                    end: datetime) -> dict[str, tuple[list[bool], list[float]]]:
    """Per group: whether each member bought in [start, end), and their revenue in it (0 for none)."""
    m, o = CampaignMember, Order
    bought = func.sum(case((o.total > 0, 1), else_=0))
    revenue = func.sum(o.total)
    stmt = (select(m.group, m.customer_id, bought, revenue)
            .select_from(m)
            .outerjoin(o, and_(o.customer_id == m.customer_id, o.cancelled_at.is_(None), o.placed_at >= start,
                               o.placed_at < end))
            .where(m.campaign_id == campaign_id)
            .group_by(m.group, m.customer_id)
            .order_by(m.customer_id))
    out: dict[str, tuple[list[bool], list[float]]] = {"treated": ([], []), "holdout": ([], [])}
    for group, _cid, orders, money in session.execute(stmt):
        flags, amounts = out.setdefault(group, ([], []))
        flags.append(bool(orders))
        amounts.append(float(money or 0))
    return out


def _delivery(session: Session, campaign_id: int) -> dict[str, Any]:
    m = CampaignMember
    notes = dict(session.execute(select(m.delivery_note, func.count()).where(
        m.campaign_id == campaign_id, m.group == "treated", m.delivered_at.is_(None))
        .group_by(m.delivery_note)).all())
    emailed = session.scalar(select(func.count()).select_from(m).where(
        m.campaign_id == campaign_id, m.group == "treated", m.delivered_at.is_not(None))) or 0
    tasks = dict(session.execute(select(Task.status, func.count()).where(Task.campaign_id == campaign_id)
                                 .group_by(Task.status)).all())
    return {"emailed": int(emailed), "tasks": int(sum(tasks.values())), "tasks_done": int(tasks.get("done", 0)),
            "not_delivered": {str(k or "unknown"): int(v) for k, v in notes.items()
                              if not str(k or "").startswith("task ")}}


def _redemptions(session: Session, campaign_id: int) -> dict[str, Any]:
    m, o = CampaignMember, Order
    count = session.scalar(select(func.count()).select_from(m).where(
        m.campaign_id == campaign_id, m.redeemed_at.is_not(None))) or 0
    revenue = session.scalar(select(func.sum(o.total)).select_from(m).join(o, o.id == m.redeemed_order_id).where(
        m.campaign_id == campaign_id, o.cancelled_at.is_(None)))
    return {"redeemed": int(count), "redeemed_order_revenue": round(float(revenue or 0), 2)}


def build_report(session: Session, settings: Settings, campaign: Campaign, now: datetime) -> dict[str, Any]:
    """Measure a campaign over its window (cut short at ``now`` when closed early): the stored report."""
    from ravingfans.analytics.lift import as_dict, estimate_lift, revenue_line

    assert campaign.started_at is not None and campaign.ends_at is not None
    start, end = campaign.started_at, min(campaign.ends_at, now)
    groups = window_outcomes(session, campaign.id, start, end)
    (t_flags, t_money), (h_flags, h_money) = groups["treated"], groups["holdout"]
    estimate = estimate_lift(t_flags, t_money, h_flags, h_money, kind=campaign.kind)
    money = _money(settings.currency)
    lift = as_dict(estimate)
    incremental = lift["incremental_revenue"]
    return {
        "version": REPORT_VERSION,
        "computed_at": now.isoformat(),
        "currency": settings.currency,
        "window": {"start": start.isoformat(), "end": end.isoformat(), "closed_early": end < campaign.ends_at,
                   "days": round((end - start).total_seconds() / 86400, 1)},
        "lift": lift,
        "revenue_text": revenue_line(estimate, money),
        "attributed": {"treated_revenue": round(estimate.treated.revenue, 2),
                       "incremental_revenue": incremental, **_redemptions(session, campaign.id)},
        "delivery": _delivery(session, campaign.id),
    }
