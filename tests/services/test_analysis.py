"""`analyze` with no database: an orders file in, scores and fitted parameters out."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from ravingfans.analytics.scoring import ScoringOptions
from ravingfans.services.analysis import analyze_file
from ravingfans.services.ledger import FileColumns


def test_analyze_file_writes_scores_and_parameters(tmp_path: Path) -> None:
    # A small BG/NBD world: each customer buys at their own Poisson rate and may drop out after each purchase.
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
    orders = tmp_path / "orders.parquet"
    pl.DataFrame(rows).write_parquet(orders)
    out, params = tmp_path / "scores.parquet", tmp_path / "params.json"
    report = analyze_file(orders, out, params_path=params, options=ScoringOptions(horizon_days=180),
                          columns=FileColumns(timestamp="date"))
    scores = pl.read_parquet(out)
    assert report.customers == 400 == scores.height and report.scoring.bgnbd is not None
    assert scores["p_alive"].is_between(0, 1).all() and (scores["clv"] >= 0).all()
    fitted = json.loads(params.read_text())
    assert set(fitted["bgnbd"]) >= {"r", "alpha", "a", "b"} and fitted["until"] == report.until.isoformat()
