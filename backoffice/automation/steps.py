"""The automated steps of a session's chain, registered with the runner (backoffice/automation/runner.py).

Each step loads what it needs by the item's IDs, calls one feature's service, and returns a small result (no PHI)
that the runner stores on the item. When a person must decide, it raises ``NeedsPerson`` with the reason and the
evidence; when its moment has not come (a follow-up), ``NotYet``. Every effect is idempotent: running a step twice
has the effect of running it once (charge entry returns the existing claim; a claim version is submitted once).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from backoffice.appeals.services import draft_appeal
from backoffice.automation.claim_status import request_status
from backoffice.automation.eligibility import verify_session_benefits
from backoffice.automation.runner import RESOLVED, NeedsPerson, NotYet, register_step
from backoffice.claims.models import Claim
from backoffice.claims.rules import ClaimStatus
from backoffice.claims.services import enter_charge as enter
from backoffice.clearinghouse.adapters import connection_for
from backoffice.clearinghouse.models import BATCH_KINDS
from backoffice.deadlines.follow_up import next_follow_up
from backoffice.errors import ValidationFailed
from backoffice.exchange.submission import held_claims, submit_claims
from backoffice.extensions import db
from backoffice.orgs.models import Payer, Practice
from backoffice.sessions.models import Session
from backoffice.work.models import Interaction, WorkItem
from backoffice.work.rules import WorkKind

MAX_STATUS_CHECKS = 3  # then a person calls (billing-rules 9.2: status at 30 days, then every ~14 days)
REPEAT_DAYS = 14
HOLD_RECHECK = timedelta(days=1)


def _session(item: WorkItem) -> Session:
    session = db.session.get(Session, item.session_id) if item.session_id else None
    if session is None:
        raise NeedsPerson(f"{item.kind} item {item.id} has no session to work from")
    return session


def _claim(item: WorkItem) -> Claim | None:
    """The claim an item is about: its own, else its session's original primary claim."""
    if item.claim_id is not None:
        return db.session.get(Claim, item.claim_id)
    return db.session.scalar(
        select(Claim)
        .where(Claim.session_id == item.session_id, Claim.payer_sequence == "P", Claim.parent_claim_id.is_(None))
        .order_by(Claim.id)
    )


def verify_benefits(item: WorkItem, now: datetime) -> Mapping[str, Any]:
    """Ask the practice's clearinghouse for a 271 and record it; anything doubtful goes to a person."""
    return verify_session_benefits(_session(item), item=item, now=now)


def enter_charge(item: WorkItem, now: datetime) -> Mapping[str, Any]:
    """Code, price and scrub the session into its original claim."""
    try:
        claim = enter(session=_session(item), now=now, today=now.date())
    except ValidationFailed as error:
        raise NeedsPerson(str(error)) from None
    return {"claim_id": claim.id, "claim_status": str(claim.status), "total_charge": str(claim.total_charge)}


def audit(item: WorkItem, now: datetime) -> Mapping[str, Any]:
    """Pass a claim the scrubber found clean; a claim with errors goes to the coding queue with its findings."""
    claim = _claim(item)
    if claim is None:
        raise NeedsPerson("no claim has been entered for this session")
    errors = [f for f in claim.findings if f.get("severity") == "error"]
    if errors or str(claim.status) == ClaimStatus.DRAFT:
        rules = ", ".join(sorted({f["rule"] for f in errors})) or "claim still a draft"
        raise NeedsPerson(f"scrubber errors to fix before submission: {rules}", {"findings": errors})
    warnings = sorted({f["rule"] for f in claim.findings if f.get("severity") == "warning"})
    return {"claim_id": claim.id, "warnings": warnings}


def submit(item: WorkItem, now: datetime) -> Mapping[str, Any]:
    """Send the claim's current version in an 837P through the practice's clearinghouse (once per version)."""
    claim = _claim(item)
    if claim is None:
        raise NeedsPerson("no claim to submit")
    if str(claim.status) != ClaimStatus.SCRUBBED:
        if str(claim.status) != ClaimStatus.DRAFT:  # already on its way: a rerun after a crash
            return {"claim_id": claim.id, "claim_status": str(claim.status), "already": True}
        raise NeedsPerson("claim is not scrubbed clean; it cannot be submitted")
    held = held_claims([claim.id]).get(claim.id)
    if held:  # woken at once when the hold ends (a practice's answer); the day is a safety net
        raise NotYet(now + HOLD_RECHECK, held)
    connection = connection_for(db.session.get(Practice, claim.practice_id))
    if connection.id is not None and connection.kind in BATCH_KINDS:  # real-time channels submit at once
        raise NotYet(now + timedelta(minutes=connection.poll_minutes),
                     f"waits for the next batch run of connection {connection.name}")  # fmt: skip
    result = submit_claims(organization_id=claim_organization(claim), claim_ids=[claim.id], now=now,
                           source=f"worker:{item.kind}")  # fmt: skip
    db.session.refresh(claim)
    if str(claim.status) != ClaimStatus.SUBMITTED:
        why = "; ".join(reason for claim_id, reason in getattr(result, "skipped", ()) if claim_id == claim.id)
        raise NeedsPerson(f"the claim was not sent: {why}" if why else "the clearinghouse did not take the claim",
                          {"result": _summary(result)})  # fmt: skip
    return {"claim_id": claim.id, "claim_status": str(claim.status), "version": claim.version}


