"""Write-offs under dual control: a biller asks, a supervisor other than the requester decides, and approval
posts the write-off to the claim (insurance balance) or the patient ledger (patient balance)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update

from backoffice.accounts.access import can_supervise
from backoffice.accounts.models import User
from backoffice.appeals.services import withdraw_drafts
from backoffice.audit.services import audit_event
from backoffice.claims.models import Claim, ClaimLine
from backoffice.claims.rules import ClaimStatus, can_move
from backoffice.errors import Conflict, NotAllowed, ValidationFailed
from backoffice.extensions import db
from backoffice.patients.models import LedgerEntry
from backoffice.services_base import service
from backoffice.supervisor import rules
from backoffice.supervisor.models import WriteOffRequest
from backoffice.supervisor.rules import Balance
from backoffice.work import closing
from backoffice.work.chains import add_item
from backoffice.work.log import record_interaction
from backoffice.work.models import WorkItem
from backoffice.work.rules import ExceptionKind, InteractionKind, ItemState, WorkKind
from backoffice.work.services import register_completion_guard

ZERO = Decimal("0.00")


def _decided_first(item: WorkItem, outcome: str) -> str | None:
    """An approval item is finished by deciding its request on the Write-offs page, never by a bare Complete."""
    pending = db.session.scalar(
        select(WriteOffRequest.id).where(WriteOffRequest.work_item_id == item.id, WriteOffRequest.state == "pending")
    )
    if pending is not None:
        return "approve or reject the write-off request on the Write-offs page; that completes this item"
    return None


register_completion_guard(ExceptionKind.APPROVE_WRITE_OFF, _decided_first)
# A claim still with the payer (sent, not yet answered) has nothing to write off yet; a closed one has nothing open.
NOT_WRITABLE = frozenset({ClaimStatus.SUBMITTED, ClaimStatus.ACCEPTED, ClaimStatus.CLOSED})
INSURANCE_OPEN = Claim.total_charge - Claim.paid_amount - Claim.adjustment_amount - Claim.patient_responsibility


def insurance_balance(claim: Claim) -> Decimal:
    """What is still open with the payer on the claim (charge − paid − adjustments − patient responsibility)."""
    return claim.total_charge - claim.paid_amount - claim.adjustment_amount - claim.patient_responsibility


def patient_balance(claim: Claim) -> Decimal:
    """What the patient still owes for the claim: its ledger entries, never more than the patient's whole balance
    (a payment posted without a claim still counts)."""
    on_claim = db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
        LedgerEntry.claim_id == claim.id))  # fmt: skip
    overall = db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
        LedgerEntry.patient_id == claim.patient_id))  # fmt: skip
    return max(min(Decimal(on_claim), Decimal(overall)), ZERO)


def open_balance(claim: Claim, balance: str) -> Decimal:
    return insurance_balance(claim) if balance == Balance.INSURANCE else patient_balance(claim)


def balance_of(request: WriteOffRequest) -> Balance:
    """A request with a patient is against the patient balance; one with only a claim, the insurance balance."""
    return Balance.PATIENT if request.patient_id is not None else Balance.INSURANCE


@service
def request_write_off(
    *, item: WorkItem, actor: User, now: datetime, balance: str, amount: Decimal, reason: str, note: str | None
) -> WriteOffRequest:
    """Ask for a write-off of part of a claim's open balance: a pending request plus an approval item in the
    write-offs queue. Nothing is written off until a different supervisor approves it."""
    if item.practice.organization_id != actor.organization_id:
        raise NotAllowed(f"work item {item.id} is not in your organization")
    claim = db.session.get(Claim, item.claim_id) if item.claim_id else None
    if claim is None:
        raise ValidationFailed("claim: this item is not about a claim")
    if claim.status in NOT_WRITABLE:
        raise ValidationFailed(f"claim: a {claim.status.value} claim cannot be written off")
    note = (note or "").strip() or None
    if note and len(note) > 2000:
        raise ValidationFailed("note: at most 2000 characters")
    problem = rules.write_off_problem(
        reason=reason, balance=balance, amount=amount, open_balance=open_balance(claim, balance), note=note
    )
    if problem:
        raise ValidationFailed(problem)
    patient_id = claim.patient_id if balance == Balance.PATIENT else None
    waiting = db.session.scalar(
        select(WriteOffRequest.id).where(
            WriteOffRequest.claim_id == claim.id,
            WriteOffRequest.state == "pending",
            WriteOffRequest.patient_id.is_(None) if patient_id is None else WriteOffRequest.patient_id == patient_id,
        )
    )
    if waiting is not None:
        raise ValidationFailed(f"balance: write-off request #{waiting} for this balance is still waiting for approval")
    request = WriteOffRequest(
        organization_id=actor.organization_id, practice_id=claim.practice_id, claim_id=claim.id, patient_id=patient_id,
        amount=amount, reason=reason, note=note, state="pending", requested_by_id=actor.id, requested_at=now,
    )  # fmt: skip
    db.session.add(request)
    db.session.flush()
    label = rules.WRITE_OFF_LABELS[reason]
    approval, _ = add_item(
        practice_id=claim.practice_id, kind=ExceptionKind.APPROVE_WRITE_OFF, now=now, claim_id=claim.id,
        dedupe_key=f"write_off:{request.id}", source=actor.name,
        reason=f"request #{request.id}: ${amount:,.2f} of the {balance} balance ({label})",
    )  # fmt: skip
    approval.amount, approval.payer_id = amount, claim.payer_id
    request.work_item_id = approval.id
    record_interaction(
        practice_id=item.practice_id, actor=actor, kind=InteractionKind.NOTE, now=now, item=item,
        body=f"Asked for a write-off of ${amount:,.2f} of the {balance} balance ({label})" + (f": {note}" * bool(note)),
        data={"write_off_request": request.id, "approval_item": approval.id},
    )  # fmt: skip
    db.session.commit()
    return request


def _post_insurance(claim: Claim, amount: Decimal) -> None:
    """Claim adjustment += amount (refused if the open balance no longer covers it), spread over its lines."""
    result = db.session.execute(
        update(Claim)
        .where(Claim.id == claim.id, amount <= INSURANCE_OPEN)
        .values(adjustment_amount=Claim.adjustment_amount + amount)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise ValidationFailed(
            f"amount: more than the claim's open insurance balance now (${insurance_balance(claim):,.2f}); reject it"
        )
    lines = [(line.id, line.charge - line.paid_amount - line.adjustment_amount - line.patient_responsibility)
             for line in claim.lines]  # fmt: skip
    for line_id, part in rules.allocate(amount, lines):
        db.session.execute(
            update(ClaimLine)
            .where(ClaimLine.id == line_id)
            .values(adjustment_amount=ClaimLine.adjustment_amount + part)
            .execution_options(synchronize_session=False)
        )
    for line in claim.lines:
        db.session.expire(line)
    db.session.refresh(claim)


def _post_patient(claim: Claim, request: WriteOffRequest, now: datetime) -> None:
    open_amount = patient_balance(claim)
    if request.amount > open_amount:
        raise ValidationFailed(f"amount: more than the patient's open balance now (${open_amount:,.2f}); reject it")
    db.session.add(
        LedgerEntry(
            practice_id=claim.practice_id, patient_id=claim.patient_id, claim_id=claim.id, kind="write_off",
            amount=-request.amount, reason=f"write-off #{request.id}: {rules.WRITE_OFF_LABELS[request.reason]}"[:200],
            at=now,
        )
    )  # fmt: skip
    db.session.flush()


def _close_if_settled(claim: Claim, actor: User, now: datetime) -> bool:
    """Close the claim when neither the payer nor the patient owes anything and the lifecycle allows it."""
    if insurance_balance(claim) != 0 or patient_balance(claim) != 0 or not can_move(claim.status, ClaimStatus.CLOSED):
        return False
    before = claim.status
    result = db.session.execute(
        update(Claim)
        .where(Claim.id == claim.id, Claim.status == before)
        .values(status=ClaimStatus.CLOSED)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict(f"claim {claim.account_number} was changed by someone else; reload it")
    db.session.refresh(claim)
    record_interaction(
        practice_id=claim.practice_id, actor=actor, kind=InteractionKind.STATUS_CHANGE, now=now, claim_id=claim.id,
        session_id=claim.session_id, from_state=before.value, to_state=ClaimStatus.CLOSED.value,
        body="Claim closed: nothing left open after the write-off",
    )  # fmt: skip
    return True


def _finish_approval_item(request: WriteOffRequest, actor: User, now: datetime, outcome: str) -> None:
    if request.work_item_id is None:
        return
    item = db.session.get(WorkItem, request.work_item_id)
    open_states = [ItemState.READY, ItemState.IN_PROGRESS, ItemState.SNOOZED]
    if item is None or item.state not in open_states:
        return  # someone already closed the approval item by hand; the request decides anyway
    before = item.state
    result = db.session.execute(
        update(WorkItem)
        .where(WorkItem.id == item.id, WorkItem.state.in_([s.value for s in open_states]))
        .values(
            state=ItemState.DONE, completed_at=now, updated_at=now, assignee_id=item.assignee_id or actor.id,
            result={**(item.result or {}), "outcome": "resolved", "write_off": outcome},
        )
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    if result.rowcount != 1:
        raise Conflict(f"work item {item.id} was changed by someone else; reload it")
    db.session.refresh(item)
    record_interaction(
        practice_id=item.practice_id, actor=actor, kind=InteractionKind.STATUS_CHANGE, now=now, item=item,
        from_state=before.value, to_state=ItemState.DONE.value, outcome="resolved",
        body=f"Write-off request #{request.id} {outcome}" + (f": {note}" if (note := request.decision_note) else ""),
        data={"write_off_request": request.id, "decision": outcome, "amount": str(request.amount)},
    )  # fmt: skip


DENIAL_WORK = (ExceptionKind.WORK_DENIAL, WorkKind.APPEAL)


def _close_denial_work(claim: Claim, request: WriteOffRequest, actor: User, now: datetime) -> None:
    """An approved write-off of the insurance balance ends the fight with the payer: the claim's denial and appeal
    items close and its draft appeals are withdrawn, each logged with the write-off as the reason."""
    reason = f"Write-off request #{request.id} approved: {rules.WRITE_OFF_LABELS[request.reason]}"
    closing.close_claim_items(claim.id, DENIAL_WORK, now=now, actor=actor, reason=reason, cause="write-off",
                              data={"write_off_request": request.id})  # fmt: skip
    withdraw_drafts(claim.id, now=now, actor=actor, reason=reason)


@service
def decide_write_off(
    *, request: WriteOffRequest, actor: User, now: datetime, approve: bool, note: str | None
) -> WriteOffRequest:
    """Approve (and post) or reject a pending request. Dual control: only a supervisor, never the requester;
    two supervisors deciding at once: the guarded UPDATE on state='pending' lets exactly one win."""
    if request.organization_id != actor.organization_id:
        raise NotAllowed(f"write-off request {request.id} is not in your organization")
    if not can_supervise(actor):
        raise NotAllowed("only a supervisor can decide a write-off")
    if actor.id == request.requested_by_id:
        raise NotAllowed("dual control: a write-off must be decided by someone other than who asked for it")
    note = (note or "").strip() or None
    if not approve and not note:
        raise ValidationFailed("note: say why the write-off is rejected")
    if note and len(note) > 2000:
        raise ValidationFailed("note: at most 2000 characters")
    outcome = "approved" if approve else "rejected"
    result = db.session.execute(
        update(WriteOffRequest)
        .where(WriteOffRequest.id == request.id, WriteOffRequest.state == "pending")
        .values(state=outcome, decided_by_id=actor.id, decided_at=now, decision_note=note)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict(f"write-off request #{request.id} was already decided")
    db.session.refresh(request)
    claim = db.session.get(Claim, request.claim_id) if request.claim_id else None
    closed = False
    if approve and claim is not None:
        if balance_of(request) == Balance.INSURANCE:
            _post_insurance(claim, request.amount)
        else:
            _post_patient(claim, request, now)
        closed = _close_if_settled(claim, actor, now)
        if closed or balance_of(request) == Balance.INSURANCE:
            _close_denial_work(claim, request, actor, now)
    _finish_approval_item(request, actor, now, outcome)
    if claim is not None and request.work_item_id is None:
        record_interaction(
            practice_id=claim.practice_id, actor=actor, kind=InteractionKind.NOTE, now=now, claim_id=claim.id,
            body=f"Write-off request #{request.id} {outcome}",
        )  # fmt: skip
    data: dict[str, Any] = {
        "request": request.id, "decision": outcome, "amount": str(request.amount), "balance": balance_of(request).value,
        "reason": request.reason, "claim_closed": closed,
    }  # fmt: skip
    audit_event(
        action="supervisor:write_off",
        user=actor,
        now=now,
        target_type="write_off_request",
        target_id=request.id,
        practice_id=request.practice_id,
        data=data,
    )
    db.session.commit()
    return request
