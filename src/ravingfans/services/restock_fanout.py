"""The restock fan-out: each restock not yet handled tells its variant's waiting customers by e-mail, once, and
holds a unit for those who asked, as far as the units that came in go (see docs/stock.md).

Work is done in batches: one query per batch of waits (with their customers), one UPDATE per outcome, one
INSERT of holds; the e-mail is queued a batch at a time with :func:`ravingfans.mail.outbox.enqueue_many` under
the key ``restock:<restock>:wait:<wait>``, so a second run, or a racing one, never queues a notice twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from ravingfans.clock import Clock, utcnow
from ravingfans.config import Settings
from ravingfans.db.models import Customer, Product, ProductVariant
from ravingfans.db.models.stock import Hold, Restock, StockWait
from ravingfans.db.upsert import insert_for
from ravingfans.services.restock_holds import held_units

MAIL_TEMPLATE = "back_in_stock"
ASKED_SOURCES = ("store", "profile", "web", "api")  # the customer asked: service mail (inferred: marketing)
BATCH = 500


@dataclass(slots=True)
class FanOutReport:
    """What one fan-out did: restocks handled, e-mails queued, holds made, waits nobody could tell."""

    restocks: int = 0
    notified: int = 0
    held: int = 0
    unreachable: int = 0
    cancelled: int = 0
    sold_out_again: int = 0
    deferred: int = 0
    details: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for people."""
        return (f"{self.restocks} restock(s): {self.notified} customer(s) told by e-mail, {self.held} hold(s) made, "
                f"{self.unreachable} could not be told by e-mail (no address, no consent or unsubscribed)"
                + (f"; {self.sold_out_again} sold out again before anyone was told" if self.sold_out_again else "")
                + (f"; {self.deferred} inferred wait(s) left waiting: marketing e-mail needs the business's postal "
                   "address (settings page or RAVINGFANS_BUSINESS_ADDRESS)" if self.deferred else "")
                + ".")


def _claim_restocks(session: Session) -> list[Restock]:
    """Restocks not fanned out, oldest first; on PostgreSQL locked, skipping those another fan-out holds."""
    stmt = select(Restock).where(Restock.fanned_out_at.is_(None)).order_by(Restock.id)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return list(session.scalars(stmt))


def _claim_variant(session: Session, variant_id: int) -> ProductVariant | None:
    """The variant, locked on PostgreSQL (None when another fan-out holds it: that one tells its waiters)."""
    if session.get_bind().dialect.name == "postgresql":
        return session.scalar(select(ProductVariant).where(ProductVariant.id == variant_id)
                              .with_for_update(skip_locked=True).execution_options(populate_existing=True))
    variant = session.get(ProductVariant, variant_id)
    if variant is not None:
        session.refresh(variant)
    return variant


def _mail_context(customer: Any, asked: bool, variant: ProductVariant, product_name: str,
                  held_until: Any) -> dict[str, Any]:
    """What the back_in_stock template needs; ``held_until`` is a date (the hold's last day) or None."""
    return {"customer_first_name": (customer.first_name or "").strip(), "product_name": product_name,
            "variant_size": variant.size or "", "variant_colour": variant.colour or "", "sku": variant.sku,
            "asked": asked, "held_until": held_until}


def _close(session: Session, restock: Restock, outcome: dict[str, list[int]], now: datetime) -> None:
    """Close a batch's waits, one UPDATE per outcome."""
    for reason, ids in outcome.items():
        if not ids:
            continue
        values: dict[str, Any] = {"closed_at": now, "closed_reason": reason, "notified_restock_id": restock.id}
        if reason == "notified":
            values["notified_at"] = now
        session.execute(update(StockWait).where(StockWait.id.in_(ids)).values(**values)
                        .execution_options(synchronize_session=False))


def _open_waits(session: Session, variant_id: int, after: tuple[datetime, int] | None, size: int) -> list[Any]:
    """The next batch of the variant's open waits, oldest first, with the customer columns the notice needs."""
    stmt = (select(StockWait.id, StockWait.source, StockWait.want_hold, StockWait.created_at,
                   Customer.id.label("cid"), Customer.email, Customer.first_name, Customer.language, Customer.erased_at)
            .join(Customer, Customer.id == StockWait.customer_id)
            .where(StockWait.variant_id == variant_id, StockWait.closed_at.is_(None))
            .order_by(StockWait.created_at, StockWait.id).limit(size))
    if after is not None:
        stmt = stmt.where(or_(StockWait.created_at > after[0],
                              and_(StockWait.created_at == after[0], StockWait.id > after[1])))
    return list(session.execute(stmt).all())


