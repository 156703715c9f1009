"""Generate a deterministic, realistic generic-layout orders CSV of N lines, streamed in chunks.

    python bench/gen_orders.py --lines 1000000 --out /tmp/rf_bench/orders_1000000.csv

About a third as many orders as lines (1 to 5 lines each), ~50,000 customers known by customer_id
and e-mail (a few walk-in orders without one), 8 employees, 2,000 SKUs, five channels, ISO 8601
timestamps over three years, ~3% return orders (kind=return). Memory stays bounded: orders are
built and written ORDERS_PER_CHUNK at a time with NumPy and Polars.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

COLUMNS = ["order_id", "ordered_at", "customer_id", "email", "first_name", "last_name", "phone", "employee",
           "channel", "location", "sku", "product_name", "quantity", "unit_price", "discount", "kind", "status"]
ORDERS_PER_CHUNK = 50_000
N_CUSTOMERS = 50_000
N_SKUS = 2_000
START = np.datetime64("2022-01-01T00:00:00", "s")
SPAN_S = 3 * 365 * 86_400

FIRST = ["Anna", "Ben", "Clara", "David", "Emma", "Felix", "Greta", "Hannah", "Isaac", "Julia", "Karl", "Lena",
         "Max", "Nora", "Oscar", "Paula", "Quinn", "Rosa", "Sam", "Tara", "Uwe", "Vera", "Will", "Xenia", "Yusuf",
         "Zoe", "Amir", "Beatriz", "Chen", "Dara", "Elif", "Farid", "Gloria", "Hiro", "Ines", "Jonas", "Kemal",
         "Lucia", "Mateo", "Nadia", "Olga", "Pedro", "Rahul", "Sofia", "Tomás", "Ulla", "Viktor", "Wen", "Yara",
         "Zeynep", "Liam", "Mia", "Noah", "Olivia", "Ethan", "Ava", "Lucas", "Isla", "Leo", "Chloé"]
LAST = ["Smith", "Müller", "Garcia", "Nguyen", "Kowalski", "Rossi", "Dubois", "Jensen", "Novak", "Silva",
        "Schmidt", "Brown", "Ito", "Kim", "Okafor", "Ali", "Hansen", "Popescu", "Horvat", "Costa", "Walker",
        "Becker", "Moreau", "Lindqvist", "O'Brien", "van Dijk", "Fischer", "Martin", "Lopez", "Wagner",
        "Schulz", "Bauer", "Richter", "Klein", "Wolf", "Neumann", "Schwarz", "Zimmermann", "Braun", "Krüger",
        "Hofmann", "Hartmann", "Lange", "Schmitt", "Werner", "Krause", "Meier", "Lehmann", "Schmid", "Köhler"]
DOMAINS = ["example.com", "mail.example.org", "post.example.net", "inbox.example.de", "web.example.co.uk"]
AREA_CODES = ["212", "310", "415", "503", "617", "702", "808", "917", "206", "312"]
EMPLOYEES = ["Alice Archer", "Bruno Berg", "Carmen Cruz", "Dmitri Dahl", "Eva Engel", "Frank Fox",
             "Gita Gupta", "Henrik Holm"]
CHANNELS = ["store", "web", "phone", "email", "other"]
CHANNEL_P = [0.55, 0.30, 0.08, 0.05, 0.02]
STORES = ["Main Street", "Harbour Mall", "Old Town"]
NOUNS = ["Shirt", "Jacket", "Scarf", "Boots", "Sneakers", "Dress", "Jeans", "Cap", "Belt", "Wallet", "Bag",
         "Sweater", "Coat", "Socks", "Gloves", "Hoodie", "Skirt", "Blazer", "Sandals", "Tie"]
ADJECTIVES = ["Linen", "Wool", "Leather", "Cotton", "Denim", "Silk", "Canvas", "Suede", "Cashmere", "Merino"]
COLOURS = ["Blue", "Black", "White", "Olive", "Red", "Sand", "Grey", "Navy", "Rust", "Cream"]
SIZES = ["XS", "S", "M", "L", "XL", "38", "40", "42", "44", "one size"]


def _customers(rng: np.random.Generator) -> pl.DataFrame:
    """The customer pool: id, e-mail, names and (for ~70%) a US phone number."""
    n = N_CUSTOMERS
    first = pl.Series(FIRST).gather(rng.integers(0, len(FIRST), n))
    last = pl.Series(LAST).gather(rng.integers(0, len(LAST), n))
    frame = pl.DataFrame({"first_name": first, "last_name": last, "n": np.arange(1, n + 1),
                          "domain": pl.Series(DOMAINS).gather(rng.integers(0, len(DOMAINS), n)),
                          "area": pl.Series(AREA_CODES).gather(rng.integers(0, len(AREA_CODES), n)),
                          "sub": rng.integers(200, 999, n), "num": rng.integers(0, 10_000, n),
                          "has_phone": rng.random(n) < 0.7})
    local = (pl.col("first_name") + "." + pl.col("last_name")).str.to_lowercase().str.replace_all(r"[^a-z.]", "")
    phone = pl.format("({}) {}-{}", pl.col("area"), pl.col("sub").cast(pl.String),
                      pl.col("num").cast(pl.String).str.zfill(4))
    return frame.select(
        ("C" + pl.col("n").cast(pl.String).str.zfill(6)).alias("customer_id"),
        pl.concat_str([local, pl.col("n").cast(pl.String), pl.lit("@"), pl.col("domain")]).alias("email"),
        "first_name", "last_name",
        pl.when(pl.col("has_phone")).then(phone).otherwise(None).alias("phone"),
    )


def _products(rng: np.random.Generator) -> pl.DataFrame:
    """2,000 SKUs with names (some with a comma, so the CSV has quoted fields) and prices in cents."""
    n = N_SKUS
    name = pl.concat_str([pl.Series(ADJECTIVES).gather(rng.integers(0, len(ADJECTIVES), n)), pl.lit(" "),
                          pl.Series(NOUNS).gather(rng.integers(0, len(NOUNS), n)), pl.lit(", "),
                          pl.Series(COLOURS).gather(rng.integers(0, len(COLOURS), n)), pl.lit(" / "),
                          pl.Series(SIZES).gather(rng.integers(0, len(SIZES), n))], separator="")
    cents = np.clip(np.round(rng.lognormal(np.log(4_000), 0.7, n) / 50) * 50 - 1, 499, 49_999).astype(np.int64)
    return pl.DataFrame({"sku": [f"SKU-{i:05d}" for i in range(1, n + 1)], "product_name": pl.select(name).to_series(),
                         "cents": cents})


def _money(cents: pl.Expr) -> pl.Expr:
    """Cents as '123.45'."""
    return pl.format("{}.{}", cents // 100, (cents % 100).cast(pl.String).str.zfill(2))


def _chunk(rng: np.random.Generator, first_order: int, counts: np.ndarray, seconds: np.ndarray,
           customers: pl.DataFrame, products: pl.DataFrame) -> pl.DataFrame:
    """The lines of one chunk of orders (order numbers first_order.., line counts, seconds after START)."""
    n_orders = len(counts)
    n_lines = int(counts.sum())
    # Order-level draws: a skewed customer choice (regulars buy often), ~4% walk-ins with no customer.
    cust = np.minimum((N_CUSTOMERS * rng.random(n_orders) ** 1.6).astype(np.int64), N_CUSTOMERS - 1)
    walk_in = rng.random(n_orders) < 0.04
    channel = rng.choice(len(CHANNELS), n_orders, p=CHANNEL_P)
    employee = rng.integers(0, len(EMPLOYEES), n_orders)
    store = rng.integers(0, len(STORES), n_orders)
    is_return = rng.random(n_orders) < 0.03
    stamps = (START + seconds.astype("timedelta64[s]")).astype("datetime64[us]")
    heads = pl.DataFrame({
        "order_id": pl.Series(np.arange(first_order, first_order + n_orders)).cast(pl.String),
        "ordered_at": stamps, "cust": cust, "walk_in": walk_in, "channel": pl.Series(CHANNELS).gather(channel),
        "emp": pl.Series(EMPLOYEES).gather(employee), "store": pl.Series(STORES).gather(store), "ret": is_return,
    }).with_columns(
        ("ORD-" + pl.col("order_id").str.zfill(7)).alias("order_id"),
        pl.col("ordered_at").dt.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
    )
    cust_cols = customers.gather(heads["cust"])
    heads = pl.concat([heads, cust_cols], how="horizontal").with_columns(
        [pl.when(pl.col("walk_in") & (pl.col("channel") == "store")).then(None).otherwise(pl.col(c)).alias(c)
         for c in ("customer_id", "email", "first_name", "last_name", "phone")]
    ).with_columns(
        pl.when(pl.col("channel").is_in(["store", "phone"])).then(pl.col("emp")).otherwise(None).alias("employee"),
        pl.when(pl.col("channel") == "store").then(pl.col("store"))
        .when(pl.col("channel") == "web").then(pl.lit("Online")).otherwise(pl.lit("HQ")).alias("location"),
        pl.when(pl.col("ret")).then(pl.lit("refunded")).otherwise(pl.lit("paid")).alias("status"),
        pl.when(pl.col("ret")).then(pl.lit("return")).otherwise(pl.lit("sale")).alias("kind"),
    )
    # Line-level draws: popular SKUs sell more; 1 to 3 units; ~10% of lines carry a 10% discount.
    sku = np.minimum((N_SKUS * rng.random(n_lines) ** 2).astype(np.int64), N_SKUS - 1)
    qty = rng.choice([1, 1, 1, 1, 2, 2, 3], n_lines)
    discounted = rng.random(n_lines) < 0.10
    lines = products.gather(sku).with_columns(
        pl.Series("quantity", qty), pl.Series("discounted", discounted),
        pl.Series("head", np.repeat(np.arange(n_orders), counts)),
    )
    lines = lines.with_columns(
        _money(pl.col("cents")).alias("unit_price"),
        pl.when(pl.col("discounted")).then(_money(pl.col("cents") * pl.col("quantity") // 10)).otherwise(None)
        .alias("discount"),
        pl.col("quantity").cast(pl.String),
    )
    out = pl.concat([heads.gather(lines["head"]), lines], how="horizontal")
    return out.select(COLUMNS)


def generate(path: Path, lines: int, seed: int = 20240601, *, quiet: bool = False) -> int:
    """Write ``lines`` order lines (plus a header) to ``path``; returns the number of orders."""
    rng = np.random.default_rng(seed)
    customers = _customers(rng)
    products = _products(rng)
    counts = rng.choice([1, 2, 3, 4, 5], size=lines // 2 + 1, p=[0.15, 0.20, 0.30, 0.20, 0.15])
    ends = np.cumsum(counts)
    n_orders = int(np.searchsorted(ends, lines)) + 1
    counts = counts[:n_orders].copy()
    counts[-1] -= int(ends[n_orders - 1]) - lines  # the last order is cut to land on exactly `lines`
    seconds = np.sort(rng.integers(0, SPAN_S, n_orders))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".part")
    written = 0
    with tmp.open("wb") as fh:
        fh.write((",".join(COLUMNS) + "\n").encode())
        for lo in range(0, n_orders, ORDERS_PER_CHUNK):
            hi = min(lo + ORDERS_PER_CHUNK, n_orders)
            frame = _chunk(rng, 1_000_001 + lo, counts[lo:hi], seconds[lo:hi], customers, products)
            frame.write_csv(fh, include_header=False)
            written += frame.height
            if not quiet:
                print(f"\r{written:,} / {lines:,} lines", end="", file=sys.stderr, flush=True)
    if not quiet:
        print(file=sys.stderr)
    assert written == lines, (written, lines)
    tmp.replace(path)
    return n_orders


def main(argv: list[str] | None = None) -> int:
    """Command line: --lines, --out, --seed."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000, help="order lines to write (default 1,000,000)")
    ap.add_argument("--out", type=Path, default=None, help="output CSV (default /tmp/rf_bench/orders_N.csv)")
    ap.add_argument("--seed", type=int, default=20240601)
    args = ap.parse_args(argv)
    out = args.out or Path(f"/tmp/rf_bench/orders_{args.lines}.csv")
    started = time.perf_counter()
    orders = generate(out, args.lines, args.seed)
    size = out.stat().st_size / 1e6
    print(f"{out}: {args.lines:,} lines, {orders:,} orders, {size:.1f} MB in {time.perf_counter() - started:.1f}s",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
