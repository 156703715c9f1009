"""Listening: read the open answers once (a write), then show what they and the silences say (reads only).

:func:`analyse_answers` runs the pure text analytics (:mod:`ravingfans.analytics.text`) over every open
answer of every survey with an open-text question: sentiment, theme, request, "said nothing". Themes are
found afresh each time but matched to the stored ones (their :class:`~ravingfans.analytics.text.themes.ThemeRef`
is kept in ``feedback_themes``), so a theme keeps its id ("T3") across re-runs and its trend means something;
a theme not found again is retired, never deleted. Each response's reading is stored in ``answer_insights``.

:func:`survey_results` only reads: NPS with its 95% interval overall, by segment (the customer's segment in
the latest scoring run), by employee (who served them last before they answered) and by month with its
trend; response rates by segment with Wilson intervals; the themes with quotes, sentiment and trend; the
requests ("ways we could have said yes"); the silent fans; and the gaps (themes ranked by negative
sentiment weighted by the CLV of the customers who raised them). Answers changed or given after the last
analysis are counted as ``pending``; they join the themes at the next analysis.

:func:`silence_flags` says in words what a customer's silences say, for their profile and the slipping list.

Every read runs a fixed number of queries, whatever the number of answers, themes or customers.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol

import polars as pl
from sqlalchemy import and_, bindparam, delete, insert, select, union_all
from sqlalchemy.orm import Session

from ravingfans.clock import Clock, utcnow
from ravingfans.config import Settings
from ravingfans.db.models import Customer, CustomerScore, Employee, Interaction, Order
from ravingfans.db.models.listening import AnswerInsight, FeedbackTheme
from ravingfans.db.models.surveys import Survey, SurveyInvitation, SurveyQuestion, SurveyResponse
from ravingfans.db.reads import read_rows
from ravingfans.errors import ValidationFailed
from ravingfans.services.inputs import MAX_ID
from ravingfans.services.runs import latest_run

NOT_SCORED = "Not scored"
NOBODY = "Nobody named"
MAX_REQUESTS = 100
MAX_SILENT = 50
MAX_QUOTES = 3
SILENT_AFTER = 2  # asks (invitations and reminders) with no answer before a customer counts as silent
CHUNK = 500
CONTACT_KINDS = ("purchase", "question", "complaint", "return", "gift")  # moments the customer started
STOPPED_FACTOR = 3.0
STOPPED_MIN_CONTACTS = 3
STOPPED_MIN_DAYS = 30.0


# --- shapes ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AnalysisReport:
    """What an analysis read and found."""

    method: str
    answers: int  # responses to surveys with an open question (blank ones included)
    themes: int
    new_themes: int
    kept_themes: int
    retired_themes: int
    requests: int
    empty: int
    negative: int

    def summary(self) -> str:
        """The report in one line, for the CLI and the flash message."""
        return (f"Analysed {self.answers} answers ({self.method}): {self.themes} themes ({self.kept_themes} kept, "
                f"{self.new_themes} new, {self.retired_themes} retired), {self.requests} requests, "
                f"{self.negative} negative, {self.empty} said nothing.")


@dataclass(frozen=True, slots=True)
class NpsRow:
    """NPS of one group (a segment, an employee) with its 95% interval."""

    key: str
    label: str
    n: int
    promoters: int
    passives: int
    detractors: int
    nps: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """NPS in one month."""

    period: date
    n: int
    nps: float | None
    low: float | None
    high: float | None

    @property
    def label(self) -> str:
        """The month as YYYY-MM."""
        return self.period.strftime("%Y-%m")


@dataclass(frozen=True, slots=True)
class RateRow:
    """How many of a segment were asked and answered, with the Wilson 95% interval of the rate."""

    segment: str
    invited: int
    responded: int
    rate: float
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class ThemeSummary:
    """A theme in the answers shown: size, sentiment, quotes, requests and its share by month."""

    id: str
    label: str
    keywords: tuple[str, ...]
    quotes: tuple[str, ...]
    answers: int
    share: float
    mean_sentiment: float | None
    negative_share: float | None
    requests: int
    trend: tuple[tuple[str, int, float], ...]  # (YYYY-MM, answers, share of that month's themed answers)
    change: float | None  # share in the last month minus the month before, in points


@dataclass(frozen=True, slots=True)
class RequestItem:
    """An answer that asked for something: a way we could have said yes."""

    response_id: int
    customer_id: int
    name: str
    submitted_at: datetime
    text: str
    theme: str | None


@dataclass(frozen=True, slots=True)
class SilentFan:
    """A current fan asked at least twice (invitations and reminders) who never answered."""

    customer_id: int
    name: str
    segment: str
    asks: int
    last_asked: datetime
    clv: float | None


@dataclass(frozen=True, slots=True)
class Gap:
    """A theme ranked by the negative sentiment of its answers weighted by the value of who gave them."""

    theme_id: str
    label: str
    answers: int
    negative_answers: int
    customers: int
    mean_sentiment: float | None
    value_at_stake: float
    gap_score: float


@dataclass(frozen=True, slots=True)
class SurveyResults:
    """Everything the results page and `ravingfans survey results` show."""

    survey_id: int | None
    since: date | None
    until: date | None
    run_id: int | None
    responses: int
    nps: NpsRow
    trend: tuple[TrendPoint, ...]
    trend_direction: str  # up, down, flat, unknown
    trend_slope: float | None
    trend_slope_low: float | None
    trend_slope_high: float | None
    by_segment: tuple[NpsRow, ...]
    by_employee: tuple[NpsRow, ...]
    invited: int
    responded: int
    response_rates: tuple[RateRow, ...]
    sentiment: Mapping[str, int]  # positive / neutral / negative counts among analysed answers that said something
    analysed: int
    pending: int  # open answers given or changed since the last analysis
    empty: int  # analysed answers that said nothing
    last_analysed_at: datetime | None
    themes: tuple[ThemeSummary, ...]
    requests: tuple[RequestItem, ...]
    requests_total: int
    silent_fans: tuple[SilentFan, ...]
    silent_fans_total: int
    gaps: tuple[Gap, ...]
    gap_value: str  # what weights the gaps: "CLV" or "answers" before anyone is scored

    def as_dict(self) -> dict[str, Any]:
        """Plain data (dates as ISO text) for `--format json`."""
        def plain(value: Any) -> Any:
            if isinstance(value, (datetime, date)):
                return value.isoformat()
            if isinstance(value, float) and not math.isfinite(value):
                return None
            if isinstance(value, Mapping):
                return {str(k): plain(v) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return [plain(v) for v in value]
            if hasattr(value, "__slots__") and hasattr(value, "__dataclass_fields__"):
                return {name: plain(getattr(value, name)) for name in value.__dataclass_fields__}
            return value

        return {name: plain(getattr(self, name)) for name in self.__dataclass_fields__}


# --- helpers --------------------------------------------------------------------------------------------------


def _name(first: str | None, last: str | None, email: str | None, phone: str | None, customer_id: int) -> str:
    """A customer's name as staff say it (Customer.display_name, from selected columns)."""
    name = " ".join(p for p in (first, last) if p)
    return name or email or phone or f"Customer #{customer_id}"


