"""Posting an 835: every dollar of every CLP lands on our claim and its lines, patient responsibility goes to the
secondary payer or the patient's ledger, and every denial becomes a work item in its §6.6 queue.

One transaction per file: any unexpected error rolls the whole file back. A duplicate payment (same payer and
trace number) and an unbalanced transaction are refused and reported, never silently posted. Rows are written
with bulk INSERTs (the bench posts 10,000 claims).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from backoffice import signals
from backoffice.authorizations.services import REVERSAL, give_back_units, retake_after_repayment
from backoffice.claims.models import Claim, ClaimLine
from backoffice.claims.rules import ClaimStatus, can_move
from backoffice.coding.rules import LineDraft
from backoffice.errors import ValidationFailed
from backoffice.exchange.models import EdiFile
from backoffice.extensions import db
from backoffice.orgs.models import Payer, Practice
from backoffice.patients.models import Coverage, CoveragePriority, LedgerEntry
from backoffice.remits import kept, rules
from backoffice.remits.bulk import bulk_insert, bulk_update, chunks
from backoffice.remits.denials import fmt, queue_item, route_denials, write_items
from backoffice.remits.expected import check_expected, is_duplicate, load_rates, post_duplicate
from backoffice.remits.models import ClaimPayment, PaymentAdjustment, Remittance
from backoffice.remits.plb import post_provider_adjustments
from backoffice.remits.posting_run import (
    CLAIM_COLUMNS,
    LINE_COLUMNS,
    ZERO,
    ClaimView,
    PostingResult,
    Run,
    claim_row,
    line_row,
)
from backoffice.scrubber.queries import scrub_lines_for_coverage
from backoffice.services_base import in_ids, is_postgres, service
from backoffice.sessions.models import Session
from backoffice.work.chains import add_item
from backoffice.work.log import record_interaction
from backoffice.work.models import Interaction
from backoffice.work.rules import InteractionKind, Mode
from backoffice.x12 import era835
from backoffice.x12.era835 import X12Error, duplicate_key, parse_835


@lru_cache(maxsize=4096)
def _disposition(group: str, reason: str, amount: Decimal) -> rules.Disposition:
    return rules.disposition(group, reason, amount)


def write_run(run: Run) -> None:
    """Write what a posting run gathered: the claims' and lines' new figures, unapplied payments, the items it opens,
    ledger entries and log rows, each in one statement."""
    bulk_update(Claim, list(run.claim_rows.values()))
    bulk_update(ClaimLine, list(run.line_rows.values()))
    bulk_update(ClaimPayment, run.unapplied)
    write_items(run)
    if run.ledger:
        bulk_insert(LedgerEntry, run.ledger)
    if run.logs:
        bulk_insert(Interaction, run.logs)


def _load_claims(organization_id: int, numbers: list[str]) -> dict[str, ClaimView]:
    """The organization's claims with these account numbers (CLP01), with their lines, in a few queries."""
    claims: dict[str, ClaimView] = {}
    for chunk in chunks(numbers):
        query = (
            select(*CLAIM_COLUMNS)
            .join(Practice, Practice.id == Claim.practice_id)
            .where(Practice.organization_id == organization_id, in_ids(Claim.account_number, chunk))
        )
        claims.update((row.account_number, ClaimView(row)) for row in db.session.execute(query))
    by_id = {view.id: view for view in claims.values()}
    for chunk in chunks(list(by_id)):
        query = select(*LINE_COLUMNS).where(in_ids(ClaimLine.claim_id, chunk)).order_by(ClaimLine.line_number)
        for line in db.session.execute(query):
            by_id[line.claim_id].lines.append(line)
    return claims


def _move(run: Run, claim: ClaimView, new: ClaimStatus, moves: list[tuple[str, str]]) -> None:
    row = claim_row(run, claim)
    current: ClaimStatus = row["status"]
    if current == new:
        return
    if not can_move(current, new):
        run.problems.append(
            f"claim {claim.account_number}: status stays {current.value} "
            f"(the lifecycle does not allow {current.value} → {new.value})"
        )
        return
    moves.append((current.value, new.value))
    row["status"] = new


