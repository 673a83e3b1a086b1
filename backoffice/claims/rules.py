"""The claim status lifecycle as pure data: which status may follow which."""

from __future__ import annotations

from enum import StrEnum


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
    S.ACCEPTED: frozenset({S.PAID, S.PARTIALLY_PAID, S.DENIED, S.REJECTED}),
    S.PARTIALLY_PAID: frozenset({S.PAID, S.DENIED, S.APPEALED, S.CLOSED}),
    # A payer may reprocess a denial on its own (a corrected claim, a reopening) and pay all or part of it.
    S.DENIED: frozenset({S.APPEALED, S.DRAFT, S.CLOSED, S.PAID, S.PARTIALLY_PAID}),
    S.APPEALED: frozenset({S.PAID, S.PARTIALLY_PAID, S.DENIED, S.CLOSED}),
    # A reversal (CLP02=22) can take a payment back, and a re-adjudication can pay less than before.
    S.PAID: frozenset({S.CLOSED, S.DENIED, S.PARTIALLY_PAID}),
    S.CLOSED: frozenset(),
}


def can_move(current: ClaimStatus, new: ClaimStatus) -> bool:
    """Whether the lifecycle allows ``current`` → ``new``."""
    return new in TRANSITIONS[current]
