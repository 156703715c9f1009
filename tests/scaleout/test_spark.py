"""The Spark stages give the embedded engine's results on the same data: summary, compress, RFM, affinity."""

from __future__ import annotations

import importlib.util
import math
import os
import re
from pathlib import Path
from datetime import date, datetime, timedelta, timezone
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from ravingfans import analytics
from ravingfans.analytics.affinity import affinity as embedded_affinity
from ravingfans.analytics.affinity import affinity_counts, affinity_facts
from ravingfans.analytics.btyd import bgnbd
from ravingfans.errors import ValidationFailed

sc = pytest.importorskip("ravingfans.scaleout")  # the package itself needs no pyspark: never skips

# With `pytest -n N --dist loadgroup` every Spark test runs on one worker: one JVM, not N.
pytestmark = pytest.mark.xdist_group("spark")

END = date(2024, 3, 31)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def _tx(rows: list[tuple], *, order_ids: bool = False) -> pl.DataFrame:
    schema: dict[str, Any] = {"customer_id": pl.String, "timestamp": pl.Datetime("us", "UTC"), "amount": pl.Int64}
    if order_ids:
        schema["order_id"] = pl.String
    return pl.DataFrame(rows, schema=schema, orient="row")


# amounts in cents; every case the summary has to get right, in one ledger
LEDGER = _tx([
    ("a", utc(2024, 3, 1, 10), 2000, "A1"),
    ("a", utc(2024, 3, 1, 16, 30), 1000, "A2"),   # same day: one occasion
    ("a", utc(2024, 3, 4, 11), 1500, "A3"),
    ("a", utc(2024, 3, 4, 12), -500, "A3"),       # refund the same day
    ("a", utc(2024, 3, 11, 9), 800, "A4"),
    ("a", utc(2024, 3, 11, 17), -800, "A4"),      # fully refunded day: no purchase
    ("a", utc(2024, 3, 15, 14), 2500, "A5"),
    ("a", utc(2024, 3, 22, 9), -1000, "A5"),      # refund a week later: own day, or A5's with order ids
    ("a", utc(2024, 4, 2, 9), 9999, "A6"),        # after the observation end
    ("b", utc(2024, 3, 20, 13), 4000, "B1"),      # one purchase only
    ("c", utc(2024, 3, 5, 23, 30), 1200, "C1"),   # 23:30 UTC: Mar 6 in Berlin, Mar 5 in New York
    ("c", utc(2024, 3, 6, 0, 30), 600, "C2"),     # 00:30 UTC: one day with C1 in Berlin, two in UTC
    ("c", utc(2024, 3, 25, 10), 600, None),       # no order id: its own day
    ("d", utc(2024, 3, 10, 10), -300, "D1"),      # only a refund: never a customer
    ("e", utc(2024, 4, 5, 10), 700, "E1"),        # first purchase after the end: absent
    ("f", utc(2024, 3, 31, 6), 300, "F1"),        # on the last day: in with a date end, out before 06:00
    ("f", utc(2024, 2, 1, 12), 450, "F0"),
    ("f", utc(2024, 2, 1, 12), 50, "F0"),
    ("g", utc(2024, 3, 30, 23, 59), 100, "G1"),   # the last day in UTC, Mar 31 in Tokyo
    (None, utc(2024, 3, 6, 10), 5000, "X1"),      # anonymous sale
], order_ids=True)


def assert_same(embedded: pl.DataFrame, spark_frame: Any, *, key: str | list[str] = "customer_id") -> None:
    """Equal tables: same columns and types, integers/dates/strings exactly, floats to 1e-12 relative.

    Floats are not compared bit for bit: Polars divides by a scalar either exactly or through the
    reciprocal depending on the table's size (1 ulp apart), so no other engine can match it bit for bit
    on every table.
    """
    other = spark_frame if isinstance(spark_frame, pl.DataFrame) else sc.to_polars(spark_frame)
    assert other.columns == embedded.columns
    for name in embedded.columns:
        a, b = embedded.schema[name], other.schema[name]
        assert type(a) is type(b) if isinstance(a, pl.Decimal) else a == b, f"{name}: {a} vs {b}"
    left, right = embedded.sort(key, nulls_last=True), other.sort(key, nulls_last=True)
    assert left.height == right.height
    for name in embedded.columns:
        x, y = left[name].to_list(), right[name].to_list()
        if embedded.schema[name].is_float():
            assert [v is None for v in x] == [v is None for v in y], name
            for u, v in zip(x, y, strict=True):
                if u is not None:
                    assert math.isclose(u, v, rel_tol=1e-12, abs_tol=1e-12), (name, u, v)
        else:
            assert x == y, name


