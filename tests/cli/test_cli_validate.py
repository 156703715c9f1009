"""`ravingfans validate --holdout LENGTH [ORDERS_FILE]`, run in-process through cli.main."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from ravingfans.analytics.holdout import holdout_check
from ravingfans.db import Database
from ravingfans.demo.generator import generate
from ravingfans.demo.load import load
from ravingfans.services.ledger import load_transactions

Run = Callable[[list[str]], int]
START = datetime(2023, 1, 1, tzinfo=UTC)


@pytest.fixture
def cli_run(run_cli: Run) -> Iterator[Run]:
    """The real `ravingfans` through cli.main."""
    yield run_cli


def _ledger(customers: int = 1500, seed: int = 3) -> pl.DataFrame:
    """Two years of orders: each customer buys at their own Gamma-distributed rate until they stop."""
    rng = np.random.default_rng(seed)
    ids, times = [], []
    for c in range(customers):
        rate, stop = rng.gamma(0.9, 1 / 30), rng.exponential(600)
        t = rng.uniform(0, 365)
        while t < min(stop, 730):
            ids.append(f"C{c}")
            times.append(START + timedelta(days=float(t)))
            t += rng.exponential(1 / rate)
    amounts = np.round(rng.gamma(3, 15, len(ids)), 2)
    return pl.DataFrame({"customer_id": ids, "timestamp": times, "amount": amounts},
                        schema={"customer_id": pl.String, "timestamp": pl.Datetime("us", "UTC"), "amount": pl.Float64})


@pytest.fixture(scope="module")
def ledger() -> pl.DataFrame:
    return _ledger()


def test_file_mode_json_matches_the_library(cli_run: Run, ledger: pl.DataFrame, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "orders.csv"
    ledger.write_csv(path)
    assert cli_run(["validate", "--holdout", "26w", str(path), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    want = holdout_check(ledger, holdout="26w")
    assert got["source"] == "orders.csv" and got["holdout_days"] == 182
    assert got["calibration_end"] == want.calibration_end.isoformat()
    assert got["purchases"]["actual"] == want.actual_purchases > 0
    assert got["purchases"]["predicted"] == pytest.approx(want.predicted_purchases, rel=1e-6)
    assert [d["actual_total"] for d in got["deciles"]] == want.deciles["actual_total"].to_list()
    assert got["spend"]["actual"] == pytest.approx(want.actual_spend)


def test_file_mode_table(cli_run: Run, ledger: pl.DataFrame, tmp_path: Path,
                         capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "orders.parquet"
    ledger.rename({"customer_id": "client", "timestamp": "when", "amount": "net"}).write_parquet(path)
    args = ["validate", str(path), "--holdout", "4m", "--until", "2024-10-31", "--customer-id-col", "client",
            "--timestamp-col", "when", "--amount-col", "net", "--time-zone", "Europe/Berlin"]
    assert cli_run(args) == 0
    out = capsys.readouterr().out
    want = holdout_check(ledger, holdout="4m", observation_end=date(2024, 10, 31), timezone_name="Europe/Berlin")
    assert f"up to {want.calibration_end.isoformat()}" in out and "holdout 122 days to 2024-10-31" in out
    assert f"predicted {want.predicted_purchases:,.1f}, actual {want.actual_purchases:,}" in out
    assert "by decile of the forecast" in out and "Spend in the holdout" in out
    lines = [line for line in out.splitlines() if line.strip("│ ").split(" ")[0] in {str(i) for i in range(1, 11)}]
    assert len(lines) == 10
    assert any(line.strip("│ ").startswith("all") for line in out.splitlines())


@pytest.mark.parametrize("holdout", ["26x", "abc", "0w", "2.5w", "-3d"])
def test_bad_holdout_is_one_clear_line(cli_run: Run, ledger: pl.DataFrame, tmp_path: Path, holdout: str,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "orders.csv"
    ledger.head(50).write_csv(path)
    assert cli_run(["validate", f"--holdout={holdout}", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("Error: holdout") and "\n" not in err and "Traceback" not in err


def test_holdout_longer_than_the_history(cli_run: Run, ledger: pl.DataFrame, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "orders.csv"
    ledger.write_csv(path)
    assert cli_run(["validate", "--holdout", "3y", str(path)]) == 2
    err = capsys.readouterr().err
    assert "longer than the history" in err and "first purchase was on" in err


def test_bad_arguments_and_too_little_data(cli_run: Run, ledger: pl.DataFrame, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "orders.csv"
    ledger.write_csv(path)
    assert cli_run(["validate", str(path), "--until", "31/10/2024"]) == 2
    assert "--until '31/10/2024' is not a date" in capsys.readouterr().err
    assert cli_run(["validate", str(path), "--time-zone", "Mars/Olympus"]) == 2
    assert "is not a time zone" in capsys.readouterr().err
    assert cli_run(["validate", str(tmp_path / "missing.csv")]) == 2
    assert "There is no file" in capsys.readouterr().err
    small = tmp_path / "small.csv"
    _ledger(customers=15).write_csv(small)
    assert cli_run(["validate", str(small), "--holdout", "8w"]) == 2
    assert "Not enough repeat buyers to fit the BG/NBD model" in capsys.readouterr().err
    assert cli_run(["validate", str(small), "--holdout", "8w", "--model", "paretonbd"]) == 2
    assert "Not enough repeat buyers to fit the Pareto/NBD model" in capsys.readouterr().err
    assert cli_run(["validate", str(small), "--model", "mbgnbd"]) == 2


@pytest.fixture(scope="module")
def business():
    return generate(seed=7, customers=300, years=2)


def test_database_mode_on_the_demo(cli_run: Run, db: Database, database_url: str, business,
                                   monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("RAVINGFANS_DATABASE_URL", database_url)
    monkeypatch.setenv("RAVINGFANS_TIME_ZONE", business.time_zone)
    assert cli_run(["validate", "--json"]) == 2  # nothing loaded yet
    assert "holds no orders" in capsys.readouterr().err
    load(business, db.engine)
    assert cli_run(["validate", "--holdout", "26w", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    want = holdout_check(load_transactions(db.engine), holdout="26w", order_id_col="order_id",
                         timezone_name=business.time_zone)
    assert got["source"] == "the database" and got["observation_end"] == want.observation_end.isoformat()
    assert got["purchases"]["actual"] == want.actual_purchases > 0
    assert got["purchases"]["predicted"] == pytest.approx(want.predicted_purchases, rel=1e-6)
    assert sum(d["customers"] for d in got["deciles"]) == got["customers"] > 100
    assert cli_run(["validate", "--holdout", "13w"]) == 0
    out = capsys.readouterr().out
    assert "Calibrated bgnbd on the database" in out and "holdout 91 days" in out
