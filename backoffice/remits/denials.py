"""From a posted denial to its work item: the §6.6 queue, priority, SLA and appeal deadline, routed by the
organization's rules and written in bulk with the run."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from backoffice.automation.runner import enqueue_item_job
from backoffice.calendars import is_business_day
from backoffice.deadlines.appeals import appeal_deadline, levels_for
from backoffice.extensions import db
from backoffice.orgs.models import Payer, Practice
from backoffice.remits import rules
from backoffice.remits.bulk import bulk_insert, chunks
from backoffice.remits.posting_run import ZERO, ClaimView, Run
from backoffice.routing.services import log_row as routing_log_row
from backoffice.routing.services import route_rows
from backoffice.work import rules as work_rules
from backoffice.work.models import WorkItem
from backoffice.work.rules import InteractionKind, ItemState, Mode
from backoffice.x12 import era835


@lru_cache(maxsize=4096)
def denial_route(group: str, reason: str, remarks: tuple[str, ...], payer_kind: str) -> rules.DenialRoute:
    return rules.route_denial(group, reason, remarks, payer_kind=payer_kind)


@lru_cache(maxsize=4096)
def denial_priority(family: rules.Family, amount: Decimal, days_left: int | None) -> int:
    return rules.denial_priority(family=family, amount=amount, days_left=days_left)


def fmt(amount: Decimal) -> str:
    return f"{amount:.2f}"


def queue_item(run: Run, practice_id: int, kind: str, key: str, reason: str, **values: Any) -> None:
    """Plan one ready item (written in bulk at the end); the SLA is the practice's, the route's, or the default."""
    if key in run.items:
        return
    practice = run.practices[practice_id]
    routed = values.pop("routed", None)
    due_at = values.pop("due_at", None)
    cache_key = ("sla", practice_id, kind, routed)
    if cache_key not in run.cache:
        policy = work_rules.sla_policy_for(kind, practice.sla_overrides, routed=routed)
        due = work_rules.sla_due_at(run.now, policy, ZoneInfo(practice.timezone), is_business_day)
        run.cache[cache_key] = (due, policy.name)
    sla_due, sla_name = run.cache[cache_key]
    if due_at is not None and due_at < sla_due:
        sla_due, sla_name = due_at, "appeal-deadline"
    run.items[key] = {
        "practice_id": practice_id,
        "kind": kind,
        "dedupe_key": key,
        "state": ItemState.READY,
        # An appeal is drafted by automation first (the letter from the denial), then handed to a biller.
        "mode": Mode.AUTOMATED if kind == rules.KIND_APPEAL else Mode.MANUAL,
        "queue": values.pop("queue", None) or work_rules.DEFAULT_QUEUES[kind],
        "priority": min(values.pop("priority", 0), work_rules.MAX_PRIORITY),
        "due_at": sla_due,
        "sla_policy": sla_name,
        "created_at": run.now,
        "updated_at": run.now,
        "result": {},
        "_reason": reason,
        "_evidence": values.pop("evidence", {}),
        **values,
    }


def enqueue_step(item_id: int, row: dict[str, Any], *, organization_id: int) -> None:
    """An automated item's job after the posting commits. An appeal's draft goes to the ``high`` queue (batched with
    the other drafts of the commit): the promise is a denial in its owner's queue with a drafted appeal within a
    minute of its 835, so the draft passes the day's submissions and checks waiting on ``default``."""
    queue = "high" if row["kind"] == rules.KIND_APPEAL else None
    enqueue_item_job(item_id, organization_id=organization_id, priority=row["priority"], queue=queue)


