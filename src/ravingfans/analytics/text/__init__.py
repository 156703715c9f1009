"""Listening analytics for open text: sentiment, themes, requests and silences (pure functions).

Every function takes a ``method``: ``"lexicon"`` (the default; offline, fast, no extra dependencies) or
``"embeddings"``, which needs the optional NLP extra (``pip install 'ravingfans[nlp]'``) and is provided by
:mod:`ravingfans.analytics.text.embeddings`: ``embed(texts) -> ndarray`` (L2-normalised float32 rows) and
``sentiment_scores(texts) -> ndarray`` in [-1, 1]. That module is imported only when asked for; when it
cannot be imported the functions raise :class:`~ravingfans.errors.ValidationFailed` saying how to install it.
"""

from __future__ import annotations
