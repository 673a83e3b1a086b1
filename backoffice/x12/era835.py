"""Reading 835 remittances (005010X221A1): tolerant of what payers send, strict in what it reports (pure, no I/O).

Tolerant: any separators the ISA declares, several ISAs/STs per file, ST03 present or not, no PER, no BPR16,
an empty SVC05 (one unit), unknown segments (skipped). Strict: an amount that is not an X12 number, a CLP
without CLP01, a service line or adjustment outside a claim, or a file without an 835 raises ``X12Error``
naming the segment. Balancing (x12 README pitfall 19) is checked and reported, never corrected.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from backoffice.x12.era835_model import Adjustment, Claim, ProviderAdjustment, Remittance, ServiceLine
from backoffice.x12.era835_scan import RawTransaction, transactions_835, where
from backoffice.x12.reader import X12Error

__all__ = [
    "Adjustment",
    "Claim",
    "ProviderAdjustment",
    "Remittance",
    "ServiceLine",
    "X12Error",
    "as_contract",
    "duplicate_key",
    "parse_835",
]

ZERO = Decimal(0)
ONE = Decimal(1)
MOA_REMARKS = (3, 4, 5, 6, 7)  # MOA03-MOA07
MIA_REMARKS = (5, 20, 21, 22, 23)  # MIA05, MIA20-MIA23


def _number(parts: list[str], n: int, position: int) -> Decimal:
    """Element ``n`` as an X12 R number (optional minus, ASCII digits, one optional point)."""
    value = parts[n]
    digits = value.replace(".", "", 1)
    if (digits.isdigit() or (digits[:1] == "-" and digits[1:].isdigit())) and digits.isascii():
        return Decimal(value)
    raise X12Error(f"{where(parts, position)}: {parts[0]}{n:02d} {value!r} is not a number")


def _money(parts: list[str], n: int, position: int) -> Decimal:
    """Element ``n`` as an amount, 0 when absent; the common unsigned case is checked inline (hot path)."""
    if n < len(parts) and (value := parts[n]):
        digits = value.replace(".", "", 1)
        if digits.isdigit() and digits.isascii():
            return Decimal(value)
        return _number(parts, n, position)
    return ZERO


def _optional(parts: list[str], n: int, position: int) -> Decimal | None:
    return _number(parts, n, position) if n < len(parts) and parts[n] else None


def _get(parts: list[str], n: int) -> str:
    return parts[n] if n < len(parts) else ""


def _components(parts: list[str], n: int, separator: str) -> list[str]:
    return parts[n].split(separator) if n < len(parts) and parts[n] else []


def _date(value: str) -> date | None:
    """A CCYYMMDD date, or None when it is absent or not a real date (payers send 20002316)."""
    if len(value) != 8 or not value.isdigit():
        return None
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        return None


def _fmt(amount: Decimal) -> str:
    return f"{amount:.2f}"


class _Line:
    """The service line being read (SVC and what follows it)."""

    __slots__ = ("parts", "charge", "paid", "units", "original", "date", "adjustments", "remarks", "control_number")

    def __init__(self, svc: list[str], position: int, component: str) -> None:
        self.parts = _components(svc, 1, component)
        self.charge = _money(svc, 2, position)
        self.paid = _money(svc, 3, position)
        self.units = _optional(svc, 5, position)
        self.original = _components(svc, 6, component)
        self.date: date | None = None
        self.adjustments: list[Adjustment] = []
        self.remarks: list[str] = []
        self.control_number = ""


class _Claim:
    """The claim being read; frozen into a ``Claim`` (and balanced) at the next CLP, PLB or the SE."""

    __slots__ = ("clp", "charge", "paid", "patient", "member_id", "dates", "adjustments", "remarks", "lines", "line",
                 "crossover")  # fmt: skip

    def __init__(self, clp: list[str], position: int) -> None:
        if len(clp) < 2 or not clp[1]:
            raise X12Error(f"{where(clp, position)}: CLP01 (our claim id) is empty")
        self.clp = clp
        self.charge = _money(clp, 3, position)
        self.paid = _money(clp, 4, position)
        self.patient = _money(clp, 5, position)
        self.member_id = ""
        self.crossover = ""  # NM1*TT: the payer this claim was crossed over (forwarded) to, e.g. Medicare → Medicaid
        self.dates: dict[str, date | None] = {}
        self.adjustments: list[Adjustment] = []
        self.remarks: list[str] = []
        self.lines: list[_Line] = []
        self.line: _Line | None = None

    def build(self, problems: list[str]) -> Claim:
        """The frozen claim; every claim- and line-level balancing equation that fails is added to ``problems``."""
        clp = self.clp
        claim_id = clp[1]
        start = self.dates.get("232")
        services = []
        lines_paid = line_cas = ZERO
        for number, line in enumerate(self.lines, 1):
            parts = line.parts
            code = parts[1] if len(parts) > 1 else ""
            cas = ZERO
            for adjustment in line.adjustments:
                cas += adjustment.amount
            line_cas += cas
            lines_paid += line.paid
            if line.charge - line.paid != cas:
                problems.append(
                    f"claim {claim_id} line {number} ({code or 'no code'}): charge {_fmt(line.charge)}"
                    f" − paid {_fmt(line.paid)} = {_fmt(line.charge - line.paid)}"
                    f" but line adjustments total {_fmt(cas)}"
                )
            original = line.original
            services.append(
                ServiceLine(
                    qualifier=parts[0] if parts else "",
                    code=code,
                    modifiers=tuple(m for m in parts[2:6] if m) if len(parts) > 2 else (),
                    charge=line.charge,
                    paid=line.paid,
                    units=ONE if line.units is None else line.units,
                    original_code=original[1] if len(original) > 1 else "",
                    date=line.date or start,
                    adjustments=tuple(line.adjustments),
                    remarks=tuple(line.remarks),
                    control_number=line.control_number,
                )
            )
        claim_cas = ZERO
        for adjustment in self.adjustments:
            claim_cas += adjustment.amount
        if self.charge - self.paid != claim_cas + line_cas:
            problems.append(
                f"claim {claim_id}: charge {_fmt(self.charge)} − paid {_fmt(self.paid)}"
                f" = {_fmt(self.charge - self.paid)} but adjustments total {_fmt(claim_cas + line_cas)}"
            )
        if services and lines_paid - claim_cas != self.paid:
            problems.append(
                f"claim {claim_id}: service lines paid {_fmt(lines_paid)} − claim adjustments {_fmt(claim_cas)}"
                f" = {_fmt(lines_paid - claim_cas)} but claim paid {_fmt(self.paid)}"
            )
        return Claim(
            claim_id=claim_id,
            status=_get(clp, 2),
            charge=self.charge,
            paid=self.paid,
            patient_responsibility=self.patient,
            filing_indicator=_get(clp, 6),
            payer_claim_number=_get(clp, 7),
            member_id=self.member_id,
            crossover_payer=self.crossover,
            statement_from=start,
            statement_to=self.dates.get("233"),
            adjustments=tuple(self.adjustments),
            remarks=tuple(self.remarks),
            services=tuple(services),
        )


def _adjustments(cas: list[str], position: int) -> list[Adjustment]:
    """Every (reason, amount, quantity) triple of a CAS segment: up to six after the group code."""
    group = _get(cas, 1)
    if not group:
        raise X12Error(f"{where(cas, position)}: CAS01 (the adjustment group code) is empty")
    if len(cas) == 4 and cas[2]:  # one triple without quantity: most CAS segments
        return [Adjustment(group, cas[2], _money(cas, 3, position))]
    out = []
    for n in range(2, min(len(cas), 20), 3):
        if reason := cas[n]:
            out.append(Adjustment(group, reason, _money(cas, n + 1, position), _optional(cas, n + 2, position)))
    if not out:
        raise X12Error(f"{where(cas, position)}: CAS without any reason code")
    return out


def _provider_adjustments(plb: list[str], position: int, component: str) -> list[ProviderAdjustment]:
    """The (reason:reference, amount) pairs of a PLB, PLB03/04 up to PLB13/14."""
    provider, period = _get(plb, 1), _date(_get(plb, 2))
    out = []
    for n in range(3, len(plb), 2):
        parts = _components(plb, n, component)
        if not parts:
            continue
        amount = _optional(plb, n + 1, position)
        if amount is None:
            raise X12Error(f"{where(plb, position)}: PLB{n:02d} has a reason but PLB{n + 1:02d} has no amount")
        out.append(ProviderAdjustment(provider, period, parts[0], parts[1] if len(parts) > 1 else "", amount))
    return out


def _remittance(transaction: RawTransaction) -> Remittance:
    bpr: list[str] | None = None
    bpr_position = 0
    trace_number = trace_payer = payer_name = payer_ref = payer_n104 = payee_name = payee_npi = ""
    entity = ""  # the N1 loop we are in: PR, PE or another
    claims: list[Claim] = []
    plbs: list[ProviderAdjustment] = []
    claim: _Claim | None = None
    problems: list[str] = []
    component = transaction.component

    for parts, position in zip(transaction.segments, transaction.positions, strict=True):
        sid = parts[0]
        if sid == "CAS":
            if claim is None:
                raise X12Error(f"{where(parts, position)}: CAS outside a claim (no CLP before it)")
            (claim.line or claim).adjustments.extend(_adjustments(parts, position))
        elif sid == "SVC":
            if claim is None:
                raise X12Error(f"{where(parts, position)}: SVC outside a claim (no CLP before it)")
            claim.line = _Line(parts, position, component)
            claim.lines.append(claim.line)
        elif sid == "DTM":
            if claim is not None:
                qualifier = _get(parts, 1)
                if claim.line is not None:
                    if qualifier in ("472", "150") and claim.line.date is None:
                        claim.line.date = _date(_get(parts, 2))
                elif qualifier in ("232", "233"):
                    claim.dates[qualifier] = _date(_get(parts, 2))
        elif sid == "CLP":
            if claim is not None:
                claims.append(claim.build(problems))
            claim = _Claim(parts, position)
        elif sid == "NM1":
            if claim is not None and _get(parts, 1) == "QC":
                claim.member_id = _get(parts, 9)
            elif claim is not None and _get(parts, 1) == "TT":
                claim.crossover = _get(parts, 3) or _get(parts, 9) or "crossover payer"
        elif sid == "REF":
            if claim is not None:
                if claim.line is not None and _get(parts, 1) == "6R":
                    claim.line.control_number = _get(parts, 2)
            elif entity == "PR" and _get(parts, 1) == "2U":
                payer_ref = _get(parts, 2)
        elif sid == "LQ":
            if claim is None or claim.line is None:
                raise X12Error(f"{where(parts, position)}: LQ outside a service line (no SVC before it)")
            if _get(parts, 1) == "HE":
                claim.line.remarks.append(_get(parts, 2))
        elif sid == "MOA" or sid == "MIA":
            if claim is None:
                raise X12Error(f"{where(parts, position)}: {sid} outside a claim (no CLP before it)")
            for n in MOA_REMARKS if sid == "MOA" else MIA_REMARKS:
                if value := _get(parts, n):
                    claim.remarks.append(value)
        elif sid == "PLB":
            if claim is not None:
                claims.append(claim.build(problems))
                claim = None
            plbs.extend(_provider_adjustments(parts, position, component))
        elif sid == "BPR":
            if bpr is not None:
                raise X12Error(f"{where(parts, position)}: a second BPR in one transaction set")
            _money(parts, 2, position)
            bpr, bpr_position = parts, position
        elif sid == "TRN":
            if claim is None and not trace_number:
                trace_number, trace_payer = _get(parts, 2), _get(parts, 3)
        elif sid == "N1" and claim is None:
            entity = _get(parts, 1)
            if entity == "PR":
                payer_name, payer_n104 = _get(parts, 2), _get(parts, 4)
            elif entity == "PE":
                payee_name = _get(parts, 2)
                payee_npi = _get(parts, 4) if _get(parts, 3) == "XX" else ""
    if claim is not None:
        claims.append(claim.build(problems))
    st = transaction.st
    if bpr is None:
        raise X12Error(f"{where(st, transaction.st_position)}: 835 {_get(st, 2)!r} has no BPR (payment) segment")

    total = _money(bpr, 2, bpr_position)
    paid = plb = ZERO
    for built in claims:
        paid += built.paid
    for adjustment in plbs:
        plb += adjustment.amount
    if paid - plb != total:
        problems.append(
            f"payment: claims paid {_fmt(paid)} − provider adjustments {_fmt(plb)} = {_fmt(paid - plb)}"
            f" but BPR02 total is {_fmt(total)}"
        )
    balanced = not problems
    payment_date = _date(_get(bpr, 16))
    if _get(bpr, 16) and payment_date is None:
        problems.append(f"payment: BPR16 {_get(bpr, 16)!r} is not a date; payment date left empty")
    return Remittance(
        control_number=_get(st, 2),
        handling_code=_get(bpr, 1),
        total_paid=total,
        credit_debit=_get(bpr, 3),
        payment_method=_get(bpr, 4),
        payment_date=payment_date,
        trace_number=trace_number,
        trace_payer_id=trace_payer,
        payer_name=payer_name,
        payer_id=payer_ref or payer_n104 or trace_payer,
        payee_name=payee_name,
        payee_npi=payee_npi,
        claims=tuple(claims),
        provider_adjustments=tuple(plbs),
        balanced=balanced,
        problems=tuple(problems),
    )


def parse_835(text: str, *, complete: bool = False) -> list[Remittance]:
    """One Remittance per 835 ST/SE in ``text``; raises X12Error naming the segment, or when there is no 835.

    ``complete`` (posting) also refuses a file whose envelopes are incomplete or disagree: a file cut short before
    its SE/GE/IEA must not post as if it were whole."""
    collecting = gc.isenabled()
    gc.disable()  # the parse makes ~10 small objects per segment and frees none: collecting them midway is waste
    try:
        remittances = [_remittance(transaction) for transaction in transactions_835(text, complete=complete)]
    finally:
        if collecting:
            gc.enable()
    if not remittances:
        raise X12Error("no 835 transaction set (ST*835) in the file")
    return remittances


def duplicate_key(remittance: Remittance) -> tuple[str, str]:
    """(payer id, trace number): TRN03 + TRN02 identify a payment uniquely, so posting can refuse a second copy."""
    return (remittance.trace_payer_id or remittance.payer_id, remittance.trace_number)


def _adjustments_contract(adjustments: Iterable[Adjustment]) -> list[dict[str, str]]:
    return [{"group": a.group, "reason": a.reason, "amount": _fmt(a.amount)} for a in adjustments]


def _units(units: Decimal) -> str:
    return format(units.normalize(), "f")  # "1.00" -> "1", "100" -> "100", "1.50" -> "1.5"


def as_contract(remittances: Iterable[Remittance]) -> dict:
    """The JSON contract: money as decimal strings with two places, dates ISO (or None), one entry per ST."""
    return {
        "transactions": [
            {
                "payer": {"name": r.payer_name, "id": r.payer_id},
                "payee": {"name": r.payee_name, "npi": r.payee_npi},
                "check_number": r.trace_number,
                "payment_date": r.payment_date.isoformat() if r.payment_date else None,
                "total_paid": _fmt(r.total_paid),
                "balanced": r.balanced,
                "problems": list(r.problems),  # each balancing equation that does not hold, naming the segment
                "claims": [
                    {
                        "claim_id": c.claim_id,
                        "status": c.status,
                        "charge": _fmt(c.charge),
                        "paid": _fmt(c.paid),
                        "patient_responsibility": _fmt(c.patient_responsibility),
                        "payer_claim_number": c.payer_claim_number,
                        "adjustments": _adjustments_contract(c.adjustments),
                        "services": [
                            {
                                "code": s.code,
                                "modifiers": list(s.modifiers),
                                "charge": _fmt(s.charge),
                                "paid": _fmt(s.paid),
                                "units": _units(s.units),
                                "date": s.date.isoformat() if s.date else None,
                                "adjustments": _adjustments_contract(s.adjustments),
                            }
                            for s in c.services
                        ],
                    }
                    for c in r.claims
                ],
                "provider_adjustments": [
                    {"reason": p.reason, "amount": _fmt(p.amount)} for p in r.provider_adjustments
                ],
            }
            for r in remittances
        ]
    }
