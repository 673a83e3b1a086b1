"""The verify-benefits step: a 270 through the practice's clearinghouse, the 271 recorded as a benefits check, and
the decision whether a person must look (inactive, carved out, ambiguous, no answer yet)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask import current_app

from backoffice.accounts.models import User
from backoffice.automation.exchange import send_request
from backoffice.automation.runner import NeedsPerson
from backoffice.clearinghouse.adapters import clearinghouse_for, connection_for
from backoffice.clearinghouse.models import BATCH_KINDS
from backoffice.eligibility.services import check_needs_person, question_for, record_271
from backoffice.errors import ValidationFailed
from backoffice.extensions import db
from backoffice.scrubber.queries import primary_coverage
from backoffice.sessions.models import Session
from backoffice.tasks import enqueue_after_commit
from backoffice.work.log import record_interaction
from backoffice.work.models import WorkItem
from backoffice.work.rules import InteractionKind, ItemState, WorkKind
from backoffice.work.services import complete_item


def verify_session_benefits(session: Session, *, item: WorkItem, now: datetime) -> Mapping[str, Any]:
    """Ask the payer about the session's primary coverage; return the benefits check's facts (no PHI)."""

    coverage = primary_coverage(session.patient_id, session.date_of_service)
    if coverage is None:
        raise NeedsPerson("no primary coverage in force on the date of service: ask the practice for the insurance")
    if str(coverage.payer.kind) == "self_pay":
        return {"self_pay": True}
    question = question_for(session, coverage, trace_number=f"{item.id}-{item.attempts}")
    practice = session.practice
    adapter = clearinghouse_for(practice, current_app.config["BACKOFFICE_SETTINGS"])
    answer = send_request(lambda: adapter.check_eligibility(practice=practice, questions=[question], now=now))
    if answer is None:
        raise NeedsPerson(
            "270 sent in the clearinghouse batch: the 271 closes this item when it comes back clean "
            "(or enter the benefits by hand)"
        )
    checks = record_271(organization_id=practice.organization_id, text=answer, now=now, work_item_id=item.id)
    check = next((c for c in checks if c.coverage_id == coverage.id), None)
    if check is None:
        raise NeedsPerson("the payer's 271 did not answer for this coverage", {"checks": len(checks)})
    facts = {
        "benefits_check_id": check.id,
        "active": check.active,
        "in_network": check.in_network,
        "copay": str(check.copay) if check.copay is not None else None,
        "coinsurance_percent": str(check.coinsurance_percent) if check.coinsurance_percent is not None else None,
        "deductible_remaining": str(check.deductible_remaining) if check.deductible_remaining is not None else None,
        "visits_remaining": check.visits_remaining,
        "auth_required": check.auth_required,
    }
    reason = check_needs_person(check, session)
    if reason:
        raise NeedsPerson(reason, facts)
    return facts


# ---- "Check eligibility now" on the benefits item ------------------------------------------------------------------

INQUIRY_JOB = "workers.jobs.send_eligibility_inquiry"  # the RQ job: sends the batch 270 of one benefits item
OPEN_STATES = (ItemState.READY, ItemState.IN_PROGRESS, ItemState.SNOOZED)


def check_eligibility_now(*, item: WorkItem, actor: User, now: datetime) -> str:
    """A person asks for the payer's answer now. A real-time channel (HTTPS API, Sandbox) answers in the request:
    a clean 271 completes the item, anything else is written on it with the reason. A batch channel (SFTP, local
    folder) gets a 270 queued (an RQ job sends it in the clearinghouse batch): the 271 that comes back closes the
    item when clean or says why on its timeline. Returns what happened, for the flash message."""
    session = item.session
    if session is None or item.kind != WorkKind.VERIFY_BENEFITS:
        raise ValidationFailed("check eligibility: only a verify-benefits item of a session")
    if item.state not in OPEN_STATES:
        raise ValidationFailed("check eligibility: the item is closed")
    if connection_for(session.practice).kind in BATCH_KINDS:
        record_interaction(
            practice_id=item.practice_id, actor=actor, kind=InteractionKind.NOTE, now=now, item=item,
            body="Check eligibility now: a 270 is queued for the clearinghouse batch; the 271 closes this item "
                 "when it comes back clean",
        )  # fmt: skip
        enqueue_after_commit(INQUIRY_JOB, item.id, organization_id=session.practice.organization_id)
        db.session.commit()
        return "A 270 is queued for the clearinghouse batch; the 271 will close this item when it comes back clean."
    try:
        facts = verify_session_benefits(session, item=item, now=now)
    except NeedsPerson as needs:
        db.session.rollback()
        record_interaction(practice_id=item.practice_id, actor=actor, kind=InteractionKind.NOTE, now=now, item=item,
                           body=f"Eligibility checked now (real time): {needs}")  # fmt: skip
        db.session.commit()
        return f"The payer answered: {needs}"
    complete_item(item=item, actor=actor, now=now, result=dict(facts),
                  note="Eligibility checked now (real time): benefits verified by the 271")  # fmt: skip
    return "The payer's 271 verified the benefits; item completed."


def send_eligibility_inquiry(item_id: int, *, now: datetime) -> str:
    """The queued 270 of ``check_eligibility_now`` (an RQ job: ID only): sent through the practice's channel; a
    channel that answers at once has its 271 recorded and resolved like one that comes back later."""
    item = db.session.get(WorkItem, item_id)
    if item is None or item.session is None or item.state not in OPEN_STATES:
        return "skipped"
    session = item.session
    coverage = primary_coverage(session.patient_id, session.date_of_service)
    if coverage is None:
        return "no coverage"
    question = question_for(session, coverage, trace_number=f"{item.id}-{item.attempts}")
    practice = session.practice
    adapter = clearinghouse_for(practice, current_app.config["BACKOFFICE_SETTINGS"])
    answer = send_request(lambda: adapter.check_eligibility(practice=practice, questions=[question], now=now))
    if answer is None:
        return "sent"
    record_271(organization_id=practice.organization_id, text=answer, now=now)  # matched by its trace number
    return "answered"
