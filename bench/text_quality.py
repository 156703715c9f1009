"""Sentiment accuracy and theme agreement (NMI) of each available method on the labelled sets in ../shared/data/.

Plain VADER (compound >= 0.05 is positive, its documented cut-off) is printed as the floor beside every method.
Themes: NMI against clinc150's 150 intents with k = 150 (the true number) and with k chosen automatically.
A method whose optional extra is not installed is reported as unavailable.

    .venv/bin/python bench/text_quality.py [--data ../shared/data] [--methods lexicon embeddings]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import polars as pl
from sklearn.metrics import normalized_mutual_info_score

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--methods", nargs="+", default=["lexicon", "embeddings"])
    args = parser.parse_args()
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from ravingfans.analytics.text.sentiment import BINARY_THRESHOLD, sentiment
    from ravingfans.analytics.text.themes import find_themes
    from ravingfans.errors import ValidationFailed

    imdb = pl.read_csv(args.data / "imdb_sentences.csv")
    clinc = pl.read_csv(args.data / "clinc150_test.csv")
    truth = imdb["label"].cast(pl.Boolean).to_numpy()
    texts = imdb["text"].to_list()
    vader = SentimentIntensityAnalyzer()
    floor = np.array([vader.polarity_scores(t)["compound"] for t in texts]) >= 0.05
    print(f"sentiment: {len(texts)} labelled sentences (imdb_sentences.csv); themes: {clinc.height} requests, "
          f"{clinc['intent'].n_unique()} intents (clinc150_test.csv)")
    print(f"{'method':<12} {'accuracy':>9} {'VADER':>7} {'sent/s':>8} {'NMI k=150':>10} {'NMI auto':>9} {'auto k':>7} "
          f"{'themes s':>9}")
    for method in args.methods:
        try:
            start = time.perf_counter()
            result = sentiment(texts, method=method)
            sent_seconds = time.perf_counter() - start
            accuracy = float(np.mean(result.positive(BINARY_THRESHOLD) == truth))
            start = time.perf_counter()
            fixed = find_themes(clinc["text"].to_list(), k=150, method=method)
            auto = find_themes(clinc["text"].to_list(), method=method)
            theme_seconds = time.perf_counter() - start
        except ValidationFailed as exc:
            print(f"{method:<12} unavailable: {exc}")
            continue
        print(f"{method:<12} {accuracy:>9.3f} {np.mean(floor == truth):>7.3f} {len(texts) / sent_seconds:>8.0f} "
              f"{normalized_mutual_info_score(clinc['intent'], fixed.assignment):>10.3f} "
              f"{normalized_mutual_info_score(clinc['intent'], auto.assignment):>9.3f} {auto.k:>7} {theme_seconds:>9.1f}")


if __name__ == "__main__":
    main()
