"""The month-end roll-forward per practice (issue 18): A/R at start + charges − payments − contractual − write-offs
− refunds ± other = A/R at end, to the cent, every figure drillable to its claims.

A/R is what the practice is still owed, payer and patient together:
- the payer side of every primary claim once billed (``submitted_at``): charge − paid − adjustments − patient
  responsibility (a secondary claim re-bills the patient responsibility already counted, so it is left out);
- the patient side: the sum of the patient ledger (self-pay charges, responsibility moved from the payer,
  payments, waivers, write-offs, refunds).

Every money movement that changes it is an event with a time, read from the table that records it (one query per
source). A/R at an instant is the sum of the events up to it, so the roll-forward balances by construction; the
check that matters is the last line: when the period reaches now, the A/R the claims and ledgers *hold* is put
beside the events' A/R and any difference (money moved without a recorded event) is shown, never hidden.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, literal, select, union_all

from backoffice.claims.models import Claim
from backoffice.extensions import db
from backoffice.money.models import RefundRequest
from backoffice.orgs.models import Practice
from backoffice.patients.models import LedgerEntry
from backoffice.remits.models import ClaimPayment, PaymentAdjustment, ProviderAdjustment, Remittance
from backoffice.supervisor.models import WriteOffRequest
from backoffice.supervisor.rules import WRITE_OFF_LABELS
from backoffice.work.kpis import aging

CENTS = Decimal("0.01")
ZERO = Decimal("0.00")
# The roll-forward's figures in order, with the sign each enters the identity with.
FIGURES: tuple[tuple[str, str, int], ...] = (
    ("charges", "Charges", +1),
    ("payments", "Payments (payers and patients)", -1),
    ("contractual", "Contractual adjustments", -1),
    ("write_offs", "Write-offs", -1),
    ("refunds", "Refunds (credits paid back, negative)", -1),
    ("other", "Other (responsibility moved, reversals)", +1),
)
LEDGER_KINDS = {"self_pay_charge": "charges", "patient_payment": "payments", "write_off": "write_offs",
                "hardship_waiver": "write_offs", "refund": "refunds"}  # fmt: skip
BILLED = and_(Claim.payer_sequence == "P", Claim.submitted_at.is_not(None))
MOVING = ["contractual", "patient"]  # the CAS dispositions that move the payer balance (denials leave it open)
LEDGER_CATEGORY = case(*[(LedgerEntry.kind == k, literal(v)) for k, v in LEDGER_KINDS.items()], else_=literal("other"))


def case_when(condition: Any, value: Any) -> Any:
    return case((condition, value), else_=0)


def _events(practice_ids: Collection[int]) -> Any:
    """Every A/R movement as (practice_id, at, claim_id, category, effect): ``effect`` is signed as it moves A/R."""
    ids = list(practice_ids)
    charges = select(Claim.practice_id, Claim.submitted_at.label("at"), Claim.id.label("claim_id"),
                     literal("charges").label("category"), Claim.total_charge.label("effect")
                     ).where(BILLED, Claim.practice_id.in_(ids))  # fmt: skip
    # a duplicate payment's money is unapplied (an overpayment credit), not on the claim: only the applied part moves
    paid = (select(Claim.practice_id, Remittance.posted_at, Claim.id, literal("payments"),
                   -(ClaimPayment.paid - ClaimPayment.unapplied_amount))
            .join(ClaimPayment, ClaimPayment.claim_id == Claim.id)
            .join(Remittance, Remittance.id == ClaimPayment.remittance_id)
            .where(BILLED, Claim.practice_id.in_(ids)))  # fmt: skip
    cas = (select(Claim.practice_id, Remittance.posted_at, Claim.id,
                  func.coalesce(func.nullif(PaymentAdjustment.disposition, "patient"), "other"),
                  -PaymentAdjustment.amount)
           .join(ClaimPayment, ClaimPayment.claim_id == Claim.id)
           .join(Remittance, Remittance.id == ClaimPayment.remittance_id)
           .join(PaymentAdjustment, PaymentAdjustment.claim_payment_id == ClaimPayment.id)
           .where(BILLED, Claim.practice_id.in_(ids), PaymentAdjustment.disposition.in_(MOVING)))  # fmt: skip
    written = (select(Claim.practice_id, WriteOffRequest.decided_at, Claim.id, literal("write_offs"),
                      -WriteOffRequest.amount)
               .join(WriteOffRequest, WriteOffRequest.claim_id == Claim.id)
               .where(BILLED, Claim.practice_id.in_(ids), WriteOffRequest.state == "approved",
                      WriteOffRequest.patient_id.is_(None)))  # fmt: skip
    refunded = (select(Claim.practice_id, RefundRequest.posted_at, Claim.id, literal("refunds"), RefundRequest.amount)
                .join(RefundRequest, RefundRequest.claim_id == Claim.id)
                .where(BILLED, Claim.practice_id.in_(ids), RefundRequest.state == "posted"))  # fmt: skip
    ledger = select(LedgerEntry.practice_id, LedgerEntry.at, LedgerEntry.claim_id, LEDGER_CATEGORY,
                    LedgerEntry.amount).where(LedgerEntry.practice_id.in_(ids))  # fmt: skip
    # a PLB recoupment (WO/72/FB) matched to a claim takes back part of its payment: a negative payment
    recouped = (select(Claim.practice_id, Remittance.posted_at, Claim.id, literal("payments"),
                       ProviderAdjustment.amount)
                .join(ProviderAdjustment, ProviderAdjustment.claim_id == Claim.id)
                .join(Remittance, Remittance.id == ProviderAdjustment.remittance_id)
                .where(BILLED, Claim.practice_id.in_(ids), ProviderAdjustment.kind == "recoupment"))  # fmt: skip
    return union_all(charges, paid, recouped, cas, written, refunded, ledger).subquery("ar_events")


def _dec(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENTS)


@dataclass
class Rollforward:
    """One practice's period: A/R at start, the figures, A/R at end and, when the period reaches now, the A/R
    the claims and ledgers hold and its difference from the events' A/R."""

    practice_id: int
    practice: str
    start_ar: Decimal = ZERO
    figures: dict[str, Decimal] = field(default_factory=lambda: {key: ZERO for key, _, _ in FIGURES})
    end_ar: Decimal = ZERO
    held_ar: Decimal | None = None

    @property
    def rolled(self) -> Decimal:
        """A/R at start moved by the figures with their signs."""
        return self.start_ar + sum((sign * self.figures[key] for key, _, sign in FIGURES), ZERO)

    @property
    def difference(self) -> Decimal:
        """A/R at end − the roll-forward, and the held A/R − the events' A/R when known: zero when it reconciles."""
        gap = self.end_ar - self.rolled
        return gap + (self.held_ar - self.end_ar if self.held_ar is not None else ZERO)


