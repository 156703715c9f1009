"""Builders for the campaign tests: customers placed in segments of a scoring run, orders, settings."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from ravingfans.config import Settings
from ravingfans.db.models import Customer, CustomerScore, Order, OrderLine, ScoreRun

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def campaign_settings(database_url: str, **extra: object) -> Settings:
    """Settings that allow marketing mail (a postal address) in UTC."""
    values: dict[str, object] = {"database_url": database_url, "business_address": "12 High Street\nSpringfield",
                                 "business_name": "Shoe & Co", "public_url": "https://shop.example",
                                 "mail_from": "hello@shoe.example", "currency": "EUR", "_env_file": None}
    values.update(extra)
    return Settings(**values)  # type: ignore[arg-type]


def add_customer(s: Session, first: str, email: str | None = None, consent: bool | None = True, *,
                 language: str | None = None, erased: bool = False) -> int:
    """A customer (e-mail defaulting to first@example.com); their id."""
    at = T0 - timedelta(days=400)
    customer = Customer(first_name=first, last_name="Test", email=email if email is not None else
                        f"{first.lower()}@example.com", email_consent=consent, language=language, created_at=at,
                        updated_at=at, erased_at=T0 - timedelta(days=1) if erased else None)
    s.add(customer)
    s.flush()
    return customer.id


def add_run(s: Session, placed: dict[int, str], *, slipping: Iterable[int] = (), clv: float = 80.0) -> int:
    """A scoring run that puts each customer in a segment (and ranks the ``slipping`` ones); its id."""
    counts: dict[str, list[float]] = {}
    for segment in placed.values():
        counts.setdefault(segment, [0, 0.0])
        counts[segment][0] += 1
        counts[segment][1] += clv
    run = ScoreRun(created_at=T0 - timedelta(days=1), observation_end=T0.date() - timedelta(days=1),
                   customers=len(placed), model="none", params={}, segments=counts)
    s.add(run)
    s.flush()
    ranks = {cid: n for n, cid in enumerate(slipping, start=1)}
    for cid, segment in placed.items():
        rank = ranks.get(cid)
        s.add(CustomerScore(run_id=run.id, customer_id=cid, first_purchase=date(2024, 1, 1),
                            last_purchase=date(2025, 6, 1), purchases=3, frequency=2, recency=150.0, T=400.0,
                            monetary_value=50.0, total_spend=150.0, mean_gap=70.0, gap_std=5.0,
                            days_since_last=200.0, R=2, F=2, M=2, FM=2, segment=segment, p_alive=0.5,
                            expected_purchases=1.0, expected_spend=50.0, clv=clv, slipping_rank=rank,
                            value_at_risk=40.0 if rank else None,
                            slipping_reason="no visit for 200 days" if rank else None))
    s.flush()
    return run.id


_orders = 0


def add_order(s: Session, customer_id: int, at: datetime, amount: str, *, cancelled: bool = False) -> int:
    """An order of one line for ``amount`` (negative for a return); its id."""
    global _orders
    _orders += 1
    value = Decimal(amount)
    order = Order(source="t", external_id=f"o{_orders}-{customer_id}-{at.timestamp()}", customer_id=customer_id,
                  placed_at=at, total=value, cancelled_at=at if cancelled else None)
    order.lines.append(OrderLine(line_no=1, kind="sale" if value >= 0 else "return", product_name="Boots",
                                 quantity=1 if value >= 0 else -1, unit_price=abs(value), amount=value))
    s.add(order)
    s.flush()
    return order.id
