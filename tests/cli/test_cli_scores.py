"""`ravingfans score`, `fans`, `segments`, `customer`, `slipping`, `appeal` and `analyze`, through cli.main."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from ravingfans.db import Database
from ravingfans.demo.generator import generate
from ravingfans.demo.load import load

Run = Callable[[list[str]], int]


@pytest.fixture(scope="module")
def business():
    return generate(seed=5, customers=300, years=2)


@pytest.fixture
def shop(db: Database, database_url: str, business, monkeypatch: pytest.MonkeyPatch) -> None:
    load(business, db.engine)
    monkeypatch.setenv("RAVINGFANS_DATABASE_URL", database_url)
    monkeypatch.setenv("RAVINGFANS_TIME_ZONE", business.time_zone)


def test_score_then_fans_customer_segments(shop: None, run_cli: Run, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["score", "--until", "2026-06-30"]) == 0
    assert run_cli(["score", "--until", "2026-10-31"]) == 0
    out = capsys.readouterr().out
    assert "Scored" in out and "as of 2026-10-31 (run #2)" in out and "Champions" in out
    assert run_cli(["fans", "--json", "--limit", "3"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 3 and {r["segment"] for r in rows} <= {"Champions", "Loyal"}
    assert rows[0]["clv"] >= rows[1]["clv"] >= rows[2]["clv"]
    assert run_cli(["customer", str(rows[0]["customer_id"]), "--json"]) == 0
    value = json.loads(capsys.readouterr().out)
    assert value["scores"]["segment"] == rows[0]["segment"] and len(value["history"]) == 2
    assert any("P(alive)" in line for line in value["explanation"])
    assert run_cli(["segments", "--since", "90"]) == 0
    assert "Segment moves from 2026-06-30 (#1) to 2026-10-31 (#2)" in capsys.readouterr().out
    assert run_cli(["score", "--list"]) == 0
    assert "2026-06-30" in capsys.readouterr().out


def test_slipping_and_appeal(shop: None, run_cli: Run, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["score", "--until", "2026-10-31"]) == 0
    capsys.readouterr()
    assert run_cli(["slipping", "--json", "--limit", "5"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows and all(r["reason"] for r in rows)
    assert run_cli(["appeal", "--dimension", "channel", "--all"]) == 0
    assert "What appeals to fans" in capsys.readouterr().out


def test_commands_before_any_run_say_what_to_do(shop: None, run_cli: Run,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    for command in (["fans"], ["slipping"], ["segments"]):
        assert run_cli(command) == 4
        err = capsys.readouterr().err
        assert "Nobody has been scored yet" in err and "ravingfans score" in err and "Traceback" not in err


@pytest.mark.parametrize(("argv", "needle"), [
    (["score", "--until", "31/10/2026"], "write it as YYYY-MM-DD"),
    (["fans", "--segment", "Fans"], "is not a segment"),
    (["segments", "--moved", "Champions"], "needs two segments"),
])
def test_bad_arguments_are_named(shop: None, run_cli: Run, capsys: pytest.CaptureFixture[str],
                                 argv: list[str], needle: str) -> None:
    run_cli(["score", "--until", "2026-10-31"])
    capsys.readouterr()
    assert run_cli(argv) == 2
    assert needle in capsys.readouterr().err


def _orders_file(path: Path, customers: int = 800) -> Path:
    """A ledger of repeat buyers as Parquet, in a few lines of NumPy."""
    rng = np.random.default_rng(3)
    rows = []
    start = datetime(2024, 1, 1)
    for c in range(customers):
        t = start + timedelta(days=int(rng.integers(0, 200)))
        p_drop = rng.beta(1, 4)
        nu = rng.gamma(5, 1 / 300)  # Gamma-Gamma: each customer's own spend scale
        while t < datetime(2025, 12, 31):
            rows.append((f"c{c}", t, round(float(rng.gamma(3, 1 / nu)), 2)))
            if rng.random() < p_drop:
                break
            t += timedelta(days=float(rng.exponential(40)))
    pl.DataFrame(rows, schema=["buyer", "ts", "total"], orient="row").write_parquet(path)
    return path


def test_analyze_writes_scores_and_params(tmp_path: Path, run_cli: Run, capsys: pytest.CaptureFixture[str]) -> None:
    orders = _orders_file(tmp_path / "orders.parquet")
    out, params = tmp_path / "scores.parquet", tmp_path / "params.json"
    code = run_cli(["analyze", str(orders), "--out", str(out), "--params", str(params), "--customer-id-col", "buyer",
                    "--timestamp-col", "ts", "--amount-col", "total", "--until", "2025-06-30", "--time-unit", "week"])
    assert code == 0, capsys.readouterr().err
    scores = pl.read_parquet(out)
    assert scores["customer_id"].n_unique() == scores.height > 500
    assert {"segment", "p_alive", "clv", "expected_purchases"} <= set(scores.columns)
    assert scores["last_purchase"].max() <= datetime(2025, 6, 30).date()
    assert scores["T"].max() < 80  # weeks, not days
    fitted = json.loads(params.read_text())
    assert fitted["until"] == "2025-06-30" and fitted["time_unit"] == "week"
    assert set(fitted["bgnbd"]) >= {"r", "alpha", "a", "b", "stderr", "log_likelihood"}
    assert set(fitted["gammagamma"]) >= {"p", "q", "gamma"}


@pytest.mark.parametrize(("extra", "needle"), [
    (["--out", "scores.csv"], "must end in .parquet"),
    (["--out", "s.parquet", "--time-zone", "Mars/Base"], "is not a time zone"),
    (["--out", "s.parquet", "--until", "soon"], "is not a date"),
    (["--out", "s.parquet", "--margin", "2"], "margin must be a share"),
])
def test_analyze_refuses_bad_options(tmp_path: Path, run_cli: Run, capsys: pytest.CaptureFixture[str],
                                     extra: list[str], needle: str) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text("customer_id,timestamp,amount\n1,2025-01-01,3\n")
    assert run_cli(["analyze", str(orders), *extra]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


def test_analyze_names_a_missing_column(tmp_path: Path, run_cli: Run, capsys: pytest.CaptureFixture[str]) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text("customer,timestamp,amount\n1,2025-01-01,3\n")
    assert run_cli(["analyze", str(orders), "--out", str(tmp_path / "s.parquet")]) == 2
    assert "no column 'customer_id'" in capsys.readouterr().err


def test_analyze_a_tiny_shop_falls_back_with_a_message(tmp_path: Path, run_cli: Run,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text("customer_id,date,amount\n1,2025-01-01,30\n1,2025-02-01,20\n2,2025-01-05,10\n")
    out = tmp_path / "s.parquet"
    assert run_cli(["analyze", str(orders), "--out", str(out)]) == 0
    assert "left empty" in capsys.readouterr().err
    scores = pl.read_parquet(out)
    assert scores["p_alive"].null_count() == 2 and scores["segment"].null_count() == 0


def test_analyze_counts_one_customer_in_the_singular(tmp_path: Path, run_cli: Run,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text("customer_id,date,amount\n1,2025-01-01,30\n1,2025-02-01,20\n")
    assert run_cli(["analyze", str(orders), "--out", str(tmp_path / "s.parquet")]) == 0
    assert "Scored 1 customer up to 2025-02-01;" in capsys.readouterr().out
