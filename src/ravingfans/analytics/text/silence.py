"""Silences: answers that say nothing, fans who never answer, and customers who stopped getting in touch.

*Empty answers.* An answer says nothing when, once lower-cased and stripped of punctuation, symbols and
emojis, nothing is left (blank, "-", "...", "👍") or what is left is only a filler: an acknowledgement or
a stock verdict ("ok", "fine", "all good", "everything's good", "nothing", "n/a", "no comment", "not
really", "good thanks"). A short verdict with a detail ("fine, but the coffee was cold") is not empty.

*Silent fans.* :func:`silent_fans`: customers invited at least ``min_invitations`` times who never answered
(optionally only among the fans given). *Stopped contacting.* :func:`stopped_contacting`: customers with
at least ``min_contacts`` contacts whose time since their last contact is at least ``factor`` times their
usual gap (the median gap between their own contacts) and at least ``min_days``: "far beyond their usual"
is relative to each customer's own rhythm, so a monthly visitor is flagged after a quarter of silence and a
yearly one is not.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from statistics import median

import numpy as np
import polars as pl

from ravingfans.errors import ValidationFailed

_FILLER_WORDS = (
    r"ok|okay|okey|k|kk|fine|good|great|grand|alright|all right|nice|perfect|excellent|satisfied|happy|"
    r"nothing|none|nil|nope|no|na|n a|nah|nada|idk|yes|yep|yeah|sure|same|whatever|so so|meh|average|"
    r"nothing really|not really|not much|nothing much|nothing else|no comment|no comments|nothing to add|"
    r"nothing to say|nothing to report|nothing to improve|no suggestions?|no idea|not sure|dont know|don't know|"
    r"all good|all fine|all ok|all okay|all great|all well|everything|everything ok|everything okay|"
    r"everything'?s? (?:fine|good|ok|okay|great|alright|perfect)|everything is (?:fine|good|ok|okay|great|alright|perfect)|"
    r"everything was (?:fine|good|ok|okay|great|alright|perfect)|its? (?:fine|good|ok|okay|great|alright)|"
    r"it'?s (?:fine|good|ok|okay|great|alright)|it is (?:fine|good|ok|okay|great|alright)|"
    r"it was (?:fine|good|ok|okay|great|alright)|was (?:fine|good|ok|okay|great)|keep it up|"
    r"no complaints?|cant complain|can'?t complain|nothing to complain about|fine thanks|good thanks"
)
_FILLER = re.compile(
    r"^(?:(?:very|really|pretty|quite|so|all|just) )?(?:" + _FILLER_WORDS + r")"
    r"(?: (?:thanks|thank you|thx|ty|cheers|so far|i guess|overall|as always|as usual))?$"
)
_NOT_WORD = re.compile(r"[^\w' ]+")
_SPACES = re.compile(r"\s+")


def _normalise(text: str) -> str:
    """Lower case, apostrophes unified, every symbol/punctuation/emoji removed, spaces collapsed."""
    text = unicodedata.normalize("NFKC", text).replace("\u2019", "'").replace("/", " ").lower()
    text = "".join(ch if unicodedata.category(ch)[0] in "LNZ" or ch == "'" else " " for ch in text)
    return _SPACES.sub(" ", _NOT_WORD.sub(" ", text)).strip(" '")


def is_empty_answer(text: object) -> bool:
    """True when an answer says nothing (module doc); None and non-strings count as empty."""
    if not isinstance(text, str):
        return True
    words = _normalise(text)
    return not words or bool(_FILLER.match(words))


def empty_answers(texts: Sequence[object]) -> np.ndarray:
    """:func:`is_empty_answer` of every text as a boolean array; identical texts are read once."""
    cache: dict[str, bool] = {}
    out = np.empty(len(texts), dtype=bool)
    for i, text in enumerate(texts):
        if isinstance(text, str):
            if text not in cache:
                cache[text] = is_empty_answer(text)
            out[i] = cache[text]
        else:
            out[i] = True
    return out


def _require(frame: pl.DataFrame, columns: Iterable[str], table: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValidationFailed(
            f"{table} is missing column(s) {', '.join(map(repr, missing))}; it has "
            f"{', '.join(map(repr, frame.columns)) or 'no columns'}", field=missing[0])


def silent_fans(
    invitations: pl.DataFrame,
    responses: pl.DataFrame,
    *,
    fans: Iterable[object] | None = None,
    min_invitations: int = 2,
    customer_id_col: str = "customer_id",
    invited_at_col: str = "invited_at",
) -> pl.DataFrame:
    """Customers invited at least ``min_invitations`` times with no answer at all, most invited first.

    ``invitations`` has one row per invitation (``customer_id_col``, ``invited_at_col``); ``responses`` one
    row per answer (``customer_id_col``). With ``fans`` only those customers are considered. Columns:
    ``customer_id_col``, ``invitations``, ``first_invited``, ``last_invited``.
    """
    if min_invitations < 1:
        raise ValidationFailed(f"min_invitations must be 1 or more, not {min_invitations}", field="min_invitations")
    _require(invitations, [customer_id_col, invited_at_col], "invitations")
    _require(responses, [customer_id_col], "responses")
    answered = responses.select(customer_id_col).unique()
    invited = invitations
    if fans is not None:
        fan_ids = pl.Series(customer_id_col, list(fans)).cast(invitations.schema[customer_id_col], strict=False)
        invited = invited.filter(pl.col(customer_id_col).is_in(fan_ids.implode()))
    return (
        invited.join(answered, on=customer_id_col, how="anti")
        .group_by(customer_id_col)
        .agg(pl.len().cast(pl.Int64).alias("invitations"), pl.col(invited_at_col).min().alias("first_invited"),
             pl.col(invited_at_col).max().alias("last_invited"))
        .filter(pl.col("invitations") >= min_invitations)
        .sort(["invitations", customer_id_col], descending=[True, False])
    )


def stopped_contacting(
    contacts: pl.DataFrame,
    *,
    as_of: date | datetime,
    factor: float = 3.0,
    min_contacts: int = 3,
    min_days: float = 30.0,
    customer_id_col: str = "customer_id",
    contact_at_col: str = "contact_at",
) -> pl.DataFrame:
    """Customers silent for ``factor`` times their usual gap or more (module doc), longest silence first.

    ``contacts`` has one row per contact (a visit, an order, a message) with a date or datetime. Columns:
    ``customer_id_col``, ``contacts``, ``last_contact``, ``usual_gap_days`` (median gap), ``days_since``,
    ``ratio`` (days_since / usual gap).
    """
    _check_rule(factor, min_contacts)
    _require(contacts, [customer_id_col, contact_at_col], "contacts")
    dtype = contacts.schema[contact_at_col]
    if not (dtype == pl.Date or isinstance(dtype, pl.Datetime)):
        raise ValidationFailed(f"column {contact_at_col!r} must hold dates or datetimes, not {dtype}",
                               field=contact_at_col)
    when = pl.col(contact_at_col).cast(pl.Datetime("us"))
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
        when = pl.col(contact_at_col).dt.convert_time_zone("UTC").dt.replace_time_zone(None).cast(pl.Datetime("us"))
    end = _naive_utc(as_of)
    day_us = 86_400e6
    per = (
        contacts.select(pl.col(customer_id_col), when.alias("_at"))
        .filter(pl.col("_at").is_not_null() & (pl.col("_at") <= end))
        .sort([customer_id_col, "_at"])
        .with_columns((pl.col("_at").diff().over(customer_id_col).dt.total_microseconds() / day_us).alias("_gap"))
        .group_by(customer_id_col)
        .agg(pl.len().cast(pl.Int64).alias("contacts"), pl.col("_at").max().alias("last_contact"),
             pl.col("_gap").drop_nulls().median().alias("usual_gap_days"))
        .with_columns(((pl.lit(end) - pl.col("last_contact")).dt.total_microseconds() / day_us).alias("days_since"))
        .with_columns((pl.col("days_since") / pl.col("usual_gap_days").clip(lower_bound=1.0)).alias("ratio"))
    )
    return (
        per.filter((pl.col("contacts") >= min_contacts) & (pl.col("ratio") >= factor)
                   & (pl.col("days_since") >= min_days))
        .sort(["ratio", customer_id_col], descending=[True, False])
    )


_MICROSECOND = timedelta(microseconds=1)
_DAY_US = 86_400e6


@dataclass(frozen=True, slots=True)
class Stopped:
    """One customer who stopped contacting us: a row of :func:`stopped_contacting`, for a single customer."""

    contacts: int
    last_contact: datetime
    usual_gap_days: float
    days_since: float
    ratio: float


def contact_silence(
    contacts: Iterable[date | datetime],
    *,
    as_of: date | datetime,
    factor: float = 3.0,
    min_contacts: int = 3,
    min_days: float = 30.0,
) -> Stopped | None:
    """:func:`stopped_contacting` for one customer's contacts, without a DataFrame (None when not flagged).

    The same rule, number for number (a test holds them equal): pages ask about one customer or a page of
    them, where building Polars frames costs several times more than the rule itself.
    """
    _check_rule(factor, min_contacts)
    end = _naive_utc(as_of)
    seen = sorted(at for at in (_naive_utc(c) for c in contacts if c is not None) if at <= end)
    if len(seen) < min_contacts:
        return None
    gaps = [(b - a) // _MICROSECOND / _DAY_US for a, b in zip(seen, seen[1:], strict=False)]
    usual = median(gaps)
    days_since = (end - seen[-1]) // _MICROSECOND / _DAY_US
    ratio = days_since / max(usual, 1.0)
    if ratio < factor or days_since < min_days:
        return None
    return Stopped(contacts=len(seen), last_contact=seen[-1], usual_gap_days=usual, days_since=days_since,
                   ratio=ratio)


def _check_rule(factor: float, min_contacts: int) -> None:
    if factor <= 1:
        raise ValidationFailed(f"factor must be more than 1, not {factor}", field="factor")
    if min_contacts < 2:
        raise ValidationFailed(f"min_contacts must be 2 or more (a gap needs two contacts), not {min_contacts}",
                               field="min_contacts")


def _naive_utc(at: date | datetime) -> datetime:
    """A date as its midnight, an aware time in UTC; naive, as Polars compares them."""
    when = at if isinstance(at, datetime) else datetime(at.year, at.month, at.day)
    return when.astimezone(timezone.utc).replace(tzinfo=None) if when.tzinfo is not None else when