def _open_text(answers: Mapping[str, Any], text_ids: set[int]) -> str | None:
    """The open answers of a response joined by blank lines, or None when none was given."""
    texts = [str(v).strip() for k, v in (answers or {}).items()
             if str(k).isdigit() and int(k) in text_ids and isinstance(v, str) and v.strip()]
    return "\n\n".join(texts) if texts else None


_TEXT_QUESTIONS = select(SurveyQuestion.id, SurveyQuestion.survey_id).where(SurveyQuestion.kind == "text")  # built once


def _text_questions(session: Session) -> tuple[set[int], set[int]]:
    """Ids of the open-text questions, and of the surveys that have one."""
    rows = session.execute(_TEXT_QUESTIONS).all()
    return {q for q, _s in rows}, {s for _q, s in rows}


def _ref_to_json(ref: Any) -> dict[str, Any]:
    return {"label": ref.label, "keywords": dict(ref.keywords), "centroid": ref.centroid}


def _ref_from_row(theme: FeedbackTheme) -> Any:
    from ravingfans.analytics.text.themes import ThemeRef

    ref = theme.ref or {}
    centroid = ref.get("centroid")
    return ThemeRef(id=theme.id, label=str(ref.get("label") or theme.label),
                    keywords={str(k): float(v) for k, v in dict(ref.get("keywords") or {}).items()},
                    centroid=[float(x) for x in centroid] if centroid else None)


