"""Surveys: define them, read and check answers, keep one response per customer, and hand results to analytics.

A survey has ordered questions of five kinds: ``nps`` (0-10, "How are we doing?"), ``csat`` (1-5),
``text`` (open, "How can we do better?"), ``rank`` (order some of the expectations the business lists in
``options``) and ``yesno``. Questions can be changed only while a survey is a draft, because stored
answers are keyed by question id. The default survey (key ``"default"``, made by migration 0009 and
re-made by :func:`default_survey` if it is missing) is shown in each customer's language through
``locale/*/LC_MESSAGES/surveys.po``; surveys the business writes are shown as written.

Customers reach a survey by a personal link (see :mod:`ravingfans.services.survey_audiences`): the
token is 256 random bits, only its SHA-256 is stored, and :func:`survey_page` / :func:`submit_answers`
are the only ways in, so a token can never name another customer's answers. A customer has one
response per survey, replaced (``changes`` counts how often) until the survey closes. Staff can enter
an answer given in store or by phone with :func:`record_answers_for_customer`. Each answer is logged
on the customer's timeline as a moment (kind ``other``, a note starting "Survey").

:func:`responses_frame` and :func:`invitations_frame` return plain rows (lists of dicts) for the
results pages and the listening analytics.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, bindparam, func, select
from sqlalchemy.orm import Session

from ravingfans.clock import Clock, utcnow
from ravingfans.db.models import Customer, CustomerScore, Employee, Interaction, Order
from ravingfans.db.models.surveys import (
    DEFAULT_SURVEY_KEY,
    QUESTION_KINDS,
    RESPONSE_CHANNELS,
    Survey,
    SurveyInvitation,
    SurveyLink,
    SurveyQuestion,
    SurveyResponse,
)
from ravingfans.db.reads import read_rows
from ravingfans.db.upsert import insert_for
from ravingfans.errors import Conflict, NotFound, ValidationFailed
from ravingfans.i18n import best_language, gettext_for
from ravingfans.services.common import get_customer
from ravingfans.services.inputs import MAX_ID, clean_text
from ravingfans.services.runs import latest_run

TOKEN_BYTES = 32  # 256 bits; secrets.token_urlsafe gives 43 characters
MAX_TOKEN_LENGTH = 100
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
MAX_TEXT = 2000
MAX_PROMPT = 500
MAX_OPTION = 120
MAX_OPTIONS = 12
MAX_QUESTIONS = 20
MAX_NAME = 120
MAX_TITLE = 200
SCALES = {"nps": (0, 10), "csat": (1, 5)}
_DIGITS = re.compile(r"^[0-9]{1,2}$")  # ASCII only: int() would also read Arabic-Indic and other digits
YES = frozenset({"yes", "y", "true", "1", "on"})
NO = frozenset({"no", "n", "false", "0", "off"})
DEFAULT_TITLE = "How are we doing?"
DEFAULT_QUESTIONS: tuple[tuple[str, str, bool], ...] = (
    ("nps", "How are we doing?", True),
    ("text", "How can we do better?", False),
)

# Messages a customer may see next to a question: English message ids, translated in surveys.po.
MSG_REQUIRED = "Please answer this question."
MSG_SCALE = {"nps": "Please pick a number from 0 to 10.", "csat": "Please pick a number from 1 to 5."}
MSG_TEXT_LONG = "Please keep your answer under 2000 characters."
MSG_TEXT_BAD = "Your answer holds characters we cannot store; please retype it."
MSG_YESNO = "Please answer yes or no."
MSG_RANK = "Please give each choice a different place, using the places offered."
MSG_ONE = "Please give one answer to this question."


class SurveyClosed(Conflict):
    """The survey no longer takes answers (closed by staff or past its closing time)."""

    http_status = 410
    code = "survey_closed"


class AnswerProblems(ValidationFailed):
    """Answers that cannot be stored; ``problems`` maps each form field (``q<id>``) to what to fix."""

    def __init__(self, problems: dict[str, str], labels: Mapping[str, str]) -> None:
        first = next(iter(problems))
        super().__init__(f"{labels.get(first, first)}: {problems[first]}", field=first)
        self.problems = problems


@dataclass(frozen=True, slots=True)
class QuestionSpec:
    """A question to create: its kind, what it asks, whether it must be answered, a rank question's choices."""

    kind: str
    prompt: str
    required: bool = False
    options: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class QuestionView:
    """A stored question as pages show it (prompt already in the reader's language for the default survey)."""

    id: int
    position: int
    kind: str
    prompt: str
    required: bool
    options: tuple[str, ...]

    @property
    def field(self) -> str:
        """The form field that carries this question's answer."""
        return f"q{self.id}"


