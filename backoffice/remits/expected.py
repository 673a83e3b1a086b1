"""Expected payment and duplicates while an 835 posts: each posted line of a primary claim gets its contracted
allowed amount (``ContractedRate`` × units); a line whose paid + patient responsibility falls short of it by more
than the practice's tolerance opens one underpayment item per claim payment with the difference (a CO-45 that took
the allowed below the contract is flagged on it). A second payment of an already-paid claim is not applied: its
money is kept as the payment's unapplied amount and an overpayment item holds it for a person."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import select

from backoffice.extensions import db
from backoffice.orgs.models import ContractedRate
from backoffice.remits import rules
from backoffice.remits.bulk import chunks
from backoffice.remits.denials import fmt, queue_item
from backoffice.remits.posting_run import ZERO, ClaimView, Run, line_row
from backoffice.work.rules import ExceptionKind, InteractionKind
from backoffice.x12 import era835

RATE_COLUMNS = (
    ContractedRate.practice_id,
    ContractedRate.payer_id,
    ContractedRate.cpt,
    ContractedRate.modifier,
    ContractedRate.allowed,
    ContractedRate.effective_from,
    ContractedRate.effective_to,
)


@lru_cache(maxsize=4096)
def _disposition(group: str, reason: str, amount: Decimal) -> rules.Disposition:
    return rules.disposition(group, reason, amount)


def load_rates(run: Run, practice_ids: set[int]) -> None:
    """The contracted rates of practices not loaded yet, by (practice, payer, cpt), in one query per 5,000."""
    new = sorted(practice_ids - run.rate_practices)
    run.rate_practices.update(new)
    for chunk in chunks(new):
        for rate in db.session.execute(select(*RATE_COLUMNS).where(ContractedRate.practice_id.in_(chunk))):
            run.rates.setdefault((rate.practice_id, rate.payer_id, rate.cpt), []).append(rate)


def _current(run: Run, claim: ClaimView) -> tuple[Decimal, str]:
    row = run.claim_rows.get(claim.id)
    paid, status = (row["paid_amount"], row["status"]) if row else (claim.paid_amount, claim.status)
    return paid, str(getattr(status, "value", status))


def is_duplicate(run: Run, claim: ClaimView, clp: era835.Claim, lines: list[Any]) -> bool:
    """Whether this CLP pays again a claim (and lines) already paid, as posted so far, this run included."""
    paid, status = _current(run, claim)
    lines_paid = [
        None if line is None else run.line_rows.get(line.id, {}).get("paid_amount", line.paid_amount) for line in lines
    ]
    return rules.is_duplicate_payment(
        is_reversal=clp.is_reversal, paid=clp.paid, claim_paid=paid, claim_status=status, lines_paid=lines_paid
    )


def post_duplicate(
    run: Run,
    trace_number: str,
    clp: era835.Claim,
    claim: ClaimView,
    payment_id: int,
    lines: list[Any],
    adjustments: list[dict[str, Any]],
) -> None:
    """Record a duplicate payment without applying it: its CAS rows (disposition ``duplicate``), the whole CLP04 as
    the payment's unapplied amount, an overpayment item on the claim, and a log row."""
    cas = [(a, None, clp.remarks) for a in clp.adjustments]
    for svc, line in zip(clp.services, lines, strict=True):
        cas.extend((a, line, svc.remarks + clp.remarks) for a in svc.adjustments)
    adjustments.extend(
        {"claim_payment_id": payment_id, "claim_line_id": line.id if line else None, "group": a.group,
         "reason": a.reason, "amount": a.amount, "quantity": a.quantity, "disposition": "duplicate",
         "remarks": list(remarks)}
        for a, line, remarks in cas
    )  # fmt: skip
    run.unapplied.append({"id": payment_id, "unapplied_amount": clp.paid})
    reason = (
        f"claim {claim.account_number}: paid again ${fmt(clp.paid)} by 835 trace {trace_number} although already "
        f"paid; kept as an unapplied credit (not added to the claim): refund or apply it"
    )
    run.overpayment_items += 1
    queue_item(run, claim.practice_id, ExceptionKind.OVERPAYMENT.value, f"overpayment:{claim.id}:{payment_id}",
               reason, claim_id=claim.id, claim_payment_id=payment_id, payer_id=claim.payer_id, amount=clp.paid,
               evidence={"trace_number": trace_number, "unapplied": fmt(clp.paid),
                         "payer_claim_number": clp.payer_claim_number})  # fmt: skip
    run.logs.append(
        {"practice_id": claim.practice_id, "claim_id": claim.id, "actor_label": run.source,
         "kind": InteractionKind.AUTOMATION, "at": run.now, "body": reason,
         "data": {"claim_payment_id": payment_id, "duplicate": True}}
    )  # fmt: skip


