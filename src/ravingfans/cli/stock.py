"""Back in stock and holds: `ravingfans wait add|list|cancel|infer`, `ravingfans holds list|release|expire`,
`ravingfans stock set SKU QTY` and `ravingfans restock notify|list`.

Lists are tab-separated lines on standard output (times in the business's time zone); what a command did is
said on standard error. The worker runs `restock notify` and `holds expire` on its schedule; these commands
are for doing it now, or from cron.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import typer

from ravingfans.cli import context
from ravingfans.cli.output import info

if TYPE_CHECKING:
    from ravingfans.config import Settings
    from ravingfans.db import Database

WAIT_COLUMNS = ("id", "customer", "name", "sku", "item", "stock", "source", "hold", "since")
HOLD_COLUMNS = ("id", "customer", "name", "phone", "sku", "item", "units", "held_since", "expires", "released",
                "reason")
RESTOCK_COLUMNS = ("id", "sku", "item", "before", "after", "source", "at", "told_at", "emailed", "held")


def register(app: typer.Typer) -> None:
    """Add the `wait`, `holds`, `stock` and `restock` command groups to the app."""
    wait = typer.Typer(help="Customers waiting for a variant (a SKU) to be back in stock.", no_args_is_help=True)
    wait.command("add")(wait_add)
    wait.command("list")(wait_list)
    wait.command("cancel")(wait_cancel)
    wait.command("infer")(wait_infer)
    app.add_typer(wait, name="wait")
    holds = typer.Typer(help="Units kept back for customers after a restock.", no_args_is_help=True)
    holds.command("list")(holds_list)
    holds.command("release")(holds_release)
    holds.command("expire")(holds_expire)
    app.add_typer(holds, name="holds")
    stock = typer.Typer(help="Stock levels of variants.", no_args_is_help=True)
    stock.command("set")(stock_set)
    app.add_typer(stock, name="stock")
    restock = typer.Typer(help="Variants back in stock, and telling who waits for them.", no_args_is_help=True)
    restock.command("notify")(restock_notify)
    restock.command("list")(restock_list)
    app.add_typer(restock, name="restock")


def _shown(moment: datetime | None, settings: Settings) -> str:
    return moment.astimezone(settings.zone).strftime("%Y-%m-%d %H:%M") if moment is not None else ""


def _print(columns: tuple[str, ...], rows: list[tuple[str, ...]], empty: str) -> None:
    if not rows:
        info(empty)
        return
    typer.echo("\t".join(columns))
    for row in rows:
        typer.echo("\t".join(cell.replace("\t", " ").replace("\n", " ") for cell in row))


def _open() -> tuple[Settings, Database]:
    from ravingfans.services.business import effective_settings, get_business

    settings = context.settings()
    db = context.database()
    with db.session() as session:
        settings = effective_settings(settings, get_business(session, settings))
    return settings, db


def wait_add(
    customer: str = typer.Argument(..., help="The customer's number or e-mail address."),
    sku: str = typer.Argument(..., help="The SKU of the variant they want (size and colour)."),
    source: str = typer.Option("store", "--source", help="How they asked: store, profile, web or api."),
    hold: bool = typer.Option(True, "--hold/--no-hold", help="Hold one for them when it comes (if holds are on)."),
) -> None:
    """Note that a customer waits for a variant; they are told by e-mail when its stock comes back."""
    from ravingfans.errors import ValidationFailed
    from ravingfans.services import restock

    if source == "inferred":
        raise ValidationFailed("--source: inferred waits are made by `ravingfans wait infer`; use store, profile, "
                               "web or api.", field="source")
    _settings, db = _open()
    try:
        with db.session(write=True) as session:
            person = restock.find_customer(session, customer)
            variant = restock.find_variant(session, sku)
            result = restock.add_wait(session, person.id, variant.id, source=source, want_hold=hold)
            name = person.display_name
    finally:
        db.dispose()
    if result.created:
        info(f"Wait #{result.wait_id}: {name} (#{person.id}) waits for {variant.sku}; they will be told when it is "
             "back in stock.")
    else:
        info(f"{name} (#{person.id}) already waits for {variant.sku} (wait #{result.wait_id}); nothing added.")


def wait_list(
    customer: str | None = typer.Option(None, "--customer", help="Only this customer's waits (number or e-mail)."),
    sku: str | None = typer.Option(None, "--sku", help="Only the waits for this SKU."),
    source: str | None = typer.Option(None, "--source", help="Only waits of this source (store, profile, web, api, "
                                                             "inferred)."),
    limit: int = typer.Option(1000, "--limit", min=1, max=100_000, help="How many to show, oldest first."),
) -> None:
    """List the open waits, oldest first: number, customer, SKU, item, stock now, source, hold wanted, since when."""
    from ravingfans.db.models.stock import WAIT_SOURCES
    from ravingfans.errors import ValidationFailed
    from ravingfans.services import restock

    if source is not None and source not in WAIT_SOURCES:
        raise ValidationFailed(f"--source: {source!r} is not one of {', '.join(WAIT_SOURCES)}.", field="source")
    settings, db = _open()
    try:
        with db.session() as session:
            customer_id = restock.find_customer(session, customer).id if customer is not None else None
            variant_id = restock.find_variant(session, sku).id if sku is not None else None
            rows = [(f"#{w.id}", f"#{w.customer_id}", w.customer_name, w.sku,
                     f"{w.product_name}{f' ({w.variant})' if w.variant else ''}", str(w.stock), w.source,
                     "yes" if w.want_hold and w.source != "inferred" else "no", _shown(w.created_at, settings))
                    for w in restock.list_waits(session, customer_id=customer_id, variant_id=variant_id,
                                                source=source, limit=limit)]
    finally:
        db.dispose()
    _print(WAIT_COLUMNS, rows, "Nobody is waiting.")


def wait_cancel(wait_id: int = typer.Argument(..., min=1, help="The wait's number (from `wait list`).")) -> None:
    """Close a wait: the customer no longer wants it."""
    from ravingfans.services import restock

    _settings, db = _open()
    try:
        with db.session(write=True) as session:
            closed = restock.cancel_wait(session, wait_id)
    finally:
        db.dispose()
    info(f"Wait #{wait_id} cancelled." if closed else f"Wait #{wait_id} was already closed; nothing changed.")


def wait_infer(
    product: int | None = typer.Option(None, "--product", min=1, help="Only for this product number."),
) -> None:
    """Add waits for customers who bought a product in a size that is now out of stock (told only with consent)."""
    from ravingfans.services import restock

    _settings, db = _open()
    try:
        with db.session(write=True) as session:
            added = restock.infer_waits(session, product_id=product)
    finally:
        db.dispose()
    info(f"{added} wait(s) inferred from past purchases.")


def holds_list(
    customer: str | None = typer.Option(None, "--customer", help="Only this customer's holds (number or e-mail)."),
    sku: str | None = typer.Option(None, "--sku", help="Only the holds of this SKU."),
    all_: bool = typer.Option(False, "--all", help="Released holds too, newest first."),
    limit: int = typer.Option(1000, "--limit", min=1, max=100_000, help="How many to show."),
) -> None:
    """List the open holds by SKU, soonest to expire first: who, what, since when, until when."""
    from ravingfans.services import restock

    settings, db = _open()
    try:
        with db.session() as session:
            customer_id = restock.find_customer(session, customer).id if customer is not None else None
            variant_id = restock.find_variant(session, sku).id if sku is not None else None
            rows = [(f"#{h.id}", f"#{h.customer_id}", h.customer_name, h.customer_phone or "", h.sku,
                     f"{h.product_name}{f' ({h.variant})' if h.variant else ''}", str(h.quantity),
                     _shown(h.created_at, settings), _shown(h.expires_at, settings), _shown(h.released_at, settings),
                     h.release_reason or "")
                    for h in restock.list_holds(session, customer_id=customer_id, variant_id=variant_id,
                                                open_only=not all_, limit=limit)]
    finally:
        db.dispose()
    _print(HOLD_COLUMNS, rows, "Nothing is held.")


def holds_release(hold_id: int = typer.Argument(..., min=1, help="The hold's number (from `holds list`).")) -> None:
    """Let a hold go (the customer will not come, or the unit is needed)."""
    from ravingfans.services import restock

    _settings, db = _open()
    try:
        with db.session(write=True) as session:
            done = restock.release_hold(session, hold_id, reason="staff")
    finally:
        db.dispose()
    info(f"Hold #{hold_id} released." if done else f"Hold #{hold_id} was already released; nothing changed.")


def holds_expire() -> None:
    """Release every hold past its expiry now (the worker does this on its schedule)."""
    from ravingfans.services import restock

    _settings, db = _open()
    try:
        with db.session(write=True) as session:
            expired = restock.expire_holds(session)
    finally:
        db.dispose()
    info(f"{expired} hold(s) expired.")


def stock_set(
    sku: str = typer.Argument(..., help="The variant's SKU."),
    quantity: int = typer.Argument(..., min=0, max=1_000_000_000, help="Units in stock now (a count, not a change)."),
    notify: bool = typer.Option(False, "--notify", help="If it is back in stock and people wait, tell them now."),
) -> None:
    """Set a variant's stock; stock coming back for a variant people wait for is a restock they are told of."""
    from ravingfans.services import restock

    settings, db = _open()
    try:
        with db.session(write=True) as session:
            before, after, made = restock.set_stock(session, sku, quantity, source="cli")
            report = restock.fan_out(session, settings) if notify and made is not None else None
    finally:
        db.dispose()
    info(f"Stock of {sku.strip()}: {before} → {after}.")
    if report is not None:
        info(report.summary() + " The e-mails go out with the next `ravingfans outbox send`.")
    elif made is not None:
        info(f"Back in stock with customers waiting (restock #{made}): they are told by `ravingfans restock notify` "
             "or the worker.")


