"""Changing a patient's coverage (one use case): the new coverage ends the one of the same priority it replaces
(never a silent extra secondary), overlapping dates are refused naming the field, and the open chains of the
sessions it covers are re-planned: a new verify-benefits item, and claims not yet submitted re-priced and re-scrubbed
against the new payer. Logged on each session, audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from backoffice.audit.services import audit_event
from backoffice.claims.models import Claim
from backoffice.claims.rules import ClaimStatus
from backoffice.claims.services import priced_lines
from backoffice.coverage.rules import RELATIONSHIPS, Change, Span, coverage_change, subscriber_problem
from backoffice.errors import ValidationFailed
from backoffice.extensions import db
from backoffice.orgs.models import Payer, Practice
from backoffice.patients.models import Coverage, CoveragePriority, Patient
from backoffice.scrubber.queries import scrub_stored_session
from backoffice.services_base import service
from backoffice.sessions.models import Session
from backoffice.work.chains import add_item
from backoffice.work.log import record_interaction
from backoffice.work.models import WorkItem
from backoffice.work.rules import OPEN_STATES, InteractionKind, Mode, WorkKind

SOURCE = "coverage change"
UNSUBMITTED = (ClaimStatus.DRAFT, ClaimStatus.SCRUBBED)


@dataclass(frozen=True)
class CoverageInput:
    payer_id: int
    member_id: str
    priority: str
    relationship: str = "self"
    effective_from: date | None = None
    effective_to: date | None = None
    group_number: str | None = None
    subscriber_first_name: str | None = None
    subscriber_last_name: str | None = None
    subscriber_date_of_birth: date | None = None
    subscriber_sex: str | None = None


def _check(patient: Patient, data: CoverageInput) -> Payer:
    if data.priority not in {p.value for p in CoveragePriority}:
        raise ValidationFailed("priority: primary, secondary or tertiary")
    if not data.member_id or len(data.member_id) > 40:
        raise ValidationFailed("member_id: required, up to 40 characters")
    if data.effective_from is None:
        raise ValidationFailed("effective_from: required")
    payer = db.session.get(Payer, data.payer_id)
    if payer is None or payer.organization_id != patient_organization(patient):
        raise ValidationFailed("payer_id: unknown payer")
    found = subscriber_problem(data.relationship, data.subscriber_first_name, data.subscriber_last_name,
                               data.subscriber_date_of_birth, data.subscriber_sex)  # fmt: skip
    if found:
        raise ValidationFailed(f"{found[0]}: {found[1]}")
    return payer


def patient_organization(patient: Patient) -> int:
    practice = db.session.get(Practice, patient.practice_id)
    return practice.organization_id if practice is not None else 0


@service
def change_coverage(*, patient: Patient, data: CoverageInput, actor: Any, now: datetime) -> Coverage:
    """Add ``data`` as the patient's coverage of its priority from its effective date, ending the one it replaces;
    re-plan the affected open chains. Overlapping dates of the same priority are refused (``effective_from``)."""
    payer = _check(patient, data)
    same = list(db.session.scalars(
        select(Coverage).where(Coverage.patient_id == patient.id, Coverage.priority == data.priority)
        .order_by(Coverage.effective_from)
    ))  # fmt: skip
    decided = coverage_change([Span(c.id, c.effective_from, c.effective_to) for c in same], data.effective_from,
                              data.effective_to)  # type: ignore[arg-type]  # fmt: skip
    if not isinstance(decided, Change):
        raise ValidationFailed(f"{decided[0]}: {decided[1]}")
    ended = []
    for coverage in same:
        if coverage.id in decided.ends:
            coverage.effective_to = decided.ends[coverage.id]
            ended.append(coverage)
    dependent = data.relationship != "self"
    new = Coverage(
        patient_id=patient.id, payer_id=payer.id, member_id=data.member_id.strip(), group_number=data.group_number,
        priority=data.priority, relationship_to_subscriber=RELATIONSHIPS[data.relationship],
        subscriber_first_name=data.subscriber_first_name if dependent else None,
        subscriber_last_name=data.subscriber_last_name if dependent else None,
        subscriber_date_of_birth=data.subscriber_date_of_birth if dependent else None,
        subscriber_sex=data.subscriber_sex if dependent else None,
        effective_from=data.effective_from, effective_to=data.effective_to,
    )  # fmt: skip
    db.session.add(new)
    db.session.flush()
    audit_event(action="coverage_change", user=actor, now=now, target_type="coverage", target_id=new.id,
                organization_id=payer.organization_id, practice_id=patient.practice_id, patient_id=patient.id,
                data={"ended": {str(c.id): c.effective_to.isoformat() for c in ended if c.effective_to},
                      "payer_id": payer.id, "priority": data.priority})  # fmt: skip
    if data.priority == CoveragePriority.PRIMARY:
        _replan(patient, new, ended, payer, actor, now)
    db.session.commit()
    return new


def _replan(patient: Patient, new: Coverage, ended: list[Coverage], payer: Payer, actor: Any, now: datetime) -> None:
    """Sessions on or after the new coverage's start whose work is still open: a new verify-benefits item, and an
    unsubmitted claim re-priced and re-scrubbed against the new coverage; each logged on the session."""
    sessions = db.session.scalars(
        select(Session).where(Session.patient_id == patient.id, Session.date_of_service >= new.effective_from)
    ).all()
    ends = ", ".join(f"coverage {c.id} ended {c.effective_to:%Y-%m-%d}" for c in ended if c.effective_to)
    for session in sessions:
        if new.effective_to is not None and session.date_of_service > new.effective_to:
            continue
        open_items = db.session.scalars(select(WorkItem).where(
            WorkItem.session_id == session.id, WorkItem.state.in_([s.value for s in OPEN_STATES]))).all()  # fmt: skip
        claim = db.session.scalar(
            select(Claim).where(Claim.session_id == session.id, Claim.payer_sequence == "P",
                                Claim.parent_claim_id.is_(None)).order_by(Claim.id)
        )  # fmt: skip
        if not open_items and (claim is None or claim.status not in UNSUBMITTED):
            continue
        for item in open_items:
            item.payer_id = payer.id
        if not any(i.kind == WorkKind.VERIFY_BENEFITS for i in open_items):  # an open one checks the new coverage
            add_item(practice_id=session.practice_id, kind=WorkKind.VERIFY_BENEFITS, now=now, session_id=session.id,
                     dedupe_key=f"coverage:{new.id}:session:{session.id}:verify_benefits", mode=Mode.AUTOMATED,
                     payer_id=payer.id, source=SOURCE,
                     reason=f"coverage changed to {payer.payer_id}: benefits to verify again")  # fmt: skip
        repriced = _rescrub(claim, session, now) if claim is not None and claim.status in UNSUBMITTED else None
        body = f"Coverage changed to {payer.name} ({payer.payer_id}) from {new.effective_from:%Y-%m-%d}"
        body += f" ({ends})" if ends else ""
        body += f"; claim re-priced and re-scrubbed: {repriced}" if repriced else ""
        record_interaction(practice_id=session.practice_id, actor=actor, actor_label=SOURCE,
                           kind=InteractionKind.NOTE, now=now, session_id=session.id,
                           claim_id=claim.id if claim is not None else None, body=body,
                           data={"coverage_id": new.id, "payer_id": payer.id})  # fmt: skip


def _rescrub(claim: Claim, session: Session, now: datetime) -> str:
    today = now.astimezone(ZoneInfo(session.practice.timezone)).date()
    db.session.flush()
    scrubbed = scrub_stored_session(session, today=today)
    if scrubbed is None:
        return "no primary coverage in force"
    result, coverage = scrubbed
    lines, findings = priced_lines(session, result)
    claim.lines.clear()
    db.session.flush()
    claim.lines.extend(lines)
    blocked = not lines or any(f["severity"] == "error" for f in findings)
    claim.status = ClaimStatus.DRAFT if blocked else ClaimStatus.SCRUBBED
    claim.payer_id, claim.coverage_id, claim.findings = coverage.payer_id, coverage.id, findings
    claim.total_charge = sum((line.charge for line in lines), Decimal("0.00"))
    return f"{claim.status} at {claim.total_charge}"


DEMOGRAPHICS = (
    "first_name",
    "last_name",
    "date_of_birth",
    "sex",
    "address_line1",
    "city",
    "state",
    "zip_code",
    "phone",
)


@service
def update_patient(*, patient: Patient, values: dict[str, Any], actor: Any, now: datetime) -> Patient:
    """Edit a patient's demographics (the changed field names are audited, never their values: PHI)."""
    unknown = sorted(set(values) - set(DEMOGRAPHICS))
    if unknown:
        raise ValidationFailed(f"{unknown[0]}: not a demographic field")
    for name in ("first_name", "last_name", "date_of_birth", "sex"):
        if name in values and not values[name]:
            raise ValidationFailed(f"{name}: required")
    if values.get("sex") not in (None, "F", "M", "U"):
        raise ValidationFailed("sex: F, M or U")
    changed = sorted(name for name, value in values.items() if getattr(patient, name) != value)
    for name in changed:
        setattr(patient, name, values[name])
    if changed:
        audit_event(action="patient_update", user=actor, now=now, target_type="patient", target_id=patient.id,
                    organization_id=patient_organization(patient), practice_id=patient.practice_id,
                    patient_id=patient.id, data={"fields": changed})  # fmt: skip
    db.session.commit()
    return patient
