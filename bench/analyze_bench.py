"""Benchmark `ravingfans analyze` against a bare DuckDB GROUP BY (the floor), lifetimes and PyMC-Marketing.

For each size (customers; ~10 orders each) it generates a BG/NBD order log as Parquet (bench/gen_btyd_parquet.py,
reused when present), then runs every contender as a separate process under GNU time (wall time, peak RSS):

* floor: DuckDB GROUP BY with the per-customer summary (bench/.venvs/floor);
* ``ravingfans analyze`` as a whole process (imports included) and, in another process, its stages timed
  one by one, plus a Pareto/NBD fit (bench/peers/ravingfans_stages.py);
* lifetimes 0.11.3: summary + BG/NBD + Gamma-Gamma + scoring + write, and the Pareto/NBD fit alone
  (bench/.venvs/lifetimes); our fits on lifetimes' own summary, for the parameter comparison;
* PyMC-Marketing: rfm_summary + BetaGeoModel MAP fit (bench/.venvs/pymc).

Then it prints the issue's goals with PASS/MISS, and with ``--markdown`` writes a results fragment.

    bash bench/setup_peers.sh                      # once: the peers' virtual environments
    .venv/bin/python bench/analyze_bench.py --markdown out.md
    .venv/bin/python bench/analyze_bench.py --sizes 100000          # only the 1M-order size
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import polars as pl

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
VENVS = BENCH / ".venvs"
PY = {
    "ravingfans": ROOT / ".venv" / "bin" / "python",
    "floor": VENVS / "floor" / "bin" / "python",
    "lifetimes": VENVS / "lifetimes" / "bin" / "python",
    "pymc": VENVS / "pymc" / "bin" / "python",
}
RAVINGFANS = ROOT / ".venv" / "bin" / "ravingfans"
REL_TOL = 1e-3
PARAMS = {"bgnbd": ("r", "alpha", "a", "b"), "gammagamma": ("p", "q", "gamma"), "paretonbd": ("r", "alpha", "s", "beta")}


@dataclass
class Run:
    """One contender's process: wall seconds, peak RSS, exit status and what it printed as JSON."""

    name: str
    wall: float = float("nan")
    rss_mb: float = float("nan")
    rc: int = 0
    load: float = float("nan")
    data: dict[str, object] = field(default_factory=dict)
    error: str = ""

    @property
    def ok(self) -> bool:
        """Whether the process finished cleanly."""
        return self.rc == 0 and not self.error

    def stage(self, name: str) -> float:
        """A stage's seconds as the child reported it (NaN when absent)."""
        stages = self.data.get("stages", {})
        assert isinstance(stages, dict)
        return float(stages.get(name, float("nan")))


def byte_compile() -> None:
    """Compile ravingfans' modules to bytecode, as pip does on a regular install and as Python does at the
    first import of an editable one, unless PYTHONDONTWRITEBYTECODE forbids it (it is set on some sandboxes,
    where every run would recompile ~0.1 s of our source while the peers' installed packages never do)."""
    subprocess.run([str(PY["ravingfans"]), "-m", "compileall", "-q", str(ROOT / "src" / "ravingfans")], check=True)


def load1() -> float:
    """The one-minute load average now."""
    return float(Path("/proc/loadavg").read_text().split()[0])


def run(name: str, argv: list[str], *, timeout: float, json_out: bool = True) -> Run:
    """Run argv under /usr/bin/time -v and collect wall time, peak RSS and the child's JSON line."""
    result = Run(name, load=load1())
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        cmd = ["/usr/bin/time", "-f", "%e %M", "-o", tf.name, *argv]
        print(f"  {name}: {shlex.join(argv)}", file=sys.stderr, flush=True)
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
        except subprocess.TimeoutExpired:
            result.rc, result.error = -1, f"timed out after {timeout:.0f} s"
            print(f"    {result.error}", file=sys.stderr)
            return result
        result.rc = proc.returncode
        fields = Path(tf.name).read_text().split()
        if len(fields) >= 2:
            result.wall, result.rss_mb = float(fields[-2]), int(fields[-1]) / 1024
    if proc.returncode != 0:
        result.error = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
    elif json_out:
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if lines:
            result.data = json.loads(lines[-1])
        else:
            result.error = "printed no JSON"
    print(f"    wall {result.wall:.2f} s, peak {result.rss_mb:.0f} MB" + (f"  ERROR {result.error}" if result.error else ""),
          file=sys.stderr, flush=True)
    return result


