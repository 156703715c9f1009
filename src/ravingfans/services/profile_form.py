"""The profile's edit form for managers: contact and personal details as text fields, saved as the API saves them.

Lists (likes, dislikes) are typed one per line or separated by commas; keyed facts (family and
personal details, sizes) one ``key: value`` per line. :func:`edit_customer` refuses a form drawn
before someone else's change (:class:`~ravingfans.errors.Conflict`), then hands the change to
:func:`ravingfans.services.customer_records.update_customer`, the same function the API uses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from ravingfans.clock import Clock, utcnow
from ravingfans.errors import Conflict, ValidationFailed
from ravingfans.services.common import FIELD_LABELS, get_customer, validated
from ravingfans.services.customer_records import CustomerRecord, CustomerUpdate, update_customer

TEXT_FIELDS = ("first_name", "last_name", "email", "phone", "address_line1", "address_line2", "postal_code", "city",
               "region", "country", "language")
MAX_LINES = 50
_KEY_CHARS = re.compile(r"[^\w]+")


@dataclass(frozen=True, slots=True)
class ProfileForm:
    """The edit form's fields as text, filled from the record (what a manager sees before changing it)."""

    values: dict[str, str]
    version: str


def version_of(customer_updated_at: Any) -> str:
    """The token a form carries to tell whether the record changed since it was drawn."""
    return customer_updated_at.isoformat() if customer_updated_at is not None else ""


def pairs_text(mapping: Mapping[str, Any]) -> str:
    """``{"dog_name": "Rex"}`` as ``dog_name: Rex`` lines."""
    return "\n".join(f"{key}: {'' if value is None else value}" for key, value in mapping.items())


def items_text(items: list[str]) -> str:
    """A list as one item per line."""
    return "\n".join(items)


def parse_pairs(text: str, field: str) -> dict[str, str]:
    """``key: value`` lines as a mapping; blank lines are skipped, keys are lower_snake_case.

    Raises ValidationFailed naming ``field`` for a line without a colon or a key, or too many lines.
    """
    found: dict[str, str] = {}
    lines = [line.strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    for number, line in enumerate((line for line in lines if line), start=1):
        key, colon, value = line.partition(":")
        key = _KEY_CHARS.sub("_", key.strip().lower()).strip("_")
        if not colon or not key:
            raise ValidationFailed(f"{FIELD_LABELS.get(field, field)}: line {number} needs the form "
                                   "“what: value”, e.g. “partner: Sam”", field=field)
        found[key] = value.strip()
    if len(found) > MAX_LINES:
        raise ValidationFailed(f"{FIELD_LABELS.get(field, field)}: at most {MAX_LINES} lines", field=field)
    return found


def parse_items(text: str) -> list[str]:
    """Items one per line or separated by commas; blanks and repeats (case aside) dropped, order kept."""
    seen: dict[str, str] = {}
    for part in re.split(r"[,\n\r]+", text):
        item = part.strip()
        if item and item.lower() not in seen:
            seen[item.lower()] = item
    return list(seen.values())


def profile_form(record: CustomerRecord) -> ProfileForm:
    """The edit form filled from a customer record."""
    values = {name: getattr(record, name) or "" for name in TEXT_FIELDS}
    values["birthday"] = record.birthday.isoformat() if record.birthday else ""
    values["personal_details"] = pairs_text(record.personal_details)
    values["sizes"] = pairs_text(record.sizes)
    values["likes"] = items_text(record.likes)
    values["dislikes"] = items_text(record.dislikes)
    values["customer_note"] = record.notes or ""
    values["referred_by_id"] = str(record.referred_by_id) if record.referred_by_id else ""
    return ProfileForm(values=values, version=version_of(record.updated_at))


def parse_profile_form(form: Mapping[str, str]) -> CustomerUpdate:
    """The form's text fields as a change to every field on the form (a blank clears it)."""
    data: dict[str, Any] = {name: form.get(name, "").strip() or None for name in TEXT_FIELDS}  # blank clears
    birthday = form.get("birthday", "").strip()
    data["birthday"] = birthday or None
    data["personal_details"] = parse_pairs(form.get("personal_details", ""), "personal_details")
    data["sizes"] = parse_pairs(form.get("sizes", ""), "sizes")
    data["likes"] = parse_items(form.get("likes", ""))
    data["dislikes"] = parse_items(form.get("dislikes", ""))
    data["notes"] = form.get("customer_note", "").strip() or None
    referrer = form.get("referred_by_id", "").strip().lstrip("#")
    if referrer and not referrer.isdigit():
        raise ValidationFailed("Referred by: the customer's number, e.g. 1234 (it is in their profile's address)",
                               field="referred_by_id")
    data["referred_by_id"] = int(referrer) if referrer else None
    return validated(CustomerUpdate, data)


def edit_customer(session: Session, customer_id: int, form: Mapping[str, str], *, version: str,
                  region: str = "US", clock: Clock = utcnow) -> CustomerRecord:
    """Save a manager's edit of a customer; Conflict when the record changed since the form was drawn.

    ``version`` is the one the form was drawn with (:func:`version_of`); blank skips the check.
    """
    customer = get_customer(session, customer_id)
    if version and version != version_of(customer.updated_at):
        raise Conflict("Someone changed this customer while you were editing, so nothing was saved.",
                       hint="Reload the profile to see their change, then make yours again.")
    return update_customer(session, customer.id, parse_profile_form(form), region=region, clock=clock)