def _secondary_coverage(claim: ClaimView, coverages: dict[int, list[Coverage]]) -> Coverage | None:
    """The coverage that pays after this claim's payer: secondary after the primary, tertiary after the secondary."""
    following = {"P": CoveragePriority.SECONDARY, "S": CoveragePriority.TERTIARY}.get(claim.payer_sequence)
    if following is None or not claim.lines:
        return None
    day = min(line.date_of_service for line in claim.lines)
    return next(
        (c for c in coverages.get(claim.patient_id, []) if c.priority == following and c.is_active_on(day)), None
    )


NEXT_SEQUENCE = {"P": "S", "S": "T"}  # the payer after a primary is the secondary, after a secondary the tertiary
ROLE = {"S": "secondary", "T": "tertiary"}


def _next_payer_claim(run: Run, claim: ClaimView, coverage: Coverage, *, crossed_over: bool = False) -> Claim:
    """The claim to the next payer (same lines and charges) from ``claim``: a secondary claim after a primary's
    835, a tertiary after a secondary's. Scrubbed with that payer's rules unless ``crossed_over`` (the primary payer
    forwarded it itself: kept as accepted, never sent by us, so that the crossover payer's 835 has a claim to post
    on)."""
    sequence = NEXT_SEQUENCE[claim.payer_sequence]
    number = rules.next_payer_account_number(claim.account_number, sequence)
    existing = db.session.scalar(select(Claim).where(Claim.account_number == number))
    if existing is not None:
        return existing
    ids = [line.id for line in claim.lines]
    pointers = dict(
        db.session.execute(select(ClaimLine.id, ClaimLine.diagnosis_pointers).where(ClaimLine.id.in_(ids))).all()
    )
    following = Claim(
        practice_id=claim.practice_id,
        session_id=claim.session_id,
        patient_id=claim.patient_id,
        payer_id=coverage.payer_id,
        coverage_id=coverage.id,
        account_number=number,
        status=ClaimStatus.ACCEPTED if crossed_over else ClaimStatus.SCRUBBED,
        total_charge=claim.total_charge,
        payer_sequence=sequence,
        parent_claim_id=claim.id,
        findings=[],
        created_at=run.now,
        lines=[
            ClaimLine(
                line_number=line.line_number,
                date_of_service=line.date_of_service,
                cpt=line.cpt,
                modifiers=list(line.modifiers or []),
                units=line.units,
                place_of_service=line.place_of_service,
                charge=line.charge,
                diagnosis_pointers=list(pointers.get(line.id) or []),
            )
            for line in claim.lines
        ],
    )
    errors = [] if crossed_over else _scrub_secondary(run, following, coverage)
    db.session.add(following)
    db.session.flush()
    role = ROLE[sequence]
    if crossed_over:
        body = (f"Secondary claim {number} recorded from {claim.account_number}: the primary payer crossed it over "
                f"to {coverage.payer.name}; not sent by us, its 835 posts here")  # fmt: skip
    else:
        body = (f"{role.capitalize()} claim {number} created from {claim.account_number}; scrubbed with "
                f"{coverage.payer.name}'s rules: " + (f"{len(errors)} error(s) to fix before submission" if errors
                                                      else "clean"))  # fmt: skip
    record_interaction(
        practice_id=claim.practice_id,
        actor=None,
        actor_label=run.source,
        kind=InteractionKind.STATUS_CHANGE,
        now=run.now,
        claim_id=following.id,
        to_state=following.status.value,
        body=body,
        data={"findings": [f["rule"] for f in following.findings]},
    )
    return following


