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
    S.ACCEPTED: frozenset({S.PAID, S.PARTIALLY_PAID, S.DENIED}),
    S.PARTIALLY_PAID: frozenset({S.PAID, S.DENIED, S.APPEALED, S.CLOSED}),
    S.DENIED: frozenset({S.APPEALED, S.DRAFT, S.CLOSED}),
    S.APPEALED: frozenset({S.PAID, S.PARTIALLY_PAID, S.DENIED, S.CLOSED}),
    S.PAID: frozenset({S.CLOSED, S.DENIED}),  # a reversal (CLP02=22) can take a payment back
    S.CLOSED: frozenset(),
}


def can_move(current: ClaimStatus, new: ClaimStatus) -> bool:
    """Whether the lifecycle allows ``current`` → ``new``."""
    return new in TRANSITIONS[current]
