"""The verify-benefits step: a 270 through the practice's clearinghouse, the 271 recorded as a benefits check, and
the decision whether a person must look (inactive, carved out, ambiguous, no answer yet)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask import current_app

from backoffice.automation.exchange import send_request
from backoffice.automation.runner import NeedsPerson
from backoffice.clearinghouse.adapters import clearinghouse_for
from backoffice.eligibility.services import check_needs_person, question_for, record_271
from backoffice.scrubber.queries import primary_coverage
from backoffice.sessions.models import Session
from backoffice.work.models import WorkItem


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