def _bill_secondary(run: Run, claim: ClaimView, coverage: Coverage) -> Claim:
    """The secondary (or, after a secondary's 835, the tertiary) claim, scrubbed, and its submit item: automated
    when clean, waiting for a person with the scrubber's errors otherwise."""
    following = _next_payer_claim(run, claim, coverage)
    role = ROLE[following.payer_sequence]
    blocked = following.status == ClaimStatus.DRAFT
    after = "primary" if claim.payer_sequence == "P" else "secondary"
    add_item(
        practice_id=claim.practice_id,
        kind="submit",
        now=run.now,
        claim_id=following.id,
        mode=Mode.MANUAL if blocked else Mode.AUTOMATED,
        dedupe_key=f"claim:{following.id}:submit",
        source=run.source,
        reason=f"{role} claim {following.account_number} after the {after}'s 835"
        + (f": the scrubber stopped it for the {role} payer (" + ", ".join(sorted({
            f["rule"] for f in following.findings if f["severity"] == "error"})) + "); fix, then submit"
           if blocked else ""),
    )  # fmt: skip
    return following


def _scrub_secondary(run: Run, secondary: Claim, coverage: Coverage) -> list[dict[str, str]]:
    """Scrub the secondary claim's lines with the secondary payer's rules: ``scrubbed`` when clean, ``draft`` with
    the findings otherwise. The filing deadline of a secondary runs from the primary's remittance, so the scrubber's
    date-of-service filing edits are left out. Returns the errors."""
    session = db.session.get(Session, secondary.session_id) if secondary.session_id else None
    if session is None:
        return []
    today = run.now.astimezone(ZoneInfo(session.practice.timezone)).date()
    drafts = [LineDraft(line.cpt, tuple(line.modifiers or ()), line.units, line.place_of_service,
                        tuple(line.diagnosis_pointers or ())) for line in secondary.lines]  # fmt: skip
    result = scrub_lines_for_coverage(session, coverage, drafts, today=today)
    findings = [{"rule": f.rule, "severity": f.severity, "message": f.message, "field": f.field}
                for f in result.findings if not f.rule.startswith("FILING-")]  # fmt: skip
    errors = [f for f in findings if f["severity"] == "error"]
    secondary.findings = findings
    secondary.status = ClaimStatus.DRAFT if errors else ClaimStatus.SCRUBBED
    return errors