def _month(when: datetime, settings: Settings) -> date:
    return when.astimezone(settings.zone).date().replace(day=1)


# --- the write: analyse -----------------------------------------------------------------------------------------


def analyse_answers(session: Session, settings: Settings, *, method: str = "lexicon",
                    clock: Clock = utcnow) -> AnalysisReport:
    """Read every open answer (sentiment, theme, request, said nothing) and store the themes and readings.

    Stored themes are passed as ``previous`` so a theme found again keeps its id; erased customers' answers
    are left out. Replaces every stored reading (one transaction: a failed run leaves the last one intact).
    """
    from ravingfans.analytics.text.feedback import analyze_texts
    from ravingfans.analytics.text.sentiment import check_method

    check_method(method)
    now = clock()
    text_ids, text_surveys = _text_questions(session)
    rows = session.execute(
        select(SurveyResponse.id, SurveyResponse.answers)
        .join(Customer, Customer.id == SurveyResponse.customer_id)
        .where(Customer.erased_at.is_(None), SurveyResponse.survey_id.in_(text_surveys or {-1}))
        .order_by(SurveyResponse.id)).all()
    response_ids = [r for r, _a in rows]
    texts = [_open_text(a, text_ids) for _r, a in rows]
    stored = {t.id: t for t in session.scalars(select(FeedbackTheme))}
    previous = [_ref_from_row(t) for t in stored.values()]
    analysis = analyze_texts(texts, method=method, previous=previous or None)
    found = analysis.themes.themes
    kept = sum(1 for t in found if t.id in stored)
    for theme in found:
        row = stored.get(theme.id)
        if row is None:
            row = FeedbackTheme(id=theme.id, first_seen_at=now)
            session.add(row)
        row.label, row.keywords, row.quotes = theme.label[:200], list(theme.keywords), list(theme.quotes)
        row.ref = _ref_to_json(theme.ref) if theme.ref is not None else {}
        row.size, row.mean_sentiment, row.method = theme.size, theme.mean_sentiment, method
        row.last_seen_at, row.retired = now, False
    found_ids = {t.id for t in found}
    retired = 0
    for theme_id, row in stored.items():
        if theme_id not in found_ids:
            retired += 0 if row.retired else 1
            row.retired, row.size = True, 0
    session.flush()
    session.execute(delete(AnswerInsight))
    table = analysis.rows
    records = [
        {"response_id": response_id, "sentiment": float(score), "sentiment_label": str(label),
         "theme_id": theme_id, "is_request": bool(is_request), "request_text": request,
         "is_empty": bool(is_empty), "analysed_at": now}
        for response_id, score, label, theme_id, is_request, request, is_empty in zip(
            response_ids, table["sentiment"], table["sentiment_label"], table["theme_id"], table["is_request"],
            table["request"], table["is_empty"], strict=True)
    ]
    for start in range(0, len(records), 1000):
        session.execute(insert(AnswerInsight), records[start:start + 1000])
    session.flush()
    return AnalysisReport(method=method, answers=len(records), themes=len(found), new_themes=len(found) - kept,
                          kept_themes=kept, retired_themes=retired, requests=int(table["is_request"].sum()),
                          empty=int(table["is_empty"].sum()),
                          negative=int((table["sentiment_label"] == "negative").sum()))


# --- the read: results ------------------------------------------------------------------------------------------


def _bounds(since: date | None, until: date | None, settings: Settings) -> tuple[datetime | None, datetime | None]:
    if since is not None and until is not None and until < since:
        raise ValidationFailed(f"Until ({until.isoformat()}) is before since ({since.isoformat()}); swap them.",
                               field="until")
    zone = settings.zone
    start = datetime.combine(since, time.min, tzinfo=zone) if since is not None else None
    end = datetime.combine(until + timedelta(days=1), time.min, tzinfo=zone) if until is not None else None
    return start, end


