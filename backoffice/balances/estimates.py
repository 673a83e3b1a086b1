"""Good Faith Estimate use cases (billing-rules.md §10.1, 45 CFR 149.610): draft an estimate for a self-pay
patient with its due date and ``issue_gfe`` item, supersede earlier ones, issue it. Each owns its transaction."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select, update

from backoffice.accounts.models import User
from backoffice.audit.services import audit_event
from backoffice.balances import queries, rules
from backoffice.balances.models import GoodFaithEstimate
from backoffice.balances.services import _close_of_business, _local_today, _refuse, _require_scope
from backoffice.deadlines.gfe import gfe_due
from backoffice.errors import InvalidTransition, ValidationFailed
from backoffice.extensions import db
from backoffice.orgs.models import Practice, Provider
from backoffice.patients.models import Patient
from backoffice.services_base import service
from backoffice.work.chains import add_item
from backoffice.work.models import WorkItem
from backoffice.work.rules import CompletionOutcome, ExceptionKind, ItemState
from backoffice.work.services import complete_item


@dataclass(frozen=True)
class ExpectedService:
    cpt: str
    sessions: int


def _gfe_due_on(scheduled_on: date | None, requested_on: date | None, first_service_on: date | None) -> date:
    if scheduled_on is None and requested_on is None:
        raise ValidationFailed("scheduled_on: give the day the service was scheduled, or requested_on")
    if scheduled_on is not None and first_service_on is None:
        raise ValidationFailed("first_service_on: required when a service is scheduled")
    if scheduled_on is not None:
        deadline = gfe_due(scheduled_on=scheduled_on, service_date=first_service_on, requested_on=requested_on)
    else:
        deadline = gfe_due(scheduled_on=requested_on, service_date=None, requested_on=requested_on)
    if deadline is not None:
        return deadline.due
    # Booked fewer than 3 business days ahead: no GFE is owed by rule; one given anyway is due by the service.
    assert first_service_on is not None
    return first_service_on


@service
def create_gfe(
    *,
    patient: Patient,
    provider: Provider,
    services: Sequence[ExpectedService],
    diagnosis_codes: Sequence[str],
    covers_from: date,
    covers_to: date,
    actor: User,
    now: datetime,
    scheduled_on: date | None = None,
    requested_on: date | None = None,
    first_service_on: date | None = None,
    declines_insurance: bool = False,
) -> GoodFaithEstimate:
    """A draft GFE for a self-pay patient (or an insured one who chose not to bill insurance): expected
    services priced from the fee schedule or the patient's sliding-scale tier, due as 45 CFR 149.610 says
    (``deadlines.gfe``), with an ``issue_gfe`` work item due then. Earlier estimates are superseded."""
    _require_scope(actor, patient.practice_id, f"patient {patient.id}")
    if provider.practice_id != patient.practice_id:
        raise ValidationFailed("provider_id: not a clinician of the patient's practice")
    practice = db.session.get(Practice, patient.practice_id)
    if not declines_insurance and not queries.is_self_pay(patient.id, covers_from):
        raise ValidationFailed("patient: has insurance in force; a GFE is for self-pay patients or those who "
                               "choose not to bill insurance (tick declines_insurance)")  # fmt: skip
    problem = rules.gfe_period_problem(covers_from, covers_to)
    if problem:
        raise ValidationFailed(problem)
    codes = [c.strip().upper() for c in diagnosis_codes if c and c.strip()]
    if not codes:
        raise ValidationFailed("diagnosis_codes: at least one")
    bad = [c for c in codes if not _looks_like_icd10(c)]
    if bad:
        raise ValidationFailed(f"diagnosis_codes: {', '.join(bad)} is not an ICD-10-CM code")
    today = _local_today(practice, now)
    priced: list[rules.ServiceLine] = []
    for n, wanted in enumerate(services, start=1):
        if wanted.cpt not in (practice.fee_schedule or {}):
            raise ValidationFailed(f"service {n} cpt: {wanted.cpt} has no fee in the practice's fee schedule")
        fee = queries.session_fee(patient, practice, wanted.cpt, today)
        priced.append(rules.ServiceLine(wanted.cpt, int(wanted.sessions), fee.price))
    try:
        lines, total = rules.gfe_lines(priced)
    except ValueError as error:
        raise _refuse(error) from None
    due_on = _gfe_due_on(scheduled_on, requested_on, first_service_on)
    previous = [g for g in queries.estimates(patient.id) if g.state != "superseded"]
    for old in previous:
        old.state = "superseded"
    gfe = GoodFaithEstimate(
        practice_id=patient.practice_id, patient_id=patient.id, provider_id=provider.id, scheduled_on=scheduled_on,
        requested_on=requested_on, first_service_on=first_service_on, covers_from=covers_from, covers_to=covers_to,
        lines=lines, diagnosis_codes=codes, total=total, due_on=due_on, issued_on=None, state="draft",
        created_by_id=actor.id, created_at=now,
    )  # fmt: skip
    db.session.add(gfe)
    db.session.flush()
    add_item(practice_id=patient.practice_id, kind=ExceptionKind.ISSUE_GFE, now=now, patient_id=patient.id,
             reason=f"issue Good Faith Estimate #{gfe.id} by {due_on.isoformat()}", dedupe_key=f"gfe:{gfe.id}:issue",
             due_at=_close_of_business(practice, due_on),
             evidence={"gfe_id": gfe.id, "due_on": due_on.isoformat()})  # fmt: skip
    audit_event(action="gfe_created", user=actor, now=now, target_type="gfe", target_id=gfe.id,
                practice_id=patient.practice_id, patient_id=patient.id,
                data={"superseded": [g.id for g in previous]})  # fmt: skip
    stale = _open_gfe_items([g.id for g in previous])
    if not stale:
        db.session.commit()
    for item in stale:  # the first completion commits everything above with it
        complete_item(item=item, actor=None, now=now, outcome=CompletionOutcome.NOT_NEEDED,
                      note=f"Superseded by Good Faith Estimate #{gfe.id}", actor_label="balances")  # fmt: skip
    return gfe


def _looks_like_icd10(code: str) -> bool:
    return re.fullmatch(r"[A-TV-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?", code) is not None


def _open_gfe_items(gfe_ids: Sequence[int]) -> list[WorkItem]:
    if not gfe_ids:
        return []
    keys = [f"gfe:{gid}:issue" for gid in gfe_ids]
    stmt = select(WorkItem).where(WorkItem.dedupe_key.in_(keys),
                                  WorkItem.state.in_([ItemState.READY, ItemState.IN_PROGRESS]))  # fmt: skip
    return list(db.session.scalars(stmt))


@service
def issue_gfe(*, gfe: GoodFaithEstimate, actor: User, now: datetime) -> GoodFaithEstimate:
    """Issue a draft GFE: stamp ``issued_on`` (the practice's today), complete its ``issue_gfe`` item. The PDF
    is rendered from the stored estimate, so every copy is the one issued."""
    _require_scope(actor, gfe.practice_id, f"GFE {gfe.id}")
    practice = db.session.get(Practice, gfe.practice_id)
    today = _local_today(practice, now)
    result = db.session.execute(
        update(GoodFaithEstimate)
        .where(GoodFaithEstimate.id == gfe.id, GoodFaithEstimate.state == "draft")
        .values(state="issued", issued_on=today)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.rollback()
        raise InvalidTransition(f"GFE {gfe.id} is {gfe.state}, not a draft")
    db.session.refresh(gfe)
    audit_event(
        action="pdf",
        user=actor,
        now=now,
        target_type="gfe",
        target_id=gfe.id,
        practice_id=gfe.practice_id,
        patient_id=gfe.patient_id,
        data={"document": "gfe", "issued": True},
    )
    items = _open_gfe_items([gfe.id])
    if not items:
        db.session.commit()
    for item in items:
        complete_item(item=item, actor=actor, now=now, outcome=CompletionOutcome.RESOLVED,
                      note=f"Good Faith Estimate #{gfe.id} issued")  # fmt: skip
    return gfe
