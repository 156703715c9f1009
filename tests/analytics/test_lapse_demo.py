"""The slipping-fans list finds the demo business's planted lapsing fans: floors on precision and recall.

The pipeline is the one bench/slipping_bench.py measures (loaded from there, so the figures in
bench/RESULTS.md and these floors come from one definition). Measured at seed 7 (bench/RESULTS.md):
with BG/NBD P@100 0.96, P@200 0.93, R@400 0.78, recall of the whole list 0.97; without a model P@100 0.86,
R@400 0.74. The floors sit a little below.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "slipping_bench.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("slipping_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("slipping_bench", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return _bench()


@pytest.fixture(scope="module")
def demo(bench: ModuleType) -> tuple[Any, Any]:
    from ravingfans.demo import generate

    b = generate(seed=7)
    return b, bench.demo_tables(b)


def test_top_of_the_list_is_lapsing_fans(bench: ModuleType, demo: tuple[Any, Any]) -> None:
    b, tables = demo
    r = bench.evaluate(b, b.end, model=True, ks=(100, 200, 400), tables=tables)
    assert r.positives > 300  # the demo plants about 430 lapsing fans; all have stopped by its last day
    assert r.at[100][0] >= 0.90
    assert r.at[200][0] >= 0.88
    assert r.at[400][1] >= 0.70
    assert r.recall_all >= 0.90
    assert r.at[200][2] >= 0.95  # the top 200 truly never order again


def test_without_a_model_the_rhythm_still_finds_them(bench: ModuleType, demo: tuple[Any, Any]) -> None:
    b, tables = demo
    r = bench.evaluate(b, b.end, model=False, ks=(100, 400), tables=tables)
    assert r.at[100][0] >= 0.80
    assert r.at[400][1] >= 0.65
    assert r.recall_all >= 0.90


def test_every_listed_fan_has_a_reason_and_active_fans_rank_low(bench: ModuleType, demo: tuple[Any, Any]) -> None:
    b, (transactions, ratings) = demo
    listed = bench.slipping_list(b, transactions, ratings, b.end)
    assert listed["reason"].str.len_chars().min() > 0
    active_fans = {c for c, kind in b.truth.segment_kind.items() if kind == "fan"}
    top = set(listed["customer_id"].head(200))
    assert not top & active_fans
