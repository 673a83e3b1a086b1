"""Posting front-end acknowledgments onto our claims: the 999 (syntax) and the 277CA (claim acknowledgment).

A rejection at the front end means the claim was never filed (billing-rules §6.1): the claim becomes
``rejected`` and gets one ``fix_rejection`` item per claim version (queue "rejections", 1 business day, §6.6)
to correct and resend as an original. An acceptance moves it to ``accepted``. Each service is one transaction:
anything it cannot match refuses the whole file (or, for the 277CA with an EDI file, becomes a posting
exception on that file), and posting the same file again changes nothing a second time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select

from backoffice.claims.corrections import close_accepted_void
from backoffice.claims.models import Claim
from backoffice.claims.rules import VOID, ClaimStatus
from backoffice.errors import ValidationFailed
from backoffice.exchange.models import ClaimSubmission, EdiFile
from backoffice.extensions import db
from backoffice.orgs.models import Practice
from backoffice.services_base import service
from backoffice.work.chains import add_item
from backoffice.work.log import record_interaction
from backoffice.work.models import Interaction, WorkItem
from backoffice.work.rules import OPEN_STATES, ExceptionKind, InteractionKind, ItemState
from backoffice.x12 import reader as x12
from backoffice.x12.acks import TA1_CODES, Ack999, ClaimAck, TransactionAck, parse_277ca, parse_999, parse_ta1
from backoffice.x12.elements import ACCEPTED_CATEGORIES, REJECTED_CATEGORIES, Status

T = TypeVar("T")
# A4 "not found" on a 277CA: the payer has no claim on file, so it was never filed either.
REJECTION_CATEGORIES = REJECTED_CATEGORIES | {"A4"}
REJECTED_999 = frozenset({"R", "M", "W", "X"})  # IK501 / AK901 codes that reject

IK5_CODES = {  # IK502-IK506: transaction set syntax errors
    "1": "Transaction set not supported",
    "2": "Transaction set trailer missing",
    "3": "Transaction set control number in header and trailer do not match",
    "4": "Number of included segments does not match actual count",
    "5": "One or more segments in error",
    "6": "Missing or invalid transaction set identifier",
    "7": "Missing or invalid transaction set control number",
    "23": "Transaction set control number not unique within the functional group",
    "I5": "Implementation one or more segments in error",
    "I6": "Implementation convention not supported",
}
IK3_CODES = {  # IK304: segment syntax errors
    "1": "Unrecognized segment ID",
    "2": "Unexpected segment",
    "3": "Required segment missing",
    "4": "Loop occurs over maximum times",
    "5": "Segment exceeds maximum use",
    "6": "Segment not in defined transaction set",
    "7": "Segment not in proper sequence",
    "8": "Segment has data element errors",
    "I4": "Implementation 'not used' segment present",
    "I6": "Implementation dependent segment missing",
    "I7": "Implementation loop occurs under minimum times",
    "I8": "Implementation segment below minimum use",
    "I9": "Implementation dependent 'not used' segment present",
}
IK4_CODES = {  # IK403: element syntax errors
    "1": "Required data element missing",
    "2": "Conditional required data element missing",
    "3": "Too many data elements",
    "4": "Data element too short",
    "5": "Data element too long",
    "6": "Invalid character in data element",
    "7": "Invalid code value",
    "8": "Invalid date",
    "9": "Invalid time",
    "10": "Exclusion condition violated",
    "12": "Too many repetitions",
    "13": "Too many components",
    "I6": "Code value not used in implementation",
    "I9": "Implementation dependent data element missing",
    "I10": "Implementation 'not used' data element present",
    "I11": "Implementation too few repetitions",
    "I12": "Implementation pattern match failure",
    "I13": "Implementation dependent 'not used' data element present",
}
AK9_CODES = {  # AK905-AK909: functional group errors
    "1": "Functional group not supported",
    "2": "Functional group version not supported",
    "3": "Functional group trailer missing",
    "4": "Group control number in the header and trailer do not agree",
    "5": "Number of included transaction sets does not match actual count",
    "6": "Group control number violates syntax",
    "19": "Functional group control number not unique within interchange",
}


@dataclass
class AckResult:
    """What one acknowledgment file did, by claim account number (CLM01); never patient data."""

    accepted: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)  # 999 accepted (waiting for the 277CA) or a P* status
    unchanged: list[str] = field(default_factory=list)  # already posted: nothing changed this time
    unmatched: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # acknowledgments of something other than our 837s
    exception_item_id: int | None = None


def _coded(code: str, table: dict[str, str]) -> str:
    return f"{code} {table[code]}" if code in table else code


# ---- shared with the 277 claim status posting ----------------------------------------------------------------------


def parse_or_refuse(parse: Callable[[str], list[T]], text: str, kind: str) -> list[T]:
    """Parse ``text``; a malformed file is a ValidationFailed naming the segment (never its values)."""
    try:
        return parse(text)
    except x12.X12Error as error:
        raise ValidationFailed(f"{kind}: {error}") from None


def inbound_file(organization_id: int, edi_file_id: int | None) -> EdiFile | None:
    """The EDI file being posted, which must belong to the organization."""
    if edi_file_id is None:
        return None
    file = db.session.get(EdiFile, edi_file_id)
    if file is None or file.organization_id != organization_id:
        raise ValidationFailed(f"edi file {edi_file_id}: not a file of this organization")
    return file


def claims_by_account(organization_id: int, accounts: Iterable[str]) -> dict[str, Claim]:
    """The organization's claims whose CLM01 is in ``accounts``, by account number."""
    wanted = {a for a in accounts if a}
    if not wanted:
        return {}
    rows = db.session.scalars(
        select(Claim)
        .join(Practice, Practice.id == Claim.practice_id)
        .where(Practice.organization_id == organization_id, Claim.account_number.in_(wanted))
    )
    return {claim.account_number: claim for claim in rows}


