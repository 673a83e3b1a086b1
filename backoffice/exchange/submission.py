"""Submission: scrubbed claims become 837P files with freshly allocated control numbers, handed to each
practice's clearinghouse adapter through an outbox: the file's numbers and submissions are committed first
(status ``sending``), then the file is sent and marked ``written``; a file left ``sending`` (a process killed
in between, a failed send) is sent again with the same numbers by ``resend_unsent_files``. A claim version is
submitted at most once (ClaimSubmission is unique per (claim, version)), so submitting again is a no-op."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from backoffice.claims.models import Claim
from backoffice.claims.rules import ClaimStatus, can_move
from backoffice.claims.versions import record_version
from backoffice.clearinghouse.adapters import clearinghouse_for, connection_for
from backoffice.clearinghouse.base import Clearinghouse
from backoffice.clearinghouse.file_drop import FileDrop
from backoffice.clearinghouse.models import BATCH_KINDS
from backoffice.errors import ValidationFailed
from backoffice.exchange.claim_batches import batches_by_payer, billing_provider_of, stored_claim_entry, submitter_of
from backoffice.exchange.control_numbers import allocate_blocks
from backoffice.exchange.models import ClaimSubmission, EdiFile
from backoffice.extensions import db
from backoffice.orgs.models import Organization, Payer, Practice
from backoffice.remits.queries import prior_payers_for
from backoffice.services_base import service
from backoffice.work.log import record_interaction
from backoffice.work.models import WorkItem
from backoffice.work.rules import InteractionKind, ItemState, Mode, WorkKind
from backoffice.work.services import resume_automated_item
from backoffice.x12.claim837 import MAX_CLAIMS_PER_TRANSACTION, write_837p

log = logging.getLogger(__name__)
# A file still ``sending`` this long after its commit is sent again (a live send takes well under a second).
RESEND_AFTER = timedelta(minutes=2)


# Features that may hold a claim back from submission (a request to the practice flagged as blocking, issue 20)
# register a function: claim ids -> {claim id: why it is held}. A held claim is skipped with that reason and its
# submit step waits.
SubmissionHold = Callable[[Sequence[int]], dict[int, str]]
_HOLDS: list[SubmissionHold] = []


def register_submission_hold(hold: SubmissionHold) -> None:
    """Ask ``hold`` about every claim before it is submitted (registering twice is a no-op)."""
    if hold not in _HOLDS:
        _HOLDS.append(hold)


def held_claims(claim_ids: Sequence[int]) -> dict[int, str]:
    """The claims among ``claim_ids`` that a registered hold keeps back, with why (no patient data)."""
    held: dict[int, str] = {}
    for hold in _HOLDS:
        for claim_id, why in hold(claim_ids).items():
            held.setdefault(claim_id, why)
    return held


@dataclass
class SentFile:
    filename: str
    edi_file_id: int
    practice_id: int
    interchange_control_number: str
    claim_ids: list[int]


@dataclass
class SubmissionResult:
    files: list[SentFile] = field(default_factory=list)
    submitted: list[int] = field(default_factory=list)  # claim ids
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (claim id, why: never patient data)

    def merge(self, other: SubmissionResult) -> None:
        """Add another result's files, submissions and skips to this one."""
        self.files += other.files
        self.submitted += other.submitted
        self.skipped += other.skipped


