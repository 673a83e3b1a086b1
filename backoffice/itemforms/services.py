"""Per-kind item work: a manual benefits check, a prior authorization, claim-line corrections (charge review, audit,
rejection fix). Each use case owns its transaction, logs on the item in it, and refuses bad input whole: when it
also completes the item, ``work.services.complete_item`` commits everything in one transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import update

from backoffice.accounts.access import can_supervise
from backoffice.accounts.models import User
from backoffice.claims.corrections import refuse_unchanged
from backoffice.claims.models import Claim
from backoffice.claims.rules import ClaimStatus
from backoffice.claims.services import account_number
from backoffice.claims.versions import record_version
from backoffice.eligibility.rules import BenefitsFacts, summary
from backoffice.errors import Conflict, InvalidTransition, NotAllowed, ValidationFailed
from backoffice.extensions import db
from backoffice.itemforms import queries
from backoffice.itemforms.rules import (
    BenefitsEntry,
    check_authorization,
    check_benefits,
    check_lines,
    parse_cpts,
    parse_line,
)
from backoffice.patients.models import Authorization, BenefitsCheck, Coverage
from backoffice.services_base import service
from backoffice.sessions.models import Session
from backoffice.work.chains import add_item
from backoffice.work.log import record_interaction
from backoffice.work.models import WorkItem, WorkItemDependency
from backoffice.work.rules import CompletionOutcome, ExceptionKind, InteractionKind, ItemState, Mode, WorkKind
from backoffice.work.services import complete_item, register_completion_guard

WORKABLE = frozenset({ItemState.READY, ItemState.IN_PROGRESS, ItemState.SNOOZED})
LINE_KINDS = frozenset({WorkKind.ENTER_CHARGE, WorkKind.AUDIT, ExceptionKind.FIX_REJECTION})
EDITABLE_CLAIM = frozenset({ClaimStatus.DRAFT, ClaimStatus.SCRUBBED, ClaimStatus.REJECTED})


def _require_worker(item: WorkItem, actor: User, kinds: frozenset[str]) -> None:
    """The actor may work this open item: same organization, and it is theirs, unassigned, or they supervise."""
    if item.practice.organization_id != actor.organization_id:
        raise NotAllowed(f"work item {item.id} is not in your organization")
    if item.assignee_id not in (None, actor.id) and not can_supervise(actor):
        raise NotAllowed(f"work item {item.id} belongs to another biller")
    if item.kind not in kinds:
        raise InvalidTransition(f"work item {item.id} is a {item.kind} item; this form is not for it")
    if item.state not in WORKABLE:
        raise InvalidTransition(f"work item {item.id} is {item.state.value}; only open items can be worked")


def _session(item: WorkItem) -> Session:
    session = queries.session_for(item)
    if session is None:
        raise ValidationFailed(f"work item {item.id}: no session to work from")
    return session


def _coverage(session: Session, coverage_id: int | None) -> Coverage:
    coverage = (
        db.session.get(Coverage, coverage_id) if coverage_id else queries.default_coverage(session)
    )  # the primary in force on the date of service by default
    if coverage is None or coverage.patient_id != session.patient_id:
        raise ValidationFailed("coverage: choose one of the patient's coverages")
    return coverage


def _audit_clean(item: WorkItem, outcome: str) -> str | None:
    """A person may pass an audit only when the claim's stored scrubber findings hold no error."""
    claim = queries.claim_for(item) if outcome == CompletionOutcome.RESOLVED else None
    if claim is None:
        return None
    errors = sorted({f["rule"] for f in claim.findings or [] if f.get("severity") == "error"})
    if errors:
        return f"audit: the claim has scrubber errors ({', '.join(errors)}); correct the lines before passing it"
    return None


register_completion_guard(WorkKind.AUDIT, _audit_clean)


def _finish(item: WorkItem, actor: User, now: datetime, note: str, result: Mapping[str, Any]) -> None:
    """Complete the item (which commits this transaction's other writes with it)."""
    complete_item(item=item, actor=actor, now=now, outcome=CompletionOutcome.RESOLVED, note=note, result=result)