def _post_claim(
    run: Run,
    remittance: Remittance,
    clp: era835.Claim,
    claim: ClaimView,
    payment_id: int,
    payer: Payer,
    coverages: dict[int, list[Coverage]],
    adjustments: list[dict[str, Any]],
    corrected: bool = False,
    secondary_billed: bool = False,
    matched_lines: list[Any] | None = None,
) -> None:
    """Post one matched CLP: adjustments, line and claim amounts, status, PR, denials and the claim's log row;
    a second payment of an already-paid claim is kept unapplied (an overpayment item) instead. ``matched_lines``
    (a person's choice, remits/unmatched.py) is each service line's claim line; by default they are matched."""
    lines = rules.match_service_lines(list(claim.lines), clp.services) if matched_lines is None else matched_lines
    if is_duplicate(run, claim, clp, lines):
        post_duplicate(run, remittance.trace_number, clp, claim, payment_id, lines, adjustments)
        return
    totals = {disposition: ZERO for disposition in rules.Disposition}
    patient: list[tuple[era835.Adjustment, int | None]] = []
    denials: list[tuple[era835.Adjustment, tuple[str, ...]]] = []
    cas = [(a, None, clp.remarks) for a in clp.adjustments]
    for svc, line in zip(clp.services, lines, strict=True):
        if line is None:
            run.problems.append(f"claim {clp.claim_id}: service {svc.code} matches no line of the claim")
        else:
            line_row(run, line)["paid_amount"] += svc.paid
        cas.extend((a, line, svc.remarks + clp.remarks) for a in svc.adjustments)
    for a, line, remarks in cas:
        kind = _disposition(a.group, a.reason, a.amount)
        totals[kind] += a.amount
        if line is not None and kind is rules.Disposition.CONTRACTUAL:
            line_row(run, line)["adjustment_amount"] += a.amount
        elif line is not None and kind is rules.Disposition.PATIENT:
            line_row(run, line)["patient_responsibility"] += a.amount
        adjustments.append(
            {
                "claim_payment_id": payment_id,
                "claim_line_id": line.id if line else None,
                "group": a.group,
                "reason": a.reason,
                "amount": a.amount,
                "quantity": a.quantity,
                "disposition": kind.value,
                "remarks": list(remarks),
            }
        )
        if kind is rules.Disposition.PATIENT:
            patient.append((a, line.id if line else None))
        elif kind is rules.Disposition.DENIAL and not clp.is_reversal:
            denials.append((a, tuple(remarks)))
    check_expected(run, claim, clp, payment_id, lines)
    row = claim_row(run, claim)
    row["paid_amount"] += clp.paid
    row["adjustment_amount"] += totals[rules.Disposition.CONTRACTUAL]
    row["patient_responsibility"] += totals[rules.Disposition.PATIENT]
    row["payer_claim_number"] = clp.payer_claim_number or row["payer_claim_number"]
    row["adjudicated_at"] = run.now
    moves: list[tuple[str, str]] = []
    if row["status"] == ClaimStatus.SUBMITTED:
        _move(run, claim, ClaimStatus.ACCEPTED, moves)  # an 835 means the payer took it in (no 277CA yet)
    if clp.is_reversal:
        if not corrected:  # a take-back; when the corrected claim follows in this payment, it sets the status
            _move(run, claim, ClaimStatus.DENIED, moves)
            run.reversed_claims.append(claim.id)
    else:
        run.adjudicated_claims.append(claim.id)
        status = rules.claim_status_after(charge=clp.charge, paid=clp.paid, denied=totals[rules.Disposition.DENIAL])
        _move(run, claim, ClaimStatus(status), moves)
    secondary = None
    note = ""
    pr_total = totals[rules.Disposition.PATIENT]
    coverage = _secondary_coverage(claim, coverages) if pr_total > 0 and not clp.is_reversal else None
    if clp.crossed_over and not clp.is_reversal and (pr_total > 0 or coverage is not None):
        to = clp.crossover_payer or "the secondary payer"
        note = (f"; crossover: the payer forwarded the claim to {to} itself (CLP02 {clp.status}"
                f"{', NM1*TT' if clp.crossover_payer else ''}): the secondary is not billed again")  # fmt: skip
        crossed = _next_payer_claim(run, claim, coverage, crossed_over=True) if coverage is not None else None
        if crossed is not None:
            note += f"; its 835 will post on secondary claim {crossed.account_number}"
        queue_item(run, claim.practice_id, "follow_up", f"crossover:{claim.id}",
                   f"claim {claim.account_number}: crossed over to {to} by the primary's 835 (trace "
                   f"{remittance.trace_number}, CLP02 {clp.status}); we do not bill the secondary: watch for its 835 "
                   f"for patient responsibility {fmt(pr_total)}"
                   + (f" (it posts on secondary claim {crossed.account_number} and closes this item)" if crossed
                      else ""), claim_id=crossed.id if crossed else claim.id,
                   claim_payment_id=payment_id)  # fmt: skip
    elif clp.is_reversal and secondary_billed:
        note = "; patient responsibility had gone to the secondary claim: review it"
        queue_item(run, claim.practice_id, "posting_exception", f"reversal:{claim.id}:{payment_id}:secondary",
                    f"claim {claim.account_number}: reversed by 835 trace {remittance.trace_number} after its "
                    f"secondary claim was billed; correct or void the secondary claim", claim_id=claim.id,
                    claim_payment_id=payment_id)  # fmt: skip
    elif coverage is not None:  # the secondary after a primary; what a secondary left goes to the tertiary payer
        secondary = _bill_secondary(run, claim, coverage)
    elif pr_total != 0:
        for a, _line_id in patient:
            run.ledger.append(
                {
                    "practice_id": claim.practice_id,
                    "patient_id": claim.patient_id,
                    "claim_id": claim.id,
                    "claim_payment_id": payment_id,
                    "amount": a.amount,
                    "at": run.now,
                    "kind": "reversal" if clp.is_reversal else "patient_responsibility",
                    "reason": rules.ledger_reason(a.group, a.reason),
                }
            )
    if denials:
        route_denials(run, claim, payment_id, denials, payer, remittance.payment_date or run.now.date())
    codes = ", ".join(f"{a.group}-{a.reason} {fmt(a.amount)}" for a, _, _ in cas) or "no adjustments"
    body = (
        f"835 {'reversal' if clp.is_reversal else 'posted'} (trace {remittance.trace_number}, CLP02 {clp.status}): "
        f"paid {fmt(clp.paid)}, contractual {fmt(totals[rules.Disposition.CONTRACTUAL])}, "
        f"patient {fmt(pr_total)}, denied {fmt(totals[rules.Disposition.DENIAL])}; {codes}"
        + (
            f"; patient responsibility billed to {ROLE[secondary.payer_sequence]} claim {secondary.account_number}"
            if secondary
            else ""
        )
        + note
    )
    if moves:  # both transitions when an 835 arrives before the 277CA: submitted → accepted → paid
        body += "; claim " + " → ".join([moves[0][0], *(after for _, after in moves)])
    run.logs.append(
        {
            "practice_id": claim.practice_id,
            "claim_id": claim.id,
            "actor_label": run.source,
            "kind": InteractionKind.STATUS_CHANGE if moves else InteractionKind.AUTOMATION,
            "at": run.now,
            "from_state": moves[0][0] if moves else None,
            "to_state": moves[-1][1] if moves else None,
            "body": body[:4000],
            "data": {"remittance_id": remittance.id, "claim_payment_id": payment_id, "transitions": moves},
        }
    )


