"""Recording a 271 eligibility/benefits response as dated benefits checks (billing-rules §8.1).

``eligibility.rules.benefits_from_271`` interprets each answer; ``record_271`` matches each subscriber/dependent
answer to its coverage by payer and member ID within the organization and writes one ``BenefitsCheck`` per answer, all
or nothing. Errors name the 271 trace number, never the member ID.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from backoffice.eligibility.rules import benefits_from_271, item_id_from_trace, needs_person, summary
from backoffice.errors import ValidationFailed
from backoffice.exchange.ack_posting import inbound_file, parse_or_refuse
from backoffice.extensions import db
from backoffice.orgs.models import Payer, Practice, Provider
from backoffice.patients.models import Authorization, BenefitsCheck, Coverage, Patient, Relationship
from backoffice.services_base import service
from backoffice.sessions.models import Session
from backoffice.work.log import record_interaction
from backoffice.work.models import WorkItem
from backoffice.work.rules import InteractionKind, ItemState, WorkKind
from backoffice.work.services import complete_item
from backoffice.x12.benefits import (
    BenefitsRecord,
    parse_271,
)
from backoffice.x12.inquiry import EligibilityQuestion


def _coverage(organization_id: int, record: BenefitsRecord, member_id: str, item: WorkItem | None) -> Coverage:
    trace = record.trace or "(no trace)"
    query = (
        select(Coverage)
        .join(Patient, Patient.id == Coverage.patient_id)
        .join(Practice, Practice.id == Patient.practice_id)
        .where(Practice.organization_id == organization_id, Coverage.member_id == member_id.strip())
    )
    if record.payer_id:
        query = query.join(Payer, Payer.id == Coverage.payer_id).where(Payer.payer_id == record.payer_id)
    found = list(db.session.scalars(query.order_by(Coverage.id))) if member_id.strip() else []
    if record.level == "23":  # a dependent is never the subscriber's own coverage
        found = [c for c in found if c.relationship_to_subscriber != Relationship.SELF]
    elif len(found) > 1:  # a dependent with a member ID of its own comes back at the subscriber level
        found = [c for c in found if c.relationship_to_subscriber == Relationship.SELF] or found
    if len(found) > 1 and record.birth_date is not None:  # siblings under one subscriber: the 2100D birth date
        found = [c for c in found if c.patient.date_of_birth == record.birth_date] or found
    if len(found) > 1 and item is not None and item.session is not None:
        found = [c for c in found if c.patient_id == item.session.patient_id] or found
    if not found:
        raise ValidationFailed(
            f"271 answer with trace {trace}: no coverage of this organization for its payer and member ID"
        )
    if len(found) > 1:
        raise ValidationFailed(f"271 answer with trace {trace}: {len(found)} coverages share its payer and member ID")
    return found[0]


def _work_item(organization_id: int, work_item_id: int | None) -> WorkItem | None:
    if work_item_id is None:
        return None
    item = db.session.get(WorkItem, work_item_id)
    if item is None or item.practice.organization_id != organization_id:
        raise ValidationFailed(f"work item {work_item_id}: not an item of this organization")
    return item


@service
def record_271(
    *, organization_id: int, text: str, now: datetime, edi_file_id: int | None = None, work_item_id: int | None = None
) -> list[BenefitsCheck]:
    """One dated BenefitsCheck per subscriber/dependent answer in the 271, matched to its coverage by payer and
    member ID; any answer that matches no coverage refuses the whole file."""
    records = parse_or_refuse(parse_271, text, "271")
    inbound_file(organization_id, edi_file_id)
    item = _work_item(organization_id, work_item_id)
    arrived_later = item is None
    if arrived_later:  # a 271 that came back through the inbox: its trace number names the item that asked
        item = _item_by_trace(organization_id, records)
    answers: list[tuple[BenefitsRecord, Coverage]] = []
    errors: list[str] = []
    subscriber_member = ""
    for record in records:
        if record.level == "22":
            subscriber_member = record.member_id
        if record.level not in ("22", "23") or not (record.benefits or record.rejections):
            continue  # a source/receiver-level AAA, or a subscriber loop that only leads to its dependents
        member = record.member_id or (subscriber_member if record.level == "23" else "")
        try:
            answers.append((record, _coverage(organization_id, record, member, item)))
        except ValidationFailed as error:
            errors.append(str(error))
    if errors:
        raise ValidationFailed("; ".join(errors))
    if not answers:
        reasons = "; ".join(m for r in records for m in r.rejection_messages) or "nothing to record"
        raise ValidationFailed(f"271: no subscriber or dependent answer ({reasons})")
    checks = []
    for record, coverage in answers:
        facts = benefits_from_271(record)
        check = BenefitsCheck(
            practice_id=coverage.patient.practice_id, patient_id=coverage.patient_id, coverage_id=coverage.id,
            payer_id=coverage.payer_id, checked_at=now, source="271", active=facts.active,
            in_network=facts.in_network, copay=facts.copay, coinsurance_percent=facts.coinsurance_percent,
            deductible_remaining=facts.deductible_remaining, out_of_pocket_remaining=facts.out_of_pocket_remaining,
            visits_allowed=facts.visits_allowed, visits_remaining=facts.visits_remaining,
            auth_required=facts.auth_required, carve_out_payer_name=facts.carve_out_payer_name,
            carve_out_payer_id=facts.carve_out_payer_id, messages=list(facts.messages),
            work_item_id=item.id if item is not None else None,
        )  # fmt: skip
        db.session.add(check)
        checks.append(check)
        if item is not None:  # the log needs a subject: the verify-benefits item (a 271 touches no claim)
            record_interaction(
                practice_id=item.practice_id, actor=None, actor_label="271 posting", kind=InteractionKind.AUTOMATION,
                now=now, item=item, body=f"Benefits (271, trace {record.trace or '-'}): {summary(facts)}",
                data={"edi_file_id": edi_file_id, "coverage_id": coverage.id},
            )  # fmt: skip
    db.session.commit()
    if arrived_later and item is not None:
        _resolve_waiting_item(item, checks, now)
    return checks


def question_for(session: Session, coverage: Coverage, *, trace_number: str) -> EligibilityQuestion:
    """The 270 question for a session's coverage (``coverage_question`` on its date of service)."""
    return coverage_question(
        session.patient, session.provider, coverage, day=session.date_of_service, trace_number=trace_number
    )


