"""The lift estimate: intervals checked against published values, planted effects recovered, the split."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings as hsettings, strategies as st

from ravingfans.analytics.lift import (
    Interval,
    estimate_lift,
    holdout_size,
    newcombe_difference,
    revenue_line,
    split_holdout,
    welch_difference,
    wilson_interval,
)
from ravingfans.errors import ValidationFailed


def simulate(rng: np.random.Generator, n: int, share: float, rate_treated: float, rate_holdout: float,
             spend: float = 60.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """n customers split like a campaign; each buys with its group's rate and then spends a gamma amount."""
    n_hold = holdout_size(n, share)
    n_treat = n - n_hold
    t = rng.random(n_treat) < rate_treated
    h = rng.random(n_hold) < rate_holdout
    return t, np.where(t, rng.gamma(2.0, spend / 2, n_treat), 0.0), h, np.where(h, rng.gamma(2.0, spend / 2, n_hold),
                                                                                 0.0)


# --- intervals against published values -------------------------------------------------------------------------


def test_newcombe_matches_the_papers_worked_examples() -> None:
    # Newcombe (1998), Table II, method 10: (a) 56/70 - 48/80 and (b) 9/10 - 3/10.
    a = newcombe_difference(56, 70, 48, 80)
    assert a.estimate == pytest.approx(0.2)
    assert (round(a.low, 4), round(a.high, 4)) == (0.0524, 0.3339)
    b = newcombe_difference(9, 10, 3, 10)
    assert (round(b.low, 4), round(b.high, 4)) == (0.1705, 0.8090)


def test_wilson_interval_matches_a_known_value_and_stays_in_zero_one() -> None:
    low, high = wilson_interval(81, 263)  # Newcombe (1998) Statistics in Medicine 17:857, example: 0.2553-0.3662
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == pytest.approx(1.0)
    assert 0.0 <= wilson_interval(1, 1000)[0] and wilson_interval(999, 1000)[1] <= 1.0
    with pytest.raises(ValidationFailed):
        wilson_interval(3, 0)


def test_welch_matches_scipy_and_handles_degenerate_groups() -> None:
    from scipy import stats

    rng = np.random.default_rng(7)
    a, b = rng.normal(10, 3, 40), rng.normal(8, 6, 25)
    got = welch_difference(a, b)
    assert got is not None
    result = stats.ttest_ind(a, b, equal_var=False)
    ci = result.confidence_interval(0.95)
    assert (got.low, got.high) == pytest.approx((ci.low, ci.high))
    assert welch_difference([1.0], [1.0, 2.0]) is None
    assert welch_difference([0.0, 0.0], [0.0, 0.0, 0.0]) == Interval(0.0, 0.0, 0.0)


# --- planted effects ----------------------------------------------------------------------------------------------


def test_a_planted_effect_is_recovered_within_its_interval() -> None:
    rng = np.random.default_rng(20240601)
    t, t_money, h, h_money = simulate(rng, 2000, 0.5, 0.30, 0.20)
    est = estimate_lift(t, t_money, h, h_money, kind="win_back")
    assert est.return_rate is not None and est.return_rate.covers(0.10) and est.return_rate.low > 0
    assert est.verdict == "lift"
    assert est.headline.startswith("Won back ") and "more customers per 100, ±" in est.headline
    # Spend per buyer is the same, so revenue per customer rises by 0.10 * 60 = 6.
    assert est.revenue_per_customer is not None and est.revenue_per_customer.covers(6.0)
    assert est.incremental_revenue is not None
    assert est.incremental_revenue.estimate == pytest.approx(est.revenue_per_customer.estimate * 1000)


def test_default_holdout_share_still_detects_ten_points_on_two_thousand() -> None:
    rng = np.random.default_rng(11)
    t, t_money, h, h_money = simulate(rng, 2000, 0.2, 0.30, 0.20)
    est = estimate_lift(t, t_money, h, h_money)
    assert est.treated.customers == 1600 and est.holdout.customers == 400
    assert est.return_rate is not None and est.return_rate.covers(0.10) and est.return_rate.low > 0


def test_no_effect_is_reported_when_none_was_planted() -> None:
    rng = np.random.default_rng(31337)
    t, t_money, h, h_money = simulate(rng, 2000, 0.5, 0.25, 0.25)
    est = estimate_lift(t, t_money, h, h_money, kind="appreciation")
    assert est.return_rate is not None and est.return_rate.covers(0.0)
    assert est.revenue_per_customer is not None and est.revenue_per_customer.covers(0.0)
    assert est.verdict == "no_effect"
    assert est.headline.startswith("No measurable effect: between ") and est.headline.endswith(" per 100.")