def restock_notify() -> None:
    """Tell the waiting customers of every restock not yet told (e-mail queued; holds made when holds are on)."""
    from ravingfans.services import restock

    settings, db = _open()
    try:
        with db.session(write=True) as session:
            report = restock.fan_out(session, settings)
    finally:
        db.dispose()
    info(report.summary() + (" The e-mails go out with the next `ravingfans outbox send`." if report.notified else ""))


def restock_list(
    pending: bool = typer.Option(False, "--pending", help="Only restocks whose customers are not told yet."),
    limit: int = typer.Option(50, "--limit", min=1, max=10_000, help="How many of the newest to show."),
) -> None:
    """List the newest restocks of awaited variants: stock before and after, where from, when told, how many."""
    from ravingfans.services import restock

    settings, db = _open()
    try:
        with db.session() as session:
            rows = [(f"#{r.id}", r.sku, f"{r.product_name}{f' ({r.variant})' if r.variant else ''}",
                     str(r.stock_before), str(r.stock_after), r.source, _shown(r.at, settings),
                     _shown(r.fanned_out_at, settings), str(r.notified), str(r.held))
                    for r in restock.list_restocks(session, limit=limit, pending_only=pending)]
    finally:
        db.dispose()
    _print(RESTOCK_COLUMNS, rows, "No restocks.")
