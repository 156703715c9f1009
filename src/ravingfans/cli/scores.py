"""`ravingfans score`, `fans`, `segments`, `slipping`, `appeal` and `customer`: who the fans are and what each is
worth (`analyze`, which needs no database, lives in :mod:`ravingfans.cli.analyze`).

Heavy modules (the analytics core, SQLAlchemy) are imported inside the commands, when one runs.
"""

from __future__ import annotations

import json
from datetime import date
from enum import StrEnum

import typer

from ravingfans.cli import context
from ravingfans.cli.output import info, stdout
from ravingfans.cli.values import parse_day
from ravingfans.errors import ValidationFailed
from ravingfans.wording import counted


class Sort(StrEnum):
    """How `fans` orders its list."""

    clv = "clv"
    spend = "spend"
    frequency = "frequency"
    recency = "recency"
    p_alive = "p_alive"


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("score")(score)
    app.command("fans")(fans)
    app.command("segments")(segments)
    app.command("slipping")(slipping)
    app.command("appeal")(appeal)
    app.command("customer")(customer)


_MONEY_FIELDS = ("total_spend", "clv", "value_at_risk")


def _cents(row: dict[str, object]) -> dict[str, object]:
    """Money fields rounded to the cent for JSON output (the model's floats carry no more meaning)."""
    return {k: round(v, 2) if k in _MONEY_FIELDS and isinstance(v, float) else v for k, v in row.items()}


def _money(value: float | None, currency: str) -> str:
    """An amount for a table cell ('' when unknown)."""
    return "" if value is None else f"{value:,.2f}"


def _share(value: float | None) -> str:
    """A probability as a percentage ('' when unknown)."""
    return "" if value is None else f"{value:.0%}"


def score(
    until: str | None = typer.Option(None, "--until", help="Score as of this day (YYYY-MM-DD; default today)."),
    list_runs: bool = typer.Option(False, "--list", help="List the stored scoring runs instead of scoring."),
) -> None:
    """Re-score every customer (segments, P(alive), lifetime value) and store the result as a snapshot."""
    from rich.table import Table

    from ravingfans.services import scoring as svc

    settings = context.settings()
    db = context.database()
    try:
        if list_runs:
            with db.session() as session:
                runs = svc.list_runs(session)
            table = Table("run", "as of", "scored at (UTC)", "customers", "model", title="Scoring runs")
            for run in runs:
                table.add_row(f"#{run.id}", run.observation_end.isoformat(), f"{run.created_at:%Y-%m-%d %H:%M}",
                              f"{run.customers:,}", run.model)
            stdout.print(table, markup=False, highlight=False)
            return
        result = svc.score_database(db.engine, settings, until=parse_day(until, "--until"), progress=info)
        with db.session() as session:
            counts = svc.segment_counts(session, result.run_id)
    finally:
        db.dispose()
    s = result.scoring
    stdout.print(f"Scored {counted(result.customers, 'customer')} as of {result.observation_end.isoformat()} "
                 f"(run #{result.run_id}).", markup=False, highlight=False)
    if s.fallback_reason:
        info(s.fallback_reason)
    for note in s.notes:
        info(f"Note: {note}")
    table = Table("segment", "customers", f"value ({settings.currency})")
    for segment, (n, clv) in sorted(counts.items(), key=lambda kv: -kv[1][0]):
        table.add_row(segment, f"{n:,}", "" if s.bgnbd is None else f"{clv:,.0f}")
    stdout.print(table, markup=False, highlight=False)