@dataclass(frozen=True, slots=True)
class SurveyInfo:
    """A survey with its questions and how many customers were asked and answered."""

    id: int
    key: str | None
    name: str
    title: str
    status: str
    closes_at: datetime | None
    created_at: datetime
    questions: tuple[QuestionView, ...]
    invited: int = 0
    answered: int = 0

    @property
    def is_default(self) -> bool:
        """Whether this is the survey shipped with ravingfans (translated for each customer)."""
        return self.key == DEFAULT_SURVEY_KEY


@dataclass(frozen=True, slots=True)
class PublicSurvey:
    """What the public page shows for a token: its state and, when usable, the customer's own survey."""

    state: str  # "open", "closed" or "invalid"
    language: str = "en"
    title: str = ""
    first_name: str = ""
    questions: tuple[QuestionView, ...] = ()
    previous: Mapping[str, Any] = field(default_factory=dict)
    answered: bool = False


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """A stored response: whose, to which survey, and whether it replaced an earlier one."""

    survey_id: int
    customer_id: int
    response_id: int
    changed: bool
    language: str = "en"


# --- tokens -----------------------------------------------------------------------------------------------------


def new_token() -> tuple[str, str]:
    """A fresh link token (256 random bits, URL-safe) and the SHA-256 hex that is all the database keeps."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    """SHA-256 of a link token, hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def well_formed_token(token: str) -> bool:
    """Whether ``token`` could be one of ours (URL-safe characters, sane length): others are not even looked up."""
    return bool(_TOKEN.match(token))


# --- defining surveys -------------------------------------------------------------------------------------------


def translator(survey: Survey, language: str | None) -> Any:
    """The function that turns this survey's texts into the reader's language (identity for custom surveys)."""
    if survey.key == DEFAULT_SURVEY_KEY and language is not None:
        return gettext_for(language)
    return lambda text: text


def _views(survey: Survey, language: str | None = None) -> tuple[QuestionView, ...]:
    tr = translator(survey, language)
    return tuple(QuestionView(id=q.id, position=q.position, kind=q.kind, prompt=tr(q.prompt), required=q.required,
                              options=tuple(q.options or ())) for q in survey.questions)


def _info(session: Session, survey: Survey, *, language: str | None = None) -> SurveyInfo:
    invited = session.scalar(select(func.count()).select_from(SurveyInvitation)
                             .where(SurveyInvitation.survey_id == survey.id)) or 0
    answered = session.scalar(select(func.count()).select_from(SurveyResponse)
                              .where(SurveyResponse.survey_id == survey.id)) or 0
    tr = translator(survey, language)
    return SurveyInfo(id=survey.id, key=survey.key, name=survey.name, title=tr(survey.title), status=survey.status,
                      closes_at=survey.closes_at, created_at=survey.created_at, questions=_views(survey, language),
                      invited=int(invited), answered=int(answered))


def load_survey(session: Session, survey_id: int, *, lock: bool = False) -> Survey:
    """The stored survey with this id, or NotFound naming how to list them; ``lock`` holds other lockers (a send
    to the same survey) off until this transaction ends (FOR UPDATE on PostgreSQL; SQLite has one writer)."""
    survey = (session.get(Survey, survey_id, with_for_update=lock or None) if 1 <= survey_id <= MAX_ID
              else None)
    if survey is None:
        raise NotFound(f"There is no survey number {survey_id}.", hint="List them with: ravingfans survey list")
    return survey


def invitation_for(session: Session, survey_id: int, customer_id: int, *, channel: str, now: datetime,
                   sent_by: int | None = None) -> SurveyInvitation:
    """The customer's invitation to the survey, made now on ``channel`` when there is none yet.

    Made with INSERT ... ON CONFLICT DO NOTHING, so that two writers at once (a form sent twice, a link handed
    over while a send runs) make one invitation and both go on with it, instead of the second failing on the
    unique key.
    """
    session.execute(insert_for(session, SurveyInvitation).values(
        survey_id=survey_id, customer_id=customer_id, channel=channel, sent_at=now, sent_by=sent_by,
    ).on_conflict_do_nothing(index_elements=["survey_id", "customer_id"]))
    return session.scalars(select(SurveyInvitation).where(SurveyInvitation.survey_id == survey_id,
                                                          SurveyInvitation.customer_id == customer_id)).one()