def ensure_file(customers: int, work: Path) -> tuple[Path, dict[str, object]]:
    """The generated order log for this size (generated once, then reused) and its truth record."""
    path = work / f"btyd_{customers}.parquet"
    truth = Path(f"{path}.truth.json")
    if not (path.exists() and truth.exists()):
        subprocess.run([str(PY["ravingfans"]), str(BENCH / "gen_btyd_parquet.py"), "--customers", str(customers),
                        "--out", str(path)], check=True)
    return path, json.loads(truth.read_text())


def warm(path: Path) -> None:
    """Read the file once so that every contender finds it in the page cache."""
    with path.open("rb") as fh:
        while fh.read(1 << 24):
            pass


def rel_diff(a: float, b: float) -> float:
    """|a - b| / |b|."""
    return abs(a - b) / abs(b) if b else abs(a - b)


def summaries_agree(scores: Path, lifetimes_summary: Path) -> float:
    """Largest absolute difference in frequency, recency, T, monetary_value between our scores file and
    lifetimes' summary, customer by customer (NaN when the customer sets differ)."""
    ours = pl.read_parquet(scores, columns=["customer_id", "frequency", "recency", "T", "monetary_value"])
    theirs = pl.read_parquet(lifetimes_summary)
    if ours.height != theirs.height:
        return float("nan")
    j = ours.join(theirs.with_columns(pl.col("customer_id").cast(ours.schema["customer_id"])), on="customer_id",
                  suffix="_lt")
    if j.height != ours.height:
        return float("nan")
    return max(float((j[c].cast(pl.Float64) - j[f"{c}_lt"]).abs().max() or 0.0)
               for c in ("frequency", "recency", "T", "monetary_value"))


def bench_size(customers: int, args: argparse.Namespace) -> dict[str, object]:
    """Every contender on one size; returns the runs and the derived figures."""
    path, truth = ensure_file(customers, args.work)
    until = str(truth["observation_end"])
    warm(path)
    out = args.work / "out"
    out.mkdir(exist_ok=True)
    n_orders = int(truth["orders"])  # type: ignore[arg-type]
    print(f"{n_orders:,} orders, {customers:,} customers ({path})", file=sys.stderr)
    runs: dict[str, Run] = {}

    def best(name: str, argv: list[str], **kw: object) -> Run:
        """The fastest of --repeat runs (the others only add noise from the rest of the machine)."""
        tries = [run(name, argv, **kw) for _ in range(args.repeat)]  # type: ignore[arg-type]
        good = [r for r in tries if r.ok] or tries
        return min(good, key=lambda r: r.wall)

    t = args.timeout
    runs["floor"] = best("floor", [str(PY["floor"]), str(BENCH / "peers" / "floor_duckdb.py"), str(path), until],
                         timeout=t)
    scores = out / f"rf_scores_{customers}.parquet"
    runs["analyze"] = best("analyze", [str(RAVINGFANS), "analyze", str(path), "--out", str(scores), "--until", until,
                                       "--params", str(out / f"rf_params_{customers}.json")], timeout=t, json_out=False)
    runs["stages"] = best("ravingfans stages", [str(PY["ravingfans"]), str(BENCH / "peers" / "ravingfans_stages.py"),
                                                "stages", str(path), "--until", until, "--out",
                                                str(out / f"rf_stage_scores_{customers}.parquet")], timeout=t)
    lt_summary = out / f"lt_summary_{customers}.parquet"
    if "lifetimes" not in args.skip:
        # best of --repeat too: the end-to-end ratio compares the best run of each side, never a best against one
        runs["lifetimes"] = best("lifetimes", [str(PY["lifetimes"]), str(BENCH / "peers" / "lifetimes_peer.py"),
                                               "e2e", str(path), "--until", until, "--out",
                                               str(out / f"lt_scores_{customers}.parquet"),
                                               "--summary-out", str(lt_summary)], timeout=t)
        if runs["lifetimes"].ok:
            if "lifetimes-pareto" not in args.skip and customers <= args.lifetimes_pareto_max:
                runs["lifetimes_pareto"] = run("lifetimes Pareto/NBD", [str(PY["lifetimes"]),
                                               str(BENCH / "peers" / "lifetimes_peer.py"), "pareto", str(lt_summary)],
                                               timeout=t)
            runs["ours_on_lt"] = run("ravingfans fits on lifetimes' summary", [
                str(PY["ravingfans"]), str(BENCH / "peers" / "ravingfans_stages.py"), "fit-summary", str(lt_summary)],
                timeout=t)
    if "pymc" not in args.skip and customers <= args.pymc_max:
        runs["pymc"] = run("PyMC-Marketing", [str(PY["pymc"]), str(BENCH / "peers" / "pymc_peer.py"), str(path), until],
                           timeout=t)
    agree = (summaries_agree(scores, lt_summary)
             if runs["analyze"].ok and "lifetimes" in runs and runs["lifetimes"].ok else float("nan"))
    return {"customers": customers, "orders": n_orders, "truth": truth, "runs": runs, "summary_max_abs_diff": agree}


