"""Credit balances given back, under the write-offs' dual control (supervisor/write_offs.py): someone asks, a
supervisor other than the requester decides (a check constraint holds it too), and the approved refund is posted
when the money leaves: a patient refund is a ``refund`` ledger entry (the credit shrinks), a payer refund takes
the overpayment off the claim's paid amount. Every step is logged and audited in its own transaction."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select, update

from backoffice.accounts.access import can_supervise
from backoffice.accounts.models import User
from backoffice.audit.services import audit_event
from backoffice.claims.models import Claim
from backoffice.errors import Conflict, NotAllowed, ValidationFailed
from backoffice.extensions import db
from backoffice.money import rules
from backoffice.money.models import PatientPayment, RefundRequest
from backoffice.money.services import money, patient_credit, require_scope
from backoffice.patients.models import LedgerEntry, Patient
from backoffice.services_base import service
from backoffice.work import closing
from backoffice.work.chains import add_item
from backoffice.work.log import record_interaction
from backoffice.work.models import WorkItem
from backoffice.work.rules import ExceptionKind, InteractionKind
from backoffice.work.services import register_completion_guard

CLAIM_BALANCE = Claim.total_charge - Claim.paid_amount - Claim.adjustment_amount - Claim.patient_responsibility


def payer_credit(claim: Claim) -> Decimal:
    """What the payer paid beyond the claim's charge less adjustments and patient responsibility."""
    balance = claim.total_charge - claim.paid_amount - claim.adjustment_amount - claim.patient_responsibility
    return max(-balance, rules.ZERO).quantize(rules.CENT)


def _pending(patient_id: int | None, claim_id: int | None) -> int | None:
    return db.session.scalar(select(RefundRequest.id).where(
        RefundRequest.state.in_(["pending", "approved"]),
        RefundRequest.patient_id == patient_id if patient_id else RefundRequest.claim_id == claim_id))  # fmt: skip


@service
def request_refund(
    *, actor: User, now: datetime, amount: object, reason: str, patient: Patient | None = None,
    claim: Claim | None = None,
) -> RefundRequest:  # fmt: skip
    """Ask to give back a patient's credit (``patient``) or a payer's overpayment on a claim (``claim``): a pending
    request and an approval item in the write-offs queue. Nothing moves until another supervisor approves."""
    if (patient is None) == (claim is None):
        raise ValidationFailed("subject: a refund is for one patient credit or one claim's payer credit")
    practice_id = patient.practice_id if patient is not None else claim.practice_id  # type: ignore[union-attr]
    require_scope(actor, practice_id, "the credit balance")
    value = money(amount, "amount")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("reason: required")
    if len(reason) > 200:
        raise ValidationFailed("reason: at most 200 characters")
    credit = patient_credit(patient.id) if patient is not None else payer_credit(claim)  # type: ignore[arg-type]
    problem = rules.refund_problem(value, credit)
    if problem:
        raise ValidationFailed(problem)
    waiting = _pending(patient.id if patient else None, claim.id if claim else None)
    if waiting is not None:
        raise ValidationFailed(f"subject: refund request #{waiting} for this credit is not posted yet")
    request = RefundRequest(
        organization_id=actor.organization_id, practice_id=practice_id, patient_id=patient.id if patient else None,
        claim_id=claim.id if claim else None, amount=value, reason=reason, state="pending",
        requested_by_id=actor.id, requested_at=now,
    )  # fmt: skip
    db.session.add(request)
    db.session.flush()
    whose = "patient credit" if patient is not None else f"payer credit on claim {claim.account_number}"  # type: ignore[union-attr]
    item, _ = add_item(
        practice_id=practice_id, kind=ExceptionKind.APPROVE_REFUND, now=now, claim_id=claim.id if claim else None,
        patient_id=patient.id if patient else None, dedupe_key=f"refund:{request.id}", source=actor.name,
        reason=f"refund request #{request.id}: ${value:,.2f} of the {whose}",
    )  # fmt: skip
    item.amount = value
    request.work_item_id = item.id
    audit_event(action="refund_requested", user=actor, now=now, target_type="refund_request", target_id=request.id,
                practice_id=practice_id, patient_id=request.patient_id,
                data={"amount": str(value), "claim_id": request.claim_id})  # fmt: skip
    db.session.commit()
    return request


def _decided_first(item: WorkItem, outcome: str) -> str | None:
    """An approval item is finished by deciding its refund request, never by a bare Complete."""
    pending = db.session.scalar(select(RefundRequest.id).where(RefundRequest.work_item_id == item.id,
                                                               RefundRequest.state == "pending"))  # fmt: skip
    return "approve or reject the refund request on the Credit balances page" if pending is not None else None


register_completion_guard(ExceptionKind.APPROVE_REFUND, _decided_first)


