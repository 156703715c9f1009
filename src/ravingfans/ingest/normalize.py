"""Normalised forms of e-mail addresses and phone numbers, so one person is recognised everywhere."""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

# Deliberately permissive (RFC 5322 is wider than what shops see); we lower-case and check shape,
# we do not probe deliverability.
_EMAIL = re.compile(r"^[^@\s<>(),;:\"\[\]]+@[^@\s<>(),;:\"\[\]]+\.[^@\s<>(),;:\"\[\]]{2,}$")
MAX_EMAIL_LENGTH = 254  # RFC 5321, and the column's size


def normalize_email(value: str | None) -> str | None:
    """Trimmed, lower-cased e-mail, or None for blank; ValueError if it is not an address."""
    if value is None:
        return None
    text = value.strip().lower()
    if not text:
        return None
    if text.startswith("mailto:"):
        text = text[7:]
    if not _EMAIL.match(text) or ".." in text:
        raise ValueError("not an e-mail address (expected name@example.com)")
    if len(text) > MAX_EMAIL_LENGTH:  # checked after lower-casing, which can lengthen it (İ becomes i + a dot)
        raise ValueError(f"longer than {MAX_EMAIL_LENGTH} characters once lower-cased")
    return text


@lru_cache(maxsize=65536)
def normalize_phone(value: str | None, region: str = "US") -> str | None:
    """The number in E.164 form (+14155550123), or None for blank; ValueError if not a number.

    Uses Google's libphonenumber rules (the `phonenumbers` package) so national formats with
    spaces, dots or brackets are read the way a person would read them.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        parsed = phonenumbers.parse(text, None if text.startswith("+") else region)
    except phonenumbers.NumberParseException:
        raise ValueError(f"not a phone number (expected e.g. +1 415 555 0123 or a {region} national number)") from None
    if not phonenumbers.is_possible_number(parsed):
        raise ValueError(f"not a possible phone number for {phonenumbers.region_code_for_number(parsed) or region}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
