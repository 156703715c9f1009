"""`ravingfans validate --holdout 26w [ORDERS_FILE]`: does the purchase model forecast your own customers?

Calibrates on the history before the holdout and sets the forecast for the holdout against what the
customers did, in total and by decile of the forecast (see :mod:`ravingfans.analytics.holdout`). Heavy
modules are imported inside the command so that `--help` stays fast.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ravingfans.cli.output import info, stdout
from ravingfans.cli.values import parse_day
from ravingfans.cli.values import time_zone as time_zone_value
from ravingfans.errors import ValidationFailed

if TYPE_CHECKING:
    from ravingfans.analytics.holdout import HoldoutResult


class Model(StrEnum):
    """The purchase model to check."""

    bgnbd = "bgnbd"
    paretonbd = "paretonbd"


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("validate")(validate)


def validate(
    orders_file: Path | None = typer.Argument(
        None, help="Orders as CSV or Parquet (customer_id, timestamp or date, amount). Default: the database."),
    holdout: str = typer.Option("26w", "--holdout", help="Length of the holdout at the end: 26w, 180d, 6m, 1y."),
    until: str | None = typer.Option(None, "--until", help="Last day of the holdout (YYYY-MM-DD; default: the "
                                                           "last day with an order)."),
    model: Model = typer.Option(Model.bgnbd, "--model", help="Purchase model: bgnbd or paretonbd."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
    customer_id_col: str = typer.Option("customer_id", "--customer-id-col", help="File column holding the customer."),
    timestamp_col: str = typer.Option("timestamp", "--timestamp-col", help="File column holding the time or date."),
    amount_col: str = typer.Option("amount", "--amount-col", help="File column holding the net amount."),
    order_id_col: str | None = typer.Option(None, "--order-id-col",
                                            help="File column holding the order: refunds count on the order's day."),
    time_zone: str | None = typer.Option(None, "--time-zone", help="The shop's time zone for calendar days "
                                                                   "(default: UTC for a file, the setting otherwise)."),
) -> None:
    """Fit on the history before the holdout; print predicted vs. actual purchases in it, in total and by decile."""
    from ravingfans.analytics.holdout import holdout_check, parse_holdout

    length = parse_holdout(holdout)
    end = parse_day(until, "--until")
    if orders_file is not None:
        from ravingfans.services.ledger import FileColumns, read_transactions_file

        zone = time_zone_value(time_zone or "UTC")
        ledger = read_transactions_file(orders_file, FileColumns(customer_id=customer_id_col, timestamp=timestamp_col,
                                                                 amount=amount_col, order_id=order_id_col))
        order_col = "order_id" if order_id_col else None
        source = orders_file.name
    else:
        from ravingfans.cli import context
        from ravingfans.services.ledger import load_transactions

        settings = context.settings()
        zone = time_zone_value(time_zone or settings.time_zone)
        db = context.database()
        try:
            ledger = load_transactions(db.engine)
        finally:
            db.dispose()
        if ledger.height == 0:
            raise ValidationFailed("The database holds no orders of known customers to validate on.",
                                   field="ORDERS_FILE", hint="Import orders first, or give an orders file.")
        order_col = "order_id"
        source = "the database"
    result = holdout_check(ledger, holdout=length, observation_end=end, order_id_col=order_col, timezone_name=zone,
                           model=model.value)
    if as_json:
        stdout.print(json.dumps({"source": source, **result.as_dict()}), markup=False, highlight=False,
                     soft_wrap=True)
        return
    _print(result, source)


def _print(result: HoldoutResult, source: str) -> None:
    """The totals as a sentence and the decile comparison as a table."""
    from rich import box
    from rich.table import Table

    if result.spend_note:
        info(f"Note: {result.spend_note}")
    if result.new_customers:
        info(f"Note: {result.new_customers:,} customer(s) first bought in the holdout; they have no history to "
             "forecast from and are left out.")
    error = result.relative_error
    stdout.print(
        f"Calibrated {result.model} on {source} up to {result.calibration_end.isoformat()}; holdout "
        f"{result.holdout_days} days to {result.observation_end.isoformat()}, {result.customers.height:,} customers.\n"
        f"Purchases in the holdout: predicted {result.predicted_purchases:,.1f}, actual {result.actual_purchases:,}"
        + ("" if error is None else f" ({error:+.1%})") + ".",
        markup=False, highlight=False, soft_wrap=True)
    if result.predicted_spend is not None and result.actual_spend is not None:
        spend_error = result.spend_relative_error
        stdout.print(f"Spend in the holdout: predicted {result.predicted_spend:,.2f}, actual {result.actual_spend:,.2f}"
                     + ("" if spend_error is None else f" ({spend_error:+.1%})") + ".",
                     markup=False, highlight=False, soft_wrap=True)
    table = Table(title="Holdout purchases by decile of the forecast (1 = highest)", box=box.SIMPLE_HEAD)
    for name in ("decile", "customers", "predicted", "actual", "pred. mean", "actual mean", "error"):
        table.add_column(name, justify="left" if name == "decile" else "right", no_wrap=True)
    for row in result.deciles.iter_rows(named=True):
        table.add_row(str(row["decile"]), f"{row['customers']:,}", f"{row['predicted_total']:,.1f}",
                      f"{row['actual_total']:,}", f"{row['predicted_mean']:.2f}", f"{row['actual_mean']:.2f}",
                      _percent(row["predicted_total"], row["actual_total"]))
    n = max(result.customers.height, 1)
    table.add_section()
    table.add_row("all", f"{result.customers.height:,}", f"{result.predicted_purchases:,.1f}",
                  f"{result.actual_purchases:,}", f"{result.predicted_purchases / n:.2f}",
                  f"{result.actual_purchases / n:.2f}", _percent(result.predicted_purchases, result.actual_purchases))
    stdout.print(table, markup=False, highlight=False)


def _percent(predicted: float, actual: float) -> str:
    """(predicted - actual) / actual as a signed percentage ('' when nobody bought)."""
    return f"{(predicted - actual) / actual:+.0%}" if actual else ""
