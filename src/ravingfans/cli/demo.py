"""`ravingfans demo`: build the synthetic demo store in its own database, then serve it or report on it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ravingfans.cli.output import info, stdout
from ravingfans.demo.model import (
    BUSINESS_NAME,
    DEFAULT_CUSTOMERS,
    DEFAULT_SEED,
    DEFAULT_YEARS,
    TIME_ZONE,
)
from ravingfans.errors import ConfigError, NotFound
from ravingfans.wording import counted

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from ravingfans.demo.report import DemoReport

DEMO_FILE = "ravingfans-demo.db"
DEMO_OWNER = "owner@demo.example"


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("demo")(demo)


def default_url() -> str:
    """The demo's own SQLite file in the working directory (never the configured database)."""
    return f"sqlite:///{(Path.cwd() / DEMO_FILE).resolve()}"


def demo(
    seed: int = typer.Option(DEFAULT_SEED, "--seed", help="Random seed; the same seed builds the same business."),
    customers: int = typer.Option(DEFAULT_CUSTOMERS, "--customers", min=1, max=1_000_000,
                                  help="How many customers to invent."),
    years: int = typer.Option(DEFAULT_YEARS, "--years", min=1, max=30, help="Years of history."),
    database_url: str | None = typer.Option(
        None, "--database-url",
        help=f"Where to build the demo (default: ./{DEMO_FILE}). Refused if it holds anything but an earlier demo."),
    fresh: bool = typer.Option(False, "--fresh", help="Rebuild an earlier demo database from scratch."),
    serve: bool = typer.Option(True, "--serve/--no-serve",
                               help="Start the web app on the demo (default), or print a short report instead."),
    out_csv: Path | None = typer.Option(None, "--out-csv", metavar="DIR", file_okay=False,
                                        help="Also write the business as CSV files (generic and Shopify layouts)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address the web app listens on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port the web app listens on."),
) -> None:
    """Build a realistic demo shoe and clothing store (customers, orders, staff, ratings) and open it."""
    from ravingfans.db import make_engine
    from ravingfans.demo.generator import generate
    from ravingfans.demo.load import NotADemoDatabase, inspect_target, load
    from ravingfans.demo.report import summarize
    from ravingfans.demo.writer import write_csv

    url = database_url or default_url()
    engine = make_engine(url)
    shown = engine.url.render_as_string(hide_password=True)
    business = None
    try:
        state = inspect_target(engine)
        state.refuse_if_foreign()
        if state.kind == "empty" and _is_configured_database(url):
            raise NotADemoDatabase(
                f"Refusing to build the demo in {shown}: it is the database ravingfans is configured to use "
                "(RAVINGFANS_DATABASE_URL), still empty and waiting for your real data.",
                field="database_url", hint="Leave out --database-url: the demo builds its own ./ravingfans-demo.db.")
        if state.kind == "demo" and not fresh:
            info(f"Using the demo built earlier in {shown} ({state.demo_customers:,} customers). "
                 "Pass --fresh to rebuild it; --seed, --customers and --years apply only to a rebuild.")
        else:
            started = time.perf_counter()
            info(f"Building the demo business: seed {seed}, {customers:,} customers, {years} year(s) ...")
            business = generate(seed=seed, customers=customers, years=years)
            built = time.perf_counter()
            counts = load(business, engine, replace=state.kind == "demo")
            info(f"Loaded {counts['orders']:,} orders, {counts['customers']:,} customers and "
                 f"{counts['interactions']:,} moments of truth into {shown} "
                 f"(generated in {built - started:.1f} s, loaded in {time.perf_counter() - built:.1f} s).")
        _score_if_needed(engine, url)
        _act_if_needed(url)
        if out_csv is not None:
            if business is None:
                business = generate(seed=seed, customers=customers, years=years)
            paths = write_csv(business, out_csv)
            info(f"Wrote {', '.join(paths)} to {out_csv}.")
        if not serve:
            _print_report(summarize(engine, truth=business.truth if business is not None else None))
            return
    finally:
        engine.dispose()
    _serve(url, host, port)