def goals(results: list[dict[str, object]]) -> list[tuple[str, str, str]]:
    """(goal, figures, PASS/MISS/n.a.) for each of the issue's goals and each size."""
    rows: list[tuple[str, str, str]] = []

    def verdict(ok: bool | None) -> str:
        return "n/a" if ok is None else ("PASS" if ok else "MISS")

    for res in results:
        runs: dict[str, Run] = res["runs"]  # type: ignore[assignment]
        size = f"{res['orders'] / 1e6:.1f}M orders"
        an, fl = runs["analyze"], runs["floor"]
        floor_q = fl.stage("query")
        limit = 1.5 * floor_q + 1.0
        rows.append((f"analyze <= 1.5 x floor + 1 s ({size})",
                     f"analyze {an.wall:.2f} s (process); GROUP BY {floor_q:.2f} s (query; process {fl.wall:.2f} s) "
                     f"-> limit {limit:.2f} s", verdict(an.wall <= limit if an.ok and fl.ok else None)))
        lt = runs.get("lifetimes")
        need = 5.0 if res["orders"] < 5_000_000 else 10.0  # type: ignore[operator]
        if lt is not None and lt.ok and an.ok:
            ratio = lt.wall / an.wall
            work = ("read", "summary", "bgnbd_fit", "gammagamma_fit", "scoring", "write")
            st_run = runs["stages"]
            ours_work = sum(st_run.stage(k) for k in work) if st_run.ok else float("nan")
            theirs_work = sum(lt.stage(k) for k in work)
            rows.append((f">= {need:.0f}x faster than lifetimes end to end ({size})",
                         f"processes: lifetimes {lt.wall:.2f} s / analyze {an.wall:.2f} s = {ratio:.1f}x "
                         f"(the work alone, read to write without start-up and imports: {theirs_work:.2f} s / "
                         f"{ours_work:.2f} s = {theirs_work / ours_work:.1f}x)", verdict(ratio >= need)))
        else:
            rows.append((f">= {need:.0f}x faster than lifetimes end to end ({size})", "not run", "n/a"))
        lp, st = runs.get("lifetimes_pareto"), runs["stages"]
        if lp is not None and lp.ok and st.ok:
            ours, theirs = st.stage("paretonbd_fit"), lp.stage("paretonbd_fit")
            rows.append((f"Pareto/NBD fit >= 20x faster than lifetimes' ({size})",
                         f"lifetimes {theirs:.2f} s / ours {ours:.2f} s = {theirs / ours:.1f}x",
                         verdict(theirs / ours >= 20)))
        elif st.ok:
            rows.append((f"Pareto/NBD fit >= 20x faster than lifetimes' ({size})",
                         f"ours {st.stage('paretonbd_fit'):.2f} s; lifetimes not run at this size", "n/a"))
        if res["orders"] >= 5_000_000:  # type: ignore[operator]
            rows.append((f"peak memory < 2 GB ({size})", f"analyze peak RSS {an.rss_mb:.0f} MB",
                         verdict(an.rss_mb < 2048 if an.ok else None)))
        ol = runs.get("ours_on_lt")
        if lt is not None and lt.ok and ol is not None and ol.ok:
            worst, where = 0.0, ""
            for model, names in PARAMS.items():
                theirs_src = (lp.data if model == "paretonbd" and lp is not None and lp.ok else
                              lt.data if model != "paretonbd" else None)
                if not theirs_src:
                    continue
                for n in names:
                    d = rel_diff(float(ol.data[model][n]), float(theirs_src[model][n]))  # type: ignore[index]
                    if d >= worst:
                        worst, where = d, f"{model}.{n}"
            rows.append((f"parameters = lifetimes' within 1e-3 relative ({size})",
                         f"largest relative difference {worst:.1e} ({where})", verdict(worst <= REL_TOL)))
    return rows