def check_expected(run: Run, claim: ClaimView, clp: era835.Claim, payment_id: int, lines: list[Any]) -> None:
    """Set each posted line's expected allowed amount and open an underpayment item for the lines short of it.

    Only a primary claim's original payment is checked (a secondary pays after another payer; a reversal takes
    back); a line with a denial is worked as a denial, not as an underpayment."""
    if clp.is_reversal or claim.payer_sequence != "P":
        return
    practice = run.practices[claim.practice_id]
    if claim.practice_id not in run.rate_practices:
        load_rates(run, {claim.practice_id})
    dollars = practice.underpayment_tolerance
    percent = practice.underpayment_tolerance_percent
    short: list[dict[str, Any]] = []
    flagged = False
    for svc, line in zip(clp.services, lines, strict=True):
        if line is None:
            continue
        rate = rules.choose_rate(run.rates.get((claim.practice_id, claim.payer_id, line.cpt), ()),
                                 line.modifiers or [], line.date_of_service)  # fmt: skip
        if rate is None:
            continue
        expected = rate.allowed * line.units
        line_row(run, line)["expected_allowed"] = expected
        patient = co45 = ZERO
        denied = False
        for a in svc.adjustments:
            kind = _disposition(a.group, a.reason, a.amount)
            if kind is rules.Disposition.PATIENT:
                patient += a.amount
            elif kind is rules.Disposition.DENIAL:
                denied = True
            if a.group == "CO" and a.reason == "45":
                co45 += a.amount
        if denied:
            continue
        check = rules.check_line(expected=expected, charge=svc.charge, paid=svc.paid, patient=patient, co45=co45,
                                 tolerance_dollars=dollars, tolerance_percent=percent)  # fmt: skip
        if check.shortfall > 0:
            flagged = flagged or check.co45_below_contract
            short.append({"line": line.line_number, "cpt": line.cpt, "expected": fmt(expected),
                          "paid": fmt(svc.paid), "patient": fmt(patient), "allowed": fmt(check.allowed),
                          "difference": fmt(check.shortfall), "co45": fmt(co45),
                          "co45_below_contract": check.co45_below_contract})  # fmt: skip
    if not short:
        return
    total = sum((Decimal(s["difference"]) for s in short), ZERO)
    where = ", ".join(f"line {s['line']} {s['cpt']} expected {s['expected']} allowed {s['allowed']}" for s in short)
    reason = f"claim {claim.account_number}: underpaid ${fmt(total)} against the contract ({where})"
    if flagged:
        reason += "; CO-45 took the allowed amount below the contracted rate"
    run.underpayment_items += 1
    queue_item(run, claim.practice_id, ExceptionKind.UNDERPAYMENT.value, f"underpayment:{claim.id}:{payment_id}",
               reason, claim_id=claim.id, claim_payment_id=payment_id, payer_id=claim.payer_id, amount=total,
               denial_family=rules.Family.UNDERPAYMENT.value, reason_code="CO-45" if flagged else None,
               evidence={"lines": short, "difference": fmt(total), "co45_below_contract": flagged,
                         "tolerance": {"dollars": fmt(dollars), "percent": fmt(percent)}})  # fmt: skip