def held_ar(practice_ids: Collection[int]) -> dict[int, Decimal]:
    """The A/R the rows hold now: billed primary claims' open payer balance plus the patient ledger."""
    ids = list(practice_ids)
    held: dict[int, Decimal] = defaultdict(lambda: ZERO)
    balance = Claim.total_charge - Claim.paid_amount - Claim.adjustment_amount - Claim.patient_responsibility
    for practice_id, amount in db.session.execute(
        select(Claim.practice_id, func.sum(balance)).where(BILLED, Claim.practice_id.in_(ids))
        .group_by(Claim.practice_id)
    ):  # fmt: skip
        held[practice_id] += _dec(amount)
    for practice_id, amount in db.session.execute(
        select(LedgerEntry.practice_id, func.sum(LedgerEntry.amount)).where(LedgerEntry.practice_id.in_(ids))
        .group_by(LedgerEntry.practice_id)
    ):  # fmt: skip
        held[practice_id] += _dec(amount)
    return dict(held)


def rollforward(practice_ids: Collection[int], start: datetime, end: datetime, now: datetime) -> list[Rollforward]:
    """Per practice in scope: the period [start, end) rolled forward from the events (two grouped queries)."""
    events = _events(practice_ids)
    # A period that reaches now takes everything recorded so far (a payment is stamped noon of the day it came in,
    # which may be later today than the clock).
    before_end = events.c.at < end if end < now else literal(True)
    names = dict(
        db.session.execute(select(Practice.id, Practice.name).where(Practice.id.in_(list(practice_ids)))).all()
    )
    rows = {pid: Rollforward(pid, name) for pid, name in sorted(names.items(), key=lambda kv: kv[1])}
    for practice_id, before, upto in db.session.execute(
        select(events.c.practice_id,
               func.sum(case_when(events.c.at < start, events.c.effect)),
               func.sum(case_when(before_end, events.c.effect)))
        .group_by(events.c.practice_id)
    ):  # fmt: skip
        rows[practice_id].start_ar, rows[practice_id].end_ar = _dec(before), _dec(upto)
    signs = {key: sign for key, _, sign in FIGURES}
    for practice_id, category, amount in db.session.execute(
        select(events.c.practice_id, events.c.category, func.sum(events.c.effect))
        .where(events.c.at >= start, before_end).group_by(events.c.practice_id, events.c.category)
    ):  # fmt: skip
        rows[practice_id].figures[category] += signs[category] * _dec(amount)
    if end >= now:
        for practice_id, amount in held_ar(practice_ids).items():
            rows[practice_id].held_ar = amount
        for row in rows.values():
            if row.held_ar is None:
                row.held_ar = ZERO
    return list(rows.values())