def latest_submissions(claims: Iterable[Claim]) -> dict[int, ClaimSubmission]:
    """Each claim's most recent submission (highest version), by claim id, in a few queries."""
    ids, latest = [c.id for c in claims], {}
    for start in range(0, len(ids), 1000):
        rows = db.session.scalars(
            select(ClaimSubmission)
            .where(ClaimSubmission.claim_id.in_(ids[start : start + 1000]))
            .order_by(ClaimSubmission.claim_version, ClaimSubmission.id)
        )
        latest.update({row.claim_id: row for row in rows})  # the last one of a claim wins: its highest version
    return latest


def log_once(claim: Claim, now: datetime, body: str, **fields: Any) -> bool:
    """Log ``body`` on the claim unless the very same entry is already there (posting a file twice logs once)."""
    with db.session.no_autoflush:  # one flush at commit instead of one per claim
        seen = db.session.scalar(
            select(Interaction.id).where(Interaction.claim_id == claim.id, Interaction.body == body).limit(1)
        )
    if seen is not None:
        return False
    record_interaction(
        practice_id=claim.practice_id, actor=None, actor_label="edi posting", kind=fields.pop("kind",
        InteractionKind.AUTOMATION), now=now, claim_id=claim.id, session_id=claim.session_id, body=body, **fields,
    )  # fmt: skip
    return True


def close_missing_ack_item(claim: Claim, now: datetime) -> None:
    """The acknowledgment arrived after all: the follow-up sweep's "no acknowledgment" item is done (logged)."""
    item = db.session.scalar(
        select(WorkItem).where(WorkItem.dedupe_key == f"claim:{claim.id}:ack", WorkItem.state.in_(list(OPEN_STATES)))
    )
    if item is None:
        return
    before = str(item.state)
    item.state, item.completed_at, item.updated_at = ItemState.DONE, now, now
    item.result = {"outcome": "not_needed", "resolved_by": "277CA acceptance"}
    record_interaction(
        practice_id=item.practice_id, actor=None, actor_label="277CA", kind=InteractionKind.STATUS_CHANGE, now=now,
        item=item, from_state=before, to_state=ItemState.DONE.value, body="Acknowledgment received: nothing to chase",
    )  # fmt: skip


