"""Posting by a person: the preview of an 835 before it posts, applying an unmatched remittance claim to one of our
claims by hand, and keying in a paper EOB.

- The preview posts the file in the current transaction (``post_uncommitted``), reads back what was written (per
  claim: the claim matched, paid, adjustments and where each went, patient responsibility, the items opened) and
  rolls back: what it shows is exactly what posting does. Posting is then the same call with a commit.
- An unmatched CLP is kept (its CAS and service lines) with an item; applying it to a claim, line by line, is
  ``remits/unmatched.py``.
- A paper EOB is checked line by line (charge = paid + adjustments) and against the claim's total charge, each
  problem naming the line and field; then it is written as an 835 (a check, trace ``<check>/<claim>``) and posted
  through ``post_835``, so expected payment, duplicates, denials and patient responsibility work as for an ERA.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from backoffice.accounts.models import User
from backoffice.claims.models import Claim, ClaimLine
from backoffice.errors import NotAllowed, ValidationFailed
from backoffice.extensions import db
from backoffice.orgs.models import Payer, Practice
from backoffice.remits import rules
from backoffice.remits.models import Remittance
from backoffice.remits.posting_run import PostingResult
from backoffice.remits.services import post_835, post_uncommitted
from backoffice.services_base import service
from backoffice.work.models import Interaction, WorkItem
from backoffice.work.rules import KIND_LABELS, ExceptionKind

ZERO = Decimal("0.00")


@dataclass
class PreviewItem:
    kind: str
    queue: str
    amount: Decimal | None
    reason: str


@dataclass
class PreviewClaim:
    account_number: str  # CLP01
    claim_id: int | None
    status_code: str
    charge: Decimal
    paid: Decimal
    patient: Decimal
    unapplied: Decimal
    status_after: str | None
    adjustments: list[tuple[str, Decimal, str, int | None]] = field(default_factory=list)  # code, amount, where, line
    items: list[PreviewItem] = field(default_factory=list)


@dataclass
class PreviewRemittance:
    trace_number: str
    payer_name: str
    total_paid: Decimal
    claims: list[PreviewClaim]
    provider_adjustments: list[tuple[str, str, Decimal, str]]  # reason, reference, amount, kind
    items: list[PreviewItem]  # items not on one of this payment's claims (recoupments of older claims, PLB)


@dataclass
class Preview:
    result: PostingResult
    remittances: list[PreviewRemittance]


def preview_835(*, organization_id: int, text: str, now: datetime) -> Preview:
    """What posting ``text`` would do, without posting it (ValidationFailed as posting would raise it)."""
    try:
        result = post_uncommitted(organization_id=organization_id, text=text, now=now, source="835 preview")
        db.session.flush()
        return Preview(result, [_describe(remittance_id, now) for remittance_id in result.remittance_ids])
    finally:
        db.session.rollback()


def _items(where: Any, now: datetime) -> list[tuple[WorkItem, str]]:
    items = list(db.session.scalars(select(WorkItem).where(where, WorkItem.created_at == now).order_by(WorkItem.id)))
    bodies = dict(
        db.session.execute(
            select(Interaction.work_item_id, Interaction.body).where(
                Interaction.work_item_id.in_([i.id for i in items]), Interaction.to_state == "ready"
            )
        ).all()
    )
    return [(item, bodies.get(item.id, "")) for item in items]


def _preview_item(item: WorkItem, body: str) -> PreviewItem:
    return PreviewItem(KIND_LABELS.get(item.kind, item.kind), item.queue, item.amount, body)


def _describe(remittance_id: int, now: datetime) -> PreviewRemittance:
    remittance = db.session.get(Remittance, remittance_id)
    payments = list(remittance.payments)
    payment_ids = [p.id for p in payments]
    claim_ids = {p.claim_id for p in payments if p.claim_id}
    statuses = dict(db.session.execute(select(Claim.id, Claim.status).where(Claim.id.in_(claim_ids))).all())
    line_numbers = dict(
        db.session.execute(select(ClaimLine.id, ClaimLine.line_number).where(ClaimLine.claim_id.in_(claim_ids))).all()
    )
    by_payment: dict[int, list[PreviewItem]] = defaultdict(list)
    others: list[PreviewItem] = []
    plb_claims = [p.claim_id for p in remittance.plb_rows if p.claim_id]
    seen: set[int] = set()
    for item, body in _items(WorkItem.claim_payment_id.in_(payment_ids), now) + _items(
        WorkItem.claim_id.in_(plb_claims), now
    ):
        if item.id in seen:
            continue
        seen.add(item.id)
        if item.claim_payment_id in payment_ids and item.kind != ExceptionKind.RECOUPMENT and "PLB" not in body:
            by_payment[item.claim_payment_id].append(_preview_item(item, body))
        else:
            others.append(_preview_item(item, body))
    claims = []
    for p in payments:
        status = statuses.get(p.claim_id)
        claims.append(
            PreviewClaim(
                account_number=p.account_number, claim_id=p.claim_id, status_code=p.status_code, charge=p.charge,
                paid=p.paid, patient=p.patient_responsibility, unapplied=p.unapplied_amount,
                status_after=str(getattr(status, "value", status)) if status else None,
                adjustments=[(f"{a.group}-{a.reason}", a.amount, a.disposition, line_numbers.get(a.claim_line_id))
                             for a in p.adjustments],
                items=by_payment.get(p.id, []),
            )
        )  # fmt: skip
    plbs = [(p.reason, p.reference, p.amount, p.kind) for p in remittance.plb_rows]
    return PreviewRemittance(remittance.trace_number, remittance.payer_name, remittance.total_paid, claims, plbs,
                             others)  # fmt: skip


def _practice(claim: Claim) -> Practice:
    return db.session.get(Practice, claim.practice_id)


# --- Paper EOB ----------------------------------------------------------------------------------------------------

FORBIDDEN = str.maketrans({c: " " for c in "*~:^"})


def _clean(value: str, limit: int) -> str:
    return " ".join(value.translate(FORBIDDEN).split())[:limit]


def _money(amount: Decimal) -> str:
    return f"{amount:.2f}"


def eob_835(
    *, claim: Claim, payer: Payer, practice: Practice, lines: list[rules.EobLine], check_number: str, paid_on: date
) -> str:
    """The paper EOB written as one 835 transaction (a check payment), which ``post_835`` posts like any ERA."""
    by_number = {line.line_number: line for line in claim.lines}
    paid = sum((line.paid for line in lines), ZERO)
    patient = sum((a.amount for line in lines for a in line.adjustments if a.group == "PR"), ZERO)
    denied = any(a.group not in ("PR",) and a.reason not in rules.EXPECTED_CONTRACTUAL for x in lines
                 for a in x.adjustments)  # fmt: skip
    status = "1" if paid > 0 or not denied else "4"
    trace = _clean(f"{check_number}/{claim.account_number}", 80)
    stamp = paid_on.strftime("%Y%m%d")
    segments = [
        "ST*835*0001",
        "*".join(["BPR", "I", _money(paid), "C", "CHK", *[""] * 11, stamp]),
        f"TRN*1*{trace}*{_clean(payer.payer_id, 50)}",
        f"N1*PR*{_clean(payer.name, 60)}",
        f"N1*PE*{_clean(practice.name, 60)}*XX*{practice.group_npi}",
        "LX*1",
        f"CLP*{claim.account_number}*{status}*{_money(claim.total_charge)}*{_money(paid)}*{_money(patient)}*12*"
        f"{_clean(claim.payer_claim_number or '', 50)}",
    ]
    for eob in lines:
        line = by_number[eob.line_number]
        code = ":".join(["HC", line.cpt, *(line.modifiers or [])])
        segments += [
            f"SVC*{code}*{_money(eob.charge)}*{_money(eob.paid)}**{line.units}",
            f"DTM*472*{line.date_of_service.strftime('%Y%m%d')}",
            *(f"CAS*{a.group}*{_clean(a.reason, 5)}*{_money(a.amount)}" for a in eob.adjustments),
            f"REF*6R*{line.line_number}",
            *(f"LQ*HE*{_clean(code, 30)}" for code in eob.remarks),
        ]
    segments.append(f"SE*{len(segments) + 1}*0001")
    yymmdd, hhmm = paid_on.strftime("%y%m%d"), "1200"
    isa = (f"ISA*00*          *00*          *ZZ*{'PAPEREOB':<15}*ZZ*{'BACKOFFICE':<15}*{yymmdd}*{hhmm}*^*00501*"
           f"000000001*0*P*:")  # fmt: skip
    gs = f"GS*HP*PAPEREOB*BACKOFFICE*{stamp}*{hhmm}*1*X*005010X221A1"
    return "~".join([isa, gs, *segments, "GE*1*1", "IEA*1*000000001"]) + "~"


@service
def post_paper_eob(
    *,
    claim: Claim,
    actor: User,
    now: datetime,
    check_number: str,
    paid_on: date,
    lines: list[rules.EobLine],
    claim_paid: Decimal | None = None,
) -> PostingResult:
    """Post a paper EOB for ``claim``: refused (ValidationFailed naming the line and field, nothing changed) until
    every line balances and the totals match the claim; then posted as an 835 would be."""
    practice = _practice(claim)
    if practice.organization_id != actor.organization_id:
        raise NotAllowed("that claim is not in your organization")
    check = _clean(check_number, 50)
    if not check:
        raise ValidationFailed("check number: required (the check or EFT number on the EOB)")
    numbers = {line.line_number: line for line in claim.lines}
    problems = [f"line {line.line_number}: the claim has no line {line.line_number}" for line in lines
                if line.line_number not in numbers]  # fmt: skip
    problems += [f"line {n} ({line.cpt}): missing from the EOB" for n, line in numbers.items()
                 if n not in {x.line_number for x in lines}]  # fmt: skip
    problems += [f"line {x.line_number} charge: {x.charge:.2f} but the claim line's charge is "
                 f"{numbers[x.line_number].charge:.2f}" for x in lines
                 if x.line_number in numbers and x.charge != numbers[x.line_number].charge]  # fmt: skip
    problems += rules.eob_problems(lines, claim_charge=claim.total_charge, claim_paid=claim_paid)
    if problems:
        raise ValidationFailed("the EOB does not balance, nothing was posted: " + "; ".join(problems))
    payer = db.session.get(Payer, claim.payer_id)
    text = eob_835(claim=claim, payer=payer, practice=practice, lines=lines, check_number=check, paid_on=paid_on)
    result = post_835(organization_id=practice.organization_id, text=text, now=now,
                      source=f"paper EOB by {actor.name}"[:120], remittance_source="paper")  # fmt: skip
    if result.duplicates_refused:
        raise ValidationFailed(f"check number: check {check} was already posted for claim {claim.account_number}")
    if result.problems:
        raise ValidationFailed("the EOB could not post: " + "; ".join(result.problems))
    return result
