"""A customer's scores in words: why this segment, this P(alive) and this value."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_SCORE_WORDS = {5: "top fifth", 4: "second fifth", 3: "middle fifth", 2: "fourth fifth", 1: "bottom fifth"}


def _days(n: float) -> str:
    """'1 day', '41 days'."""
    whole = int(round(n))
    return "1 day" if whole == 1 else f"{whole} days"


def _money(amount: float, currency: str) -> str:
    """An amount with its currency, to the cent below 100 and whole above."""
    return f"{currency} {amount:,.2f}" if abs(amount) < 100 else f"{currency} {amount:,.0f}"


def explain_scores(row: Mapping[str, Any], *, horizon_days: float, margin: float, monthly_discount_rate: float,
                   currency: str = "USD", fallback_reason: str | None = None) -> list[str]:
    """Plain sentences for one customer's score row (as stored by a scoring run)."""
    lines = [
        f"{row['segment']}: last bought {_days(row['days_since_last'])} ago (recency {row['R']} of 5, "
        f"{_SCORE_WORDS[row['R']]}), {row['purchases']} purchase visit(s) (frequency {row['F']} of 5), "
        f"{_money(row['total_spend'], currency)} spent in all (spend {row['M']} of 5).",
    ]
    gap = row.get("mean_gap")
    if gap:
        late = row["days_since_last"] / gap
        rhythm = ("which fits that rhythm" if late <= 1.5 else
                  f"{late:.1f} times their usual gap" if late < 10 else "far beyond their usual gap")
        lines.append(f"Buys about every {_days(gap)}; the last visit was {_days(row['days_since_last'])} ago, "
                     f"{rhythm}.")
    else:
        lines.append("Has bought on one day only, so there is no rhythm of their own to compare with yet.")
    if row.get("p_alive") is None:
        if fallback_reason:
            lines.append(fallback_reason)
        return lines
    lines.append(
        f"P(alive) {row['p_alive']:.0%}: the chance they are still a customer, from how often and how recently they "
        "bought compared with everyone else (BG/NBD model)."
        + (" Someone who has bought only once always counts as alive in this model; read their rhythm instead."
           if row["frequency"] == 0 else "")
    )
    lines.append(
        f"Expected in the next {_days(horizon_days)}: {row['expected_purchases']:.1f} purchase(s) at about "
        f"{_money(row['expected_spend'], currency)} each, so a lifetime value of {_money(row['clv'], currency)} "
        f"(margin {margin:.0%}, discounted {monthly_discount_rate:.1%} a month)."
    )
    return lines
