"""Client contracts and the monthly close: each practice's invoice computed from what was posted, approved by a
supervisor, numbered, sent and paid; corrected only by a credit note. Services take ``now``; callers commit
through ``@service``."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select

from backoffice.accounts.rules import Role
from backoffice.appeals.models import Appeal
from backoffice.audit.services import audit_event
from backoffice.claims.models import Claim
from backoffice.contracts.models import ClientContract, Invoice, InvoiceLine, InvoiceSource
from backoffice.contracts.rules import (
    ZERO,
    Activity,
    FeeBasis,
    InvoiceKind,
    InvoiceStatus,
    LineKind,
    Terms,
    can_move,
    fee_lines,
    money,
    terms_problem,
)
from backoffice.errors import NotAllowed, ValidationFailed
from backoffice.extensions import db
from backoffice.orgs.models import Practice
from backoffice.patients.models import LedgerEntry
from backoffice.remits.models import ClaimPayment, Remittance
from backoffice.services_base import service
from backoffice.work.rules import WorkKind

# Patient ledger movements that are money the practice collected (a payment is negative in the ledger: it lowers
# what the patient owes) or gave back (a refund is positive).
PATIENT_COLLECTION_KINDS = ("patient_payment", "patient_refund", "refund")
APPEALS_SENT = ("sent", "decided")


@dataclass(frozen=True)
class Source:
    kind: str
    source_id: int
    amount: Decimal
    on: date


def month_bounds(year: int, month: int) -> tuple[date, date]:
    if not (2000 <= year <= 2100 and 1 <= month <= 12):
        raise ValidationFailed(f"month: {year:04d}-{month:02d} is not a month we can close")
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def parse_month(text: str) -> tuple[int, int]:
    """ "2026-11" → (2026, 11); ValidationFailed naming the field otherwise."""
    try:
        year, month = (int(part) for part in text.strip().split("-", 1))
    except ValueError:
        raise ValidationFailed("month: YYYY-MM, e.g. 2026-11") from None
    month_bounds(year, month)
    return year, month


# ---- contracts ------------------------------------------------------------------------------------------------


def contract_in_force(practice_id: int, day: date) -> ClientContract | None:
    return db.session.scalar(
        select(ClientContract)
        .where(ClientContract.practice_id == practice_id, ClientContract.effective_from <= day,
               (ClientContract.effective_to.is_(None)) | (ClientContract.effective_to >= day))
        .order_by(ClientContract.effective_from.desc())
    )  # fmt: skip


def contracts_of(practice_id: int) -> list[ClientContract]:
    query = select(ClientContract).where(ClientContract.practice_id == practice_id)
    return list(db.session.scalars(query.order_by(ClientContract.effective_from.desc())))


@service
def save_contract(*, practice: Practice, values: dict[str, Any], user: Any, now: datetime) -> ClientContract:
    """A new contract version for ``practice``; the one in force before it ends the day before. Overlaps with a
    later version, unknown steps and bad terms are refused naming the field; nothing is written then."""
    terms = Terms(percent=values["percent"], basis=FeeBasis(values["basis"]),
                  monthly_minimum=values.get("monthly_minimum") or ZERO, per_claim=values.get("per_claim") or ZERO,
                  per_appeal=values.get("per_appeal") or ZERO, setup_fee=values.get("setup_fee") or ZERO)  # fmt: skip
    problem = terms_problem(terms)
    if problem:
        raise ValidationFailed(problem)
    start: date = values["effective_from"]
    end: date | None = values.get("effective_to")
    if end is not None and end < start:
        raise ValidationFailed("effective_to: on or after effective_from")
    steps = list(values.get("owned_steps") or [])
    known = {str(step) for step in WorkKind}
    unknown = [step for step in steps if step not in known]
    if unknown:
        raise ValidationFailed(f"owned_steps: unknown step {unknown[0]!r} (known: {', '.join(sorted(known))})")
    sla = {str(k): int(v) for k, v in (values.get("sla_hours") or {}).items() if v not in (None, "")}
    bad_sla = [k for k, v in sla.items() if k not in known or not 1 <= v <= 24 * 365]
    if bad_sla:
        raise ValidationFailed(f"sla_hours: {bad_sla[0]}: a step we own and 1 hour to a year")
    for other in contracts_of(practice.id):
        if other.effective_from >= start:
            raise ValidationFailed(
                f"effective_from: a contract from {other.effective_from.isoformat()} exists; start after it"
            )
        if other.effective_to is None or other.effective_to >= start:
            other.effective_to = start - timedelta(days=1)
    contract = ClientContract(
        organization_id=practice.organization_id, practice_id=practice.id, effective_from=start, effective_to=end,
        owned_steps=steps, percent=terms.percent, basis=terms.basis, monthly_minimum=money(terms.monthly_minimum),
        per_claim=money(terms.per_claim), per_appeal=money(terms.per_appeal), setup_fee=money(terms.setup_fee),
        sla_hours=sla, created_at=now, created_by_id=getattr(user, "id", None),
        late_cancel_fee=money(values.get("late_cancel_fee") or ZERO),
        late_cancel_hours=24 if values.get("late_cancel_hours") is None else int(values["late_cancel_hours"]),
    )  # fmt: skip
    db.session.add(contract)
    if start <= now.astimezone(ZoneInfo(practice.timezone)).date() and (end is None or end >= start):
        practice.owned_steps = steps  # what the planner reads: the steps we own for the practice today
    db.session.flush()
    audit_event(action="contract_saved", user=user, now=now, organization_id=practice.organization_id,
                target_type="client_contract", target_id=contract.id, practice_id=practice.id,
                data={"effective_from": start.isoformat(), "percent": str(terms.percent),
                      "basis": str(terms.basis)})  # fmt: skip
    return contract


# ---- the monthly close ----------------------------------------------------------------------------------------


def _utc_bounds(practice: Practice, start: date, end: date) -> tuple[datetime, datetime]:
    zone = ZoneInfo(practice.timezone)
    first = datetime.combine(start, time(0), tzinfo=zone).astimezone(UTC)
    after = datetime.combine(end + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return first, after


def _not_invoiced(kind: str, column: Any) -> Any:
    return ~select(InvoiceSource.id).where(InvoiceSource.kind == kind, InvoiceSource.source_id == column).exists()


def _local(practice: Practice, moment: datetime) -> date:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(practice.timezone)).date()


def unbilled_sources(practice: Practice, contract: ClientContract, end: date) -> dict[str, list[Source]]:
    """Everything not yet on an invoice, from the contract's start to ``end`` (earlier months' late postings
    included): insurance payments, patient payments and refunds, claims first submitted, appeals sent."""
    since, until = _utc_bounds(practice, contract.effective_from, end)
    insurance = db.session.execute(
        select(ClaimPayment.id, ClaimPayment.paid, Remittance.posted_at)
        .join(Remittance, Remittance.id == ClaimPayment.remittance_id)
        .join(Claim, Claim.id == ClaimPayment.claim_id)
        .where(Claim.practice_id == practice.id, Remittance.posted_at >= since, Remittance.posted_at < until,
               _not_invoiced("claim_payment", ClaimPayment.id))
        .order_by(ClaimPayment.id)
    ).all()  # fmt: skip
    patient = db.session.execute(
        select(LedgerEntry.id, LedgerEntry.amount, LedgerEntry.at)
        .where(LedgerEntry.practice_id == practice.id, LedgerEntry.kind.in_(PATIENT_COLLECTION_KINDS),
               LedgerEntry.at >= since, LedgerEntry.at < until, _not_invoiced("patient_ledger", LedgerEntry.id))
        .order_by(LedgerEntry.id)
    ).all()  # fmt: skip
    claims = db.session.execute(
        select(Claim.id, Claim.submitted_at)
        .where(Claim.practice_id == practice.id, Claim.frequency_code == "1", Claim.submitted_at.is_not(None),
               Claim.submitted_at >= since, Claim.submitted_at < until, _not_invoiced("claim", Claim.id))
        .order_by(Claim.id)
    ).all()  # fmt: skip
    appeals = db.session.execute(
        select(Appeal.id, Appeal.sent_on)
        .where(Appeal.practice_id == practice.id, Appeal.status.in_(APPEALS_SENT), Appeal.sent_on.is_not(None),
               Appeal.sent_on >= contract.effective_from, Appeal.sent_on <= end, _not_invoiced("appeal", Appeal.id))
        .order_by(Appeal.id)
    ).all()  # fmt: skip
    return {
        "insurance": [Source("claim_payment", i, money(paid), _local(practice, at)) for i, paid, at in insurance],
        # the ledger's sign is the patient's balance: a payment (negative) is a positive collection
        "patient": [Source("patient_ledger", i, money(-amount), _local(practice, at)) for i, amount, at in patient],
        "claims": [Source("claim", i, Decimal(1), _local(practice, at)) for i, at in claims],
        "appeals": [Source("appeal", i, Decimal(1), on) for i, on in appeals],
    }


def _number(organization_id: int, kind: InvoiceKind) -> str:
    prefix = "INV" if kind is InvoiceKind.INVOICE else "CN"
    count = db.session.scalar(
        select(func.count()).select_from(Invoice).where(Invoice.organization_id == organization_id,
                                                        Invoice.kind == kind)
    )  # fmt: skip
    return f"{prefix}-{count + 1:06d}"


def period_invoice(practice_id: int, start: date) -> Invoice | None:
    return db.session.scalar(
        select(Invoice).where(Invoice.practice_id == practice_id, Invoice.kind == InvoiceKind.INVOICE,
                              Invoice.period_start == start, Invoice.status != InvoiceStatus.VOID)
    )  # fmt: skip


@service
def close_month(*, practice: Practice, year: int, month: int, now: datetime, user: Any = None) -> Invoice:
    """The practice's invoice for the month: a draft computed from what is not yet billed. Idempotent: when the
    month already has an invoice (not void), it is returned unchanged."""
    start, end = month_bounds(year, month)
    existing = period_invoice(practice.id, start)
    if existing is not None:
        return existing
    if end >= _local(practice, now):
        raise ValidationFailed(f"month: {year:04d}-{month:02d} has not ended yet in {practice.timezone}")
    contract = contract_in_force(practice.id, end) or contract_in_force(practice.id, start)
    if contract is None:
        raise ValidationFailed(f"practice {practice.slug}: no client contract in force in {year:04d}-{month:02d}")
    sources = unbilled_sources(practice, contract, end)
    basis = contract.terms.basis
    counted = {
        "insurance": basis in (FeeBasis.INSURANCE, FeeBasis.BOTH),
        "patient": basis in (FeeBasis.PATIENT, FeeBasis.BOTH),
    }
    setup_billed = db.session.scalar(
        select(InvoiceSource.id).where(InvoiceSource.kind == "contract", InvoiceSource.source_id == contract.id)
    )
    activity = Activity(
        insurance=sum((s.amount for s in sources["insurance"]), ZERO) if counted["insurance"] else ZERO,
        patient=sum((s.amount for s in sources["patient"]), ZERO) if counted["patient"] else ZERO,
        claims=len(sources["claims"]) if contract.per_claim else 0,
        appeals=len(sources["appeals"]) if contract.per_appeal else 0,
        first_invoice=setup_billed is None,
    )
    invoice = Invoice(
        organization_id=practice.organization_id, practice_id=practice.id, contract_id=contract.id,
        kind=InvoiceKind.INVOICE, number=_number(practice.organization_id, InvoiceKind.INVOICE),
        period_start=start, period_end=end, status=InvoiceStatus.DRAFT, created_at=now,
        created_by_id=getattr(user, "id", None),
    )  # fmt: skip
    for fee in fee_lines(contract.terms, activity):
        line = InvoiceLine(kind=fee.kind, description=fee.description, quantity=fee.quantity, rate=fee.rate,
                           amount=fee.amount)  # fmt: skip
        behind: list[Source] = []
        if fee.kind is LineKind.PERCENTAGE:
            behind = [s for name in ("insurance", "patient") if counted[name] for s in sources[name]]
        elif fee.kind is LineKind.PER_CLAIM:
            behind = sources["claims"]
        elif fee.kind is LineKind.PER_APPEAL:
            behind = sources["appeals"]
        elif fee.kind is LineKind.SETUP:
            behind = [Source("contract", contract.id, fee.amount, contract.effective_from)]
        line.sources = [InvoiceSource(kind=s.kind, source_id=s.source_id, amount=s.amount, on=s.on) for s in behind]
        invoice.lines.append(line)
    invoice.total = money(sum((line.amount for line in invoice.lines), ZERO))
    db.session.add(invoice)
    db.session.flush()
    audit_event(action="invoice_closed", user=user, now=now, organization_id=practice.organization_id,
                target_type="invoice", target_id=invoice.id, practice_id=practice.id,
                data={"number": invoice.number, "total": str(invoice.total),
                      "period": start.isoformat()[:7]})  # fmt: skip
    return invoice


def _require_supervisor(user: Any, what: str) -> None:
    if user is None or getattr(user, "role", None) not in (Role.SUPERVISOR, Role.ADMIN):
        raise NotAllowed(f"{what}: only a supervisor or an admin may")


@service
def move_invoice(*, invoice: Invoice, target: str, user: Any, now: datetime, paid_on: date | None = None) -> Invoice:
    """approve (a supervisor reviews the draft), sent, paid (with the day), or void (a draft only: an approved
    invoice is corrected by a credit note). A voided draft releases what it billed for the next close."""
    try:
        wanted = InvoiceStatus(target)
    except ValueError:
        raise ValidationFailed(f"status: unknown status {target!r}") from None
    current = InvoiceStatus(invoice.status)
    if not can_move(current, wanted):
        hint = "; correct it with a credit note" if current is not InvoiceStatus.DRAFT else ""
        raise ValidationFailed(f"status: invoice {invoice.number} is {current}, it cannot become {wanted}{hint}")
    _require_supervisor(user, f"{wanted} invoice {invoice.number}")
    if wanted is InvoiceStatus.APPROVED:
        invoice.approved_at, invoice.approved_by_id = now, user.id
    elif wanted is InvoiceStatus.SENT:
        invoice.sent_at = now
    elif wanted is InvoiceStatus.PAID:
        if paid_on is None:
            raise ValidationFailed("paid_on: the day the practice paid")
        invoice.paid_on = paid_on
    else:
        invoice.voided_at = now
        for line in invoice.lines:
            line.sources.clear()
    invoice.status = wanted
    audit_event(action=f"invoice_{wanted}", user=user, now=now, organization_id=invoice.organization_id,
                target_type="invoice", target_id=invoice.id, practice_id=invoice.practice_id,
                data={"number": invoice.number, "from": str(current)})  # fmt: skip
    return invoice


def credited(invoice: Invoice) -> Decimal:
    """What credit notes (not void) have already given back on ``invoice`` (a positive amount)."""
    total = db.session.scalar(
        select(func.coalesce(func.sum(Invoice.total), 0)).where(
            and_(Invoice.credits_invoice_id == invoice.id, Invoice.status != InvoiceStatus.VOID)
        )
    )
    return money(-Decimal(total))


@service
def credit_note(*, invoice: Invoice, amount: Decimal, reason: str, user: Any, now: datetime) -> Invoice:
    """A credit note against an approved, sent or paid invoice, up to what is left of it; a draft to approve."""
    _require_supervisor(user, f"credit invoice {invoice.number}")
    if invoice.kind != InvoiceKind.INVOICE or invoice.status in (InvoiceStatus.DRAFT, InvoiceStatus.VOID):
        raise ValidationFailed(f"invoice: {invoice.number} is {invoice.status}; only an issued invoice is credited")
    amount = money(amount)
    left = money(invoice.total - credited(invoice))
    if amount <= 0 or amount > left:
        raise ValidationFailed(f"amount: more than 0.00 and at most {left} (what is left of {invoice.number})")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("reason: say why the invoice is credited")
    note = Invoice(
        organization_id=invoice.organization_id, practice_id=invoice.practice_id, contract_id=invoice.contract_id,
        kind=InvoiceKind.CREDIT_NOTE, number=_number(invoice.organization_id, InvoiceKind.CREDIT_NOTE),
        period_start=invoice.period_start, period_end=invoice.period_end, status=InvoiceStatus.DRAFT,
        total=-amount, credits_invoice_id=invoice.id, reason=reason[:500], created_at=now, created_by_id=user.id,
        lines=[InvoiceLine(kind=LineKind.CREDIT, description=f"Credit on {invoice.number}: {reason}"[:200],
                           quantity=Decimal(1), rate=-amount, amount=-amount)],
    )  # fmt: skip
    db.session.add(note)
    db.session.flush()
    audit_event(action="credit_note_created", user=user, now=now, organization_id=invoice.organization_id,
                target_type="invoice", target_id=note.id, practice_id=invoice.practice_id,
                data={"number": note.number, "credits": invoice.number, "amount": str(amount)})  # fmt: skip
    return note