@service
def record_benefits(
    *, item: WorkItem, actor: User, now: datetime, entry: BenefitsEntry, coverage_id: int | None = None,
    complete: bool = False,
) -> BenefitsCheck:  # fmt: skip
    """A benefits result a biller got from the portal or the phone → a manual BenefitsCheck for the coverage. When
    the payer requires prior auth and no authorization covers the session, an obtain-preauth item is added ahead
    of charge entry (unless the chain has one). ``complete`` finishes the item too (not with inactive coverage)."""
    _require_worker(item, actor, frozenset({WorkKind.VERIFY_BENEFITS}))
    errors = check_benefits(entry)
    if complete and entry.active is False:
        errors.append("complete: the coverage is recorded inactive; save it and sort the insurance out first")
    if errors:
        raise ValidationFailed("; ".join(errors))
    session = _session(item)
    coverage = _coverage(session, coverage_id)
    reference = (entry.reference_number or "").strip()
    facts = BenefitsFacts(
        entry.active, entry.in_network, entry.copay, entry.coinsurance_percent, entry.deductible_remaining,
        entry.out_of_pocket_remaining, entry.visits_allowed, entry.visits_remaining, entry.auth_required,
        (entry.carve_out_payer_name or "").strip() or None, (entry.carve_out_payer_id or "").strip() or None,
    )  # fmt: skip
    if len(reference) > 80:
        raise ValidationFailed("reference #: at most 80 characters")
    check = BenefitsCheck(
        practice_id=session.practice_id, patient_id=session.patient_id, coverage_id=coverage.id,
        payer_id=coverage.payer_id, checked_at=now, source="manual", active=facts.active, in_network=facts.in_network,
        copay=facts.copay, coinsurance_percent=facts.coinsurance_percent,
        deductible_remaining=facts.deductible_remaining, out_of_pocket_remaining=facts.out_of_pocket_remaining,
        visits_allowed=facts.visits_allowed, visits_remaining=facts.visits_remaining, auth_required=facts.auth_required,
        carve_out_payer_name=facts.carve_out_payer_name, carve_out_payer_id=facts.carve_out_payer_id,
        messages=[f"reference # {reference}"] if reference else [], work_item_id=item.id, actor_user_id=actor.id,
    )  # fmt: skip
    db.session.add(check)
    db.session.flush()
    line = f"Benefits entered ({coverage.priority.value}): {summary(facts)}"
    line += f"; ref {reference}" if reference else ""
    record_interaction(
        practice_id=item.practice_id, actor=actor, kind=InteractionKind.NOTE, now=now, item=item, body=line,
        reference_number=reference or None, data={"benefits_check_id": check.id, "coverage_id": coverage.id},
    )  # fmt: skip
    decided = _plan_preauth(item, session, coverage, now) if facts.auth_required else None
    if decided:
        record_interaction(practice_id=item.practice_id, actor=actor, kind=InteractionKind.NOTE, now=now, item=item,
                           body=decided)  # fmt: skip
    if complete:
        _finish(item, actor, now, f"Completed: benefits verified (check {check.id})", {"benefits_check_id": check.id})
    else:
        db.session.commit()
    return check


def missing_authorizations(session: Session, coverage: Coverage) -> list[str]:
    """The session's CPTs that need an authorization none on file covers, the planner's way (planning_rules): the
    first coded CPT (the benefits said auth is required) and every coded CPT the payer lists for prior auth."""
    if str(coverage.payer.kind) == "self_pay":
        return []  # no insurer to authorize anything
    coded = queries.scrub_lines(session, None, today=session.date_of_service)
    cpts = list(dict.fromkeys(line["cpt"] for line in coded[0].lines)) if coded else []
    required = sorted(set(cpts[:1]) | (set(cpts) & set(coverage.payer.prior_auth_cpts or ())))
    day = session.date_of_service
    return [c for c in required if not queries.usable_authorization(session.patient_id, coverage.payer_id, day, [c])]


def _plan_preauth(item: WorkItem, session: Session, coverage: Coverage, now: datetime) -> str | None:
    """Auth required and nothing on file covers the session: add the obtain-preauth step (once per session, only if
    the practice contracted us for it) and make the session's charge entry wait for it, as the planned chain would
    (verify → preauth → enter charge). Returns what was decided, for the log."""
    missing = missing_authorizations(session, coverage)
    if not missing:
        return None
    if queries.chain_item(session.id, WorkKind.OBTAIN_PREAUTH) is not None:
        return f"prior auth needed for {', '.join(missing)}: the chain already has its obtain-preauth step"
    if WorkKind.OBTAIN_PREAUTH not in (session.practice.owned_steps or ()):
        return f"prior auth needed for {', '.join(missing)}: the practice obtains authorizations itself, tell them"
    preauth, created = add_item(
        practice_id=session.practice_id, kind=WorkKind.OBTAIN_PREAUTH, now=now, session_id=session.id,
        dedupe_key=f"session:{session.id}:{WorkKind.OBTAIN_PREAUTH}", source="benefits entry",
        reason=f"benefits check on item #{item.id} says prior auth is required; no authorization with units left "
        f"covers {', '.join(missing)}",
    )  # fmt: skip
    charge = queries.chain_item(session.id, WorkKind.ENTER_CHARGE)
    if created and charge is not None and charge.state == ItemState.BLOCKED:
        db.session.add(WorkItemDependency(item_id=charge.id, depends_on_id=preauth.id))
    return f"prior auth needed for {', '.join(missing)}: added obtain-preauth item #{preauth.id}"


