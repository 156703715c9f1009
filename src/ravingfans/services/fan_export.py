"""The fans list as a CSV file, as the fans page shows it (segment filter, sort, length), safe to open in a spreadsheet.

Text cells that a spreadsheet could run as a formula (starting with ``= + - @``, a tab or a carriage
return) get a leading ``'``, as OWASP advises for CSV injection; numbers are written as numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date

from ravingfans.ingest.export import neutralize
from ravingfans.services.scoring import FanRow

HEADER = ("rank", "customer_id", "name", "email", "segment", "R", "F", "M", "purchases", "total_spend",
          "last_purchase", "days_since_last", "p_alive", "clv")


def _number(value: float | None, digits: int) -> str:
    return "" if value is None or value != value else f"{value:.{digits}f}"  # NaN (value != value) is blank


def fans_csv(rows: Sequence[FanRow]) -> str:
    """The rows as CSV text with a header line (UTF-8 when encoded; RFC 4180 quoting, CRLF line ends)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for rank, row in enumerate(rows, start=1):
        writer.writerow([
            rank, row.customer_id, neutralize(row.name), neutralize(row.email or ""), neutralize(row.segment),
            row.R, row.F, row.M, row.purchases, _number(row.total_spend, 2),
            row.last_purchase.isoformat() if isinstance(row.last_purchase, date) else "",
            _number(row.days_since_last, 0), _number(row.p_alive, 4), _number(row.clv, 2),
        ])
    return out.getvalue()


def fans_filename(segment: str, sort: str, today: date) -> str:
    """A file name for the export, e.g. ``fans-champions-by-clv-2024-06-03.csv`` (only safe characters)."""
    safe = "".join(ch if ch.isascii() and ch.isalnum() else "-" for ch in segment.lower()).strip("-") or "fans"
    return f"fans-{safe[:40]}-by-{sort}-{today.isoformat()}.csv"
