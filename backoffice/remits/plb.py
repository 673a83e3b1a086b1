"""Provider-level adjustments (PLB) of a posted 835, one ``ProviderAdjustment`` row each:

- a recoupment (WO, 72, FB) whose reference (PLB03-2) names one of our claims (its account number, or the payer's
  claim number) reduces that claim's paid amount by the amount, and its lines' paid amounts by the same amount
  spread in proportion to what each line was paid (to the cent, the remainder on the last paid line: the lines
  always add up to the claim), and opens a recoupment item on it; a negative one (the payer reversing a
  recoupment) gives back to the lines the earlier recoupments took from, in the same proportions. Without a
  claim we can find, a recoupment item on the payment holds it for a person;
- L6 interest is recorded as interest (the row), never as a payment of any claim;
- any other reason opens a posting item with the amount.

BPR02 = ΣCLP04 − ΣPLB is checked when the 835 is read (an unbalanced transaction is refused), so the rows always
account for the difference between the claims paid and the money received.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from backoffice.claims.models import Claim
from backoffice.extensions import db
from backoffice.orgs.models import Practice
from backoffice.remits import rules
from backoffice.remits.bulk import bulk_insert
from backoffice.remits.denials import fmt, queue_item
from backoffice.remits.models import PlbKind, ProviderAdjustment, Remittance
from backoffice.remits.posting_run import ZERO, ClaimView, Run, claim_row, line_row
from backoffice.work.rules import ExceptionKind, InteractionKind
from backoffice.x12 import era835


def _claims_by_reference(run: Run, references: set[str], load: Any) -> dict[str, ClaimView]:
    """Our claims named by PLB references: by account number (CLP01), else by the payer's claim number (CLP07)."""
    if not references:
        return {}
    found = load(run.organization_id, sorted(references))
    missing = references - set(found)
    if missing:
        rows = db.session.execute(
            select(Claim.payer_claim_number, Claim.account_number)
            .join(Practice, Practice.id == Claim.practice_id)
            .where(Practice.organization_id == run.organization_id, Claim.payer_claim_number.in_(sorted(missing)))
        ).all()
        by_number = load(run.organization_id, sorted({account for _, account in rows}))
        found.update((icn, by_number[account]) for icn, account in rows if account in by_number)
    return found


def _held_by_lines(claim_id: int, rows: list[dict[str, Any]]) -> dict[int, Decimal]:
    """What the claim's earlier recoupments (stored, and this file's so far) still hold per claim line."""
    held: dict[int, Decimal] = defaultdict(lambda: ZERO)
    stored = db.session.scalars(
        select(ProviderAdjustment.line_amounts).where(
            ProviderAdjustment.claim_id == claim_id, ProviderAdjustment.kind == PlbKind.RECOUPMENT
        )
    )
    for amounts in [*stored, *(r["line_amounts"] for r in rows if r["claim_id"] == claim_id)]:
        for line_id, amount in (amounts or {}).items():
            held[int(line_id)] += Decimal(amount)
    return held


def spread_over_lines(run: Run, claim: ClaimView, amount: Decimal, rows: list[dict[str, Any]]) -> dict[str, str]:
    """Take a recoupment off the claim's lines (``rules.spread`` in proportion to each line's paid amount as posted
    so far; by charge when no line was paid); a negative one gives back in proportion to what earlier recoupments
    took from each line. Returns {claim line id: amount} as stored on the PLB row."""
    lines = list(claim.lines)
    if not lines:
        return {}
    weights: list[Decimal] = []
    if amount < 0:
        held = _held_by_lines(claim.id, rows)
        weights = [held.get(line.id, ZERO) for line in lines]
    if not any(w > 0 for w in weights):
        weights = [run.line_rows.get(line.id, {}).get("paid_amount", line.paid_amount) for line in lines]
    if not any(w > 0 for w in weights):
        weights = [line.charge for line in lines]
    shares = rules.spread(amount, weights)
    for line, share in zip(lines, shares, strict=True):
        if share:
            line_row(run, line)["paid_amount"] -= share
    return {str(line.id): fmt(share) for line, share in zip(lines, shares, strict=True) if share}


