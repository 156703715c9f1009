"""Themes in open answers without labels, with ids that survive re-runs, and the gaps they reveal.

Method (``method="lexicon"``, the default). Answers are turned into TF-IDF vectors (scikit-learn; words and
two-word phrases, English stop words removed, sublinear term frequency), reduced by latent semantic analysis
(truncated SVD to at most 100 dimensions, rows L2-normalised again: the set-up of scikit-learn's "Clustering
text documents using k-means" example, which LSA makes both faster and better) and clustered by k-means on
those unit vectors (cosine k-means, Dhillon & Modha 2001). Identical answers are clustered once, weighted
by how often they occur. Without ``k``, k is chosen in ``k_range`` by the mean silhouette (Rousseeuw 1987)
on a sample of at most :data:`SELECT_SAMPLE` distinct answers. With ``method="embeddings"`` the sentence
embeddings of the optional NLP extra are clustered instead; TF-IDF still provides the keywords.

A theme has a readable ``label`` (its top two or three keywords, a two-word phrase preferred over the words
it contains), ``keywords`` (the heaviest TF-IDF terms of its centroid), ``quotes`` (the distinct answers
nearest its centroid), ``size`` and ``share``, ``mean_sentiment`` and, with times, a per-period ``trend``.

Stable identity. Each theme carries a :class:`ThemeRef`: its id, label, and its centroid as a term -> weight
dict (the top :data:`REF_TERMS` TF-IDF terms, L2-normalised), which survives a re-fit with a different
vocabulary, plus the embedding centroid when there is one. Given ``previous`` refs, new themes are matched
to old ones by the Hungarian algorithm (``scipy.optimize.linear_sum_assignment``) on cosine similarity
(embedding centroids when both sides have them, else keyword dicts); a pair is kept only when its
similarity reaches ``match_threshold``. Matched themes keep the old id; the others get new ids ("T<n>",
numbered after the largest id seen), so a trend over re-runs follows the same theme.

Gaps. :func:`theme_gaps` ranks themes by the negative sentiment of their answers weighted by the value
(e.g. CLV) of the customers who gave them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import polars as pl

from ravingfans.errors import ValidationFailed

SELECT_SAMPLE = 1500
REF_TERMS = 30
KEYWORDS = 8
QUOTES = 3
LSA_DIMENSIONS = 100
DEFAULT_K_RANGE = (2, 20)
THEMES_FORMAT = 1
_ID = re.compile(r"^T(\d+)$")


@dataclass(frozen=True)
class ThemeRef:
    """What identifies a theme across re-runs: id, label, keyword weights and (optionally) an embedding centroid."""

    id: str
    label: str
    keywords: dict[str, float]
    centroid: list[float] | None = None


@dataclass
class Theme:
    """One theme found in the answers (module doc)."""

    id: str
    label: str
    keywords: list[str]
    quotes: list[str]
    size: int
    share: float
    mean_sentiment: float | None
    negative_share: float | None
    trend: list[dict[str, Any]] = field(default_factory=list)
    ref: ThemeRef | None = None
    matched_previous: bool = False


@dataclass
class ThemeResult:
    """The themes, and per input text the index of its theme in ``themes`` (-1: blank, no theme)."""

    themes: list[Theme]
    assignment: np.ndarray
    k: int
    method: str
    silhouette: float | None = None

    @property
    def theme_ids(self) -> np.ndarray:
        """Per input text the theme id, or None for texts without a theme."""
        ids = np.array([t.id for t in self.themes] + [None], dtype=object)
        return ids[self.assignment] if len(self.assignment) else np.empty(0, dtype=object)

    def refs(self) -> list[ThemeRef]:
        """The refs to pass as ``previous`` next time."""
        return [t.ref for t in self.themes if t.ref is not None]


def find_themes(
    texts: Sequence[str | None],
    *,
    previous: Sequence[ThemeRef] | None = None,
    k: int | None = None,
    k_range: tuple[int, int] = DEFAULT_K_RANGE,
    method: str = "lexicon",
    sentiments: Sequence[float] | np.ndarray | None = None,
    times: Sequence[Any] | pl.Series | None = None,
    period: str = "month",
    match_threshold: float = 0.3,
    random_state: int = 0,
) -> ThemeResult:
    """Cluster the answers into themes (module doc); blank texts get no theme; tiny inputs give 0 or 1 theme."""
    from ravingfans.analytics.text.sentiment import check_method, load_embeddings, sentiment

    check_method(method)
    _check_k(k, k_range)
    if not 0 <= match_threshold <= 1:
        raise ValidationFailed(f"match_threshold must be between 0 and 1, not {match_threshold}", field="match_threshold")
    n = len(texts)
    for name, values in (("sentiments", sentiments), ("times", times)):
        if values is not None and len(values) != n:
            raise ValidationFailed(f"{name} has {len(values)} values for {n} texts; give one per text", field=name)
    cleaned = [" ".join(t.split()) if isinstance(t, str) else "" for t in texts]
    distinct = list(dict.fromkeys(t for t in cleaned if t))
    position = {t: i for i, t in enumerate(distinct)}
    row_distinct = np.array([position.get(t, -1) for t in cleaned], dtype=np.int64)
    weights = np.bincount(row_distinct[row_distinct >= 0], minlength=len(distinct)).astype(np.float64)
    scores = (np.asarray(sentiments, dtype=np.float64) if sentiments is not None
              else sentiment(cleaned, method="lexicon").score)

    if not distinct:
        return ThemeResult([], np.full(n, -1, dtype=np.int64), 0, method)

    tfidf, terms = _tfidf(distinct)
    embedded = None
    if method == "embeddings":
        embedded = np.asarray(load_embeddings().embed(distinct), dtype=np.float32)
        if embedded.shape[0] != len(distinct):
            raise ValidationFailed(f"the embeddings method returned {embedded.shape[0]} rows for {len(distinct)} texts")
        space = embedded.astype(np.float64)
    else:
        space = _lsa(tfidf, random_state) if tfidf is not None else np.ones((len(distinct), 1))

    labels, chosen_k, silhouette = _cluster(space, weights, k, k_range, random_state)
    themes, order = _describe(labels, chosen_k, distinct, weights, space, tfidf, terms, embedded)
    # order maps cluster number -> theme index (themes are sorted by size, largest first)
    row_theme = np.where(row_distinct >= 0, order[labels[np.maximum(row_distinct, 0)]], -1)
    _assign_ids(themes, previous or [], match_threshold)
    _theme_stats(themes, row_theme, scores, n_answered=int((row_distinct >= 0).sum()))
    if times is not None:
        _theme_trends(themes, row_theme, times, period)
    return ThemeResult(themes, row_theme.astype(np.int64), chosen_k, method, silhouette)


def _check_k(k: int | None, k_range: tuple[int, int]) -> None:
    if k is not None and (not isinstance(k, int) or k < 1):
        raise ValidationFailed(f"k (the number of themes) must be a whole number of 1 or more, not {k!r}", field="k")
    lo, hi = k_range
    if not (isinstance(lo, int) and isinstance(hi, int) and 2 <= lo <= hi):
        raise ValidationFailed(f"k_range must be (low, high) with 2 <= low <= high, not {k_range!r}", field="k_range")


def _tfidf(distinct: list[str]) -> tuple[Any, np.ndarray]:
    """TF-IDF rows of the distinct answers and the term of each column; (None, []) when no term is left."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    min_df = 2 if len(distinct) >= 200 else 1
    vectorizer = TfidfVectorizer(stop_words="english", ngram_range=(1, 2), sublinear_tf=True, min_df=min_df,
                                 max_df=0.5 if len(distinct) >= 50 else 1.0, max_features=50_000,
                                 token_pattern=r"(?u)\b[^\W\d_][\w'-]*[^\W_]\b|\b[^\W\d_]\b")
    try:
        matrix = vectorizer.fit_transform(distinct)
    except ValueError:  # only stop words, digits or symbols: no vocabulary
        return None, np.empty(0, dtype=object)
    return matrix.tocsr(), np.asarray(vectorizer.get_feature_names_out(), dtype=object)


