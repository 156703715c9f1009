"""The gift catalog: discount codes, vouchers, free items and handwritten notes that campaigns give.

A gift is never deleted once made (campaigns and their reports name it); it is retired instead, which
keeps it on past campaigns and out of the choices for new ones. What each kind needs:

- ``discount_code``: the code customers type or show at the till, and the money off (``value``);
- ``voucher``: its amount (``value``), and a code or prefix if the till needs one;
- ``free_item``: what the item is (``description``);
- ``note``: a handwritten note, given by staff (a campaign sends it as tasks, never by e-mail).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ravingfans.clock import Clock, utcnow
from ravingfans.db.models import GIFT_KINDS, Campaign, Gift
from ravingfans.errors import Conflict, NotFound, ValidationFailed
from ravingfans.services.inputs import MAX_ID, clean_text

KIND_LABELS = {"discount_code": "Discount code", "voucher": "Voucher", "free_item": "Free item",
               "note": "Handwritten note"}
MAX_NAME = 120
MAX_CODE = 60
MAX_DESCRIPTION = 2000
MAX_VALUE = Decimal("1000000")
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


@dataclass(frozen=True, slots=True)
class GiftInfo:
    """A gift of the catalog as pages and commands show it, with how many campaigns used it."""

    id: int
    name: str
    kind: str
    code: str | None
    value: Decimal | None
    description: str
    active: bool
    created_at: datetime
    campaigns: int = 0

    @property
    def kind_label(self) -> str:
        """The kind in words."""
        return KIND_LABELS.get(self.kind, self.kind)


def _info(gift: Gift, campaigns: int = 0) -> GiftInfo:
    return GiftInfo(id=gift.id, name=gift.name, kind=gift.kind, code=gift.code, value=gift.value,
                    description=gift.description or "", active=gift.active, created_at=gift.created_at,
                    campaigns=campaigns)


def _line(value: object, label: str, field: str, limit: int, *, required: bool = False,
          multiline: bool = False) -> str:
    try:
        text = clean_text(value if value is not None else "", multiline=multiline)
    except ValueError as exc:
        raise ValidationFailed(f"{label}: {exc}", field=field) from None
    if not isinstance(text, str):
        raise ValidationFailed(f"{label}: write it as text", field=field)
    if required and not text:
        raise ValidationFailed(f"{label}: write something", field=field)
    if len(text) > limit:
        raise ValidationFailed(f"{label}: at most {limit} characters, please", field=field)
    return text


def parse_value(value: object) -> Decimal | None:
    """A gift's money value from a form or an argument (``"10"``, ``"12.50"``); None when blank."""
    if value is None or isinstance(value, str) and not value.strip():
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValidationFailed(f"Value: {str(value)[:20]!r} is not an amount; write it like 10 or 12.50",
                               field="value") from None
    if not amount.is_finite() or amount <= 0 or amount > MAX_VALUE:
        raise ValidationFailed(f"Value: an amount above 0 and at most {MAX_VALUE:,}", field="value")
    if amount != amount.quantize(Decimal("0.01")):
        raise ValidationFailed("Value: at most 2 decimal places; round it to cents", field="value")
    return amount.quantize(Decimal("0.01"))


def add_gift(session: Session, *, name: str, kind: str, code: str | None = None, value: object = None,
             description: str = "", clock: Clock = utcnow) -> GiftInfo:
    """Add a gift to the catalog after checking what its kind needs; Conflict if the name is taken."""
    name = _line(name, "Name", "name", MAX_NAME, required=True)
    kind = (kind or "").strip().lower()
    if kind not in GIFT_KINDS:
        raise ValidationFailed(f"Kind: choose one of {', '.join(GIFT_KINDS)}", field="kind")
    code_text = _line(code, "Code", "code", MAX_CODE) or None
    if code_text is not None and not _CODE.match(code_text):
        raise ValidationFailed("Code: letters, digits, '-' and '_' only, starting with a letter or digit",
                               field="code")
    amount = parse_value(value)
    description = _line(description, "Description", "description", MAX_DESCRIPTION, multiline=True)
    if kind == "discount_code" and (code_text is None or amount is None):
        raise ValidationFailed("A discount code needs its code and its value (the money off)",
                               field="code" if code_text is None else "value")
    if kind == "voucher" and amount is None:
        raise ValidationFailed("A voucher needs its value", field="value")
    if kind == "free_item" and not description:
        raise ValidationFailed("A free item needs a description: what the customer gets", field="description")
    if kind == "note" and (code_text is not None or amount is not None):
        raise ValidationFailed("A handwritten note has no code or value; describe it instead",
                               field="code" if code_text is not None else "value")
    if session.scalar(select(Gift.id).where(func.lower(Gift.name) == name.lower())) is not None:
        raise Conflict(f"Name: there is already a gift called {name!r}.", hint="Choose another name.")
    gift = Gift(name=name, kind=kind, code=code_text, value=amount, description=description, active=True,
                created_at=clock())
    session.add(gift)
    session.flush()
    return _info(gift)


def load_gift(session: Session, gift_id: int) -> Gift:
    """The stored gift with this id, or NotFound naming how to list them."""
    gift = session.get(Gift, gift_id) if 1 <= gift_id <= MAX_ID else None
    if gift is None:
        raise NotFound(f"There is no gift number {gift_id}.", hint="List them with: ravingfans gifts list")
    return gift


def get_gift(session: Session, gift_id: int) -> GiftInfo:
    """One gift of the catalog."""
    return _info(load_gift(session, gift_id))


def list_gifts(session: Session, *, include_retired: bool = True) -> list[GiftInfo]:
    """The catalog, active gifts first, then by name; with how many campaigns used each."""
    used = dict(session.execute(select(Campaign.gift_id, func.count()).where(Campaign.gift_id.is_not(None))
                                .group_by(Campaign.gift_id)).all())
    stmt = select(Gift).order_by(Gift.active.desc(), Gift.name)
    if not include_retired:
        stmt = stmt.where(Gift.active.is_(True))
    return [_info(g, int(used.get(g.id, 0))) for g in session.scalars(stmt)]


def retire_gift(session: Session, gift_id: int) -> GiftInfo:
    """Take a gift out of the choices for new campaigns (past campaigns keep it); retiring twice is harmless."""
    gift = load_gift(session, gift_id)
    gift.active = False
    session.flush()
    return _info(gift)
