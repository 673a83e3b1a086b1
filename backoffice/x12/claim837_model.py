"""Input values for the 837P writer: parties, a claim and its lines, and a batch (pure, frozen dataclasses).

The writer (``claim837.py``) validates these and raises ``ValueError`` naming the claim and the field; these
classes only carry data. Names and addresses may hold anything: the writer transliterates them to plain ASCII
and strips the X12 separators.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from backoffice.coding.rules import LineDraft


@dataclass(frozen=True, slots=True)
class Address:
    line1: str
    city: str
    state: str  # 2-letter USPS code
    zip_code: str  # 5 or 9 digits (a hyphen is dropped); the billing provider's must be 9
    line2: str = ""


@dataclass(frozen=True, slots=True)
class Submitter:
    name: str
    etin: str  # ISA06 / GS02 / 1000A NM109
    contact_name: str
    phone: str  # 10 digits; punctuation is dropped


@dataclass(frozen=True, slots=True)
class Receiver:
    name: str
    etin: str  # ISA08 / GS03 / 1000B NM109


@dataclass(frozen=True, slots=True)
class BillingProvider:
    name: str  # organization name, or the last name of a solo clinician billing as an individual
    npi: str
    tax_id: str  # EIN, 9 digits (REF*EI)
    taxonomy: str  # NUCC, PRV*BI*PXC
    address: Address  # a street address with a 9-digit ZIP
    first_name: str = ""  # set for an individual (NM102 = 1)


@dataclass(frozen=True, slots=True)
class RenderingProvider:
    last_name: str
    first_name: str
    npi: str
    taxonomy: str


@dataclass(frozen=True, slots=True)
class SupervisingProvider:
    """2310D (NM1*DQ): the licensed clinician supervising an associate who rendered the service."""

    last_name: str
    first_name: str
    npi: str


@dataclass(frozen=True, slots=True)
class PayerInfo:
    name: str
    payer_id: str  # NM1*PR ... PI
    address: Address | None = None


@dataclass(frozen=True, slots=True)
class Subscriber:
    member_id: str
    first_name: str
    last_name: str
    dob: date
    sex: str  # M | F | U
    address: Address
    group_number: str = ""  # SBR03
    payer_responsibility: str = "P"  # SBR01: P primary, S secondary (ClaimInfo.prior_payer), T tertiary (two)


@dataclass(frozen=True, slots=True)
class Patient:
    """A dependent patient (2000C/2010CA); None in a batch entry when the subscriber is the patient."""

    first_name: str
    last_name: str
    dob: date
    sex: str
    address: Address
    relationship: str  # PAT01: 01 spouse, 19 child, 20 employee, 21 unknown, 39, 40, 53 life partner, G8 other


@dataclass(frozen=True, slots=True)
class ServiceLine:
    cpt: str
    modifiers: tuple[str, ...]
    units: int
    charge: Decimal  # the line total (SV102), > 0, at most 2 decimals
    diagnosis_pointers: tuple[int, ...]  # 1-based into ClaimInfo.diagnoses, 1-4, first = primary
    date_of_service: date
    place_of_service: str = ""  # SV105 when it differs from the claim's POS

    @classmethod
    def from_draft(cls, draft: LineDraft, charge: Decimal, date_of_service: date) -> ServiceLine:
        """A line from the coding engine's draft plus the practice's charge and the session date."""
        return cls(
            draft.cpt, draft.modifiers, draft.units, charge, draft.diagnosis_pointers, date_of_service, draft.pos
        )


@dataclass(frozen=True, slots=True)
class Adjustment:
    """One CAS triple from the prior payer's 835: group (CO/PR/OA/PI/CR), CARC, amount, optional quantity."""

    group: str
    reason: str
    amount: Decimal
    quantity: int | None = None


@dataclass(frozen=True, slots=True)
class LineAdjudication:
    """The prior payer's result for one service line (2430): SVD paid amount, line CAS, DTP*573 paid date."""

    paid: Decimal  # may be 0; SV102 - paid must equal the sum of the adjustments
    adjustments: tuple[Adjustment, ...]
    paid_date: date
    paid_units: int | None = None  # None: the line's units


@dataclass(frozen=True, slots=True)
class PriorPayer:
    """A prior payer's adjudication (2320/2330A/2330B and 2430 per line): the primary's for a secondary claim; the
    primary's and then the secondary's (``responsibility`` S) for a tertiary claim."""

    payer: PayerInfo
    subscriber: Subscriber  # the subscriber of the prior payer's policy (2330A)
    claim_filing_indicator: str  # that policy's SBR09
    lines: tuple[LineAdjudication, ...]  # one per service line, in the same order
    relationship: str = "18"  # 2320 SBR02: the patient's relationship to that subscriber
    responsibility: str = "P"  # 2320 SBR01
    claim_adjustments: tuple[Adjustment, ...] = ()  # claim-level CAS (2320)


@dataclass(frozen=True, slots=True)
class ClaimInfo:
    account_number: str  # CLM01, at most 38 characters; comes back as 835 CLP01
    diagnoses: tuple[str, ...]  # ICD-10-CM, with or without the dot; 1-12, first = principal
    lines: tuple[ServiceLine, ...]
    claim_filing_indicator: str  # SBR09: MB, MC, CI, BL, HM, ZZ, ...
    place_of_service: str = ""  # CLM05-1; empty = the first line's POS
    frequency: str = "1"  # 1 original, 7 replacement, 8 void
    payer_claim_number: str = ""  # REF*F8, required for 7 and 8, absent for 1
    prior_auth: str = ""  # REF*G1
    rendering: RenderingProvider | None = None
    supervising: SupervisingProvider | None = None  # 2310D, after 2310B
    prior_payer: PriorPayer | None = None  # required when the subscriber's SBR01 is S (a secondary claim)
    prior_payers: tuple[PriorPayer, ...] = ()  # a tertiary claim (SBR01 T): the primary's, then the secondary's

    @property
    def priors(self) -> tuple[PriorPayer, ...]:
        """Every prior payer in payment order (``prior_payer`` alone, or ``prior_payers``)."""
        return ((self.prior_payer,) if self.prior_payer is not None else ()) + tuple(self.prior_payers)


@dataclass(frozen=True, slots=True)
class Batch:
    submitter: Submitter
    receiver: Receiver
    billing_provider: BillingProvider
    payer: PayerInfo
    claims: tuple[tuple[Subscriber, Patient | None, ClaimInfo], ...]