def _both(frame: pl.DataFrame, spark: Any, **kwargs: Any) -> tuple[pl.DataFrame, Any]:
    return analytics.customer_summary(frame, **kwargs), sc.customer_summary(sc.from_polars(spark, frame), **kwargs)


@pytest.mark.parametrize("kwargs", [
    {"observation_end": END},
    {"observation_end": END, "order_id_col": "order_id"},
    {"observation_end": END, "timezone_name": "Europe/Berlin"},
    {"observation_end": END, "timezone_name": "America/New_York", "order_id_col": "order_id"},
    {"observation_end": END, "timezone_name": "Asia/Tokyo"},
    {"observation_end": datetime(2024, 3, 31, 5, 59)},                                   # naive: UTC
    {"observation_end": datetime(2024, 3, 31, 8, tzinfo=timezone(timedelta(hours=9))), "timezone_name": "Asia/Tokyo"},
    {"observation_end": datetime(2024, 3, 30, 23, 0, tzinfo=timezone.utc), "timezone_name": "Asia/Tokyo"},
    {"observation_end": END, "time_unit": "W"},
    {"observation_end": END, "time_unit": timedelta(days=30, hours=12)},
    {"observation_end": END, "time_unit": "W", "order_id_col": "order_id", "timezone_name": "Europe/Berlin"},
])
def test_summary_matches_on_the_tricky_ledger(spark: Any, kwargs: dict[str, Any]) -> None:
    embedded, on_spark = _both(LEDGER, spark, **kwargs)
    assert embedded.height >= 3  # the cases are not vacuous
    assert_same(embedded, on_spark)


def test_the_tricky_ledger_hits_its_cases(spark: Any) -> None:
    """The ledger does exercise what it claims to (checked on Spark's own numbers)."""
    plain = {r["customer_id"]: r for r in sc.to_polars(
        sc.customer_summary(sc.from_polars(spark, LEDGER), observation_end=END)).to_dicts()}
    by_order = {r["customer_id"]: r for r in sc.to_polars(sc.customer_summary(
        sc.from_polars(spark, LEDGER), observation_end=END, order_id_col="order_id")).to_dicts()}
    berlin = {r["customer_id"]: r for r in sc.to_polars(sc.customer_summary(
        sc.from_polars(spark, LEDGER), observation_end=END, timezone_name="Europe/Berlin")).to_dicts()}
    assert set(plain) == {"a", "b", "c", "f", "g"}
    assert (plain["a"]["purchases"], plain["a"]["total_spend"]) == (3, 5500)  # Mar 11, 22: no visit, still net spend
    assert (by_order["a"]["purchases"], by_order["a"]["total_spend"]) == (3, 5500)  # Mar 22 refund nets into A5
    assert (plain["c"]["purchases"], berlin["c"]["purchases"]) == (3, 2)
    assert plain["b"]["frequency"] == 0 and plain["b"]["mean_gap"] is None


def test_naive_datetimes_and_dates_match(spark: Any) -> None:
    naive = LEDGER.with_columns(pl.col("timestamp").dt.replace_time_zone(None))
    as_dates = LEDGER.with_columns(pl.col("timestamp").dt.date())
    on_spark = sc.from_polars(spark, naive)
    assert on_spark.schema["timestamp"].dataType.simpleString() == "timestamp_ntz"
    for frame in (naive, as_dates):
        for end in (END, datetime(2024, 3, 31, 5, 59), datetime(2024, 3, 30, 20, tzinfo=timezone(timedelta(hours=-5)))):
            for tz in ("UTC", "Asia/Tokyo"):
                assert_same(*_both(frame, spark, observation_end=end, timezone_name=tz, order_id_col="order_id"))


def test_without_amounts_and_with_other_column_names(spark: Any) -> None:
    assert_same(*_both(LEDGER.drop("amount"), spark, observation_end=END, monetary_value_col=None))
    renamed = LEDGER.rename({"customer_id": "who", "timestamp": "when", "amount": "cents"})
    assert_same(*_both(renamed, spark, observation_end=END, customer_id_col="who", datetime_col="when",
                       monetary_value_col="cents"), key="who")


