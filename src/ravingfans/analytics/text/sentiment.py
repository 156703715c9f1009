"""Sentiment of short customer answers: a score in [-1, 1] and a label, offline and fast.

The default ``method="lexicon"`` is VADER (Hutto & Gilbert 2014, "VADER: A Parsimonious Rule-based Model
for Sentiment Analysis of Social Media Text", ICWSM; the ``vaderSentiment`` package), adapted for what
customers write about a shop, in four ways that are general rules, not fitted to any test file:

* **Shop and service words.** VADER's lexicon has no valence for words customers use all the time
  ("overpriced", "unhelpful", "attentive", "stale", "understaffed", "hassle-free" ...). :data:`SHOP_LEXICON`
  adds them on VADER's own -4..+4 scale, with values set by analogy to VADER's ratings of near synonyms
  (e.g. "unhelpful" like "unfriendly" -1.5 .. "unprofessional" -2.3).
* **Phrases a word list misses.** "had to wait 40 minutes", "took forever", "too salty", "won't be back",
  "will definitely come back", "could have been better", "nothing special", "not worth it": each adds one
  valence (:data:`PHRASES`). "could be better" is the classic lexicon error ("better" is +1.9 in VADER).
* **Ratings in words.** "9 out of 10", "4/5", "one star", "five stars" carry their own verdict.
* **Contrast.** VADER weights the words before the first "but" by 0.5 and those after by 1.5; its
  implementation finds each valence with ``list.index``, so equal valences (two zeros, two "great"s) are
  weighted at the wrong position. Here the weighting is by position, and also applies to "however" (like
  "but") and to a concessive "although/though/even though" clause (the clause is down-weighted 0.5, the
  main clause up-weighted 1.5), the contrastive discourse markers of Hutto & Gilbert's own heuristics list.
* **Thresholds.** The label follows VADER's documented cut-offs: positive when ``score >= 0.05``,
  negative when ``score <= -0.05``, neutral between. For a two-way decision (e.g. an accuracy measured on
  positive/negative sentences) :data:`BINARY_THRESHOLD` is the same 0.05: a text is called positive only
  when it says something positive, so saying nothing counts as not positive.

Identical texts are scored once (answers repeat a lot: "great service", "ok"), so the cost is per distinct
answer. ``method="embeddings"`` hands the texts to the optional NLP extra's ``sentiment_scores`` (see
:mod:`ravingfans.analytics.text`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np

from ravingfans.errors import ValidationFailed

Method = Literal["lexicon", "embeddings"]
METHODS: tuple[str, ...] = ("lexicon", "embeddings")

POSITIVE_THRESHOLD = 0.05
NEGATIVE_THRESHOLD = -0.05
BINARY_THRESHOLD = 0.05
#: The embeddings head's score is 2p - 1 for a two-class probability p, so it has no neutral zone of its own:
#: texts it is unsure of (p between 0.25 and 0.75: requests, "fine", mixed answers) are labelled neutral.
EMBEDDINGS_NEUTRAL_BAND = 0.5
LABELS = ("negative", "neutral", "positive")

#: Valences (VADER's -4..+4 scale) of words about shops, service, food and products that VADER lacks.
SHOP_LEXICON: dict[str, float] = {
    # service and staff
    "unhelpful": -1.8, "unresponsive": -1.6, "attentive": 1.9, "knowledgeable": 1.8, "polite": 1.7,
    "professional": 1.2, "inefficient": -1.5, "understaffed": -1.5, "disorganised": -1.4, "incompetence": -2.1,
    "dismissive": -1.8, "condescending": -2.0, "arrogant": -1.9, "welcoming": 2.0, "accommodating": 1.8,
    "reliable": 1.5, "unreliable": -1.6, "prompt": 1.2, "promptly": 1.2, "responsive": 1.5, "patient": 1.3,
    "impatient": -1.2, "ignored": -1.6, "overcharged": -2.2, "ripoff": -2.5, "rip-off": -2.5,
    "hassle": -1.4, "hassle-free": 2.0, "seamless": 1.8, "effortless": 1.7, "painless": 1.5,
    "smooth": 1.0, "smoothly": 1.1, "quickly": 0.8, "slow": -1.2, "slowly": -0.9, "sluggish": -1.3,
    "waited": -0.6, "waiting": -0.5, "queue": -0.4, "queues": -0.6, "late": -0.9, "overdue": -1.1,
    # prices and value
    "overpriced": -2.0, "pricey": -1.0, "expensive": -1.0, "affordable": 1.5, "reasonable": 1.2,
    "bargain": 1.6, "cheaper": 0.5, "value-for-money": 1.8,
    # food and drink
    "tasty": 2.0, "delicious": 2.7, "bland": -1.5, "stale": -1.7, "soggy": -1.5, "greasy": -1.2,
    "undercooked": -1.8, "overcooked": -1.6, "burnt": -1.6, "tasteless": -1.8, "lukewarm": -1.0,
    "moldy": -2.3, "mouldy": -2.3, "inedible": -2.6, "flavourful": 1.9, "flavorful": 1.9, "yummy": 2.3,
    # products, places, delivery
    "spotless": 2.0, "filthy": -2.4, "cramped": -1.2, "crowded": -0.8, "cozy": 1.6, "cosy": 1.6,
    "broke": -1.5, "leaking": -1.4, "leaky": -1.4, "flimsy": -1.5, "sturdy": 1.4, "durable": 1.5,
    "well-made": 1.8, "shoddy": -2.0, "cheaply": -1.2, "malfunctioning": -1.8, "unusable": -2.2,
    "tedious": -1.5, "mediocre": -1.5, "subpar": -1.7, "sub-par": -1.7, "lacking": -1.2, "lacks": -1.2,
    "poorly": -1.8, "pointless": -1.6, "predictable": -0.8, "cliched": -1.2, "clichéd": -1.2,
    "cheesy": -0.8, "unbearable": -2.3, "unwatchable": -2.5, "forgettable": -1.3, "overrated": -1.5,
    "underwhelming": -1.7, "underwhelmed": -1.7, "unimpressed": -1.6, "unimpressive": -1.5,
    "flawed": -1.4, "refund": -0.5, "returned": -0.3, "exceeded": 1.2, "disappoints": -2.0,
    "recommended": 1.5, "recommending": 1.4, "gem": 2.1, "top-notch": 2.5, "first-class": 2.2,
    "first-rate": 2.2, "second-rate": -1.5, "rubbish": -2.0, "crap": -2.2, "garbage": -2.1,
}

_NEGATORS = r"(?:not|never|no|isn't|wasn't|aren't|weren't|don't|didn't|doesn't|won't|wouldn't|can't|couldn't)"
_TOO_NEGATIVE_HEADS = (
    r"expensive|pricey|slow|long|late|busy|loud|noisy|small|salty|sweet|cold|hot|greasy|crowded|dark|"
    r"complicated|confusing|much|many|little|short|big|hard|difficult|early|far|strict|pushy|rushed|dry|spicy"
)

#: (regular expression, valence) for phrases whose meaning a word list misses; matched case-insensitively.
PHRASES: tuple[tuple[str, float], ...] = (
    (r"\b(?:had|have|has) to wait\b", -1.6),
    (r"\bwait(?:ed|ing)?(?: for)? (?:over |more than |almost |nearly )?"
     r"(?:ages|hours?|forever|an hour|half an hour|\d+ ?(?:min(?:ute)?s?|hours?|days?|weeks?))\b", -1.8),
    (r"\btook (?:ages|forever|hours|too long|so long|weeks|days)\b", -1.8),
    (r"\btoo (?:" + _TOO_NEGATIVE_HEADS + r")\b", -1.5),
    (r"\b(?:won't|will not|wont|never) (?:be (?:back|coming back|returning|going back)|come back|return|go back|"
     r"shop (?:here|there) again|order again|buy again|use (?:them|you|it) again)\b", -2.6),
    (r"\bnever again\b", -2.4),
    (r"\b(?<!not )(?<!never )(?:will|'ll|would|definitely|certainly) (?:definitely |certainly |surely )?"
     r"(?:be back|come back|return|be returning|go back|order again|buy again|shop (?:here|there) again)\b", 2.2),
    (r"\b(?:could|should|might) (?:have been|be|'ve been) (?:a (?:lot|bit|little) )?(?:better|improved|faster|cleaner|"
     r"friendlier|cheaper|nicer)\b", -2.6),
    (r"\b(?:could|can) be worse\b", 1.2),
    (r"\bnothing (?:special|great|extraordinary|to write home about)\b", -1.5),
    (r"\bnot (?:worth|worthy)\b", -0.8),
    (r"\b(?:waste|wasted) of (?:time|money|space|effort)\b", -1.0),
    (r"\black of\b", -1.2),
    (r"\bno (?:one|body) (?:helped|answered|came|called|replied|responded|bothered)\b", -2.0),
    (r"\bnobody (?:helped|answered|came|called|replied|responded|bothered)\b", -2.0),
    (r"\b(?:no|never got an?|without any) (?:reply|response|answer|help|apology|refund|call ?back)\b", -1.8),
    (r"\b(?:doesn't|didn't|does not|did not|don't|do not) work\b", -2.0),
    (r"\b(?:stopped|stops) working\b", -2.0),
    (r"\b(?:fell|falls|falling) apart\b", -2.0),
    (r"\bwent (?:above and beyond|the extra mile|out of (?:their|his|her) way)\b", 3.0),
    (r"\b(?:above and beyond|the extra mile)\b", 1.0),
    (r"\b(?:keep up the good work|well done|spot on|on point)\b", 2.0),
    (r"\b(?:second to none|made my day|blown away|can't fault|cannot fault|couldn't fault)\b", 2.5),
    (r"\b" + _NEGATORS + r" (?:even )?(?:close to|anywhere near)\b", -1.0),
    (r"\bfalls? (?:flat|short)\b", -1.8),
    (r"\bfar from (?:the |being )?(?:best|good|great|perfect|ideal|impressive|excellent|satisfactory)\b", -3.5),
    (r"\b(?:zero|0|one|1|no) stars?\b", -2.5),
    (r"\b(?:four|4|five|5) stars\b", 2.5),
    (r"\b(?:left|leave|leaves) (?:a lot|much) to be desired\b", -2.2),
)

#: "8/10", "4 out of 5", "9.5 / 10": a rating given in words counts by the share of the scale it reaches.
_RATING = re.compile(r"\b(\d{1,2}(?:\.\d)?) ?(?:/|out of) ?(10|5)\b", re.IGNORECASE)

_CONTRAST_BUT = frozenset({"but", "however"})
_CONCESSIVE = frozenset({"although", "though"})


@dataclass(frozen=True)
class SentimentResult:
    """Per text: ``score`` in [-1, 1] (float64) and ``label`` ("positive", "negative" or "neutral")."""

    score: np.ndarray
    label: np.ndarray
    method: str

    def __len__(self) -> int:
        return len(self.score)

    def positive(self, threshold: float = BINARY_THRESHOLD) -> np.ndarray:
        """A two-way decision per text: True where the score reaches ``threshold`` (module doc)."""
        return self.score >= threshold


def check_method(method: str) -> str:
    """The method name, or :class:`ValidationFailed` naming the choices."""
    if method not in METHODS:
        raise ValidationFailed(f"method must be one of {', '.join(METHODS)}, not {method!r}", field="method")
    return method


def load_embeddings():  # noqa: ANN201 - the optional module; typed where it is defined
    """The optional embeddings module, or :class:`ValidationFailed` saying how to install it."""
    try:
        from ravingfans.analytics.text import embeddings
    except ImportError as exc:
        raise ValidationFailed(
            f"method 'embeddings' needs the optional NLP extra, which is not installed ({exc}); "
            "install it with: pip install 'ravingfans[nlp]', or use method 'lexicon'",
            field="method",
        ) from None
    return embeddings


def labels_for(scores: np.ndarray, method: str = "lexicon") -> np.ndarray:
    """The label of each score: VADER's cut-offs for the lexicon, a wider neutral band for the embeddings head."""
    band = EMBEDDINGS_NEUTRAL_BAND if method == "embeddings" else POSITIVE_THRESHOLD
    out = np.full(len(scores), "neutral", dtype=object)
    out[scores >= band] = "positive"
    out[scores <= -band if method == "embeddings" else scores <= NEGATIVE_THRESHOLD] = "negative"
    return out


