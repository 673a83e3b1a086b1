"""Corrections (billing-rules §5.2): fix a draft or rejected claim's header, replace (frequency 7) or void
(frequency 8) an adjudicated claim with the payer's claim number, fix a coverage and rebill the claim to the right
payer as a new original. Each makes a new claim version with its reason (``claims.versions``), logged on the
claim, re-scrubbed and queued for the normal submission path (an automated submit item); nothing is overwritten."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from backoffice import signals
from backoffice.accounts.models import User
from backoffice.claims.models import Claim, ClaimLine
from backoffice.claims.rules import (
    ORIGINAL,
    REPLACEMENT,
    VOID,
    ClaimStatus,
    billed_content_equal,
    can_move,
    correction_problem,
)
from backoffice.claims.versions import last_submitted_version, record_version, snapshot
from backoffice.coding import icd10
from backoffice.deadlines.rules import Deadline, corrected_claim_deadline, days_left
from backoffice.errors import Conflict, InvalidTransition, NotAllowed, ValidationFailed
from backoffice.extensions import db
from backoffice.inputs import InputProblem, x12_text
from backoffice.itemforms.queries import as_edits, scrub_lines
from backoffice.itemforms.rules import LineEdit, check_lines, parse_line
from backoffice.orgs.models import Payer, Practice, Provider
from backoffice.patients.models import Coverage, Patient
from backoffice.remits.models import PaymentAdjustment
from backoffice.scrubber.queries import primary_coverage
from backoffice.services_base import service
from backoffice.sessions.models import Session
from backoffice.work.chains import add_item
from backoffice.work.log import record_interaction
from backoffice.work.models import WorkItem
from backoffice.work.rules import OPEN_STATES, CompletionOutcome, ExceptionKind, InteractionKind, Mode, WorkKind
from backoffice.work.services import complete_item

EDITABLE = frozenset({ClaimStatus.DRAFT, ClaimStatus.SCRUBBED, ClaimStatus.REJECTED})
# The open items a correction resolves: the rejection to fix, the denial to work.
RESOLVED_KINDS = (ExceptionKind.FIX_REJECTION, ExceptionKind.WORK_DENIAL)


@dataclass(frozen=True)
class HeaderEdit:
    """Header fields to correct; None leaves a field as it is ("" clears the authorization number)."""

    date_of_service: date | None = None
    patient_first_name: str | None = None
    patient_last_name: str | None = None
    patient_date_of_birth: date | None = None
    patient_sex: str | None = None
    member_id: str | None = None
    group_number: str | None = None
    payer_id: int | None = None  # our Payer row
    subscriber_first_name: str | None = None
    subscriber_last_name: str | None = None
    subscriber_date_of_birth: date | None = None
    diagnoses: tuple[str, ...] | None = None
    auth_number: str | None = None
    rendering_provider_id: int | None = None

    def given(self) -> dict[str, Any]:
        """The fields the edit sets."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


COVERAGE_FIELDS = frozenset(
    {"member_id", "group_number", "payer_id", "subscriber_first_name", "subscriber_last_name",
     "subscriber_date_of_birth"}
)  # fmt: skip


@dataclass
class Correction:
    """What a correction made: the claim that goes out, warnings to show (past the corrected-claim deadline), the
    submit item queued (None while scrubber errors hold it as a draft)."""

    claim: Claim
    warnings: list[str] = field(default_factory=list)
    submit_item_id: int | None = None


# ---- reads --------------------------------------------------------------------------------------------------------


def practice_today(claim: Claim, now: datetime) -> date:
    """The practice's calendar day at ``now``."""
    practice = db.session.get(Practice, claim.practice_id)
    return now.astimezone(ZoneInfo(practice.timezone)).date()


def first_date_of_service(claim: Claim) -> date | None:
    """The claim's earliest line date (its session's date when it has no lines)."""
    days = [line.date_of_service for line in claim.lines]
    if days:
        return min(days)
    session = db.session.get(Session, claim.session_id) if claim.session_id else None
    return session.date_of_service if session else None