def get_survey(session: Session, survey_id: int, *, language: str | None = None) -> SurveyInfo:
    """One survey with its questions and counts; the default survey's texts in ``language`` when given."""
    return _info(session, load_survey(session, survey_id), language=language)


def list_surveys(session: Session) -> list[SurveyInfo]:
    """Every survey, newest first, with how many customers were asked and answered."""
    default_survey(session)
    surveys = session.scalars(select(Survey).order_by(Survey.created_at.desc(), Survey.id.desc())).all()
    return [_info(session, s) for s in surveys]


def default_survey(session: Session, *, clock: Clock = utcnow) -> SurveyInfo:
    """The survey with the program's two questions, made (open) if it is missing: it always exists."""
    survey = session.scalar(select(Survey).where(Survey.key == DEFAULT_SURVEY_KEY))
    if survey is None:
        now = clock()
        survey = Survey(key=DEFAULT_SURVEY_KEY, name=DEFAULT_TITLE, title=DEFAULT_TITLE, status="open",
                        created_at=now, updated_at=now)
        survey.questions = [SurveyQuestion(position=n, kind=kind, prompt=prompt, required=required, options=[])
                            for n, (kind, prompt, required) in enumerate(DEFAULT_QUESTIONS, start=1)]
        session.add(survey)
        session.flush()
    return _info(session, survey)


def _clean_line(value: Any, label: str, field_name: str, limit: int) -> str:
    try:
        text = clean_text(value if value is not None else "", multiline=False)
    except ValueError as exc:
        raise ValidationFailed(f"{label}: {exc}", field=field_name) from None
    if not isinstance(text, str) or not text:
        raise ValidationFailed(f"{label}: write something", field=field_name)
    if len(text) > limit:
        raise ValidationFailed(f"{label}: at most {limit} characters, please", field=field_name)
    return text


def parse_question(data: QuestionSpec | Mapping[str, Any], number: int) -> QuestionSpec:
    """Check one question to create (its kind, prompt and choices); ValidationFailed names it by number."""
    if isinstance(data, QuestionSpec):
        data = {"kind": data.kind, "prompt": data.prompt, "required": data.required, "options": list(data.options)}
    label = f"Question {number}"
    kind = str(data.get("kind", "")).strip().lower()
    if kind not in QUESTION_KINDS:
        raise ValidationFailed(f"{label}: the kind must be one of {', '.join(QUESTION_KINDS)}",
                               field=f"questions.{number}.kind")
    prompt = _clean_line(data.get("prompt"), label, f"questions.{number}.prompt", MAX_PROMPT)
    raw_options = data.get("options") or []
    if isinstance(raw_options, str):
        raw_options = [part for part in raw_options.split("\n")]
    options: list[str] = []
    for raw in raw_options:
        if isinstance(raw, str) and not raw.strip():
            continue
        option = _clean_line(raw, f"{label}, choice {len(options) + 1}", f"questions.{number}.options", MAX_OPTION)
        if option in options:
            raise ValidationFailed(f"{label}: the choice {option!r} is listed twice",
                                   field=f"questions.{number}.options")
        options.append(option)
    if kind == "rank" and not 2 <= len(options) <= MAX_OPTIONS:
        raise ValidationFailed(f"{label}: a ranking needs 2 to {MAX_OPTIONS} choices (one per line)",
                               field=f"questions.{number}.options")
    if kind != "rank" and options:
        raise ValidationFailed(f"{label}: only a rank question has choices", field=f"questions.{number}.options")
    required = data.get("required", False)
    if isinstance(required, str):
        required = required.strip().lower() in YES
    return QuestionSpec(kind=kind, prompt=prompt, required=bool(required), options=tuple(options))


def _questions(specs: Sequence[QuestionSpec | Mapping[str, Any]]) -> list[SurveyQuestion]:
    if not specs:
        raise ValidationFailed("Questions: a survey needs at least one question", field="questions")
    if len(specs) > MAX_QUESTIONS:
        raise ValidationFailed(f"Questions: at most {MAX_QUESTIONS}, please; short surveys get answers",
                               field="questions")
    parsed = [parse_question(spec, n) for n, spec in enumerate(specs, start=1)]
    return [SurveyQuestion(position=n, kind=q.kind, prompt=q.prompt, required=q.required, options=list(q.options))
            for n, q in enumerate(parsed, start=1)]


def _closing(closes_at: datetime | None, now: datetime) -> datetime | None:
    if closes_at is None:
        return None
    if closes_at.tzinfo is None:
        raise ValidationFailed("Closes: give a time zone (e.g. 2025-06-30T18:00:00+02:00)", field="closes_at")
    if closes_at <= now:
        raise ValidationFailed("Closes: the closing time must be in the future", field="closes_at")
    return closes_at