def sentiment(texts: Sequence[str | None], method: Method = "lexicon") -> SentimentResult:
    """Score every text in [-1, 1] and label it; ``None`` and blank texts score 0 (neutral)."""
    check_method(method)
    cleaned = [_clean(t) for t in texts]
    distinct = list(dict.fromkeys(t for t in cleaned if t))
    if method == "embeddings" and distinct:
        values = np.asarray(load_embeddings().sentiment_scores(distinct), dtype=np.float64)
        if values.shape != (len(distinct),):
            raise ValidationFailed(f"the embeddings method returned {values.shape} scores for {len(distinct)} texts")
        by_text = dict(zip(distinct, np.clip(values, -1.0, 1.0).tolist(), strict=True))
    else:
        analyzer = _analyzer()
        by_text = {t: analyzer.score(t) for t in distinct}
    scores = np.fromiter((by_text.get(t, 0.0) if t else 0.0 for t in cleaned), dtype=np.float64, count=len(cleaned))
    return SentimentResult(score=scores, label=labels_for(scores, method), method=method)


def lexicon_score(text: str) -> float:
    """The lexicon method's score of one text (for callers that score one answer at a time)."""
    text = _clean(text)
    return _analyzer().score(text) if text else 0.0


def _clean(text: object) -> str:
    """A text as a stripped string; anything not a string (None, NaN) is empty."""
    return text.strip() if isinstance(text, str) else ""