@service
def record_authorization(
    *, item: WorkItem, actor: User, now: datetime, number: str, cpt_text: str, authorized: int | None,
    start: date | None, end: date | None, counts_visits: bool = True, coverage_id: int | None = None,
) -> Authorization:  # fmt: skip
    """A prior authorization the payer granted → an Authorization for the patient and payer; completes the item.
    For a re-authorization the patient and payer are the expiring authorization's."""
    _require_worker(item, actor, frozenset({WorkKind.OBTAIN_PREAUTH, ExceptionKind.REAUTHORIZE}))
    cpts, cpt_errors = parse_cpts(cpt_text)
    errors = [e for e in check_authorization(number=number, cpts=cpts, authorized=authorized, start=start, end=end)
              if not e.startswith("CPT codes")] + cpt_errors  # fmt: skip
    if errors:
        raise ValidationFailed("; ".join(errors))
    previous = db.session.get(Authorization, item.authorization_id) if item.authorization_id else None
    if previous is not None:
        patient_id, payer_id = previous.patient_id, previous.payer_id
    else:
        coverage = _coverage(_session(item), coverage_id)
        patient_id, payer_id = coverage.patient_id, coverage.payer_id
    number = number.strip()
    if any(a.number == number for a in queries.authorizations_for(patient_id, payer_id)):
        raise ValidationFailed(f"authorization number: {number} is already on file for this payer")
    auth = Authorization(
        patient_id=patient_id, payer_id=payer_id, number=number, cpt_codes=cpts, counts_visits=counts_visits,
        authorized=authorized, used=0, start_date=start, end_date=end,
    )  # fmt: skip
    db.session.add(auth)
    db.session.flush()
    unit = "visits" if counts_visits else "units"
    body = f"Authorization {number} entered: {', '.join(cpts)}; {authorized} {unit}; {start:%Y-%m-%d} to {end:%Y-%m-%d}"
    record_interaction(
        practice_id=item.practice_id, actor=actor, kind=InteractionKind.NOTE, now=now, item=item, body=body,
        reference_number=number, data={"authorization_id": auth.id},
    )  # fmt: skip
    _finish(item, actor, now, f"Completed: authorization {number} on file", {"authorization_id": auth.id})
    return auth