def _nps_rows(frame: pl.DataFrame, column: str, labels: Mapping[str, str] | None = None) -> tuple[NpsRow, ...]:
    from ravingfans.analytics.nps import nps_by

    if frame.height == 0:
        return ()
    table = nps_by(frame, column, "score")
    rows = [NpsRow(key=str(r[column]), label=(labels or {}).get(str(r[column]), str(r[column])), n=r["n"],
                   promoters=r["promoters"], passives=r["passives"], detractors=r["detractors"], nps=r["nps"],
                   low=r["low"], high=r["high"]) for r in table.iter_rows(named=True) if r["n"]]
    return tuple(sorted(rows, key=lambda r: (-r.n, r.label)))


def _overall(scores: Sequence[int]) -> NpsRow:
    from ravingfans.analytics.nps import nps

    r = nps(list(scores))
    return NpsRow("all", "All answers", r.n, r.promoters, r.passives, r.detractors, r.nps, r.low, r.high)


def survey_results(session: Session, settings: Settings, *, survey_id: int | None = None, since: date | None = None,
                   until: date | None = None) -> SurveyResults:
    """The listening results over the answers chosen (one survey or all, submitted since/until, business days)."""
    from ravingfans.analytics.nps import nps_trend, response_rate_by

    if survey_id is not None and not 1 <= survey_id <= MAX_ID:
        raise ValidationFailed(f"Survey: {survey_id} is not a survey number.", field="survey")
    start, end = _bounds(since, until, settings)
    run = latest_run(session)
    run_id = run.id if run is not None else -1
    text_ids, text_surveys = _text_questions(session)
    stmt = (select(SurveyResponse.id, SurveyResponse.customer_id, SurveyResponse.survey_id,
                   SurveyResponse.submitted_at, SurveyResponse.nps, SurveyResponse.employee_id, SurveyResponse.answers,
                   Customer.first_name, Customer.last_name, Customer.email, Customer.phone,
                   CustomerScore.segment, CustomerScore.clv, Employee.name,
                   AnswerInsight.sentiment, AnswerInsight.sentiment_label, AnswerInsight.theme_id,
                   AnswerInsight.is_request, AnswerInsight.request_text, AnswerInsight.is_empty,
                   AnswerInsight.analysed_at)
            .join(Customer, Customer.id == SurveyResponse.customer_id)
            .outerjoin(CustomerScore, and_(CustomerScore.customer_id == SurveyResponse.customer_id,
                                           CustomerScore.run_id == run_id))
            .outerjoin(Employee, Employee.id == SurveyResponse.employee_id)
            .outerjoin(AnswerInsight, AnswerInsight.response_id == SurveyResponse.id)
            .where(Customer.erased_at.is_(None))
            .order_by(SurveyResponse.submitted_at, SurveyResponse.id))
    inv = (select(SurveyInvitation.customer_id, SurveyInvitation.answered_at, CustomerScore.segment)
           .join(Customer, Customer.id == SurveyInvitation.customer_id)
           .outerjoin(CustomerScore, and_(CustomerScore.customer_id == SurveyInvitation.customer_id,
                                          CustomerScore.run_id == run_id))
           .where(Customer.erased_at.is_(None)))
    if survey_id is not None:
        stmt = stmt.where(SurveyResponse.survey_id == survey_id)
        inv = inv.where(SurveyInvitation.survey_id == survey_id)
    if start is not None:
        stmt = stmt.where(SurveyResponse.submitted_at >= start)
        inv = inv.where(SurveyInvitation.sent_at >= start)
    if end is not None:
        stmt = stmt.where(SurveyResponse.submitted_at < end)
        inv = inv.where(SurveyInvitation.sent_at < end)
    rows = session.execute(stmt).all()
    invitations = session.execute(inv).all()
    themes = {t.id: t for t in session.scalars(select(FeedbackTheme))}

    scored = [r for r in rows if r.nps is not None]
    frame = pl.DataFrame({
        "score": pl.Series([r.nps for r in scored], dtype=pl.Int64),
        "segment": pl.Series([r.segment or NOT_SCORED for r in scored], dtype=pl.String),
        "employee": pl.Series([str(r.employee_id) if r.employee_id is not None else "-" for r in scored],
                              dtype=pl.String),
        "month": pl.Series([_month(r.submitted_at, settings) for r in scored], dtype=pl.Date),
    })
    employees = {str(r.employee_id): r.name or f"Employee #{r.employee_id}" for r in scored if r.employee_id}
    employees["-"] = NOBODY
    trend_points: tuple[TrendPoint, ...] = ()
    direction, slope, slope_low, slope_high = "unknown", None, None, None
    if frame.height:
        trend = nps_trend(frame, "month", "month")
        trend_points = tuple(TrendPoint(p["period"], p["n"], p["nps"], p["low"], p["high"])
                             for p in trend.periods.iter_rows(named=True))
        direction, slope, slope_low, slope_high = trend.direction, trend.slope, trend.slope_low, trend.slope_high

    invited_frame = pl.DataFrame({
        "segment": pl.Series([i.segment or NOT_SCORED for i in invitations], dtype=pl.String),
        "responded": pl.Series([i.answered_at is not None for i in invitations], dtype=pl.Boolean)})
    rates = tuple(RateRow(r["segment"], r["invited"], r["responded"], r["rate"], r["low"], r["high"])
                  for r in response_rate_by(invited_frame, "segment").iter_rows(named=True)) if invitations else ()

    analysable = [r for r in rows if r.survey_id in text_surveys]
    fresh = [r for r in analysable if r.analysed_at is not None and r.analysed_at >= r.submitted_at]
    pending = len(analysable) - len(fresh)
    said = [r for r in fresh if not r.is_empty]
    sentiment = Counter(r.sentiment_label for r in said)
    theme_list = _theme_summaries(fresh, themes, text_ids, settings)
    requests = [r for r in fresh if r.is_request and r.request_text]
    request_items = tuple(
        RequestItem(r.id, r.customer_id, _name(r.first_name, r.last_name, r.email, r.phone, r.customer_id),
                    r.submitted_at, r.request_text, themes[r.theme_id].label if r.theme_id in themes else None)
        for r in reversed(requests[-MAX_REQUESTS:]))
    silent, silent_total = _silent_fans(session, run_id)
    gaps, gap_value = _gaps(fresh, themes)
    return SurveyResults(
        survey_id=survey_id, since=since, until=until, run_id=run.id if run is not None else None,
        responses=len(rows), nps=_overall([r.nps for r in scored]), trend=trend_points, trend_direction=direction,
        trend_slope=slope, trend_slope_low=slope_low, trend_slope_high=slope_high,
        by_segment=_nps_rows(frame, "segment"), by_employee=_nps_rows(frame, "employee", employees),
        invited=len(invitations), responded=sum(1 for i in invitations if i.answered_at is not None),
        response_rates=rates,
        sentiment={k: sentiment.get(k, 0) for k in ("positive", "neutral", "negative")},
        analysed=len(fresh), pending=pending, empty=sum(1 for r in fresh if r.is_empty),
        last_analysed_at=max((r.analysed_at for r in fresh), default=None),
        themes=theme_list, requests=request_items, requests_total=len(requests),
        silent_fans=silent, silent_fans_total=silent_total, gaps=gaps, gap_value=gap_value)