def test_harm_is_called_harm() -> None:
    rng = np.random.default_rng(5)
    t, t_money, h, h_money = simulate(rng, 2000, 0.5, 0.15, 0.30)
    est = estimate_lift(t, t_money, h, h_money)
    assert est.verdict == "harm" and "fewer customers per 100" in est.headline


def test_intervals_cover_the_truth_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(2024)
    runs, rate_hits, revenue_hits = 300, 0, 0
    for _ in range(runs):
        t, t_money, h, h_money = simulate(rng, 600, 0.3, 0.28, 0.20, spend=50.0)
        est = estimate_lift(t, t_money, h, h_money)
        assert est.return_rate is not None and est.revenue_per_customer is not None
        rate_hits += est.return_rate.covers(0.08)
        revenue_hits += est.revenue_per_customer.covers(0.08 * 50.0)
    # Binomial(300, 0.95) lies in [0.91, 0.99] with probability > 0.999.
    assert 0.91 <= rate_hits / runs <= 0.99
    assert 0.91 <= revenue_hits / runs <= 0.99


# --- what is not claimed -----------------------------------------------------------------------------------------


def test_no_lift_is_claimed_without_a_holdout() -> None:
    est = estimate_lift([True, False, True], [10.0, 0.0, 5.0], [], [])
    assert est.verdict == "no_holdout" and est.return_rate is None and est.incremental_revenue is None
    assert "No hold-out group, so no lift can be claimed: 2 of 3" in est.headline
    assert "none of it can be called extra" in revenue_line(est)
    assert estimate_lift([], [], [True], [1.0]).verdict == "empty"


def test_small_groups_or_wide_intervals_say_not_enough_customers() -> None:
    few = estimate_lift([True] * 8 + [False] * 2, [20.0] * 8 + [0.0] * 2, [False] * 5, [0.0] * 5)
    assert few.verdict == "too_few" and few.headline.startswith("Not enough customers to tell (10 treated, 5 held")
    rng = np.random.default_rng(5)
    t, t_money, h, h_money = simulate(rng, 90, 0.4, 0.3, 0.3)
    wide = estimate_lift(t, t_money, h, h_money, min_group=30)  # 54 and 36: enough of each, but a wide interval
    assert wide.return_rate is not None and wide.return_rate.covers(0)
    assert wide.return_rate.high - wide.return_rate.low > 0.2
    assert wide.verdict == "too_few" and "between \u22124 and +31 per 100" in wide.headline
    assert estimate_lift(t, t_money, h, h_money, max_width=0.5).verdict == "no_effect"


def test_inputs_are_checked() -> None:
    with pytest.raises(ValidationFailed, match="return flags"):
        estimate_lift([True], [1.0, 2.0], [True], [1.0])
    with pytest.raises(ValidationFailed, match="finite"):
        estimate_lift([True], [float("nan")], [True], [1.0])
    with pytest.raises(ValidationFailed, match="confidence"):
        estimate_lift([True], [1.0], [True], [1.0], confidence=1.0)


def test_revenue_line_names_both_groups_and_the_incremental_revenue() -> None:
    rng = np.random.default_rng(9)
    t, t_money, h, h_money = simulate(rng, 1000, 0.5, 0.3, 0.2)
    line = revenue_line(estimate_lift(t, t_money, h, h_money), lambda v: f"${v:,.2f}")
    assert line.startswith("Revenue per customer: $") and "Incremental revenue: $" in line


# --- the split ------------------------------------------------------------------------------------------------------


@hsettings(max_examples=200, deadline=None)
@given(ids=st.sets(st.integers(min_value=1, max_value=10**9), max_size=300),
       share=st.floats(min_value=0, max_value=0.5), seed=st.integers(min_value=0, max_value=2**31 - 1))
def test_split_is_disjoint_complete_exact_and_reproducible(ids: set[int], share: float, seed: int) -> None:
    treated, holdout = split_holdout(ids, share, seed)
    assert set(treated).isdisjoint(holdout)
    assert set(treated) | set(holdout) == ids
    assert len(holdout) == holdout_size(len(ids), share)
    shuffled = list(ids)
    np.random.default_rng(seed).shuffle(shuffled)
    assert split_holdout(shuffled + shuffled[:3], share, seed) == (treated, holdout)


def test_split_depends_on_the_seed_and_is_not_by_id_order() -> None:
    ids = range(1, 1001)
    a = split_holdout(ids, 0.2, 1)[1]
    b = split_holdout(ids, 0.2, 2)[1]
    assert len(a) == len(b) == 200 and a != b
    assert a != list(range(1, 201)) and a != list(range(801, 1001))
    # Each customer is held out about a fifth of the time across seeds (a fair draw, not a fixed pattern).
    held = sum(1 in split_holdout(ids, 0.2, seed)[1] for seed in range(400))
    assert 50 <= held <= 110
    with pytest.raises(ValidationFailed, match="Hold-out share"):
        split_holdout(ids, 1.0, 1)