def create_survey(session: Session, *, name: str, title: str, questions: Sequence[QuestionSpec | Mapping[str, Any]],
                  closes_at: datetime | None = None, clock: Clock = utcnow) -> SurveyInfo:
    """A new survey (a draft until opened) with these questions, in this order."""
    now = clock()
    survey = Survey(name=_clean_line(name, "Name", "name", MAX_NAME),
                    title=_clean_line(title, "Title", "title", MAX_TITLE), status="draft",
                    closes_at=_closing(closes_at, now), created_at=now, updated_at=now)
    survey.questions = _questions(questions)
    session.add(survey)
    session.flush()
    return _info(session, survey)


_UNCHANGED: Any = object()


def update_survey(session: Session, survey_id: int, *, name: str | None = None, title: str | None = None,
                  questions: Sequence[QuestionSpec | Mapping[str, Any]] | None = None,
                  closes_at: datetime | None = _UNCHANGED, clock: Clock = utcnow) -> SurveyInfo:
    """Rename, retitle, set or clear the closing time; change questions only while it is a draft."""
    survey = load_survey(session, survey_id)
    now = clock()
    if name is not None:
        survey.name = _clean_line(name, "Name", "name", MAX_NAME)
    if title is not None:
        survey.title = _clean_line(title, "Title", "title", MAX_TITLE)
    if closes_at is not _UNCHANGED:
        survey.closes_at = _closing(closes_at, now)
    if questions is not None:
        if survey.status != "draft":
            raise Conflict(f"Survey {survey.id} has been opened, so its questions can no longer change.",
                           hint="Answers are kept per question; make a new survey for new questions.")
        new = _questions(questions)
        survey.questions.clear()
        session.flush()
        survey.questions.extend(new)
    survey.updated_at = now
    session.flush()
    return _info(session, survey)


def open_survey(session: Session, survey_id: int, *, clock: Clock = utcnow) -> SurveyInfo:
    """Let a survey take answers (and be sent); a closed survey can be opened again."""
    survey = load_survey(session, survey_id)
    now = clock()
    if survey.closes_at is not None and survey.closes_at <= now:
        raise Conflict(f"Survey {survey.id} closed on its closing time.", hint="Set a later closing time first.")
    survey.status, survey.updated_at = "open", now
    session.flush()
    return _info(session, survey)


def close_survey(session: Session, survey_id: int, *, clock: Clock = utcnow) -> SurveyInfo:
    """Stop a survey taking answers; its links then show "this survey has closed"."""
    survey = load_survey(session, survey_id)
    survey.status, survey.updated_at = "closed", clock()
    session.flush()
    return _info(session, survey)


def is_open(survey: Survey, now: datetime) -> bool:
    """Whether the survey takes answers at ``now``."""
    return survey.status == "open" and (survey.closes_at is None or now < survey.closes_at)


# --- answers ----------------------------------------------------------------------------------------------------


def _one(value: Any) -> Any:
    """A single value from a form field (a list of one is fine; several values are refused)."""
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            raise ValueError(MSG_ONE)
        return value[0]
    return value


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def _scale(kind: str, value: Any) -> int:
    low, high = SCALES[kind]
    if isinstance(value, bool):
        raise ValueError(MSG_SCALE[kind])
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _DIGITS.match(value.strip()):
        number = int(value.strip())
    else:
        raise ValueError(MSG_SCALE[kind])
    if not low <= number <= high:
        raise ValueError(MSG_SCALE[kind])
    return number


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(MSG_TEXT_BAD)
    if len(value) > MAX_TEXT * 2:  # before cleaning: do not scan a huge string character by character
        raise ValueError(MSG_TEXT_LONG)
    try:
        text = clean_text(value, multiline=True)
    except ValueError:
        raise ValueError(MSG_TEXT_BAD) from None
    if len(text) > MAX_TEXT:
        raise ValueError(MSG_TEXT_LONG)
    return str(text)


