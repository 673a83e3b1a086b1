"""The follow-up step's status request: a 276 for one claim through the practice's clearinghouse, the 277 posted
(``edi.status_posting.post_277``) and its outcome returned (None when the answer will arrive in the inbox)."""

from __future__ import annotations

from datetime import datetime

from flask import current_app

from backoffice.automation.exchange import send_request
from backoffice.claims.models import Claim
from backoffice.clearinghouse.adapters import clearinghouse_for
from backoffice.exchange.status_posting import post_277
from backoffice.extensions import db
from backoffice.orgs.models import Payer, Practice
from backoffice.patients.models import Coverage
from backoffice.sessions.models import Session
from backoffice.work.models import WorkItem
from backoffice.x12.inquiry import StatusQuestion


def request_status(claim: Claim, *, item: WorkItem, now: datetime) -> str | None:
    """Ask the payer for ``claim``'s status; the 277's outcome for it (finalized, pending, not_found, ...)."""

    practice = db.session.get(Practice, claim.practice_id)
    payer = db.session.get(Payer, claim.payer_id)
    session = db.session.get(Session, claim.session_id) if claim.session_id else None
    coverage = db.session.get(Coverage, claim.coverage_id) if claim.coverage_id else None
    assert practice is not None and payer is not None
    days = [line.date_of_service for line in claim.lines] or [session.date_of_service if session else now.date()]
    patient = session.patient if session is not None else None
    provider = session.provider if session is not None else None
    question = StatusQuestion(
        trace_number=f"{claim.account_number}"[:50], account_number=claim.account_number,
        payer_claim_number=claim.payer_claim_number or "", member_id=coverage.member_id if coverage else "",
        first_name=patient.first_name if patient else "", last_name=patient.last_name if patient else "",
        payer_id=payer.payer_id, payer_name=payer.name, provider_npi=provider.npi if provider else practice.group_npi,
        provider_name=practice.name, charge=claim.total_charge, service_from=min(days), service_to=max(days),
    )  # fmt: skip
    adapter = clearinghouse_for(practice, current_app.config["BACKOFFICE_SETTINGS"])
    answer = send_request(lambda: adapter.check_claim_status(practice=practice, questions=[question], now=now))
    if answer is None:
        return None
    result = post_277(organization_id=practice.organization_id, text=answer, now=now)
    outcome = next((c.outcome for c in result.claims if c.claim_id == claim.id), None)
    return outcome or "unanswered"
