"""Coordination of benefits for secondary and tertiary 837P claims: 2320/2330A/2330B and the 2430 line adjudication
(one 2320 per prior payer; a tertiary claim carries the primary's and the secondary's, each line one 2430 per payer).

The prior payer's result must balance (billing-rules 4.1, README pitfall 19 seen from the 837 side): on each line
SV102 - SVD02 = the line's CAS amounts, and the 2320 AMT*D paid amount = sum of SVD02 - claim-level CAS, so that
CLM02 = AMT*D + every CAS of that payer. Unbalanced input raises ValueError naming the claim and the line.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from backoffice.x12.claim837_format import CENT, FILING_INDICATORS, Field, money_text, person_name, segment
from backoffice.x12.claim837_model import Adjustment, LineAdjudication, PriorPayer

CAS_GROUPS = frozenset({"CO", "PR", "OA", "PI", "CR"})
OTHER_RELATIONSHIPS = frozenset({"18", "01", "19", "20", "21", "39", "40", "53", "G8"})
TRIPLES_PER_CAS = 6
_CARC = re.compile(r"[A-Z0-9]{1,5}")


def _amount(check: Field, field: str, value: Decimal, *, zero: bool) -> Decimal:
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise check.fail(field, f"not an amount (got {value!r})") from None
    if not amount.is_finite() or amount != amount.quantize(CENT) or (amount < 0 if zero else amount == 0):
        raise check.fail(field, f"must be {'non-negative' if zero else 'non-zero'} with at most 2 decimals")
    return amount


def cas_segments(check: Field, where: str, adjustments: tuple[Adjustment, ...]) -> tuple[list[str], Decimal]:
    """CAS segments (one per group, at most 6 triples each, repeated when needed) and the adjusted total."""
    by_group: dict[str, list[str]] = {}
    total = Decimal(0)
    for adjustment in adjustments:
        group = check.one_of(f"{where} adjustment group", adjustment.group, CAS_GROUPS)
        reason = check.match(f"{where} adjustment reason", adjustment.reason, _CARC, "a CARC is 1-5 characters")
        amount = _amount(check, f"{where} adjustment amount", adjustment.amount, zero=False)
        quantity = adjustment.quantity
        if quantity is not None and (not isinstance(quantity, int) or quantity < 0):
            raise check.fail(f"{where} adjustment quantity", f"a whole number (got {quantity!r})")
        by_group.setdefault(group, []).extend((reason, money_text(amount), "" if quantity is None else str(quantity)))
        total += amount
    out = []
    for group, triples in by_group.items():
        for start in range(0, len(triples), 3 * TRIPLES_PER_CAS):
            out.append(segment("CAS", group, *triples[start : start + 3 * TRIPLES_PER_CAS]))
    return out, total


def other_payer_segments(check: Field, prior: PriorPayer, line_paid: Decimal) -> list[str]:
    """2320 (SBR, claim CAS, AMT*D, OI), 2330A other subscriber and 2330B other payer."""
    responsibility = check.one_of("prior payer SBR01", prior.responsibility, frozenset({"P", "S"}))
    relationship = check.one_of("prior payer relationship (2320 SBR02)", prior.relationship, OTHER_RELATIONSHIPS)
    filing = check.one_of("prior payer filing indicator", prior.claim_filing_indicator, FILING_INDICATORS)
    subscriber = prior.subscriber
    group = check.text("prior payer group number", subscriber.group_number, 50, required=False)
    cas, adjusted = cas_segments(check, "claim", prior.claim_adjustments)
    paid = line_paid - adjusted
    if paid < 0:
        raise check.fail("prior payer claim adjustments", "exceed the amounts paid on the lines")
    last, first = person_name(check, "prior payer subscriber", subscriber.last_name, subscriber.first_name)
    payer_name = check.text("prior payer name", prior.payer.name, 60)
    return [
        segment("SBR", responsibility, relationship, group, "", "", "", "", "", filing),
        *cas,
        segment("AMT", "D", money_text(paid)),
        "OI***Y***Y" + "~\n",
        segment("NM1", "IL", "1", last, first, "", "", "", "MI",
                check.ident("prior payer member ID", subscriber.member_id, 80)),
        segment("NM1", "PR", "2", payer_name, "", "", "", "", "PI", prior_payer_id(check, prior)),
    ]  # fmt: skip


def prior_payer_id(check: Field, prior: PriorPayer) -> str:
    return check.ident("prior payer ID", prior.payer.payer_id, 80)


def line_adjudication_segments(
    check: Field, where: str, adjudication: LineAdjudication, payer_id: str, procedure: str, charge: Decimal, units: int
) -> tuple[list[str], Decimal]:
    """2430 SVD, CAS and DTP*573 for one line; the line must balance. Returns the segments and the paid amount."""
    if not isinstance(adjudication, LineAdjudication):
        raise check.fail(f"{where} prior payer adjudication", "is missing")
    paid = _amount(check, f"{where} prior payer paid amount", adjudication.paid, zero=True)
    cas, adjusted = cas_segments(check, where, adjudication.adjustments)
    if charge - paid != adjusted:
        raise check.fail(f"{where} prior payer adjudication",
                         f"charge {charge} - paid {paid} must equal the adjustments {adjusted}")  # fmt: skip
    paid_units = adjudication.paid_units if adjudication.paid_units is not None else units
    if not isinstance(paid_units, int) or paid_units < 0:
        raise check.fail(f"{where} prior payer paid units", f"a whole number (got {paid_units!r})")
    return [
        segment("SVD", payer_id, money_text(paid), procedure, "", str(paid_units)),
        *cas,
        segment("DTP", "573", "D8", check.date(f"{where} prior payer paid date", adjudication.paid_date)),
    ], paid
