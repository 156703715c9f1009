"""Precision and recall of the slipping-fans list on the demo business, whose ground truth we know.

    .venv/bin/python bench/slipping_bench.py                                  # seed 7, 5,000 customers
    .venv/bin/python bench/slipping_bench.py --markdown out.md

The demo (``ravingfans.demo.generate``) simulates "lapsing fans": fans who slow down, get unhappier
and stop buying on a planned day. At each observation end we keep only what was known then (orders
not cancelled, order lines net of returns and refunds, rated moments of truth), score everyone
(:func:`ravingfans.analytics.scoring.score_customers`) and list the slipping fans
(:func:`ravingfans.analytics.lapse.slipping_fans`). The positives are the lapsing fans whose last
order was before the observation end (they had already stopped). For the top k of the list:

* precision@k: the share of the k who are such lapsing fans;
* recall@k: the share of all those lapsing fans that are among the k;
* gone@k: the share of the k who truly never order again (lapsing fans, and regulars who dropped out:
  not a false alarm for the shop, just not a planted "lapsing fan").

Runs twice per observation end: with the BG/NBD model, and with ``p_alive`` emptied (the small-shop
fallback, the customer's own rhythm only).
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from ravingfans.analytics.lapse import slipping_fans, spend_trend
from ravingfans.analytics.scoring import score_customers
from ravingfans.analytics.summary import customer_summary
from ravingfans.demo import LAPSING_FAN, generate

KS = (25, 50, 100, 200, 400)


@dataclass
class Result:
    """The quality of one list at one observation end."""

    observation_end: date
    model: bool
    positives: int
    listed: int
    at: dict[int, tuple[float, float, float]]  # k -> (precision, recall, gone)
    recall_all: float
    precision_all: float
    gone_all: float
    seconds: float


def demo_tables(b: Any) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Transactions (one row per order line, net amount; returns booked to the order they return) and ratings."""
    cancelled = {o.key for o in b.orders if o.cancelled_at is not None}
    orders = pl.DataFrame(
        {"order_key": [o.key for o in b.orders if o.key not in cancelled],
         "customer_id": [o.customer_key for o in b.orders if o.key not in cancelled],
         "timestamp": [o.placed_at for o in b.orders if o.key not in cancelled],
         "order_id": [o.returns_order or o.key for o in b.orders if o.key not in cancelled]},
        schema={"order_key": pl.String, "customer_id": pl.String, "timestamp": pl.Datetime("us", "UTC"),
                "order_id": pl.String})
    lines = pl.DataFrame({"order_key": [ln.order_key for ln in b.lines],
                          "amount": [float(ln.amount) for ln in b.lines]})
    transactions = lines.join(orders, on="order_key", how="inner")
    ratings = pl.DataFrame(
        {"customer_id": [i.customer_key for i in b.interactions if i.rating is not None],
         "occurred_at": [i.occurred_at for i in b.interactions if i.rating is not None],
         "rating": [i.rating for i in b.interactions if i.rating is not None]},
        schema={"customer_id": pl.String, "occurred_at": pl.Datetime("us", "UTC"), "rating": pl.Int8})
    return transactions, ratings


def slipping_list(b: Any, transactions: pl.DataFrame, ratings: pl.DataFrame, observation_end: date, *,
                  model: bool = True) -> pl.DataFrame:
    """The slipping-fans list as the product would make it on ``observation_end`` (the shop's calendar day)."""
    known = transactions.filter(pl.col("timestamp") < _midnight_after(b, observation_end))
    summary = customer_summary(known, observation_end=observation_end, order_id_col="order_id",
                               timezone_name=b.time_zone)
    scores = score_customers(summary).table
    if not model:
        scores = scores.with_columns(pl.lit(None, pl.Float64).alias("p_alive"))
    trend = spend_trend(known, observation_end=observation_end, order_id_col="order_id", timezone_name=b.time_zone)
    return slipping_fans(scores, spend=trend, ratings=ratings,
                         ratings_until=_midnight_after(b, observation_end))


def positives(b: Any, observation_end: date) -> set[str]:
    """Lapsing fans whose last order came before the observation end: already gone by then."""
    cut = _midnight_after(b, observation_end)
    return {c for c, kind in b.truth.segment_kind.items()
            if kind == LAPSING_FAN and c in b.truth.lapsed and b.truth.lapsed[c] < cut}


