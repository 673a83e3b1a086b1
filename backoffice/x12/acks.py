"""Reading acknowledgments: the 999 (syntax) and the 277CA (claim acknowledgment, 005010X214). Pure, no I/O.

Both are front-end answers (billing-rules §6.1): a 999 ``R`` or a 277CA ``A3/A6/A7/A8`` means the claim was never
filed and must be corrected and resent as an original. Tolerant of what real files carry, strict in what it
reports: malformed data raises ``x12.X12Error`` naming the segment, never a patient's name or member ID.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from backoffice.x12 import reader as x12
from backoffice.x12.elements import (
    ACCEPTED_CATEGORIES,
    REJECTED_CATEGORIES,
    Status,
    date_range,
    hl_level,
    number,
    parse_stc,
    require,
)


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
    return x12.parse_all(text, "999", _parse_999_transaction)


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
    return x12.parse_all(text, "277", _parse_277ca_transaction)


# ---- TA1 (interchange acknowledgement) ---------------------------------------------------------------------------

TA1_CODES = {"A": "accepted", "E": "accepted with errors", "R": "rejected"}


@dataclass(frozen=True, slots=True)
class Ta1:
    """One TA1: the answer to a whole interchange we sent (TA101 is our ISA13)."""

    interchange_control_number: str
    ack_code: str  # A / E / R
    note_code: str  # TA105: 000 no error, 001-031 envelope errors


def parse_ta1(text: str) -> list[Ta1]:
    """Every TA1 segment of ``text`` (usually an interchange with a TA1 and no functional group)."""
    out = []
    for seg in x12.segments(text):
        if seg.id != "TA1":
            continue
        if not seg[1].strip().isdigit() or seg[4] not in TA1_CODES:
            raise x12.X12Error(f"{seg}: TA101 must be an interchange control number and TA104 one of A, E, R")
        out.append(Ta1(seg[1].strip().zfill(9), seg[4], seg[5]))
    if not out:
        raise x12.X12Error("no TA1 segment in the file")
    return out


def is_ta1(text: str) -> bool:
    """Whether ``text`` carries TA1 segments and no transaction set (a pure interchange acknowledgement)."""
    ids = {seg.id for seg in x12.segments(text)}
    return "TA1" in ids and "ST" not in ids