def correction_deadline(claim: Claim) -> Deadline | None:
    """The last day for a replacement of ``claim``: the payer's corrected-claim window after the determination,
    else its timely-filing window (Medicare: the reopening year). None before the payer adjudicated it."""
    payer = db.session.get(Payer, claim.payer_id)
    dos = first_date_of_service(claim)
    if claim.adjudicated_at is None or payer is None or dos is None:
        return None
    return corrected_claim_deadline(
        date_of_service=dos, determination_date=claim.adjudicated_at.date(), payer_kind=str(payer.kind),
        filing_limit_days=payer.filing_limit_days, correction_window_days=payer.corrected_claim_window_days,
    )  # fmt: skip


def deadline_warning(claim: Claim, today: date) -> str | None:
    """A warning when today is past the payer's corrected-claim limit (the correction still goes: the payer
    decides, and a reopening or an appeal may still be open)."""
    deadline = correction_deadline(claim)
    if deadline is None or days_left(deadline.due, today) >= 0:
        return None
    return (
        f"past the corrected-claim limit ({deadline.due:%Y-%m-%d}, {-days_left(deadline.due, today)} days ago): "
        f"the payer may deny it as untimely; {deadline.basis}"
    )


# ---- helpers ------------------------------------------------------------------------------------------------------


def _require_same_org(claim: Claim, actor: User | None) -> None:
    practice = db.session.get(Practice, claim.practice_id)
    if actor is not None and practice.organization_id != actor.organization_id:
        raise NotAllowed(f"claim {claim.id} is not in your organization")


def _session_of(claim: Claim) -> Session:
    session = db.session.get(Session, claim.session_id) if claim.session_id else None
    if session is None:
        raise ValidationFailed(f"claim {claim.account_number}: no session to correct it from")
    return session


