"""Generate an order log as Parquet from a BG/NBD purchase process and Gamma-Gamma spend with known parameters.

The story (Fader, Hardie & Lee 2005, "Counting Your Customers the Easy Way"; and their 2005 JMR paper for
spend), in days:

* customer i is acquired (first order) at a time uniform over the first ``--birth-days`` of the window;
* while alive they buy at Poisson rate lambda_i ~ Gamma(r, rate alpha); after each *repeat* purchase they
  drop out with probability p_i ~ Beta(a, b);
* each order's amount is Gamma(shape p, rate nu_i) with nu_i ~ Gamma(q, rate gamma), rounded to cents
  (population mean spend p * gamma / (q - 1)).

Given n Poisson events in the customer's span, the first x = min(n, dropout purchase) event times are the
first order statistics of n uniforms: span * S_k / (S_x + G) with S_k cumulative sums of Exp(1) and
G ~ Gamma(n + 1 - x), so a customer costs x draws, however large n is.

Memory stays bounded: customers are drawn ``--chunk`` at a time; each chunk's orders are split into
month buckets written as temporary Parquet files, and the final file is written bucket by bucket, each
bucket sorted by time, so the log is in time order (as a real order log) and customer ids (numbered in
acquisition order) interleave. The true parameters go into the Parquet key-value metadata (key
``ravingfans.truth``) and into ``<out>.truth.json``.

    .venv/bin/python bench/gen_btyd_parquet.py --customers 100000 --out /tmp/rf_bench/btyd_100000.parquet
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

# ~10 orders per customer over the window (E[repeat purchases] ~ 9.2 for these values)
TRUTH = {
    "bgnbd": {"r": 0.75, "alpha": 7.0, "a": 0.8, "b": 2.5},
    "gammagamma": {"p": 6.0, "q": 4.0, "gamma": 15.0},
    "time_unit": "day",
}
START = datetime(2023, 1, 1, tzinfo=timezone.utc)
WINDOW_DAYS = 730  # 2023-01-01 .. 2024-12-31
BIRTH_DAYS = 365
SEED = 20240501
METADATA_KEY = b"ravingfans.truth"
_SECOND = 1_000_000  # microseconds


def _chunk_orders(rng: np.random.Generator, first_id: int, n: int, birth: np.ndarray) -> dict[str, np.ndarray]:
    """All orders of customers first_id .. first_id + n - 1 (acquired at ``birth`` days), unsorted."""
    bg, gg = TRUTH["bgnbd"], TRUTH["gammagamma"]
    span = WINDOW_DAYS - birth  # days from acquisition to the end of the window
    lam = rng.gamma(bg["r"], 1.0 / bg["alpha"], size=n)
    drop_p = rng.beta(bg["a"], bg["b"], size=n)
    n_events = rng.poisson(lam * span)  # repeat purchases the process would make if nobody dropped out
    last = rng.geometric(drop_p)  # the repeat purchase after which the customer drops out
    x = np.minimum(n_events, last)
    # first x of n_events uniform order statistics on (0, span]: span * S_k / (S_x + Gamma(n + 1 - x))
    total = int(x.sum())
    gaps = rng.exponential(size=total)
    owner = np.repeat(np.arange(n), x)
    csum = np.cumsum(gaps)
    starts = np.cumsum(x) - x  # index of each customer's first gap
    base = np.concatenate(([0.0], csum))[starts]  # cumulative sum before each customer's gaps
    s_k = csum - base[owner]
    s_x = np.zeros(n)
    has = x > 0
    s_x[has] = csum[starts[has] + x[has] - 1] - base[has]
    rest = rng.gamma(np.maximum(n_events + 1 - x, 1).astype(np.float64))
    repeat_day = birth[owner] + span[owner] * s_k / (s_x[owner] + rest[owner])

    nu = rng.gamma(gg["q"], 1.0 / gg["gamma"], size=n)  # per-customer spend rate
    cust = np.concatenate((np.arange(n), owner))
    day = np.concatenate((birth, repeat_day))
    amount = np.round(rng.gamma(gg["p"], 1.0 / nu[cust]), 2)
    amount = np.maximum(amount, 0.01)  # a zero-cent order would not be a purchase
    micros = (day * 86400 * _SECOND).astype(np.int64) // _SECOND * _SECOND  # whole seconds
    return {"customer_id": cust.astype(np.int64) + first_id, "micros": micros, "amount": amount}


def generate(customers: int, out: Path, *, chunk: int = 100_000, seed: int = SEED) -> dict[str, object]:
    """Write the order log of ``customers`` customers to ``out``; return the truth record written with it."""
    rng = np.random.default_rng(seed)
    start_us = int(START.timestamp()) * _SECOND
    month_us = int(30.4375 * 86400) * _SECOND
    n_buckets = int(np.ceil(WINDOW_DAYS * 86400 * _SECOND / month_us))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="rf_gen_", dir=out.parent))
    schema = pa.schema([("customer_id", pa.int64()), ("timestamp", pa.timestamp("us", tz="UTC")),
                        ("amount", pa.float64())])
    n_orders = 0
    try:
        # acquisition days in increasing order, so customer ids follow acquisition
        for c0 in range(0, customers, chunk):
            n = min(chunk, customers - c0)
            birth = np.sort(rng.uniform(c0 / customers, (c0 + n) / customers, size=n)) * BIRTH_DAYS
            cols = _chunk_orders(rng, c0 + 1, n, birth)
            bucket = cols["micros"] // month_us
            order = np.argsort(bucket, kind="stable")
            bounds = np.searchsorted(bucket[order], np.arange(n_buckets + 1))
            for k in range(n_buckets):
                idx = order[bounds[k]:bounds[k + 1]]
                if idx.size == 0:
                    continue
                table = pa.table({"customer_id": cols["customer_id"][idx],
                                  "timestamp": pa.array(cols["micros"][idx] + start_us, pa.timestamp("us", tz="UTC")),
                                  "amount": cols["amount"][idx]}, schema=schema)
                pq.write_table(table, tmp / f"b{k:03d}_c{c0:09d}.parquet", compression="none")
        truth: dict[str, object] = {
            **TRUTH,
            "customers": customers,
            "window_start": START.date().isoformat(),
            "observation_end": date.fromordinal(START.date().toordinal() + WINDOW_DAYS - 1).isoformat(),
            "birth_days": BIRTH_DAYS,
            "seed": seed,
        }
        meta = {METADATA_KEY: json.dumps(truth).encode()}
        with pq.ParquetWriter(out, schema.with_metadata(meta), compression="zstd") as writer:
            for k in range(n_buckets):
                parts = sorted(tmp.glob(f"b{k:03d}_c*.parquet"))
                if not parts:
                    continue
                table = pa.concat_tables(pq.read_table(p) for p in parts)
                table = table.take(pc.sort_indices(table, [("timestamp", "ascending"),
                                                                   ("customer_id", "ascending")]))
                n_orders += table.num_rows
                writer.write_table(table, row_group_size=1_000_000)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    truth["orders"] = n_orders
    Path(f"{out}.truth.json").write_text(json.dumps(truth, indent=2) + "\n")
    return truth


def main(argv: list[str] | None = None) -> int:
    """Command line: --customers N --out PATH [--chunk N] [--seed N]."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--chunk", type=int, default=100_000, help="customers drawn at a time (bounds memory)")
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    truth = generate(args.customers, args.out, chunk=args.chunk, seed=args.seed)
    print(f"{args.out}: {truth['orders']:,} orders of {args.customers:,} customers "
          f"in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
