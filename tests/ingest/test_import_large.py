"""A million-line file is streamed: memory stays bounded, and every line arrives."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

LINES = 1_000_000
MEMORY_LIMIT_MB = 500

CHILD = """
import sys
from ravingfans.config import get_settings
from ravingfans.db import open_database
from ravingfans.ingest.importer import ImportOptions, import_file
db = open_database(get_settings().database_url)
report = import_file(db.engine, get_settings(), sys.argv[1], ImportOptions(kind="orders", dry_run=True))
# VmHWM is this program's own peak; ru_maxrss would include the parent's size at fork time.
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(report.rows, report.created, peak_kb // 1024)
"""


def million_lines(path: Path) -> Path:
    """1,000,000 order lines: 250,000 orders of 4 lines, 20,000 customers, written by Polars."""
    i = pl.int_range(0, LINES, eager=True).alias("i")
    frame = pl.DataFrame(i).select(
        ("O" + (pl.col("i") // 4).cast(pl.String)).alias("order_id"),
        pl.lit("2025-03-01 10:00:00+01:00").alias("ordered_at"),
        ("C" + (pl.col("i") // 4 % 20_000).cast(pl.String)).alias("customer_id"),
        ("c" + (pl.col("i") // 4 % 20_000).cast(pl.String) + "@example.com").alias("email"),
        ("SKU" + (pl.col("i") % 500).cast(pl.String)).alias("sku"),
        (pl.col("i") % 3 + 1).alias("quantity"),
        pl.lit("19.99").alias("unit_price"),
    )
    frame.write_csv(path)
    return path


@pytest.mark.slow
def test_million_line_dry_run_stays_under_500_mb(database_url: str, tmp_path: Path) -> None:
    path = million_lines(tmp_path / "big.csv")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAVINGFANS_")}
    env["RAVINGFANS_DATABASE_URL"] = database_url
    result = subprocess.run([sys.executable, "-c", CHILD, str(path)], env=env, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    rows, created, peak_mb = map(int, result.stdout.split())
    assert (rows, created) == (LINES, LINES // 4)
    assert peak_mb < MEMORY_LIMIT_MB, f"peak memory {peak_mb} MB"
