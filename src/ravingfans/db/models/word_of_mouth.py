"""Word of mouth: a customer spoke of us (a review, a post, a friend told); referrals live on the customer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ravingfans.db.models.base import Base
from ravingfans.db.types import UTCDateTime

MENTION_KINDS = ("review", "social_post", "told_friend", "press", "other")


class Mention(Base):
    """One time a customer spoke of the business where others could hear it."""

    __tablename__ = "mentions"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    where: Mapped[str] = mapped_column(String(120), default="")  # Google, Instagram, a friend's name ...
    url: Mapped[str | None] = mapped_column(String(500))
    sentiment: Mapped[int | None] = mapped_column(SmallInteger)  # +1 praise, 0 neutral, -1 complaint
    note: Mapped[str] = mapped_column(Text, default="")
    employee_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id", ondelete="SET NULL"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_mentions_customer_at", "customer_id", "occurred_at"),)