def _theme_summaries(fresh: Sequence[Any], themes: Mapping[str, FeedbackTheme], text_ids: set[int],
                     settings: Settings) -> tuple[ThemeSummary, ...]:
    """Per theme among the answers shown: size, sentiment, requests, quotes (stored first) and share by month."""
    themed = [r for r in fresh if r.theme_id is not None and r.theme_id in themes]
    if not themed:
        return ()
    by_theme: dict[str, list[Any]] = defaultdict(list)
    month_total: Counter[str] = Counter()
    for r in themed:
        by_theme[r.theme_id].append(r)
        month_total[_month(r.submitted_at, settings).strftime("%Y-%m")] += 1
    months = sorted(month_total)
    out = []
    for theme_id, members in by_theme.items():
        stored = themes[theme_id]
        texts = [t for t in (_open_text(r.answers, text_ids) for r in reversed(members)) if t]
        present = set(texts)
        quotes = [q for q in (stored.quotes or []) if q in present][:MAX_QUOTES]
        for text in texts:
            if len(quotes) >= MAX_QUOTES:
                break
            if text not in quotes:
                quotes.append(text)
        scores = [float(r.sentiment) for r in members]
        per_month = Counter(_month(r.submitted_at, settings).strftime("%Y-%m") for r in members)
        trend = tuple((m, per_month.get(m, 0), per_month.get(m, 0) / month_total[m]) for m in months)
        change = (trend[-1][2] - trend[-2][2]) * 100 if len(trend) >= 2 else None
        out.append(ThemeSummary(
            id=theme_id, label=stored.label, keywords=tuple(stored.keywords or ())[:8], quotes=tuple(quotes),
            answers=len(members), share=len(members) / len(themed), mean_sentiment=sum(scores) / len(scores),
            negative_share=sum(1 for s in scores if s <= -0.05) / len(scores),
            requests=sum(1 for r in members if r.is_request), trend=trend, change=change))
    return tuple(sorted(out, key=lambda t: (-t.answers, t.id)))


