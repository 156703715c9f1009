"""Bulk analysis of a file of open answers, with no database: what `ravingfans feedback analyze` runs.

Reads CSV or XLSX (through :mod:`ravingfans.ingest.readers`: encoding and delimiter detected, every cell
read as text) or Parquet, and returns one row per answer with its sentiment, theme, request and whether it
says anything, plus the themes. Answers that say nothing ("ok", "fine", blank) get no theme, so they do
not form a theme of their own. Previous themes (from the last run's themes file) keep their ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from ravingfans.analytics.text.requests import find_requests
from ravingfans.analytics.text.sentiment import check_method, sentiment
from ravingfans.analytics.text.silence import empty_answers
from ravingfans.analytics.text.themes import DEFAULT_K_RANGE, ThemeRef, ThemeResult, find_themes
from ravingfans.errors import ImportFailed, ValidationFailed

#: Columns of the per-answer table, after the id column (the one named by ``id_column``, or ``row``).
RESULT_COLUMNS = ("text", "sentiment", "sentiment_label", "theme_id", "theme_label", "is_request", "request",
                  "is_empty")


@dataclass
class FeedbackAnalysis:
    """The per-answer table and the themes found."""

    rows: pl.DataFrame
    themes: ThemeResult


def read_answers(path: Path, text_column: str, id_column: str | None = None) -> pl.DataFrame:
    """The text (and id) columns of a CSV, XLSX or Parquet file; errors name the columns the file has."""
    path = Path(path)
    if not path.exists():
        raise ImportFailed(f"No such file: {path}", hint="Check the path and try again.")
    if path.is_dir():
        raise ImportFailed(f"{path} is a folder, not a file.")
    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic == b"PAR1":
        try:
            frame = pl.read_parquet(path)
        except Exception as exc:  # noqa: BLE001 - any parser failure is the file's, reported as such
            raise ImportFailed(f"{path.name} cannot be read as Parquet: {exc}") from None
    else:
        from ravingfans.ingest.readers import iter_batches, open_source

        source = open_source(path)
        batches = list(iter_batches(source))
        frame = pl.concat(batches, how="vertical") if batches else pl.DataFrame(
            {name: [] for name in source.header}, schema=dict.fromkeys(source.header, pl.String))
        frame = frame.drop([c for c in frame.columns if c.startswith("__")])
    wanted = [text_column] + ([id_column] if id_column else [])
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise ValidationFailed(
            f"{path.name} has no column {missing[0]!r}; its columns are: {', '.join(map(repr, frame.columns))}",
            field="text_column" if missing[0] == text_column else "id_column",
            hint="Name the column of answers with --text-column (and of ids with --id-column).",
        )
    if frame.height == 0:
        raise ImportFailed(f"{path.name} has a header but no answers.",
                           hint="Expected one row per answer under the header.")
    out = frame.select(pl.col(text_column).cast(pl.String).alias("text"))
    if id_column:
        out = out.with_columns(frame[id_column].alias(id_column)).select(id_column, "text")
    return out


def analyze_texts(
    texts: list[str | None],
    *,
    method: str = "lexicon",
    previous: list[ThemeRef] | None = None,
    k: int | None = None,
    k_range: tuple[int, int] = DEFAULT_K_RANGE,
) -> FeedbackAnalysis:
    """Sentiment, theme, request and empty flag per answer (module doc); ``rows`` starts with ``text``."""
    check_method(method)
    scores = sentiment(texts, method=method)
    requests = find_requests(texts)
    empty = empty_answers(texts)
    themed = [None if e else t for t, e in zip(texts, empty, strict=True)]
    themes = find_themes(themed, previous=previous, k=k, k_range=k_range, method=method, sentiments=scores.score)
    ids = themes.theme_ids
    labels_by_id = {t.id: t.label for t in themes.themes}
    rows = pl.DataFrame({
        "text": pl.Series(texts, dtype=pl.String),
        "sentiment": pl.Series(scores.score, dtype=pl.Float64),
        "sentiment_label": pl.Series(scores.label.tolist(), dtype=pl.String),
        "theme_id": pl.Series(ids.tolist(), dtype=pl.String),
        "theme_label": pl.Series([labels_by_id.get(i) for i in ids.tolist()], dtype=pl.String),
        "is_request": pl.Series(requests.is_request, dtype=pl.Boolean),
        "request": pl.Series(requests.request.tolist(), dtype=pl.String),
        "is_empty": pl.Series(empty, dtype=pl.Boolean),
    })
    return FeedbackAnalysis(rows=rows, themes=themes)


def analyze_file(
    path: Path,
    *,
    text_column: str,
    id_column: str | None = None,
    method: str = "lexicon",
    previous: list[ThemeRef] | None = None,
    k: int | None = None,
) -> FeedbackAnalysis:
    """Read a file of answers and analyse them; ``rows`` has the id column (or ``row``, 1-based) first."""
    check_method(method)
    answers = read_answers(path, text_column, id_column)
    analysis = analyze_texts(answers["text"].to_list(), method=method, previous=previous, k=k)
    key = answers.select(id_column) if id_column else pl.DataFrame(
        {"row": pl.int_range(1, answers.height + 1, eager=True, dtype=pl.Int64)})
    analysis.rows = pl.concat([key, analysis.rows], how="horizontal")
    return analysis
