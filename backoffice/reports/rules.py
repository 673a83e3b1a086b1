"""Pure report math and CSV cells: no Flask, no SQLAlchemy (billing-rules.md §9.1)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from backoffice.work.kpis import AGING_BUCKETS, rate
from backoffice.work.rules import ExceptionKind

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


# --- the client's monthly report (issue 20.3) --------------------------------------------------------------------


class Owner(StrEnum):
    """Whose it was to fix a denial: the practice's front desk or clinicians, the payer, or us, the billing
    company."""

    PRACTICE = "practice"
    PAYER = "payer"
    US = "us"


# Each §6.6 denial family (remits.rules.Family) → who had to act to prevent it. Registration, eligibility,
# authorization, enrolment information and clinical documentation are the practice's; a payer's own processing
# (a denial no family claims: CO-96/A1 read by a person; an underpaid contracted rate) is the payer's; coding, timely
# filing and our own submission errors (patient responsibility billed to the wrong party, a write-off we decided)
# are ours.
DENIAL_OWNER: dict[str, Owner] = {
    "eligibility": Owner.PRACTICE,  # registration: the wrong member ID, payer or coordination of benefits
    "authorization": Owner.PRACTICE,  # the practice obtains prior authorizations
    "records": Owner.PRACTICE,  # documentation the payer asked for
    "medical_necessity": Owner.PRACTICE,  # clinical documentation supporting the service
    "credentialing": Owner.PRACTICE,  # the clinician's enrolment information comes from the practice
    "benefit_maximum": Owner.PRACTICE,  # visits exhausted: checked at registration before the visit
    "review": Owner.PAYER,  # processing: the payer could not or did not adjudicate it as billed
    "underpayment": Owner.PAYER,  # the payer paid below the contracted rate
    "coding": Owner.US,  # code, modifier, place of service, diagnosis: our coding
    "timely_filing": Owner.US,  # we file the claims
    "patient_responsibility": Owner.US,  # billed to the wrong party
    "write_off": Owner.US,
}
OWNER_LABELS: dict[Owner, str] = {Owner.PRACTICE: "Practice", Owner.PAYER: "Payer", Owner.US: "Us (billing)"}

# Open work item kinds that wait on the practice: the report's "Waiting on the practice" section lists open items of
# these kinds (the portal's requests to the practice).
WAITING_ON_PRACTICE_KINDS: tuple[str, ...] = (ExceptionKind.PRACTICE_REQUEST.value,)


def denial_owner(family: str | None) -> Owner:
    """Who had to fix a denial of ``family``; an unknown or missing family is read by the payer's processing."""
    return DENIAL_OWNER.get(family or "", Owner.PAYER)


def met_sla(ready_at: datetime, completed_at: datetime, promised_hours: int) -> bool:
    """The item was completed within the hours the contract promises, counted from when it became ready."""
    return completed_at - ready_at <= timedelta(hours=promised_hours)