def evaluate(b: Any, observation_end: date, *, model: bool = True, ks: tuple[int, ...] = KS,
             tables: tuple[pl.DataFrame, pl.DataFrame] | None = None) -> Result:
    """Precision, recall and gone@k of the list at one observation end."""
    transactions, ratings = tables or demo_tables(b)
    t0 = time.perf_counter()
    listed = slipping_list(b, transactions, ratings, observation_end, model=model)["customer_id"].to_list()
    seconds = time.perf_counter() - t0
    truth = positives(b, observation_end)
    gone = set(b.truth.lapsed)
    at = {}
    for k in ks:
        top = listed[:k]
        hits = len(set(top) & truth)
        at[k] = (hits / len(top) if top else 0.0, hits / len(truth) if truth else 0.0,
                 len(set(top) & gone) / len(top) if top else 0.0)
    hits_all = len(set(listed) & truth)
    return Result(observation_end, model, len(truth), len(listed), at,
                  hits_all / len(truth) if truth else 0.0, hits_all / len(listed) if listed else 0.0,
                  len(set(listed) & gone) / len(listed) if listed else 0.0, seconds)


def _midnight_after(b: Any, day: date) -> datetime:
    """The instant the shop's ``day`` ends, in UTC (what was known at the close of that day)."""
    from zoneinfo import ZoneInfo

    local = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=ZoneInfo(b.time_zone))
    return local.astimezone(UTC)


def markdown(results: list[Result], *, seed: int, customers: int, ks: tuple[int, ...]) -> str:
    """The fragment for bench/RESULTS.md: when, where, which commit, and the table."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                check=True, cwd=Path(__file__).resolve().parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    head = " | ".join(f"P@{k} | R@{k}" for k in ks)
    lines = [
        "## Slipping fans: precision and recall on the demo business",
        "",
        f"{when}; {platform.node() or 'this machine'} ({platform.machine()}, {platform.system()}, "
        f"Python {platform.python_version()}); commit {commit}. Demo seed {seed}, {customers:,} customers.",
        "Reproduce: `.venv/bin/python bench/slipping_bench.py --markdown out.md`.",
        "",
        "Positives: the demo's planted *lapsing fans* who had already placed their last order by the",
        "observation end. P@k = share of the top k who are such lapsing fans; R@k = share of them in the top k;",
        "gone@k = share of the top k who truly never order again (the rest of those are high-value regulars",
        "who dropped out); \"list\" = the same for the whole list. \"no model\" empties P(alive): the",
        "small-shop fallback on the customer's own rhythm. Seconds: summary, scoring and the list.",
        "",
        f"| observation end | P(alive) | positives | listed | {head} | gone@{ks[-1]} | list P | list R | list gone "
        "| seconds |",
        "| --- | --- | ---: | ---: | " + " | ".join("---: | ---:" for _ in ks) + " |" + " ---: |" * 5,
    ]
    for r in results:
        cells = " | ".join(f"{r.at[k][0]:.2f} | {r.at[k][1]:.2f}" for k in ks)
        lines.append(f"| {r.observation_end} | {'BG/NBD' if r.model else 'no model'} | {r.positives} | "
                     f"{r.listed} | {cells} | {r.at[ks[-1]][2]:.2f} | {r.precision_all:.2f} | {r.recall_all:.2f} | "
                     f"{r.gone_all:.2f} | {r.seconds:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Generate the demo, evaluate the list at two observation ends with and without the model, print it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--earlier-days", type=int, default=182,
                        help="also evaluate this many days before the demo's last day (0: only the last day)")
    parser.add_argument("--markdown", type=Path, help="write the results as a markdown fragment here")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    b = generate(seed=args.seed, customers=args.customers)
    print(f"demo generated in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    tables = demo_tables(b)
    ends = [b.end] + ([b.end - timedelta(days=args.earlier_days)] if args.earlier_days else [])
    results = [evaluate(b, end, model=model, tables=tables) for end in ends for model in (True, False)]
    for r in results:
        at = "  ".join(f"P@{k}={p:.2f} R@{k}={rc:.2f} gone@{k}={g:.2f}" for k, (p, rc, g) in r.at.items())
        print(f"{r.observation_end} {'model   ' if r.model else 'no model'} positives={r.positives} "
              f"listed={r.listed} {at}  recall(all)={r.recall_all:.2f} precision(all)={r.precision_all:.2f} "
              f"gone(all)={r.gone_all:.2f} "
              f"({r.seconds:.2f} s)")
    if args.markdown:
        args.markdown.write_text(markdown(results, seed=args.seed, customers=args.customers, ks=KS))
        print(f"wrote {args.markdown}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
