"""Charge entry: a session becomes a claim with lines, charges and the scrubber's findings (one transaction,
logged on the claim and the session)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select

from backoffice.accounts.models import User
from backoffice.claims.models import Claim, ClaimLine
from backoffice.claims.rules import ClaimStatus
from backoffice.errors import ValidationFailed
from backoffice.extensions import db
from backoffice.scrubber.queries import scrub_stored_session
from backoffice.services_base import service
from backoffice.sessions.models import Session
from backoffice.work.rules import InteractionKind
from backoffice.work.services import record_interaction


def account_number(session: Session) -> str:
    """CLM01: unique, stable across replacements, at most 38 characters; comes back as the 835's CLP01."""
    return f"{session.practice.slug[:12].upper()}-{session.id}"


@service
def enter_charge(*, session: Session, now: datetime, today: date, actor: User | None = None) -> Claim:
    """Code and scrub ``session`` and record its original claim: ``scrubbed`` when nothing blocks submission,
    ``draft`` with the findings otherwise. Entering the same session again returns the claim it already has."""
    existing = db.session.scalar(
        select(Claim).where(Claim.session_id == session.id, Claim.frequency_code == "1").order_by(Claim.id)
    )
    if existing is not None:
        return existing
    scrubbed = scrub_stored_session(session, today=today)
    if scrubbed is None:
        raise ValidationFailed(f"session {session.external_ref}: no primary coverage in force on the date of service")
    result, coverage = scrubbed
    if str(coverage.payer.kind) == "self_pay":
        raise ValidationFailed(f"session {session.external_ref}: self-pay, there is no insurance claim to enter")
    findings = [
        {"rule": f.rule, "severity": f.severity, "message": f.message, "field": f.field} for f in result.findings
    ]
    fees = session.practice.fee_schedule or {}
    lines = []
    for number, draft in enumerate(result.lines, start=1):
        fee = fees.get(draft.cpt)
        if fee is None:
            findings.append({"rule": "FEE-MISSING", "severity": "error", "field": "fee_schedule",
                             "message": f"no charge for {draft.cpt} in the practice's fee schedule."})  # fmt: skip
        lines.append(
            ClaimLine(
                line_number=number,
                date_of_service=session.date_of_service,
                cpt=draft.cpt,
                modifiers=list(draft.modifiers),
                units=draft.units,
                place_of_service=draft.pos,
                diagnosis_pointers=list(draft.diagnosis_pointers),
                charge=(Decimal(fee) * draft.units) if fee is not None else Decimal("0.00"),
            )  # fmt: skip
        )
    blocked = not lines or any(f["severity"] == "error" for f in findings)
    claim = Claim(
        practice_id=session.practice_id, session_id=session.id, patient_id=session.patient_id,
        payer_id=coverage.payer_id, coverage_id=coverage.id, account_number=account_number(session),
        status=ClaimStatus.DRAFT if blocked else ClaimStatus.SCRUBBED, frequency_code="1",
        total_charge=sum((line.charge for line in lines), Decimal("0.00")), findings=findings, lines=lines,
        created_at=now,
    )  # fmt: skip
    db.session.add(claim)
    db.session.flush()
    codes = ", ".join(f"{line.cpt}{'-' + '-'.join(line.modifiers) if line.modifiers else ''}" for line in lines)
    errors = sum(1 for f in findings if f["severity"] == "error")
    summary = f"Charge entered: {codes or 'no billable lines'}; " + (
        f"{errors} error(s) to fix before submission" if blocked else "scrubbed clean"
    )
    record_interaction(
        practice_id=session.practice_id, actor=actor, actor_label="charge entry", kind=InteractionKind.STATUS_CHANGE,
        now=now, session_id=session.id, claim_id=claim.id, to_state=str(claim.status), body=summary,
        data={"findings": [f["rule"] for f in findings]},
    )  # fmt: skip
    db.session.commit()
    return claim