def _gaps(fresh: Sequence[Any], themes: Mapping[str, FeedbackTheme]) -> tuple[tuple[Gap, ...], str]:
    """Themes by value-weighted negativity (CLV of the latest run; one per answer before anyone is scored)."""
    from ravingfans.analytics.text.themes import theme_gaps

    themed = [r for r in fresh if r.theme_id is not None and r.theme_id in themes]
    if not themed:
        return (), "CLV"
    any_value = any(r.clv is not None for r in themed)
    answers = pl.DataFrame({
        "theme_id": pl.Series([r.theme_id for r in themed], dtype=pl.String),
        "sentiment": pl.Series([float(r.sentiment) for r in themed], dtype=pl.Float64),
        "value": pl.Series([(r.clv if any_value else 1.0) for r in themed], dtype=pl.Float64),
        "customer_id": pl.Series([r.customer_id for r in themed], dtype=pl.Int64)})
    listed = [_StoredTheme(t.id, t.label) for t in themes.values()]
    table = theme_gaps(listed, answers)  # type: ignore[arg-type]
    gaps = tuple(Gap(r["theme_id"], r["label"] or r["theme_id"], r["answers"], r["negative_answers"],
                     r["customers"], r["mean_sentiment"], float(r["value_at_stake"] or 0.0), float(r["gap_score"] or 0))
                 for r in table.iter_rows(named=True) if r["negative_answers"])
    return gaps, "CLV" if any_value else "answers"


@dataclass(frozen=True, slots=True)
class _StoredTheme:
    """The two fields of a theme that :func:`theme_gaps` reads (id and label)."""

    id: str
    label: str


def _silent_fans(session: Session, run_id: int) -> tuple[tuple[SilentFan, ...], int]:
    """Current fans asked at least twice (invitations and reminders) who never answered any survey, most asked first."""
    from ravingfans.analytics.scoring import FAN_SEGMENTS
    from ravingfans.analytics.text.silence import silent_fans

    answered = select(SurveyResponse.customer_id)
    rows = session.execute(
        select(SurveyInvitation.customer_id, SurveyInvitation.sent_at, SurveyInvitation.reminded_at,
               Customer.first_name, Customer.last_name, Customer.email, Customer.phone,
               CustomerScore.segment, CustomerScore.clv)
        .join(Customer, Customer.id == SurveyInvitation.customer_id)
        .join(CustomerScore, and_(CustomerScore.customer_id == SurveyInvitation.customer_id,
                                  CustomerScore.run_id == run_id))
        .where(Customer.erased_at.is_(None), CustomerScore.segment.in_(FAN_SEGMENTS),
               SurveyInvitation.customer_id.not_in(answered))).all()
    if not rows:
        return (), 0
    asks = [(r.customer_id, r.sent_at) for r in rows] + [(r.customer_id, r.reminded_at) for r in rows
                                                         if r.reminded_at is not None]
    frame = pl.DataFrame({"customer_id": [a[0] for a in asks], "invited_at": [a[1] for a in asks]},
                         schema={"customer_id": pl.Int64, "invited_at": pl.Datetime("us", "UTC")})
    table = silent_fans(frame, pl.DataFrame({"customer_id": []}, schema={"customer_id": pl.Int64}),
                        min_invitations=SILENT_AFTER)
    about = {r.customer_id: r for r in rows}
    fans = [SilentFan(c, _name(about[c].first_name, about[c].last_name, about[c].email, about[c].phone, c),
                      about[c].segment, n, last, about[c].clv)
            for c, n, last in zip(table["customer_id"], table["invitations"], table["last_invited"], strict=True)]
    fans.sort(key=lambda f: (-(f.clv or 0.0), -f.asks, f.customer_id))
    return tuple(fans[:MAX_SILENT]), len(fans)