def write_items(run: Run) -> None:
    """Insert the planned items that do not exist yet (dedupe key), each with its interaction row."""
    keys = list(run.items)
    existing: set[str] = set()
    for chunk in chunks(keys):
        existing.update(db.session.scalars(select(WorkItem.dedupe_key).where(WorkItem.dedupe_key.in_(chunk))))
    rows = [run.items[key] for key in keys if key not in existing]
    if not rows:
        return
    routed = route_rows(run.organization_id, rows, run.now)  # in memory: the cached rules, no query per row
    ids = bulk_insert(WorkItem, [{k: v for k, v in row.items() if not k.startswith("_")} for row in rows])
    for item_id, row, decision in zip(ids, rows, routed, strict=True):
        if row["mode"] == Mode.AUTOMATED:
            enqueue_step(item_id, row, organization_id=run.organization_id)
        if row["kind"] in (rules.KIND_APPEAL, rules.KIND_WORK_DENIAL):
            run.denial_items += 1
        else:  # posting exceptions, and the money items (underpayment, overpayment, recoupment)
            run.exception_items += 1
        run.logs.append(
            {
                "practice_id": row["practice_id"],
                "work_item_id": item_id,
                "claim_id": row.get("claim_id"),
                "actor_label": run.source,
                "kind": InteractionKind.STATUS_CHANGE,
                "at": run.now,
                "to_state": ItemState.READY.value,
                "body": f"{work_rules.KIND_LABELS.get(row['kind'], row['kind'])}: {row['_reason']}",
                "data": {"evidence": row["_evidence"], "queue": row["queue"], "sla_policy": row["sla_policy"]},
            }
        )
        if decision is not None:
            run.logs.append(routing_log_row(decision, item_id=item_id, row=row, now=run.now))


def appeal_due(run: Run, payer: Payer, notice: date, practice: Practice) -> tuple[datetime | None, date | None]:
    """The first appeal level's last day (17:00 in the practice's zone), from the remittance date; cached."""
    key = ("appeal", payer.id, notice, practice.id)
    if key not in run.cache:
        run.cache[key] = compute_appeal_due(run, payer, notice, practice)
    return run.cache[key]


def compute_appeal_due(run: Run, payer: Payer, notice: date, practice: Practice) -> tuple[datetime | None, date | None]:
    try:
        level = levels_for(str(payer.kind))[0]
        deadline = appeal_deadline(
            payer_kind=str(payer.kind), level=level, notice_date=notice, appeal_window_days=payer.appeal_window_days
        )
    except (ValueError, IndexError):
        return None, None
    end = datetime.combine(deadline.due, time(17), tzinfo=ZoneInfo(practice.timezone))
    return end.astimezone(run.now.tzinfo), deadline.due


def route_denials(
    run: Run,
    claim: ClaimView,
    payment_id: int,
    denials: list[tuple[era835.Adjustment, tuple[str, ...]]],
    payer: Payer,
    notice: date,
) -> None:
    by_family: dict[rules.Family, list[tuple[era835.Adjustment, tuple[str, ...]]]] = defaultdict(list)
    routes: dict[rules.Family, rules.DenialRoute] = {}
    for adjustment, remarks in denials:
        route = denial_route(adjustment.group, adjustment.reason, remarks, str(payer.kind))
        routes.setdefault(route.family, route)
        by_family[route.family].append((adjustment, remarks))
    practice = run.practices[claim.practice_id]
    for family, items in by_family.items():
        route = routes[family]
        amount = sum((a.amount for a, _ in items), ZERO)
        codes = sorted({f"{a.group}-{a.reason}" for a, _ in items})
        rarcs = sorted({code for _, remarks in items for code in remarks})
        due_at, deadline = appeal_due(run, payer, notice, practice) if route.appealable else (None, None)
        left = rules.days_left(deadline, run.now.date())
        reason = f"claim {claim.account_number}: {', '.join(codes + rarcs)} ${fmt(amount)}: {route.action}"
        queue_item(
            run,
            claim.practice_id,
            route.kind,
            f"denial:{claim.id}:v{claim.version}:{family.value}",
            reason,
            queue=route.queue,
            claim_id=claim.id,
            claim_payment_id=payment_id,
            routed=(f"denial:{family.value}", route.sla_business_days),
            due_at=due_at if route.kind == rules.KIND_APPEAL else None,
            priority=denial_priority(family, amount, left),
            payer_id=claim.payer_id,
            amount=amount,
            denial_family=family.value,
            reason_code=f"{items[0][0].group}-{items[0][0].reason}"[:16],
            evidence={
                "family": family.value,
                "codes": codes,
                "remarks": rarcs,
                "amount": fmt(amount),
                "appealable": route.appealable,
                "appeal_deadline": deadline.isoformat() if deadline else None,
            },
        )
