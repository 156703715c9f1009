"""Slipping fans: customers who were fans and now fall below their own rhythm, ranked by value at risk.

*Who was a fan.* ``FM >= fan_min_fm`` (default 4) with at least ``min_purchases`` purchase occasions
(default 3, so there is a rhythm to fall below). FM, the average of the F and M quintiles, measures
how often and how much someone bought over their whole history and ignores recency, so a fan who
stopped coming is still recognised. The recency-based segments would not do: a Champion who stops
buying moves to "At Risk" or "Can't Lose Them", precisely the customers to find. FM 4-5 are the
Champions, Loyal, At Risk and Can't Lose Them columns of the RFM grid.

*Signals* (each a column, each with its words in ``reason``):

* ``overdue``: the time since the last visit is well beyond the customer's own rhythm,
  ``days_since_last > max(gap_multiple * mean_gap, mean_gap + gap_sds * gap_std)`` (defaults 2 and 2;
  the spread term only when ``gap_std`` is known). Judging the silence against the customer's own
  inter-purchase gaps is the individual-level version of the hiatus rules that Wübben & Wangenheim
  (2008, "Instant customer base analysis", J. Marketing 72(3)) found to rival the BTYD models.
* ``p_alive_low``: P(alive) from the BG/NBD model (Fader, Hardie & Lee 2005) below ``p_alive_below``;
  ``p_alive_dropped``: it fell by at least ``p_alive_drop`` since a previous snapshot (``previous``).
  When no model was fitted (``p_alive`` null, a small business) only the rhythm signals count.
* ``spend_falling``: mean spend of the last ``recent_occasions`` visits below ``1 - spend_drop`` of the
  mean of the visits before (from :func:`spend_trend`, optional).
* ``ratings_worse``: the last ``misery_streak`` rated moments of truth were all misery (-1), or the
  mean of the last three ratings is at least ``rating_drop`` below the mean of the earlier ones
  (``ratings`` table, optional).

*Listed* are former fans with a lapse signal (overdue, P(alive) low or dropped), or with both soft
signals (falling spend and worse ratings; ``soft_signals=1`` lists either alone). Baskets and moods
vary, so on the demo business one of the soft signals alone fires for many happy fans; together, or
alongside a lapse signal, they add to the reason.

*Value at risk* = ``annual_value * risk``. ``annual_value`` is a year of the customer's usual spend
while active: ``365 * total_spend / (recency + mean_gap)`` days, i.e. spend per day over the span
their visits cover (n visits cover about n mean gaps). ``risk`` is ``1 - p_alive``; without a model
it is ``1 - exp(-(days_since_last - mean_gap) / mean_gap)`` (0 when not overdue), the chance that a
buyer purchasing at random at their own mean rate (Poisson) would have come back in the extra time,
so the longer the silence relative to their rhythm, the nearer to 1. Rows are sorted by value at risk,
highest first.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

import polars as pl

from ravingfans.analytics.summary import Table, _as_lazy, _day_expr, _window, require_columns
from ravingfans.errors import ValidationFailed

SLIPPING_COLUMNS = (
    "customer_id", "segment", "FM", "purchases", "total_spend", "mean_gap", "gap_std", "days_since_last",
    "overdue_ratio", "p_alive", "previous_p_alive", "clv", "recent_spend", "earlier_spend", "misery_streak",
    "recent_rating", "earlier_rating", "annual_value", "risk", "value_at_risk", "overdue", "p_alive_low",
    "p_alive_dropped", "spend_falling", "ratings_worse", "signals", "reason", "rank",
)
SPEND_TREND_COLUMNS = ("recent_occasions", "recent_spend", "earlier_occasions", "earlier_spend")

_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine", 10: "ten"}


def slipping_fans(
    scores: Table,
    *,
    previous: Table | None = None,
    spend: Table | None = None,
    ratings: Table | None = None,
    customer_id_col: str = "customer_id",
    fan_min_fm: int = 4,
    min_purchases: int = 3,
    gap_multiple: float = 2.0,
    gap_sds: float = 2.0,
    p_alive_below: float = 0.5,
    p_alive_drop: float = 0.25,
    spend_drop: float = 0.5,
    misery_streak: int = 2,
    rating_drop: float = 1.0,
    ratings_until: date | datetime | None = None,
    time_unit_days: float = 1.0,
    soft_signals: int = 2,
    top: int | None = None,
) -> pl.DataFrame:
    """Former fans now below their own rhythm, with the signals, the value at risk and the reason in words.

    ``scores`` is the scores table (:func:`ravingfans.analytics.scoring.score_customers`): it needs
    ``customer_id_col``, FM, purchases, total_spend, recency, mean_gap, gap_std and days_since_last;
    ``segment``, ``p_alive`` and ``clv`` are used when present (null without a model). ``previous`` is
    an earlier scores table (``customer_id_col`` and ``p_alive``), ``spend`` a :func:`spend_trend`
    table and ``ratings`` a table of moments of truth (``customer_id_col``, ``occurred_at``, ``rating``
    in -1/0/1, nulls ignored; only those up to ``ratings_until`` when given). Rhythm columns are in
    units of ``time_unit_days`` days, ``days_since_last`` in days. A fan is listed when at least
    lapse signal fires (overdue, P(alive) low or dropped) or ``soft_signals`` of the two soft ones (falling
    spend, worse ratings) do; rows are ranked by ``value_at_risk`` and cut to ``top``.
    Columns: :data:`SLIPPING_COLUMNS` (``customer_id`` named as ``customer_id_col``).
    """
    _check_parameters(fan_min_fm=fan_min_fm, min_purchases=min_purchases, gap_multiple=gap_multiple,
                      gap_sds=gap_sds, p_alive_below=p_alive_below, p_alive_drop=p_alive_drop,
                      spend_drop=spend_drop, misery_streak=misery_streak, rating_drop=rating_drop,
                      time_unit_days=time_unit_days, soft_signals=soft_signals, top=top)
    cid = customer_id_col
    lf, _ = _as_lazy(scores)
    schema = lf.collect_schema()
    require_columns(schema, [cid, "FM", "purchases", "total_spend", "recency", "mean_gap", "gap_std",
                             "days_since_last"], table="scores")
    optional = {"segment": pl.String, "p_alive": pl.Float64, "clv": pl.Float64}
    lf = lf.with_columns(pl.lit(None, dtype).alias(c) for c, dtype in optional.items() if c not in schema)
    unit = float(time_unit_days)
    base = lf.filter((pl.col("FM") >= fan_min_fm) & (pl.col("purchases") >= min_purchases)).select(
        cid, "segment", "FM", "purchases", pl.col("total_spend").cast(pl.Float64),
        (pl.col("mean_gap") * unit).alias("mean_gap"), (pl.col("gap_std") * unit).alias("gap_std"),
        pl.col("days_since_last").cast(pl.Float64), (pl.col("recency") * unit).alias("_span"),
        pl.col("p_alive").cast(pl.Float64), pl.col("clv").cast(pl.Float64),
    )
    id_type = schema[cid]
    base = base.join(_previous(previous, cid, id_type), on=cid, how="left")
    base = base.join(_spend(spend, cid, id_type), on=cid, how="left")
    base = base.join(_ratings(ratings, cid, id_type, ratings_until), on=cid, how="left")

    gap, d = pl.col("mean_gap"), pl.col("days_since_last")
    threshold = pl.max_horizontal(gap_multiple * gap, gap + gap_sds * pl.col("gap_std").fill_null(0.0))
    rhythm_risk = 1.0 - (-((d - gap).clip(lower_bound=0.0) / gap)).exp()
    flags = base.with_columns(
        (d / gap).alias("overdue_ratio"),
        (d > threshold).fill_null(False).alias("overdue"),
        (pl.col("p_alive") < p_alive_below).fill_null(False).alias("p_alive_low"),
        ((pl.col("previous_p_alive") - pl.col("p_alive")) >= p_alive_drop).fill_null(False).alias("p_alive_dropped"),
        (pl.col("recent_spend") < (1.0 - spend_drop) * pl.col("earlier_spend")).fill_null(False)
        .alias("spend_falling"),
        ((pl.col("misery_streak") >= misery_streak)
         | (pl.col("recent_rating") <= pl.col("earlier_rating") - rating_drop)).fill_null(False)
        .alias("ratings_worse"),
        (365.0 * pl.col("total_spend") / pl.max_horizontal(pl.col("_span") + gap, 365.0)).alias("annual_value"),
        pl.when(pl.col("p_alive").is_not_null()).then(1.0 - pl.col("p_alive"))
        .otherwise(rhythm_risk).alias("risk"),
    ).with_columns(
        pl.sum_horizontal(pl.col(s).cast(pl.Int64) for s in _SIGNALS).alias("signals"),
        (pl.col("annual_value") * pl.col("risk")).alias("value_at_risk"),
    )
    lapsing = pl.col("overdue") | pl.col("p_alive_low") | pl.col("p_alive_dropped")
    soft = pl.col("spend_falling").cast(pl.Int64) + pl.col("ratings_worse").cast(pl.Int64)
    out = (flags.filter(lapsing | (soft >= soft_signals))
           .with_columns(_reason(misery_streak).alias("reason"))
           .sort(["value_at_risk", "overdue_ratio", cid], descending=[True, True, False], nulls_last=True)
           .with_row_index("rank", offset=1)
           .with_columns(pl.col("rank").cast(pl.Int64)))
    if top is not None:
        out = out.head(top)
    columns = [cid if c == "customer_id" else c for c in SLIPPING_COLUMNS]
    return out.select(columns).collect()


_SIGNALS = ("overdue", "p_alive_low", "p_alive_dropped", "spend_falling", "ratings_worse")


def spend_trend(
    transactions: Table,
    *,
    observation_end: date | datetime,
    recent_occasions: int = 3,
    min_earlier_occasions: int = 2,
    customer_id_col: str = "customer_id",
    datetime_col: str = "timestamp",
    monetary_value_col: str = "amount",
    order_id_col: str | None = None,
    timezone_name: str = "UTC",
) -> pl.DataFrame:
    """Per customer: mean spend of the last ``recent_occasions`` visits and of the visits before them.

    Occasions are those of :func:`ravingfans.analytics.summary.customer_summary` (one customer's net
    spend on one calendar day in ``timezone_name``, up to ``observation_end``, kept when positive; with
    ``order_id_col`` lines count on their order's first day). Only customers with at least
    ``recent_occasions + min_earlier_occasions`` occasions get a row. Columns: ``customer_id_col``,
    recent_occasions, recent_spend, earlier_occasions, earlier_spend. A group-by and a rank over a
    partition, like the summary, so SQL or Spark can run it too.
    """
    for name, value, low in (("recent_occasions", recent_occasions, 1),
                             ("min_earlier_occasions", min_earlier_occasions, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValidationFailed(f"{name} must be a whole number, {low} or more, not {value!r}", field=name)
    lf, _ = _as_lazy(transactions)
    schema = lf.collect_schema()
    cid = customer_id_col
    require_columns(schema, [cid, datetime_col, monetary_value_col] + ([order_id_col] if order_id_col else []),
                    table="transactions")
    ts_dtype = schema[datetime_col]
    if not isinstance(ts_dtype, (pl.Datetime, pl.Date)):
        raise ValidationFailed(f"column {datetime_col!r} must hold dates or datetimes, not {ts_dtype}",
                               field=datetime_col)
    in_window, _ = _window(ts_dtype, datetime_col, observation_end, timezone_name)
    rows = lf.filter(pl.col(cid).is_not_null() & pl.col(datetime_col).is_not_null() & in_window)
    when = pl.col(datetime_col)
    if order_id_col:
        first = rows.group_by(cid, order_id_col).agg(pl.col(datetime_col).min().alias("_start"))
        rows = rows.join(first, on=[cid, order_id_col], how="left")
        when = pl.coalesce(pl.col("_start"), pl.col(datetime_col))
    occasions = (rows.with_columns(_day_expr(when, ts_dtype, timezone_name).alias("_day"))
                 .group_by(cid, "_day").agg(pl.col(monetary_value_col).cast(pl.Float64).sum().alias("_net"))
                 .filter(pl.col("_net") > 0)
                 .with_columns(pl.col("_day").rank("ordinal", descending=True).over(cid).alias("_back")))
    recent = pl.col("_back") <= recent_occasions
    out = occasions.group_by(cid).agg(
        recent.sum().cast(pl.Int64).alias("recent_occasions"),
        pl.col("_net").filter(recent).mean().alias("recent_spend"),
        (~recent).sum().cast(pl.Int64).alias("earlier_occasions"),
        pl.col("_net").filter(~recent).mean().alias("earlier_spend"),
    ).filter((pl.col("recent_occasions") >= recent_occasions)
             & (pl.col("earlier_occasions") >= min_earlier_occasions))
    return out.sort(cid).collect()


def _previous(previous: Table | None, cid: str, id_type: pl.DataType) -> pl.LazyFrame:
    """The previous snapshot's P(alive) per customer (empty when there is none)."""
    if previous is None:
        return pl.LazyFrame(schema={cid: id_type, "previous_p_alive": pl.Float64})
    lf, _ = _as_lazy(previous)
    require_columns(lf.collect_schema(), [cid, "p_alive"], table="previous scores")
    return lf.select(_id(cid, id_type), pl.col("p_alive").cast(pl.Float64).alias("previous_p_alive")).unique(
        cid, keep="last")


def _spend(spend: Table | None, cid: str, id_type: pl.DataType) -> pl.LazyFrame:
    """Recent and earlier spend per visit, and how many visits are "recent" (empty when not given)."""
    columns = {cid: id_type, "recent_spend": pl.Float64, "earlier_spend": pl.Float64, "_recent_n": pl.Int64}
    if spend is None:
        return pl.LazyFrame(schema=columns)
    lf, _ = _as_lazy(spend)
    schema = lf.collect_schema()
    require_columns(schema, [cid, "recent_spend", "earlier_spend"], table="spend trend")
    n = pl.col("recent_occasions") if "recent_occasions" in schema else pl.lit(None)
    return lf.select(_id(cid, id_type), pl.col("recent_spend").cast(pl.Float64),
                     pl.col("earlier_spend").cast(pl.Float64), n.cast(pl.Int64).alias("_recent_n"))


def _ratings(ratings: Table | None, cid: str, id_type: pl.DataType, until: date | datetime | None) -> pl.LazyFrame:
    """Per customer: how many of the latest rated contacts in a row were misery; mean of the last 3 and before."""
    empty = {cid: id_type, "misery_streak": pl.Int64, "recent_rating": pl.Float64, "earlier_rating": pl.Float64}
    if ratings is None:
        return pl.LazyFrame(schema=empty)
    lf, _ = _as_lazy(ratings)
    schema = lf.collect_schema()
    require_columns(schema, [cid, "occurred_at", "rating"], table="ratings")
    if not schema["rating"].is_numeric():
        raise ValidationFailed(f"column 'rating' must hold -1, 0 or 1, not {schema['rating']}", field="rating")
    rated = lf.filter(pl.col("rating").is_not_null() & pl.col(cid).is_not_null())
    if until is not None:
        rated = rated.filter(_until(schema["occurred_at"], until))
    back = pl.col("occurred_at").rank("ordinal", descending=True).over(cid)
    rated = rated.with_columns(back.alias("_back"), pl.col("rating").cast(pl.Float64), _id(cid, id_type))
    # the streak: position of the latest non-misery rating, minus one (or all of them if none)
    not_misery = pl.col("_back").filter(pl.col("rating") > -1).min()
    recent = pl.col("_back") <= 3
    return rated.group_by(cid).agg(
        pl.coalesce(not_misery - 1, pl.len()).cast(pl.Int64).alias("misery_streak"),
        pl.col("rating").filter(recent).mean().alias("recent_rating"),
        pl.when((~recent).sum() >= 3).then(pl.col("rating").filter(~recent).mean()).alias("earlier_rating"),
    )


def _until(dtype: pl.DataType, until: date | datetime) -> pl.Expr:
    """Ratings up to ``until`` (a date includes that day, in UTC; a naive datetime is UTC)."""
    col = pl.col("occurred_at")
    if isinstance(until, datetime):
        instant = until if until.tzinfo else until.replace(tzinfo=timezone.utc)
        if isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
            return col <= pl.lit(instant.astimezone(timezone.utc).replace(tzinfo=None), dtype=pl.Datetime("us"))
        if isinstance(dtype, pl.Datetime):
            return col <= pl.lit(instant).dt.convert_time_zone(dtype.time_zone or "UTC")
        return col <= instant.astimezone(timezone.utc).date()
    if isinstance(dtype, pl.Datetime):
        return col.dt.date() <= until
    return col <= until


def _id(cid: str, id_type: pl.DataType) -> pl.Expr:
    """The id column cast to the scores table's id type, so the side tables join."""
    return pl.col(cid).cast(id_type)


def _reason(misery_streak: int) -> pl.Expr:
    """The signals in plain words, joined with '; ' (e.g. 'buys every 41 days on average; 150 days since...')."""
    whole = lambda e: e.round(0).cast(pl.Int64)  # noqa: E731 - a tiny local formatter
    pct = lambda e: pl.when(e < 0.005).then(pl.lit("under 1")).otherwise(  # noqa: E731
        (e * 100).round(0).cast(pl.Int64).cast(pl.String))
    gap_words = pl.format("buys every {} days on average; {} days since the last visit",
                          whole(pl.col("mean_gap")), whole(pl.col("days_since_last")))
    dropped = pl.format("chance they are still a customer fell from {}% to {}% since the last scoring",
                        pct(pl.col("previous_p_alive")), pct(pl.col("p_alive")))
    low = pl.format("{}% chance they are still a customer", pct(pl.col("p_alive")))  # "under 1% chance ..."
    visits = pl.when(pl.col("_recent_n").is_not_null()).then(pl.format("on the last {} visits", pl.col("_recent_n"))) \
        .otherwise(pl.lit("lately"))
    spend = pl.format("spends {} a visit {}, down from {} before",
                      whole(pl.col("recent_spend")), visits, whole(pl.col("earlier_spend")))
    streak = pl.col("misery_streak")
    streak_words = streak.replace_strict(_WORDS, default=streak.cast(pl.String), return_dtype=pl.String)
    misery = pl.when(streak >= 2).then(pl.format("last {} contacts rated misery", streak_words)) \
        .otherwise(pl.lit("last contact rated misery"))
    worse = pl.format("recent contacts rated worse than before (average {} against {})",
                      _signed(pl.col("recent_rating")), _signed(pl.col("earlier_rating")))
    parts = [
        pl.when(pl.col("overdue")).then(gap_words),
        pl.when(pl.col("p_alive_dropped")).then(dropped).when(pl.col("p_alive_low")).then(low),
        pl.when(pl.col("spend_falling")).then(spend),
        pl.when(pl.col("ratings_worse") & (streak >= misery_streak)).then(misery)
        .when(pl.col("ratings_worse")).then(worse),
    ]
    return pl.concat_list(parts).list.drop_nulls().list.join("; ")


def _signed(e: pl.Expr) -> pl.Expr:
    """A rating mean as '+0.40' / '-0.67'."""
    rounded = e.round(2)
    text = rounded.abs().cast(pl.String).str.pad_end(4, "0")
    return pl.when(rounded < 0).then(pl.lit("-") + text).otherwise(pl.lit("+") + text)


def _check_parameters(**values: Any) -> None:
    """Refuse thresholds that make the list meaningless, naming the parameter."""
    whole = {"fan_min_fm": (1, 5), "min_purchases": (1, None), "misery_streak": (1, None), "soft_signals": (1, 2)}
    for name, (low, high) in whole.items():
        v = values[name]
        if isinstance(v, bool) or not isinstance(v, int) or v < low or (high is not None and v > high):
            span = f"between {low} and {high}" if high is not None else f"{low} or more"
            raise ValidationFailed(f"{name} must be a whole number {span}, not {v!r}", field=name)
    top = values["top"]
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or top < 1):
        raise ValidationFailed(f"top must be a whole number, 1 or more, not {top!r}", field="top")
    for name in ("gap_multiple", "gap_sds", "rating_drop", "time_unit_days"):
        v = values[name]
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not v > 0:
            raise ValidationFailed(f"{name} must be a number more than 0, not {v!r}", field=name)
    for name in ("p_alive_below", "p_alive_drop", "spend_drop"):
        v = values[name]
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 < v < 1:
            raise ValidationFailed(f"{name} must be a share between 0 and 1, not {v!r}", field=name)

