"""Set-based report aggregates, always limited to the practices the user may see (one query per table)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, distinct, exists, extract, func, or_, select
from sqlalchemy.orm import aliased

from backoffice.accounts.models import User
from backoffice.claims.models import Claim
from backoffice.claims.rules import ClaimStatus
from backoffice.extensions import db
from backoffice.orgs.models import Payer, Practice
from backoffice.remits.models import ClaimPayment, PaymentAdjustment, Remittance
from backoffice.reports import rules
from backoffice.sweeps.services import AR_STATUSES, _claim_dos
from backoffice.work import kpis
from backoffice.work.models import Interaction, WorkItem
from backoffice.work.rules import ExceptionKind, ItemState

DENIAL_WINDOW_DAYS = 90
WORK_WINDOW_DAYS = 30
DENIED = [ClaimStatus.DENIED.value, ClaimStatus.APPEALED.value]
# A resolved item counts as reopened when its subject comes back as one of these.
REWORK_KINDS = (ExceptionKind.FIX_REJECTION, ExceptionKind.WORK_DENIAL)


@dataclass(frozen=True)
class Table:
    """One report table: the same rows feed the page and its CSV."""

    name: str
    title: str
    headers: list[str]
    rows: list[list[Any]]
    note: str = ""


def _dec(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(kpis.CENTS)


def _aging(practice_ids: Collection[int], today: date, key: Any, label: Any) -> list[list[Any]]:
    balance = Claim.total_charge - Claim.paid_amount - Claim.adjustment_amount - Claim.patient_responsibility
    open_ar = select(balance.label("balance"), _claim_dos().label("dos"), key.label("key")).where(
        Claim.practice_id.in_(practice_ids), Claim.status.in_(AR_STATUSES), balance > 0).subquery()  # fmt: skip
    starts = kpis.bucket_starts(today)
    bucket = case(*[(open_ar.c.dos >= start, name) for name, start in starts if start is not None],
                  else_=starts[-1][0])  # fmt: skip
    found: dict[Any, dict[str, Decimal]] = {}
    for key_value, name, amount in db.session.execute(
        select(open_ar.c.key, bucket, func.sum(open_ar.c.balance)).group_by(open_ar.c.key, bucket)
    ):
        found.setdefault(key_value, {})[name] = _dec(amount)
    names = dict(db.session.execute(select(label.class_.id, label).where(label.class_.id.in_(list(found)))).all())
    return sorted(([names[k], *rules.aging_row(v)] for k, v in found.items()), key=lambda row: str(row[0]))


def aging_by_practice(practice_ids: Collection[int], now: datetime) -> Table:
    """Open balance (charge - paid - adjustments - patient responsibility) per practice and aging bucket."""
    rows = _aging(practice_ids, now.date(), Claim.practice_id, Practice.name)
    return Table("aging_practice", "A/R aging by practice", ["Practice", *rules.BUCKET_LABELS, "Total"], rows)


def aging_by_payer(practice_ids: Collection[int], now: datetime) -> Table:
    """Open balance per payer and aging bucket (by date of service)."""
    rows = _aging(practice_ids, now.date(), Claim.payer_id, Payer.name)
    return Table("aging_payer", "A/R aging by payer", ["Payer", *rules.BUCKET_LABELS, "Total"], rows)


def _adjudicated(practice_ids: Collection[int], now: datetime) -> Any:
    since = now - timedelta(days=DENIAL_WINDOW_DAYS)
    return and_(Claim.practice_id.in_(practice_ids), Claim.adjudicated_at >= since, Claim.adjudicated_at <= now)


def denials_by_payer(practice_ids: Collection[int], now: datetime) -> Table:
    """Denied claims ÷ claims adjudicated in the last 90 days, per payer."""
    denied = func.sum(case((Claim.status.in_(DENIED), 1), else_=0))
    result = db.session.execute(
        select(Payer.name, func.count(Claim.id), denied).join(Payer, Payer.id == Claim.payer_id)
        .where(_adjudicated(practice_ids, now)).group_by(Payer.name).order_by(Payer.name)
    ).all()  # fmt: skip
    rows = [[name, int(total), int(d or 0), rules.share(int(d or 0), int(total))] for name, total, d in result]
    return Table("denials_payer", f"Denial rate by payer, last {DENIAL_WINDOW_DAYS} days",
                 ["Payer", "Adjudicated", "Denied", "Denial rate %"], rows)  # fmt: skip


def denials_by_month(practice_ids: Collection[int], now: datetime) -> Table:
    """Adjudicated and denied claims per month of adjudication over the last 90 days."""
    year, month = extract("year", Claim.adjudicated_at), extract("month", Claim.adjudicated_at)
    denied = func.sum(case((Claim.status.in_(DENIED), 1), else_=0))
    counts = {f"{int(y):04d}-{int(m):02d}": (int(t), int(d or 0)) for y, m, t, d in db.session.execute(
        select(year, month, func.count(Claim.id), denied).where(_adjudicated(practice_ids, now)).group_by(year, month)
    )}  # fmt: skip
    rows = []
    for key in rules.last_months(now.date(), 4):
        total, d = counts.get(key, (0, 0))
        rows.append([key, total, d, rules.share(d, total)])
    return Table("denials_month", "Denial rate by month", ["Month", "Adjudicated", "Denied", "Denial rate %"], rows)


def denials_by_carc(practice_ids: Collection[int], now: datetime) -> Table:
    """Claims denied per CAS group and CARC (835s posted in the last 90 days) ÷ claims adjudicated then."""
    total = int(db.session.scalar(select(func.count(Claim.id)).where(_adjudicated(practice_ids, now))) or 0)
    result = db.session.execute(
        select(PaymentAdjustment.group, PaymentAdjustment.reason, func.count(distinct(Claim.id)),
               func.sum(PaymentAdjustment.amount))
        .join(ClaimPayment, ClaimPayment.id == PaymentAdjustment.claim_payment_id)
        .join(Remittance, Remittance.id == ClaimPayment.remittance_id)
        .join(Claim, Claim.id == ClaimPayment.claim_id)
        .where(Claim.practice_id.in_(practice_ids), PaymentAdjustment.disposition == "denial",
               Remittance.posted_at >= now - timedelta(days=DENIAL_WINDOW_DAYS), Remittance.posted_at <= now)
        .group_by(PaymentAdjustment.group, PaymentAdjustment.reason)
        .order_by(PaymentAdjustment.group, PaymentAdjustment.reason)
    ).all()  # fmt: skip
    rows = [[f"{g}-{r}", int(n), _dec(amount), rules.share(int(n), total)] for g, r, n, amount in result]
    return Table("denials_carc", f"Denials by CARC, last {DENIAL_WINDOW_DAYS} days",
                 ["Group-CARC", "Claims", "Amount", "% of adjudicated"], rows)  # fmt: skip


def claim_kpis(practice_ids: Collection[int], now: datetime) -> Table:
    """Per practice: clean-claim rate, first-pass resolution and days in A/R over the last 90 days (§9.1)."""
    since = now - timedelta(days=DENIAL_WINDOW_DAYS)
    original = Claim.parent_claim_id.is_(None)
    submitted = and_(original, Claim.submitted_at >= since, Claim.submitted_at <= now)
    answered = and_(submitted, (Claim.accepted_at.is_not(None)) | (Claim.status == ClaimStatus.REJECTED))
    clean = and_(answered, Claim.accepted_at.is_not(None), Claim.version == 1, Claim.status != ClaimStatus.REJECTED)
    adjudicated = and_(original, Claim.adjudicated_at >= since, Claim.adjudicated_at <= now)
    first_pass = and_(adjudicated, Claim.version == 1,
                      Claim.status.in_([ClaimStatus.PAID.value, ClaimStatus.PARTIALLY_PAID.value]))  # fmt: skip
    balance = Claim.total_charge - Claim.paid_amount - Claim.adjustment_amount - Claim.patient_responsibility
    is_open = and_(Claim.status.in_(AR_STATUSES), balance > 0)
    charged = and_(original, Claim.created_at >= since, Claim.created_at <= now)

    def n(condition: Any) -> Any:
        return func.sum(case((condition, 1), else_=0))

    def amount(condition: Any, value: Any) -> Any:
        return func.sum(case((condition, value), else_=0))

    result = db.session.execute(
        select(Practice.name, n(answered), n(clean), n(adjudicated), n(first_pass), amount(is_open, balance),
               amount(charged, Claim.total_charge))
        .join(Practice, Practice.id == Claim.practice_id)
        .where(Claim.practice_id.in_(practice_ids)).group_by(Practice.name).order_by(Practice.name)
    ).all()  # fmt: skip
    rows = []
    for name, ans, cln, adj, fp, ar, gross in result:
        ar, gross = _dec(ar), _dec(gross)
        rows.append([name, rules.share(int(cln or 0), int(ans or 0)), rules.share(int(fp or 0), int(adj or 0)),
                     ar, gross, kpis.days_in_ar(ar, gross)])  # fmt: skip
    return Table("claim_kpis", f"Clean claims, first-pass resolution and days in A/R ({DENIAL_WINDOW_DAYS} days)",
                 ["Practice", "Clean-claim rate %", "First-pass resolution %", "Total A/R", "Gross charges",
                  "Days in A/R"], rows)  # fmt: skip


def _done_items(practice_ids: Collection[int], now: datetime) -> Any:
    since = now - timedelta(days=WORK_WINDOW_DAYS)
    return and_(WorkItem.practice_id.in_(practice_ids), WorkItem.state == ItemState.DONE,
                WorkItem.completed_at >= since, WorkItem.completed_at <= now)  # fmt: skip


def _sla(practice_ids: Collection[int], now: datetime, key: Any, join: Any) -> list[list[Any]]:
    on_time = func.sum(case((WorkItem.completed_at <= WorkItem.due_at, 1), else_=0))
    result = db.session.execute(
        select(key, func.count(WorkItem.id), on_time).join(*join)
        .where(_done_items(practice_ids, now), WorkItem.due_at.is_not(None)).group_by(key).order_by(key)
    ).all()  # fmt: skip
    return [[name, int(total), int(ok or 0), rules.share(int(ok or 0), int(total))] for name, total, ok in result]


def sla_by_biller(practice_ids: Collection[int], now: datetime) -> Table:
    """Items completed by their due time ÷ items completed (with a due time), last 30 days, per assignee."""
    rows = _sla(practice_ids, now, User.name, (User, User.id == WorkItem.assignee_id))
    return Table("sla_biller", f"SLA attainment by biller, last {WORK_WINDOW_DAYS} days",
                 ["Biller", "Completed", "On time", "Attainment %"], rows)  # fmt: skip


def sla_by_practice(practice_ids: Collection[int], now: datetime) -> Table:
    """Items completed by their due time ÷ items completed (with a due time), last 30 days, per practice."""
    rows = _sla(practice_ids, now, Practice.name, (Practice, Practice.id == WorkItem.practice_id))
    return Table("sla_practice", f"SLA attainment by practice, last {WORK_WINDOW_DAYS} days",
                 ["Practice", "Completed", "On time", "Attainment %"], rows)  # fmt: skip


def productivity(practice_ids: Collection[int], now: datetime) -> Table:
    """Per person, last 30 days: items resolved, their touches (log entries by that person) per item, and how many
    were reopened: the same claim or session came back afterwards as a rejection or denial to work."""
    done = select(WorkItem.id, WorkItem.assignee_id, WorkItem.claim_id, WorkItem.session_id, WorkItem.completed_at)\
        .where(_done_items(practice_ids, now), WorkItem.assignee_id.is_not(None)).subquery()  # fmt: skip
    touches = (select(Interaction.work_item_id, func.count(Interaction.id).label("n"))
               .join(done, and_(done.c.id == Interaction.work_item_id, done.c.assignee_id == Interaction.actor_user_id))
               .group_by(Interaction.work_item_id).subquery())  # fmt: skip
    later = aliased(WorkItem)
    came_back = exists().where(
        later.kind.in_([k.value for k in REWORK_KINDS]), later.id != done.c.id,
        later.created_at > done.c.completed_at, later.created_at <= now,
        or_(and_(done.c.claim_id.is_not(None), later.claim_id == done.c.claim_id),
            and_(done.c.session_id.is_not(None), later.session_id == done.c.session_id)),
    )  # fmt: skip
    result = db.session.execute(
        select(User.name, func.count(done.c.id), func.coalesce(func.sum(touches.c.n), 0),
               func.sum(case((came_back, 1), else_=0)))
        .join(done, done.c.assignee_id == User.id).outerjoin(touches, touches.c.work_item_id == done.c.id)
        .group_by(User.name).order_by(User.name)
    ).all()  # fmt: skip
    rows = [[name, int(resolved), int(t), rules.per_resolution(int(t), int(resolved)), int(back or 0),
             rules.share(int(back or 0), int(resolved))] for name, resolved, t, back in result]  # fmt: skip
    note = ("Reopened: the item's claim or session came back after it was resolved as a rejection to fix or a "
            "denial to work (a resolved item itself is final; the rework is a new item).")  # fmt: skip
    return Table("productivity", f"Productivity by biller, last {WORK_WINDOW_DAYS} days",
                 ["Biller", "Resolved items", "Touches", "Touches per resolution", "Reopened", "Reopen rate %"],
                 rows, note)  # fmt: skip


TABLES: dict[str, Callable[[Collection[int], datetime], Table]] = {
    "aging_practice": aging_by_practice,
    "aging_payer": aging_by_payer,
    "claim_kpis": claim_kpis,
    "denials_payer": denials_by_payer,
    "denials_carc": denials_by_carc,
    "denials_month": denials_by_month,
    "sla_biller": sla_by_biller,
    "sla_practice": sla_by_practice,
    "productivity": productivity,
}