def _lsa(tfidf: Any, random_state: int) -> np.ndarray:
    """Rows reduced by truncated SVD and re-normalised; tiny vocabularies are used as they are."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.preprocessing import normalize

    rows, cols = tfidf.shape
    dims = min(LSA_DIMENSIONS, cols - 1, rows - 1)
    if dims < 2:
        return normalize(tfidf.toarray())
    reduced = TruncatedSVD(n_components=dims, random_state=random_state, algorithm="randomized",
                           n_iter=5).fit_transform(tfidf)
    return normalize(reduced)


def _cluster(space: np.ndarray, weights: np.ndarray, k: int | None, k_range: tuple[int, int],
             random_state: int) -> tuple[np.ndarray, int, float | None]:
    """Cluster labels, the k used and the silhouette that chose it (None when k was given or forced)."""
    from sklearn.metrics import pairwise_distances, silhouette_score

    m = len(space)
    if m < 2 or (k is not None and k <= 1) or (k is None and m < 3):
        return np.zeros(m, dtype=np.int64), 1, None
    final_init = 10 if m <= 5000 else 3
    if k is not None:
        return _kmeans(space, weights, min(k, m), random_state, final_init), min(k, m), None
    rng = np.random.default_rng(random_state)
    sample = np.sort(rng.choice(m, size=SELECT_SAMPLE, replace=False)) if m > SELECT_SAMPLE else np.arange(m)
    best: tuple[float, int] | None = None
    distances = pairwise_distances(space[sample], metric="cosine")
    for candidate in range(k_range[0], min(k_range[1], len(sample) - 1) + 1):
        labels = _kmeans(space[sample], weights[sample], candidate, random_state, n_init=1)
        if len(np.unique(labels)) < 2:
            continue
        score = float(silhouette_score(distances, labels, metric="precomputed"))
        if best is None or score > best[0] + 1e-9:
            best = (score, candidate)
    if best is None:
        return np.zeros(m, dtype=np.int64), 1, None
    return _kmeans(space, weights, best[1], random_state, final_init), best[1], best[0]


def _kmeans(space: np.ndarray, weights: np.ndarray, k: int, random_state: int, n_init: int = 3) -> np.ndarray:
    """k-means labels (full k-means up to 20,000 points, mini-batch beyond)."""
    from sklearn.cluster import KMeans, MiniBatchKMeans

    if len(space) > 20_000:
        model = MiniBatchKMeans(n_clusters=k, random_state=random_state, n_init=n_init, batch_size=4096)
    else:
        model = KMeans(n_clusters=k, random_state=random_state, n_init=n_init)
    return model.fit_predict(space, sample_weight=weights).astype(np.int64)


def _describe(labels: np.ndarray, k: int, distinct: list[str], weights: np.ndarray, space: np.ndarray,
              tfidf: Any, terms: np.ndarray, embedded: np.ndarray | None) -> tuple[list[Theme], np.ndarray]:
    """One Theme per non-empty cluster, largest first, and the cluster -> theme index map."""
    sizes = np.bincount(labels, weights=weights, minlength=k)
    clusters = [c for c in np.argsort(-sizes, kind="stable") if sizes[c] > 0]
    order = np.full(k, -1, dtype=np.int64)
    themes: list[Theme] = []
    for index, c in enumerate(clusters):
        order[c] = index
        members = np.flatnonzero(labels == c)
        w = weights[members]
        keywords: dict[str, float] = {}
        if tfidf is not None and len(terms):
            centroid = np.asarray(tfidf[members].multiply(w[:, None]).sum(axis=0)).ravel() / w.sum()
            top = [i for i in np.argsort(-centroid, kind="stable")[:REF_TERMS] if centroid[i] > 0]
            norm = float(np.sqrt(sum(centroid[i] ** 2 for i in top))) or 1.0
            keywords = {str(terms[i]): round(float(centroid[i] / norm), 6) for i in top}
        centre = (space[members] * w[:, None]).sum(axis=0)
        centre /= np.linalg.norm(centre) or 1.0
        closeness = space[members] @ centre
        quotes = [distinct[members[i]] for i in np.argsort(-closeness, kind="stable")[:QUOTES]]
        emb_centroid = None
        if embedded is not None:
            e = (embedded[members].astype(np.float64) * w[:, None]).sum(axis=0)
            emb_centroid = [round(float(x), 6) for x in e / (np.linalg.norm(e) or 1.0)]
        label = _label(list(keywords)) or quotes[0][:40]
        themes.append(Theme(id="", label=label, keywords=list(keywords)[:KEYWORDS], quotes=quotes,
                            size=int(sizes[c]), share=0.0, mean_sentiment=None, negative_share=None,
                            ref=ThemeRef("", label, keywords, emb_centroid)))
    return themes, order


def _label(keywords: list[str]) -> str:
    """Two or three top keywords; a phrase is preferred to the single words it contains."""
    chosen: list[str] = []
    for term in keywords[:10]:
        words = set(term.split())
        if any(words <= set(c.split()) for c in chosen):
            continue
        if " " in term:
            chosen = [c for c in chosen if not set(c.split()) <= words]
        chosen.append(term)
        if len(chosen) == 3 or (len(chosen) == 2 and any(" " in c for c in chosen)):
            break
    return ", ".join(chosen)


def _cosine_keywords(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Cosine similarity of two term -> weight dicts."""
    dot = sum(v * b[t] for t, v in a.items() if t in b)
    na = np.sqrt(sum(v * v for v in a.values()))
    nb = np.sqrt(sum(v * v for v in b.values()))
    return float(dot / (na * nb)) if na and nb else 0.0


