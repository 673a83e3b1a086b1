"""Recording a 271 eligibility/benefits response as dated benefits checks (billing-rules §8.1).

``eligibility.rules.benefits_from_271`` interprets each answer; ``record_271`` matches each subscriber/dependent
answer to its coverage by payer and member ID within the organization and writes one ``BenefitsCheck`` per answer, all
or nothing. Errors name the 271 trace number, never the member ID.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from backoffice.eligibility.rules import benefits_from_271, summary
from backoffice.errors import ValidationFailed
from backoffice.exchange.ack_posting import inbound_file, parse_or_refuse
from backoffice.extensions import db
from backoffice.orgs.models import Payer, Practice
from backoffice.patients.models import BenefitsCheck, Coverage, Patient, Relationship
from backoffice.services_base import service
from backoffice.work.log import record_interaction
from backoffice.work.models import WorkItem
from backoffice.work.rules import InteractionKind
from backoffice.x12.benefits import (
    BenefitsRecord,
    parse_271,
)


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
    return checks