def test_decimal_and_float_amounts(spark: Any) -> None:
    cents = LEDGER.filter(pl.col("customer_id").is_not_null())
    decimal = cents.with_columns((pl.col("amount").cast(pl.Decimal(12, 0)) / 100).cast(pl.Decimal(12, 2)))
    floats = cents.with_columns(pl.col("amount") / 100)
    for frame in (decimal, floats):
        embedded, on_spark = _both(frame, spark, observation_end=END, order_id_col="order_id")
        assert_same(embedded, on_spark)
    assert sc.to_polars(on_spark.filter("customer_id = 'f'"))["total_spend"].to_list() == [8.0]


def test_compress_and_the_fit_use_only_the_compressed_table(spark: Any) -> None:
    embedded, on_spark = _both(LEDGER, spark, observation_end=END)
    assert_same(analytics.compress(embedded), sc.compress(on_spark), key=["frequency", "recency", "T"])
    collected = sc.collect_compressed(on_spark)
    assert_same(analytics.compress(embedded), collected, key=["frequency", "recency", "T"])
    assert collected["count"].sum() == embedded.height


def test_rfm_scores_and_segments_match(spark: Any) -> None:
    embedded, on_spark = _both(LEDGER, spark, observation_end=END, order_id_col="order_id")
    scored = analytics.rfm_segments(analytics.rfm_scores(embedded))
    assert_same(scored, sc.rfm_segments(sc.rfm_scores(on_spark)))


def test_rfm_ties_small_tables_nulls_and_a_custom_map(spark: Any) -> None:
    summary = pl.DataFrame({
        "customer_id": ["A", "B", "C", "D", "E", "F", "G"],
        "last_purchase": [date(2024, 3, 30), date(2024, 3, 30), date(2024, 3, 20), date(2024, 3, 10),
                          date(2024, 2, 1), date(2024, 1, 15), None],
        "frequency": [5, 0, 2, 0, 1, 0, 3],
        "total_spend": [9000, 500, 3000, 500, None, 100, 700],
    })
    one_segment = [("Everyone", (1, 5), (1, 5))]
    for n in (1, 2, 3, 4, 7):
        part = summary.head(n)
        assert_same(analytics.rfm_segments(analytics.rfm_scores(part)),
                    sc.rfm_segments(sc.rfm_scores(sc.from_polars(spark, part))))
    assert_same(analytics.rfm_segments(analytics.rfm_scores(summary), one_segment, segment_col="who"),
                sc.rfm_segments(sc.rfm_scores(sc.from_polars(spark, summary)), one_segment, segment_col="who"))
    scores = sc.to_polars(sc.rfm_scores(sc.from_polars(spark, summary))).sort("customer_id")
    assert scores.filter(pl.col("customer_id") == "G")["R"].to_list() == [None]
    assert scores.filter(pl.col("customer_id") == "E")["M"].to_list() == [None]


# --- generated ledgers -----------------------------------------------------------------------------

BASE = datetime(2024, 1, 1, tzinfo=timezone.utc)
lines = st.lists(
    st.tuples(st.integers(0, 5), st.integers(0, 60 * 24), st.integers(-3000, 5000), st.integers(0, 12)),
    max_size=50,
)


# No shrinking: every example is a few Spark jobs, and shrinking would run hundreds of them.
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(rows=lines, end_hours=st.integers(0, 62 * 24), as_date=st.booleans(), by_order=st.booleans(),
       unit=st.sampled_from(["D", timedelta(days=2), timedelta(hours=12)]),  # exact divisions: see below
       tz=st.sampled_from(["UTC", "America/Los_Angeles", "Asia/Kolkata", "Pacific/Auckland"]))
def test_generated_ledgers_match(spark: Any, rows: list[tuple[int, int, int, int]], end_hours: int,
                                 as_date: bool, by_order: bool, unit: Any, tz: str) -> None:
    frame = pl.DataFrame(
        [(c, BASE + timedelta(hours=h), a, f"{c}-{o}") for c, h, a, o in rows],
        schema={"customer_id": pl.Int64, "timestamp": pl.Datetime("us", "UTC"), "amount": pl.Int64,
                "order_id": pl.String}, orient="row",
    )
    end: date | datetime = BASE + timedelta(hours=end_hours)
    if as_date:
        end = end.date()
    kwargs = {"observation_end": end, "time_unit": unit, "timezone_name": tz,
              "order_id_col": "order_id" if by_order else None}
    embedded = analytics.customer_summary(frame.lazy(), **kwargs).collect()  # lazy: no end check, as on Spark
    on_spark = sc.customer_summary(sc.from_polars(spark, frame), **kwargs)
    assert_same(embedded, on_spark)
    assert_same(analytics.rfm_segments(analytics.rfm_scores(embedded)), sc.rfm_segments(sc.rfm_scores(on_spark)))
    assert_same(analytics.compress(embedded), sc.collect_compressed(on_spark), key=["frequency", "recency", "T"])


