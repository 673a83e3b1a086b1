"""The deposit reassociation sweep (daily ``deposit-matching`` flow): deposits recorded before their ERA are matched
again (same trace number and amount; the match closes their items); then, past the practice's N business days
(``sla_overrides["deposit_match_days"]``, default 3), an ERA that paid money and has no bank deposit opens a *Match
deposit* item about the ERA, and an EFT or payer-check deposit that no ERA has matched opens one about the deposit
(``work_items.deposit_id``), with the amount. Idempotent: one item per ERA and per deposit (dedupe key); a second
run changes nothing."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from backoffice.calendars import is_business_day
from backoffice.claims.models import Claim
from backoffice.extensions import db
from backoffice.money import rules
from backoffice.money.deposits import EFT_KINDS, deposit_item_key, era_for, era_item_key, match
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


def _practice(practices: dict[int, Practice], practice_id: int) -> Practice:
    if practice_id not in practices:
        practices[practice_id] = db.session.get(Practice, practice_id)
    return practices[practice_id]


def _eras_without_deposit(now: datetime, practices: dict[int, Practice]) -> int:
    deposited = select(Deposit.remittance_id).where(Deposit.remittance_id.is_not(None))
    eras = db.session.execute(
        select(Remittance, ClaimPayment.id, Claim.practice_id)
        .join(ClaimPayment, ClaimPayment.remittance_id == Remittance.id)
        .join(Claim, Claim.id == ClaimPayment.claim_id)
        .where(Remittance.total_paid > 0, Remittance.id.not_in(deposited)).order_by(Remittance.id, ClaimPayment.id)
    ).all()  # fmt: skip
    seen: set[int] = set()
    opened = 0
    for remittance, payment_id, practice_id in eras:
        if remittance.id in seen:
            continue
        seen.add(remittance.id)
        practice = _practice(practices, practice_id)
        days = match_days(practice)
        zone = ZoneInfo(practice.timezone)
        if not overdue(remittance.posted_at.astimezone(zone).date(), days, now.astimezone(zone).date()):
            continue
        _, created = add_item(
            practice_id=practice_id, kind=ExceptionKind.MATCH_DEPOSIT, now=now, edi_file_id=remittance.edi_file_id,
            claim_payment_id=None if remittance.edi_file_id else payment_id, dedupe_key=era_item_key(remittance.id),
            reason=f"ERA trace {remittance.trace_number} (${remittance.total_paid:,.2f}) has no bank deposit after "
            f"{days} business days", source="deposit sweep", amount=remittance.total_paid,
        )  # fmt: skip
        opened += created
    return opened


def _deposits_without_era(now: datetime, waiting: list[Deposit], practices: dict[int, Practice]) -> int:
    opened = 0
    for deposit in waiting:
        practice = _practice(practices, deposit.practice_id)
        days = match_days(practice)
        if not overdue(deposit.deposited_on, days, now.astimezone(ZoneInfo(practice.timezone)).date()):
            continue
        what = f"{'EFT trace' if deposit.kind == 'eft' else 'check'} {deposit.trace_number}"
        reason = (f"Deposit of ${deposit.amount:,.2f} on {deposit.deposited_on.isoformat()} ({what}) has no ERA "
                  f"after {days} business days: ask the payer for the 835 of that trace number")  # fmt: skip
        era = era_for(deposit)
        if era is not None:  # same trace, another amount: never matched silently
            reason += f"; ERA trace {era.trace_number} paid ${era.total_paid:,.2f}, not ${deposit.amount:,.2f}"
        _, created = add_item(
            practice_id=deposit.practice_id, kind=ExceptionKind.MATCH_DEPOSIT, now=now, deposit_id=deposit.id,
            dedupe_key=deposit_item_key(deposit.id), reason=reason, source="deposit sweep", amount=deposit.amount,
            evidence={"deposit_id": deposit.id, "trace_number": deposit.trace_number},
        )  # fmt: skip
        opened += created
    return opened


@service
def sweep_deposit_matching(*, now: datetime) -> dict[str, int]:
    """Match deposits still waiting for their ERA (closing their items), then open an item for each ERA with
    money and no deposit, and for each deposit with no ERA, past the practice's N business days."""
    counts: Counter[str] = Counter(matched=0, items=0, deposit_items=0)
    waiting: list[Deposit] = []
    unmatched = select(Deposit).where(Deposit.kind.in_(EFT_KINDS), Deposit.remittance_id.is_(None))
    for deposit in db.session.scalars(unmatched.order_by(Deposit.id)):
        era = era_for(deposit)
        if era is not None and era.total_paid == deposit.amount:
            match(deposit, era, now=now, actor=None, cause="deposit sweep")
            counts["matched"] += 1
        else:
            waiting.append(deposit)
    db.session.flush()
    practices: dict[int, Practice] = {}
    counts["items"] += _eras_without_deposit(now, practices)
    counts["deposit_items"] += _deposits_without_era(now, waiting, practices)
    db.session.commit()
    return dict(counts)