def can_reject(claim: Claim) -> bool:
    """A front-end rejection can reach a submitted claim, or one a clearinghouse accepted that the payer then
    turned back before adjudicating it (never one the payer has already adjudicated)."""
    return claim.status == ClaimStatus.SUBMITTED or (
        claim.status == ClaimStatus.ACCEPTED and claim.adjudicated_at is None
    )


def reject_claim(
    claim: Claim,
    submission: ClaimSubmission | None,
    *,
    now: datetime,
    source: str,
    reason: str,
    evidence: dict[str, Any],
    category: str | None = None,
) -> str:
    """Reject the claim's current version and open its fix_rejection item (once per claim and version).
    Returns "rejected", "unchanged" (already rejected for this version) or "conflict" (a state it cannot leave)."""
    posted = submission is not None and submission.ack_status == "rejected"
    if (posted and claim.status != ClaimStatus.SUBMITTED) or (
        submission is None and claim.status == ClaimStatus.REJECTED
    ):
        return "unchanged"  # this version's rejection is already posted (or the claim was reopened since)
    stale = submission is not None and submission.claim_version != claim.version
    if submission is not None:
        submission.ack_status, submission.acked_at = "rejected", now
    if stale or not (can_reject(claim) or claim.status == ClaimStatus.REJECTED):
        what = f"version {submission.claim_version}" if stale and submission else f"claim is {claim.status}"
        log_once(claim, now, f"{source} rejection not applied ({what}): {reason}", data={"evidence": evidence})
        return "conflict"
    before = claim.status
    claim.status, claim.status_at = ClaimStatus.REJECTED, now
    if category:
        claim.status_category = category
    add_item(
        practice_id=claim.practice_id, kind=ExceptionKind.FIX_REJECTION, now=now, claim_id=claim.id,
        session_id=claim.session_id, reason=f"{reason}; correct and resubmit as an original (not filed)",
        dedupe_key=f"fix_rejection:claim:{claim.id}:v{claim.version}", evidence=evidence, source=source,
    )  # fmt: skip
    if before != ClaimStatus.REJECTED:
        record_interaction(
            practice_id=claim.practice_id, actor=None, actor_label=source, kind=InteractionKind.STATUS_CHANGE,
            now=now, claim_id=claim.id, session_id=claim.session_id, from_state=str(before),
            to_state=str(ClaimStatus.REJECTED), body=f"Rejected by {source}: {reason}", data={"evidence": evidence},
        )  # fmt: skip
    return "rejected"


def unmatched_exception(
    organization_id: int, file: EdiFile | None, kind: str, unmatched: Sequence[str], now: datetime, hint: int | None
) -> int | None:
    """A posting_exception item on the file for what matched no claim; without a file, refuse the whole file."""
    if not unmatched:
        return None
    names = ", ".join(sorted(set(unmatched)))
    if file is None:
        raise ValidationFailed(f"{kind}: no submitted claim of this organization for account number(s) {names}")
    practice_id = (
        file.practice_id
        or hint
        or db.session.scalar(
            select(Practice.id).where(Practice.organization_id == organization_id).order_by(Practice.id)
        )
    )
    if practice_id is None:
        raise ValidationFailed(f"{kind}: the organization has no practice to hold the posting exception")
    item, _ = add_item(
        practice_id=practice_id, kind=ExceptionKind.POSTING_EXCEPTION, now=now, edi_file_id=file.id,
        reason=f"{kind} file {file.id}: no submitted claim for account number(s) {names}",
        dedupe_key=f"posting_exception:edi:{file.id}:{kind}", evidence={"unmatched": sorted(set(unmatched))},
        source=f"{kind} posting",
    )  # fmt: skip
    return item.id