def fans(
    segment: list[str] = typer.Option([], "--segment", help="Only this segment (repeatable). Default: Champions and Loyal."),
    all_segments: bool = typer.Option(False, "--all", help="Every customer, whatever their segment."),
    sort: Sort = typer.Option(Sort.clv, "--sort", help="Order by lifetime value, spend, frequency, recency or P(alive)."),
    limit: int = typer.Option(25, "--limit", min=1, help="How many to list."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON lines instead of a table."),
) -> None:
    """List your raving fans from the newest scoring run, best first."""
    from rich.table import Table

    from ravingfans.analytics.rfm import DEFAULT_SEGMENTS
    from ravingfans.analytics.scoring import FAN_SEGMENTS
    from ravingfans.services import scoring as svc

    known = [name for name, _r, _fm in DEFAULT_SEGMENTS]
    for name in segment:
        if name not in known:
            raise ValidationFailed(f"--segment {name!r} is not a segment; choose from: {', '.join(known)}.",
                                   field="segment")
    chosen: list[str] = [] if all_segments else (list(segment) or list(FAN_SEGMENTS))
    settings = context.settings()
    db = context.database()
    try:
        with db.session() as session:
            run = svc.require_run(session)
            rows = svc.fans(session, segments=chosen, sort=sort.value, limit=limit)
    finally:
        db.dispose()
    if as_json:
        for row in rows:
            stdout.print(json.dumps({**_cents(row.__dict__), "last_purchase": row.last_purchase.isoformat()}),
                         markup=False, highlight=False, soft_wrap=True)
        return
    table = Table("id", "name", "segment", "RFM", "visits", f"spent ({settings.currency})", "last visit",
                  "P(alive)", f"value ({settings.currency})",
                  title=f"{', '.join(chosen) or 'All customers'} as of {run.observation_end.isoformat()}")
    for r in rows:
        table.add_row(f"#{r.customer_id}", r.name, r.segment, f"{r.R}{r.F}{r.M}", str(r.purchases),
                      _money(r.total_spend, settings.currency), f"{int(r.days_since_last)} days ago",
                      _share(r.p_alive), _money(r.clv, settings.currency))
    stdout.print(table, markup=False, highlight=False)


def segments(
    since: int | None = typer.Option(None, "--since", help="Compare with the newest run at least this many days older."),
    from_run: int | None = typer.Option(None, "--from", help="Compare from this run id."),
    to_run: int | None = typer.Option(None, "--to", help="Compare to this run id (default: the newest)."),
    moved: str | None = typer.Option(None, "--moved",
                                     help="List who moved between two segments: --moved 'Champions>At Risk'."),
    limit: int = typer.Option(50, "--limit", min=1, help="How many customers --moved lists."),
) -> None:
    """Customers per segment, and who moved between segments since an earlier scoring run."""
    from rich.table import Table

    from ravingfans.services import scoring as svc

    settings = context.settings()
    db = context.database()
    try:
        with db.session() as session:
            if moved is not None:
                before_after = [part.strip() for part in moved.split(">")]
                if len(before_after) != 2 or not all(before_after):
                    raise ValidationFailed(f"--moved {moved!r} needs two segments: --moved 'Champions>At Risk'.",
                                           field="moved")
                old_run, new_run = svc.resolve_runs(session, from_run=from_run, to_run=to_run, since_days=since)
                rows = svc.moved_customers(session, before_after[0], before_after[1], from_run=old_run.id,
                                           to_run=new_run.id, limit=limit)
                title = (f"{before_after[0]} → {before_after[1]} between {old_run.observation_end} (#{old_run.id}) "
                         f"and {new_run.observation_end} (#{new_run.id})")
                table = Table("id", "name", "visits", f"spent ({settings.currency})", "last visit", "P(alive)",
                              title=title)
                for r in rows:
                    table.add_row(f"#{r.customer_id}", r.name, str(r.purchases),
                                  _money(r.total_spend, settings.currency), f"{int(r.days_since_last)} days ago",
                                  _share(r.p_alive))
                stdout.print(table, markup=False, highlight=False)
                info(f"{len(rows)} customer(s).")
                return
            if since is None and from_run is None:
                run = svc.require_run(session, to_run)
                counts = svc.segment_counts(session, run.id)
                table = Table("segment", "customers", f"value ({settings.currency})",
                              title=f"Segments as of {run.observation_end} (run #{run.id})")
                for name, (n, clv) in sorted(counts.items(), key=lambda kv: -kv[1][0]):
                    table.add_row(name, f"{n:,}", f"{clv:,.0f}")
                stdout.print(table, markup=False, highlight=False)
                return
            migration = svc.segment_migration(session, from_run=from_run, to_run=to_run, since_days=since)
    finally:
        db.dispose()
    a, b = migration.from_run, migration.to_run
    table = Table("from", "to", "customers",
                  title=f"Segment moves from {a.observation_end} (#{a.id}) to {b.observation_end} (#{b.id})")
    for before, after, n in migration.moved():
        table.add_row(before, after, f"{n:,}")
    stdout.print(table, markup=False, highlight=False)
    stayed = sum(n for (x, y), n in migration.counts.items() if x == y)
    info(f"{stayed:,} customer(s) stayed in their segment. List movers with --moved 'FROM>TO'.")


def customer(
    customer_id: int = typer.Argument(..., help="The customer's id (see `ravingfans fans`)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """A customer's value, P(alive) and segment, and why, from the newest scoring run."""
    from ravingfans.services import scoring as svc

    settings = context.settings()
    db = context.database()
    try:
        with db.session() as session:
            value = svc.customer_value(session, customer_id, settings)
    finally:
        db.dispose()
    if value is None:
        raise ValidationFailed(f"Customer #{customer_id} has not been scored yet (no purchases, or no run since "
                               "they bought).", field="customer_id", hint="Run: ravingfans score")
    if as_json:
        payload = {"customer_id": value.customer_id, "name": value.name, "run_id": value.run_id,
                   "observation_end": value.observation_end.isoformat(),
                   "scores": {k: (v.isoformat() if isinstance(v, date) else v) for k, v in value.scores.items()},
                   "explanation": value.explanation,
                   "history": [{"run_id": h.run_id, "observation_end": h.observation_end.isoformat(),
                                "segment": h.segment, "clv": h.clv, "p_alive": h.p_alive} for h in value.history]}
        stdout.print(json.dumps(payload), markup=False, highlight=False, soft_wrap=True)
        return
    stdout.print(f"#{value.customer_id} {value.name} — as of {value.observation_end.isoformat()} (run #{value.run_id})",
                 markup=False, highlight=False)
    for line in value.explanation:
        stdout.print(f"- {line}", markup=False, highlight=False, soft_wrap=True)
    if len(value.history) > 1:
        trail = " → ".join(f"{h.segment} ({h.observation_end})" for h in value.history[-6:])
        stdout.print(f"Segment history: {trail}", markup=False, highlight=False, soft_wrap=True)


def slipping(
    limit: int = typer.Option(25, "--limit", min=1, help="How many to list."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON lines instead of a table."),
) -> None:
    """Fans who are slipping away, most value at risk first, each with the reason in words."""
    from ravingfans.services.insights import slipping as find_slipping

    settings = context.settings()
    db = context.database()
    try:
        with db.session() as session:
            run, rows = find_slipping(session, limit=limit)
    finally:
        db.dispose()
    if as_json:
        for row in rows:
            stdout.print(json.dumps(_cents(row.__dict__)), markup=False, highlight=False, soft_wrap=True)
        return
    stdout.print(f"Slipping fans as of {run.observation_end.isoformat()} (run #{run.id}), most value at risk first:",
                 markup=False, highlight=False)
    for r in rows:
        stdout.print(f"{r.rank:>3}. #{r.customer_id} {r.name} ({r.segment or 'no segment'}): "
                     f"{settings.currency} {r.value_at_risk:,.0f} a year at risk; {r.reason}",
                     markup=False, highlight=False, soft_wrap=True)
    if not rows:
        info("No fan is slipping away by these measures.")


def appeal(
    dimension: list[str] = typer.Option([], "--dimension",
                                        help="category, product, channel, location or employee (repeatable; default all)."),
    all_rows: bool = typer.Option(False, "--all", help="Also list what is not significant."),
    limit: int = typer.Option(30, "--limit", min=1, help="How many rows to list."),
) -> None:
    """What appeals to your fans: what they buy, where and from whom, more often than everyone else (per order)."""
    from rich.table import Table

    from ravingfans.services.insights import DIMENSIONS, fan_affinity

    settings = context.settings()
    db = context.database()
    try:
        with db.session() as session:
            run, table_ = fan_affinity(session, db.engine, settings, dimensions=tuple(dimension) or DIMENSIONS)
    finally:
        db.dispose()
    shown = table_ if all_rows else table_.filter(table_["significant"])
    table = Table("what", "value", "fan orders", "all orders", "share of fans' orders", "share of all", "lift", "q",
                  title=f"What appeals to fans (Champions and Loyal) as of {run.observation_end.isoformat()}")
    for r in shown.head(limit).iter_rows(named=True):
        table.add_row(r["dimension"], r["value"], f"{r['fan_customers']:,}", f"{r['customers']:,}",
                      f"{r['fan_share']:.0%}", f"{r['base_share']:.0%}", f"{r['lift']:.2f}", f"{r['q_value']:.2g}")
    stdout.print(table, markup=False, highlight=False)
    if shown.height == 0:
        info("Nothing stands out significantly among fans." + ("" if all_rows else " See all rows with --all."))
