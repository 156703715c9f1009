"""`ravingfans survey results` and `ravingfans survey analyse`: what the answers (and the silences) say.

Both commands join the `survey` group that :mod:`ravingfans.cli.surveys` makes (list, send, remind,
answer); :func:`register` finds that group on the app, or makes it when this module is registered alone.
"""

from __future__ import annotations

import json
from enum import StrEnum

import typer

from ravingfans.cli import context
from ravingfans.cli.output import info, stdout
from ravingfans.cli.values import parse_day


class Format(StrEnum):
    """How results are printed."""

    table = "table"
    json = "json"


class Method(StrEnum):
    """How open answers are read."""

    lexicon = "lexicon"
    embeddings = "embeddings"


def survey_group(app: typer.Typer) -> typer.Typer:
    """The app's `survey` command group (made and added when no module has added it yet)."""
    for group in app.registered_groups:
        if group.name == "survey" and group.typer_instance is not None:
            return group.typer_instance
    group_app = typer.Typer(help="Surveys: ask customers how we are doing, and listen to the answers.",
                            no_args_is_help=True)
    app.add_typer(group_app, name="survey")
    return group_app


def register(app: typer.Typer) -> None:
    """Add `survey results` and `survey analyse` to the app's `survey` group."""
    group = survey_group(app)
    group.command("results")(results)
    group.command("analyse")(analyse)


def analyse(
    method: Method = typer.Option(Method.lexicon, "--method",
                                  help="lexicon (default, offline) or embeddings (needs ravingfans[nlp])."),
) -> None:
    """Read every open answer again: sentiment, themes (ids kept from last time), requests, empty answers."""
    from ravingfans.services.listening import analyse_answers

    settings = context.settings()
    db = context.database()
    try:
        with db.session(write=True) as session:
            report = analyse_answers(session, settings, method=method.value)
    finally:
        db.dispose()
    info(report.summary())


def results(
    survey: int | None = typer.Option(None, "--survey", min=1, help="Only this survey (number from `survey list`)."),
    since: str | None = typer.Option(None, "--since", help="Only answers from this day on (YYYY-MM-DD)."),
    until: str | None = typer.Option(None, "--until", help="Only answers up to this day (YYYY-MM-DD)."),
    output: Format = typer.Option(Format.table, "--format", help="table (for people) or json (for programs)."),
) -> None:
    """NPS with its interval (by segment, employee, month), response rates, themes, requests, silences, gaps."""
    from ravingfans.services.listening import survey_results

    first, last = parse_day(since, "--since"), parse_day(until, "--until")
    settings = context.settings()
    db = context.database()
    try:
        with db.session() as session:
            found = survey_results(session, settings, survey_id=survey, since=first, until=last)
    finally:
        db.dispose()
    if output is Format.json:
        stdout.print_json(json.dumps(found.as_dict(), ensure_ascii=False))
        return
    _print_tables(found)


def _fmt(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _print_tables(found) -> None:  # noqa: ANN001 - a SurveyResults; imported lazily
    """The results as a few readable tables."""
    from rich.table import Table

    def show(table: Table) -> None:
        stdout.print(table, markup=False, highlight=False)

    overall = found.nps
    info(f"{found.responses} answers; NPS {_fmt(overall.nps)} (95% interval {_fmt(overall.low)} to "
         f"{_fmt(overall.high)}); trend {found.trend_direction}. Asked {found.invited}, answered {found.responded}.")
    if found.pending:
        info(f"{found.pending} open answers are not analysed yet; run: ravingfans survey analyse")
    for title, rows, head in (("NPS by month", found.trend, "month"), ("NPS by segment", found.by_segment, "segment"),
                              ("NPS by employee", found.by_employee, "employee")):
        if not rows:
            continue
        table = Table(head, "answers", "NPS", "95% interval", title=title)
        for r in rows:
            label = r.label
            table.add_row(label, str(r.n), _fmt(r.nps), f"{_fmt(r.low)} to {_fmt(r.high)}")
        show(table)
    if found.response_rates:
        table = Table("segment", "asked", "answered", "rate", "95% interval", title="Response rate by segment")
        for r in found.response_rates:
            table.add_row(r.segment, str(r.invited), str(r.responded), f"{r.rate:.0%}", f"{r.low:.0%} to {r.high:.0%}")
        show(table)
    if found.themes:
        table = Table("theme", "label", "answers", "sentiment", "negative", "quote", title="Themes")
        for t in found.themes:
            table.add_row(t.id, t.label, str(t.answers), _fmt(t.mean_sentiment, 2),
                          f"{(t.negative_share or 0):.0%}", t.quotes[0] if t.quotes else "")
        show(table)
    if found.gaps:
        table = Table("theme", "label", "negative answers", f"value at stake ({found.gap_value})", "gap",
                      title="Gaps: where unhappy, valuable customers point")
        for g in found.gaps:
            table.add_row(g.theme_id, g.label, str(g.negative_answers), _fmt(g.value_at_stake, 2), _fmt(g.gap_score, 2))
        show(table)
    if found.requests:
        table = Table("customer", "when", "asked for", title=f"Ways we could have said yes ({found.requests_total})")
        for r in found.requests[:20]:
            table.add_row(f"#{r.customer_id} {r.name}", r.submitted_at.date().isoformat(), r.text)
        show(table)
    if found.silent_fans:
        table = Table("customer", "segment", "asked", "last asked", title=f"Silent fans ({found.silent_fans_total})")
        for f in found.silent_fans[:20]:
            table.add_row(f"#{f.customer_id} {f.name}", f.segment, str(f.asks), f.last_asked.date().isoformat())
        show(table)