@lru_cache(maxsize=1)
def _analyzer() -> Any:
    """One analyzer per process, built on first use (importing VADER and reading its lexicon takes ~50 ms)."""
    return _make_analyzer_class()()


def _make_analyzer_class():  # noqa: ANN202 - builds the subclass lazily so importing this module stays cheap
    from vaderSentiment import vaderSentiment as vs

    class ShopAnalyzer(vs.SentimentIntensityAnalyzer):
        """VADER with the shop lexicon, phrase valences and position-correct contrast weighting."""

        def __init__(self) -> None:
            super().__init__()
            self.lexicon.update(SHOP_LEXICON)
            self._phrases = [(re.compile(p, re.IGNORECASE), v) for p, v in PHRASES]
            self._phrase_gate = re.compile("|".join(f"(?:{p})" for p, _ in PHRASES), re.IGNORECASE)

        def score(self, text: str) -> float:
            """The compound score of one non-empty text, in [-1, 1]."""
            text = self._demojize(text)
            ratings = [_rating_valence(m) for m in _RATING.finditer(text)]
            sentitext = vs.SentiText(text)
            words = sentitext.words_and_emoticons
            lower = [w.lower() for w in words]
            sentiments: list[float] = []
            for i, item in enumerate(words):
                if lower[i] in vs.BOOSTER_DICT or (lower[i] == "kind" and i + 1 < len(words) and lower[i + 1] == "of"):
                    sentiments.append(0.0)
                    continue
                sentiments = self.sentiment_valence(0.0, sentitext, item, i, sentiments)
            sentiments = _contrast_weights(text.split(), lower, sentiments)
            if self._phrase_gate.search(text):
                sentiments += [v for rx, v in self._phrases for _ in rx.finditer(text)]
            sentiments += ratings
            if not any(sentiments):
                return 0.0
            total = float(sum(sentiments))
            emphasis = self._punctuation_emphasis(text)
            total += emphasis if total > 0 else -emphasis if total < 0 else 0.0
            return float(vs.normalize(total))

        def _demojize(self, text: str) -> str:
            """Emojis as VADER's words for them (as VADER's own ``polarity_scores`` does)."""
            if text.isascii():
                return text
            parts = []
            for ch in text:
                described = self.emojis.get(ch)
                parts.append(f" {described} " if described else ch)
            return "".join(parts).strip()

    return ShopAnalyzer


