"""lifetimes 0.11.3 on an order-log Parquet: the peer that ravingfans analyze is measured against.

Runs in bench/.venvs/lifetimes (never the project's environment). Modes:

* ``e2e``: read the Parquet with pandas, ``summary_data_from_transaction_data`` (freq "D"), fit
  ``BetaGeoFitter`` and ``GammaGammaFitter`` (repeat buyers), score every customer (P(alive), expected
  purchases over --horizon days, 12-month CLV at 1% monthly discount) and write the scores as Parquet;
  ``--summary-out`` also saves the summary (outside the timed stages) for the parameter comparison.
* ``pareto``: fit ``ParetoNBDFitter`` on a saved summary (the fit alone is timed).

Prints one JSON object: stage seconds, fitted parameters, row counts.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

T0 = time.perf_counter()

import numpy as np  # noqa: E402

# --- compatibility shims for lifetimes 0.11.3 (2019) on NumPy 2 / pandas 2-3, kept here, not in the product
for _alias, _real in (("float", float), ("int", int), ("bool", bool), ("object", object)):
    if _alias not in np.__dict__:
        setattr(np, _alias, _real)

import pandas as pd  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from lifetimes import BetaGeoFitter, GammaGammaFitter, ParetoNBDFitter  # noqa: E402
from lifetimes.utils import summary_data_from_transaction_data  # noqa: E402

IMPORTED = time.perf_counter()


def _timed(stages: dict[str, float], name: str, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    """Run fn, recording its wall time under ``name``."""
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    stages[name] = time.perf_counter() - t
    return out


def e2e(args: argparse.Namespace) -> dict[str, object]:
    """Summary, BG/NBD + Gamma-Gamma fits, scoring and the written scores, each stage timed."""
    stages: dict[str, float] = {"import": IMPORTED - T0}

    def read() -> pd.DataFrame:
        df = pq.read_table(args.orders, columns=["customer_id", "timestamp", "amount"]).to_pandas()
        # lifetimes groups by Period, which drops the time zone with a warning: hand it naive UTC times
        df["timestamp"] = df["timestamp"].dt.tz_convert("UTC").dt.tz_localize(None)
        return df

    df = _timed(stages, "read", read)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = _timed(stages, "summary", summary_data_from_transaction_data, df, "customer_id", "timestamp",
                         monetary_value_col="amount", observation_period_end=args.until, freq="D")
    del df
    f, r, T, m = (summary[c].to_numpy() for c in ("frequency", "recency", "T", "monetary_value"))
    bgf = BetaGeoFitter(penalizer_coef=0.0)
    _timed(stages, "bgnbd_fit", bgf.fit, f, r, T)
    repeat = f > 0
    ggf = GammaGammaFitter(penalizer_coef=0.0)
    _timed(stages, "gammagamma_fit", ggf.fit, f[repeat], m[repeat])

    def score() -> pd.DataFrame:
        out = summary.copy()
        out["p_alive"] = bgf.conditional_probability_alive(f, r, T)
        out["expected_purchases"] = bgf.conditional_expected_number_of_purchases_up_to_time(args.horizon, f, r, T)
        out["expected_spend"] = np.where(repeat, ggf.conditional_expected_average_profit(
            pd.Series(f), pd.Series(np.where(repeat, m, 1.0))).to_numpy(), np.nan)
        out["clv"] = ggf.customer_lifetime_value(bgf, pd.Series(f), pd.Series(r), pd.Series(T),
                                                 pd.Series(np.where(repeat, m, 0.0)), time=12,
                                                 discount_rate=0.01, freq="D").to_numpy()
        return out

    scores = _timed(stages, "scoring", score)
    _timed(stages, "write", scores.reset_index().to_parquet, args.out, index=False)
    if args.summary_out:
        summary.reset_index().to_parquet(args.summary_out, index=False)
    bp, gp = bgf.params_, ggf.params_
    return {
        "stages": stages,
        "customers": int(len(summary)),
        "repeat_buyers": int(repeat.sum()),
        "bgnbd": {k: float(bp[k]) for k in ("r", "alpha", "a", "b")},
        "gammagamma": {"p": float(gp["p"]), "q": float(gp["q"]), "gamma": float(gp["v"])},
    }


def pareto(args: argparse.Namespace) -> dict[str, object]:
    """ParetoNBDFitter on a saved summary; only the fit is timed."""
    summary = pd.read_parquet(args.summary)
    f, r, T = (summary[c].to_numpy() for c in ("frequency", "recency", "T"))
    pnbd = ParetoNBDFitter(penalizer_coef=0.0)
    stages: dict[str, float] = {"import": IMPORTED - T0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _timed(stages, "paretonbd_fit", pnbd.fit, f, r, T)
    p = pnbd.params_
    return {"stages": stages, "customers": int(len(summary)),
            "paretonbd": {k: float(p[k]) for k in ("r", "alpha", "s", "beta")}}


def main() -> None:
    """Parse the command line, run one mode, print its JSON."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    e = sub.add_parser("e2e")
    e.add_argument("orders")
    e.add_argument("--until", required=True, help="observation end (YYYY-MM-DD)")
    e.add_argument("--out", required=True)
    e.add_argument("--horizon", type=float, default=365.0)
    e.add_argument("--summary-out")
    p = sub.add_parser("pareto")
    p.add_argument("summary")
    args = ap.parse_args()
    result = e2e(args) if args.mode == "e2e" else pareto(args)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