def drill(practice_ids: Collection[int], figure: str, start: datetime, end: datetime,
          now: datetime | None = None) -> list[tuple[Any, Decimal]]:  # fmt: skip
    """The claims behind one figure of the period (claim id or None for claim-less ledger entries, amount as it
    enters the figure), largest first."""
    events = _events(practice_ids)
    sign = {key: s for key, _, s in FIGURES}[figure]
    result = db.session.execute(
        select(events.c.claim_id, func.sum(events.c.effect))
        .where(events.c.category == figure, events.c.at >= start,
               events.c.at < end if now is None or end < now else literal(True))
        .group_by(events.c.claim_id)
    ).all()  # fmt: skip
    found = [(claim_id, sign * _dec(amount)) for claim_id, amount in result if _dec(amount) != 0]
    return sorted(found, key=lambda r: (-r[1], r[0] or 0))


def table_rows(rows: Iterable[Rollforward]) -> list[list[Any]]:
    """The roll-forward as report rows (page and CSV): numbers stay numbers."""
    return [[r.practice, r.start_ar, *[r.figures[key] for key, _, _ in FIGURES], r.end_ar, r.held_ar, r.difference]
            for r in rows]  # fmt: skip


HEADERS = ["Practice", "A/R at start", *[label for _, label, _ in FIGURES], "A/R at end", "A/R held now", "Difference"]


# --- the tables beside the roll-forward ------------------------------------------------------------------------


def net_collection(rows: Iterable[Rollforward]) -> list[list[Any]]:
    """Per practice: payments ÷ (charges − contractual adjustments) of the period, as a percentage (§9.1)."""
    found = []
    for r in rows:
        base = r.figures["charges"] - r.figures["contractual"]
        rate = (r.figures["payments"] * 100 / base).quantize(Decimal("0.1")) if base > 0 else None
        found.append([r.practice, r.figures["payments"], r.figures["charges"], r.figures["contractual"], rate])
    return found


