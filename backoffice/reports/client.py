"""The client's monthly report (issue 20.3): for one practice and one month, in the practice's time zone — the
money (charges, payments, adjustments and A/R at start and end, from the month-end roll-forward, reconciling to
the cent), denials by root cause and whose they were to fix, SLA attainment for the steps we own against the
contract's promise, and what is waiting on the practice.

Built for one practice at a time and scoped by the caller (``report_for``): the supervisors' page uses it today;
the practice portal's users will see their own practice's through the same function.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from backoffice.claims.models import Claim
from backoffice.contracts.models import ClientContract
from backoffice.contracts.services import contract_in_force, month_bounds
from backoffice.extensions import db
from backoffice.orgs.models import Practice
from backoffice.remits.models import ClaimPayment, PaymentAdjustment, Remittance
from backoffice.remits.rules import denial_family
from backoffice.reports import month_end, rules
from backoffice.work.models import Interaction, WorkItem
from backoffice.work.rules import KIND_LABELS, OPEN_STATES, ItemState

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class DenialRow:
    family: str
    owner: rules.Owner
    claims: int
    amount: Decimal


@dataclass(frozen=True)
class SlaRow:
    step: str
    promised_hours: int | None  # None: a step we own with no SLA promised in the contract
    completed: int
    on_time: int

    @property
    def attainment(self) -> Decimal | None:
        return rules.share(self.on_time, self.completed) if self.promised_hours is not None else None


@dataclass(frozen=True)
class WaitingRow:
    item_id: int
    kind: str
    claim: str | None
    since: datetime
    due_at: datetime | None


@dataclass
class ClientReport:
    practice: Practice
    month: str  # YYYY-MM
    first: date
    last: date
    money: month_end.Rollforward
    denials: list[DenialRow] = field(default_factory=list)
    contract: ClientContract | None = None
    sla: list[SlaRow] = field(default_factory=list)
    waiting: list[WaitingRow] = field(default_factory=list)

    @property
    def adjustments(self) -> Decimal:
        """Contractual adjustments and write-offs together (each is also shown on its own line)."""
        return self.money.figures["contractual"] + self.money.figures["write_offs"]

    def money_rows(self) -> list[tuple[str, Decimal]]:
        """The money section, page and PDF alike: A/R at start, each roll-forward figure, adjustments, A/R at end."""
        money = self.money
        figures = [(label, money.figures[key]) for key, label, _ in month_end.FIGURES]
        return [("A/R at start", money.start_ar), *figures,
                ("Adjustments (contractual and write-offs)", self.adjustments),
                ("A/R at end", money.end_ar)]  # fmt: skip

    def denials_by_owner(self) -> list[tuple[rules.Owner, int, Decimal]]:
        """Denied claims and dollars per owner, every owner listed (zero when none)."""
        totals: dict[rules.Owner, list[Any]] = {owner: [0, ZERO] for owner in rules.Owner}
        for row in self.denials:
            totals[row.owner][0] += row.claims
            totals[row.owner][1] += row.amount
        return [(owner, n, amount) for owner, (n, amount) in totals.items()]


def month_instants(practice: Practice, year: int, month: int) -> tuple[date, date, datetime, datetime]:
    """The month's first and last day and [start, end) as UTC instants in the practice's time zone."""
    first, last = month_bounds(year, month)
    zone = ZoneInfo(practice.timezone)
    start = datetime.combine(first, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return first, last, start, end


def report_for(practice_id: int, scope: set[int] | list[int], year: int, month: int, now: datetime) -> ClientReport:
    """The report of a practice in ``scope`` (the caller's practices), or LookupError (a 404 for a view)."""
    if practice_id not in set(scope):
        raise LookupError("practice: not one of yours")
    practice = db.session.get(Practice, practice_id)
    if practice is None:
        raise LookupError("practice: not one of yours")
    return build(practice, year, month, now)


def build(practice: Practice, year: int, month: int, now: datetime) -> ClientReport:
    """Every section of one practice's month (the caller has checked the practice is in the user's scope)."""
    first, last, start, end = month_instants(practice, year, month)
    (money,) = month_end.rollforward([practice.id], start, end, now)
    contract = contract_in_force(practice.id, last) or contract_in_force(practice.id, first)
    return ClientReport(
        practice=practice, month=f"{year:04d}-{month:02d}", first=first, last=last, money=money,
        denials=denials(practice.id, start, end), contract=contract,
        sla=sla_attainment(practice.id, contract, start, end), waiting=waiting_on_practice(practice.id),
    )  # fmt: skip


def denials(practice_id: int, start: datetime, end: datetime) -> list[DenialRow]:
    """Denials posted in [start, end): one row per CARC family (claims denied, dollars denied) with its owner.

    A denial is a CAS triple the 835 posting classed as one (not contractual, patient or informational), on a
    payment that is not a reversal; the family is the §6.6 one posting routed it by (CARC, refined by the RARCs).
    """
    result = db.session.execute(
        select(PaymentAdjustment.group, PaymentAdjustment.reason, PaymentAdjustment.remarks,
               PaymentAdjustment.amount, ClaimPayment.claim_id)
        .join(ClaimPayment, ClaimPayment.id == PaymentAdjustment.claim_payment_id)
        .join(Remittance, Remittance.id == ClaimPayment.remittance_id)
        .join(Claim, Claim.id == ClaimPayment.claim_id)
        .where(Claim.practice_id == practice_id, PaymentAdjustment.disposition == "denial",
               ClaimPayment.is_reversal.is_(False), Remittance.posted_at >= start, Remittance.posted_at < end)
    ).all()  # fmt: skip
    claims: dict[str, set[int]] = defaultdict(set)
    amounts: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for group, reason, remarks, amount, claim_id in result:
        family = denial_family(group, reason, remarks or ()).value
        claims[family].add(claim_id)
        amounts[family] += Decimal(str(amount))
    rows = [DenialRow(family, rules.denial_owner(family), len(claims[family]), amounts[family]) for family in claims]
    return sorted(rows, key=lambda r: (list(rules.Owner).index(r.owner), -r.amount, r.family))


def sla_attainment(practice_id: int, contract: ClientContract | None, start: datetime, end: datetime) -> list[SlaRow]:
    """Per step we own (the contract's), items completed in [start, end) and how many within the promised hours,
    counted from when the item became ready (its first move to ready in the log; its creation otherwise)."""
    if contract is None:
        return []
    steps = list(contract.owned_steps or [])
    promised = {str(k): int(v) for k, v in (contract.sla_hours or {}).items()}
    steps += [step for step in promised if step not in steps]
    ready = (select(Interaction.work_item_id, func.min(Interaction.at).label("at"))
             .where(Interaction.practice_id == practice_id, Interaction.to_state == ItemState.READY.value)
             .group_by(Interaction.work_item_id).subquery())  # fmt: skip
    result = db.session.execute(
        select(WorkItem.kind, func.coalesce(ready.c.at, WorkItem.created_at), WorkItem.created_at,
               WorkItem.completed_at)
        .outerjoin(ready, ready.c.work_item_id == WorkItem.id)
        .where(WorkItem.practice_id == practice_id, WorkItem.kind.in_(steps), WorkItem.state == ItemState.DONE,
               WorkItem.completed_at >= start, WorkItem.completed_at < end)
    ).all()  # fmt: skip
    completed: dict[str, int] = defaultdict(int)
    on_time: dict[str, int] = defaultdict(int)
    for kind, ready_at, created_at, completed_at in result:
        completed[kind] += 1
        ready_at = _aware(ready_at or created_at)
        if kind in promised and rules.met_sla(ready_at, _aware(completed_at), promised[kind]):
            on_time[kind] += 1
    return [SlaRow(step, promised.get(step), completed[step], on_time[step]) for step in steps]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def waiting_on_practice(practice_id: int) -> list[WaitingRow]:
    """Open items of the kinds that wait on the practice (``rules.WAITING_ON_PRACTICE_KINDS``), oldest first."""
    result = db.session.execute(
        select(WorkItem.id, WorkItem.kind, Claim.account_number, WorkItem.created_at, WorkItem.due_at)
        .outerjoin(Claim, Claim.id == WorkItem.claim_id)
        .where(WorkItem.practice_id == practice_id, WorkItem.kind.in_(list(rules.WAITING_ON_PRACTICE_KINDS)),
               WorkItem.state.in_([s.value for s in OPEN_STATES]))
        .order_by(WorkItem.created_at, WorkItem.id)
    ).all()  # fmt: skip
    return [WaitingRow(i, kind, account, since, due) for i, kind, account, since, due in result]


def step_label(step: str) -> str:
    return KIND_LABELS.get(step, step.replace("_", " ").capitalize())
