"""affinity_counts, affinity and affinity_facts: exact counts, lift, the significance filter, planted signals."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from ravingfans.analytics.affinity import affinity, affinity_counts, affinity_facts, score_counts
from ravingfans.errors import ValidationFailed

# Six customers; A, B, C are fans. Shoes: A, B, D. Socks: A (twice), E. Hats: C, F.
FACTS = pl.DataFrame({
    "customer_id": ["A", "A", "B", "D", "A", "A", "E", "C", "F"],
    "value": ["shoes", "socks", "shoes", "shoes", "socks", "shoes", "socks", "hats", "hats"],
})
FANS = ["A", "B", "C"]


def _row(frame: pl.DataFrame, value: str) -> dict:
    rows = frame.filter(pl.col("value") == value).to_dicts()
    assert len(rows) == 1
    return rows[0]


def test_exact_counts_on_a_hand_made_table() -> None:
    counts = affinity_counts(FACTS, FANS)
    assert counts.columns == ["value", "fan_customers", "customers", "fans", "population"]
    assert counts.rows() == [("hats", 1, 2, 3, 6), ("shoes", 2, 3, 3, 6), ("socks", 1, 2, 3, 6)]


def test_counts_per_dimension_and_fans_outside_the_facts() -> None:
    facts = pl.DataFrame({
        "cid": [1, 1, 2, 3, 3, 4],
        "dim": ["channel", "product", "channel", "channel", "product", "channel"],
        "val": ["web", "boot", "store", "web", "boot", "store"],
    })
    # customer 9 is a fan who bought nothing in these facts: not counted in K unless population is explicit
    counts = affinity_counts(facts, pl.DataFrame({"cid": [1, 3, 9]}), customer_id_col="cid",
                             value_col="val", dimension_col="dim")
    assert counts.rows() == [("channel", "store", 0, 2, 2, 4), ("channel", "web", 2, 2, 2, 4),
                             ("product", "boot", 2, 2, 2, 4)]
    explicit = affinity_counts(facts, [1, 3, 9], customer_id_col="cid", value_col="val", dimension_col="dim",
                               population=100)
    assert set(explicit["fans"]) == {3} and set(explicit["population"]) == {100}


def test_counts_keep_the_table_kind() -> None:
    assert isinstance(affinity_counts(FACTS.to_arrow(), FANS), pa.Table)
    lazy = affinity_counts(FACTS.lazy(), pl.Series(FANS))
    assert isinstance(lazy, pl.LazyFrame)
    assert lazy.collect().rows() == affinity_counts(FACTS, FANS).rows()


def test_lift_support_and_p_value_math() -> None:
    out = affinity(FACTS, FANS, min_fan_customers=0, min_support=0.0)
    shoes = _row(out, "shoes")
    assert shoes["fan_share"] == pytest.approx(2 / 3)
    assert shoes["base_share"] == pytest.approx(3 / 6)
    assert shoes["lift"] == pytest.approx((2 / 3) / (3 / 6))
    # P(X >= 2), X ~ Hypergeom(N=6, K=3, n=3): (C(3,2)C(3,1) + C(3,3)) / C(6,3) = 10/20
    assert shoes["p_value"] == pytest.approx(0.5)
    hats = _row(out, "hats")
    assert hats["lift"] == pytest.approx((1 / 3) / (2 / 6))
    assert hats["p_value"] == pytest.approx(stats.hypergeom.sf(0, 6, 3, 2))
    assert list(out.columns) == ["value", "fan_customers", "customers", "fans", "population", "fan_share",
                                 "base_share", "lift", "p_value", "q_value", "significant"]


def test_q_values_are_benjamini_hochberg() -> None:
    out = affinity(FACTS, FANS)
    p = out["p_value"].to_numpy()
    # BH by hand: q_(i) = min_{j >= i} p_(j) m / j, for p sorted ascending
    order = np.argsort(p)
    m = len(p)
    ranked = p[order] * m / np.arange(1, m + 1)
    expected = np.minimum.accumulate(ranked[::-1])[::-1].clip(max=1.0)
    assert out["q_value"].to_numpy()[order] == pytest.approx(expected)


def _population(n: int, fans: int) -> tuple[list[int], list[int]]:
    return list(range(n)), list(range(fans))


def test_a_tiny_group_with_lift_ten_is_not_significant() -> None:
    # 1000 customers, 100 fans (10%). Two customers own "gold laces" and both are fans: lift 10.
    ids, fans = _population(1000, 100)
    facts = pl.DataFrame({"customer_id": ids + [0, 1], "value": ["any"] * 1000 + ["gold laces"] * 2})
    out = affinity(facts, fans)
    gold = _row(out, "gold laces")
    assert gold["lift"] == pytest.approx(10.0)
    assert gold["p_value"] < 0.05  # a small p-value on its own...
    assert not gold["significant"]  # ...but two customers are no evidence to act on
    assert out.row(0, named=True)["value"] != "gold laces" or not out.row(0, named=True)["significant"]
    # and it only takes the support filter away to let it through
    loose = affinity(facts, fans, min_fan_customers=1, min_support=0.0, alpha=0.5)
    assert _row(loose, "gold laces")["significant"]


def test_a_planted_category_is_found_on_synthetic_data() -> None:
    rng = np.random.default_rng(3)
    n, n_fans = 4000, 400
    categories = [f"cat{i}" for i in range(12)]
    fan = np.arange(n) < n_fans
    rows_c, rows_v = [], []
    for c in range(n):
        for i, cat in enumerate(categories):
            p = 0.15
            if i == 7 and fan[c]:
                p = 0.40  # fans buy category 7 far more often
            if rng.random() < p:
                rows_c.append(c)
                rows_v.append(cat)
    facts = pl.DataFrame({"customer_id": rows_c, "value": rows_v})
    out = affinity(facts, pl.DataFrame({"customer_id": np.arange(n_fans)}))
    assert out.row(0, named=True)["value"] == "cat7"
    assert out.filter(pl.col("significant"))["value"].to_list() == ["cat7"]
    assert out.row(0, named=True)["lift"] > 2.0


def test_an_under_represented_value_is_never_significant() -> None:
    ids, fans = _population(500, 250)
    facts = pl.DataFrame({"customer_id": ids + list(range(250, 400)),
                          "value": ["all"] * 500 + ["non-fan thing"] * 150})
    row = _row(affinity(facts, fans), "non-fan thing")
    assert row["lift"] == 0.0 and row["p_value"] == pytest.approx(1.0) and not row["significant"]


def test_bad_column_names_name_the_column() -> None:
    with pytest.raises(ValidationFailed, match="no column 'product'") as err:
        affinity(FACTS, FANS, value_col="product")
    assert err.value.field == "product"
    with pytest.raises(ValidationFailed, match="no column 'cust'"):
        affinity_counts(FACTS, FANS, customer_id_col="cust")
    with pytest.raises(ValidationFailed, match="fans table has no column 'customer_id'"):
        affinity(FACTS, pl.DataFrame({"id": ["A"]}))
    with pytest.raises(ValidationFailed, match="no column 'dim'"):
        affinity(FACTS, FANS, dimension_col="dim")


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValidationFailed, match="alpha"):
        affinity(FACTS, FANS, alpha=1.5)
    with pytest.raises(ValidationFailed, match="population"):
        affinity(FACTS, FANS, population=0)
    with pytest.raises(ValidationFailed, match="inconsistent"):
        affinity(FACTS, FANS, population=2)
    with pytest.raises(ValidationFailed, match="fans must be"):
        affinity(FACTS, "A")


def test_empty_facts_give_an_empty_table() -> None:
    empty = FACTS.clear()
    out = affinity(empty, FANS)
    assert out.height == 0 and "significant" in out.columns


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.sampled_from("abcde")), min_size=1, max_size=120),
       st.sets(st.integers(0, 30)))
def test_counts_match_a_plain_python_count(pairs: list[tuple[int, str]], fans: set[int]) -> None:
    facts = pl.DataFrame({"customer_id": [c for c, _ in pairs], "value": [v for _, v in pairs]},
                         schema={"customer_id": pl.Int64, "value": pl.String})
    out = affinity(facts, sorted(fans), min_fan_customers=0, min_support=0.0)
    everyone = {c for c, _ in pairs}
    k = len(everyone & fans)
    for row in out.to_dicts():
        having = {c for c, v in pairs if v == row["value"]}
        assert row["customers"] == len(having)
        assert row["fan_customers"] == len(having & fans)
        assert (row["fans"], row["population"]) == (k, len(everyone))
        assert 0.0 <= row["p_value"] <= 1.0 and row["p_value"] <= row["q_value"] + 1e-12
    assert sorted(out["value"]) == sorted({v for _, v in pairs})


def test_score_counts_accepts_counts_from_elsewhere() -> None:
    counts = pl.DataFrame({"value": ["x"], "fan_customers": [30], "customers": [40], "fans": [100],
                           "population": [1000]})
    out = score_counts(counts)
    assert out["lift"][0] == pytest.approx((30 / 100) / (40 / 1000))
    assert out["significant"][0]


ORDERS = pl.DataFrame({
    "order_id": ["o1", "o2", "o3", "o4"],
    "customer_id": ["A", "A", "B", "C"],
    "channel": ["store", "web", "store", "phone"],
    "location": ["Main", "Online", "Main", "Main"],
    "employee_id": ["E1", None, "E2", "E1"],
})
LINES = pl.DataFrame({
    "order_id": ["o1", "o1", "o2", "o3", "o3", "o4"],
    "product": ["boot", "sock", "boot", "hat", "boot", "sock"],
    "category": ["shoes", "socks", "shoes", "hats", "shoes", "socks"],
    "amount": [100.0, 10.0, 90.0, 30.0, -100.0, 12.0],  # B returned a boot
})


def test_facts_from_orders_and_lines() -> None:
    facts = affinity_facts(ORDERS, LINES)
    assert facts.columns == ["customer_id", "dimension", "value"]
    got = {(r["dimension"], r["value"], r["customer_id"]) for r in facts.to_dicts()}
    assert got == {
        ("category", "shoes", "A"), ("category", "socks", "A"), ("category", "hats", "B"),
        ("category", "socks", "C"),
        ("channel", "store", "A"), ("channel", "web", "A"), ("channel", "store", "B"), ("channel", "phone", "C"),
        ("employee", "E1", "A"), ("employee", "E2", "B"), ("employee", "E1", "C"),
        ("location", "Main", "A"), ("location", "Online", "A"), ("location", "Main", "B"),
        ("location", "Main", "C"),
        ("product", "boot", "A"), ("product", "sock", "A"), ("product", "hat", "B"), ("product", "sock", "C"),
    }
    out = affinity(facts, ["A"], dimension_col="dimension", min_fan_customers=0, min_support=0.0)
    assert _row(out.filter(pl.col("dimension") == "product"), "boot")["lift"] == pytest.approx(3.0)


def test_facts_errors_name_the_table_and_column() -> None:
    with pytest.raises(ValidationFailed, match="the orders table has no column 'employee_id'"):
        affinity_facts(ORDERS.drop("employee_id"), LINES)
    with pytest.raises(ValidationFailed, match="the lines table has no column 'category'"):
        affinity_facts(ORDERS, LINES.drop("category"))
    with pytest.raises(ValidationFailed, match="pass the lines table"):
        affinity_facts(ORDERS, None, dimensions=["product"])
    with pytest.raises(ValidationFailed, match="unknown dimension 'brand'"):
        affinity_facts(ORDERS, LINES, dimensions=["brand"])
    facts = affinity_facts(ORDERS.rename({"customer_id": "cid"}), LINES.with_columns(pl.col("product").alias("sku")),
                           dimensions=["brand"], columns={"brand": "sku"}, customer_id_col="cid")
    assert facts.columns == ["cid", "dimension", "value"] and set(facts["dimension"]) == {"brand"}


def test_facts_per_order_compare_baskets_not_customers() -> None:
    facts = affinity_facts(ORDERS, LINES, dimensions=["category", "channel"], per_order=True)
    assert facts.columns == ["order_id", "customer_id", "dimension", "value"]
    got = {(r["order_id"], r["dimension"], r["value"]) for r in facts.to_dicts()}
    assert got == {("o1", "category", "shoes"), ("o1", "category", "socks"), ("o2", "category", "shoes"),
                   ("o3", "category", "hats"), ("o4", "category", "socks"), ("o1", "channel", "store"),
                   ("o2", "channel", "web"), ("o3", "channel", "store"), ("o4", "channel", "phone")}
    fan_orders = facts.filter(pl.col("customer_id") == "A").select("order_id")
    out = affinity(facts, fan_orders, customer_id_col="order_id", dimension_col="dimension",
                   min_fan_customers=0, min_support=0.0)
    # A's two orders both hold shoes; 2 of the 4 orders do: lift (2/2) / (2/4) = 2
    shoes = out.filter((pl.col("dimension") == "category") & (pl.col("value") == "shoes")).row(0, named=True)
    assert (shoes["fan_customers"], shoes["customers"], shoes["fans"], shoes["population"]) == (2, 2, 2, 4)
    assert shoes["lift"] == pytest.approx(2.0)