def post_provider_adjustments(
    run: Run,
    remittance: Remittance,
    r: era835.Remittance,
    first_payment_id: int | None,
    fallback_practice: Any,
    load: Any,
) -> int:
    """Write the PLB rows of one remittance and do what each asks (see the module doc); returns how many."""
    if not r.provider_adjustments:
        return 0
    references = {
        p.reference.strip() for p in r.provider_adjustments if rules.plb_kind(p.reason) == "recoupment" and p.reference
    }
    claims = _claims_by_reference(run, references, load)
    for claim in claims.values():
        if claim.practice_id not in run.practices:
            run.practices[claim.practice_id] = db.session.get(Practice, claim.practice_id)
    rows: list[dict[str, Any]] = []
    for index, p in enumerate(r.provider_adjustments):
        kind = rules.plb_kind(p.reason)
        claim = claims.get(p.reference.strip()) if kind == PlbKind.RECOUPMENT else None
        line_amounts = spread_over_lines(run, claim, p.amount, rows) if claim is not None else None
        rows.append(
            {"remittance_id": remittance.id, "claim_id": claim.id if claim else None,
             "provider_identifier": p.provider_id[:50], "fiscal_period": p.fiscal_period_date,
             "reason": p.reason[:2], "reference": p.reference[:50], "amount": p.amount, "kind": kind,
             "line_amounts": line_amounts}
        )  # fmt: skip
        what = f"835 trace {remittance.trace_number}: PLB {p.reason}"
        key = f"plb:{remittance.id}:{index}"
        if kind == PlbKind.INTEREST:
            continue  # recorded as interest: the row is the record; no claim's paid amount changes
        if claim is not None:
            row = claim_row(run, claim)
            row["paid_amount"] -= p.amount
            numbers = {str(line.id): line.line_number for line in claim.lines}
            spread = ", ".join(f"line {numbers[i]} {a}" for i, a in (line_amounts or {}).items())
            verb = "recouped" if p.amount > 0 else "gave back (a recoupment reversed)"
            reason = (
                f"claim {claim.account_number}: {what} {verb} ${fmt(abs(p.amount))} (reference {p.reference}; "
                f"{spread or 'no lines'}); the claim's paid amount is now ${fmt(row['paid_amount'])}: review the "
                "claim and the patient balance"
            )
            run.recoupment_items += 1
            queue_item(run, claim.practice_id, ExceptionKind.RECOUPMENT.value, key, reason, claim_id=claim.id,
                       payer_id=claim.payer_id, amount=p.amount,
                       evidence={"reason": p.reason, "reference": p.reference, "amount": fmt(p.amount)})  # fmt: skip
            run.logs.append(
                {"practice_id": claim.practice_id, "claim_id": claim.id, "actor_label": run.source,
                 "kind": InteractionKind.AUTOMATION, "at": run.now, "body": reason[:4000],
                 "data": {"remittance_id": remittance.id, "plb_reason": p.reason, "amount": fmt(p.amount)}}
            )  # fmt: skip
            continue
        target: dict[str, Any] = {}
        if first_payment_id is not None:
            target["claim_payment_id"] = first_payment_id
        elif run.edi_file is not None:
            target["edi_file_id"] = run.edi_file.id
        else:
            run.problems.append(f"{what} ${fmt(p.amount)} recorded; no claim or file to hang an item on")
            continue
        if kind == PlbKind.RECOUPMENT:
            reason = (
                f"{what} recouped ${fmt(p.amount)} (reference {p.reference or 'none'}) from a claim we cannot find: "
                "find the claim and reduce its payment"
            )
            run.recoupment_items += 1
            queue_item(run, fallback_practice(run), ExceptionKind.RECOUPMENT.value, key, reason, amount=p.amount,
                       evidence={"reason": p.reason, "reference": p.reference}, **target)  # fmt: skip
        else:
            reason = f"{what} ${fmt(p.amount)} (reference {p.reference or 'none'}): a provider-level adjustment to work"
            queue_item(run, fallback_practice(run), ExceptionKind.POSTING_EXCEPTION.value, key, reason,
                       amount=p.amount, evidence={"reason": p.reason, "reference": p.reference}, **target)  # fmt: skip
    bulk_insert(ProviderAdjustment, rows)
    return len(rows)
