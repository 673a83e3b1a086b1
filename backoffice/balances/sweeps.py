"""The payment-plan sweep: reminders as work items and plan states (completed, defaulted). Takes ``now``, owns
its commit, returns counts (no PHI) and is idempotent: reminders carry dedupe keys, so a re-run creates nothing."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from backoffice.balances import queries, rules
from backoffice.balances.models import PaymentPlan
from backoffice.claims.models import Claim
from backoffice.extensions import db
from backoffice.orgs.models import Practice
from backoffice.services_base import service
from backoffice.work.chains import add_item
from backoffice.work.models import WorkItem
from backoffice.work.rules import END_OF_BUSINESS, OPEN_STATES, ExceptionKind, WorkKind

SWEPT_STATES = ("active", "defaulted")  # paused plans (GFE dispute, payer appeal) get no reminders


@service
def sweep_payment_plans(*, now: datetime) -> dict[str, int]:
    """Open one ``payment_reminder`` item per unpaid instalment due within 5 days and one per missed instalment
    (about the patient, due by close of business), and move plans to completed/defaulted as their instalments
    say. A plan whose patient has an open payer appeal is paused instead (a person resumes it)."""
    counts: Counter[str] = Counter(plans=0, upcoming=0, missed=0, defaulted=0, completed=0, existing=0, paused=0)
    practices: dict[int, Practice] = {}
    plans = list(db.session.scalars(select(PaymentPlan).where(PaymentPlan.state.in_(SWEPT_STATES))
                                    .order_by(PaymentPlan.id)))  # fmt: skip
    appealing = _patients_with_open_appeals({plan.patient_id for plan in plans})
    for plan in plans:
        counts["plans"] += 1
        if plan.patient_id in appealing:  # §10.3: no collection while a payer appeal is pending
            plan.state = "paused"
            stamp = f"Paused {now.date().isoformat()}: payer appeal pending (work item #{appealing[plan.patient_id]})"
            plan.note = "\n".join(filter(None, [plan.note, stamp]))[:2000]
            counts["paused"] += 1
            continue
        practice = practices.get(plan.practice_id) or db.session.get(Practice, plan.practice_id)
        practices[plan.practice_id] = practice
        zone = ZoneInfo(practice.timezone)
        today = now.astimezone(zone).date()
        instalments = queries.as_rule_instalments(plan.instalments)
        by_number = {i.number: i for i in plan.instalments}
        for reminder in rules.reminders_due(instalments, today):
            day = reminder.due_on if reminder.kind == "upcoming" else today + timedelta(days=1)
            due_at = max(datetime.combine(day, END_OF_BUSINESS, tzinfo=zone), now)
            what = "is due" if reminder.kind == "upcoming" else "was missed"
            # Autopay: the patient authorized the card on file, so the item says to charge it (and record the
            # payment on the patient's Payments page), not to remind them.
            action = "charge the card on file: " if plan.autopay and reminder.kind == "upcoming" else ""
            item, created = add_item(
                practice_id=plan.practice_id, kind=ExceptionKind.PAYMENT_REMINDER, now=now, patient_id=plan.patient_id,
                reason=f"{action}payment plan #{plan.id} instalment {reminder.number} {what} "
                f"({reminder.due_on.isoformat()})",
                dedupe_key=rules.reminder_key(plan.id, reminder.number, reminder.kind), due_at=due_at,
                evidence={"plan_id": plan.id, "instalment": reminder.number, "reminder": reminder.kind},
                source="payment-plan sweep",
            )  # fmt: skip
            if created:
                counts[reminder.kind] += 1
                by_number[reminder.number].reminder_item_id = item.id
            else:
                counts["existing"] += 1
        state = rules.plan_state(plan.state, instalments, today)
        if state != plan.state:
            counts[state] += 1
            plan.state = state
    db.session.commit()
    return dict(counts)


def _patients_with_open_appeals(patient_ids: set[int]) -> dict[int, int]:
    """Patient id → an open appeal item on one of their claims (the payer may still pay what the plan collects)."""
    if not patient_ids:
        return {}
    rows = db.session.execute(
        select(Claim.patient_id, WorkItem.id)
        .join(Claim, Claim.id == WorkItem.claim_id)
        .where(WorkItem.kind == WorkKind.APPEAL, WorkItem.state.in_(list(OPEN_STATES)),
               Claim.patient_id.in_(patient_ids))
        .order_by(WorkItem.id)
    ).all()  # fmt: skip
    found: dict[int, int] = {}
    for patient_id, item_id in rows:
        found.setdefault(patient_id, item_id)
    return found
