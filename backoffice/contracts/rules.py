"""Pure fee rules of a client contract (no I/O): what a month of collections, claims and appeals costs the practice.

A billing company is paid a percentage of what it collects for the practice (4-10%, behavioural health at the high
end), on insurance payments, patient payments or both, with refunds and recoupments netted; often with a monthly
minimum, per-claim and per-appeal fees, and a one-time setup fee. The minimum tops up the month's fees (percentage,
per-claim and per-appeal); the setup fee is billed once, on the first invoice, outside the minimum.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


class FeeBasis(StrEnum):
    INSURANCE = "insurance"  # payer payments (835 and paper EOBs), reversals and recoupments netted
    PATIENT = "patient"  # patient payments, patient refunds netted
    BOTH = "both"


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    SENT = "sent"
    PAID = "paid"
    VOID = "void"


class InvoiceKind(StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class LineKind(StrEnum):
    PERCENTAGE = "percentage"
    PER_CLAIM = "per_claim"
    PER_APPEAL = "per_appeal"
    MINIMUM = "minimum"
    SETUP = "setup"
    CREDIT = "credit"


# The moves a person may make; anything else is refused naming the status (a correction is a credit note).
TRANSITIONS = {
    InvoiceStatus.DRAFT: (InvoiceStatus.APPROVED, InvoiceStatus.VOID),
    InvoiceStatus.APPROVED: (InvoiceStatus.SENT,),
    InvoiceStatus.SENT: (InvoiceStatus.PAID,),
    InvoiceStatus.PAID: (),
    InvoiceStatus.VOID: (),
}


def money(value: Decimal) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Terms:
    percent: Decimal  # 6.5 means 6.5% of the basis
    basis: FeeBasis
    monthly_minimum: Decimal = ZERO
    per_claim: Decimal = ZERO
    per_appeal: Decimal = ZERO
    setup_fee: Decimal = ZERO


@dataclass(frozen=True)
class Activity:
    """What happened in the month, already netted: collections by source, claims submitted, appeals sent."""

    insurance: Decimal = ZERO
    patient: Decimal = ZERO
    claims: int = 0
    appeals: int = 0
    first_invoice: bool = False  # the setup fee goes on the contract's first invoice only


@dataclass(frozen=True)
class FeeLine:
    kind: LineKind
    description: str
    quantity: Decimal
    rate: Decimal
    amount: Decimal


def basis_amount(terms: Terms, activity: Activity) -> Decimal:
    """The collections the percentage applies to, by the contract's basis."""
    if terms.basis is FeeBasis.INSURANCE:
        return money(activity.insurance)
    if terms.basis is FeeBasis.PATIENT:
        return money(activity.patient)
    return money(activity.insurance + activity.patient)


def terms_problem(terms: Terms) -> str | None:
    """Why these terms cannot be a contract, naming the field, or None."""
    if not ZERO <= terms.percent <= Decimal(100):
        return "percent: between 0 and 100"
    for name in ("monthly_minimum", "per_claim", "per_appeal", "setup_fee"):
        if getattr(terms, name) < 0:
            return f"{name}: zero or more"
    return None


def fee_lines(terms: Terms, activity: Activity) -> list[FeeLine]:
    """The invoice lines for one month, in order; amounts rounded half-up to the cent.

    Net collections below zero (refunds and recoupments larger than the month's payments) give a negative
    percentage line: the practice is credited the fee it paid on money that went back.
    """
    lines: list[FeeLine] = []
    basis = basis_amount(terms, activity)
    percent = Decimal(terms.percent)
    fee = money(basis * percent / 100)
    if basis or percent:
        what = {"insurance": "insurance", "patient": "patient", "both": "insurance and patient"}[terms.basis.value]
        lines.append(FeeLine(LineKind.PERCENTAGE, f"{_pct(percent)} of {what} collections, net of refunds",
                             basis, percent, fee))  # fmt: skip
    if terms.per_claim and activity.claims:
        amount = money(terms.per_claim * activity.claims)
        lines.append(FeeLine(LineKind.PER_CLAIM, "Claims submitted", Decimal(activity.claims), terms.per_claim, amount))
    if terms.per_appeal and activity.appeals:
        amount = money(terms.per_appeal * activity.appeals)
        lines.append(FeeLine(LineKind.PER_APPEAL, "Appeals sent", Decimal(activity.appeals), terms.per_appeal, amount))
    earned = sum((line.amount for line in lines), ZERO)
    if terms.monthly_minimum and earned < terms.monthly_minimum:
        top_up = money(terms.monthly_minimum - earned)
        lines.append(FeeLine(LineKind.MINIMUM, f"Monthly minimum of {terms.monthly_minimum}", Decimal(1), top_up,
                             top_up))  # fmt: skip
    if terms.setup_fee and activity.first_invoice:
        lines.append(FeeLine(LineKind.SETUP, "One-time setup fee", Decimal(1), terms.setup_fee, money(terms.setup_fee)))
    return lines


def _pct(percent: Decimal) -> str:
    text = format(percent.normalize(), "f")
    return f"{text}%"


def can_move(current: InvoiceStatus, target: InvoiceStatus) -> bool:
    return target in TRANSITIONS[current]
