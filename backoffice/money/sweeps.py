"""The deposit reassociation sweep: an ERA that pays money but has no bank deposit after N business days (practice
setting ``sla_overrides["deposit_match_days"]``, default 3) opens a *Match deposit* item; a deposit recorded before
its ERA arrived is matched again. Idempotent: one item per ERA (dedupe key), a second run changes nothing."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from backoffice.calendars import is_business_day
from backoffice.claims.models import Claim
from backoffice.extensions import db
from backoffice.money import rules
from backoffice.money.deposits import _match_era
from backoffice.money.models import Deposit
from backoffice.orgs.models import Practice
from backoffice.remits.models import ClaimPayment, Remittance
from backoffice.services_base import service
from backoffice.work.chains import add_item
from backoffice.work.rules import ExceptionKind, add_business_days


def match_days(practice: Practice) -> int:
    """The practice's business days an ERA may wait for its deposit (and the other way round)."""
    return int((practice.sla_overrides or {}).get("deposit_match_days", rules.DEFAULT_MATCH_DAYS))


def overdue(posted_on: date, days: int, today: date) -> bool:
    """Whether ``days`` business days have passed since ``posted_on``."""
    return today >= add_business_days(posted_on, days, is_business_day)


@service
def sweep_deposit_matching(*, now: datetime) -> dict[str, int]:
    """Match deposits still waiting for their ERA, then open an item for each ERA with money and no deposit past
    the practice's N business days."""
    counts: Counter[str] = Counter(matched=0, items=0)
    for deposit in db.session.scalars(select(Deposit).where(Deposit.kind.in_(["eft", "check"]),
                                                            Deposit.remittance_id.is_(None))):  # fmt: skip
        if _match_era(deposit, now) is not None:
            counts["matched"] += 1
    db.session.flush()
    deposited = select(Deposit.remittance_id).where(Deposit.remittance_id.is_not(None))
    eras = db.session.execute(
        select(Remittance, ClaimPayment.id, Claim.practice_id)
        .join(ClaimPayment, ClaimPayment.remittance_id == Remittance.id)
        .join(Claim, Claim.id == ClaimPayment.claim_id)
        .where(Remittance.total_paid > 0, Remittance.id.not_in(deposited)).order_by(Remittance.id, ClaimPayment.id)
    ).all()  # fmt: skip
    seen: set[int] = set()
    practices: dict[int, Practice] = {}
    for remittance, payment_id, practice_id in eras:
        if remittance.id in seen:
            continue
        seen.add(remittance.id)
        practice = practices.get(practice_id) or db.session.get(Practice, practice_id)
        practices[practice_id] = practice
        days = match_days(practice)
        zone = ZoneInfo(practice.timezone)
        if not overdue(remittance.posted_at.astimezone(zone).date(), days, now.astimezone(zone).date()):
            continue
        item, created = add_item(
            practice_id=practice_id, kind=ExceptionKind.MATCH_DEPOSIT, now=now, edi_file_id=remittance.edi_file_id,
            claim_payment_id=None if remittance.edi_file_id else payment_id, dedupe_key=f"deposit:era:{remittance.id}",
            reason=f"ERA trace {remittance.trace_number} (${remittance.total_paid:,.2f}) has no bank deposit after "
            f"{days} business days", source="deposit sweep",
        )  # fmt: skip
        if created:
            item.amount = remittance.total_paid
            counts["items"] += 1
    db.session.commit()
    return dict(counts)
