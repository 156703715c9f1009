"""Moments of truth: every contact with a customer, rated magic, mediocre or misery."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ravingfans.db.models.base import Base
from ravingfans.db.types import UTCDateTime

CHANNELS = ("store", "phone", "email", "web", "other")
KINDS = ("purchase", "question", "complaint", "return", "courtesy_call", "gift", "other")
RATINGS = {"magic": 1, "mediocre": 0, "misery": -1}
RATING_NAMES = {v: k for k, v in RATINGS.items()}


def name_of_rating(rating: int | None) -> str | None:
    """'magic', 'mediocre', 'misery' for a stored rating, or None when unrated (objects and read rows alike)."""
    return None if rating is None else RATING_NAMES[rating]


class Interaction(Base):
    """One contact ("moment of truth") on the customer's timeline."""

    __tablename__ = "interactions"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    employee_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id", ondelete="SET NULL"), index=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    channel: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(20))
    rating: Mapped[int | None] = mapped_column(SmallInteger)  # +1 magic, 0 mediocre, -1 misery
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_interactions_customer_at", "customer_id", "occurred_at"),)

    @property
    def rating_name(self) -> str | None:
        """'magic', 'mediocre', 'misery' or None when unrated."""
        return name_of_rating(self.rating)
