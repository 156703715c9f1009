"""What appeals to fans: products, categories, channels, locations and staff over-represented among fans.

For each value of a dimension (a product, a category, a channel, ...) count the customers who have it
(``customers``) and the fans among them (``fan_customers``). With ``K`` fans among ``N`` customers:

* ``fan_share = fan_customers / K`` is the *support* of the value among fans, and ``base_share =
  customers / N`` its support among everyone;
* ``lift = fan_share / base_share``: how many times more common the value is among fans than in
  general (1 = no difference). Support and lift are the measures of association-rule mining (Agrawal,
  Imielinski & Swami 1993, "Mining association rules between sets of items in large databases",
  SIGMOD; lift as "interest" in Brin, Motwani & Silverstein 1997, "Beyond market baskets", SIGMOD),
  here for the rule "has value -> is a fan".
* A one-sided hypergeometric test asks how likely it is to find at least ``fan_customers`` fans
  when ``customers`` people are drawn at random from ``N`` of whom ``K`` are fans (Fisher's exact test
  for over-representation). The p-values of every value tested are adjusted together for the false
  discovery rate by Benjamini & Hochberg (1995, JRSS B 57(1)), giving ``q_value``.
* ``significant`` needs ``q_value < alpha`` *and* a minimum support (``min_fan_customers`` fans and a
  ``min_support`` share of all fans), so a group of three customers who all happen to be fans (lift
  10!) never tops the list.

The work is split in two: :func:`affinity_counts` is a pure group-by and join over the long facts
table (so SQL or Spark can run the same plan on billions of rows), and :func:`affinity` tests and
ranks the small aggregated table (one row per value) with scipy. :func:`affinity_facts` builds the
facts table from orders and order lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from ravingfans.analytics.summary import Table, _as_lazy, _restore, require_columns
from ravingfans.errors import ValidationFailed

COUNT_COLUMNS = ("value", "fan_customers", "customers", "fans", "population")
TEST_COLUMNS = ("fan_share", "base_share", "lift", "p_value", "q_value", "significant")

#: Dimensions :func:`affinity_facts` knows, and the default column each is read from.
ORDER_DIMENSIONS = {"channel": "channel", "location": "location", "employee": "employee_id"}
LINE_DIMENSIONS = {"product": "product", "category": "category"}

_FAN = "_is_fan"


def affinity_counts(
    facts: Table,
    fans: Any,
    *,
    customer_id_col: str = "customer_id",
    value_col: str = "value",
    dimension_col: str | None = None,
    population: int | None = None,
) -> Table:
    """Per value: customers having it, fans among them, and the totals; a pure group-by/join (Spark-ready).

    ``facts`` is a long table with one row per customer per value they have (duplicates are fine: a
    customer counts once per value). ``fans`` holds the fans' customer ids: a table with
    ``customer_id_col``, a Series, or any iterable of ids. ``population`` (N) is the number of
    customers everyone is compared with; by default the distinct customers in ``facts``, and then the
    fans counted (K, column ``fans``) are the fans that appear in ``facts``; with an explicit
    ``population`` K is the number of distinct fan ids given. With ``dimension_col`` (e.g. "product",
    "channel") values are kept apart per dimension; N and K are the same for every dimension. Output:
    ``[dimension_col,] value_col, fan_customers, customers, fans, population``, sorted by dimension and
    value; the same kind of table as ``facts``.
    """
    lf, kind = _as_lazy(facts)
    keys = ([dimension_col] if dimension_col else []) + [value_col]
    require_columns(lf.collect_schema(), [customer_id_col, *keys], table="facts")
    cid = customer_id_col
    fan_ids = _fan_ids(fans, cid, lf.collect_schema()[cid])
    if population is not None and (isinstance(population, bool) or not isinstance(population, int)
                                   or population < 1):
        raise ValidationFailed(f"population must be a whole number of customers, 1 or more, not {population!r}",
                               field="population")

    pairs = lf.filter(pl.col(cid).is_not_null() & pl.col(value_col).is_not_null()).select(cid, *keys).unique()
    flagged = pairs.join(fan_ids.with_columns(pl.lit(1, pl.Int64).alias(_FAN)), on=cid, how="left")
    counts = flagged.group_by(keys).agg(
        pl.col(_FAN).sum().cast(pl.Int64).alias("fan_customers"),
        pl.len().cast(pl.Int64).alias("customers"),
    )
    if population is None:
        everyone = lf.filter(pl.col(cid).is_not_null()).select(cid).unique()
        totals = everyone.join(fan_ids.with_columns(pl.lit(1, pl.Int64).alias(_FAN)), on=cid, how="left").select(
            pl.col(_FAN).sum().cast(pl.Int64).alias("fans"), pl.len().cast(pl.Int64).alias("population"),
        )
    else:
        totals = fan_ids.select(pl.len().cast(pl.Int64).alias("fans"),
                                pl.lit(population, pl.Int64).alias("population"))
    out = counts.join(totals, how="cross").select(*keys, "fan_customers", "customers", "fans", "population")
    return _restore(out.sort(keys), kind)


def affinity(
    facts: Table,
    fans: Any,
    *,
    customer_id_col: str = "customer_id",
    value_col: str = "value",
    dimension_col: str | None = None,
    population: int | None = None,
    min_fan_customers: int = 5,
    min_support: float = 0.01,
    alpha: float = 0.05,
) -> pl.DataFrame:
    """Values over-represented among fans: support, lift, hypergeometric p, BH q and a significance flag.

    Counts as :func:`affinity_counts`; then per value ``fan_share``, ``base_share``, ``lift``,
    ``p_value`` (one-sided hypergeometric, P(at least this many fans by chance)), ``q_value``
    (Benjamini-Hochberg over every row tested) and ``significant`` (``q_value < alpha`` and
    ``fan_customers >= min_fan_customers`` and ``fan_share >= min_support``). Sorted significant first,
    then by lift (highest first), then p-value. Returns a Polars DataFrame (the table is small).
    """
    if not 0 < alpha < 1:
        raise ValidationFailed(f"alpha must be between 0 and 1, not {alpha!r}", field="alpha")
    if not 0 <= min_support <= 1:
        raise ValidationFailed(f"min_support is a share of the fans, between 0 and 1, not {min_support!r}",
                               field="min_support")
    if isinstance(min_fan_customers, bool) or not isinstance(min_fan_customers, int) or min_fan_customers < 0:
        raise ValidationFailed(f"min_fan_customers must be a whole number, 0 or more, not {min_fan_customers!r}",
                               field="min_fan_customers")
    counts = affinity_counts(facts, fans, customer_id_col=customer_id_col, value_col=value_col,
                             dimension_col=dimension_col, population=population)
    frame = counts if isinstance(counts, pl.DataFrame) else (
        counts.collect() if isinstance(counts, pl.LazyFrame) else pl.from_arrow(counts))
    assert isinstance(frame, pl.DataFrame)
    return score_counts(frame, min_fan_customers=min_fan_customers, min_support=min_support, alpha=alpha)


def score_counts(counts: pl.DataFrame, *, min_fan_customers: int = 5, min_support: float = 0.01,
                 alpha: float = 0.05) -> pl.DataFrame:
    """The test stage alone, on a counts table from :func:`affinity_counts` (or from Spark/SQL running its plan)."""
    require_columns(counts.schema, ["fan_customers", "customers", "fans", "population"], table="counts")
    a = counts["fan_customers"].to_numpy().astype(np.int64)
    n = counts["customers"].to_numpy().astype(np.int64)
    k = counts["fans"].to_numpy().astype(np.int64)
    big_n = counts["population"].to_numpy().astype(np.int64)
    if len(counts) and (np.any(n > big_n) or np.any(a > n) or np.any(k > big_n)):
        raise ValidationFailed("counts are inconsistent: more customers with a value than the population, "
                               "or more fans than customers", field="population",
                               hint="pass population=None to count the customers in the facts table")
    # P(X >= a) for X ~ Hypergeom(N, K, n): sf is P(X > a - 1).
    from scipy import stats  # here, not at import: scipy.stats costs ~0.5 s that `analyze` never needs

    p = stats.hypergeom.sf(a - 1, big_n, k, n) if len(counts) else np.empty(0)
    p = np.clip(np.nan_to_num(p, nan=1.0), 0.0, 1.0)
    q = stats.false_discovery_control(p, method="bh") if len(p) else np.empty(0)
    out = counts.with_columns(
        pl.when(pl.col("fans") > 0).then(pl.col("fan_customers") / pl.col("fans")).otherwise(0.0).alias("fan_share"),
        (pl.col("customers") / pl.col("population")).alias("base_share"),
    ).with_columns(
        pl.when(pl.col("base_share") > 0).then(pl.col("fan_share") / pl.col("base_share"))
        .otherwise(None).alias("lift"),
        pl.Series("p_value", p, dtype=pl.Float64),
        pl.Series("q_value", q, dtype=pl.Float64),
    ).with_columns(
        ((pl.col("q_value") < alpha) & (pl.col("fan_customers") >= min_fan_customers)
         & (pl.col("fan_share") >= min_support)).alias("significant"),
    )
    return out.sort(["significant", "lift", "p_value"], descending=[True, True, False], nulls_last=True)


def affinity_facts(
    orders: Table,
    lines: Table | None = None,
    *,
    dimensions: Iterable[str] = ("product", "category", "channel", "location", "employee"),
    columns: Mapping[str, str] | None = None,
    customer_id_col: str = "customer_id",
    order_id_col: str = "order_id",
    amount_col: str | None = "amount",
    per_order: bool = False,
) -> pl.DataFrame:
    """A long facts table (customer_id, dimension, value) from orders and their lines, for :func:`affinity`.

    Order-level dimensions (channel, location, employee) are read from ``orders``; line-level ones
    (product, category) from ``lines`` joined to ``orders`` on ``order_id_col``, keeping only lines
    with a positive ``amount_col`` (things bought, not returns or refunds; ``None`` keeps every line).
    ``columns`` maps a dimension name to the column holding it (defaults: channel, location,
    employee_id, product, category); any other name in ``dimensions`` must be mapped there, and is read
    from ``orders`` if that table has the column, else from ``lines``. Cancelled orders are the
    caller's to leave out. Missing values (web orders have no employee) give no fact.

    Fans buy more often, so with customers as the unit they "have" more of everything and lift partly
    measures how much they buy. ``per_order=True`` gives one row per *order* and value instead, with
    columns ``order_id_col, customer_id_col, dimension, value``: pass ``customer_id_col=order_id_col``
    and the fans' orders to :func:`affinity` to compare what is in fans' orders with what is in
    everyone's (a customer's orders are alike, so read its p-values as optimistic).
    """
    mapping = {**ORDER_DIMENSIONS, **LINE_DIMENSIONS, **(dict(columns) if columns else {})}
    olf, _ = _as_lazy(orders)
    order_schema = olf.collect_schema()
    require_columns(order_schema, [customer_id_col], table="orders")
    llf = None
    parts: list[pl.LazyFrame] = []
    oid = [pl.col(order_id_col)] if per_order else []
    for dim in dict.fromkeys(dimensions):
        col = mapping.get(dim)
        if col is None:
            raise ValidationFailed(f"unknown dimension {dim!r}: name its column in columns={{{dim!r}: ...}}",
                                   field="dimensions")
        if dim in LINE_DIMENSIONS or dim in ORDER_DIMENSIONS:
            from_lines = dim in LINE_DIMENSIONS
        else:
            from_lines = col not in order_schema and lines is not None
        if not from_lines:
            require_columns(order_schema, [col], table="orders")
            if per_order:
                require_columns(order_schema, [order_id_col], table="orders")
            src = olf.select(*oid, pl.col(customer_id_col).alias("customer_id"), pl.col(col).alias("value"))
        else:
            if lines is None:
                raise ValidationFailed(f"dimension {dim!r} comes from order lines: pass the lines table",
                                       field="lines")
            if llf is None:
                llf, _ = _as_lazy(lines)
                line_schema = llf.collect_schema()
                require_columns(order_schema, [order_id_col], table="orders")
                require_columns(line_schema, [order_id_col] + ([amount_col] if amount_col else []), table="lines")
                if amount_col:
                    llf = llf.filter(pl.col(amount_col) > 0)
                llf = llf.join(olf.select(order_id_col, pl.col(customer_id_col).alias("_cid")),
                               on=order_id_col, how="inner")
            require_columns(llf.collect_schema(), [col], table="lines")
            src = llf.select(*oid, pl.col("_cid").alias("customer_id"), pl.col(col).alias("value"))
        parts.append(src.select(*oid, pl.col("customer_id"), pl.lit(dim).alias("dimension"),
                                pl.col("value").cast(pl.String)).drop_nulls())
    if not parts:
        raise ValidationFailed("name at least one dimension", field="dimensions")
    keys = ["dimension", "value", "customer_id"] + ([order_id_col] if per_order else [])
    out = pl.concat(parts).unique().sort(keys).collect()
    return out.rename({"customer_id": customer_id_col}) if customer_id_col != "customer_id" else out


def _fan_ids(fans: Any, cid: str, dtype: pl.DataType) -> pl.LazyFrame:
    """The distinct fan ids as a one-column LazyFrame named ``cid``, cast to the facts' id type."""
    if isinstance(fans, (pl.DataFrame, pl.LazyFrame, pa.Table)):
        lf, _ = _as_lazy(fans)
        schema = lf.collect_schema()
        if cid not in schema:
            have = ", ".join(schema.names()) or "none"
            raise ValidationFailed(f"the fans table has no column {cid!r} (it has: {have})", field=cid)
        ids = lf.select(pl.col(cid))
    elif isinstance(fans, pl.Series):
        ids = fans.rename(cid).to_frame().lazy()
    elif isinstance(fans, (str, bytes)) or not isinstance(fans, Iterable):
        raise ValidationFailed(f"fans must be a table, a Series or a list of customer ids, not "
                               f"{type(fans).__name__}", field="fans")
    else:
        ids = pl.LazyFrame({cid: list(fans)})
    try:
        return ids.select(pl.col(cid).cast(dtype)).drop_nulls().unique().collect().lazy()
    except pl.exceptions.PolarsError:
        raise ValidationFailed(f"fan ids do not match the type of column {cid!r} ({dtype})", field=cid) from None