def theme_similarity(a: ThemeRef, b: ThemeRef) -> float:
    """Cosine similarity of two themes: embedding centroids when both have them, else keyword weights."""
    if a.centroid is not None and b.centroid is not None and len(a.centroid) == len(b.centroid):
        va, vb = np.asarray(a.centroid), np.asarray(b.centroid)
        denominator = np.linalg.norm(va) * np.linalg.norm(vb)
        return float(va @ vb / denominator) if denominator else 0.0
    return _cosine_keywords(a.keywords, b.keywords)


def _assign_ids(themes: list[Theme], previous: Sequence[ThemeRef], threshold: float) -> None:
    """Give each theme the id of the previous theme it matches (Hungarian), else a new id (module doc)."""
    from scipy.optimize import linear_sum_assignment

    taken: dict[int, ThemeRef] = {}
    if previous and themes:
        sim = np.array([[theme_similarity(t.ref, p) for p in previous] for t in themes if t.ref is not None])
        rows, cols = linear_sum_assignment(-sim)
        taken = {int(r): previous[int(c)] for r, c in zip(rows, cols, strict=True) if sim[r, c] >= threshold}
    numbers = [int(m.group(1)) for p in previous if (m := _ID.match(p.id))]
    used = {p.id for p in previous}
    next_number = max(numbers, default=0) + 1
    for i, theme in enumerate(themes):
        if i in taken:
            theme.id, theme.matched_previous = taken[i].id, True
        else:
            while f"T{next_number}" in used:
                next_number += 1
            theme.id = f"T{next_number}"
            used.add(theme.id)
            next_number += 1
        assert theme.ref is not None
        theme.ref = ThemeRef(theme.id, theme.label, theme.ref.keywords, theme.ref.centroid)