def _take_version(claim: Claim) -> None:
    """Bump the claim's version with a guarded UPDATE: of two people saving the same version, one wins."""
    seen = claim.version
    result = db.session.execute(
        update(Claim)
        .where(Claim.id == claim.id, Claim.version == seen, Claim.status.in_(list(EDITABLE_CLAIM)))
        .values(version=seen + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict(f"claim {claim.account_number} was changed by someone else; reload it")
    db.session.refresh(claim)


def parse_lines(raw_lines: Sequence[Mapping[str, object]], diagnosis_count: int) -> list[Any]:
    """Lines from a form or JSON (blank rows skipped) → LineEdits, or ValidationFailed naming line and field."""
    edits, errors = [], []
    rows = [row for row in raw_lines if any(str(v or "").strip() for v in row.values())]
    for number, row in enumerate(rows, start=1):
        edit, problems = parse_line(dict(row), number)
        errors.extend(problems)
        if edit is not None:
            edits.append(edit)
    if not errors:
        errors = check_lines(edits, diagnosis_count)
    if errors:
        raise ValidationFailed("; ".join(errors))
    return edits


@service
def save_claim_lines(
    *, item: WorkItem, actor: User, now: datetime, lines: Sequence[Mapping[str, object]], version: int | None,
    finish: bool = False,
) -> Claim:  # fmt: skip
    """Save a biller's claim lines: the claim (created for a charge-entry item that has none) takes them as its next
    version, re-scrubbed and re-priced: ``scrubbed`` when clean, ``draft`` with the findings otherwise. A rejected
    claim is reopened as an original (frequency 1: it was never filed). ``finish`` completes the item: an audit
    or a rejection fix only with no scrubber error, and a fixed rejection gets its submit step."""
    _require_worker(item, actor, LINE_KINDS)
    session = _session(item)
    claim = queries.claim_for(item)
    if claim is not None and claim.status not in EDITABLE_CLAIM:
        raise InvalidTransition(f"claim {claim.account_number} is {claim.status}; its lines can no longer be edited")
    if claim is not None and version is not None and claim.version != version:
        raise Conflict(f"claim {claim.account_number} changed since you opened it (version {claim.version}); reload")
    if item.kind == ExceptionKind.FIX_REJECTION and claim is None:
        raise ValidationFailed("claim: this rejection has no claim to correct")
    edits = parse_lines(lines, len(session.diagnoses or ()))
    today = now.astimezone(ZoneInfo(session.practice.timezone)).date()
    scrubbed = queries.scrub_lines(session, edits, today=today)
    if scrubbed is None:
        raise ValidationFailed("coverage: the patient has no primary coverage in force on the date of service")
    preview, coverage = scrubbed
    if str(coverage.payer.kind) == "self_pay":
        raise ValidationFailed("coverage: self-pay session, there is no insurance claim")
    blocked = preview.errors > 0
    if finish and blocked and item.kind != WorkKind.ENTER_CHARGE:
        rules = ", ".join(sorted({f["rule"] for f in preview.findings if f["severity"] == "error"}))
        raise ValidationFailed(f"complete: scrubber errors block it ({rules}); save the lines without completing")
    before = str(claim.status) if claim is not None else None
    if claim is None:
        claim = Claim(
            practice_id=session.practice_id, session_id=session.id, patient_id=session.patient_id,
            account_number=account_number(session), frequency_code="1", created_at=now, lines=[], version=1,
        )  # fmt: skip
        db.session.add(claim)
    else:
        _take_version(claim)
        claim.lines.clear()
        db.session.flush()  # the old lines go before the new ones take their line numbers
    claim.lines.extend(preview.claim_lines)
    claim.status = ClaimStatus.DRAFT if blocked else ClaimStatus.SCRUBBED
    claim.payer_id, claim.coverage_id, claim.findings = coverage.payer_id, coverage.id, preview.findings
    claim.total_charge = preview.total
    if before == ClaimStatus.REJECTED:
        claim.frequency_code = "1"
        claim.status_category = claim.status_at = claim.submitted_at = claim.accepted_at = None
    db.session.flush()
    if finish and item.kind == ExceptionKind.FIX_REJECTION:
        refuse_unchanged(claim, "correct and resubmit")
    if claim.version > 1:  # the version before it, as billed, is kept by the submission or the earlier save
        record_version(claim, kind="correction", reason=f"claim lines saved on item #{item.id}", now=now, actor=actor)
    codes = ", ".join(f"{x.cpt}{'-' + '-'.join(x.modifiers) if x.modifiers else ''}" for x in preview.claim_lines)
    body = f"Claim lines saved as version {claim.version}: {codes}; " + (
        f"{preview.errors} scrubber error(s) to fix" if blocked else "scrubbed clean"
    )
    record_interaction(
        practice_id=item.practice_id, actor=actor, kind=InteractionKind.STATUS_CHANGE, now=now, item=item,
        claim_id=claim.id, from_state=before, to_state=str(claim.status), body=body,
        data={"findings": [f["rule"] for f in preview.findings], "version": claim.version},
    )  # fmt: skip
    if finish and item.kind == ExceptionKind.FIX_REJECTION:
        add_item(
            practice_id=claim.practice_id, kind=WorkKind.SUBMIT, now=now, claim_id=claim.id, session_id=session.id,
            mode=Mode.AUTOMATED, dedupe_key=f"claim:{claim.id}:v{claim.version}:resubmit", source="rejection fix",
            reason=f"corrected claim {claim.account_number} version {claim.version}: resubmit as an original",
        )  # fmt: skip
    if finish:
        done = {WorkKind.ENTER_CHARGE: "charge entered", WorkKind.AUDIT: "audit passed"}.get(
            item.kind, "corrected, resubmission queued"
        )
        _finish(item, actor, now, f"Completed: {done} (claim version {claim.version})",
                {"claim_id": claim.id, "claim_version": claim.version})  # fmt: skip
    else:
        db.session.commit()
    return claim