def write_offs_by_reason(practice_ids: Collection[int], start: datetime, end: datetime) -> list[list[Any]]:
    """Approved write-offs decided in the period per practice and reason (payer and patient balances), never
    mixed with contractual adjustments, which the month-end shows on their own line."""
    result = db.session.execute(
        select(Practice.name, WriteOffRequest.reason, case((WriteOffRequest.patient_id.is_(None), "payer"),
                                                           else_="patient"),
               func.count(WriteOffRequest.id), func.sum(WriteOffRequest.amount))
        .join(Practice, Practice.id == WriteOffRequest.practice_id)
        .where(WriteOffRequest.practice_id.in_(list(practice_ids)), WriteOffRequest.state == "approved",
               WriteOffRequest.decided_at >= start, WriteOffRequest.decided_at < end)
        .group_by(Practice.name, WriteOffRequest.reason, WriteOffRequest.patient_id.is_(None))
        .order_by(Practice.name, WriteOffRequest.reason)
    ).all()  # fmt: skip
    return [[name, WRITE_OFF_LABELS.get(reason, reason), side, int(n), _dec(amount)]
            for name, reason, side, n, amount in result]  # fmt: skip


def denial_rates(practice_ids: Collection[int], start: datetime, end: datetime) -> list[list[Any]]:
    """Per practice, claims first adjudicated in the period: the initial denial rate (their first 835 denied
    them, CLP02 4) beside the final one (still denied or appealed now). An overturned or written-off denial stays
    in the initial rate; it leaves only the final one."""
    first = (select(ClaimPayment.claim_id, func.min(Remittance.posted_at).label("first_at"))
             .join(Remittance, Remittance.id == ClaimPayment.remittance_id)
             .where(ClaimPayment.claim_id.is_not(None)).group_by(ClaimPayment.claim_id).subquery())  # fmt: skip
    first_denied = (select(ClaimPayment.claim_id).join(Remittance, Remittance.id == ClaimPayment.remittance_id)
                    .join(first, and_(first.c.claim_id == ClaimPayment.claim_id,
                                      first.c.first_at == Remittance.posted_at))
                    .where(ClaimPayment.status_code == "4"))  # fmt: skip
    result = db.session.execute(
        select(Practice.name, func.count(Claim.id), func.sum(case((Claim.id.in_(first_denied), 1), else_=0)),
               func.sum(case((Claim.status.in_(["denied", "appealed"]), 1), else_=0)))
        .join(first, first.c.claim_id == Claim.id).join(Practice, Practice.id == Claim.practice_id)
        .where(Claim.practice_id.in_(list(practice_ids)), first.c.first_at >= start, first.c.first_at < end)
        .group_by(Practice.name).order_by(Practice.name)
    ).all()  # fmt: skip
    return [[name, int(n), int(i or 0), _pct(int(i or 0), int(n)), int(d or 0), _pct(int(d or 0), int(n))]
            for name, n, i, d in result]  # fmt: skip


def _pct(part: int, whole: int) -> Decimal | None:
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1")) if whole else None


def patient_aging(practice_ids: Collection[int], today: date) -> list[list[Any]]:
    """Patient A/R per practice and age bucket: each open patient balance (per patient and claim) aged from its
    first ledger entry; credits are left out (they are on the credit-balances page)."""
    per = (select(LedgerEntry.practice_id, LedgerEntry.patient_id, LedgerEntry.claim_id,
                  func.sum(LedgerEntry.amount).label("amount"), func.min(LedgerEntry.at).label("since"))
           .where(LedgerEntry.practice_id.in_(list(practice_ids)))
           .group_by(LedgerEntry.practice_id, LedgerEntry.patient_id, LedgerEntry.claim_id))  # fmt: skip
    in_scope = Practice.id.in_(list(practice_ids))
    names = dict(db.session.execute(select(Practice.id, Practice.name).where(in_scope)).all())
    found: dict[int, list[tuple[date, Decimal]]] = defaultdict(list)
    for practice_id, _, _, amount, since in db.session.execute(per):
        amount = _dec(amount)
        if amount > 0:
            day = since.date() if isinstance(since, datetime) else date.fromisoformat(str(since)[:10])
            found[practice_id].append((day, amount))
    rows = []
    for practice_id, balances in sorted(found.items(), key=lambda kv: names.get(kv[0], "")):
        buckets = aging(balances, today)
        rows.append([names[practice_id], *buckets.values(), sum(buckets.values(), ZERO)])
    return rows
