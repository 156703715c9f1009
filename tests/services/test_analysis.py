"""`analyze` with no database: an orders file in, scores and fitted parameters out."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
from polars.testing import assert_frame_equal

from ravingfans.analytics.scoring import ScoringOptions
from ravingfans.services.analysis import analyze_file
from ravingfans.services.ledger import FileColumns


def _orders(path: Path) -> Path:
    """A small BG/NBD world: each customer buys at their own Poisson rate and may drop out after each purchase."""
    rng = np.random.default_rng(7)
    start, rows = date(2024, 1, 1), []
    for c in range(400):
        day, rate, drop = rng.uniform(0, 300), rng.gamma(0.8, 1 / 20), rng.beta(1, 4)
        while day < 700:
            rows.append({"customer_id": f"c{c}", "date": start + timedelta(days=int(day)),
                         "amount": round(float(rng.gamma(4, 8)), 2)})
            if rng.random() < drop:
                break
            day += rng.exponential(1 / rate)
    pl.DataFrame(rows).write_parquet(path)
    return path


def test_analyze_file_writes_scores_and_parameters(tmp_path: Path) -> None:
    orders = _orders(tmp_path / "orders.parquet")
    out, params = tmp_path / "scores.parquet", tmp_path / "params.json"
    report = analyze_file(orders, out, params_path=params, options=ScoringOptions(horizon_days=180),
                          columns=FileColumns(timestamp="date"))
    scores = pl.read_parquet(out)
    assert report.customers == 400 == scores.height and report.scoring.bgnbd is not None
    assert scores["p_alive"].is_between(0, 1).all() and (scores["clv"] >= 0).all()
    fitted = json.loads(params.read_text())
    assert set(fitted["bgnbd"]) >= {"r", "alpha", "a", "b"} and fitted["until"] == report.until.isoformat()


def test_analyze_loads_scipy_only_once_it_runs(tmp_path: Path) -> None:
    """`analyze` imports SciPy's special functions (0.2-0.3 s) on a second thread while Polars reads the file:
    that only pays if importing the service, the scoring module and its options loads no SciPy at all,
    and the models are there once a file is scored. A fresh interpreter tells."""
    import subprocess
    import sys

    orders = _orders(tmp_path / "orders.parquet")
    code = f"""
import sys
from pathlib import Path
from ravingfans.analytics.scoring import ScoringOptions
from ravingfans.services.analysis import analyze_file
from ravingfans.services.ledger import FileColumns
before = sorted(m for m in sys.modules if m.split(".")[0] == "scipy")
report = analyze_file(Path({str(orders)!r}), Path({str(tmp_path / "s.parquet")!r}),
                      options=ScoringOptions(horizon_days=90), columns=FileColumns(timestamp="date"))
print(before, report.scoring.bgnbd is not None, "scipy.special" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["[]", "True", "True"], out.stdout + out.stderr


def test_a_csv_without_until_ends_on_its_last_day(tmp_path: Path) -> None:
    """With no --until a CSV is parsed once and kept for the summary: the same scores as naming its last day."""
    orders = _orders(tmp_path / "orders.parquet")
    csv = tmp_path / "orders.csv"
    pl.read_parquet(orders).write_csv(csv)
    last = pl.read_parquet(orders)["date"].max()
    found = analyze_file(csv, tmp_path / "a.parquet", columns=FileColumns(timestamp="date"))
    named = analyze_file(csv, tmp_path / "b.parquet", columns=FileColumns(timestamp="date"), until=last)
    assert found.until == last and found.customers == named.customers == 400
    # within 1e-12: Polars may sum a customer's amounts in another order from run to run (bench/RESULTS.md)
    assert_frame_equal(pl.read_parquet(tmp_path / "a.parquet"), pl.read_parquet(tmp_path / "b.parquet"),
                       rel_tol=1e-12, abs_tol=0.0)


def test_a_bad_file_leaves_no_import_running(tmp_path: Path) -> None:
    """A file that cannot be read ends `analyze` with its message at once, after the second thread's import is
    joined: a process exiting while another thread imports could hang or die at shutdown. Fresh interpreter."""
    import subprocess
    import sys

    code = f"""
import threading
from pathlib import Path
from ravingfans.errors import ValidationFailed
from ravingfans.services.analysis import analyze_file
try:
    analyze_file(Path({str(tmp_path / "missing.csv")!r}), Path({str(tmp_path / "s.parquet")!r}))
except ValidationFailed as exc:
    print(type(exc).__name__, [t.name for t in threading.enumerate() if t.name == "ravingfans-import"])
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["ValidationFailed", "[]"], out.stdout + out.stderr
