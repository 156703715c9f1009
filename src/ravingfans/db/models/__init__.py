"""All ravingfans tables, one module per domain."""

from ravingfans.db.models.accounts import ROLES, ApiToken, User
from ravingfans.db.models.actions import TASK_STATUSES, FollowUpRule, ScheduledJob, Task
from ravingfans.db.models.base import Base
from ravingfans.db.models.campaigns import (
    CAMPAIGN_KINDS, CAMPAIGN_STATUSES, DELIVERIES, GIFT_KINDS, GROUPS, Campaign, CampaignMember, Gift)
from ravingfans.db.models.catalog import Product, ProductVariant
from ravingfans.db.models.customers import (
    EXPRESSION_INDEXES,
    Consent,
    Customer,
    CustomerIdentity,
    ErasureSuppression,
    Note,
)
from ravingfans.db.models.interactions import CHANNELS, KINDS, RATING_NAMES, RATINGS, Interaction
from ravingfans.db.models.listening import AnswerInsight, FeedbackTheme
from ravingfans.db.models.mail import OUTBOX_STATUSES, MailSuppression, OutboxMessage, UnsubscribeToken
from ravingfans.db.models.orders import LINE_KINDS, Order, OrderLine
from ravingfans.db.models.scores import CustomerScore, ScoreRun
from ravingfans.db.models.stock import HOLD_RELEASES, WAIT_SOURCES, Hold, Restock, StockWait
from ravingfans.db.models.surveys import Survey, SurveyInvitation, SurveyLink, SurveyQuestion, SurveyResponse
from ravingfans.db.models.team import Employee
from ravingfans.db.models.word_of_mouth import MENTION_KINDS, Mention
from ravingfans.db.models.web import BusinessSetting, IdempotencyKey, LoginFailure, WebSession

__all__ = [
    "CAMPAIGN_KINDS",
    "CAMPAIGN_STATUSES",
    "CHANNELS",
    "DELIVERIES",
    "EXPRESSION_INDEXES",
    "GIFT_KINDS",
    "GROUPS",
    "HOLD_RELEASES",
    "KINDS",
    "LINE_KINDS",
    "MENTION_KINDS",
    "OUTBOX_STATUSES",
    "RATINGS",
    "RATING_NAMES",
    "ROLES",
    "TASK_STATUSES",
    "WAIT_SOURCES",
    "AnswerInsight",
    "ApiToken",
    "Base",
    "BusinessSetting",
    "Campaign",
    "CampaignMember",
    "Consent",
    "Customer",
    "CustomerIdentity",
    "CustomerScore",
    "Employee",
    "ErasureSuppression",
    "FeedbackTheme",
    "FollowUpRule",
    "Gift",
    "Hold",
    "IdempotencyKey",
    "Interaction",
    "LoginFailure",
    "MailSuppression",
    "Mention",
    "Note",
    "Order",
    "OrderLine",
    "OutboxMessage",
    "Product",
    "ProductVariant",
    "Restock",
    "ScheduledJob",
    "ScoreRun",
    "StockWait",
    "Survey",
    "SurveyInvitation",
    "SurveyLink",
    "SurveyQuestion",
    "SurveyResponse",
    "Task",
    "UnsubscribeToken",
    "User",
    "WebSession",
]