def _take_version(claim: Claim, seen: int | None, allowed: frozenset[ClaimStatus]) -> None:
    """Bump the claim's version with a guarded UPDATE: of two people correcting the same version, one wins."""
    if seen is not None and seen != claim.version:
        raise Conflict(f"claim {claim.account_number} changed since you opened it (version {claim.version}); reload")
    result = db.session.execute(
        update(Claim)
        .where(Claim.id == claim.id, Claim.version == claim.version, Claim.status.in_([s.value for s in allowed]))
        .values(version=claim.version + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict(f"claim {claim.account_number} was changed by someone else; reload it")
    db.session.refresh(claim)


def _text(value: str, name: str, limit: int) -> str:
    try:
        cleaned = x12_text(value, max_length=limit)
    except InputProblem as problem:
        raise ValidationFailed(f"{name}: {problem}") from None
    if not cleaned:
        raise ValidationFailed(f"{name}: cannot be empty")
    return cleaned


def _optional_text(value: str, name: str, limit: int) -> str | None:
    try:
        return x12_text(value, max_length=limit) or None
    except InputProblem as problem:
        raise ValidationFailed(f"{name}: {problem}") from None


def _set(target: Any, attribute: str, value: Any, label: str, changed: list[str]) -> None:
    if getattr(target, attribute) != value:
        setattr(target, attribute, value)
        changed.append(label)


def _apply_coverage(coverage: Coverage, edit: HeaderEdit, organization_id: int, changed: list[str]) -> None:
    if edit.member_id is not None:
        _set(coverage, "member_id", _text(edit.member_id, "member ID", 40), "member ID", changed)
    if edit.group_number is not None:
        _set(coverage, "group_number", _optional_text(edit.group_number, "group number", 40), "group number", changed)
    if edit.payer_id is not None:
        payer = db.session.get(Payer, edit.payer_id)
        if payer is None or payer.organization_id != organization_id:
            raise ValidationFailed("payer: choose one of your organization's payers")
        if str(payer.kind) == "self_pay":
            raise ValidationFailed("payer: self-pay is not an insurance payer; there would be no claim to send")
        _set(coverage, "payer_id", payer.id, "payer", changed)
    if edit.subscriber_first_name is not None:
        name = _text(edit.subscriber_first_name, "subscriber first name", 100)
        _set(coverage, "subscriber_first_name", name, "subscriber first name", changed)
    if edit.subscriber_last_name is not None:
        name = _text(edit.subscriber_last_name, "subscriber last name", 100)
        _set(coverage, "subscriber_last_name", name, "subscriber last name", changed)
    if edit.subscriber_date_of_birth is not None:
        _set(coverage, "subscriber_date_of_birth", edit.subscriber_date_of_birth, "subscriber date of birth", changed)


def _apply_header(claim: Claim, session: Session, edit: HeaderEdit, today: date) -> list[str]:
    """Apply ``edit`` to the records the claim bills from (session, patient, coverage); the names of the fields
    that changed. ValidationFailed names the field; nothing is kept of a refused edit (the caller rolls back)."""
    practice = db.session.get(Practice, claim.practice_id)
    changed: list[str] = []
    if edit.date_of_service is not None:
        if edit.date_of_service > today:
            raise ValidationFailed("date of service: cannot be in the future")
        if session.date_of_service != edit.date_of_service:
            session.date_of_service = edit.date_of_service
            for line in claim.lines:
                line.date_of_service = edit.date_of_service
            changed.append("date of service")
    patient = db.session.get(Patient, session.patient_id)
    if edit.patient_first_name is not None:
        _set(patient, "first_name", _text(edit.patient_first_name, "patient first name", 100), "patient first name",
             changed)  # fmt: skip
    if edit.patient_last_name is not None:
        _set(patient, "last_name", _text(edit.patient_last_name, "patient last name", 100), "patient last name",
             changed)  # fmt: skip
    if edit.patient_date_of_birth is not None:
        if edit.patient_date_of_birth > today:
            raise ValidationFailed("patient date of birth: cannot be in the future")
        _set(patient, "date_of_birth", edit.patient_date_of_birth, "patient date of birth", changed)
    if edit.patient_sex is not None:
        if edit.patient_sex not in ("F", "M", "U"):
            raise ValidationFailed("patient sex: F, M or U")
        if str(patient.sex) != edit.patient_sex:
            patient.sex = edit.patient_sex
            changed.append("patient sex")
    if any(name in COVERAGE_FIELDS for name in edit.given()):
        coverage = db.session.get(Coverage, claim.coverage_id) if claim.coverage_id else None
        if coverage is None:
            raise ValidationFailed(f"claim {claim.account_number}: no coverage on the claim to correct")
        _apply_coverage(coverage, edit, practice.organization_id, changed)
    if edit.diagnoses is not None:
        codes = [icd10.display(code) for code in edit.diagnoses if code.strip()]
        if not codes or len(codes) > 12:
            raise ValidationFailed("diagnoses: one to twelve ICD-10-CM codes")
        for number, code in enumerate(codes, start=1):
            problem = icd10.format_problem(code) or (
                icd10.billable_problem(code, session.date_of_service) if icd10.covers(session.date_of_service) else None
            )  # a code set that does not cover the date cannot judge the code; the scrubber warns about it
            if problem:
                raise ValidationFailed(f"diagnosis {number}: {problem}")
        _set(session, "diagnoses", codes, "diagnoses", changed)
    if edit.auth_number is not None:
        number = _optional_text(edit.auth_number, "authorization number", 50)
        _set(session, "auth_number", number, "authorization number", changed)
    if edit.rendering_provider_id is not None:
        provider = db.session.get(Provider, edit.rendering_provider_id)
        if provider is None or provider.practice_id != claim.practice_id:
            raise ValidationFailed("rendering provider: choose one of the practice's clinicians")
        _set(session, "provider_id", provider.id, "rendering provider", changed)
    db.session.flush()
    db.session.refresh(session)
    return changed


def parse_line_edits(raw: Sequence[Mapping[str, object]], diagnosis_count: int) -> list[LineEdit]:
    """Lines from a form (blank rows skipped) → LineEdits, or ValidationFailed naming the line and field."""
    edits, errors = [], []
    rows = [row for row in raw if any(str(v or "").strip() for v in row.values())]
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


LINE_FIELDS = ("date_of_service", "cpt", "modifiers", "units", "place_of_service", "diagnosis_pointers", "charge")


def _store_lines(claim: Claim, lines: Sequence[ClaimLine]) -> None:
    """The claim's lines become ``lines``, updated in place by position: an adjudicated line keeps its row (its
    payments and adjustments point at it; the kept versions hold what it billed before). A line with postings
    cannot be dropped."""
    current = list(claim.lines)
    for row, new in zip(current, lines, strict=False):
        for name in LINE_FIELDS:
            setattr(row, name, getattr(new, name))
    for row in current[len(lines) :]:
        posted = db.session.scalar(select(PaymentAdjustment.id).where(PaymentAdjustment.claim_line_id == row.id))
        if posted is not None or row.paid_amount:
            raise ValidationFailed(f"line {row.line_number}: the payer adjudicated it; it cannot be dropped")
        claim.lines.remove(row)
    db.session.flush()
    for number, new in enumerate(lines[len(current) :], start=len(current) + 1):
        new.line_number = number
        claim.lines.append(new)


def _rescrub(claim: Claim, session: Session, today: date, lines: Sequence[LineEdit] | None = None) -> int:
    """Scrub the claim's lines (or ``lines``) again after a change and store the result: priced lines, findings,
    total, and (a primary claim) the primary coverage in force. Returns the number of scrubber errors."""
    edits = list(lines) if lines is not None else as_edits(claim.lines)
    scrubbed = scrub_lines(session, edits, today=today)
    if scrubbed is None:
        raise ValidationFailed("coverage: the patient has no primary coverage in force on the date of service")
    preview, coverage = scrubbed
    if str(coverage.payer.kind) == "self_pay":
        raise ValidationFailed("coverage: self-pay, there is no insurance claim to send")
    _store_lines(claim, preview.claim_lines)
    if claim.payer_sequence == "P":
        claim.payer_id, claim.coverage_id = coverage.payer_id, coverage.id
    claim.findings, claim.total_charge = preview.findings, preview.total
    return preview.errors


def refuse_unchanged(claim: Claim, what: str) -> None:
    """A resubmission must change something: ValidationFailed when the claim bills exactly what its last
    submitted version did."""
    sent = last_submitted_version(claim)
    if sent is not None and billed_content_equal(sent.snapshot, snapshot(claim)):
        raise ValidationFailed(
            f"{what}: nothing changed since version {sent.version} was sent; correct what the payer named first"
        )


def queue_submission(claim: Claim, now: datetime, why: str, source: str) -> WorkItem | None:
    """The claim's current version goes through the normal submission path: an automated submit item (once per
    version). None while the claim is a draft with scrubber errors."""
    if claim.status != ClaimStatus.SCRUBBED:
        return None
    item, _ = add_item(
        practice_id=claim.practice_id, kind=WorkKind.SUBMIT, now=now, claim_id=claim.id, session_id=claim.session_id,
        mode=Mode.AUTOMATED, dedupe_key=f"claim:{claim.id}:v{claim.version}:submit", source=source, reason=why,
    )  # fmt: skip
    return item


def _open_items(claim_ids: Sequence[int], kinds: Sequence[str]) -> list[WorkItem]:
    return list(
        db.session.scalars(
            select(WorkItem)
            .where(WorkItem.claim_id.in_(list(claim_ids)), WorkItem.kind.in_([str(k) for k in kinds]),
                   WorkItem.state.in_([s.value for s in OPEN_STATES]))
            .order_by(WorkItem.id)
        )
    )  # fmt: skip


def _commit_closing(claim: Claim, now: datetime, note: str, result: Mapping[str, Any]) -> None:
    """Close the claim's open rejection and denial items (their reason is resolved), committing this transaction
    with them; just commit when there are none."""
    items = _open_items([claim.id], RESOLVED_KINDS)
    if not items:
        db.session.commit()
        return
    for item in items:
        complete_item(item=item, actor=None, actor_label="correction", now=now, outcome=CompletionOutcome.RESOLVED,
                      note=note, result=result)  # fmt: skip


def _log(claim: Claim, actor: User | None, now: datetime, before: str, body: str, data: Mapping[str, Any]) -> None:
    record_interaction(
        practice_id=claim.practice_id, actor=actor, actor_label="correction", kind=InteractionKind.STATUS_CHANGE,
        now=now, session_id=claim.session_id, claim_id=claim.id, from_state=before, to_state=str(claim.status),
        body=body[:4000], data=dict(data),
    )  # fmt: skip


def _reason(reason: str) -> str:
    cleaned = " ".join((reason or "").split())
    if not cleaned:
        raise ValidationFailed("reason: say why the claim is corrected")
    if len(cleaned) > 400:
        raise ValidationFailed("reason: at most 400 characters")
    return cleaned


# ---- use cases ----------------------------------------------------------------------------------------------------


@service
def correct_claim(
    *, claim: Claim, actor: User | None, now: datetime, edit: HeaderEdit, reason: str, version: int | None = None,
    resubmit: bool = False,
) -> Correction:  # fmt: skip
    """Correct the header of a draft, scrubbed or front-end-rejected claim (never filed: it stays an original,
    frequency 1) as its next version, re-scrubbed. ``resubmit`` queues the submission (refused when the claim is
    unchanged since it was sent, or still has scrubber errors) and closes the rejection item."""
    _require_same_org(claim, actor)
    reason = _reason(reason)
    if claim.status not in EDITABLE:
        raise InvalidTransition(
            f"claim {claim.account_number} is {claim.status}; an adjudicated claim is corrected by a replacement"
        )
    session = _session_of(claim)
    today = practice_today(claim, now)
    record_version(claim, kind="original" if claim.version == 1 else "correction", reason="as billed", now=now)
    before = str(claim.status)
    _take_version(claim, version, EDITABLE)
    changed = _apply_header(claim, session, edit, today)
    errors = _rescrub(claim, session, today)
    claim.status = ClaimStatus.DRAFT if errors else ClaimStatus.SCRUBBED
    if before == ClaimStatus.REJECTED:
        claim.frequency_code = ORIGINAL
        claim.status_category = claim.status_at = claim.submitted_at = claim.accepted_at = None
    if resubmit:
        if errors:
            raise ValidationFailed(f"resubmit: {errors} scrubber error(s) block it; save the correction without it")
        refuse_unchanged(claim, "resubmit")
    kept = record_version(claim, kind="correction", reason=reason, now=now, actor=actor)
    item = queue_submission(claim, now, f"corrected claim {claim.account_number} version {claim.version}: {reason}",
                            "correction") if resubmit else None  # fmt: skip
    what = ", ".join(changed) or "no header field"
    body = (
        f"Corrected as version {claim.version} ({what}): {reason}; "
        + (f"{errors} scrubber error(s) to fix" if errors else "scrubbed clean")
        + ("; resubmission queued" if item else "")
    )
    _log(claim, actor, now, before, body, {"version": claim.version, "changed": changed,
                                           "claim_version_id": kept.id if kept else None})  # fmt: skip
    if item is not None:
        _commit_closing(claim, now, f"Completed: corrected as version {claim.version}, resubmission queued",
                        {"claim_id": claim.id, "claim_version": claim.version})  # fmt: skip
    else:
        db.session.commit()
    return Correction(claim, [], item.id if item else None)


@service
def replace_claim(
    *, claim: Claim, actor: User | None, now: datetime, reason: str, edit: HeaderEdit | None = None,
    lines: Sequence[Mapping[str, object]] | None = None, version: int | None = None,
) -> Correction:  # fmt: skip
    """A replacement (frequency 7, REF*F8 the payer's claim number) of an adjudicated claim, with the header and
    line corrections given, as the claim's next version: re-scrubbed, refused when it changes nothing, queued for
    submission when clean. Past the payer's corrected-claim limit it still goes, with a warning logged."""
    _require_same_org(claim, actor)
    reason = _reason(reason)
    problem = correction_problem(status=str(claim.status), frequency=claim.frequency_code,
                                 payer_claim_number=claim.payer_claim_number, correction=REPLACEMENT)  # fmt: skip
    if problem:
        raise InvalidTransition(f"claim {claim.account_number}: {problem}")
    session = _session_of(claim)
    today = practice_today(claim, now)
    warning = deadline_warning(claim, today)
    record_version(claim, kind="original" if claim.version == 1 else "correction", reason="as billed", now=now)
    before = str(claim.status)
    _take_version(claim, version, frozenset({ClaimStatus(before)}))
    changed = _apply_header(claim, session, edit, today) if edit is not None else []
    edits = parse_line_edits(lines, len(session.diagnoses or ())) if lines is not None else None
    errors = _rescrub(claim, session, today, edits)
    claim.frequency_code = REPLACEMENT
    refuse_unchanged(claim, "replacement")
    new = ClaimStatus.DRAFT if errors else ClaimStatus.SCRUBBED
    if not can_move(ClaimStatus(before), new):  # pragma: no cover - ADJUDICATED statuses all allow it
        raise InvalidTransition(f"claim {claim.account_number}: cannot move from {before} to {new}")
    claim.status = new
    claim.status_category = claim.status_at = claim.accepted_at = None
    kept = record_version(claim, kind="replacement", reason=reason, now=now, actor=actor)
    item = queue_submission(claim, now, f"replacement (7) of claim {claim.account_number} version {claim.version}: "
                            f"{reason}", "replacement")  # fmt: skip
    body = (
        f"Replacement (frequency 7, REF*F8 {claim.payer_claim_number}) as version {claim.version} "
        f"({', '.join(changed + (['lines'] if edits is not None else [])) or 'no field'} changed): {reason}; "
        + (f"{errors} scrubber error(s) to fix before it goes" if errors else "scrubbed clean, submission queued")
        + (f"; WARNING {warning}" if warning else "")
    )
    data = {"version": claim.version, "changed": changed, "frequency": REPLACEMENT, "warning": warning,
            "claim_version_id": kept.id if kept else None}  # fmt: skip
    _log(claim, actor, now, before, body, data)
    _commit_closing(claim, now, f"Completed: replacement claim (version {claim.version}) made",
                    {"claim_id": claim.id, "claim_version": claim.version, "action": "replace"})  # fmt: skip
    return Correction(claim, [warning] if warning else [], item.id if item else None)


@service
def void_claim(
    *, claim: Claim, actor: User | None, now: datetime, reason: str, version: int | None = None
) -> Correction:
    """A void (frequency 8, REF*F8) of an adjudicated claim as its next version, queued for submission; when the
    payer accepts it the claim closes and ``claim-voided`` is sent (authorization units go back)."""
    _require_same_org(claim, actor)
    reason = _reason(reason)
    problem = correction_problem(status=str(claim.status), frequency=claim.frequency_code,
                                 payer_claim_number=claim.payer_claim_number, correction=VOID)  # fmt: skip
    if problem:
        raise InvalidTransition(f"claim {claim.account_number}: {problem}")
    _session_of(claim)
    record_version(claim, kind="original" if claim.version == 1 else "correction", reason="as billed", now=now)
    before = str(claim.status)
    _take_version(claim, version, frozenset({ClaimStatus(before)}))
    claim.frequency_code, claim.status = VOID, ClaimStatus.SCRUBBED  # a void repeats the claim; nothing to scrub
    claim.status_category = claim.status_at = claim.accepted_at = None
    kept = record_version(claim, kind="void", reason=reason, now=now, actor=actor)
    item = queue_submission(claim, now, f"void (8) of claim {claim.account_number}: {reason}", "void")
    _log(claim, actor, now, before,
         f"Void (frequency 8, REF*F8 {claim.payer_claim_number}) as version {claim.version}: {reason}; "
         "submission queued", {"version": claim.version, "frequency": VOID,
                               "claim_version_id": kept.id if kept else None})  # fmt: skip
    _commit_closing(claim, now, f"Completed: claim voided (version {claim.version})",
                    {"claim_id": claim.id, "claim_version": claim.version, "action": "void"})  # fmt: skip
    return Correction(claim, [], item.id if item else None)


def close_accepted_void(claim: Claim, now: datetime, source: str) -> None:
    """The payer accepted a void: the claim closes (logged) and ``claim-voided`` tells the features (authorization
    units are given back). Runs in the caller's transaction."""
    before = str(claim.status)
    claim.status = ClaimStatus.CLOSED
    _log(claim, None, now, before, f"Void accepted ({source}): claim closed", {"version": claim.version})
    signals.claim_voided.send(claim, now=now)


@service
def fix_coverage(*, claim: Claim, actor: User | None, now: datetime, edit: HeaderEdit, reason: str) -> list[str]:
    """Correct the coverage a claim was billed under (payer, member ID, group, subscriber), e.g. before a rebill
    after a wrong-payer denial. Logged on the claim with the fields changed; the claim's kept versions still
    show what was billed. Returns the fields changed."""
    _require_same_org(claim, actor)
    reason = _reason(reason)
    if set(edit.given()) - COVERAGE_FIELDS:
        raise ValidationFailed("coverage: only payer, member ID, group and subscriber can be fixed here")
    coverage = db.session.get(Coverage, claim.coverage_id) if claim.coverage_id else None
    if coverage is None:
        raise ValidationFailed(f"claim {claim.account_number}: no coverage on the claim to fix")
    record_version(claim, kind="original" if claim.version == 1 else "correction", reason="as billed", now=now)
    changed: list[str] = []
    _apply_coverage(coverage, edit, db.session.get(Practice, claim.practice_id).organization_id, changed)
    if not changed:
        raise ValidationFailed("coverage: nothing changed")
    record_interaction(
        practice_id=claim.practice_id, actor=actor, actor_label="correction", kind=InteractionKind.NOTE, now=now,
        session_id=claim.session_id, claim_id=claim.id, body=f"Coverage fixed ({', '.join(changed)}): {reason}",
        data={"coverage_id": coverage.id, "changed": changed},
    )  # fmt: skip
    db.session.commit()
    return changed


def _rebill_number(claim: Claim) -> str:
    """CLM01 of a rebill: the original's, cut to fit, with -R<n> (unique, at most 38 characters)."""
    n = 1
    while True:
        suffix = f"-R{n}"
        number = f"{claim.account_number[: 38 - len(suffix)]}{suffix}"
        if db.session.scalar(select(Claim.id).where(Claim.account_number == number)) is None:
            return number
        n += 1


@service
def rebill_claim(*, claim: Claim, actor: User | None, now: datetime, reason: str) -> Correction:
    """Bill a claim the wrong payer adjudicated or rejected to the payer now on file as a new original claim
    (frequency 1, its own CLM01, pointing at the first); the first claim closes. Refused until the coverage in
    force on the date of service is another payer's (fix the coverage first)."""
    _require_same_org(claim, actor)
    reason = _reason(reason)
    if claim.payer_sequence != "P":
        raise InvalidTransition(f"claim {claim.account_number}: only a primary claim is rebilled here")
    if not can_move(claim.status, ClaimStatus.CLOSED) or claim.status in (ClaimStatus.DRAFT, ClaimStatus.SCRUBBED):
        raise InvalidTransition(f"claim {claim.account_number} is {claim.status}; rebill a denied or rejected claim")
    session = _session_of(claim)
    coverage = primary_coverage(session.patient_id, session.date_of_service)
    if coverage is None:
        raise ValidationFailed("coverage: the patient has no primary coverage in force on the date of service")
    if coverage.payer_id == claim.payer_id:
        raise ValidationFailed(
            "coverage: the primary coverage in force is still the payer this claim went to; fix the coverage first"
        )
    today = practice_today(claim, now)
    record_version(claim, kind="original" if claim.version == 1 else "correction", reason="as billed", now=now)
    new = Claim(
        practice_id=claim.practice_id, session_id=claim.session_id, patient_id=claim.patient_id,
        payer_id=coverage.payer_id, coverage_id=coverage.id, account_number=_rebill_number(claim),
        status=ClaimStatus.DRAFT, frequency_code=ORIGINAL, parent_claim_id=claim.id, created_at=now, version=1,
        lines=[ClaimLine(line_number=x.line_number, date_of_service=x.date_of_service, cpt=x.cpt,
                         modifiers=list(x.modifiers or []), units=x.units, place_of_service=x.place_of_service,
                         diagnosis_pointers=list(x.diagnosis_pointers or []), charge=x.charge) for x in claim.lines],
    )  # fmt: skip
    db.session.add(new)
    db.session.flush()
    errors = _rescrub(new, session, today)
    new.status = ClaimStatus.DRAFT if errors else ClaimStatus.SCRUBBED
    kept = record_version(new, kind="rebill", reason=f"rebilled from claim {claim.account_number}: {reason}", now=now,
                          actor=actor)  # fmt: skip
    before = str(claim.status)
    claim.status = ClaimStatus.CLOSED
    payer = db.session.get(Payer, coverage.payer_id)
    _log(claim, actor, now, before, f"Rebilled to {payer.name} as claim {new.account_number}: {reason}; closed",
         {"rebill_claim_id": new.id})  # fmt: skip
    item = queue_submission(new, now, f"rebill of claim {claim.account_number} to {payer.name}: {reason}", "rebill")
    _log(new, actor, now, "", f"Rebill of claim {claim.account_number} to {payer.name} (new original): {reason}; "
         + (f"{errors} scrubber error(s) to fix" if errors else "scrubbed clean, submission queued"),
         {"parent_claim_id": claim.id, "claim_version_id": kept.id if kept else None})  # fmt: skip
    _commit_closing(claim, now, f"Completed: rebilled to {payer.name} as claim {new.account_number}",
                    {"claim_id": new.id, "action": "rebill"})  # fmt: skip
    return Correction(new, [], item.id if item else None)