def test_equal_ages_give_one_compressed_row_in_weeks(spark: Any) -> None:
    """Spark gives one row per distinct (frequency, recency, T); the embedded engine must too.

    Polars (2.1) divides a column by a scalar through the reciprocal for most rows and exactly for a
    few (by position), so two customers of the same age in weeks or 3-day units could get T values 1 ulp
    apart, and ``compress`` would count them as two rows; both engines multiply by the reciprocal.
    """
    base = datetime(2024, 1, 1, tzinfo=timezone.utc)
    frame = pl.DataFrame({"customer_id": [0, 1, 2], "timestamp": [base + timedelta(days=1), base, base],
                          "amount": [1, 1, 1]})
    kwargs = {"observation_end": base + timedelta(days=7), "time_unit": timedelta(days=3)}
    collected = sc.collect_compressed(sc.customer_summary(sc.from_polars(spark, frame), **kwargs))
    assert collected["count"].to_list() == [1, 2]  # ages 6 and 7 days (twice)
    embedded = analytics.compress(analytics.customer_summary(frame, **kwargs))
    assert embedded["count"].to_list() == [1, 2], "the embedded summary splits equal ages (see docstring)"


# --- the demo business -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo() -> Any:
    from ravingfans.demo import generate

    return generate(seed=7, customers=500)


@pytest.fixture(scope="module")
def demo_ledger(demo: Any) -> pl.DataFrame:
    """Every line of every kept order, signed, with the order a return belongs to."""
    orders = {o.key: o for o in demo.orders if o.cancelled_at is None}
    return pl.DataFrame(
        [(o.customer_key, o.returns_order or o.key, o.placed_at, line.amount)
         for line in demo.lines if (o := orders.get(line.order_key))],
        schema={"customer_id": pl.String, "order_id": pl.String, "timestamp": pl.Datetime("us", "UTC"),
                "amount": pl.Decimal(12, 2)}, orient="row",
    )


def test_demo_business_summary_rfm_and_fit(spark: Any, demo: Any, demo_ledger: pl.DataFrame) -> None:
    kwargs = {"observation_end": demo.end, "order_id_col": "order_id", "timezone_name": demo.time_zone}
    embedded, on_spark = _both(demo_ledger, spark, **kwargs)
    on_spark = on_spark.cache()
    assert embedded.height > 300
    assert_same(embedded, on_spark)
    assert_same(analytics.rfm_segments(analytics.rfm_scores(embedded)), sc.rfm_segments(sc.rfm_scores(on_spark)))
    weekly, weekly_spark = _both(demo_ledger, spark, time_unit="W", **kwargs)
    assert_same(weekly, weekly_spark)
    collected = sc.collect_compressed(on_spark)
    assert_same(analytics.compress(embedded), collected, key=["frequency", "recency", "T"])
    assert collected.height < embedded.height  # customers share rows: the fit sees fewer than everyone
    fit_spark, fit_embedded = bgnbd.fit(collected), bgnbd.fit(analytics.compress(embedded))
    for name in ("r", "alpha", "a", "b", "log_likelihood"):
        assert math.isclose(getattr(fit_spark, name), getattr(fit_embedded, name), rel_tol=1e-9)
    on_spark.unpersist()


def test_demo_business_affinity(spark: Any, demo: Any) -> None:
    orders = pl.DataFrame(
        [(o.key, o.customer_key, o.channel, o.location, o.employee_key) for o in demo.orders if o.cancelled_at is None],
        schema=["order_id", "customer_id", "channel", "location", "employee_id"], orient="row",
    )
    products = {v.sku: v.product_key for v in demo.variants}
    category = {p.key: p.category for p in demo.products}
    lines_table = pl.DataFrame(
        [(x.order_key, products.get(x.sku), category.get(products.get(x.sku, "")), x.amount) for x in demo.lines],
        schema={"order_id": pl.String, "product": pl.String, "category": pl.String, "amount": pl.Decimal(12, 2)},
        orient="row",
    )
    facts = affinity_facts(orders, lines_table)
    fans = [k for k, kind in demo.truth.segment_kind.items() if kind == "fan"]
    facts_spark = sc.from_polars(spark, facts)
    for population in (None, 2000):
        kwargs = {"dimension_col": "dimension", "population": population}
        assert_same(affinity_counts(facts, fans, **kwargs),
                    sc.affinity_counts(facts_spark, fans, **kwargs), key=["dimension", "value"])
    spark_fans = sc.from_polars(spark, pl.DataFrame({"customer_id": fans}))
    embedded = embedded_affinity(facts, fans, dimension_col="dimension")
    on_spark = sc.affinity(facts_spark, spark_fans, dimension_col="dimension")
    assert on_spark.equals(embedded)
    assert embedded["significant"].any()  # fans do love something: the comparison is not of empty lists


