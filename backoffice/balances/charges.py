"""Charge entry for a self-pay session: no claim, the patient is billed the session fee (the fee schedule, or the
sliding-scale tier's price when a determination was in force on the date of service)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from backoffice.accounts.models import User
from backoffice.audit.services import audit_event
from backoffice.balances import queries
from backoffice.balances.services import _require_scope
from backoffice.errors import InvalidTransition, ValidationFailed
from backoffice.extensions import db
from backoffice.orgs.models import Practice
from backoffice.patients.models import LedgerEntry, Patient
from backoffice.scrubber.queries import scrub_stored_session
from backoffice.services_base import service
from backoffice.sessions.models import Session
from backoffice.work.models import WorkItem
from backoffice.work.rules import CompletionOutcome, ItemState, WorkKind
from backoffice.work.services import complete_item


@dataclass(frozen=True)
class ChargeLine:
    cpt: str
    units: int
    unit_price: Decimal
    basis: str

    @property
    def amount(self) -> Decimal:
        return self.unit_price * self.units


def self_pay_item(item: WorkItem) -> bool:
    """An open charge-entry item whose session is self-pay on its date of service."""
    if item.kind != WorkKind.ENTER_CHARGE or item.session_id is None:
        return False
    if item.state not in (ItemState.READY, ItemState.IN_PROGRESS):
        return False
    session = db.session.get(Session, item.session_id)
    return queries.is_self_pay(session.patient_id, session.date_of_service)


def preview(session: Session) -> list[ChargeLine]:
    """The lines the patient would be charged: coded by the coding engine, priced at the session fee."""
    scrubbed = scrub_stored_session(session, today=session.date_of_service)
    if scrubbed is None:
        raise ValidationFailed(f"session {session.external_ref}: no coverage record (add the self-pay coverage first)")
    result, _coverage = scrubbed
    if not result.lines:
        raise ValidationFailed(f"session {session.external_ref}: coding found nothing billable")
    practice = db.session.get(Practice, session.practice_id)
    patient = db.session.get(Patient, session.patient_id)
    lines = []
    for draft in result.lines:
        try:
            fee = queries.session_fee(patient, practice, draft.cpt, session.date_of_service)
        except KeyError:
            raise ValidationFailed(f"fee_schedule: no fee for {draft.cpt}") from None
        lines.append(ChargeLine(draft.cpt, draft.units, fee.price, fee.basis))
    return lines


@service
def charge_self_pay_session(*, item: WorkItem, actor: User, now: datetime) -> list[LedgerEntry]:
    """Post the session's ``self_pay_charge`` ledger entries and complete its charge-entry item, in one
    transaction. Once per session: the item's guarded completion refuses a second run (and rolls it back)."""
    _require_scope(actor, item.practice_id, f"work item {item.id}")
    if not self_pay_item(item):
        raise InvalidTransition(f"work item {item.id} is not an open charge entry for a self-pay session")
    session = db.session.get(Session, item.session_id)
    entries = [
        LedgerEntry(practice_id=session.practice_id, patient_id=session.patient_id, kind="self_pay_charge",
                    amount=line.amount, at=now,
                    reason=f"Session {session.date_of_service:%m/%d/%Y} {line.cpt}"
                           f"{f' x{line.units}' if line.units > 1 else ''} ({line.basis})"[:200])
        for line in preview(session)
    ]  # fmt: skip
    db.session.add_all(entries)
    total = sum((e.amount for e in entries), Decimal("0.00"))
    audit_event(action="self_pay_charge", user=actor, now=now, target_type="session", target_id=session.id,
                practice_id=session.practice_id, patient_id=session.patient_id, data={"total": str(total)})  # fmt: skip
    complete_item(item=item, actor=actor, now=now, outcome=CompletionOutcome.RESOLVED,
                  note=f"Self-pay: patient charged {total} ({len(entries)} line(s))",
                  result={"self_pay_charge": str(total)})  # fmt: skip
    return entries