# ---- 999 ---------------------------------------------------------------------------------------------------------


def _variants(number: str) -> set[str]:
    """Control numbers are compared as numbers: "0001", "1" and "000000001" are the same ST02."""
    raw = number.strip()
    if not raw.isdigit():
        return {raw}
    bare = raw.lstrip("0") or "0"
    return {raw, bare, bare.zfill(4), bare.zfill(9)}


def _submissions(organization_id: int, group: str, transaction: str | None) -> list[tuple[ClaimSubmission, Claim]]:
    query = (
        select(ClaimSubmission, Claim)
        .join(Claim, Claim.id == ClaimSubmission.claim_id)
        .join(Practice, Practice.id == Claim.practice_id)
        .where(Practice.organization_id == organization_id, ClaimSubmission.group_control_number.in_(_variants(group)))
        .order_by(ClaimSubmission.id)
    )
    if transaction is not None:
        query = query.where(ClaimSubmission.transaction_control_number.in_(_variants(transaction)))
    return [(row[0], row[1]) for row in db.session.execute(query)]


def describe_999_errors(ack: Ack999, txn: TransactionAck | None) -> tuple[str, dict[str, Any]]:
    """The rejection in words (IK5/IK3/IK4 and AK9 codes with their meanings) and as evidence; no bad values."""
    parts: list[str] = []
    evidence: dict[str, Any] = {"999": ack.control_number, "group": ack.group_control_number}
    if txn is not None:
        codes = "; ".join(_coded(c, IK5_CODES) for c in txn.status_codes)
        parts.append(f"999 IK5 {txn.status} for transaction set {txn.control_number}" + (f": {codes}" if codes else ""))
        evidence.update(transaction_set=txn.control_number, ik5=[txn.status, *txn.status_codes], ik3=[])
        for seg in txn.segment_errors:
            where = " ".join(
                p for p in (f"at {seg.position}" if seg.position else "", seg.loop and f"loop {seg.loop}") if p
            )
            parts.append(f"IK3 {seg.segment_id} {where}: {_coded(seg.code, IK3_CODES)}".replace("  ", " "))
            elements = []
            for el in seg.element_errors:
                spot = f"{seg.segment_id}{el.position:02d}" if el.position else seg.segment_id
                spot += f"-{el.component}" if el.component else ""
                parts.append(f"IK4 {spot} (element {el.data_element}): {_coded(el.code, IK4_CODES)}")
                elements.append({"position": el.position, "component": el.component, "element": el.data_element,
                                 "code": el.code})  # fmt: skip
            evidence["ik3"].append({"segment": seg.segment_id, "position": seg.position, "loop": seg.loop,
                                    "code": seg.code, "ik4": elements})  # fmt: skip
    if ack.status in REJECTED_999:
        codes = "; ".join(_coded(c, AK9_CODES) for c in ack.group_error_codes)
        parts.append(
            f"999 AK9 {ack.status}: group {ack.group_control_number} rejected" + (f" ({codes})" if codes else "")
        )
        evidence["ak9"] = [ack.status, *ack.group_error_codes]
    return "; ".join(parts), evidence


