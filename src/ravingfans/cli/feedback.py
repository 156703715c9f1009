"""`ravingfans feedback analyze`: sentiment, themes, requests and empty answers of a file of answers, no database."""

from __future__ import annotations

import os
import tempfile
from enum import StrEnum
from pathlib import Path

import typer

from ravingfans.cli.output import info
from ravingfans.errors import ValidationFailed

feedback_app = typer.Typer(help="Listen to open answers in a file: sentiment, themes, requests, silences.",
                           no_args_is_help=True)


class Method(StrEnum):
    """How texts are read."""

    lexicon = "lexicon"
    embeddings = "embeddings"


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.add_typer(feedback_app, name="feedback")


@feedback_app.command("analyze")
def analyze(
    file: Path = typer.Argument(..., help="A CSV, XLSX or Parquet file with one answer per row."),
    text_column: str = typer.Option(..., "--text-column", help="The column holding the answers."),
    out: Path = typer.Option(..., "--out", help="Parquet file to write, one row per answer."),
    themes: Path | None = typer.Option(None, "--themes",
                                       help="Themes JSON: read first (if it exists) so theme ids stay stable, "
                                            "then rewritten."),
    method: Method = typer.Option(Method.lexicon, "--method",
                                  help="lexicon (default, offline) or embeddings (needs ravingfans[nlp])."),
    id_column: str | None = typer.Option(None, "--id-column", help="A column to copy to the output as the row id."),
    k: int | None = typer.Option(None, "--k", min=1, help="Number of themes (default: chosen automatically)."),
) -> None:
    """Analyse open answers: per-row sentiment, theme, request and empty flag to Parquet; themes to JSON."""
    from ravingfans.analytics.text.feedback import analyze_file
    from ravingfans.analytics.text.themes import themes_from_json, themes_to_json

    if out.suffix.lower() != ".parquet":
        raise ValidationFailed(f"--out must name a .parquet file, not {out.name!r}", field="out")
    previous = None
    if themes is not None and themes.exists():
        try:
            previous = themes_from_json(themes.read_text(encoding="utf-8"), source=f"themes file {themes}")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValidationFailed(f"Cannot read the themes file {themes}: {exc}", field="themes") from None
    analysis = analyze_file(file, text_column=text_column, id_column=id_column, method=method.value,
                            previous=previous, k=k)
    _write_atomically(out, lambda p: analysis.rows.write_parquet(p))
    if themes is not None:
        text = themes_to_json(analysis.themes)
        _write_atomically(themes, lambda p: Path(p).write_text(text, encoding="utf-8"))
    rows = analysis.rows
    kept = sum(t.matched_previous for t in analysis.themes.themes)
    info(f"Analysed {rows.height} answers: {int((rows['sentiment_label'] == 'negative').sum())} negative, "
         f"{int(rows['is_request'].sum())} requests, {int(rows['is_empty'].sum())} empty; "
         f"{len(analysis.themes.themes)} themes" + (f" ({kept} kept from {themes})" if previous else "")
         + f". Wrote {out}" + (f" and {themes}." if themes is not None else "."))


def _write_atomically(path: Path, write) -> None:  # noqa: ANN001 - a callable taking the temporary path
    """Write through a temporary file in the same folder, so a failed run never leaves half a file."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ValidationFailed(f"The folder {folder} does not exist; create it or choose another path.", field="out")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