def test_affinity_edge_cases(spark: Any) -> None:
    facts = pl.DataFrame({"customer_id": [1, 1, 2, 3, 3, None, 4], "value": ["x", "x", "x", "y", None, "z", "y"]})
    on_spark = sc.from_polars(spark, facts)
    for fans in ([], [1, 3, 99], pl.Series([2, None]), pl.DataFrame({"customer_id": [4]})):
        assert_same(affinity_counts(facts, fans), sc.affinity_counts(on_spark, fans), key="value")
    empty = facts.filter(pl.col("customer_id") > 100)
    assert_same(affinity_counts(empty, [1]), sc.affinity_counts(sc.from_polars(spark, empty), [1]),
                key="value")


# --- errors ----------------------------------------------------------------------------------------


def test_errors_name_the_column_and_the_problem(spark: Any) -> None:
    frame = sc.from_polars(spark, LEDGER)
    with pytest.raises(ValidationFailed, match="has no column 'amount'") as err:
        sc.customer_summary(frame.drop("amount"), observation_end=END)
    assert err.value.field == "amount"
    with pytest.raises(ValidationFailed, match="'timestamp' must hold dates or datetimes"):
        sc.customer_summary(frame.withColumn("timestamp", frame["timestamp"].cast("string")), observation_end=END)
    with pytest.raises(ValidationFailed, match="'amount' must hold numbers"):
        sc.customer_summary(frame.withColumn("amount", frame["amount"].cast("string")), observation_end=END)
    with pytest.raises(ValidationFailed, match="time_unit must be 'D', 'W' or a timedelta"):
        sc.customer_summary(frame, observation_end=END, time_unit="M")
    with pytest.raises(ValidationFailed, match="unknown time zone 'Mars/Olympus'"):
        sc.customer_summary(frame, observation_end=END, timezone_name="Mars/Olympus")
    with pytest.raises(ValidationFailed, match="expected a Spark DataFrame, not DataFrame"):
        sc.customer_summary(LEDGER, observation_end=END)
    with pytest.raises(ValidationFailed, match="has no column 'frequency'"):
        sc.compress(frame)
    with pytest.raises(ValidationFailed, match="more than one segment"):
        sc.rfm_segments(frame, [("A", (1, 5), (1, 5)), ("B", (1, 1), (1, 1))])
    with pytest.raises(ValidationFailed, match="min_support is a share of the fans"):
        sc.affinity(frame, [], value_col="order_id", min_support=2.0)
    with pytest.raises(ValidationFailed, match="population must be a whole number"):
        sc.affinity_counts(frame, [], value_col="order_id", population=0)


def test_without_pyspark_the_message_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_pyspark(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.split(".")[0] == "pyspark":
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyspark)
    with pytest.raises(sc.SparkUnavailable, match=r"install ravingfans\[spark\]") as err:
        sc.local_session()
    assert err.value.hint and "pip install" in err.value.hint
    with pytest.raises(sc.SparkUnavailable, match=r"install ravingfans\[spark\]"):
        sc.customer_summary(object(), observation_end=END)


def test_the_docs_example_runs(spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    """The example of docs/scaleout.md, as written; its scoring step (mapInArrow) needs pyspark[sql]'s pandas."""
    if importlib.util.find_spec("pandas") is None:
        reason = "the docs example scores with mapInArrow, which needs pandas: pip install 'pyspark[sql]'"
        if os.environ.get("RAVINGFANS_REQUIRE_SPARK") == "1":
            pytest.fail(f"RAVINGFANS_REQUIRE_SPARK=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    doc = (Path(__file__).resolve().parents[2] / "docs" / "scaleout.md").read_text(encoding="utf-8")
    (code,) = re.findall(r"```python\n(.*?)```", doc, re.S)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "docs/scaleout.md", "exec"), {"__name__": "docs_example"})  # noqa: S102 - our own docs
    out = capsys.readouterr().out
    assert "Champions" in out and "rows fitted: r=" in out and "p_alive" in out
