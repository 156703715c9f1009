"""Surveys: the questions a business asks, who was asked (and by which link), and what each customer answered."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ravingfans.db.models.base import Base
from ravingfans.db.types import UTCDateTime

SURVEY_STATUSES = ("draft", "open", "closed")
QUESTION_KINDS = ("nps", "csat", "text", "rank", "yesno")
INVITATION_CHANNELS = ("email", "link", "store", "phone")
RESPONSE_CHANNELS = ("web", "store", "phone", "email")
DEFAULT_SURVEY_KEY = "default"


class Survey(Base):
    """A survey: its name for staff, its title for customers, and whether it takes answers."""

    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(primary_key=True)
    # "default" for the survey shipped with ravingfans (its texts are translated); None for the business's own.
    key: Mapped[str | None] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10), default="draft")  # draft, open, closed
    closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    questions: Mapped[list[SurveyQuestion]] = relationship(
        back_populates="survey", cascade="all, delete-orphan", order_by="SurveyQuestion.position")


class SurveyQuestion(Base):
    """One question of a survey, in its place; ``options`` lists the expectations a "rank" question orders."""

    __tablename__ = "survey_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(SmallInteger)
    kind: Mapped[str] = mapped_column(String(10))  # nps, csat, text, rank, yesno
    prompt: Mapped[str] = mapped_column(Text)
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    options: Mapped[list[str]] = mapped_column(JSON, default=list)

    survey: Mapped[Survey] = relationship(back_populates="questions")

    __table_args__ = (UniqueConstraint("survey_id", "position"),)


class SurveyInvitation(Base):
    """A customer asked to answer a survey (at most once per survey): how, when, reminded, answered."""

    __tablename__ = "survey_invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(10))  # email, link, store, phone
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # of the newest link; None without a link
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    links: Mapped[list[SurveyLink]] = relationship(back_populates="invitation", cascade="all, delete-orphan")

    __table_args__ = (
        UniqueConstraint("survey_id", "customer_id"),
        # The frequency cap: has this customer been asked since...?
        Index("ix_survey_invitations_customer_sent", "customer_id", "sent_at"),
    )


class SurveyLink(Base):
    """A personal link to a survey: only the SHA-256 of its token is kept, so a database copy opens no answers."""

    __tablename__ = "survey_links"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("survey_invitations.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())

    invitation: Mapped[SurveyInvitation] = relationship(back_populates="links")


class SurveyResponse(Base):
    """A customer's answers to a survey (one per survey, replaced when they change it while it is open)."""

    __tablename__ = "survey_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("survey_invitations.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(10))  # web, store, phone, email
    # {question id (as text): answer}; an int for nps/csat, text, a list of options for rank, a bool for yesno.
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    nps: Mapped[int | None] = mapped_column(SmallInteger)  # the first 0-10 answer, for quick NPS sums
    # Who served the customer last before they answered (from their orders), and their segment then.
    employee_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id", ondelete="SET NULL"), index=True)
    segment: Mapped[str | None] = mapped_column(String(40))
    entered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    first_submitted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    changes: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        UniqueConstraint("survey_id", "customer_id"),
        Index("ix_survey_responses_survey_submitted", "survey_id", "submitted_at"),
    )