def _route_to_crossed_over_claims(run: Run, r: era835.Remittance, claims: dict[str, ClaimView], payer_id: int) -> None:
    """A crossover payer's own 835 (Medicaid after Medicare) names the primary's claim number, the one Medicare
    forwarded: when the remittance's payer is not that claim's payer but is the payer of its crossed-over secondary
    claim, the CLP posts on the secondary claim, once its patient (member ID) and dates of service agree; when they
    do not, it is left unmatched (a posting exception) rather than posted on the wrong claim."""
    primaries = {number: view for number, view in claims.items() if view.payer_sequence == "P"
                 and view.payer_id != payer_id}  # fmt: skip
    if not primaries:
        return
    children = dict(db.session.execute(
        select(Claim.parent_claim_id, Claim.account_number).where(
            Claim.parent_claim_id.in_([view.id for view in primaries.values()]), Claim.payer_sequence == "S",
            Claim.payer_id == payer_id)
    ).all())  # fmt: skip
    if not children:
        return
    secondaries = _load_claims(run.organization_id, list(children.values()))  # by account number
    members = dict(db.session.execute(
        select(Claim.id, Coverage.member_id).join(Coverage, Coverage.id == Claim.coverage_id)
        .where(Claim.id.in_([view.id for view in secondaries.values()]))
    ).all())  # fmt: skip
    by_number = {number: secondaries.get(children.get(view.id, "")) for number, view in primaries.items()}
    for clp in r.claims:
        secondary = by_number.get(clp.claim_id)
        if secondary is None:
            continue
        days = {svc.date for svc in clp.services if svc.date} | {d for d in (clp.statement_from,) if d}
        member = members.get(secondary.id) or ""
        if (days and not days <= {line.date_of_service for line in secondary.lines}) or (
            clp.member_id and member and clp.member_id.upper() != member.upper()
        ):
            run.problems.append(f"claim {clp.claim_id}: the crossover payer's 835 does not agree with secondary claim "
                                f"{secondary.account_number} (member ID or date of service); not posted")  # fmt: skip
            claims.pop(clp.claim_id, None)
            continue
        claims[clp.claim_id] = secondary


