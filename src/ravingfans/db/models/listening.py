"""Listening: the themes of the open answers (kept so a theme keeps its id across re-runs) and each answer's reading."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ravingfans.db.models.base import Base
from ravingfans.db.types import UTCDateTime


class FeedbackTheme(Base):
    """A theme of the open answers: its stable id ("T3"), readable label, keywords, quotes and identity (ref)."""

    __tablename__ = "feedback_themes"

    id: Mapped[str] = mapped_column(String(20), primary_key=True)  # the analytics' theme id, e.g. "T3"
    label: Mapped[str] = mapped_column(String(200))
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    quotes: Mapped[list[str]] = mapped_column(JSON, default=list)
    # ravingfans.analytics.text.themes.ThemeRef as {"label", "keywords": {term: weight}, "centroid": [...] | None}
    ref: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    size: Mapped[int] = mapped_column(Integer, default=0)
    mean_sentiment: Mapped[float | None] = mapped_column(Float)
    method: Mapped[str] = mapped_column(String(20), default="lexicon")
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    retired: Mapped[bool] = mapped_column(Boolean, default=False)  # not found in the latest analysis


class AnswerInsight(Base):
    """What the latest analysis read in one response's open answers: sentiment, theme, request, said nothing."""

    __tablename__ = "answer_insights"

    response_id: Mapped[int] = mapped_column(ForeignKey("survey_responses.id", ondelete="CASCADE"), primary_key=True)
    sentiment: Mapped[float] = mapped_column(Float)  # -1 .. 1
    sentiment_label: Mapped[str] = mapped_column(String(10))  # positive, neutral, negative
    theme_id: Mapped[str | None] = mapped_column(ForeignKey("feedback_themes.id", ondelete="SET NULL"), index=True)
    is_request: Mapped[bool] = mapped_column(Boolean, default=False)
    request_text: Mapped[str | None] = mapped_column(Text)
    is_empty: Mapped[bool] = mapped_column(Boolean, default=False)
    analysed_at: Mapped[datetime] = mapped_column(UTCDateTime())