def coverage_question(
    patient: Patient, provider: Provider, coverage: Coverage, *, day: date, trace_number: str
) -> EligibilityQuestion:
    """The 270 question for a patient's coverage on ``day``: the patient, and when the patient is not the subscriber
    (``relationship_to_subscriber`` other than 18) the subscriber from the coverage, so the 270 carries both the
    subscriber (2100C) and the dependent (2100D) loops."""
    relationship = str(coverage.relationship_to_subscriber)
    dependent = relationship != str(Relationship.SELF)
    return EligibilityQuestion(
        trace_number=trace_number, member_id=coverage.member_id, first_name=patient.first_name,
        last_name=patient.last_name, date_of_birth=patient.date_of_birth, sex=str(patient.sex),
        payer_id=coverage.payer.payer_id, payer_name=coverage.payer.name, provider_npi=provider.npi,
        provider_name=f"{provider.last_name}", service_date=day, relationship=relationship,
        subscriber_first_name=(coverage.subscriber_first_name or "") if dependent else "",
        subscriber_last_name=(coverage.subscriber_last_name or "") if dependent else "",
        subscriber_date_of_birth=coverage.subscriber_date_of_birth if dependent else None,
        subscriber_sex=str(coverage.subscriber_sex or "") if dependent else "",
    )  # fmt: skip


def auth_in_hand(session: Session, coverage_payer_id: int) -> bool:
    """Whether prior authorization is taken care of for the session: its chain has a prior-auth step, or an
    authorization of the payer with units left is in force on the date of service."""
    planned = db.session.scalar(
        select(WorkItem.id).where(WorkItem.session_id == session.id, WorkItem.kind == WorkKind.OBTAIN_PREAUTH)
    )
    if planned is not None:
        return True
    day = session.date_of_service
    found = db.session.scalar(
        select(Authorization.id).where(
            Authorization.patient_id == session.patient_id, Authorization.payer_id == coverage_payer_id,
            Authorization.start_date <= day, Authorization.end_date >= day,
            Authorization.used < Authorization.authorized,
        )
    )  # fmt: skip
    return found is not None


def check_needs_person(check: BenefitsCheck, session: Session | None) -> str | None:
    """``rules.needs_person`` for a recorded check of ``session`` (None: no session to look at authorizations)."""
    rejections = tuple(m for m in (check.messages or []) if m.startswith("AAA "))
    in_hand = session is None or not check.auth_required or auth_in_hand(session, check.payer_id)
    return needs_person(
        active=check.active, carve_out=check.carve_out_payer_id or check.carve_out_payer_name or "",
        visits_remaining=check.visits_remaining, rejections=rejections, auth_required=check.auth_required,
        auth_in_hand=in_hand,
    )  # fmt: skip


def _item_by_trace(organization_id: int, records: list[BenefitsRecord]) -> WorkItem | None:
    """The verify-benefits item of this organization named by the first trace number of the 271 (else None)."""
    for record in records:
        item_id = item_id_from_trace(record.trace) if record.trace else None
        if item_id is None:
            continue
        item = db.session.get(WorkItem, item_id)
        if (
            item is not None
            and item.kind == WorkKind.VERIFY_BENEFITS
            and item.practice.organization_id == organization_id
        ):
            return item
    return None


def _resolve_waiting_item(item: WorkItem, checks: list[BenefitsCheck], now: datetime) -> None:
    """The asking item closes itself when the late 271 clears the session; otherwise the person holding it gets
    the reason on its timeline. A closed item only gets the note."""
    if item.state in (ItemState.DONE, ItemState.CANCELLED):
        return
    check = next((c for c in checks if item.session is not None and c.patient_id == item.session.patient_id), None)
    if check is None:
        reason: str | None = "the 271 that came back answers for another patient"
    else:
        reason = check_needs_person(check, item.session)
    if reason is None and check is not None:
        complete_item(item=item, actor=None, actor_label="271 posting", now=now,
                      note=f"Benefits verified by the 271 that came back (check {check.id})",
                      result={"benefits_check_id": check.id, "active": check.active})  # fmt: skip
        return
    record_interaction(
        practice_id=item.practice_id, actor=None, actor_label="271 posting", kind=InteractionKind.NOTE, now=now,
        item=item, body=f"The 271 came back and needs a person: {reason}",
    )  # fmt: skip
    db.session.commit()