@service
def post_999(*, organization_id: int, text: str, now: datetime, edi_file_id: int | None = None) -> AckResult:
    """Post a 999 onto our claim submissions: a rejected transaction set (or group) rejects every claim in it
    with a fix_rejection item; an accepted one is logged and waits for the 277CA. Unknown control numbers
    refuse the file and change nothing."""
    acks = parse_or_refuse(parse_999, text, "999")
    inbound_file(organization_id, edi_file_id)
    result = AckResult()
    plan: list[tuple[Ack999, TransactionAck | None, list[tuple[ClaimSubmission, Claim]]]] = []
    unknown: list[str] = []
    for ack in acks:
        if ack.functional_id != "HC":
            result.skipped.append(f"group {ack.group_control_number} ({ack.functional_id})")
            continue
        if not ack.transactions:  # the whole group answered at the AK9 only
            rows = _submissions(organization_id, ack.group_control_number, None)
            unknown += [] if rows else [f"group {ack.group_control_number}"]
            plan.append((ack, None, rows))
        for txn in ack.transactions:
            if txn.set_id != "837":
                result.skipped.append(f"group {ack.group_control_number} set {txn.control_number} ({txn.set_id})")
                continue
            rows = _submissions(organization_id, ack.group_control_number, txn.control_number)
            if not rows:
                unknown.append(f"group {ack.group_control_number} transaction set {txn.control_number}")
            plan.append((ack, txn, rows))
    if unknown:
        raise ValidationFailed(f"999: no claim submission of this organization for {', '.join(unknown)}")
    for ack, txn, rows in plan:
        rejected = ack.status in REJECTED_999 or (txn is not None and not txn.accepted)
        reason, evidence = describe_999_errors(ack, txn)
        for submission, claim in rows:
            if rejected:
                outcome = reject_claim(claim, submission, now=now, source="999", reason=reason, evidence=evidence)
                (result.rejected if outcome == "rejected" else result.unchanged).append(claim.account_number)
                continue
            where = f"transaction set {submission.transaction_control_number} of group {ack.group_control_number}"
            status = f"{txn.status} (accepted with errors)" if txn and txn.status == "E" else "A"
            body = f"999 {status} for {where} (999 {ack.control_number}); waiting for the 277CA"
            logged = log_once(claim, now, body, data={"evidence": evidence})
            (result.pending if logged else result.unchanged).append(claim.account_number)
    db.session.commit()
    return result


# ---- 277CA -------------------------------------------------------------------------------------------------------


def status_words(statuses: Iterable[Status], categories: frozenset[str] | None = None) -> list[str]:
    """Every STC composite as code plus meaning (only those in ``categories`` when given)."""
    return [
        code.description
        for status in statuses
        for code in status.codes
        if categories is None or code.category in categories
    ]


def _post_claim_ack(ack: ClaimAck, claim: Claim, submission: ClaimSubmission, now: datetime, result: AckResult) -> None:
    categories = ack.categories
    evidence = {
        "277ca": status_words((*ack.statuses, *ack.line_statuses)),
        "payer_claim_number": ack.payer_claim_number,
    }
    rejecting = [c for c in categories if c in REJECTION_CATEGORIES] or [
        c for s in ack.line_statuses for c in s.categories if c in REJECTION_CATEGORIES
    ]
    if rejecting:
        reason = "277CA " + "; ".join(status_words((*ack.statuses, *ack.line_statuses), REJECTION_CATEGORIES))
        outcome = reject_claim(
            claim, submission, now=now, source="277CA", reason=reason, evidence=evidence, category=rejecting[0]
        )
        (result.rejected if outcome == "rejected" else result.unchanged).append(claim.account_number)
        return
    category = categories[0] if categories else ""
    body = f"277CA {'; '.join(status_words(ack.statuses))}"
    accepted = any(c in ACCEPTED_CATEGORIES for c in categories)
    current = submission.claim_version == claim.version
    if accepted and current and claim.status == ClaimStatus.SUBMITTED:
        claim.status, claim.accepted_at = ClaimStatus.ACCEPTED, now
        record_interaction(
            practice_id=claim.practice_id, actor=None, actor_label="277CA", kind=InteractionKind.STATUS_CHANGE,
            now=now, claim_id=claim.id, session_id=claim.session_id, from_state=str(ClaimStatus.SUBMITTED),
            to_state=str(ClaimStatus.ACCEPTED), body=body, data={"evidence": evidence},
        )  # fmt: skip
        changed = True
        if claim.frequency_code == VOID:  # an accepted void closes the claim and gives its authorization back
            close_accepted_void(claim, now, "277CA")
    else:
        if current and claim.status == ClaimStatus.REJECTED:  # the 999 (or an earlier 277CA) already rejected it
            body, current, accepted = f"{body} (not applied: this version was already rejected)", False, False
        changed = log_once(claim, now, body, data={"evidence": evidence})
    if accepted and submission.ack_status != "rejected":
        submission.ack_status, submission.acked_at = "accepted", submission.acked_at or now
        close_missing_ack_item(claim, now)
    if current and category and changed:
        claim.status_category, claim.status_at = category, now
    bucket = result.accepted if accepted else result.pending
    (bucket if changed else result.unchanged).append(claim.account_number)


