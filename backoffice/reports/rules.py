"""Pure report math and CSV cells: no Flask, no SQLAlchemy (billing-rules.md §9.1)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal

from backoffice.work.kpis import AGING_BUCKETS, rate

BUCKET_LABELS: tuple[str, ...] = tuple(label for label, _ in AGING_BUCKETS)
# A spreadsheet treats a text cell starting with one of these as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Cell = str | int | Decimal | date | None


def csv_cell(value: Cell) -> str | int | Decimal:
    """A value as a CSV cell: numbers stay numbers (a negative amount too), text that a spreadsheet would run
    as a formula gets a leading single quote."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | Decimal):
        return value
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def to_csv(headers: Sequence[str], rows: Iterable[Sequence[Cell]]) -> str:
    """A CSV document: one header row, then the rows; numbers unquoted, no currency symbols."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow([csv_cell(h) for h in headers])
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
    return out.getvalue()


def aging_row(buckets: dict[str, Decimal]) -> list[Decimal]:
    """Bucket amounts in bucket order followed by their total (missing buckets are zero)."""
    amounts = [buckets.get(label, Decimal("0.00")) for label in BUCKET_LABELS]
    return [*amounts, sum(amounts, Decimal("0.00"))]


def share(part: int, whole: int) -> Decimal | None:
    """``part`` of ``whole`` as a percentage with one decimal (None: nothing to divide by)."""
    return rate(part, whole)


def per_resolution(touches: int, resolved: int) -> Decimal | None:
    """Touches per resolved item, two decimals (None when nothing was resolved)."""
    if resolved <= 0:
        return None
    return (Decimal(touches) / Decimal(resolved)).quantize(Decimal("0.01"))


def month_key(day: date) -> str:
    """The month a date falls in, as YYYY-MM."""
    return f"{day.year:04d}-{day.month:02d}"


def last_months(today: date, count: int) -> list[str]:
    """The ``count`` months up to and including today's, oldest first, as YYYY-MM."""
    year, month = today.year, today.month
    keys = []
    for _ in range(count):
        keys.append(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return keys[::-1]