def _fallback_practice(run: Run) -> int:
    if run.edi_file is not None and run.edi_file.practice_id is not None:
        practice_id = run.edi_file.practice_id
    else:
        practice_id = db.session.scalar(
            select(Practice.id).where(Practice.organization_id == run.organization_id).order_by(Practice.id)
        )
        if practice_id is None:
            raise ValidationFailed(f"organization {run.organization_id} has no practice to hold posting exceptions")
    if practice_id not in run.practices:
        run.practices[practice_id] = db.session.get(Practice, practice_id)
    return practice_id


def _post_remittance(run: Run, r: era835.Remittance, payer_key: tuple[str, str]) -> Remittance | None:
    """Post one transaction; None when the unique constraint refuses it (a duplicate committed meanwhile)."""
    payer = db.session.scalar(
        select(Payer).where(
            Payer.organization_id == run.organization_id, Payer.payer_id.in_({r.payer_id, r.trace_payer_id})
        )
    )
    remittance = Remittance(
        organization_id=run.organization_id,
        payer_id=payer.id if payer else None,
        payer_identifier=payer_key[0][:80],
        payer_name=r.payer_name[:200],
        trace_number=payer_key[1][:80],
        payment_method=r.payment_method[:3],
        payment_date=r.payment_date,
        total_paid=r.total_paid,
        payee_npi=r.payee_npi or None,
        edi_file_id=run.edi_file.id if run.edi_file else None,
        transaction_control_number=r.control_number[:9],
        posted_at=run.now,
        source=run.remittance_source,
        provider_adjustments=[
            {"reason": p.reason, "reference": p.reference, "amount": fmt(p.amount)} for p in r.provider_adjustments
        ],
    )
    if is_postgres():  # a savepoint, so a duplicate that committed since the pre-check is refused, not raised
        try:
            with db.session.begin_nested():
                db.session.add(remittance)
                db.session.flush()
        except IntegrityError:
            if remittance in db.session:
                db.session.expunge(remittance)
            return None
    else:  # pysqlite's savepoints are not transactional; SQLite serializes writers, so the pre-check holds
        db.session.add(remittance)
        db.session.flush()
    claims = _load_claims(run.organization_id, list({clp.claim_id for clp in r.claims}))
    if payer is not None:
        _route_to_crossed_over_claims(run, r, claims, payer.id)
    for claim in claims.values():
        if claim.practice_id not in run.practices:
            run.practices[claim.practice_id] = db.session.get(Practice, claim.practice_id)
    load_rates(run, {claim.practice_id for claim in claims.values()})
    payers = {
        p.id: p for p in db.session.scalars(select(Payer).where(Payer.id.in_({c.payer_id for c in claims.values()})))
    }
    patient_ids = list({c.patient_id for c in claims.values()})
    coverages: dict[int, list[Coverage]] = defaultdict(list)
    for chunk in chunks(patient_ids):
        query = select(Coverage).where(
            Coverage.patient_id.in_(chunk),
            Coverage.priority.in_([CoveragePriority.SECONDARY, CoveragePriority.TERTIARY]),
        )
        for coverage in db.session.scalars(query):
            coverages[coverage.patient_id].append(coverage)
    rows = [
        {
            "remittance_id": remittance.id,
            "claim_id": claims[clp.claim_id].id if clp.claim_id in claims else None,
            "account_number": clp.claim_id[:38],
            "status_code": clp.status[:2],
            "charge": clp.charge,
            "paid": clp.paid,
            "patient_responsibility": clp.patient_responsibility,
            "payer_claim_number": clp.payer_claim_number or None,
            "is_reversal": clp.is_reversal,
            "remarks": list(clp.remarks),
            # an unmatched CLP keeps its claim-level CAS and service lines, to be applied line by line by hand
            **({} if clp.claim_id in claims else {"unmatched_detail": kept.detail(clp)}),
        }
        for clp in r.claims
    ]
    ids = bulk_insert(ClaimPayment, rows)
    adjustments: list[dict[str, Any]] = []
    last_original = {clp.claim_id: i for i, clp in enumerate(r.claims) if not clp.is_reversal}
    reversed_ids = [claims[clp.claim_id].id for clp in r.claims if clp.is_reversal and clp.claim_id in claims]
    posted_before: set[int | None] = set()
    billed_secondary: set[int | None] = set()
    if reversed_ids:  # few: a reversal needs a posting to undo, and may have fed a secondary claim
        posted_before = set(
            db.session.scalars(
                select(ClaimPayment.claim_id).where(
                    ClaimPayment.claim_id.in_(reversed_ids), ClaimPayment.is_reversal.is_(False)
                )
            )
        )
        billed_secondary = set(db.session.scalars(select(Claim.parent_claim_id).where(
            Claim.parent_claim_id.in_(reversed_ids), Claim.payer_sequence.in_(["S", "T"]))))  # fmt: skip
    for index, (clp, payment_id) in enumerate(zip(r.claims, ids, strict=True)):
        claim = claims.get(clp.claim_id)
        if claim is None:
            remittance.claims_unmatched += 1
            # The CAS are kept (disposition "unmatched") so the payment can be applied to a claim by hand.
            adjustments.extend(
                {"claim_payment_id": payment_id, "claim_line_id": None, "group": a.group, "reason": a.reason,
                 "amount": a.amount, "quantity": a.quantity, "disposition": "unmatched", "remarks": list(clp.remarks)}
                for a in [*clp.adjustments, *(a for svc in clp.services for a in svc.adjustments)]
            )  # fmt: skip
            queue_item(
                run,
                _fallback_practice(run),
                "posting_exception",
                f"remit:{remittance.id}:unmatched:{clp.claim_id}"[:120],
                f"835 trace {remittance.trace_number}: CLP01 {clp.claim_id} matches no claim of ours "
                f"(paid {fmt(clp.paid)})",
                claim_payment_id=payment_id,
                edi_file_id=run.edi_file.id if run.edi_file else None,
            )
            continue
        if clp.is_reversal and claim.id not in posted_before:
            run.problems.append(f"claim {clp.claim_id}: reversal of a payment never posted; not applied")
            queue_item(run, claim.practice_id, "posting_exception", f"reversal:{claim.id}:{payment_id}:unposted",
                        f"835 trace {remittance.trace_number}: claim {clp.claim_id} reversed (paid {fmt(clp.paid)}) "
                        "but no payment of it was posted; not applied", claim_id=claim.id,
                        claim_payment_id=payment_id)  # fmt: skip
            continue
        remittance.claims_posted += 1
        corrected = clp.is_reversal and last_original.get(clp.claim_id, -1) > index
        payer = payers[claim.payer_id]
        _post_claim(run, remittance, clp, claim, payment_id, payer, coverages, adjustments, corrected,
                    secondary_billed=claim.id in billed_secondary)  # fmt: skip
    if adjustments:
        bulk_insert(PaymentAdjustment, adjustments)
    post_provider_adjustments(run, remittance, r, ids[0] if ids else None, _fallback_practice, _load_claims)
    run.problems.extend(f"835 trace {remittance.trace_number}: {problem}" for problem in r.problems)
    return remittance


