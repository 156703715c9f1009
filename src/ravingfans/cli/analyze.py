"""`ravingfans analyze`: score an orders file with no database, its options parsed by the standard library.

Why not Typer here, as everywhere else: Typer (0.29) checks every non-flag option's value with a pydantic
``TypeAdapter``, so the first option parsed imports pydantic and builds adapters, 0.08-0.1 s of a run that
takes about 0.9 s on a million orders, where issue #3 sets goals on the whole process's time (against a bare
DuckDB GROUP BY and against lifetimes, imports included; bench/RESULTS.md). Typer still lists the command and
its summary in ``ravingfans --help``; `ravingfans analyze ...` itself goes straight from :func:`ravingfans.cli.main`
to :func:`run` without loading Typer at all, and :mod:`argparse` parses the words, answers ``--help`` and, like
click, exits with status 2 on a usage error. One difference: a value that starts
with ``-`` is written ``--out=-x.parquet`` (argparse reads ``--out -x.parquet`` as two options); docs/cli.md says so.
"""

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, get_args

from ravingfans.cli.output import info, say
from ravingfans.cli.values import parse_day
from ravingfans.cli.values import time_zone as time_zone_value
from ravingfans.wording import counted

if TYPE_CHECKING:
    import typer


def register(app: "typer.Typer") -> None:
    """Add `analyze` to the app, for its listing in ``ravingfans --help``: it passes every word on to :func:`run`."""
    import typer

    def analyze(ctx: typer.Context) -> None:
        run(ctx.args)

    analyze.__doc__ = run.__doc__
    app.command("analyze", add_help_option=False,
                context_settings={"ignore_unknown_options": True, "allow_extra_args": True})(analyze)


def parser() -> argparse.ArgumentParser:
    """The options of `ravingfans analyze` (docs/cli.md lists each; tests/test_docs.py checks)."""
    from ravingfans.services.analysis import TimeUnitName  # the units the service takes (it runs next anyway)

    p = argparse.ArgumentParser(prog="ravingfans analyze", allow_abbrev=False, description=run.__doc__)
    p.add_argument("orders_file", type=Path, metavar="ORDERS_FILE",
                   help="Orders as CSV or Parquet: customer_id, timestamp (or date), amount.")
    p.add_argument("--out", type=Path, required=True, metavar="PATH", help="Where to write the scores (.parquet).")
    p.add_argument("--until", metavar="YYYY-MM-DD",
                   help="End of the calibration period (default: the last day in the file).")
    p.add_argument("--time-unit", choices=get_args(TimeUnitName), default="day",
                   help="Unit of recency and T in the output (default: %(default)s).")
    p.add_argument("--params", type=Path, metavar="PATH", help="Also write the fitted parameters as JSON here.")
    p.add_argument("--customer-id-col", default="customer_id", metavar="NAME",
                   help="Column holding the customer (default: %(default)s).")
    p.add_argument("--timestamp-col", default="timestamp", metavar="NAME",
                   help="Column holding the time or date (default: %(default)s).")
    p.add_argument("--amount-col", default="amount", metavar="NAME",
                   help="Column holding the net amount (default: %(default)s).")
    p.add_argument("--order-id-col", metavar="NAME",
                   help="Column holding the order: refunds count on the order's first day.")
    p.add_argument("--time-zone", default="UTC", metavar="ZONE",
                   help="The shop's time zone: calendar days are counted in it (default: %(default)s).")
    p.add_argument("--horizon-days", type=float, default=365.0, metavar="DAYS",
                   help="How far ahead value and purchases look (default: %(default)s).")
    p.add_argument("--margin", type=float, default=1.0, metavar="SHARE",
                   help="Share of spend kept as margin, 0-1 (default: %(default)s).")
    p.add_argument("--discount-rate", type=float, default=0.01, metavar="RATE",
                   help="Monthly discount rate for lifetime value (default: %(default)s).")
    return p


def run(words: list[str]) -> None:
    """Score every customer in an orders file, with no database: Parquet out, parameters as JSON."""
    from ravingfans.analytics.scoring import ScoringOptions
    from ravingfans.services.analysis import analyze_file
    from ravingfans.services.ledger import FileColumns

    args = parser().parse_args(words)
    time_zone_value(args.time_zone)
    report = analyze_file(
        args.orders_file, args.out,
        columns=FileColumns(customer_id=args.customer_id_col, timestamp=args.timestamp_col, amount=args.amount_col,
                            order_id=args.order_id_col),
        until=parse_day(args.until, "--until"), time_unit=args.time_unit, params_path=args.params,
        timezone_name=args.time_zone,
        options=ScoringOptions(horizon_days=args.horizon_days, margin=args.margin,
                               monthly_discount_rate=args.discount_rate),
    )
    s = report.scoring
    if s.fallback_reason:
        info(s.fallback_reason)
    for note in s.notes:
        info(f"Note: {note}")
    say(f"Scored {counted(report.customers, 'customer')} up to {report.until.isoformat()}; "
        f"wrote {report.out}" + (f" and {report.params_path}" if report.params_path else "") + ".")