@service
def submit_claims(
    *,
    organization_id: int,
    claim_ids: Sequence[int],
    now: datetime,
    source: str,
    adapter: Clearinghouse | None = None,
) -> SubmissionResult:
    """Send the scrubbed claims among ``claim_ids`` (one 837P per practice, one batch per payer) through each
    practice's clearinghouse (or ``adapter``); claims not scrubbed or already submitted are skipped and reported."""
    result = SubmissionResult()
    claims = db.session.scalars(
        select(Claim)
        .join(Practice, Practice.id == Claim.practice_id)
        .where(Claim.id.in_(list(claim_ids)), Practice.organization_id == organization_id)
        .order_by(Claim.id)
    ).all()
    found = {claim.id for claim in claims}
    result.skipped += [(cid, "no such claim in this organization") for cid in claim_ids if cid not in found]
    sent_versions = set(
        db.session.execute(
            select(ClaimSubmission.claim_id, ClaimSubmission.claim_version).where(
                ClaimSubmission.claim_id.in_(list(found))
            )
        ).all()
    )
    by_practice: dict[int, list[Claim]] = {}
    held = held_claims(sorted(found))
    for claim in claims:
        if claim.id in held:
            result.skipped.append((claim.id, held[claim.id]))
        elif (claim.id, claim.version) in sent_versions:
            result.skipped.append((claim.id, f"version {claim.version} already submitted"))
        elif claim.status != ClaimStatus.SCRUBBED:
            result.skipped.append((claim.id, f"status {claim.status}, not scrubbed"))
        else:
            by_practice.setdefault(claim.practice_id, []).append(claim)
    organization = db.session.get(Organization, organization_id)
    for practice_id, practice_claims in by_practice.items():
        practice = db.session.get(Practice, practice_id)
        try:
            chosen = adapter or clearinghouse_for(practice, current_app.config["BACKOFFICE_SETTINGS"])
            _submit_practice(organization, practice, practice_claims, chosen, now, source, result)
        except ValidationFailed as error:
            db.session.rollback()
            result.skipped += [(claim.id, str(error)) for claim in practice_claims]
    log.info("submitted %d claim(s) in %d file(s), skipped %d", len(result.submitted), len(result.files),
             len(result.skipped))  # fmt: skip
    return result


def _entries(
    claims: Sequence[Claim], submitter: Any, billing: Any, adapter: Clearinghouse, now: datetime,
    skipped: list[tuple[int, str]],
) -> tuple[list[tuple[Payer, Any]], list[Claim]]:  # fmt: skip
    """Each claim's 837P entry, checked one claim at a time so one bad claim is reported (in ``skipped``) instead
    of spoiling the file."""
    entries, ready = [], []
    for claim in claims:
        try:
            entry = stored_claim_entry(claim, prior_payers_for=prior_payers_for)
            payer = db.session.get(Payer, claim.payer_id)
            alone = batches_by_payer([(payer, entry)], submitter=submitter, receiver=adapter.receiver, billing=billing)
            write_837p(alone, interchange_control_number=1, group_control_number=1, first_transaction_number=1,
                       now=now)  # fmt: skip
        except (ValidationFailed, ValueError) as error:
            skipped.append((claim.id, str(error)))
            continue
        entries.append((payer, entry))
        ready.append(claim)
    return entries, ready


