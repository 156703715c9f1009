"""All ravingfans tables, one module per domain."""

from ravingfans.db.models.accounts import ROLES, ApiToken, User
from ravingfans.db.models.base import Base
from ravingfans.db.models.catalog import Product, ProductVariant
from ravingfans.db.models.customers import Consent, Customer, CustomerIdentity, ErasureSuppression, Note
from ravingfans.db.models.interactions import CHANNELS, KINDS, RATING_NAMES, RATINGS, Interaction
from ravingfans.db.models.orders import LINE_KINDS, Order, OrderLine
from ravingfans.db.models.scores import CustomerScore, ScoreRun
from ravingfans.db.models.team import Employee
from ravingfans.db.models.web import BusinessSetting, IdempotencyKey, LoginFailure, WebSession

__all__ = [
    "CHANNELS",
    "KINDS",
    "LINE_KINDS",
    "RATINGS",
    "RATING_NAMES",
    "ROLES",
    "ApiToken",
    "Base",
    "BusinessSetting",
    "Consent",
    "Customer",
    "CustomerIdentity",
    "CustomerScore",
    "Employee",
    "ErasureSuppression",
    "IdempotencyKey",
    "Interaction",
    "LoginFailure",
    "Note",
    "Order",
    "OrderLine",
    "Product",
    "ProductVariant",
    "ScoreRun",
    "User",
    "WebSession",
]
