"""All ravingfans tables, one module per domain."""

from ravingfans.db.models.accounts import ROLES, ApiToken, User
from ravingfans.db.models.base import Base
from ravingfans.db.models.catalog import Product, ProductVariant
from ravingfans.db.models.customers import Consent, Customer, CustomerIdentity, ErasureSuppression, Note
from ravingfans.db.models.interactions import CHANNELS, KINDS, RATING_NAMES, RATINGS, Interaction
from ravingfans.db.models.listening import AnswerInsight, FeedbackTheme
from ravingfans.db.models.mail import OUTBOX_STATUSES, MailSuppression, OutboxMessage, UnsubscribeToken
from ravingfans.db.models.orders import LINE_KINDS, Order, OrderLine
from ravingfans.db.models.scores import CustomerScore, ScoreRun
from ravingfans.db.models.surveys import Survey, SurveyInvitation, SurveyLink, SurveyQuestion, SurveyResponse
from ravingfans.db.models.team import Employee
from ravingfans.db.models.web import BusinessSetting, IdempotencyKey, LoginFailure, WebSession

__all__ = [
    "CHANNELS",
    "KINDS",
    "LINE_KINDS",
    "OUTBOX_STATUSES",
    "RATINGS",
    "RATING_NAMES",
    "ROLES",
    "AnswerInsight",
    "ApiToken",
    "Base",
    "BusinessSetting",
    "Consent",
    "Customer",
    "CustomerIdentity",
    "CustomerScore",
    "Employee",
    "ErasureSuppression",
    "FeedbackTheme",
    "IdempotencyKey",
    "Interaction",
    "LoginFailure",
    "MailSuppression",
    "Note",
    "Order",
    "OrderLine",
    "OutboxMessage",
    "Product",
    "ProductVariant",
    "ScoreRun",
    "Survey",
    "SurveyInvitation",
    "SurveyLink",
    "SurveyQuestion",
    "SurveyResponse",
    "UnsubscribeToken",
    "User",
    "WebSession",
]