def _refuse_unbalanced(run: Run, r: era835.Remittance) -> None:
    what = f"835 transaction {r.control_number} (trace {r.trace_number})"
    problems = "; ".join(r.problems)
    if run.edi_file is None:
        raise ValidationFailed(f"{what} does not balance, nothing was posted: {problems}")
    run.problems.append(f"{what} does not balance, not posted: {problems}")
    queue_item(
        run,
        _fallback_practice(run),
        "posting_exception",
        f"edi:{run.edi_file.id}:unbalanced:{r.control_number}:{r.trace_number}"[:120],
        f"{what} does not balance, not posted: {problems}"[:2000],
        edi_file_id=run.edi_file.id,
        evidence={"problems": list(r.problems)},
    )


@service
def post_835(
    *,
    organization_id: int,
    text: str,
    now: datetime,
    edi_file_id: int | None = None,
    source: str = "835 posting",
    remittance_source: str = "835",
) -> PostingResult:
    """Post every transaction of an 835 file in one transaction: duplicates (payer + trace) and unbalanced
    transactions are refused and reported; posting the same file twice posts it once."""
    result = post_uncommitted(organization_id=organization_id, text=text, now=now, edi_file_id=edi_file_id,
                              source=source, remittance_source=remittance_source)  # fmt: skip
    db.session.commit()
    return result


