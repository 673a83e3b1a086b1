"""Charge entry: a session becomes a claim with lines, charges and the scrubber's findings (one transaction,
logged on the claim and the session)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from backoffice.accounts.models import User
from backoffice.authorizations.services import take_units_for_claim
from backoffice.claims.models import Claim, ClaimLine
from backoffice.claims.rules import ClaimStatus
from backoffice.errors import InvalidTransition, ValidationFailed
from backoffice.extensions import db
from backoffice.scrubber.queries import scrub_stored_session
from backoffice.scrubber.rules import ScrubResult
from backoffice.services_base import service
from backoffice.sessions.models import Session
from backoffice.work.log import record_interaction
from backoffice.work.models import WorkItem
from backoffice.work.rules import OPEN_STATES, InteractionKind


def account_number(session: Session) -> str:
    """CLM01: unique, stable across replacements, at most 38 characters; comes back as the 835's CLP01."""
    return f"{session.practice.slug[:12].upper()}-{session.id}"


def priced_lines(session: Session, result: ScrubResult) -> tuple[list[ClaimLine], list[dict[str, str]]]:
    """The claim lines of a scrubbed session priced from the practice's fee schedule, and the findings (the
    scrubber's, plus FEE-MISSING for a code the schedule has no charge for)."""
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
    return lines, findings


def _price_open_items(session_id: int, claim: Claim) -> None:
    """The session's open work items now carry the claim's payer and charge (queue filters, Get next's dollars)."""

    db.session.execute(
        update(WorkItem)
        .where(WorkItem.session_id == session_id, WorkItem.state.in_([s.value for s in OPEN_STATES]))
        .values(amount=claim.total_charge, payer_id=claim.payer_id)
        .execution_options(synchronize_session=False)
    )


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
    lines, findings = priced_lines(session, result)
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
    _price_open_items(session.id, claim)
    take_units_for_claim(claim=claim, now=now)
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


@service
def reopen_rejected_claim(*, claim: Claim, actor: User | None, now: datetime) -> Claim:
    """Reopen a front-end rejection for correction: REJECTED → DRAFT as the next version of an original claim
    (frequency 1, it was never filed), re-coded and re-scrubbed from its session like ``enter_charge``, so it
    ends ``scrubbed`` or ``draft`` with the findings still to fix."""
    if claim.status != ClaimStatus.REJECTED:
        raise InvalidTransition(
            f"claim {claim.account_number}: only a rejected claim can be reopened (is {claim.status})"
        )
    session = db.session.get(Session, claim.session_id) if claim.session_id is not None else None
    if session is None:
        raise ValidationFailed(f"claim {claim.account_number}: no session to re-scrub")
    today = now.astimezone(ZoneInfo(session.practice.timezone)).date()
    scrubbed = scrub_stored_session(session, today=today)
    if scrubbed is None:
        raise ValidationFailed(f"claim {claim.account_number}: no primary coverage in force on the date of service")
    result, coverage = scrubbed
    lines, findings = priced_lines(session, result)
    claim.lines.clear()
    db.session.flush()  # the old lines go before the new ones take their line numbers
    blocked = not lines or any(f["severity"] == "error" for f in findings)
    claim.lines.extend(lines)
    claim.status = ClaimStatus.DRAFT if blocked else ClaimStatus.SCRUBBED
    claim.version, claim.frequency_code = claim.version + 1, "1"
    claim.payer_id, claim.coverage_id, claim.findings = coverage.payer_id, coverage.id, findings
    claim.total_charge = sum((line.charge for line in lines), Decimal("0.00"))
    claim.status_category = claim.status_at = claim.submitted_at = claim.accepted_at = None
    db.session.flush()
    take_units_for_claim(claim=claim, now=now)
    errors = sum(1 for f in findings if f["severity"] == "error")
    record_interaction(
        practice_id=claim.practice_id, actor=actor, actor_label="rejection fix", kind=InteractionKind.STATUS_CHANGE,
        now=now, session_id=claim.session_id, claim_id=claim.id, from_state=str(ClaimStatus.REJECTED),
        to_state=str(claim.status), data={"findings": [f["rule"] for f in findings], "version": claim.version},
        body=f"Reopened after a front-end rejection as version {claim.version} (original, frequency 1); "
        + (f"{errors} error(s) to fix before submission" if blocked else "scrubbed clean"),
    )  # fmt: skip
    db.session.commit()
    return claim