def _score_if_needed(engine: Engine, url: str) -> None:
    """Score the demo as of its last day, once, so its lists and profiles show segments and value."""
    from datetime import datetime
    from datetime import time as clock_time

    from ravingfans.clock import fixed
    from ravingfans.config import Settings
    from ravingfans.services.scoring import has_runs, ledger_last_day, score_database

    if has_runs(engine):
        return
    settings = Settings(database_url=url, time_zone=TIME_ZONE, business_name=BUSINESS_NAME, _env_file=None)
    last = ledger_last_day(engine, settings)
    if last is None:
        return
    end_of_day = datetime.combine(last, clock_time.max, tzinfo=settings.zone)
    result = score_database(engine, settings, until=last, clock=fixed(end_of_day))
    info(f"Scored {counted(result.customers, 'customer')} as of {last.isoformat()} (see `ravingfans fans`).")


DEMO_GIFTS = (
    ("Handwritten thank-you card", "note", None, None, "A card written by the person who served them."),
    ("Come back: 15% off", "discount_code", "COMEBACK15", "15.00", "15% off the next purchase, for lapsed fans."),
    ("Free shoe-care kit", "free_item", None, None, "Brush, cream and protector spray, for kept fans."),
)


def _act_if_needed(url: str) -> None:
    """Switch on the standard follow-up rules, stock the gift catalog and draft two campaigns, then find today's tasks.

    Runs as of the demo's last day, like the scores, so "today's" courtesy calls and thank-yous are there
    when the app opens. Every step is idempotent: a demo built earlier is completed, never doubled.
    """
    from datetime import datetime
    from datetime import time as clock_time

    from sqlalchemy import func, select

    from ravingfans.clock import fixed
    from ravingfans.config import Settings
    from ravingfans.db import open_database
    from ravingfans.db.models import Campaign, Gift
    from ravingfans.services.campaigns import create_campaign
    from ravingfans.services.gifts import add_gift
    from ravingfans.services.rules import ensure_rules, evaluate_rules
    from ravingfans.services.scoring import ledger_last_day

    settings = Settings(database_url=url, time_zone=TIME_ZONE, business_name=BUSINESS_NAME, _env_file=None)
    database = open_database(url)
    try:
        last = ledger_last_day(database.engine, settings)
        if last is None:
            return
        clock = fixed(datetime.combine(last, clock_time(18, 0), tzinfo=settings.zone))
        with database.session(write=True) as session:
            ensure_rules(session, enable_standard=True, clock=clock)
            if not session.scalar(select(func.count()).select_from(Gift)):
                gifts = {name: add_gift(session, name=name, kind=kind, code=code, value=value, description=text,
                                        clock=clock).id for name, kind, code, value, text in DEMO_GIFTS}
                if not session.scalar(select(func.count()).select_from(Campaign)):
                    create_campaign(session, settings, name="Win back slipping fans", kind="win_back",
                                    gift_id=gifts["Come back: 15% off"], slipping=True, seed=7, clock=clock,
                                    message="We miss you - here is 15% off your next visit.")
                    create_campaign(session, settings, name="Thank our champions", kind="appreciation",
                                    gift_id=gifts["Free shoe-care kit"], segments=["Champions"], seed=11,
                                    delivery="task", clock=clock)
            report = evaluate_rules(session, settings, clock=clock)
        info(f"{report.summary()} See them with `ravingfans tasks` or on the Tasks page.")
    finally:
        database.dispose()


def _is_configured_database(url: str) -> bool:
    """Whether ``url`` names the database the settings point at (the real one)."""
    from sqlalchemy.engine import make_url

    from ravingfans.config import get_settings

    try:
        ours, theirs = make_url(url), make_url(get_settings().database_url)
    except Exception:  # noqa: BLE001 - unreadable settings or URL: nothing to compare with
        return False
    if ours.get_backend_name() != theirs.get_backend_name():
        return False
    if ours.get_backend_name() == "sqlite":
        if not ours.database or not theirs.database or ":memory:" in (ours.database, theirs.database):
            return False
        return Path(ours.database).resolve() == Path(theirs.database).resolve()
    return ((ours.host or "localhost", ours.port or 5432, ours.database)
            == (theirs.host or "localhost", theirs.port or 5432, theirs.database))


def _serve(url: str, host: str, port: int) -> None:
    """Start the web app on the demo database (imported late: the web stack is heavy)."""
    try:
        from ravingfans.cli.serve import run_server
    except ImportError:
        raise ConfigError(
            "The web app is not available in this build, so the demo cannot be served.",
            hint=f"The demo database is ready at {url}; run `ravingfans demo --no-serve` for a report.",
        ) from None
    email, password = _demo_owner(url)
    info(f"Sign in as {email} with the password {password} (a new one is made each time the demo starts).")
    link = _demo_survey_link(url, host, port)
    if link:
        info(f"A customer's survey page, as their e-mail would link to it: {link}")
    run_server(url, host, port, business_name=BUSINESS_NAME, time_zone=TIME_ZONE)


