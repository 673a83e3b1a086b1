"""Reading acknowledgments: the 999 (syntax) and the 277CA (claim acknowledgment, 005010X214). Pure, no I/O.

Both are front-end answers (billing-rules §6.1): a 999 ``R`` or a 277CA ``A3/A6/A7/A8`` means the claim was never
filed and must be corrected and resent as an original. Tolerant of what real files carry, strict in what it
reports: malformed data raises ``x12.X12Error`` naming the segment, never a patient's name or member ID.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from backoffice.edi import x12

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


@dataclass(frozen=True, slots=True)
class ElementError:
    """IK4: one element in error inside the segment named by the IK3 before it."""

    position: int | None  # IK401-1, position in the segment
    component: int | None  # IK401-2
    repetition: int | None  # IK401-3
    data_element: str  # IK402 reference number
    code: str  # IK403 (1 required missing, 2 conditional missing, 4 too short, 5 too long, 6 bad char, 7 bad code…)
    bad_value: str  # IK404 copy of the bad data (may be patient data: do not log)


@dataclass(frozen=True, slots=True)
class SegmentError:
    """IK3: a segment in error (its id, position in the transaction set, loop and syntax error code)."""

    segment_id: str
    position: int | None
    loop: str
    code: str  # IK304 (1 unrecognized, 2 unexpected, 3 required missing, 4 loop too often, 5 exceeds max use, 8 …)
    element_errors: tuple[ElementError, ...] = ()


@dataclass(frozen=True, slots=True)
class TransactionAck:
    """AK2…IK5: the answer for one transaction set of the acknowledged group."""

    set_id: str  # ST01 acknowledged (837…)
    control_number: str  # ST02 acknowledged
    version: str  # ST03 acknowledged
    status: str  # IK501: A accepted, E accepted with errors, R rejected, M/W/X rejected (MAC/validity/content)
    status_codes: tuple[str, ...]  # IK502–IK506 implementation/syntax error codes
    segment_errors: tuple[SegmentError, ...]

    @property
    def accepted(self) -> bool:
        return self.status in ("A", "E")


@dataclass(frozen=True, slots=True)
class Ack999:
    """One AK1…AK9: the acknowledgment of one functional group we sent."""

    functional_id: str  # AK101 = the GS01 we sent (HC for claims)
    group_control_number: str  # AK102 = our GS06
    version: str  # AK103
    transactions: tuple[TransactionAck, ...]
    status: str  # AK901: A, E, P (partially accepted), R, M/W/X
    included: int | None  # AK902 transaction sets included
    received: int | None  # AK903
    accepted_count: int | None  # AK904
    group_error_codes: tuple[str, ...]  # AK905–AK909
    control_number: str  # ST02 of the 999 itself

    @property
    def accepted_control_numbers(self) -> tuple[str, ...]:
        return tuple(t.control_number for t in self.transactions if t.accepted)

    @property
    def rejected_control_numbers(self) -> tuple[str, ...]:
        return tuple(t.control_number for t in self.transactions if not t.accepted)


def _ik4(seg: x12.Segment) -> ElementError:
    parts = seg.components(1)
    positions = [_int_part(seg, parts, k) for k in (1, 2, 3)]
    return ElementError(positions[0], positions[1], positions[2], seg[2], require(seg, 3), seg[4])


def _int_part(seg: x12.Segment, parts: tuple[str, ...], k: int) -> int | None:
    value = parts[k - 1].strip() if len(parts) >= k else ""
    if not value:
        return None
    if not value.isdigit():
        raise x12.X12Error(f"{seg}: {seg.id}01-{k} is not a whole number")
    return int(value)


def _finish_ik3(pending: list[SegmentError], elements: list[ElementError]) -> None:
    if pending:
        last = pending[-1]
        pending[-1] = SegmentError(last.segment_id, last.position, last.loop, last.code, tuple(elements))


def _parse_999_transaction(transaction: x12.Transaction) -> list[Ack999]:
    acks: list[Ack999] = []
    ak1: x12.Segment | None = None
    txns: list[TransactionAck] = []
    ak2: x12.Segment | None = None
    seg_errors: list[SegmentError] = []
    elem_errors: list[ElementError] = []
    for seg in transaction.segments:
        if seg.id == "AK1":
            if ak1 is not None:
                raise x12.X12Error(f"{seg}: AK1 before the AK9 of the previous group")
            ak1, txns = seg, []
            require(seg, 1)
            require(seg, 2)
        elif seg.id == "AK2":
            if ak1 is None:
                raise x12.X12Error(f"{seg}: AK2 outside an AK1 functional group response")
            if ak2 is not None:
                raise x12.X12Error(f"{seg}: AK2 before the IK5 of the previous transaction set")
            ak2, seg_errors, elem_errors = seg, [], []
            require(seg, 1)
            require(seg, 2)
        elif seg.id == "IK3":
            if ak2 is None:
                raise x12.X12Error(f"{seg}: IK3 outside an AK2 transaction set response")
            _finish_ik3(seg_errors, elem_errors)
            elem_errors = []
            seg_errors.append(SegmentError(require(seg, 1), number(seg, 2), seg[3], seg[4]))
        elif seg.id == "IK4":
            if not seg_errors:
                raise x12.X12Error(f"{seg}: IK4 without the IK3 it belongs to")
            elem_errors.append(_ik4(seg))
        elif seg.id == "IK5":
            if ak2 is None:
                raise x12.X12Error(f"{seg}: IK5 without its AK2")
            _finish_ik3(seg_errors, elem_errors)
            codes = tuple(seg[n] for n in range(2, 7) if seg[n])
            txns.append(TransactionAck(ak2[1], ak2[2], ak2[3], require(seg, 1), codes, tuple(seg_errors)))
            ak2 = None
        elif seg.id == "AK9":
            if ak1 is None:
                raise x12.X12Error(f"{seg}: AK9 without its AK1")
            if ak2 is not None:
                raise x12.X12Error(f"{seg}: AK9 before the IK5 of transaction set {ak2[2]}")
            codes = tuple(seg[n] for n in range(5, 10) if seg[n])
            acks.append(
                Ack999(
                    ak1[1],
                    ak1[2],
                    ak1[3],
                    tuple(txns),
                    require(seg, 1),
                    number(seg, 2),
                    number(seg, 3),
                    number(seg, 4),
                    codes,
                    transaction.st[2],
                )  # fmt: skip
            )
            ak1 = None
        # CTX (context) and anything else is tolerated and not interpreted.
    if ak1 is not None or ak2 is not None:
        raise x12.X12Error(f"{transaction.se or transaction.st}: acknowledgment ends without its IK5/AK9")
    return acks


def parse_999(text: str) -> list[Ack999]:
    """Every functional group acknowledged by the 999s in ``text``; X12Error when there is no 999 or it is malformed."""
    acks: list[Ack999] = []
    found = False
    for _, _, transaction in x12.transactions(text, "999"):
        found = True
        acks.extend(_parse_999_transaction(transaction))
    if not found:
        raise x12.X12Error("no 999 transaction set (ST*999) in the file")
    return acks


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


# ---- 277CA --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClaimAck:
    """The payer's (or clearinghouse's) front-end answer for one claim we sent."""

    claim_id: str  # TRN02 at the patient level = our CLM01
    payer_claim_number: str  # REF*1K
    clearinghouse_trace: str  # REF*D9
    statuses: tuple[Status, ...]  # claim-level STCs, in file order
    service_date_from: date | None  # DTP*472
    service_date_to: date | None
    line_statuses: tuple[Status, ...] = ()  # STCs of the 2220D service lines, if any

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(c for s in self.statuses for c in s.categories)

    @property
    def rejected(self) -> bool:
        """Any A3/A6/A7/A8: a front-end rejection, the claim was never filed (billing-rules §6.1)."""
        return any(c in REJECTED_CATEGORIES for c in self.categories)

    @property
    def accepted(self) -> bool:
        """A1/A2 (or A0 forwarded, A5 split) and no rejection."""
        return not self.rejected and any(c in ACCEPTED_CATEGORIES for c in self.categories)

    @property
    def charge(self) -> Decimal | None:
        return next((s.charge for s in self.statuses if s.charge is not None), None)

    @property
    def status_date(self) -> date | None:
        return next((s.effective_date for s in self.statuses if s.effective_date), None)

    @property
    def action(self) -> str:
        return next((s.action for s in self.statuses if s.action), "")

    @property
    def rejection_reasons(self) -> tuple[str, ...]:
        """Code plus description for every rejecting composite (claim and line level); empty when accepted."""
        return tuple(
            code.description
            for status in (*self.statuses, *self.line_statuses)
            if any(c in REJECTED_CATEGORIES for c in status.categories)
            for code in status.codes
        )


class _ClaimBuilder:
    def __init__(self, trn: x12.Segment) -> None:
        self.claim_id = require(trn, 2)
        self.refs: dict[str, str] = {}
        self.statuses: list[Status] = []
        self.line_statuses: list[Status] = []
        self.dates: tuple[date | None, date | None] = (None, None)
        self.in_line = False

    def build(self) -> ClaimAck:
        return ClaimAck(
            self.claim_id, self.refs.get("1K", ""), self.refs.get("D9", ""), tuple(self.statuses), *self.dates,
            line_statuses=tuple(self.line_statuses),
        )  # fmt: skip


def _parse_277ca_transaction(transaction: x12.Transaction) -> list[ClaimAck]:
    claims: list[ClaimAck] = []
    level = ""
    current: _ClaimBuilder | None = None
    for seg in transaction.segments:
        if seg.id == "HL":
            if current is not None:
                claims.append(current.build())
                current = None
            level = hl_level(seg)
        elif level != "PT":
            continue  # information source, receiver (batch-level STC) and provider levels are not claims
        elif seg.id == "TRN":
            if current is not None:
                claims.append(current.build())
            current = _ClaimBuilder(seg)
        elif current is None:
            if seg.id in ("STC", "REF", "DTP", "SVC"):
                raise x12.X12Error(f"{seg}: claim data before the claim's TRN*2 at the patient level")
        elif seg.id == "SVC":
            current.in_line = True
        elif seg.id == "STC":
            (current.line_statuses if current.in_line else current.statuses).append(parse_stc(seg))
        elif seg.id == "REF" and not current.in_line:
            current.refs.setdefault(seg[1], seg[2])
        elif seg.id == "DTP" and not current.in_line and seg[1] == "472":
            current.dates = date_range(seg)
    if current is not None:
        claims.append(current.build())
    return claims


def parse_277ca(text: str) -> list[ClaimAck]:
    """Every claim acknowledged by the 277CAs in ``text``; X12Error when there is no 277 or it is malformed."""
    claims: list[ClaimAck] = []
    found = False
    for _, _, transaction in x12.transactions(text, "277"):
        found = True
        claims.extend(_parse_277ca_transaction(transaction))
    if not found:
        raise x12.X12Error("no 277 transaction set (ST*277) in the file")
    return claims
