"""Requests: answers that ask for something ("I wish...", "could you...", "please add..."), and what they ask.

These are the "ways we could have said yes". Detection is a set of request constructions of English
(optative "I wish / if only", polite questions "could you / would you / can you", suggestions "you should /
why don't you / why not / it would be nice if", desires "I'd love / I would like / we need more",
imperatives "please add / bring back / add more") matched at a word boundary, with the usual false friends
left out ("could you believe", "I wish I had never come", "you should try the cake", "would love to come
back"). The extracted request is the clause from the trigger to the end of its sentence, trimmed to
:data:`MAX_REQUEST_CHARS`. Anything that is not a string, and any Unicode, is handled (no request).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MAX_REQUEST_CHARS = 200

_TRIGGERS = (
    r"i (?:really |just |only )?wish(?! (?:i|we) (?:had|hadn't|never|didn't|could give|would have))",
    r"i(?:'d| would) (?:really )?(?:love|like|prefer|appreciate)(?! (?:it|to come back|to return|to go back)\b(?! if))",
    r"we(?:'d| would) (?:really )?(?:love|like|prefer|appreciate)(?! to (?:come back|return|go back)\b)",
    r"(?:would|'d) love (?:to see|it if|if|more|a|an|some|the option)",
    r"(?:could|can|would|will) (?:you|they|u) (?:guys )?(?:please |maybe |possibly |perhaps )?"
    r"(?!believe|imagine|tell|guess|ever\b|not\b)[a-z]+",
    r"it (?:would|'d) be (?:really |very |so )?(?:nice|great|good|helpful|lovely|better|useful|handy|awesome|cool)"
    r"(?: if| to)",
    r"(?:would be|it's|it is) (?:nice|great|good|helpful) to have",
    r"(?:please|pls|plz),? (?!keep\b|continue\b|don't change\b)[a-z]+",
    r"you (?:guys )?(?:really )?(?:should|need to|ought to|could|might want to|must)"
    r"(?! (?:try|see|go|visit|check|be (?:proud|ashamed)|know|have seen|come)\b)(?! not\b)",
    r"why (?:don't|do not|not|can't|cannot) (?:you|they|we)?",
    r"(?:we|i|you) (?:really )?need (?:more|a|an|some|better|to)",
    r"needs? (?:more|better|a bigger|a larger|longer|cheaper|faster)",
    r"more (?:[a-z]+ ){0,3}(?:please|pls|would be (?:nice|great|good))",
    r"if only",
    r"(?:consider|maybe|perhaps|suggest|suggestion:?|recommend(?:ation)?:?) (?:adding|offering|having|opening|"
    r"making|getting|bringing|extending|hiring|lowering|reducing|improving|that you)",
    r"(?:bring back|add more|add an?|add some|open (?:earlier|later|on)|stay open|stock more|offer more|"
    r"lower (?:the|your) prices|hire more)",
    r"(?:i|we) (?:want|wanted) (?:more|a|an|some|to see|you to)",
    r"(?:hope|hoping) (?:you|they) (?:will|can|could|add|bring|get|start|open|offer)",
)
_REQUEST = re.compile(r"(?:^|(?<=[^\w']))(?:" + "|".join(_TRIGGERS) + r")", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?;\n]|$")
_NORMALISE_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})


@dataclass(frozen=True)
class RequestResult:
    """Per text: ``is_request`` (bool) and ``request`` (the clause that asks, or None)."""

    is_request: np.ndarray
    request: np.ndarray

    def __len__(self) -> int:
        return len(self.is_request)


def request_phrase(text: object) -> str | None:
    """The clause of ``text`` that asks for something, from its trigger to the end of its sentence, or None."""
    if not isinstance(text, str) or not text.strip():
        return None
    normalised = text.translate(_NORMALISE_APOSTROPHES)
    match = _REQUEST.search(normalised)
    if match is None:
        return None
    start = match.start()
    end = _SENTENCE_END.search(normalised, match.end())
    stop = end.start() if end is not None else len(normalised)
    phrase = " ".join(normalised[start:stop].split())
    if len(phrase) > MAX_REQUEST_CHARS:
        phrase = phrase[: MAX_REQUEST_CHARS - 1].rstrip() + "…"
    return phrase or None


def find_requests(texts: Sequence[object]) -> RequestResult:
    """Flag every text that asks for something and extract the request; identical texts are read once."""
    cache: dict[str, str | None] = {}
    phrases: list[str | None] = []
    for text in texts:
        if not isinstance(text, str):
            phrases.append(None)
            continue
        if text not in cache:
            cache[text] = request_phrase(text)
        phrases.append(cache[text])
    request = np.array(phrases, dtype=object) if phrases else np.empty(0, dtype=object)
    return RequestResult(is_request=np.array([p is not None for p in phrases], dtype=bool), request=request)