def follow_up(item: WorkItem, now: datetime) -> Mapping[str, Any]:
    """Close the follow-up when the payer has answered; wait for the payer's response window; then ask the payer
    for the claim's status (276/277) every two weeks, and hand the claim to a person when that does not settle it."""
    claim = _claim(item)
    if claim is None:
        raise NeedsPerson("no claim to follow up")
    status = str(claim.status)
    if status in RESOLVED:
        return {"claim_id": claim.id, "resolved_by": "remittance", "claim_status": status}
    if status in (ClaimStatus.REJECTED, ClaimStatus.DRAFT, ClaimStatus.SCRUBBED):
        return {"claim_id": claim.id, "resolved_by": "rejection work", "claim_status": status}
    submitted = (claim.submitted_at or now).date()
    checks = _status_checks(item)
    due_day = next_follow_up(submitted, payer_kind=claim_payer_kind(claim), electronic=True, attempts=checks)
    due = datetime.combine(due_day, time(14, 0), tzinfo=UTC)
    if now < due:
        raise NotYet(due, f"no remittance expected before {due_day:%Y-%m-%d} (payer response window)")
    days = (now.date() - submitted).days
    outcome = request_status(claim, item=item, now=now)
    evidence = {"claim_status": status, "days_since_submission": days, "status_checks": checks + 1}
    if outcome in ("not_found", "rejected", "records_requested"):
        # The 277 posting opened the item that works it (fix rejection, records request).
        return {"claim_id": claim.id, "resolved_by": f"claim status: {outcome}", "status_checks": checks + 1}
    if outcome in (None, "pending") and checks + 1 < MAX_STATUS_CHECKS:
        why = "276 sent; the 277 will arrive in the inbox" if outcome is None else "the payer reports it in process"
        raise NotYet(now + timedelta(days=REPEAT_DAYS), f"{why} (status check {checks + 1})")
    if outcome == "finalized":
        raise NeedsPerson("the payer reports the claim finalized but no 835 has arrived: request the remittance",
                          {**evidence, "status_category": claim.status_category or ""})  # fmt: skip
    raise NeedsPerson(
        f"no remittance {days} days after submission and {checks + 1} status check(s): call the payer",
        {**evidence, "status_category": claim.status_category or "", "outcome": outcome or "no 277 yet"},
    )


def _status_checks(item: WorkItem) -> int:
    """How many status requests this follow-up has made: each pending one left a "status check N" wait."""
    return int(
        db.session.scalar(
            select(func.count()).where(Interaction.work_item_id == item.id, Interaction.body.like("%status check%"))
        )
        or 0
    )


def appeal(item: WorkItem, now: datetime) -> Mapping[str, Any]:
    """Draft the appeal letter from the denial and hand it to a biller to review, sign and send. The ``Appeal``
    (draft, level 1, letter from the organization's best template or the built-in one) is recorded once per claim
    and level; a denial with no appeal rights goes to a person with the reason."""
    claim = _claim(item)
    if claim is None:
        raise NeedsPerson("no claim to appeal")
    try:
        drafted = draft_appeal(item=item, claim=claim, now=now, today=now.date())
    except ValidationFailed as refused:  # no appeal rights: a person decides (correct, new claim, write off)
        raise NeedsPerson(str(refused)) from None
    when = f"; file by {drafted.deadline:%Y-%m-%d}" if drafted.deadline else ""
    raise NeedsPerson(f"appeal letter drafted: review, sign and send{when}", {"draft": drafted.letter})


def claim_organization(claim: Claim) -> int:
    practice = db.session.get(Practice, claim.practice_id)
    assert practice is not None
    return practice.organization_id


def claim_payer_kind(claim: Claim) -> str:
    payer = db.session.get(Payer, claim.payer_id)
    return str(payer.kind) if payer is not None else "commercial"


def _summary(result: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(result).items() if isinstance(v, int | str)} if hasattr(result, "__dict__") else {}


def settings() -> Any:
    return current_app.config["BACKOFFICE_SETTINGS"]


register_step(WorkKind.VERIFY_BENEFITS, verify_benefits)
register_step(WorkKind.ENTER_CHARGE, enter_charge)
register_step(WorkKind.AUDIT, audit)
register_step(WorkKind.SUBMIT, submit)
register_step(WorkKind.FOLLOW_UP, follow_up)
register_step(WorkKind.APPEAL, appeal)
