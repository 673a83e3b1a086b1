"""Posting a 277 claim status response (the answer to our 276) onto our claims.

Every claim's status category and time are updated and the STC codes logged with their meanings. Finalized
(F*) is only logged: the 835 posts the money. A request for documentation (R*) opens a ``work_denial`` item in
the "records" queue (billing-rules §6.6: 3 business days); "not found" (A4) means the payer has no claim on
file, so it is a rejection to resubmit as an original; A3/A6/A7/A8 are front-end rejections as on a 277CA.
The result gives each claim's category so the follow-up step can decide what comes next.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from backoffice.claims.corrections import close_accepted_void
from backoffice.claims.models import Claim
from backoffice.claims.rules import VOID, ClaimStatus
from backoffice.exchange.ack_posting import (
    REJECTION_CATEGORIES,
    claims_by_account,
    inbound_file,
    latest_submissions,
    log_once,
    parse_or_refuse,
    reject_claim,
    status_words,
    unmatched_exception,
)
from backoffice.exchange.models import ClaimSubmission
from backoffice.extensions import db
from backoffice.services_base import service
from backoffice.work.chains import add_item
from backoffice.work.log import record_interaction
from backoffice.work.rules import ExceptionKind, InteractionKind
from backoffice.x12.claim_status import ClaimStatus as Status277
from backoffice.x12.claim_status import parse_277
from backoffice.x12.elements import ACCEPTED_CATEGORIES

RECORDS_QUEUE = ("records", 3)  # billing-rules §6.6: records requests (252, R4), 3 business days


@dataclass(frozen=True, slots=True)
class ClaimStatusOutcome:
    """One claim's answer: its category (A2, P1, F1, R4…) and what posting did with it."""

    account_number: str
    claim_id: int
    category: str
    status_code: str
    outcome: str  # finalized, pending, records_requested, not_found, rejected, accepted, error, other
    changed: bool  # False when the same status had already been posted


@dataclass
class StatusResult:
    """What one 277 did: per-claim outcomes, inquiry-level answers (E0…) and account numbers we could not find."""

    claims: list[ClaimStatusOutcome] = field(default_factory=list)
    inquiry_messages: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    exception_item_id: int | None = None


def outcome_for(category: str) -> str:
    """What a 277 category means for the claim's follow-up (pure)."""
    if category == "A4":
        return "not_found"
    if category in REJECTION_CATEGORIES:
        return "rejected"
    if category in ACCEPTED_CATEGORIES:
        return "accepted"
    first = category[:1]
    return {"F": "finalized", "P": "pending", "R": "records_requested", "E": "error"}.get(first, "other")


def _details(status: Status277) -> str:
    parts = []
    if status.paid is not None:
        parts.append(f"paid {status.paid:.2f}")
    if status.payment_date is not None:
        parts.append(f"on {status.payment_date:%Y-%m-%d}")
    if status.check_number:
        parts.append(f"check/EFT {status.check_number}")
    if status.payer_claim_number:
        parts.append(f"payer claim {status.payer_claim_number}")
    return f" ({', '.join(parts)})" if parts else ""


def _post_status(
    status: Status277, claim: Claim, submission: ClaimSubmission | None, now: datetime
) -> ClaimStatusOutcome:
    category, outcome = status.category, outcome_for(status.category)
    effective = f" as of {status.effective_date:%Y-%m-%d}" if status.effective_date else ""
    words = "; ".join(status_words(status.statuses))
    body = f"277 status{effective}: {words}{_details(status)}"
    evidence = {"277": status_words(status.statuses), "payer_claim_number": status.payer_claim_number}
    changed = False
    if outcome in ("not_found", "rejected"):
        reason = "payer has no claim on file: resubmit as original" if outcome == "not_found" else f"277 {words}"
        done = reject_claim(claim, submission, now=now, source="277", reason=reason, evidence=evidence,
                            category=category)  # fmt: skip
        changed = done == "rejected"
        changed = log_once(claim, now, body, data={"evidence": evidence}) or changed
    elif (
        outcome == "accepted"
        and claim.status == ClaimStatus.SUBMITTED
        and claim.version == getattr(submission, "claim_version", claim.version)
    ):
        claim.status, claim.accepted_at = ClaimStatus.ACCEPTED, now
        record_interaction(
            practice_id=claim.practice_id, actor=None, actor_label="277", kind=InteractionKind.STATUS_CHANGE, now=now,
            claim_id=claim.id, session_id=claim.session_id, from_state=str(ClaimStatus.SUBMITTED),
            to_state=str(ClaimStatus.ACCEPTED), body=body, data={"evidence": evidence},
        )  # fmt: skip
        if claim.frequency_code == VOID:  # an accepted void closes the claim and gives its authorization back
            close_accepted_void(claim, now, "277")
        changed = True
    else:
        changed = log_once(claim, now, body, data={"evidence": evidence})
        if outcome == "records_requested" and changed:
            add_item(
                practice_id=claim.practice_id, kind=ExceptionKind.WORK_DENIAL, now=now, claim_id=claim.id,
                session_id=claim.session_id, queue=RECORDS_QUEUE[0], routed_sla=RECORDS_QUEUE,
                reason=f"payer requests documentation: {words}", evidence=evidence, source="277",
                dedupe_key=f"work_denial:claim:{claim.id}:v{claim.version}:{category}:{status.effective_date or ''}",
            )  # fmt: skip
    if changed and category:
        claim.status_category, claim.status_at = category, now
    return ClaimStatusOutcome(claim.account_number, claim.id, category, status.status_code, outcome, changed)


@service
def post_277(*, organization_id: int, text: str, now: datetime, edi_file_id: int | None = None) -> StatusResult:
    """Post a 277 claim status response: update each claim's status category, log the codes with their
    meanings, open records (R*) or rejection (A4 not found, A3/A6–A8) work, and return each claim's outcome."""
    statuses = parse_or_refuse(parse_277, text, "277")
    file = inbound_file(organization_id, edi_file_id)
    claim_statuses = [s for s in statuses if s.is_claim]
    claims = claims_by_account(organization_id, [a for s in claim_statuses for a in (s.patient_account, s.trace)])
    submissions = latest_submissions(claims.values())
    result = StatusResult()
    result.inquiry_messages = [
        f"level {s.level}: {'; '.join(status_words(s.statuses))}" for s in statuses if not s.is_claim
    ]
    hint: int | None = None
    for status in claim_statuses:
        claim = claims.get(status.patient_account) or claims.get(status.trace)
        if claim is None:
            result.unmatched.append(status.claim_id)
            continue
        hint = hint or claim.practice_id
        result.claims.append(_post_status(status, claim, submissions.get(claim.id), now))
    result.exception_item_id = unmatched_exception(organization_id, file, "277", result.unmatched, now, hint)
    db.session.commit()
    return result
