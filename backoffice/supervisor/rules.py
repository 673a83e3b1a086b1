"""Pure supervisor rules: spreading work across billers, and which write-offs may be asked for."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from enum import StrEnum

MAX_BULK_ITEMS = 5_000
PREVIEW_ROWS = 50
PREVIEW_MAX_AGE_SECONDS = 30 * 60  # a preview older than this must be looked at again before it is acted on


class Target(StrEnum):
    PERSON = "person"
    QUEUE = "queue"
    SPREAD = "spread"


class SlaFilter(StrEnum):
    BREACHED = "breached"
    DUE_SOON = "due_soon"
    OK = "ok"
    NONE = "none"


def spread(
    items: Iterable[tuple[int, int]],
    loads: Mapping[int, int],
    serves: Callable[[int, int], bool],
) -> dict[int, int | None]:
    """Give each ``(item_id, practice_id)`` to the least-loaded person in ``loads`` (user id → open items) who
    serves its practice; ties go to the lower user id. Items in order: urgent first. ``None`` when nobody may
    take an item (the caller refuses naming it)."""
    load = dict(loads)
    chosen: dict[int, int | None] = {}
    for item_id, practice_id in items:
        eligible = [user_id for user_id in load if serves(user_id, practice_id)]
        if not eligible:
            chosen[item_id] = None
            continue
        winner = min(eligible, key=lambda user_id: (load[user_id], user_id))
        load[winner] += 1
        chosen[item_id] = winner
    return chosen


class WriteOffReason(StrEnum):
    TIMELY_FILING = "timely_filing"
    SMALL_BALANCE = "small_balance"
    UNCOLLECTIBLE = "uncollectible"
    CONTRACTUAL = "contractual"
    HARDSHIP = "hardship"
    OTHER = "other"


class Balance(StrEnum):
    """Which balance a write-off reduces: what the payer still owes on the claim, or what the patient owes."""

    INSURANCE = "insurance"
    PATIENT = "patient"


WRITE_OFF_LABELS: dict[str, str] = {
    WriteOffReason.TIMELY_FILING: "Timely filing (provider liability)",
    WriteOffReason.SMALL_BALANCE: "Small balance",
    WriteOffReason.UNCOLLECTIBLE: "Uncollectible (bad debt)",
    WriteOffReason.CONTRACTUAL: "Contractual",
    WriteOffReason.HARDSHIP: "Financial hardship",
    WriteOffReason.OTHER: "Other",
}
# Contractual and timely-filing write-offs are the provider's loss on the payer side (CO group: the patient may
# not be billed); a hardship waiver forgives what the patient owes and needs a documented, individual
# financial-need determination (billing-rules.md §10.2).
BALANCE_FOR_REASON: dict[str, frozenset[Balance]] = {
    WriteOffReason.TIMELY_FILING: frozenset({Balance.INSURANCE}),
    WriteOffReason.CONTRACTUAL: frozenset({Balance.INSURANCE}),
    WriteOffReason.HARDSHIP: frozenset({Balance.PATIENT}),
    WriteOffReason.SMALL_BALANCE: frozenset(Balance),
    WriteOffReason.UNCOLLECTIBLE: frozenset(Balance),
    WriteOffReason.OTHER: frozenset(Balance),
}
NOTE_REQUIRED = frozenset({WriteOffReason.HARDSHIP, WriteOffReason.OTHER})


def write_off_problem(
    *, reason: str, balance: str, amount: Decimal, open_balance: Decimal, note: str | None
) -> str | None:
    """Why a write-off request cannot be made (a message naming the field), or None when it may."""
    if reason not in set(WriteOffReason):
        return f"reason: expected one of {', '.join(WriteOffReason)}"
    if balance not in set(Balance):
        return f"balance: expected one of {', '.join(Balance)}"
    if balance not in BALANCE_FOR_REASON[reason]:
        allowed = " or ".join(sorted(BALANCE_FOR_REASON[reason]))
        return f"balance: a {WRITE_OFF_LABELS[reason].lower()} write-off applies to the {allowed} balance only"
    if amount <= 0:
        return "amount: must be more than zero"
    if amount != amount.quantize(Decimal("0.01")):
        return "amount: at most two decimals"
    if amount > open_balance:
        return f"amount: more than the open {balance} balance (${open_balance:,.2f})"
    if reason in NOTE_REQUIRED and not (note or "").strip():
        if reason == WriteOffReason.HARDSHIP:
            return "note: a hardship write-off needs the documented financial-need determination (billing-rules §10.2)"
        return "note: required for a write-off for another reason"
    return None


def allocate(amount: Decimal, open_by_line: Iterable[tuple[int, Decimal]]) -> list[tuple[int, Decimal]]:
    """Split a claim-level write-off over its lines in line order, each up to its own open balance, so the
    claim's adjustment stays the sum of its lines' (as posting keeps it)."""
    left = amount
    parts: list[tuple[int, Decimal]] = []
    for line_id, open_amount in open_by_line:
        if left <= 0:
            break
        take = min(left, max(open_amount, Decimal("0")))
        if take > 0:
            parts.append((line_id, take))
            left -= take
    return parts