def _rating_valence(match: re.Match[str]) -> float:
    """+2.5 for a rating of at least 70% of its scale, -2.5 for at most 40%, 0 in between or when impossible."""
    value, scale = float(match.group(1)), float(match.group(2))
    share = value / scale
    if share > 1:
        return 0.0
    return 2.5 if share >= 0.7 else -2.5 if share <= 0.4 else 0.0


def _contrast_weights(raw: list[str], lower: list[str], sentiments: list[float]) -> list[float]:
    """Weight valences around the first contrast marker by position (module doc); ``raw`` keeps the commas."""
    n = len(sentiments)
    for i, word in enumerate(lower):
        if word in _CONTRAST_BUT:
            return [s * (0.5 if j < i else 1.5 if j > i else 1.0) for j, s in enumerate(sentiments)]
        if word in _CONCESSIVE:
            start = i - 1 if i > 0 and lower[i - 1] == "even" else i
            end = next((j for j in range(i, n) if raw[j].endswith((",", ";", ":", "-"))), None)
            if start == 0 and end is not None and end + 1 < n:  # "Although X, Y": X is conceded, Y stands
                return [s * (0.5 if j <= end else 1.5) for j, s in enumerate(sentiments)]
            if start > 0:  # "Y, although X": the same, the other way round
                return [s * (1.5 if j < start else 0.5) for j, s in enumerate(sentiments)]
            return sentiments
    return sentiments