def _submit_practice(
    organization: Organization,
    practice: Practice,
    claims: list[Claim],
    adapter: Clearinghouse,
    now: datetime,
    source: str,
    result: SubmissionResult,
) -> None:
    """The outbox pattern: the file's control numbers and submissions are committed (file status ``sending``)
    before anything leaves, then the file is sent and marked ``written``. A process killed in between leaves a
    ``sending`` file that ``resend_unsent_files`` sends again with the same numbers, so a claim version is never
    sent under two interchanges."""
    submitter, billing = submitter_of(organization), billing_provider_of(practice)
    entries, ready = _entries(claims, submitter, billing, adapter, now, result.skipped)
    if not ready:
        return
    batches = batches_by_payer(entries, submitter=submitter, receiver=adapter.receiver, billing=billing)
    sets = [-(-len(batch.claims) // MAX_CLAIMS_PER_TRANSACTION) for batch in batches]
    numbers = allocate_blocks(organization.id, {"interchange": 1, "group": 1, "transaction": sum(sets)})
    isa, group, first_st = numbers["interchange"], numbers["group"], numbers["transaction"]
    text = write_837p(
        batches, interchange_control_number=isa, group_control_number=group, first_transaction_number=first_st,
        now=now, usage=adapter.usage,
    )  # fmt: skip
    filename = outbound_filename(adapter, "837P", practice.slug, isa)
    edi_file = EdiFile(
        organization_id=organization.id, practice_id=practice.id, direction="outbound", kind="837P",
        filename=filename, sha256=hashlib.sha256(text.encode("ascii")).hexdigest(),
        interchange_control_number=f"{isa:09d}", status="sending",
        summary={"claims": len(ready), "payers": [b.payer.payer_id for b in batches], "transaction_sets": sum(sets)},
        problems=[], created_at=now, processed_at=None,
    )  # fmt: skip
    db.session.add(edi_file)
    db.session.flush()
    by_account = {claim.account_number: claim for claim in ready}
    st = first_st
    for batch in batches:
        for start in range(0, len(batch.claims), MAX_CLAIMS_PER_TRANSACTION):
            for _, _, info in batch.claims[start : start + MAX_CLAIMS_PER_TRANSACTION]:
                _mark_submitted(by_account[info.account_number], edi_file, isa, group, st, now, source)
            st += 1
    try:
        db.session.commit()
    except IntegrityError:  # another submitter filed one of these versions a moment ago
        db.session.rollback()
        result.skipped += [(claim.id, "submitted concurrently by another process") for claim in ready]
        return
    try:
        _send(adapter, practice, edi_file, text, now)
    except (OSError, ValidationFailed) as error:  # committed: resend_unsent_files sends it with the same numbers
        db.session.rollback()
        log.warning("837P %s committed but not sent (%s); it will be resent", edi_file.id, type(error).__name__)
    result.files.append(SentFile(filename, edi_file.id, practice.id, f"{isa:09d}", [c.id for c in ready]))
    result.submitted += [claim.id for claim in ready]


def outbound_filename(adapter: Clearinghouse, kind: str, practice_slug: str, control: int) -> str:
    """The adapter's profile's file name for an interchange, else ``<kind>-<practice>-<ISA13>.x12``."""
    naming = getattr(adapter, "filename_for", None)
    if naming is not None:
        return naming(kind=kind, practice=practice_slug, control=control)
    return f"{kind}-{practice_slug}-{control:09d}.x12"


def _send(adapter: Clearinghouse, practice: Practice, edi_file: EdiFile, text: str, now: datetime) -> None:
    """Hand a committed file to the clearinghouse, then record that it left."""
    adapter.send(practice=practice, filename=edi_file.filename, content=text, now=now)
    edi_file.status, edi_file.processed_at = "written", now
    db.session.commit()


@service
def resend_unsent_files(*, now: datetime, older_than: timedelta = RESEND_AFTER) -> dict[str, int]:
    """Send again every 837P committed but never marked sent (its process died between commit and send, or the
    clearinghouse failed): rebuilt from its submissions with the same interchange, group and transaction
    numbers, so a clearinghouse that did get the first copy sees a duplicate interchange, never a new claim."""
    settings = current_app.config["BACKOFFICE_SETTINGS"]
    files = db.session.scalars(
        select(EdiFile)
        .where(EdiFile.direction == "outbound", EdiFile.kind == "837P", EdiFile.status == "sending",
               EdiFile.created_at <= now - older_than)
        .order_by(EdiFile.id)
    ).all()  # fmt: skip
    sent = 0
    for edi_file in files:
        submissions = db.session.scalars(
            select(ClaimSubmission).where(ClaimSubmission.edi_file_id == edi_file.id).order_by(ClaimSubmission.claim_id)
        ).all()
        practice = db.session.get(Practice, edi_file.practice_id)
        organization = db.session.get(Organization, edi_file.organization_id)
        if not submissions or practice is None or organization is None:
            continue
        adapter = clearinghouse_for(practice, settings)
        claims = [db.session.get(Claim, sub.claim_id) for sub in submissions]
        submitter, billing = submitter_of(organization), billing_provider_of(practice)
        problems: list[tuple[int, str]] = []
        entries, _ = _entries(claims, submitter, billing, adapter, now, problems)
        if problems:
            log.error("837P %s cannot be rebuilt for resending (%d claim problem(s))", edi_file.id, len(problems))
            continue
        batches = batches_by_payer(entries, submitter=submitter, receiver=adapter.receiver, billing=billing)
        text = write_837p(
            batches, interchange_control_number=int(edi_file.interchange_control_number),
            group_control_number=int(submissions[0].group_control_number),
            first_transaction_number=min(int(sub.transaction_control_number) for sub in submissions), now=now,
            usage=adapter.usage,
        )  # fmt: skip
        _send(adapter, practice, edi_file, text, now)
        sent += 1
    if sent:
        log.warning("resent %d 837P file(s) that were committed but never marked sent", sent)
    return {"resent": sent}


def _mark_submitted(claim: Claim, edi_file: EdiFile, isa: int, group: int, st: int, now: datetime, source: str) -> None:
    if not can_move(claim.status, ClaimStatus.SUBMITTED):
        raise ValidationFailed(f"claim {claim.account_number}: cannot move from {claim.status} to submitted")
    db.session.add(
        ClaimSubmission(
            claim_id=claim.id,
            claim_version=claim.version,
            edi_file_id=edi_file.id,
            interchange_control_number=f"{isa:09d}",
            group_control_number=str(group),
            transaction_control_number=f"{st:04d}",
            frequency_code=claim.frequency_code,
            submitted_at=now,
        )  # fmt: skip
    )
    first = "original" if claim.version == 1 else "correction"
    kind = {"7": "replacement", "8": "void"}.get(claim.frequency_code, first)
    record_version(claim, kind=kind, reason=f"as submitted in {edi_file.filename}", now=now)  # kept if not yet
    claim.status = ClaimStatus.SUBMITTED
    claim.submitted_at = now
    record_interaction(
        practice_id=claim.practice_id, actor=None, actor_label=source, kind=InteractionKind.STATUS_CHANGE, now=now,
        session_id=claim.session_id, claim_id=claim.id, to_state=str(ClaimStatus.SUBMITTED),
        body=f"Submitted in {edi_file.filename} (ISA13 {isa:09d}, ST02 {st:04d}, frequency {claim.frequency_code})",
    )  # fmt: skip


def export_837(*, out_dir: Path, now: datetime, organization_id: int | None = None) -> SubmissionResult:
    """Every scrubbed claim (of one organization, or all) written as 837P files into ``out_dir`` and submitted."""

    query = select(Practice.organization_id, Claim.id).join(Practice, Practice.id == Claim.practice_id)
    query = query.where(Claim.status == ClaimStatus.SCRUBBED).order_by(Claim.id)
    if organization_id is not None:
        query = query.where(Practice.organization_id == organization_id)
    by_org: dict[int, list[int]] = {}
    for org_id, claim_id in db.session.execute(query).all():
        by_org.setdefault(org_id, []).append(claim_id)
    result = SubmissionResult()
    drop = FileDrop(out_dir, None)
    for org_id, ids in by_org.items():
        result.merge(submit_claims(organization_id=org_id, claim_ids=ids, now=now, source="export-837", adapter=drop))
    return result


@service
def submit_batches(*, now: datetime) -> dict[str, Any]:
    """The batch run: every automated submit item waiting for its batch (a claim scrubbed and audited, of a practice
    whose connection is a batch channel) goes out in one 837P interchange per practice and connection; the items
    then wake and close themselves. Returns the counts and the claims per interchange (no patient data)."""
    waiting = db.session.execute(
        select(WorkItem.id, Claim.id, Practice.organization_id)
        .join(Claim, (Claim.id == WorkItem.claim_id) | (
            WorkItem.claim_id.is_(None) & (Claim.session_id == WorkItem.session_id) & (Claim.payer_sequence == "P")
            & Claim.parent_claim_id.is_(None)))
        .join(Practice, Practice.id == Claim.practice_id)
        .where(WorkItem.kind == str(WorkKind.SUBMIT), WorkItem.mode == Mode.AUTOMATED,
               WorkItem.state == ItemState.SNOOZED, Claim.status == ClaimStatus.SCRUBBED)
        .order_by(Claim.id)
    ).all()  # fmt: skip
    by_org: dict[int, list[int]] = {}
    items: list[int] = []
    for item_id, claim_id, organization_id in waiting:
        practice = db.session.get(Practice, db.session.get(Claim, claim_id).practice_id)
        connection = connection_for(practice)
        if connection.id is None or connection.kind not in BATCH_KINDS:
            continue
        by_org.setdefault(organization_id, []).append(claim_id)
        items.append(item_id)
    result = SubmissionResult()
    for organization_id, claim_ids in by_org.items():
        result.merge(submit_claims(organization_id=organization_id, claim_ids=claim_ids, now=now, source="batch run"))
    for item_id in items:  # each submit step now finds its claim submitted and completes
        item = db.session.get(WorkItem, item_id)
        if item is not None and item.state == ItemState.SNOOZED:
            resume_automated_item(item=item, now=now)
    return {
        "interchanges": len(result.files),
        "claims": len(result.submitted),
        "claims_per_interchange": [len(sent.claim_ids) for sent in result.files],
        "skipped": len(result.skipped),
    }
