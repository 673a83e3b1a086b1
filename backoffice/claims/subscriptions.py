"""Work that closes itself when money or a void settles a claim (issue 18): a payment posted on a denied claim
closes its denial items; the crossover payer's 835 closes the crossover follow-up; a voided claim's follow-up work
is cancelled. Connected by ``app.create_app``."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import select

from backoffice import signals
from backoffice.claims.models import Claim
from backoffice.claims.rules import ClaimStatus
from backoffice.extensions import db
from backoffice.services_base import in_ids, is_postgres
from backoffice.work import closing
from backoffice.work.models import WorkItem
from backoffice.work.rules import ExceptionKind, ItemState, WorkKind

PAID = [ClaimStatus.PAID.value, ClaimStatus.PARTIALLY_PAID.value]
DENIAL_KINDS = [ExceptionKind.WORK_DENIAL.value, WorkKind.APPEAL.value]
# What a void makes moot: chasing the payer, working its denial, appealing it or fixing its rejection.
VOID_KINDS = [WorkKind.FOLLOW_UP.value, ExceptionKind.WORK_DENIAL.value, WorkKind.APPEAL.value,
              ExceptionKind.FIX_REJECTION.value]  # fmt: skip
CHUNK = 500


def close_denials_paid(sender: Any, *, now: datetime, claim_ids: Collection[int], **_: Any) -> None:
    """An 835 paid a claim that had a denial being worked (an item opened before this posting): the denial items
    close, logged with the payment. A denial the same 835 just opened stays open."""
    ids = sorted(set(claim_ids))
    step = max(len(ids), 1) if is_postgres() else CHUNK  # one array parameter on PostgreSQL
    for start in range(0, len(ids), step):
        chunk = ids[start : start + step]
        rows = db.session.execute(
            select(WorkItem, Claim.paid_amount, Claim.account_number)
            .join(Claim, Claim.id == WorkItem.claim_id)
            .where(in_ids(WorkItem.claim_id, chunk), WorkItem.kind.in_(DENIAL_KINDS), WorkItem.state.in_(closing.OPEN),
                   WorkItem.created_at < now, Claim.status.in_(PAID), Claim.paid_amount > 0)
            .order_by(WorkItem.id)
        ).all()  # fmt: skip
        for item, paid, number in rows:
            closing.close_item(item, now=now, actor=None, cause="payment-posted",
                               reason=f"Payment posted on denied claim {number}: ${paid:,.2f} paid by the payer",
                               data={"paid": str(paid)})  # fmt: skip


ADJUDICATED = [ClaimStatus.PAID.value, ClaimStatus.PARTIALLY_PAID.value, ClaimStatus.DENIED.value]


def close_crossover_follow_ups(sender: Any, *, now: datetime, claim_ids: Collection[int], **_: Any) -> None:
    """The crossover payer's own 835 posted on a crossed-over secondary claim (Medicare → Medicaid): the follow-up
    that watched for it closes, logged with what the crossover payer paid."""
    ids = sorted(set(claim_ids))
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        rows = db.session.execute(
            select(WorkItem, Claim.paid_amount, Claim.account_number, Claim.status)
            .join(Claim, Claim.id == WorkItem.claim_id)
            .where(WorkItem.claim_id.in_(chunk), WorkItem.kind == WorkKind.FOLLOW_UP.value,
                   WorkItem.dedupe_key.like("crossover:%"), WorkItem.state.in_(closing.OPEN),
                   Claim.payer_sequence == "S", Claim.status.in_(ADJUDICATED), Claim.adjudicated_at.is_not(None))
            .order_by(WorkItem.id)
        ).all()  # fmt: skip
        for item, paid, number, status in rows:
            closing.close_item(item, now=now, actor=None, cause="crossover-remitted",
                               reason=f"The crossover payer's 835 posted on secondary claim {number}: "
                               f"${paid:,.2f} paid, claim {ClaimStatus(status).value}",
                               data={"paid": str(paid)})  # fmt: skip


def cancel_voided_work(claim: Claim, *, now: datetime, actor: Any = None, reason: str = "", **_: Any) -> None:
    """A voided claim has nothing left to chase: its follow-up, denial, appeal and rejection items are cancelled."""
    why = f"Claim {claim.account_number} voided" + (f": {reason}" if reason else "")
    closing.close_claim_items(claim.id, VOID_KINDS, now=now, actor=actor, cause="claim-voided",
                              state=ItemState.CANCELLED, reason=why)  # fmt: skip


def subscribe() -> None:
    signals.remittance_posted.connect(close_denials_paid, weak=False)
    signals.remittance_posted.connect(close_crossover_follow_ups, weak=False)
    signals.claim_voided.connect(cancel_voided_work, weak=False)
