"""Gifts and campaigns: win-back and appreciation, each with a random hold-out group that proves the lift."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ravingfans.db.models.base import Base
from ravingfans.db.types import Money, UTCDateTime

GIFT_KINDS = ("discount_code", "voucher", "free_item", "note")
CAMPAIGN_KINDS = ("win_back", "appreciation")
CAMPAIGN_STATUSES = ("draft", "running", "closed", "cancelled")
DELIVERIES = ("email", "task")
GROUPS = ("treated", "holdout")


class Gift(Base):
    """An entry of the gift catalog: a discount code, a voucher, a free item or a handwritten note."""

    __tablename__ = "gifts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    code: Mapped[str | None] = mapped_column(String(60))  # the discount code or voucher prefix
    value: Mapped[Decimal | None] = mapped_column(Money())  # money off or voucher amount
    description: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Campaign(Base):
    """A win-back or appreciation campaign: its audience, gift, hold-out share and seed, window and report."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    gift_id: Mapped[int | None] = mapped_column(ForeignKey("gifts.id", ondelete="SET NULL"))
    audience: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # e.g. {"segments": [...]} or {"slipping": true}
    holdout_share: Mapped[float] = mapped_column(Float, default=0.2)
    seed: Mapped[int] = mapped_column(Integer)
    delivery: Mapped[str] = mapped_column(String(10), default="email")
    window_days: Mapped[int] = mapped_column(Integer, default=60)
    status: Mapped[str] = mapped_column(String(12), default="draft")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the lift, stored when the window closes
    message: Mapped[str] = mapped_column(Text, default="")


class CampaignMember(Base):
    """A customer in a campaign, treated or held out (never both), with the gift's delivery and redemption."""

    __tablename__ = "campaign_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    group: Mapped[str] = mapped_column(String(10))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivery_note: Mapped[str] = mapped_column(Text, default="")  # why not delivered (no consent, ...)
    redeemed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    redeemed_order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    value_at_start: Mapped[Decimal | None] = mapped_column(Money())  # CLV when assigned

    __table_args__ = (UniqueConstraint("campaign_id", "customer_id"),
                      Index("ix_campaign_members_campaign_group", "campaign_id", "group"))
