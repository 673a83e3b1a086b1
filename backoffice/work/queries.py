"""Reads for the work-queue screens; every query is scoped to the practices a user may see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import joinedload

from backoffice.accounts.access import practice_ids_for
from backoffice.accounts.models import User
from backoffice.extensions import db
from backoffice.patients.models import Coverage
from backoffice.sessions.models import Session
from backoffice.work.models import Interaction, WorkItem
from backoffice.work.rules import CHAIN_ORDER, OPEN_STATES, ItemState, Mode

QUEUE_PAGE_LIMIT = 200


def _by_urgency() -> tuple:
    return (WorkItem.due_at.is_(None), WorkItem.due_at, WorkItem.priority.desc(), WorkItem.id)


def my_items(user: User, *, limit: int = QUEUE_PAGE_LIMIT) -> list[WorkItem]:
    """Open items assigned to ``user``, soonest due first."""
    return list(
        db.session.scalars(
            select(WorkItem)
            .options(joinedload(WorkItem.practice), joinedload(WorkItem.assignee))
            .where(
                WorkItem.assignee_id == user.id,
                WorkItem.state.in_([s.value for s in OPEN_STATES - {ItemState.BLOCKED}]),
                WorkItem.practice_id.in_(practice_ids_for(user)),
            )
            .order_by(*_by_urgency())
            .limit(limit)
        )
    )


def team_items(user: User, *, queue: str | None = None, limit: int = QUEUE_PAGE_LIMIT) -> list[WorkItem]:
    """Unassigned manual items waiting in the queues ``user`` works (all queues for supervisors)."""
    stmt = (
        select(WorkItem)
        .options(joinedload(WorkItem.practice), joinedload(WorkItem.assignee))
        .where(
            WorkItem.assignee_id.is_(None),
            WorkItem.mode == Mode.MANUAL,
            WorkItem.state.in_([ItemState.READY.value, ItemState.SNOOZED.value]),
            WorkItem.practice_id.in_(practice_ids_for(user)),
        )
        .order_by(WorkItem.priority.desc(), *_by_urgency())
        .limit(limit)
    )
    if queue:
        stmt = stmt.where(WorkItem.queue == queue)
    elif user.queues and user.role == "biller":
        stmt = stmt.where(WorkItem.queue.in_(user.queues))
    return list(db.session.scalars(stmt))


def timeline(item: WorkItem) -> list[Interaction]:
    """Everything logged on the item and on its subject (the whole chain), newest first."""
    subject = [Interaction.work_item_id == item.id]
    if item.session_id is not None:
        subject.append(Interaction.session_id == item.session_id)
    if item.claim_id is not None:
        subject.append(Interaction.claim_id == item.claim_id)
    return list(
        db.session.scalars(
            select(Interaction)
            .options(joinedload(Interaction.actor))
            .where(or_(*subject))
            .order_by(Interaction.at.desc(), Interaction.id.desc())
        )
    )


def session_of(item: WorkItem) -> tuple[Session | None, list[Coverage]]:
    """The item's session with patient and provider, and the patient's coverages (primary first)."""
    if item.session_id is None:
        return None, []
    session = db.session.scalar(
        select(Session)
        .options(joinedload(Session.patient), joinedload(Session.provider))
        .where(Session.id == item.session_id)
    )
    coverages = db.session.scalars(
        select(Coverage)
        .options(joinedload(Coverage.payer))
        .where(Coverage.patient_id == session.patient_id)
        .order_by(Coverage.priority, Coverage.id)
    ).all()
    return session, list(coverages)


def chain_of(item: WorkItem) -> list[WorkItem]:
    """All items planned for the same subject, in chain order."""
    if item.session_id is None:
        return [item]
    items = db.session.scalars(select(WorkItem).where(WorkItem.session_id == item.session_id)).all()
    order = {kind: index for index, kind in enumerate(CHAIN_ORDER)}
    return sorted(items, key=lambda i: (order.get(i.kind, len(order)), i.id))


@dataclass(frozen=True)
class QueueRow:
    queue: str
    ready: int
    in_progress: int
    snoozed: int
    breached: int
    oldest_due: datetime | None


@dataclass(frozen=True)
class BillerRow:
    user: User
    open: int
    due_today: int
    breached: int
    done_today: int


def queue_overview(user: User, now: datetime) -> list[QueueRow]:
    """Per queue: depth by state, SLA breaches and the oldest due date, for the supervisor page."""
    open_states = [s.value for s in OPEN_STATES - {ItemState.BLOCKED}]
    rows = db.session.execute(
        select(
            WorkItem.queue,
            func.sum(case((WorkItem.state == ItemState.READY, 1), else_=0)),
            func.sum(case((WorkItem.state == ItemState.IN_PROGRESS, 1), else_=0)),
            func.sum(case((WorkItem.state == ItemState.SNOOZED, 1), else_=0)),
            func.sum(case(((WorkItem.due_at <= now) & (WorkItem.state != ItemState.SNOOZED), 1), else_=0)),
            func.min(WorkItem.due_at),
        )
        .where(WorkItem.state.in_(open_states), WorkItem.practice_id.in_(practice_ids_for(user)))
        .group_by(WorkItem.queue)
        .order_by(WorkItem.queue)
    ).all()
    return [QueueRow(q, int(r or 0), int(p or 0), int(s or 0), int(b or 0), _aware(o)) for q, r, p, s, b, o in rows]


def biller_workload(user: User, now: datetime, tz: ZoneInfo) -> list[BillerRow]:
    """Per active user of the organization: open, due today, breached and done today."""
    local_midnight = datetime.combine(now.astimezone(tz).date(), datetime.min.time(), tzinfo=tz)
    day_start, day_end = local_midnight, local_midnight + timedelta(days=1)
    scope = practice_ids_for(user)
    open_states = [s.value for s in OPEN_STATES - {ItemState.BLOCKED}]
    working_states = [ItemState.READY.value, ItemState.IN_PROGRESS.value]  # snoozed ones are parked on purpose
    counts = {
        assignee: (o, d, b, t)
        for assignee, o, d, b, t in db.session.execute(
            select(
                WorkItem.assignee_id,
                func.sum(case((WorkItem.state.in_(open_states), 1), else_=0)),
                func.sum(case((WorkItem.state.in_(open_states) & (WorkItem.due_at < day_end), 1), else_=0)),
                func.sum(case((WorkItem.state.in_(working_states) & (WorkItem.due_at <= now), 1), else_=0)),
                func.sum(
                    case(
                        ((WorkItem.state == ItemState.DONE) & (WorkItem.completed_at >= day_start), 1),
                        else_=0,
                    )
                ),
            )
            .where(WorkItem.assignee_id.is_not(None), WorkItem.practice_id.in_(scope))
            .group_by(WorkItem.assignee_id)
        )
    }
    users = db.session.scalars(
        select(User).where(User.organization_id == user.organization_id, User.active).order_by(User.name)
    ).all()
    return [BillerRow(u, *(int(x or 0) for x in counts.get(u.id, (0, 0, 0, 0)))) for u in users]


def escalated_items(user: User, *, limit: int = 100) -> list[WorkItem]:
    """Open escalated items, newest escalation first."""
    return list(
        db.session.scalars(
            select(WorkItem)
            .options(joinedload(WorkItem.assignee), joinedload(WorkItem.practice))
            .where(
                WorkItem.escalated_at.is_not(None),
                WorkItem.state.in_([s.value for s in OPEN_STATES]),
                WorkItem.practice_id.in_(practice_ids_for(user)),
            )
            .order_by(WorkItem.escalated_at.desc())
            .limit(limit)
        )
    )


def breached_items(user: User, now: datetime, *, limit: int = 100) -> list[WorkItem]:
    """Ready or in-progress items past their due time, most overdue first (snoozed ones are parked with a reason
    and counted separately)."""
    return list(
        db.session.scalars(
            select(WorkItem)
            .options(joinedload(WorkItem.assignee), joinedload(WorkItem.practice))
            .where(
                WorkItem.due_at <= now,
                WorkItem.state.in_([ItemState.READY.value, ItemState.IN_PROGRESS.value]),
                WorkItem.practice_id.in_(practice_ids_for(user)),
            )
            .order_by(WorkItem.due_at)
            .limit(limit)
        )
    )


def assignable_users(item: WorkItem, actor: User) -> list[User]:
    """Active users of the organization who serve the item's practice."""
    users = db.session.scalars(
        select(User).where(User.organization_id == actor.organization_id, User.active).order_by(User.name)
    ).all()
    return [u for u in users if item.practice_id in practice_ids_for(u)]


def _aware(value: datetime | None) -> datetime | None:
    from datetime import UTC

    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)  # SQLite aggregates bypass the column type