def post_uncommitted(
    *,
    organization_id: int,
    text: str,
    now: datetime,
    edi_file_id: int | None = None,
    source: str = "835 posting",
    remittance_source: str = "835",
) -> PostingResult:
    """``post_835`` without its commit: the preview (remits/manual.py) posts this way, reads what was written and
    rolls back, so what it shows is exactly what posting does."""
    try:
        remittances = parse_835(text, complete=True)
    except X12Error as error:
        raise ValidationFailed(f"835: {error}") from None
    edi_file = None
    if edi_file_id is not None:
        edi_file = db.session.get(EdiFile, edi_file_id)
        if edi_file is None or edi_file.organization_id != organization_id:
            raise ValidationFailed(f"EDI file {edi_file_id} does not exist in this organization")
    run = Run(organization_id=organization_id, now=now, source=source, edi_file=edi_file)
    run.remittance_source = remittance_source
    refused: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    posted = claims_posted = claims_unmatched = 0
    for r in remittances:
        key = duplicate_key(r)
        known = db.session.scalar(
            select(Remittance.id).where(
                Remittance.organization_id == organization_id,
                Remittance.payer_identifier == key[0][:80],
                Remittance.trace_number == key[1][:80],
            )
        )
        if key in seen or known is not None:
            refused.append(key)
            continue
        seen.add(key)
        if not r.balanced:
            _refuse_unbalanced(run, r)
            continue
        remittance = _post_remittance(run, r, key)
        if remittance is None:
            refused.append(key)
            continue
        run.remittance_ids.append(remittance.id)
        posted += 1
        claims_posted += remittance.claims_posted
        claims_unmatched += remittance.claims_unmatched
    db.session.flush()
    write_run(run)
    if run.reversed_claims:  # a take-back gives the claim's authorization units back; a repayment takes them again
        give_back_units(claim_ids=run.reversed_claims, now=now, reason=REVERSAL)
    taken_back = set(run.reversed_claims)
    retake_after_repayment(claim_ids=[c for c in run.adjudicated_claims if c not in taken_back], now=now)
    adjudicated = [row["id"] for row in run.claim_rows.values()]
    if adjudicated or run.remittance_ids:  # subscribers write in this transaction: the follow-ups these answers
        # settle wake up, the deposits waiting for these ERAs are matched
        signals.remittance_posted.send(organization_id, now=now, claim_ids=adjudicated,
                                       remittance_ids=list(run.remittance_ids))  # fmt: skip
    return PostingResult(
        remittances_posted=posted,
        duplicates_refused=refused,
        claims_posted=claims_posted,
        claims_unmatched=claims_unmatched,
        denial_items=run.denial_items,
        exception_items=run.exception_items,
        problems=run.problems,
        underpayment_items=run.underpayment_items,
        overpayment_items=run.overpayment_items,
        recoupment_items=run.recoupment_items,
        remittance_ids=run.remittance_ids,
    )