def _yesno(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in YES | NO:
        return value.strip().lower() in YES
    raise ValueError(MSG_YESNO)


def _rank(question: QuestionView, data: Mapping[str, Any]) -> list[str] | None:
    """A ranking: a list of choices (callers), or one ``q<id>.<n>`` place per choice (the HTML form)."""
    options = question.options
    direct = data.get(question.field)
    if direct is not None and not _blank(direct):
        chosen = [direct] if isinstance(direct, str) else direct
        if not isinstance(chosen, (list, tuple)) or not all(isinstance(c, str) for c in chosen):
            raise ValueError(MSG_RANK)
        if len(set(chosen)) != len(chosen) or any(c not in options for c in chosen):
            raise ValueError(MSG_RANK)
        return list(chosen)
    places: dict[int, str] = {}
    for index, option in enumerate(options):
        raw = data.get(f"{question.field}.{index}")
        if raw is None:
            continue
        raw = _one(raw)
        if _blank(raw):
            continue
        if not isinstance(raw, str) or not _DIGITS.match(raw.strip()):
            raise ValueError(MSG_RANK)
        place = int(raw.strip())
        if not 1 <= place <= len(options) or place in places:
            raise ValueError(MSG_RANK)
        places[place] = option
    return [places[p] for p in sorted(places)] or None


def parse_answers(questions: Sequence[QuestionView], data: Mapping[str, Any]) -> dict[str, Any]:
    """Check every answer against its question; AnswerProblems lists each one to fix (fields ``q<id>``).

    ``data`` is a form (``q<id>`` fields, ``q<id>.<n>`` places for a ranking) or a mapping from question
    ids to values. Fields of other questions are ignored. Returns ``{str(question id): value}`` for the
    questions answered: an int (nps, csat), text, a list of choices in order (rank) or a bool (yesno).
    """
    answers: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for question in questions:
        raw = data.get(question.field, data.get(str(question.id), data.get(question.id)))  # type: ignore[call-overload]
        try:
            if question.kind == "rank":
                value: Any = _rank(question, {**data, question.field: raw} if raw is not None else data)
            else:
                raw = _one(raw)
                if _blank(raw):
                    value = None
                elif question.kind in SCALES:
                    value = _scale(question.kind, raw)
                elif question.kind == "text":
                    value = _text(raw) or None
                else:
                    value = _yesno(raw)
        except ValueError as exc:
            problems[question.field] = str(exc)
            continue
        if value is None:
            if question.required:
                problems[question.field] = MSG_REQUIRED
            continue
        answers[str(question.id)] = value
    if problems:
        labels = {q.field: f"Question {q.position}" for q in questions}
        raise AnswerProblems(problems, labels)
    return answers


def nps_category(score: int) -> str:
    """'promoter' (9-10), 'passive' (7-8) or 'detractor' (0-6): the Net Promoter groups."""
    return "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"


def _summary(survey: Survey, answers: Mapping[str, Any], changed: bool) -> str:
    """The timeline line for an answer: the scores and the first words of the open answers."""
    parts: list[str] = []
    for q in survey.questions:
        value = answers.get(str(q.id))
        if value is None:
            continue
        if q.kind == "nps":
            parts.append(f"{value}/10 ({nps_category(int(value))})")
        elif q.kind == "csat":
            parts.append(f"{value}/5")
        elif q.kind == "yesno":
            parts.append(f"{q.prompt[:60]} {'yes' if value else 'no'}")
        elif q.kind == "rank":
            parts.append("ranked: " + ", ".join(value[:3]))
        else:
            text = " ".join(str(value).split())
            parts.append(f"“{text[:200]}{'…' if len(text) > 200 else ''}”")
    what = "answer changed" if changed else "answered"
    return f"Survey '{survey.name}' {what}" + (": " + "; ".join(parts) if parts else "")


def _last_served_by(session: Session, customer_id: int, now: datetime) -> int | None:
    return session.scalar(select(Order.employee_id)
                          .where(Order.customer_id == customer_id, Order.employee_id.is_not(None),
                                 Order.cancelled_at.is_(None), Order.placed_at <= now)
                          .order_by(Order.placed_at.desc(), Order.id.desc()).limit(1))


def _current_segment(session: Session, customer_id: int) -> str | None:
    run = latest_run(session)
    if run is None:
        return None
    return session.scalar(select(CustomerScore.segment)
                          .where(CustomerScore.run_id == run.id, CustomerScore.customer_id == customer_id))


def store_response(session: Session, survey: Survey, customer: Customer, answers: Mapping[str, Any], *,
                   channel: str, invitation: SurveyInvitation | None, entered_by: int | None = None,
                   employee_id: int | None = None, clock: Clock = utcnow) -> SubmitResult:
    """Create or replace the customer's response (checked answers only), mark the invitation, log the moment."""
    now = clock()
    if not is_open(survey, now):
        raise SurveyClosed(f"The survey '{survey.name}' has closed; it takes no more answers.")
    if channel not in RESPONSE_CHANNELS:
        raise ValidationFailed(f"Channel: must be one of {', '.join(RESPONSE_CHANNELS)}", field="channel")
    nps = next((int(answers[str(q.id)]) for q in survey.questions
                if q.kind == "nps" and answers.get(str(q.id)) is not None), None)
    if invitation is not None:  # one writer per invitation: a form sent twice at once is stored, then changed
        session.execute(select(SurveyInvitation.id).where(SurveyInvitation.id == invitation.id).with_for_update())
    response = session.scalar(select(SurveyResponse).where(SurveyResponse.survey_id == survey.id,
                                                           SurveyResponse.customer_id == customer.id))
    changed = response is not None
    served_by = employee_id if employee_id is not None else _last_served_by(session, customer.id, now)
    if response is None:
        response = SurveyResponse(survey_id=survey.id, customer_id=customer.id, first_submitted_at=now, changes=0,
                                  segment=_current_segment(session, customer.id))
        session.add(response)
    else:
        response.changes = (response.changes or 0) + 1
    response.invitation_id = invitation.id if invitation is not None else response.invitation_id
    response.channel, response.answers, response.nps = channel, dict(answers), nps
    response.employee_id, response.entered_by, response.submitted_at = served_by, entered_by, now
    if invitation is not None:
        invitation.answered_at = now
    session.add(Interaction(customer_id=customer.id, employee_id=employee_id, occurred_at=now,
                            channel=channel, kind="other", rating=None,
                            note=_summary(survey, answers, changed), created_at=now))
    session.flush()
    return SubmitResult(survey_id=survey.id, customer_id=customer.id, response_id=response.id, changed=changed,
                        language=best_language(customer.language))


def _link(session: Session, token: str, now: datetime) -> tuple[SurveyLink, SurveyInvitation, Customer] | None:
    """The live link a token names with its invitation and customer; None for anything else (told apart nowhere).

    A link that ran until its survey's closing time stays readable after it, so the page can say the
    survey has closed rather than that the link does not work.
    """
    if not isinstance(token, str) or not well_formed_token(token):
        return None
    link = session.get(SurveyLink, token_hash(token))
    if link is None:
        return None
    invitation = link.invitation
    if link.expires_at <= now:
        closes_at = session.scalar(select(Survey.closes_at).where(Survey.id == invitation.survey_id))
        if closes_at is None or link.expires_at < closes_at:
            return None
    customer = session.get(Customer, invitation.customer_id)
    if customer is None or customer.erased_at is not None:
        return None
    return link, invitation, customer


def survey_page(session: Session, token: str, *, clock: Clock = utcnow) -> PublicSurvey:
    """What a personal link shows: the customer's survey in their language with their last answers, or why not."""
    now = clock()
    found = _link(session, token, now)
    if found is None:
        return PublicSurvey(state="invalid")
    _link_row, invitation, customer = found
    survey = session.get(Survey, invitation.survey_id)
    language = best_language(customer.language)
    if survey is None or survey.status == "draft":
        return PublicSurvey(state="invalid", language=language)
    tr = translator(survey, language)
    if not is_open(survey, now):
        return PublicSurvey(state="closed", language=language, title=tr(survey.title))
    response = session.scalar(select(SurveyResponse).where(SurveyResponse.survey_id == survey.id,
                                                           SurveyResponse.customer_id == customer.id))
    previous = {f"q{key}": value for key, value in (response.answers if response is not None else {}).items()}
    return PublicSurvey(state="open", language=language, title=tr(survey.title),
                        first_name=(customer.first_name or "").strip(), questions=_views(survey, language),
                        previous=previous, answered=response is not None)


def submit_answers(session: Session, token: str, form: Mapping[str, Any], *, clock: Clock = utcnow) -> SubmitResult:
    """Store the answers sent through a personal link (replacing earlier ones while the survey is open).

    NotFound for a link that is unknown, expired or of an erased customer (one message for all);
    SurveyClosed once the survey is closed; AnswerProblems for answers to fix.
    """
    now = clock()
    found = _link(session, token, now)
    if found is None:
        raise NotFound("This survey link is not valid or has expired.")
    _link_row, invitation, customer = found
    try:  # read again, locked in a write transaction: an erasure under way is waited for, and then seen
        customer = get_customer(session, customer.id)
    except NotFound:
        raise NotFound("This survey link is not valid or has expired.") from None
    survey = session.get(Survey, invitation.survey_id)
    if survey is None or survey.status == "draft":
        raise NotFound("This survey link is not valid or has expired.")
    if not is_open(survey, now):
        raise SurveyClosed(f"The survey '{survey.name}' has closed; it takes no more answers.")
    answers = parse_answers(_views(survey), form)
    return store_response(session, survey, customer, answers, channel="web", invitation=invitation,
                          clock=lambda: now)


def record_answers_for_customer(session: Session, survey_id: int, customer_id: int, answers: Mapping[str, Any],
                                entered_by_user_id: int | None, channel: str, *, employee_id: int | None = None,
                                clock: Clock = utcnow) -> SubmitResult:
    """Staff enter the answers a customer gave in store or by phone (an invitation on that channel is noted)."""
    if channel not in ("store", "phone"):
        raise ValidationFailed("Channel: answers entered by staff come from the store or the phone", field="channel")
    survey = load_survey(session, survey_id)
    customer = get_customer(session, customer_id)
    now = clock()
    if not is_open(survey, now):
        raise SurveyClosed(f"The survey '{survey.name}' is not open; open it before recording answers.",
                           hint=f"ravingfans survey open {survey.id}" if survey.status != "open" else None)
    if employee_id is not None and (not 1 <= employee_id <= MAX_ID or session.get(Employee, employee_id) is None):
        raise ValidationFailed(f"Employee: there is no employee number {employee_id}", field="employee_id")
    parsed = parse_answers(_views(survey), answers)
    # asked in person: counts as asked for the frequency cap and the response rate
    invitation = invitation_for(session, survey.id, customer.id, channel=channel, now=now, sent_by=entered_by_user_id)
    return store_response(session, survey, customer, parsed, channel=channel, invitation=invitation,
                          entered_by=entered_by_user_id, employee_id=employee_id, clock=lambda: now)


# --- what a customer was asked, and the results -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CustomerSurvey:
    """A survey a customer was asked or answered, for their profile."""

    survey_id: int
    name: str
    channel: str | None
    sent_at: datetime | None
    reminded_at: datetime | None
    answered_at: datetime | None
    expires_at: datetime | None
    nps: int | None
    answers: Mapping[str, Any]


# The profile's reads, built once (building a statement costs about as much as running it), of columns rather than
# objects (loading objects costs as much again), each with its survey's name joined in.
_QUESTIONS_OF = select(SurveyQuestion).where(SurveyQuestion.survey_id.in_(bindparam("ids", expanding=True)))
_INVITATIONS_OF = (select(SurveyInvitation.survey_id, Survey.name, SurveyInvitation.channel, SurveyInvitation.sent_at,
                          SurveyInvitation.reminded_at, SurveyInvitation.expires_at)
                   .join(Survey, Survey.id == SurveyInvitation.survey_id)
                   .where(SurveyInvitation.customer_id == bindparam("customer_id")).order_by(SurveyInvitation.id))
_RESPONSES_OF = (select(SurveyResponse.survey_id, Survey.name, SurveyResponse.submitted_at, SurveyResponse.nps,
                        SurveyResponse.answers)
                 .join(Survey, Survey.id == SurveyResponse.survey_id)
                 .where(SurveyResponse.customer_id == bindparam("customer_id")).order_by(SurveyResponse.id))


def questions_of(session: Session, survey_ids: Iterable[int]) -> list[SurveyQuestion]:
    """The questions of these surveys (the profile shows answers to surveys no longer open with their prompts)."""
    return list(session.scalars(_QUESTIONS_OF, {"ids": list(survey_ids)}))


@dataclass(frozen=True, slots=True)
class OpenSurvey:
    """An open survey with its questions in order, for the forms on a customer's profile."""

    id: int
    name: str
    questions: tuple[QuestionView, ...]


def newest_open_surveys(session: Session, limit: int) -> list[OpenSurvey]:
    """The newest ``limit`` open surveys with their questions, for the profile's entry forms."""
    names: dict[int, str] = {}  # newest first, as read
    questions: dict[int, list[QuestionView]] = {}
    for survey_id, name, qid, position, kind, prompt, required, options in read_rows(
            session, _NEWEST_OPEN, {"limit": limit}):
        names[survey_id] = name
        asked = questions.setdefault(survey_id, [])
        if qid is not None:  # an outer join: a survey without questions still comes once
            asked.append(QuestionView(qid, position, kind, prompt, bool(required), tuple(options or ())))
    return [OpenSurvey(survey_id, name, tuple(questions[survey_id])) for survey_id, name in names.items()]


# One statement: the newest open surveys (a subquery, so the limit counts surveys) with their questions joined in.
_NEWEST = (select(Survey.id, Survey.name, Survey.created_at).where(Survey.status == "open")
           .order_by(Survey.created_at.desc(), Survey.id.desc()).limit(bindparam("limit", type_=Integer)).subquery())
_NEWEST_OPEN = (select(_NEWEST.c.id, _NEWEST.c.name, SurveyQuestion.id, SurveyQuestion.position, SurveyQuestion.kind,
                       SurveyQuestion.prompt, SurveyQuestion.required, SurveyQuestion.options)
                .outerjoin(SurveyQuestion, SurveyQuestion.survey_id == _NEWEST.c.id)
                .order_by(_NEWEST.c.created_at.desc(), _NEWEST.c.id.desc(), SurveyQuestion.position, SurveyQuestion.id))


def survey_for_customer(session: Session, customer_id: int) -> list[CustomerSurvey]:
    """Every survey this customer was asked or answered, latest first (for the profile)."""
    customer = get_customer(session, customer_id)
    params = {"customer_id": customer.id}
    invitations = {row.survey_id: row for row in read_rows(session, _INVITATIONS_OF, params)}  # the newest wins
    responses = {row.survey_id: row for row in read_rows(session, _RESPONSES_OF, params)}
    rows = []
    for survey_id in invitations.keys() | responses.keys():
        inv, resp = invitations.get(survey_id), responses.get(survey_id)
        rows.append(CustomerSurvey(
            survey_id=survey_id, name=(inv or resp).name, channel=inv.channel if inv else None,
            sent_at=inv.sent_at if inv else None, reminded_at=inv.reminded_at if inv else None,
            answered_at=resp.submitted_at if resp else None, expires_at=inv.expires_at if inv else None,
            nps=resp.nps if resp else None, answers=dict(resp.answers) if resp else {}))
    rows.sort(key=lambda r: max(t for t in (r.sent_at, r.answered_at) if t is not None), reverse=True)
    return rows


def responses_frame(session: Session, survey_id: int | None = None) -> list[dict[str, Any]]:
    """One row per response (erased customers left out), oldest first, for results pages and analytics.

    Keys: response_id, customer_id, survey_id, submitted_at, first_submitted_at, channel, employee_id (who
    served the customer last before they answered, or whom staff named when entering it), entered_by (the
    user who typed it in, else None), segment (in the latest run when they first answered), nps (0-10 or
    None), csat (first 1-5 answer or None), text (the open answers joined by blank lines, or None),
    answers ({question id: value}).
    """
    stmt = (select(SurveyResponse).join(Customer, Customer.id == SurveyResponse.customer_id)
            .where(Customer.erased_at.is_(None)).order_by(SurveyResponse.submitted_at, SurveyResponse.id))
    if survey_id is not None:
        stmt = stmt.where(SurveyResponse.survey_id == survey_id)
    kinds = {q_id: kind for q_id, kind in session.execute(select(SurveyQuestion.id, SurveyQuestion.kind))}
    rows = []
    for r in session.scalars(stmt):
        texts = [str(v) for k, v in r.answers.items() if kinds.get(int(k)) == "text" and v]
        csat = next((int(v) for k, v in r.answers.items() if kinds.get(int(k)) == "csat" and v is not None), None)
        rows.append({"response_id": r.id, "customer_id": r.customer_id, "survey_id": r.survey_id,
                     "submitted_at": r.submitted_at, "first_submitted_at": r.first_submitted_at,
                     "channel": r.channel, "employee_id": r.employee_id, "entered_by": r.entered_by,
                     "segment": r.segment, "nps": r.nps, "csat": csat,
                     "text": "\n\n".join(texts) if texts else None, "answers": dict(r.answers)})
    return rows


def invitations_frame(session: Session, survey_id: int | None = None) -> list[dict[str, Any]]:
    """One row per invitation (erased customers left out), oldest first: who was asked, how, and what came of it.

    Keys: invitation_id, customer_id, survey_id, channel, sent_at, reminded_at, answered_at, expires_at.
    """
    stmt = (select(SurveyInvitation).join(Customer, Customer.id == SurveyInvitation.customer_id)
            .where(Customer.erased_at.is_(None)).order_by(SurveyInvitation.sent_at, SurveyInvitation.id))
    if survey_id is not None:
        stmt = stmt.where(SurveyInvitation.survey_id == survey_id)
    return [{"invitation_id": i.id, "customer_id": i.customer_id, "survey_id": i.survey_id, "channel": i.channel,
             "sent_at": i.sent_at, "reminded_at": i.reminded_at, "answered_at": i.answered_at,
             "expires_at": i.expires_at} for i in session.scalars(stmt)]
