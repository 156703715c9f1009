"""ravingfans' analyze pipeline with every stage timed, in one process (the project's own virtualenv).

Modes:

* ``stages ORDERS --until DATE --out SCORES``: the same steps as ``ravingfans analyze`` (read, summary,
  scoring, write), with the BG/NBD and Gamma-Gamma fits inside scoring timed on their own; then, outside
  the pipeline, ``compress`` and a Pareto/NBD fit on the compressed table. The peak RSS (VmHWM) is taken
  after the pipeline, before the extras.
* ``fit-summary SUMMARY``: fit BG/NBD, Gamma-Gamma and Pareto/NBD on a saved lifetimes summary (columns
  frequency, recency, T, monetary_value), for the parameter comparison on the same summaries.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

T0 = time.perf_counter()
import os  # noqa: E402

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the ravingfans command does, before NumPy loads
import polars as pl  # noqa: E402

from ravingfans.analytics import summary as summary_mod  # noqa: E402
from ravingfans.analytics.btyd import bgnbd, gammagamma, paretonbd  # noqa: E402
from ravingfans.analytics.scoring import ScoringOptions, score_customers  # noqa: E402
from ravingfans.services.ledger import read_transactions_file  # noqa: E402

IMPORTED = time.perf_counter()


def _vm_hwm_mb() -> float:
    """This process's peak resident set so far (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _timing(stages: dict[str, float], name: str, fn):  # type: ignore[no-untyped-def]
    """fn wrapped so that each call adds its wall time to stages[name]."""
    def wrapped(*args, **kwargs):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            stages[name] = stages.get(name, 0.0) + time.perf_counter() - t
    return wrapped


def stages(args: argparse.Namespace) -> dict[str, object]:
    """The analyze pipeline, stage by stage, then compress and Pareto/NBD outside it."""
    from datetime import date

    st: dict[str, float] = {"import": IMPORTED - T0}
    until = date.fromisoformat(args.until)
    t = time.perf_counter()
    transactions = read_transactions_file(Path(args.orders)).collect()
    st["read"] = time.perf_counter() - t
    t = time.perf_counter()
    summary = summary_mod.customer_summary(transactions, observation_end=until)
    st["summary"] = time.perf_counter() - t
    del transactions
    fit_bg, fit_gg = bgnbd.fit, gammagamma.fit
    bgnbd.fit = _timing(st, "bgnbd_fit", fit_bg)  # score_customers calls bgnbd.fit(...) through the module
    gammagamma.fit = _timing(st, "gammagamma_fit", fit_gg)
    try:
        t = time.perf_counter()
        scoring = score_customers(summary, ScoringOptions())
        st["scoring"] = time.perf_counter() - t - st.get("bgnbd_fit", 0.0) - st.get("gammagamma_fit", 0.0)
    finally:
        bgnbd.fit, gammagamma.fit = fit_bg, fit_gg
    t = time.perf_counter()
    scoring.table.write_parquet(args.out)
    st["write"] = time.perf_counter() - t
    peak = _vm_hwm_mb()
    t = time.perf_counter()
    compressed = summary_mod.compress(summary)
    st["compress"] = time.perf_counter() - t
    t = time.perf_counter()
    pnbd = paretonbd.fit(compressed)
    st["paretonbd_fit"] = time.perf_counter() - t
    bg, gg = scoring.bgnbd, scoring.gammagamma
    return {
        "stages": st,
        "peak_rss_mb_pipeline": peak,
        "customers": summary.height,
        "compressed_rows": compressed.height,
        "bgnbd": {k: getattr(bg, k) for k in ("r", "alpha", "a", "b")} if bg else None,
        "gammagamma": {k: getattr(gg, k) for k in ("p", "q", "gamma")} if gg else None,
        "paretonbd": {k: getattr(pnbd, k) for k in ("r", "alpha", "s", "beta")},
    }


def fit_summary(args: argparse.Namespace) -> dict[str, object]:
    """Our three fits on a lifetimes summary: the parameters to compare with lifetimes' own."""
    s = pl.read_parquet(args.summary)
    compressed = summary_mod.compress(s)
    st: dict[str, float] = {}
    t = time.perf_counter()
    bg = bgnbd.fit(compressed)
    st["bgnbd_fit"] = time.perf_counter() - t
    repeat = s.filter(pl.col("frequency") > 0).group_by("frequency", "monetary_value").agg(pl.len().alias("count"))
    t = time.perf_counter()
    gg = gammagamma.fit(repeat)
    st["gammagamma_fit"] = time.perf_counter() - t
    t = time.perf_counter()
    pn = paretonbd.fit(compressed)
    st["paretonbd_fit"] = time.perf_counter() - t
    return {
        "stages": st,
        "bgnbd": {k: getattr(bg, k) for k in ("r", "alpha", "a", "b")},
        "gammagamma": {k: getattr(gg, k) for k in ("p", "q", "gamma")},
        "paretonbd": {k: getattr(pn, k) for k in ("r", "alpha", "s", "beta")},
        "log_likelihood": {"bgnbd": bg.log_likelihood, "gammagamma": gg.log_likelihood,
                           "paretonbd": pn.log_likelihood},
    }


def main() -> None:
    """Parse the command line, run one mode, print its JSON."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("stages")
    s.add_argument("orders")
    s.add_argument("--until", required=True)
    s.add_argument("--out", required=True)
    f = sub.add_parser("fit-summary")
    f.add_argument("summary")
    args = ap.parse_args()
    print(json.dumps(stages(args) if args.mode == "stages" else fit_summary(args)))


if __name__ == "__main__":
    main()