def _theme_stats(themes: list[Theme], row_theme: np.ndarray, scores: np.ndarray, n_answered: int) -> None:
    for index, theme in enumerate(themes):
        mine = scores[row_theme == index]
        theme.share = theme.size / n_answered if n_answered else 0.0
        if len(mine):
            theme.mean_sentiment = round(float(mine.mean()), 4)
            theme.negative_share = round(float((mine <= -0.05).mean()), 4)


def _theme_trends(themes: list[Theme], row_theme: np.ndarray, times: Sequence[Any] | pl.Series, period: str) -> None:
    """Per theme and period: answers in the theme and their share of that period's answers."""
    truncate = {"day": "1d", "week": "1w", "month": "1mo", "quarter": "1q", "year": "1y"}
    if period not in truncate:
        raise ValidationFailed(f"period must be one of {', '.join(truncate)}, not {period!r}", field="period")
    series = times if isinstance(times, pl.Series) else pl.Series("t", list(times))
    if not (series.dtype == pl.Date or isinstance(series.dtype, pl.Datetime)):
        raise ValidationFailed(f"times must be dates or datetimes, not {series.dtype}", field="times")
    frame = (pl.DataFrame({"period": series.dt.truncate(truncate[period]).cast(pl.Date), "theme": row_theme})
             .filter((pl.col("theme") >= 0) & pl.col("period").is_not_null()))
    totals = frame.group_by("period").agg(pl.len().alias("answers"))
    counts = (frame.group_by("period", "theme").agg(pl.len().alias("count")).join(totals, on="period")
              .with_columns((pl.col("count") / pl.col("answers")).alias("share")).sort("period"))
    for index, theme in enumerate(themes):
        theme.trend = [{"period": r["period"].isoformat(), "count": int(r["count"]), "share": round(r["share"], 4)}
                       for r in counts.filter(pl.col("theme") == index).iter_rows(named=True)]


