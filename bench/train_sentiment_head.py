"""Train the embeddings sentiment head (logistic regression on all-MiniLM-L6-v2 rows) and write its .npz.

Training data: the yelp and amazon files of the UCI "Sentiment Labelled Sentences" set shipped in
src/ravingfans/analytics/text/data/ (see the README there). The IMDb sentences used to measure the head are
never trained on: any training sentence that also appears in ../shared/data/imdb_sentences.csv is dropped.
The inputs (the embedding alone, or with VADER's compound score scaled by 1 or 3) and the regularisation C
are chosen by 5-fold cross-validation on the training sentences only.

    .venv/bin/python bench/train_sentiment_head.py [--imdb ../shared/data/imdb_sentences.csv]
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score

from ravingfans.analytics.text import embeddings

DATA = Path(embeddings.__file__).resolve().parent / "data"
TRAIN_FILES = ("yelp_labelled.txt", "amazon_cells_labelled.txt")
GRID = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
LEXICON_SCALES = (0.0, 1.0, 3.0)


def read_labelled(path: Path) -> list[tuple[str, int]]:
    """Rows of a 'sentence<TAB>0|1' file."""
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        text, _, label = line.rpartition("\t")
        if label not in ("0", "1") or not text:
            raise SystemExit(f"{path}:{n}: expected 'sentence<TAB>0|1', got {line!r}")
        rows.append((text, int(label)))
    return rows


def main() -> None:
    """Embed the training sentences, pick C by cross-validation, fit, save, and report IMDb accuracy."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--imdb", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/imdb_sentences.csv")
    parser.add_argument("--out", type=Path, default=embeddings.HEAD_PATH)
    args = parser.parse_args()

    imdb = list(csv.DictReader(args.imdb.open(encoding="utf-8"))) if args.imdb.is_file() else []
    held_out = {" ".join(r["text"].lower().split()) for r in imdb}
    train = [row for f in TRAIN_FILES for row in read_labelled(DATA / f)]
    kept = [(t, y) for t, y in train if " ".join(t.lower().split()) not in held_out]
    print(f"training sentences: {len(kept)} (dropped {len(train) - len(kept)} that also appear in the IMDb test set)")

    t0 = time.perf_counter()
    x = embeddings.embed([t for t, _ in kept])
    y = np.array([label for _, label in kept])
    print(f"embedded in {time.perf_counter() - t0:.1f}s")

    lexicon = embeddings.lexicon_compound([t for t, _ in kept])
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    scores: dict[tuple[float, float], float] = {}
    for scale in LEXICON_SCALES:  # 0: embeddings only; else the VADER compound, scaled, as one more input
        features = embeddings.head_features(x, lexicon, scale)
        for c in GRID:
            model = LogisticRegression(C=c, max_iter=5000)
            scores[(scale, c)] = cross_val_score(model, features, y, cv=folds).mean()
            print(f"  lexicon scale={scale:<3} C={c:<5} cross-validated accuracy {scores[(scale, c)]:.4f}")
    # best cross-validated accuracy; ties go to no lexicon, then to the stronger regularisation
    scale, best = max(scores, key=lambda k: (round(scores[k], 4), -k[0], -k[1]))
    model = LogisticRegression(C=best, max_iter=5000).fit(embeddings.head_features(x, lexicon, scale), y)
    coef = model.coef_.reshape(-1)
    np.savez(
        args.out,
        coef=coef[: embeddings.DIM].astype(np.float32),
        intercept=model.intercept_.astype(np.float32),
        lexicon_coef=np.float32(coef[embeddings.DIM] if scale else 0.0),
        lexicon_scale=np.float32(scale),
        C=np.float32(best),
        cv_accuracy=np.float32(scores[(scale, best)]),
        n_train=np.int32(len(kept)),
        model=np.str_(embeddings.MODEL_NAME),
        trained_on=np.str_("UCI Sentiment Labelled Sentences: yelp_labelled.txt + amazon_cells_labelled.txt (CC BY 4.0)"),
    )
    print(f"lexicon scale={scale}, C={best}: wrote {args.out} ({args.out.stat().st_size} bytes)")

    if imdb:
        embeddings._head = None  # reload the weights just written
        scores_imdb = embeddings.sentiment_scores([r["text"] for r in imdb])
        truth = np.array([int(r["label"]) for r in imdb])
        print(f"IMDb sentences (held out, n={len(imdb)}): accuracy {((scores_imdb > 0) == truth).mean():.4f}")
        only = embeddings.embed([r["text"] for r in imdb])
        plain = LogisticRegression(C=1.0, max_iter=5000).fit(x, y).predict(only)
        print(f"  for reference, embeddings only (C=1): {(plain == truth).mean():.4f}")


if __name__ == "__main__":
    main()