def versions() -> dict[str, str]:
    """Package versions in each environment (asked of each interpreter, before anything is timed)."""
    wanted = {"ravingfans": "polars numpy scipy pyarrow", "floor": "duckdb pyarrow",
              "lifetimes": "lifetimes numpy pandas scipy autograd", "pymc": "pymc_marketing pymc pytensor numpy pandas"}
    out: dict[str, str] = {}
    for env, mods in wanted.items():
        if not PY[env].exists():
            out[env] = "(not installed)"
            continue
        code = ("import importlib.metadata as m, sys; print(sys.version.split()[0], ' '.join("
                f"f'{{n}} {{m.version(n.replace(\"_\", \"-\"))}}' for n in {mods.split()!r}))")
        proc = subprocess.run([str(PY[env]), "-c", code], capture_output=True, text=True)
        out[env] = ("Python " + proc.stdout.strip()) if proc.returncode == 0 else "(?)"
    return out


def machine() -> str:
    """nproc, CPU model and RAM."""
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    mem_kb = next(int(ln.split()[1]) for ln in Path("/proc/meminfo").read_text().splitlines()
                  if ln.startswith("MemTotal"))
    return f"{os.cpu_count()} CPUs ({cpu}), {mem_kb / 1024**2:.1f} GiB RAM, {platform.system()} {platform.release()}"


def commit() -> str:
    """git describe of the working tree (with -dirty when there are uncommitted changes)."""
    proc = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True, cwd=ROOT)
    return proc.stdout.strip() or "?"


def fmt(v: float, unit: str = "s") -> str:
    """A number for the tables (— when missing)."""
    if v != v:  # NaN
        return "—"
    return f"{v:.0f} MB" if unit == "MB" else f"{v:.2f}"