# --- silence flags on profiles and the slipping list ------------------------------------------------------------


def _chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def silence_flags(session: Session, customer_ids: Iterable[int], *, clock: Clock = utcnow) -> dict[int, list[str]]:
    """What each customer's silences say, in words (customers with none are left out).

    "invited 3 times, never answered" (invitations and reminders, at least two), "last answer said nothing:
    'fine'", "used to contact us every ~40 days; silent for 160" (orders and the moments they started, at
    least three, silent for three times their usual gap and a month or more). Four or five queries per 500
    customers.
    """
    ids = sorted({int(i) for i in customer_ids if 1 <= int(i) <= MAX_ID})
    if not ids:
        return {}
    asks: Counter[int] = Counter()
    last_answer: dict[int, tuple[datetime, int, Mapping[str, Any]]] = {}
    contacts: list[tuple[int, date]] = []
    for part in _chunks(ids):
        for customer_id, _sent, reminded in session.execute(
                select(SurveyInvitation.customer_id, SurveyInvitation.sent_at, SurveyInvitation.reminded_at)
                .where(SurveyInvitation.customer_id.in_(part))):
            asks[customer_id] += 2 if reminded is not None else 1
        for customer_id, submitted, survey_id, answers in session.execute(
                select(SurveyResponse.customer_id, SurveyResponse.submitted_at, SurveyResponse.survey_id,
                       SurveyResponse.answers).where(SurveyResponse.customer_id.in_(part))):
            if customer_id not in last_answer or submitted > last_answer[customer_id][0]:
                last_answer[customer_id] = (submitted, survey_id, answers)
        contacts += _contacts(session, part)
    return _flags(session, ids, asks, last_answer, contacts, clock())


class AskedSurvey(Protocol):
    """What :func:`customer_silence` reads of a survey the customer was asked or answered."""

    @property
    def survey_id(self) -> int: ...
    @property
    def sent_at(self) -> datetime | None: ...
    @property
    def reminded_at(self) -> datetime | None: ...
    @property
    def answered_at(self) -> datetime | None: ...
    @property
    def answers(self) -> Mapping[str, Any]: ...


def customer_silence(session: Session, customer_id: int, asked: Iterable[AskedSurvey], *,
                     clock: Clock = utcnow) -> list[str]:
    """:func:`silence_flags` for one customer whose surveys the caller has read already (the profile has,
    with :func:`ravingfans.services.surveys.survey_for_customer`): two queries fewer than asking afresh."""
    asks: Counter[int] = Counter()
    last_answer: dict[int, tuple[datetime, int, Mapping[str, Any]]] = {}
    for row in asked:
        if row.sent_at is not None:
            asks[customer_id] += 2 if row.reminded_at is not None else 1
        if row.answered_at is not None and (customer_id not in last_answer
                                            or row.answered_at > last_answer[customer_id][0]):
            last_answer[customer_id] = (row.answered_at, row.survey_id, row.answers)
    found = _flags(session, [customer_id], asks, last_answer, _contacts(session, [customer_id]), clock())
    return found.get(customer_id, [])


