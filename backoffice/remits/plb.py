"""Provider-level adjustments (PLB) of a posted 835, one ``ProviderAdjustment`` row each:

- a recoupment (WO, 72, FB) whose reference (PLB03-2) names one of our claims (its account number, or the payer's
  claim number) reduces that claim's paid amount by the amount and opens a recoupment item on it; without a claim
  we can find, a recoupment item on the payment holds it for a person;
- L6 interest is recorded as interest (the row), never as a payment of any claim;
- any other reason opens a posting item with the amount.

BPR02 = ΣCLP04 − ΣPLB is checked when the 835 is read (an unbalanced transaction is refused), so the rows always
account for the difference between the claims paid and the money received.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from backoffice.claims.models import Claim
from backoffice.extensions import db
from backoffice.orgs.models import Practice
from backoffice.remits import rules
from backoffice.remits.bulk import bulk_insert
from backoffice.remits.denials import fmt, queue_item
from backoffice.remits.models import PlbKind, ProviderAdjustment, Remittance
from backoffice.remits.posting_run import ClaimView, Run, claim_row
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
        rows.append(
            {"remittance_id": remittance.id, "claim_id": claim.id if claim else None,
             "provider_identifier": p.provider_id[:50], "fiscal_period": p.fiscal_period_date,
             "reason": p.reason[:2], "reference": p.reference[:50], "amount": p.amount, "kind": kind}
        )  # fmt: skip
        what = f"835 trace {remittance.trace_number}: PLB {p.reason}"
        key = f"plb:{remittance.id}:{index}"
        if kind == PlbKind.INTEREST:
            continue  # recorded as interest: the row is the record; no claim's paid amount changes
        if claim is not None:
            row = claim_row(run, claim)
            row["paid_amount"] -= p.amount
            reason = (
                f"claim {claim.account_number}: {what} recouped ${fmt(p.amount)} (reference {p.reference}); "
                f"the claim's paid amount is now ${fmt(row['paid_amount'])}: review the claim and the patient balance"
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
