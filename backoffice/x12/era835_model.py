"""The values an 835 remittance is read into: frozen, money as Decimal, dates as date (pure, no I/O).

Patient data is kept to what posting needs (the member id); no patient name is stored, so none can leak
into a problem or an error message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Adjustment:
    """One CAS triple: group (CO/PR/OA/PI/CR), reason (CARC), amount and the optional quantity."""

    group: str
    reason: str
    amount: Decimal
    quantity: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ServiceLine:
    """One SVC loop (2110): the procedure as paid, its date, its adjustments and remarks."""

    qualifier: str  # SVC01-1, usually HC
    code: str  # SVC01-2
    modifiers: tuple[str, ...]
    charge: Decimal
    paid: Decimal
    units: Decimal  # SVC05; empty means 1
    original_code: str  # SVC06-2 when the payer bundled or changed the code, else ""
    date: date | None  # DTM*472 (or 150), else the claim's statement date
    adjustments: tuple[Adjustment, ...]
    remarks: tuple[str, ...]  # LQ*HE remark codes (RARC)
    control_number: str  # REF*6R, the line item control number we sent


@dataclass(frozen=True, slots=True)
class Claim:
    """One CLP loop (2100). ``claim_id`` is CLP01, our patient account number (not PHI)."""

    claim_id: str
    status: str  # CLP02: 1/2/3 processed, 4 denied, 19/20/21 forwarded, 22 reversal, 23 not our claim
    charge: Decimal
    paid: Decimal
    patient_responsibility: Decimal
    filing_indicator: str  # CLP06
    payer_claim_number: str  # CLP07, kept for corrections and reversals
    member_id: str  # NM1*QC NM109, the only patient datum kept
    statement_from: date | None  # DTM*232
    statement_to: date | None  # DTM*233
    adjustments: tuple[Adjustment, ...]  # claim-level CAS
    remarks: tuple[str, ...]  # MOA/MIA remark codes
    services: tuple[ServiceLine, ...]
    crossover_payer: str = ""  # NM1*TT NM103 (or NM109): the payer the claim was crossed over to

    @property
    def is_reversal(self) -> bool:
        return self.status == "22"

    @property
    def crossed_over(self) -> bool:
        """Processed as primary and forwarded to the next payer (CLP02 19/20/21 or an NM1*TT crossover carrier):
        a Medicare → Medicaid crossover. The secondary must not be billed again."""
        return self.status in ("19", "20", "21") or bool(self.crossover_payer)


@dataclass(frozen=True, slots=True)
class ProviderAdjustment:
    """One PLB pair: a positive amount reduces the payment (e.g. WO recovery), a negative one adds (interest)."""

    provider_id: str  # PLB01
    fiscal_period_date: date | None  # PLB02
    reason: str  # PLBnn-1
    reference: str  # PLBnn-2
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Remittance:
    """One 835 transaction set (ST/SE): one payment and the claims it pays.

    ``balanced`` is True when every balancing equation holds; ``problems`` lists each equation that does not
    (naming the claim by CLP01, or "payment") and any tolerated data defect, such as an unreadable BPR16.
    """

    control_number: str  # ST02
    handling_code: str  # BPR01: I remittance + payment, C payment + advice, H notification only, ...
    total_paid: Decimal  # BPR02
    credit_debit: str  # BPR03
    payment_method: str  # BPR04: ACH, CHK, NON, BOP, FWT
    payment_date: date | None  # BPR16
    trace_number: str  # TRN02: check or EFT trace number
    trace_payer_id: str  # TRN03: "1" + the payer's EIN, usually
    payer_name: str
    payer_id: str  # N1*PR REF*2U, else N104, else TRN03
    payee_name: str
    payee_npi: str  # N1*PE N104 when N103 = XX, else ""
    claims: tuple[Claim, ...]
    provider_adjustments: tuple[ProviderAdjustment, ...]
    balanced: bool
    problems: tuple[str, ...]