def _contacts(session: Session, customer_ids: Sequence[int]) -> list[tuple[int, date]]:
    """(customer, day) of their orders not cancelled and of the moments they started."""
    return [(c, at.date()) for c, at in read_rows(session, _CONTACT_TIMES, {"ids": list(customer_ids)})]


# Built once, both reads in one statement: the profile reads them for every customer it shows (building cost about
# as much as running; a second statement about as much again).
_IDS = bindparam("ids", expanding=True)
_CONTACT_TIMES = union_all(
    select(Order.customer_id, Order.placed_at).where(Order.customer_id.in_(_IDS), Order.cancelled_at.is_(None)),
    select(Interaction.customer_id, Interaction.occurred_at).where(
        Interaction.customer_id.in_(_IDS), Interaction.kind.in_(CONTACT_KINDS)),
)


def _flags(session: Session, ids: Sequence[int], asks: Mapping[int, int],
           last_answer: Mapping[int, tuple[datetime, int, Mapping[str, Any]]], contacts: Iterable[tuple[int, date]],
           now: datetime) -> dict[int, list[str]]:
    """The silences in words, from what was read (the open-text questions are read only if someone answered)."""
    from ravingfans.analytics.text.silence import contact_silence, is_empty_answer

    flags: dict[int, list[str]] = defaultdict(list)
    for customer_id, count in asks.items():
        if customer_id not in last_answer and count >= SILENT_AFTER:
            flags[customer_id].append(f"invited {count} times, never answered")
    text_ids, text_surveys = _text_questions(session) if last_answer else (set(), set())
    for customer_id, (_at, survey_id, answers) in last_answer.items():
        if survey_id not in text_surveys:
            continue
        text = _open_text(answers, text_ids)
        if text is None:
            flags[customer_id].append("last answer said nothing: the open question was left blank")
        elif is_empty_answer(text):
            shown = " ".join(text.split())
            flags[customer_id].append(f"last answer said nothing: '{shown[:40]}'")
    by_customer: dict[int, set[date]] = defaultdict(set)
    for customer_id, day in contacts:
        by_customer[customer_id].add(day)
    for customer_id, days in sorted(by_customer.items()):
        stopped = contact_silence(days, as_of=now, factor=STOPPED_FACTOR, min_contacts=STOPPED_MIN_CONTACTS,
                                  min_days=STOPPED_MIN_DAYS)
        if stopped is not None:
            flags[customer_id].append(f"used to contact us every ~{stopped.usual_gap_days:.0f} days; "
                                      f"silent for {stopped.days_since:.0f}")
    return {c: flags[c] for c in ids if flags.get(c)}


# --- surveys at a glance (fixed queries) -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SurveyLine:
    """A survey in the list: name, state, questions, how many were asked and answered."""

    id: int
    key: str | None
    name: str
    title: str
    status: str
    closes_at: datetime | None
    created_at: datetime
    questions: int
    invited: int
    answered: int
    kinds: tuple[str, ...] = field(default_factory=tuple)


def survey_lines(session: Session) -> list[SurveyLine]:
    """Every survey, newest first, with its counts: four queries whatever the number of surveys (reads only)."""
    from sqlalchemy import func

    surveys = session.scalars(select(Survey).order_by(Survey.created_at.desc(), Survey.id.desc())).all()
    kinds: dict[int, list[str]] = defaultdict(list)
    for survey_id, kind in session.execute(select(SurveyQuestion.survey_id, SurveyQuestion.kind)
                                           .order_by(SurveyQuestion.survey_id, SurveyQuestion.position)):
        kinds[survey_id].append(kind)
    invited = dict(session.execute(select(SurveyInvitation.survey_id, func.count())
                                   .group_by(SurveyInvitation.survey_id)).all())
    answered = dict(session.execute(select(SurveyResponse.survey_id, func.count())
                                    .group_by(SurveyResponse.survey_id)).all())
    return [SurveyLine(s.id, s.key, s.name, s.title, s.status, s.closes_at, s.created_at, len(kinds[s.id]),
                       int(invited.get(s.id, 0)), int(answered.get(s.id, 0)), tuple(kinds[s.id])) for s in surveys]