def _fan_out_one(session: Session, settings: Settings, restock: Restock, report: FanOutReport, now: datetime,
                 batch_size: int) -> None:
    """Tell every open wait of the restock's variant, hold what stock allows, and mark the restock done."""
    from ravingfans.mail.compose import can_send_to
    from ravingfans.mail.outbox import Outgoing, enqueue_many

    variant = _claim_variant(session, restock.variant_id)
    if variant is None:
        report.details.append(f"restock #{restock.id}: left for the fan-out that holds its variant")
        return
    product_name = session.scalar(select(Product.name).where(Product.id == variant.product_id)) or variant.sku
    restock.fanned_out_at = now
    report.restocks += 1
    if variant.stock <= 0:  # sold out again before anyone was told: they keep waiting for the next one
        report.sold_out_again += 1
        return
    capacity = 0
    if settings.hold_days > 0:
        capacity = max(0, min(restock.stock_after, variant.stock) - held_units(session, variant.id))
    expires = now + timedelta(days=settings.hold_days)
    held_until = expires.astimezone(settings.zone).date()
    marketing_allowed = bool(settings.business_address.strip())  # marketing mail must carry the postal address
    last: tuple[datetime, int] | None = None
    while batch := _open_waits(session, variant.id, last, batch_size):
        last = (batch[-1].created_at, batch[-1].id)
        outcome: dict[str, list[int]] = {"notified": [], "unreachable": [], "cancelled": []}
        holds: list[dict[str, Any]] = []
        mail: list[Outgoing] = []
        mailed: list[int] = []  # the wait of each message in ``mail``
        for row in batch:
            asked = row.source in ASKED_SOURCES
            if row.erased_at is not None:
                outcome["cancelled"].append(row.id)
                continue
            if not asked and not marketing_allowed:
                report.deferred += 1  # stays open: told once the business's postal address is set
                continue
            hold = capacity > 0 and row.want_hold and asked
            if hold:
                capacity -= 1
                holds.append({"customer_id": row.cid, "variant_id": variant.id, "restock_id": restock.id,
                              "quantity": 1, "created_at": now, "expires_at": expires})
            if not can_send_to(row.email):
                outcome["unreachable"].append(row.id)
                continue
            mail.append(Outgoing(
                key=f"restock:{restock.id}:wait:{row.id}", customer_id=row.cid, to=row.email or "",
                template=MAIL_TEMPLATE, context=_mail_context(row, asked, variant, product_name,
                                                              held_until if hold else None),
                language=row.language, purpose="service" if asked else "marketing"))
            mailed.append(row.id)
        for wait_id, result in zip(mailed, enqueue_many(session, mail, settings=settings, clock=lambda: now),
                                   strict=True):
            outcome["notified" if result.status in ("queued", "duplicate") else "unreachable"].append(wait_id)
        _close(session, restock, outcome, now)
        if holds:
            made = len(session.execute(insert_for(session, Hold).values(holds).on_conflict_do_nothing(
                index_elements=["restock_id", "customer_id"]).returning(Hold.id)).all())
            report.held += made
            restock.held += made
        report.notified += len(outcome["notified"])
        report.unreachable += len(outcome["unreachable"])
        report.cancelled += len(outcome["cancelled"])
        restock.notified += len(outcome["notified"])
    session.flush()


def fan_out(session: Session, settings: Settings, *, clock: Clock = utcnow, batch_size: int = BATCH) -> FanOutReport:
    """Handle every restock not yet fanned out, in the caller's transaction; what was done.

    Run it in a write transaction (the worker and the CLI do). Each wait is closed as it is told ("notified"),
    or as "unreachable" when no e-mail could go (no address, no consent for an inferred wait, unsubscribed),
    so no restock tells anyone twice; a hold needs ``hold_days`` > 0, a wait that asked for one, and a unit free.
    """
    from ravingfans.mail.compose import check_address
    from ravingfans.services.business import effective_settings, get_business

    check_address(settings.mail_from, "mail_from")  # a wrong setting stops here, before any wait is closed
    report = FanOutReport()
    now = clock()
    settings = effective_settings(settings, get_business(session, settings))  # the zone saved on the settings page
    for restock in _claim_restocks(session):
        _fan_out_one(session, settings, restock, report, now, batch_size)
    session.flush()
    return report


def fan_out_restocks(session: Session, settings: Settings, *, clock: Clock = utcnow) -> int:
    """Tell waiting customers of every restock not yet fanned out; how many e-mails were queued."""
    return fan_out(session, settings, clock=clock).notified