def _approval_item(request: RefundRequest) -> WorkItem | None:
    return db.session.get(WorkItem, request.work_item_id) if request.work_item_id else None


@service
def decide_refund(*, request: RefundRequest, actor: User, now: datetime, approve: bool,
                  note: str | None) -> RefundRequest:  # fmt: skip
    """Approve or reject a pending refund. Dual control as for write-offs: a supervisor, never the requester; two
    deciding at once: the guarded UPDATE on state='pending' lets exactly one win."""
    if request.organization_id != actor.organization_id:
        raise NotAllowed(f"refund request {request.id} is not in your organization")
    if not can_supervise(actor):
        raise NotAllowed("only a supervisor can decide a refund")
    if actor.id == request.requested_by_id:
        raise NotAllowed("dual control: a refund must be decided by someone other than who asked for it")
    note = (note or "").strip() or None
    if not approve and not note:
        raise ValidationFailed("note: say why the refund is rejected")
    outcome = "approved" if approve else "rejected"
    result = db.session.execute(
        update(RefundRequest).where(RefundRequest.id == request.id, RefundRequest.state == "pending")
        .values(state=outcome, decided_by_id=actor.id, decided_at=now, decision_note=note)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    if result.rowcount != 1:
        raise Conflict(f"refund request #{request.id} was already decided")
    db.session.refresh(request)
    item = _approval_item(request)
    if item is not None:
        why = f"Refund request #{request.id} {outcome}" + (f": {note}" if note else "")
        closing.close_item(item, now=now, actor=actor, cause="refund-decided", reason=why,
                           data={"refund_request": request.id})  # fmt: skip
    audit_event(action="refund_decided", user=actor, now=now, target_type="refund_request", target_id=request.id,
                practice_id=request.practice_id, patient_id=request.patient_id,
                data={"decision": outcome, "amount": str(request.amount)})  # fmt: skip
    db.session.commit()
    return request


def _spend_unapplied(patient_id: int, amount: Decimal) -> None:
    """A patient refund uses up unapplied payment credit, oldest payment first."""
    for payment in db.session.scalars(select(PatientPayment).where(PatientPayment.patient_id == patient_id,
                                      PatientPayment.unapplied > 0).order_by(PatientPayment.id)):  # fmt: skip
        take = min(payment.unapplied, amount)
        payment.unapplied -= take
        amount -= take
        if amount <= 0:
            return


@service
def post_refund(*, request: RefundRequest, actor: User, now: datetime, reference: str | None = None) -> RefundRequest:
    """Post an approved refund when the money leaves: it reduces the credit (patient: a ``refund`` ledger entry;
    payer: the claim's paid amount) and is logged. Refused if the credit shrank below it since the request."""
    require_scope(actor, request.practice_id, f"refund request {request.id}")
    reference = (reference or "").strip() or None
    if reference and len(reference) > 80:
        raise ValidationFailed("reference: at most 80 characters")
    result = db.session.execute(
        update(RefundRequest).where(RefundRequest.id == request.id, RefundRequest.state == "approved")
        .values(state="posted", posted_at=now, posted_by_id=actor.id, reference=reference)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    if result.rowcount != 1:
        raise Conflict(f"refund request #{request.id} is {request.state}: only an approved refund is posted")
    db.session.refresh(request)
    if request.patient_id is not None:
        credit = patient_credit(request.patient_id)
        if request.amount > credit:
            raise ValidationFailed(f"amount: more than the patient's ${credit:,.2f} credit now; reject it")
        label = f"refund #{request.id}" + (f" ({reference})" if reference else "")
        db.session.add(LedgerEntry(practice_id=request.practice_id, patient_id=request.patient_id, claim_id=None,
                                   kind="refund", amount=request.amount, at=now, reason=label))  # fmt: skip
        _spend_unapplied(request.patient_id, request.amount)
    else:
        moved = db.session.execute(
            update(Claim).where(Claim.id == request.claim_id, request.amount <= -CLAIM_BALANCE)
            .values(paid_amount=Claim.paid_amount - request.amount).execution_options(synchronize_session=False)
        )  # fmt: skip
        if moved.rowcount != 1:
            raise ValidationFailed("amount: more than the payer's credit on the claim now; reject it")
        claim = db.session.get(Claim, request.claim_id)
        db.session.refresh(claim)
        record_interaction(practice_id=request.practice_id, actor=actor, kind=InteractionKind.NOTE, now=now,
                           claim_id=request.claim_id,
                           body=f"Refund #{request.id} of ${request.amount:,.2f} posted to the payer",
                           data={"refund_request": request.id, "amount": str(request.amount)})  # fmt: skip
    audit_event(action="refund_posted", user=actor, now=now, target_type="refund_request", target_id=request.id,
                practice_id=request.practice_id, patient_id=request.patient_id,
                data={"amount": str(request.amount), "reference": reference})  # fmt: skip
    db.session.commit()
    return request
