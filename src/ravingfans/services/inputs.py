"""Input types shared by the create and update schemas: clean one-line and multi-line text, money, ids.

Every text a client sends is stripped, has its line ends normalised and is refused when it holds
control characters or lone surrogates (PostgreSQL cannot store NUL, and neither database can encode
a lone surrogate), and each length limit is the column's, so bad input is a 422 naming the field
instead of a database error. Times without a zone are read in the business's zone by
:func:`to_utc`, which also refuses times too close to the ends of the calendar to convert.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

from ravingfans.errors import ValidationFailed

MAX_ID = 2**31 - 1  # ids are 32-bit integers; larger numbers cannot name a row
MAX_MONEY = Decimal("1000000.00")  # per unit: a line is at most 100,000 of them, so totals stay far from 2**63 cents
MAX_QUANTITY = 100_000
MAX_STOCK = 1_000_000_000
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
_ALLOWED_CONTROLS = {"\n", "\t"}


def clean_text(value: Any, *, multiline: bool) -> Any:
    """Strip, normalise line ends, refuse control characters and lone surrogates; non-strings pass through."""
    if not isinstance(value, str):
        return value
    text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    allowed = _ALLOWED_CONTROLS if multiline else set()
    for char in text:
        category = unicodedata.category(char)
        if category == "Cs":
            raise ValueError("must be valid Unicode text (it holds a lone surrogate)")
        if category == "Cc" and char not in allowed:
            raise ValueError("must not contain control characters")
    return text


def _line(value: Any) -> Any:
    return clean_text(value, multiline=False)


def _multiline(value: Any) -> Any:
    return clean_text(value, multiline=True)


CleanLine = BeforeValidator(_line)
CleanText = BeforeValidator(_multiline)
LINE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"  # for the OpenAPI document: what CleanLine lets through
TEXT_PATTERN = r"^[^\x00-\x08\x0b-\x1f\x7f-\x9f]*$"


def _line_of(max_length: int, min_length: int = 0) -> StringConstraints:
    return StringConstraints(min_length=min_length, max_length=max_length, pattern=LINE_PATTERN)


Line20 = Annotated[str, CleanLine, _line_of(20)]
Line40 = Annotated[str, CleanLine, _line_of(40)]
Line60 = Annotated[str, CleanLine, _line_of(60)]
Line120 = Annotated[str, CleanLine, _line_of(120)]
Line200 = Annotated[str, CleanLine, _line_of(200)]
Line254 = Annotated[str, CleanLine, _line_of(254)]
Name200 = Annotated[str, CleanLine, _line_of(200, 1)]
Key120 = Annotated[str, CleanLine, _line_of(120, 1)]
Text5000 = Annotated[str, CleanText, StringConstraints(max_length=5000, pattern=TEXT_PATTERN)]


def _two_places(value: Decimal) -> Decimal:
    if value.as_tuple().exponent < -2 and value != value.quantize(Decimal("0.01")):  # type: ignore[operator]
        raise ValueError("has more than 2 decimal places; round it to cents")
    return value.quantize(Decimal("0.01"))


Money = Annotated[Decimal, Field(ge=0, le=MAX_MONEY, allow_inf_nan=False, examples=["19.99"]),
                  AfterValidator(_two_places)]
RowId = Annotated[int, Field(ge=1, le=MAX_ID)]
Quantity = Annotated[int, Field(ge=1, le=MAX_QUANTITY)]
Stock = Annotated[int, Field(ge=-MAX_STOCK, le=MAX_STOCK)]


def to_utc(value: datetime | None, field: str, *, zone: tzinfo = UTC) -> datetime | None:
    """``value`` in UTC (read in ``zone`` when it has none); ValidationFailed naming ``field`` when out of range."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    try:
        converted = value.astimezone(UTC)
    except (OverflowError, ValueError):
        converted = None
    if converted is None or not EARLIEST <= converted < LATEST:
        raise ValidationFailed(f"{field}: must be between {EARLIEST.year} and {LATEST.year - 1}", field=field)
    return converted