def _demo_owner(url: str) -> tuple[str, str]:
    """The demo's owner account with a fresh random password, so the demo can be signed in to at once.

    Real databases never get a default account; this one is only made in a demo database.
    """
    import secrets

    from ravingfans.db import open_database
    from ravingfans.services.accounts import add_user, set_password

    password = "-".join(secrets.token_hex(3) for _ in range(3))
    database = open_database(url)
    try:
        with database.session(write=True) as session:
            try:
                set_password(session, DEMO_OWNER, password)
            except NotFound:
                add_user(session, DEMO_OWNER, "owner", password)
    finally:
        database.dispose()
    return DEMO_OWNER, password


def _demo_survey_link(url: str, host: str, port: int) -> str | None:
    """A fresh personal link to the default survey for one demo customer who has not answered it yet."""
    from sqlalchemy import select

    from ravingfans.config import Settings
    from ravingfans.db import open_database
    from ravingfans.db.models import Customer, SurveyResponse
    from ravingfans.services.survey_audiences import issue_link
    from ravingfans.services.surveys import default_survey

    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    settings = Settings(database_url=url, public_url=f"http://{shown}:{port}", _env_file=None)
    database = open_database(url)
    try:
        with database.session(write=True) as session:
            survey = default_survey(session)
            if survey.status != "open":
                return None
            answered = select(SurveyResponse.customer_id).where(SurveyResponse.survey_id == survey.id)
            customer_id = session.scalar(select(Customer.id).where(
                Customer.erased_at.is_(None), Customer.first_name.is_not(None), Customer.id.not_in(answered))
                .order_by(Customer.id).limit(1))
            if customer_id is None:
                return None
            return issue_link(session, survey.id, customer_id, settings=settings).url
    finally:
        database.dispose()


def _print_report(report: DemoReport) -> None:
    """The short report, as two tables."""
    from zoneinfo import ZoneInfo

    from rich.table import Table

    zone = ZoneInfo(TIME_ZONE)
    span = "-"
    if report.first_order and report.last_order:
        span = f"{report.first_order.astimezone(zone):%Y-%m-%d} to {report.last_order.astimezone(zone):%Y-%m-%d}"
    lapsed = f"{report.lapsed:,} (2+ purchases, silent for 3x their usual gap and 90+ days)"
    if report.true_lapsed is not None:
        lapsed += f"; ground truth: {report.true_lapsed:,} dropped out, {report.true_lapsed_fans:,} of them fans"
    figures = Table(title=f"{BUSINESS_NAME} (demo)", show_header=False, title_justify="left")
    figures.add_column("figure", style="bold")
    figures.add_column("value")
    figures.add_row("Customers", f"{report.customers:,}")
    figures.add_row("Orders", f"{report.orders:,} ({report.purchases:,} purchases, {report.return_receipts:,} "
                              f"return receipts, {report.cancelled:,} cancelled)")
    figures.add_row("Revenue", f"${report.revenue:,.2f} net of returns and refunds")
    figures.add_row("Date range", span)
    figures.add_row("Employees", f"{report.employees:,}")
    magic = "" if report.magic_share is None else f", {report.magic_share:.0%} of rated ones magic"
    figures.add_row("Moments of truth", f"{report.interactions:,}{magic}")
    figures.add_row("Lapsed", lapsed)
    if report.surveyed or report.answers:
        nps = "" if report.nps is None else f"; NPS {report.nps:+.0f} (see `ravingfans survey results`)"
        figures.add_row("Survey", f"{report.surveyed:,} asked \"How are we doing?\", {report.answers:,} answered{nps}")
    stdout.print(figures)
    top = Table(title="Top customers by spend", title_justify="left")
    top.add_column("#", justify="right")
    top.add_column("Customer")
    top.add_column("Purchases", justify="right")
    top.add_column("Spend", justify="right")
    for rank, c in enumerate(report.top_customers, start=1):
        top.add_row(str(rank), f"{c.name} ({c.key})", f"{c.purchases:,}", f"${c.spend:,.2f}")
    stdout.print(top)