@service
def post_277ca(*, organization_id: int, text: str, now: datetime, edi_file_id: int | None = None) -> AckResult:
    """Post a 277CA: A1/A2 (A0/A5) accept the claim, A3/A4/A6/A7/A8 reject it with a fix_rejection item, a
    pending status only updates its status category. Claims we cannot find are reported as unmatched."""
    claim_acks = parse_or_refuse(parse_277ca, text, "277CA")
    file = inbound_file(organization_id, edi_file_id)
    claims = claims_by_account(organization_id, (a.claim_id for a in claim_acks))
    submissions = latest_submissions(claims.values())
    result = AckResult()
    hint: int | None = None
    for ack in claim_acks:
        claim = claims.get(ack.claim_id)
        submission = submissions.get(claim.id) if claim is not None else None
        if claim is None or submission is None:
            result.unmatched.append(ack.claim_id)
            continue
        hint = hint or claim.practice_id
        _post_claim_ack(ack, claim, submission, now, result)
    result.exception_item_id = unmatched_exception(organization_id, file, "277CA", result.unmatched, now, hint)
    db.session.commit()
    return result


# ---- TA1 ---------------------------------------------------------------------------------------------------------


@service
def post_ta1(*, organization_id: int, text: str, now: datetime, edi_file_id: int | None = None) -> AckResult:
    """Post a TA1 onto the interchange it answers (TA101 = our ISA13): R rejects every claim of that interchange
    (nothing in it was filed: fix_rejection items); A/E are logged on each claim (the 999 follows). An interchange
    we never sent refuses the file and changes nothing."""
    acks = parse_or_refuse(parse_ta1, text, "TA1")
    inbound_file(organization_id, edi_file_id)
    result = AckResult()
    plan = []
    for ack in acks:
        rows = db.session.execute(
            select(ClaimSubmission, Claim)
            .join(Claim, Claim.id == ClaimSubmission.claim_id)
            .join(EdiFile, EdiFile.id == ClaimSubmission.edi_file_id)
            .where(EdiFile.organization_id == organization_id,
                   ClaimSubmission.interchange_control_number == ack.interchange_control_number)
            .order_by(ClaimSubmission.claim_id)
        ).all()  # fmt: skip
        if not rows:
            raise ValidationFailed(f"TA1: no interchange {ack.interchange_control_number} sent by this organization")
        plan.append((ack, rows))
    for ack, rows in plan:
        words = TA1_CODES[ack.ack_code]
        note = ack.note_code or "000"
        reason = f"TA1 {ack.ack_code} ({words}, note {note}) for interchange {ack.interchange_control_number}"
        for submission, claim in rows:
            if ack.ack_code == "R":
                outcome = reject_claim(claim, submission, now=now, source="TA1", reason=reason,
                                       evidence={"ta1_note": ack.note_code})  # fmt: skip
                (result.rejected if outcome == "rejected" else result.unchanged).append(claim.account_number)
            elif log_once(claim, now, f"{reason}; waiting for the 999"):
                result.pending.append(claim.account_number)
            else:
                result.unchanged.append(claim.account_number)
    db.session.commit()
    return result
