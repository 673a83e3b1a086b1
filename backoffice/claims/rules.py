"""The claim status lifecycle as pure data (which status may follow which), and the pure parts of corrections:
what changed between two versions, which corrections a claim or a denial family allows."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any


class ClaimStatus(StrEnum):
    DRAFT = "draft"
    SCRUBBED = "scrubbed"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    PAID = "paid"
    PARTIALLY_PAID = "partially_paid"
    DENIED = "denied"
    APPEALED = "appealed"
    CLOSED = "closed"


S = ClaimStatus
TRANSITIONS: dict[ClaimStatus, frozenset[ClaimStatus]] = {
    S.DRAFT: frozenset({S.SCRUBBED, S.CLOSED}),
    S.SCRUBBED: frozenset({S.DRAFT, S.SUBMITTED, S.CLOSED}),
    S.SUBMITTED: frozenset({S.ACCEPTED, S.REJECTED}),
    # A front-end rejection was never filed: it is fixed and goes back through the scrubber.
    S.REJECTED: frozenset({S.DRAFT, S.CLOSED}),
    # A clearinghouse's acceptance (277CA A1) can still be followed by the payer's own front-end rejection.
    # An accepted void (frequency 8) closes the claim.
    S.ACCEPTED: frozenset({S.PAID, S.PARTIALLY_PAID, S.DENIED, S.REJECTED, S.CLOSED}),
    # An adjudicated claim is corrected by a replacement (7) or cancelled by a void (8): a new version that goes
    # back through the scrubber (draft when it finds errors, scrubbed when clean).
    S.PARTIALLY_PAID: frozenset({S.PAID, S.DENIED, S.APPEALED, S.CLOSED, S.DRAFT, S.SCRUBBED}),
    # A payer may reprocess a denial on its own (a corrected claim, a reopening) and pay all or part of it.
    S.DENIED: frozenset({S.APPEALED, S.DRAFT, S.SCRUBBED, S.CLOSED, S.PAID, S.PARTIALLY_PAID}),
    S.APPEALED: frozenset({S.PAID, S.PARTIALLY_PAID, S.DENIED, S.CLOSED}),
    # A reversal (CLP02=22) can take a payment back, and a re-adjudication can pay less than before.
    S.PAID: frozenset({S.CLOSED, S.DENIED, S.PARTIALLY_PAID, S.DRAFT, S.SCRUBBED}),
    S.CLOSED: frozenset(),
}


def can_move(current: ClaimStatus, new: ClaimStatus) -> bool:
    """Whether the lifecycle allows ``current`` → ``new``."""
    return new in TRANSITIONS[current]


# ---- corrections (billing-rules §5.2) -----------------------------------------------------------------------------

# A replacement (7) or a void (8) refers to a claim the payer adjudicated (it has the payer's claim number).
ADJUDICATED = frozenset({S.PAID, S.PARTIALLY_PAID, S.DENIED})
REPLACEMENT, VOID, ORIGINAL = "7", "8", "1"
# Keys of a version snapshot that describe the version itself, not what is billed.
_BOOKKEEPING = frozenset({"version", "status", "frequency_code"})


def snapshot_changes(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What differs between two version snapshots, field by field ("lines" as one field), bookkeeping left out.
    With no ``before`` (the first version) nothing changed."""
    if before is None:
        return []
    keys = [k for k in dict.fromkeys([*before, *after]) if k not in _BOOKKEEPING]
    return [
        {"field": key, "before": before.get(key), "after": after.get(key)}
        for key in keys
        if before.get(key) != after.get(key)
    ]


def billed_content_equal(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two snapshots bill the same thing (header and lines), whatever their version, status and the payer's
    claim number (a replacement carries it, the original did not)."""
    return not [c for c in snapshot_changes(a, b) if c["field"] != "payer_claim_number"]


def correction_problem(*, status: str, frequency: str, payer_claim_number: str | None, correction: str) -> str | None:
    """Why ``correction`` ("7" replacement, "8" void) cannot be made of a claim, or None when it can: only an
    adjudicated claim (paid, partially paid, denied) with the payer's claim number (REF*F8), and never a void."""
    what = "replacement (7)" if correction == REPLACEMENT else "void (8)"
    if frequency == VOID:
        return f"a voided claim cannot take a {what}"
    if status not in ADJUDICATED:
        return f"a {what} is for a claim the payer adjudicated (paid, partially paid or denied), not one {status}"
    if not (payer_claim_number or "").strip():
        return f"a {what} needs the payer's claim number (REF*F8) from the 835 or 277CA"
    return None


# The corrections a denial family calls for (billing-rules §6.6), in the order the item offers them.
FAMILY_ACTIONS: dict[str, tuple[str, ...]] = {
    "eligibility": ("rebill", "replace", "write_off"),
    "authorization": ("replace", "appeal", "write_off"),
    "coding": ("replace", "appeal", "write_off"),
    "credentialing": ("appeal", "write_off"),
    "medical_necessity": ("appeal", "replace", "write_off"),
    "records": ("appeal", "replace"),
    "timely_filing": ("appeal", "write_off"),
    "patient_responsibility": ("rebill", "write_off"),
    "underpayment": ("appeal", "replace", "write_off"),
    "write_off": ("write_off",),
    "review": ("replace", "rebill", "appeal", "write_off"),
}
ACTION_LABELS = {
    "replace": "Correct and replace (frequency 7)",
    "rebill": "Rebill to the right payer",
    "appeal": "Appeal",
    "write_off": "Request a write-off",
    "void": "Void (frequency 8)",
}


def actions_for_family(family: str | None) -> tuple[str, ...]:
    """The actions a denial of ``family`` offers; an unknown family gets every one (a person decides)."""
    return FAMILY_ACTIONS.get(family or "review", FAMILY_ACTIONS["review"])
