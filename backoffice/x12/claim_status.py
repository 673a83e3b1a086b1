"""Reading a 277 claim status response (005010X212, the answer to a 276). Pure, no I/O.

Claims sit at the subscriber (HL 22) or dependent (HL 23) level; a status at the receiver (21) or provider (19)
level answers the whole inquiry (E0 "cannot process", for example) and is kept with its level so nothing is
dropped. Malformed data raises ``x12.X12Error`` naming the segment, never a patient's name or member ID.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from backoffice.x12 import reader as x12
from backoffice.x12.elements import Status, StatusCode, amount, date_range, hl_level, parse_stc, require

CLAIM_LEVELS = frozenset({"22", "23", "PT"})


@dataclass(frozen=True, slots=True)
class LineStatus:
    """2220D/E: one service line (SVC) with its own STCs."""

    procedure: tuple[str, ...]  # SVC01 composite, e.g. ("HC", "90834", "95")
    charge: Decimal | None  # SVC02
    paid: Decimal | None  # SVC03
    revenue_code: str  # SVC04
    units: Decimal | None  # SVC07
    statuses: tuple[Status, ...]
    line_control_number: str  # REF*FJ
    service_date_from: date | None
    service_date_to: date | None


@dataclass(frozen=True, slots=True)
class ClaimStatus:
    """The payer's status for one claim (or, at level 21/19, for the whole inquiry)."""

    level: str  # HL03: 22 subscriber, 23 dependent (claims); 21 receiver, 19 provider (inquiry-level answers)
    trace: str  # TRN02 = the trace we sent in the 276, usually our claim id
    payer_claim_number: str  # REF*1K
    patient_account: str  # REF*EJ (our CLM01 as the payer knows it)
    references: tuple[tuple[str, str], ...]  # every REF (qualifier, value), 1K/EJ/BLT/XZ/D9…
    statuses: tuple[Status, ...]
    service_date_from: date | None  # DTP*472
    service_date_to: date | None
    lines: tuple[LineStatus, ...]

    @property
    def is_claim(self) -> bool:
        return self.level in CLAIM_LEVELS

    @property
    def claim_id(self) -> str:
        """Our claim id: REF*EJ when sent back, else the TRN*2 trace."""
        return self.patient_account or self.trace

    @property
    def status(self) -> StatusCode | None:
        return self.statuses[0].codes[0] if self.statuses else None

    @property
    def category(self) -> str:
        return self.status.category if self.status else ""

    @property
    def status_code(self) -> str:
        return self.status.code if self.status else ""

    @property
    def entity(self) -> str:
        return self.status.entity if self.status else ""

    @property
    def effective_date(self) -> date | None:
        return next((s.effective_date for s in self.statuses if s.effective_date is not None), None)

    @property
    def charge(self) -> Decimal | None:
        return next((s.charge for s in self.statuses if s.charge is not None), None)

    @property
    def paid(self) -> Decimal | None:
        return next((s.paid for s in self.statuses if s.paid is not None), None)

    @property
    def adjudication_date(self) -> date | None:
        return next((s.adjudication_date for s in self.statuses if s.adjudication_date is not None), None)

    @property
    def payment_date(self) -> date | None:
        return next((s.payment_date for s in self.statuses if s.payment_date is not None), None)

    @property
    def check_number(self) -> str:
        return next((s.check_number for s in self.statuses if s.check_number), "")


class _Line:
    def __init__(self, svc: x12.Segment) -> None:
        self.svc = svc
        self.statuses: list[Status] = []
        self.control = ""
        self.dates: tuple[date | None, date | None] = (None, None)

    def build(self) -> LineStatus:
        svc = self.svc
        if not svc.components(1):
            raise x12.X12Error(f"{svc}: SVC01 (procedure) is required but empty")
        return LineStatus(
            svc.components(1), amount(svc, 2), amount(svc, 3), svc[4], amount(svc, 7), tuple(self.statuses),
            self.control, *self.dates,
        )  # fmt: skip


class _Claim:
    def __init__(self, level: str, trn: x12.Segment) -> None:
        self.level, self.trace = level, require(trn, 2)
        self.refs: list[tuple[str, str]] = []
        self.statuses: list[Status] = []
        self.dates: tuple[date | None, date | None] = (None, None)
        self.lines: list[_Line] = []

    def build(self) -> ClaimStatus:
        refs = dict(reversed(self.refs))  # the first REF of a qualifier wins
        return ClaimStatus(
            self.level, self.trace, refs.get("1K", ""), refs.get("EJ", ""), tuple(self.refs), tuple(self.statuses),
            *self.dates, tuple(line.build() for line in self.lines),
        )  # fmt: skip


def _parse_transaction(transaction: x12.Transaction) -> list[ClaimStatus]:
    result: list[ClaimStatus] = []
    level = ""
    current: _Claim | None = None
    for seg in transaction.segments:
        if seg.id == "HL":
            if current is not None:
                result.append(current.build())
                current = None
            level = hl_level(seg)
        elif seg.id == "TRN":
            if level == "20":
                continue  # the information source level carries no status
            if current is not None:
                result.append(current.build())
            current = _Claim(level, seg)
        elif current is None:
            if seg.id in ("STC", "SVC"):
                raise x12.X12Error(f"{seg}: status before the TRN that it answers")
        elif seg.id == "SVC":
            current.lines.append(_Line(seg))
        elif seg.id == "STC":
            (current.lines[-1].statuses if current.lines else current.statuses).append(parse_stc(seg))
        elif seg.id == "REF":
            if current.lines:
                if seg[1] == "FJ":
                    current.lines[-1].control = seg[2]
            else:
                current.refs.append((seg[1], seg[2]))
        elif seg.id == "DTP" and seg[1] == "472":
            if current.lines:
                current.lines[-1].dates = date_range(seg)
            else:
                current.dates = date_range(seg)
    if current is not None:
        result.append(current.build())
    return result


def parse_277(text: str) -> list[ClaimStatus]:
    """Every claim status (and inquiry-level status) in the 277s of ``text``; X12Error when none or malformed."""
    return x12.parse_all(text, "277", _parse_transaction)
