"""One 835 posting run: what it has touched so far (claim and line amounts, items, log and ledger rows) and what it
reports (``PostingResult``); the views of the claims it posts to."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from backoffice.claims.models import Claim, ClaimLine
from backoffice.exchange.models import EdiFile
from backoffice.orgs.models import Practice

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class PostingResult:
    """What one 835 file did: transactions posted, duplicates refused as (payer id, trace), claims, items."""

    remittances_posted: int
    duplicates_refused: list[tuple[str, str]]
    claims_posted: int
    claims_unmatched: int
    denial_items: int
    exception_items: int
    problems: list[str] = field(default_factory=list)
    underpayment_items: int = 0
    overpayment_items: int = 0
    recoupment_items: int = 0
    remittance_ids: list[int] = field(default_factory=list)


@dataclass
class Run:
    organization_id: int
    now: datetime
    source: str
    edi_file: EdiFile | None
    practices: dict[int, Practice] = field(default_factory=dict)
    items: dict[str, dict[str, Any]] = field(default_factory=dict)  # dedupe key -> WorkItem values (+ reason)
    logs: list[dict[str, Any]] = field(default_factory=list)
    ledger: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # The new amounts and status of every claim and line touched, written by one bulk UPDATE each at the end.
    claim_rows: dict[int, dict[str, Any]] = field(default_factory=dict)
    line_rows: dict[int, dict[str, Any]] = field(default_factory=dict)
    cache: dict[tuple[Any, ...], Any] = field(default_factory=dict)  # SLA and appeal deadlines already computed
    denial_items: int = 0
    exception_items: int = 0
    # Claims a reversal took back (their authorization units are given back) and claims paid or denied afresh.
    reversed_claims: list[int] = field(default_factory=list)
    adjudicated_claims: list[int] = field(default_factory=list)
    # Contracted rates by (practice, payer, cpt), loaded once per practice (remits/expected.py).
    rates: dict[tuple[int, int, str], list[Any]] = field(default_factory=dict)
    rate_practices: set[int] = field(default_factory=set)
    unapplied: list[dict[str, Any]] = field(default_factory=list)  # ClaimPayment id → unapplied_amount
    underpayment_items: int = 0
    overpayment_items: int = 0
    recoupment_items: int = 0
    remittance_source: str = "835"
    remittance_ids: list[int] = field(default_factory=list)


AMOUNTS = ("paid_amount", "adjustment_amount", "patient_responsibility")


def claim_row(run: Run, claim: ClaimView) -> dict[str, Any]:
    row = run.claim_rows.get(claim.id)
    if row is None:
        row = run.claim_rows[claim.id] = {
            "id": claim.id,
            "status": claim.status,
            "adjudicated_at": claim.adjudicated_at,
            "payer_claim_number": claim.payer_claim_number,
            **{name: getattr(claim, name) for name in AMOUNTS},
        }
    return row


def line_row(run: Run, line: ClaimLine) -> dict[str, Any]:
    row = run.line_rows.get(line.id)
    if row is None:
        row = run.line_rows[line.id] = {
            "id": line.id,
            "expected_allowed": line.expected_allowed,
            **{name: getattr(line, name) for name in AMOUNTS},
        }
    return row


CLAIM_COLUMNS = (
    Claim.id,
    Claim.practice_id,
    Claim.patient_id,
    Claim.payer_id,
    Claim.session_id,
    Claim.account_number,
    Claim.status,
    Claim.version,
    Claim.payer_sequence,
    Claim.total_charge,
    Claim.paid_amount,
    Claim.adjustment_amount,
    Claim.patient_responsibility,
    Claim.payer_claim_number,
    Claim.adjudicated_at,
)

LINE_COLUMNS = (
    ClaimLine.id,
    ClaimLine.claim_id,
    ClaimLine.line_number,
    ClaimLine.date_of_service,
    ClaimLine.cpt,
    ClaimLine.modifiers,
    ClaimLine.units,
    ClaimLine.place_of_service,
    ClaimLine.charge,
    ClaimLine.paid_amount,
    ClaimLine.adjustment_amount,
    ClaimLine.patient_responsibility,
    ClaimLine.expected_allowed,
)


class ClaimView:
    """The columns posting reads from a claim, and its lines (plain rows: no ORM objects for 10,000 claims)."""

    __slots__ = (*(column.key for column in CLAIM_COLUMNS), "lines")

    def __init__(self, row: Any) -> None:
        for name, value in row._mapping.items():
            setattr(self, name, value)
        self.lines: list[Any] = []