def themes_to_json(result: ThemeResult) -> str:
    """The themes as a JSON document (refs included), readable by :func:`themes_from_json`."""
    payload = {
        "format": THEMES_FORMAT,
        "method": result.method,
        "k": result.k,
        "themes": [
            {**{k: v for k, v in asdict(t).items() if k not in ("ref", "matched_previous")},
             "ref_keywords": t.ref.keywords if t.ref else {},
             "centroid": t.ref.centroid if t.ref else None}
            for t in result.themes
        ],
    }
    return json.dumps(payload, ensure_ascii=False, indent=1)


def themes_from_json(text: str, *, source: str = "themes file") -> list[ThemeRef]:
    """The theme refs in a document written by :func:`themes_to_json`; a clear error when it is not one."""
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(f"{source} is not valid JSON ({exc.msg} at line {exc.lineno}); delete it or give "
                               "another path to start afresh", field="themes") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("themes"), list):
        raise ValidationFailed(f"{source} has no list of 'themes'; it was not written by ravingfans", field="themes")
    refs: list[ThemeRef] = []
    for i, item in enumerate(payload["themes"], start=1):
        try:
            keywords = item.get("ref_keywords") or {}
            centroid = item.get("centroid")
            ref = ThemeRef(id=str(item["id"]), label=str(item.get("label", "")),
                           keywords={str(t): float(w) for t, w in dict(keywords).items()},
                           centroid=[float(x) for x in centroid] if centroid is not None else None)
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ValidationFailed(f"{source}: theme {i} needs an 'id', and 'ref_keywords' as term: weight pairs",
                                   field="themes") from None
        refs.append(ref)
    return refs


def theme_gaps(
    themes: ThemeResult | Sequence[Theme],
    answers: pl.DataFrame,
    *,
    theme_col: str = "theme_id",
    sentiment_col: str = "sentiment",
    value_col: str = "value",
    customer_id_col: str | None = "customer_id",
) -> pl.DataFrame:
    """Themes ranked by value-weighted negativity: the sum over answers of ``value * max(0, -sentiment)``.

    ``answers`` has one row per answer with its theme id, sentiment score in [-1, 1] and the value of the
    customer who gave it (null value counts as 0). Columns: ``theme_id``, ``label``, ``answers``,
    ``negative_answers``, ``customers`` (distinct, with ``customer_id_col``), ``mean_sentiment``,
    ``value_at_stake`` (total value behind the negative answers), ``gap_score``; largest gap first.
    """
    listed = themes.themes if isinstance(themes, ThemeResult) else list(themes)
    needed = [theme_col, sentiment_col, value_col] + ([customer_id_col] if customer_id_col else [])
    missing = [c for c in needed if c not in answers.columns]
    if missing:
        raise ValidationFailed(f"answers is missing column(s) {', '.join(map(repr, missing))}; it has "
                               f"{', '.join(map(repr, answers.columns))}", field=missing[0])
    labels = pl.DataFrame({"theme_id": [t.id for t in listed], "label": [t.label for t in listed]},
                          schema={"theme_id": pl.String, "label": pl.String})
    s = pl.col(sentiment_col).cast(pl.Float64)
    v = pl.col(value_col).cast(pl.Float64).fill_null(0.0)
    negative = s <= -0.05
    aggs = [pl.len().cast(pl.Int64).alias("answers"), negative.sum().cast(pl.Int64).alias("negative_answers"),
            s.mean().alias("mean_sentiment"), v.filter(negative).sum().alias("value_at_stake"),
            (v * (-s).clip(lower_bound=0.0)).sum().alias("gap_score")]
    if customer_id_col:
        aggs.insert(2, pl.col(customer_id_col).n_unique().cast(pl.Int64).alias("customers"))
    ranked = (answers.filter(pl.col(theme_col).is_not_null())
              .with_columns(pl.col(theme_col).cast(pl.String).alias("theme_id"))
              .group_by("theme_id").agg(aggs)
              .join(labels, on="theme_id", how="left"))
    columns = ["theme_id", "label", "answers", "negative_answers"] + (["customers"] if customer_id_col else []) + [
        "mean_sentiment", "value_at_stake", "gap_score"]
    return ranked.select(columns).sort(["gap_score", "theme_id"], descending=[True, False])
