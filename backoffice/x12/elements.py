"""Element readers and 277 status (STC) tables shared by the acknowledgment, claim status and benefits readers.

Pure, no I/O. Errors name the segment and element, never the value (it may be patient data).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from backoffice.x12 import reader as x12

# 277 claim status category codes (STC01-1) that accept or reject a claim at the front end (billing-rules §6.1/6.6).
ACCEPTED_CATEGORIES = frozenset({"A0", "A1", "A2", "A5"})
REJECTED_CATEGORIES = frozenset({"A3", "A6", "A7", "A8"})

CATEGORIES = {
    "A0": "Forwarded to another entity",
    "A1": "Receipt acknowledged",
    "A2": "Accepted into adjudication",
    "A3": "Returned as unprocessable",
    "A4": "Not found",
    "A5": "Split on acceptance",
    "A6": "Rejected for missing information",
    "A7": "Rejected for invalid information",
    "A8": "Rejected for a relational field in error",
    "F0": "Finalized",
    "F1": "Finalized, payment",
    "F2": "Finalized, denial",
    "F3": "Finalized, revised",
    "F4": "Finalized, no further payment",
    "P0": "Pending",
    "P1": "Pending, in process",
    "P2": "Pending, payer review",
    "P3": "Pending, waiting for provider information",
    "P4": "Pending, waiting for patient information",
    "E0": "Response not possible, error on the request",
}

# Claim status codes (STC01-2, X12 code list 508): the common ones; an unknown code is kept as the code alone.
STATUS_CODES = {
    "0": "Cannot provide further status electronically",
    "1": "For more detailed information, see remittance advice",
    "3": "Claim has been adjudicated and is awaiting payment cycle",
    "19": "Entity acknowledges receipt of claim/encounter",
    "20": "Accepted for processing",
    "21": "Missing or invalid information",
    "23": "Returned to entity",
    "24": "Entity not approved as an electronic submitter",
    "26": "Entity not found",
    "27": "Policy canceled",
    "29": "Subscriber and policy number/contract number mismatched",
    "30": "Subscriber and subscriber id mismatched",
    "33": "Subscriber and subscriber id not found",
    "35": "Claim/encounter not found",
    "54": "Duplicate of a previously processed claim/line",
    "65": "Claim/line has been paid",
    "84": "Service not authorized",
    "85": "Entity not primary",
    "88": "Entity not eligible for benefits for submitted dates of service",
    "97": "Patient eligibility not found with entity",
    "109": "Entity not eligible",
    "116": "Claim submitted to incorrect payer",
    "125": "Entity's name",
    "128": "Entity's tax id",
    "145": "Entity's specialty/taxonomy code",
    "153": "Entity's id number",
    "158": "Entity's date of birth",
    "164": "Entity's contract/member number",
    "187": "Date(s) of service",
    "247": "Line information",
    "249": "Place of service",
    "252": "Entity's prior authorization/certification number",
    "254": "Principal diagnosis code",
    "255": "Diagnosis code",
    "400": "Claim is out of balance",
    "453": "Procedure code modifier(s) for service(s) rendered",
    "454": "Procedure code for services rendered",
    "476": "Missing or invalid units of service",
    "477": "Diagnosis code pointer is missing or invalid",
    "496": "Submitter not approved for electronic claim submissions on behalf of this entity",
    "500": "Entity's postal/zip code",
    "510": "Future date",
    "511": "Invalid character",
    "562": "Entity's National Provider Identifier (NPI)",
}

ENTITIES = {
    "03": "dependent",
    "1P": "provider",
    "40": "receiver",
    "41": "submitter",
    "77": "service location",
    "82": "rendering provider",
    "85": "billing provider",
    "DN": "referring provider",
    "IL": "subscriber",
    "PR": "payer",
    "QC": "patient",
}


# ---- small readers shared by the 277 and 271 parsers ------------------------------------------------------------


def amount(seg: x12.Segment, n: int) -> Decimal | None:
    """Element ``n`` as money (None when empty); a non-number raises X12Error naming the segment."""
    value = seg[n].strip()
    if not value:
        return None
    try:
        result = Decimal(value)
    except InvalidOperation:
        raise error_at(seg, n, "is not a number") from None
    if not result.is_finite():
        raise error_at(seg, n, "is not a number")
    return result


def number(seg: x12.Segment, n: int) -> int | None:
    """Element ``n`` as a whole number (None when empty)."""
    value = seg[n].strip()
    if not value:
        return None
    if not value.isdigit():
        raise error_at(seg, n, "is not a whole number")
    return int(value)


def ccyymmdd(seg: x12.Segment, n: int, value: str | None = None) -> date | None:
    """Element ``n`` (or ``value`` taken from it) as a CCYYMMDD date (None when empty)."""
    text = (seg[n] if value is None else value).strip()
    if not text:
        return None
    if len(text) != 8 or not text.isdigit():
        raise error_at(seg, n, "is not a CCYYMMDD date")
    try:
        return datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        raise error_at(seg, n, "is not a valid date") from None


def date_range(seg: x12.Segment, format_at: int = 2) -> tuple[date | None, date | None]:
    """A DTP-style date (``D8`` or ``RD8`` start-end) as (start, end); one date gives (d, d)."""
    qualifier, value = seg[format_at], seg[format_at + 1]
    if qualifier == "RD8" or (not qualifier and "-" in value):
        start, _, end = value.partition("-")
        return ccyymmdd(seg, format_at + 1, start), ccyymmdd(seg, format_at + 1, end or start)
    single = ccyymmdd(seg, format_at + 1)
    return single, single


def error_at(seg: x12.Segment, n: int, problem: str) -> x12.X12Error:
    """An X12Error naming the segment and element position, never the value (it may be a member ID)."""
    return x12.X12Error(f"{seg}: {seg.id}{n:02d} {problem}")


def require(seg: x12.Segment, n: int) -> str:
    value = seg[n].strip()
    if not value:
        raise error_at(seg, n, "is required but empty")
    return value


# ---- 999 ----------------------------------------------------------------------------------------------------------


# ---- 277 status information (STC), shared with the X212 claim status reader ----------------------------------------


@dataclass(frozen=True, slots=True)
class StatusCode:
    """One C043 composite (STC01, STC10 or STC11): category, status code, entity, optional code list qualifier."""

    category: str
    code: str
    entity: str = ""
    qualifier: str = ""  # C043-4, e.g. RX when the code is an NCPDP reject code

    @property
    def description(self) -> str:
        """Code, category and status text, entity: ``A7:562:85 Rejected for invalid information: …``."""
        label = ":".join(p for p in (self.category, self.code, self.entity) if p)
        words = [w for w in (CATEGORIES.get(self.category), STATUS_CODES.get(self.code)) if w]
        text = f"{label} {': '.join(words)}" if words else label
        entity = ENTITIES.get(self.entity)
        return f"{text} ({entity})" if entity and words else text


@dataclass(frozen=True, slots=True)
class Status:
    """One STC segment."""

    codes: tuple[StatusCode, ...]  # STC01, then STC10 and STC11 when present
    effective_date: date | None  # STC02
    action: str  # STC03 (WQ accepted, U rejected, 15 correct and resubmit…)
    charge: Decimal | None  # STC04 total claim charge
    paid: Decimal | None  # STC05 payment amount
    adjudication_date: date | None  # STC06
    payment_method: str  # STC07 (ACH, BOP, CHK, FWT, NON)
    payment_date: date | None  # STC08 check issue or EFT effective date
    check_number: str  # STC09 check or EFT trace number
    message: str  # STC12 free-form text

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(c.category for c in self.codes)


def _status_code(seg: x12.Segment, n: int) -> StatusCode | None:
    parts = seg.components(n)
    if not parts:
        return None
    parts = parts + ("",) * (4 - len(parts))
    if not parts[0]:
        raise error_at(seg, n, "has no status category code")
    return StatusCode(parts[0], parts[1], parts[2], parts[3])


def parse_stc(seg: x12.Segment) -> Status:
    """One STC segment; STC01 is required."""
    first = _status_code(seg, 1)
    if first is None:
        raise error_at(seg, 1, "is required but empty")
    extra = [c for c in (_status_code(seg, 10), _status_code(seg, 11)) if c is not None]
    return Status(
        (first, *extra), ccyymmdd(seg, 2), seg[3], amount(seg, 4), amount(seg, 5), ccyymmdd(seg, 6), seg[7],
        ccyymmdd(seg, 8), seg[9], seg[12],
    )  # fmt: skip


def hl_level(seg: x12.Segment) -> str:
    """HL03, the hierarchical level code (20 source, 21 receiver, 19 provider, 22 subscriber, 23 dependent, PT)."""
    return require(seg, 3)
