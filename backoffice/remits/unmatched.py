"""An 835 claim (CLP) whose CLP01 matches none of our claims, applied to one of them by a person.

Posting keeps the unmatched CLP whole: its CAS as ``unmatched`` payment adjustments and, in
``ClaimPayment.unmatched_detail``, its claim-level CAS and its service lines (code, modifiers, date, charge, paid,
units, CAS, remarks, REF*6R). The poster chooses the claim and then which claim line each service line pays: the
form starts from the match posting itself would make (``rules.match_service_lines``: REF*6R, then code, modifiers
and date, then code, then order) and the poster may change it. Applying posts it exactly as the 835 would have
posted to that claim (``services._post_claim`` with the chosen lines: line paid, contractual and patient amounts,
expected payment, duplicates, denials, patient responsibility), logs who did it on the claim and closes the
posting-exception item, all in one transaction; a mapping that leaves a service line without a claim line or gives
one claim line two is refused, naming the service line, and changes nothing. A payment posted before its service
lines were kept applies at claim level, as before.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select

from backoffice import signals
from backoffice.accounts.models import User
from backoffice.claims.models import Claim
from backoffice.errors import NotAllowed, ValidationFailed
from backoffice.extensions import db
from backoffice.orgs.models import Payer, Practice
from backoffice.patients.models import Coverage, CoveragePriority
from backoffice.remits import kept, rules
from backoffice.remits.bulk import bulk_insert
from backoffice.remits.models import ClaimPayment, PaymentAdjustment
from backoffice.remits.posting_run import Run
from backoffice.remits.services import _load_claims, _post_claim, write_run
from backoffice.services_base import service
from backoffice.work.log import record_interaction
from backoffice.work.models import WorkItem
from backoffice.work.rules import OPEN_STATES, ExceptionKind, InteractionKind
from backoffice.work.services import complete_item
from backoffice.x12 import era835


def default_line_numbers(payment: ClaimPayment, claim: Claim) -> list[int | None]:
    """The claim line each kept service line would be matched to by posting itself (the form's starting point)."""
    lines = sorted(claim.lines, key=lambda line: line.line_number)
    matched = rules.match_service_lines(lines, kept.services(payment.unmatched_detail))
    return [line.line_number if line else None for line in matched]


def unmatched_item(payment: ClaimPayment) -> WorkItem | None:
    """The open posting-exception item holding an unmatched payment."""
    return db.session.scalar(
        select(WorkItem).where(
            WorkItem.claim_payment_id == payment.id,
            WorkItem.kind == ExceptionKind.POSTING_EXCEPTION.value,
            WorkItem.dedupe_key.like("remit:%:unmatched:%"),
            WorkItem.state.in_(list(OPEN_STATES)),
        )
    )


@service
def apply_unmatched(
    *,
    payment: ClaimPayment,
    claim: Claim,
    actor: User,
    now: datetime,
    line_numbers: Sequence[int | None] | None = None,
) -> None:
    """Post an unmatched 835 claim payment to ``claim`` (chosen by a person), each kept service line to the claim
    line ``line_numbers`` gives it (by default the line posting would match), log it and close its item. All or
    nothing: a refused mapping (ValidationFailed naming the service line) changes nothing."""
    remittance = payment.remittance
    practice = db.session.get(Practice, claim.practice_id)
    if remittance.organization_id != actor.organization_id or practice.organization_id != actor.organization_id:
        raise NotAllowed("that payment or claim is not in your organization")
    if payment.claim_id is not None:
        raise ValidationFailed(f"payment: CLP01 {payment.account_number} is already applied to a claim")
    kept_services = kept.services(payment.unmatched_detail)
    view = _load_claims(remittance.organization_id, [claim.account_number])[claim.account_number]
    if kept_services:
        chosen = list(line_numbers) if line_numbers is not None else default_line_numbers(payment, claim)
        by_number = {line.line_number: line for line in view.lines}
        problems = rules.line_map_problems([kept.label(s) for s in kept_services], set(by_number), chosen)
        if problems:
            raise ValidationFailed("the payment was not applied: " + "; ".join(problems))
        lines: list[Any] | None = [by_number[number] for number in chosen]
        claim_cas = kept.claim_adjustments(payment.unmatched_detail)
    else:  # posted before the service lines were kept: claim level, every CAS on the claim
        lines = None
        claim_cas = tuple(era835.Adjustment(a.group, a.reason, a.amount, a.quantity) for a in payment.adjustments
                          if a.disposition == "unmatched")  # fmt: skip
    clp = era835.Claim(
        claim_id=claim.account_number, status=payment.status_code, charge=payment.charge, paid=payment.paid,
        patient_responsibility=payment.patient_responsibility, filing_indicator="",
        payer_claim_number=payment.payer_claim_number or "", member_id="", statement_from=None, statement_to=None,
        adjustments=claim_cas, remarks=tuple(payment.remarks or ()), services=tuple(kept_services),
    )  # fmt: skip
    for a in [a for a in payment.adjustments if a.disposition == "unmatched"]:
        db.session.delete(a)
    db.session.flush()
    run = Run(organization_id=remittance.organization_id, now=now, source=f"applied by hand by {actor.name}"[:120],
              edi_file=None)  # fmt: skip
    run.practices[claim.practice_id] = practice
    payer = db.session.get(Payer, claim.payer_id)
    coverages: dict[int, list[Coverage]] = defaultdict(list)
    for coverage in db.session.scalars(
        select(Coverage).where(Coverage.patient_id == claim.patient_id,
                               Coverage.priority.in_([CoveragePriority.SECONDARY, CoveragePriority.TERTIARY]))
    ):  # fmt: skip
        coverages[coverage.patient_id].append(coverage)
    adjustments: list[dict[str, Any]] = []
    _post_claim(run, remittance, clp, view, payment.id, payer, coverages, adjustments, matched_lines=lines)
    payment.claim_id = claim.id
    payment.unmatched_detail = None
    remittance.claims_unmatched -= 1
    remittance.claims_posted += 1
    db.session.flush()
    if adjustments:
        bulk_insert(PaymentAdjustment, adjustments)
    write_run(run)
    how = "at claim level (its service lines were not kept)"
    if lines is not None:
        how = "service lines " + ", ".join(f"{n} → claim line {line.line_number}" for n, line in enumerate(lines, 1))
    note = (f"835 trace {remittance.trace_number}: CLP01 {payment.account_number} (paid {payment.paid:.2f}) applied "
            f"by hand to claim {claim.account_number}; {how}")  # fmt: skip
    record_interaction(practice_id=claim.practice_id, actor=actor, kind=InteractionKind.NOTE, now=now,
                       claim_id=claim.id, body=note,
                       data={"claim_payment_id": payment.id,
                             "line_numbers": [line.line_number for line in lines] if lines else None})  # fmt: skip
    signals.remittance_posted.send(remittance.organization_id, now=now, claim_ids=[claim.id], remittance_ids=[])
    item = unmatched_item(payment)
    if item is None:
        db.session.commit()
        return
    complete_item(item=item, actor=actor, now=now, note=note, result={"applied_to_claim_id": claim.id})
