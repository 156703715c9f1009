"""`ravingfans feedback analyze` end to end through cli.main: CSV/XLSX/Parquet in, Parquet and themes JSON out."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

import openpyxl
import polars as pl
import pytest

Run = Callable[[list[str]], int]

ANSWERS = ["waited 20 minutes at the till, too slow", "parking is impossible on saturdays",
           "friendly helpful staff", "Could you add more parking spaces?", "ok", "", "I wish you had more parking",
           "the queue at the till was so slow", "staff were lovely and helpful", "no parking spaces again",
           "slow queue at the till", "helpful staff, thanks"]


def answers_file(tmp_path: Path, n: int = 60, seed: int = 1) -> Path:
    rng = random.Random(seed)
    frame = pl.DataFrame({"answer_id": [f"a{i}" for i in range(n)], "How can we do better?": [
        rng.choice(ANSWERS) for _ in range(n)]})
    path = tmp_path / f"answers{seed}.csv"
    frame.write_csv(path)
    return path


def test_analyze_writes_rows_and_stable_themes(tmp_path: Path, run_cli: Run, capsys: pytest.CaptureFixture[str]) -> None:
    source, out, themes = answers_file(tmp_path), tmp_path / "out.parquet", tmp_path / "themes.json"
    argv = [str(source), "--text-column", "How can we do better?", "--out", str(out), "--themes", str(themes),
            "--id-column", "answer_id", "--k", "3"]
    assert run_cli(["feedback", "analyze", *argv]) == 0
    assert "Analysed 60 answers" in capsys.readouterr().err
    rows = pl.read_parquet(out)
    assert rows.columns == ["answer_id", "text", "sentiment", "sentiment_label", "theme_id", "theme_label",
                            "is_request", "request", "is_empty"]
    assert rows.height == 60 and rows["answer_id"][0] == "a0"
    by_text = {r["text"]: r for r in rows.iter_rows(named=True)}
    assert by_text["Could you add more parking spaces?"]["request"] == "Could you add more parking spaces"
    assert by_text["ok"]["is_empty"] and by_text["ok"]["theme_id"] is None
    assert by_text["waited 20 minutes at the till, too slow"]["sentiment_label"] == "negative"
    assert by_text["friendly helpful staff"]["sentiment"] > 0.5
    summary = json.loads(themes.read_text(encoding="utf-8"))
    ids = {t["id"]: t["label"] for t in summary["themes"]}
    assert len(ids) == 3 and all(t["quotes"] and t["keywords"] for t in summary["themes"])
    theme_of = {r["text"]: r["theme_id"] for r in rows.iter_rows(named=True) if r["theme_id"]}

    again = answers_file(tmp_path, n=90, seed=2)  # other rows, other order: the same themes keep their ids
    assert run_cli(["feedback", "analyze", str(again), "--text-column", "How can we do better?", "--out", str(out),
                    "--themes", str(themes), "--k", "3"]) == 0
    assert "3 kept from" in capsys.readouterr().err
    rows2 = pl.read_parquet(out)
    assert rows2.columns[0] == "row" and rows2["row"].to_list() == list(range(1, 91))
    for r in rows2.iter_rows(named=True):
        if r["text"] in theme_of:
            assert r["theme_id"] == theme_of[r["text"]], r["text"]


def test_xlsx_and_parquet_inputs(tmp_path: Path, run_cli: Run) -> None:
    frame = pl.DataFrame({"comment": ANSWERS})
    book = openpyxl.Workbook()
    book.active.append(["comment"])
    for answer in ANSWERS:
        book.active.append([answer or None])
    book.save(tmp_path / "a.xlsx")
    frame.write_parquet(tmp_path / "a.parquet")
    for name in ("a.xlsx", "a.parquet"):
        out = tmp_path / f"{name}.out.parquet"
        assert run_cli(["feedback", "analyze", str(tmp_path / name), "--text-column", "comment", "--out", str(out)]) == 0
        texts = pl.read_parquet(out)["text"].to_list()
        assert [t for t in texts if t] == [a for a in ANSWERS if a]  # a blank row may be skipped in XLSX


def test_clear_errors(tmp_path: Path, run_cli: Run, capsys: pytest.CaptureFixture[str]) -> None:
    source = answers_file(tmp_path)
    out = str(tmp_path / "o.parquet")
    assert run_cli(["feedback", "analyze", str(source), "--text-column", "comment", "--out", out]) == 2
    assert "has no column 'comment'; its columns are: 'answer_id', 'How can we do better?'" in capsys.readouterr().err
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert run_cli(["feedback", "analyze", str(empty), "--text-column", "x", "--out", out]) == 5
    assert "empty.csv is empty" in capsys.readouterr().err
    header_only = tmp_path / "header.csv"
    header_only.write_text("comment\n")
    assert run_cli(["feedback", "analyze", str(header_only), "--text-column", "comment", "--out", out]) == 5
    assert "has a header but no answers" in capsys.readouterr().err
    assert run_cli(["feedback", "analyze", str(tmp_path / "missing.csv"), "--text-column", "x", "--out", out]) == 5
    assert "No such file" in capsys.readouterr().err
    bad_themes = tmp_path / "themes.json"
    bad_themes.write_text("{broken")
    assert run_cli(["feedback", "analyze", str(source), "--text-column", "answer_id", "--out", out,
                    "--themes", str(bad_themes)]) == 2
    assert "is not valid JSON" in capsys.readouterr().err
    assert run_cli(["feedback", "analyze", str(source), "--text-column", "answer_id", "--out", "x.csv"]) == 2
    assert "--out must name a .parquet file" in capsys.readouterr().err
    assert not (tmp_path / "o.parquet").exists()
