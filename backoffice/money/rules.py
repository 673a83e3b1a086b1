"""Pure money rules for patient payments, credit balances and deposits: values in, values out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
METHODS: dict[str, str] = {"copay": "Copay at the desk", "check": "Check", "card": "Card", "cash": "Cash"}
# A check or a card payment is traced by its number; cash and a desk copay may have none.
NEEDS_REFERENCE = frozenset({"check", "card"})
DEPOSIT_KINDS: dict[str, str] = {"eft": "EFT (ERA trace number)", "check": "Payer check", "patient": "Patient batch"}
DEFAULT_MATCH_DAYS = 3  # business days an ERA or a deposit may wait for its other half (practice setting)


@dataclass(frozen=True)
class OpenBalance:
    """What a patient owes on one claim (or on no claim: a self-pay charge), and since when."""

    claim_id: int | None
    amount: Decimal
    since: date


def apply_payment(
    balances: Sequence[OpenBalance], amount: Decimal, *, chosen: Sequence[int | None] | None = None
) -> tuple[list[tuple[int | None, Decimal]], Decimal]:
    """Split ``amount`` over open balances: the chosen ones in the order given, else oldest first. Returns
    ``([(claim_id, applied)], unapplied)``; what no balance takes is kept as unapplied credit, never dropped.
    A chosen balance that is not open is refused (ValueError)."""
    amount = Decimal(amount).quantize(CENT)
    if amount <= 0:
        raise ValueError("amount: more than zero")
    open_ = {b.claim_id: b for b in balances if b.amount > 0}
    if chosen:
        missing = [c for c in chosen if c not in open_]
        if missing:
            raise ValueError(f"lines: claim {missing[0]} has no open patient balance")
        order = [open_[c] for c in dict.fromkeys(chosen)]
    else:
        order = sorted(open_.values(), key=lambda b: (b.since, b.claim_id is None, b.claim_id or 0))
    applied: list[tuple[int | None, Decimal]] = []
    left = amount
    for balance in order:
        if left <= 0:
            break
        take = min(balance.amount, left)
        applied.append((balance.claim_id, take))
        left -= take
    return applied, left


def reference_problem(method: str, reference: str | None) -> str | None:
    """Why the payment's method/reference pair is refused, or None."""
    if method not in METHODS:
        return f"method: expected one of {', '.join(METHODS)}"
    if method in NEEDS_REFERENCE and not (reference or "").strip():
        return f"reference: the {METHODS[method].lower()} number is required"
    return None


def refund_problem(amount: Decimal, credit: Decimal) -> str | None:
    """A refund gives back at most the credit there is."""
    if amount <= 0:
        return "amount: more than zero"
    if credit <= 0:
        return "amount: there is no credit balance to refund"
    if amount > credit:
        return f"amount: more than the ${credit:,.2f} credit balance"
    return None
