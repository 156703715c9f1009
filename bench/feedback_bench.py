"""Time `ravingfans feedback analyze` end to end on N generated answers (default 100,000), in a subprocess.

Answers come from a phrase grammar (openers, shop topics with positive/negative details, requests, fillers,
empty answers), so there are many distinct texts, as in real feedback, and some exact repeats ("ok", "fine").
The goal of issue #5: under 60 s with the default method (and under 5 minutes with the best one).

    .venv/bin/python bench/feedback_bench.py [--rows 100000] [--method lexicon|embeddings] [--k N]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]

TOPICS = {
    "wait": (["the queue at the till", "waiting to pay", "the checkout", "getting served"],
             ["took {n} minutes", "was far too slow", "was quick for once", "took ages again", "was fine"]),
    "parking": (["parking", "the car park", "finding a space"],
                ["is impossible on saturdays", "was full again", "is easy now", "costs too much"]),
    "staff": (["the staff", "{name} at the counter", "the young man in the bakery", "the manager"],
              ["were friendly and helpful", "was rude to my mother", "knew exactly what I needed",
               "ignored us for {n} minutes", "went above and beyond"]),
    "price": (["prices", "the cheese", "the coffee", "your delivery charge"],
              ["went up again", "are too expensive", "are fair for the quality", "is overpriced", "is good value"]),
    "product": (["the bread", "the vegetables", "the fish counter", "the new range"],
                ["was stale", "was fresh and tasty", "had nothing left by noon", "was excellent", "was mouldy"]),
}
OPENERS = ["", "", "honestly, ", "overall ", "as always ", "this time "]
REQUESTS = ["could you open earlier on sundays", "I wish you had more vegan options", "please add oat milk",
            "it would be nice to have a loyalty card", "you should hire more staff at weekends",
            "why don't you deliver to {town}", "would love more gluten-free bread"]
FILLERS = ["ok", "fine", "all good", "n/a", "-", "", "nothing", "everything's good", "no comment", "👍"]
NAMES = ["Anna", "Ben", "Carla", "Dev", "Eli", "Farah", "Gus", "Hana"]
TOWNS = ["Ashford", "Brill", "Cromer", "Dunmow", "Ely"]


def answer(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.12:
        return rng.choice(FILLERS)
    parts = []
    for _ in range(rng.choice((1, 1, 2))):
        subjects, details = TOPICS[rng.choice(sorted(TOPICS))]
        parts.append(rng.choice(OPENERS) + rng.choice(subjects) + " " + rng.choice(details))
    text = (" but " if rng.random() < 0.3 else ". ").join(parts)
    if roll > 0.8:
        text += ". " + rng.choice(REQUESTS)
    return text.format(n=rng.randint(3, 60), name=rng.choice(NAMES), town=rng.choice(TOWNS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--method", default="lexicon")
    parser.add_argument("--k", type=int, default=None)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "answers.csv"
        frame = pl.DataFrame({"id": range(1, args.rows + 1), "answer": [answer(rng) for _ in range(args.rows)]})
        frame.write_csv(source)
        out, themes = Path(tmp) / "out.parquet", Path(tmp) / "themes.json"
        command = [str(Path(sys.executable).parent / "ravingfans"), "feedback", "analyze", str(source), "--text-column", "answer",
                   "--id-column", "id", "--out", str(out), "--themes", str(themes), "--method", args.method]
        if args.k:
            command += ["--k", str(args.k)]
        print(f"{args.rows} answers, {frame['answer'].n_unique()} distinct; cores available: "
              f"{len(os.sched_getaffinity(0))}; method {args.method}")
        for run in ("first run", "re-run with themes.json"):
            start = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            seconds = time.perf_counter() - start
            if done.returncode:
                print(done.stderr)
                raise SystemExit(done.returncode)
            print(f"{run}: {seconds:.1f} s ({args.rows / seconds:,.0f} answers/s); {done.stderr.strip()}")
        print(f"goal: under {60 if args.method == 'lexicon' else 300} s")


if __name__ == "__main__":
    main()