def markdown(results: list[dict[str, object]], rows: list[tuple[str, str, str]], meta: dict[str, object]) -> str:
    """The results fragment."""
    lines = ["## analyze: ravingfans vs the DuckDB floor, lifetimes and PyMC-Marketing", ""]
    lines += [f"- date: {meta['date']}; commit `{meta['commit']}`",
              f"- machine: {meta['machine']}",
              f"- load average (1 min) at start {meta['load_start']:.2f}, at end {meta['load_end']:.2f}; "
              "other work on the machine slows every contender, the long-running peers most",
              "- versions: " + "; ".join(f"{k}: {v}" for k, v in meta["versions"].items()),  # type: ignore[union-attr]
              f"- reproduce: `{meta['command']}` (after `bash bench/setup_peers.sh`)",
              f"- each contender is its own process; wall time and peak RSS from GNU time"
              + (f"; best of {meta['repeat']} runs for the floor, ravingfans and lifetimes' end to end" if meta["repeat"] > 1 else ""), ""]
    lines += ["### Goals", "", "| goal | figures | verdict |", "| --- | --- | --- |"]
    lines += [f"| {g} | {f} | **{v}** |" for g, f, v in rows]
    for res in results:
        runs: dict[str, Run] = res["runs"]  # type: ignore[assignment]
        lines += ["", f"### {res['orders']:,} orders, {res['customers']:,} customers", "",
                  "| contender | process wall s | peak RSS | load at start | stages (s, timed inside the process) |",
                  "| --- | --- | --- | --- | --- |"]
        for key, label in (("floor", "DuckDB GROUP BY (floor)"), ("analyze", "`ravingfans analyze`"),
                           ("stages", "ravingfans, stage by stage (+ Pareto/NBD)"),
                           ("lifetimes", "lifetimes 0.11.3 (summary + BG/NBD + GG + scoring + write)"),
                           ("lifetimes_pareto", "lifetimes ParetoNBDFitter (fit on its summary)"),
                           ("ours_on_lt", "ravingfans fits on lifetimes' summary"),
                           ("pymc", "PyMC-Marketing (rfm_summary + BetaGeoModel MAP)")):
            r = runs.get(key)
            if r is None:
                continue
            stages = ", ".join(f"{k} {v:.2f}" for k, v in r.data.get("stages", {}).items())  # type: ignore[union-attr]
            if not r.ok:
                stages = f"FAILED: {r.error}"
            lines.append(f"| {label} | {fmt(r.wall)} | {fmt(r.rss_mb, 'MB')} | {r.load:.2f} | {stages} |")
        st, lt, lp, pm = (runs.get(k) for k in ("stages", "lifetimes", "lifetimes_pareto", "pymc"))
        truth = res["truth"]
        lines += ["", "Fitted parameters (days) against the generating truth:", "",
                  "| model | truth | ravingfans | lifetimes | PyMC-Marketing MAP |", "| --- | --- | --- | --- | --- |"]
        for model, names in PARAMS.items():
            def show(r: Run | None, m: str = model, ns: tuple[str, ...] = names) -> str:
                block = r.data.get(m) if r is not None and r.ok else None
                return ", ".join(f"{n} {float(block[n]):.4g}" for n in ns) if block else "—"  # type: ignore[index]
            tr = truth.get(model)  # type: ignore[union-attr]
            lt_src = lp if model == "paretonbd" else lt
            lines.append(f"| {model} | {', '.join(f'{n} {tr[n]:g}' for n in names) if tr else '—'} | {show(st)} | "
                         f"{show(lt_src)} | {show(pm) if model == 'bgnbd' else '—'} |")
        d = res["summary_max_abs_diff"]
        lines += ["", f"Our summary against lifetimes' (frequency, recency, T, monetary_value, customer by customer): "
                      f"largest absolute difference {d:.3g}." if d == d else
                      "Our summary against lifetimes': not compared (a run failed or the customer sets differ)."]
    lines += ["", "The truth differs from every fit by the same amount: orders on the same calendar day are one "
              "purchase occasion in all three summaries, which lowers the rate of the busiest customers.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line; exit 1 with --strict when a goal is missed."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000],
                    help="customers per size (about 10 orders each); default 100000 1000000")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "rf_bench")
    ap.add_argument("--markdown", type=Path)
    ap.add_argument("--repeat", type=int, default=1, help="runs of the floor, ravingfans and lifetimes end to end; the best counts")
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds before a contender is given up")
    ap.add_argument("--skip", nargs="*", default=[], choices=["lifetimes", "lifetimes-pareto", "pymc"])
    ap.add_argument("--lifetimes-pareto-max", type=int, default=10**9,
                    help="largest size (customers) at which lifetimes' Pareto/NBD fit is run")
    ap.add_argument("--pymc-max", type=int, default=10**9, help="largest size (customers) at which PyMC runs")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    args = ap.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    missing = [n for n in ("floor", "lifetimes", "pymc") if not PY[n].exists()
               and not (n in args.skip or (n == "lifetimes" and "lifetimes" in args.skip))]
    if missing:
        print(f"missing peer environments {missing}: run bash bench/setup_peers.sh", file=sys.stderr)
        return 2
    meta: dict[str, object] = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "commit": commit(), "machine": machine(),
        "versions": versions(), "repeat": args.repeat,
        "command": ".venv/bin/python bench/analyze_bench.py " + shlex.join(sys.argv[1:] if argv is None else argv),
    }
    byte_compile()
    meta["load_start"] = load1()
    t0 = time.perf_counter()
    results = [bench_size(n, args) for n in args.sizes]
    meta["load_end"] = load1()
    rows = goals(results)
    print()
    for g, f, v in rows:
        print(f"{v:4}  {g}: {f}")
    print(f"(load average {meta['load_start']:.2f} -> {meta['load_end']:.2f}; {time.perf_counter() - t0:.0f} s)")
    if args.markdown:
        args.markdown.write_text(markdown(results, rows, meta))
        print(f"wrote {args.markdown}", file=sys.stderr)
    return 1 if args.strict and any(v == "MISS" for _, _, v in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
