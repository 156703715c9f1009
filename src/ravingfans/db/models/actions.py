"""Acting on what we know: follow-up rules and the tasks they give people, and the worker's job schedule."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ravingfans.db.models.base import Base
from ravingfans.db.types import Money, UTCDateTime

#: A task is open until someone does it, snoozes it (open again on ``snoozed_until``) or dismisses it.
TASK_STATUSES = ("open", "snoozed", "done", "dismissed")


class FollowUpRule(Base):
    """A follow-up rule the business switched on or off, with its tuning (``params``, per rule kind)."""

    __tablename__ = "follow_up_rules"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)  # courtesy_call, thank_fans, win_back, ...
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_evaluated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Task(Base):
    """Something a person should do for a customer: call, thank, win back, send a note.

    ``dedupe_key`` (rule, customer and occasion, e.g. ``courtesy_call:42:order:981``) is unique, so a rule
    evaluated twice, or by two workers at once, never creates the same task twice.
    """

    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    rule: Mapped[str] = mapped_column(String(40))  # a FollowUpRule name, or "manual", or "campaign"
    kind: Mapped[str] = mapped_column(String(20))  # call, thank, win_back, note, gift
    reason: Mapped[str] = mapped_column(Text)
    script: Mapped[str] = mapped_column(Text, default="")
    owner_employee_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id", ondelete="SET NULL"),
                                                          index=True)
    due_on: Mapped[date] = mapped_column(Date)
    priority: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))  # the customer's value at stake
    status: Mapped[str] = mapped_column(String(12), default="open")
    snoozed_until: Mapped[date | None] = mapped_column(Date)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"), index=True)
    interaction_id: Mapped[int | None] = mapped_column(ForeignKey("interactions.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    done_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    outcome_note: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_tasks_status_due", "status", "due_on"),)


class ScheduledJob(Base):
    """One of the worker's jobs: when it is next due and who holds it now.

    A worker claims a due job with one conditional UPDATE (due, and no live lease), so two workers never
    run it at once; a worker killed mid-job leaves a lease that runs out, and the next one runs it again
    (every job is idempotent: tasks, notices and mail all have unique keys).
    """

    __tablename__ = "scheduled_jobs"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_status: Mapped[str | None] = mapped_column(String(12))  # ok, failed
    last_summary: Mapped[str] = mapped_column(Text, default="")
    runs: Mapped[int] = mapped_column(Integer, default=0)
