"""Reads for the supervisor screens: the bulk-reassign filter and preview, SLA breaches, write-off lists.
Every read is scoped to the practices the user may see."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import joinedload

from backoffice.accounts.access import practice_ids_for
from backoffice.accounts.models import User
from backoffice.accounts.rules import STAFF_ROLES
from backoffice.extensions import db
from backoffice.orgs.models import Payer, Practice
from backoffice.supervisor.models import WriteOffRequest
from backoffice.supervisor.rules import PREVIEW_ROWS, SlaFilter
from backoffice.work.models import WorkItem
from backoffice.work.rules import DUE_SOON, ItemState, Mode

OPEN = [ItemState.BLOCKED.value, ItemState.READY.value, ItemState.IN_PROGRESS.value, ItemState.SNOOZED.value]
# Breached: open and past due, snoozed ones included (snoozing never stops the SLA).
WORKING = [ItemState.READY.value, ItemState.IN_PROGRESS.value, ItemState.SNOOZED.value]
UNASSIGNED = "none"


@dataclass(frozen=True)
class ItemFilter:
    """What a supervisor picked on the filter form; empty fields filter nothing."""

    kind: str | None = None
    reason_code: str | None = None
    payer_id: int | None = None
    practice_id: int | None = None
    queue: str | None = None
    min_age_days: int | None = None
    max_age_days: int | None = None
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None
    assignee: str | None = None  # a user id, or "none" for unassigned
    sla: str | None = None

    def as_args(self) -> dict[str, str]:
        """The non-empty fields as query-string arguments (for links and the signed preview)."""
        return {k: str(v) for k, v in self.__dict__.items() if v not in (None, "")}


def _conditions(user: User, f: ItemFilter, now: datetime) -> list[Any]:
    conditions: list[Any] = [
        WorkItem.practice_id.in_(practice_ids_for(user)),
        WorkItem.state.in_(OPEN),
        WorkItem.mode == Mode.MANUAL,  # automated items belong to the workers until they hand over
    ]
    if f.kind:
        conditions.append(WorkItem.kind == f.kind)
    if f.reason_code:
        code = f.reason_code.strip().upper()
        # "CO-50" is one code; a bare "50" is that CARC under any group code.
        conditions.append(WorkItem.reason_code == code if "-" in code else WorkItem.reason_code.like(f"%-{code}"))
    if f.payer_id:
        conditions.append(WorkItem.payer_id == f.payer_id)
    if f.practice_id:
        conditions.append(WorkItem.practice_id == f.practice_id)
    if f.queue:
        conditions.append(WorkItem.queue == f.queue)
    if f.min_age_days is not None:
        conditions.append(WorkItem.created_at <= now - timedelta(days=f.min_age_days))
    if f.max_age_days is not None:
        conditions.append(WorkItem.created_at >= now - timedelta(days=f.max_age_days))
    if f.min_amount is not None:
        conditions.append(WorkItem.amount >= f.min_amount)
    if f.max_amount is not None:
        conditions.append(WorkItem.amount <= f.max_amount)
    if f.assignee == UNASSIGNED:
        conditions.append(WorkItem.assignee_id.is_(None))
    elif f.assignee:
        conditions.append(WorkItem.assignee_id == int(f.assignee))
    if f.sla == SlaFilter.BREACHED:  # as on the board: a snoozed item past due is breached too
        conditions += [WorkItem.due_at <= now, WorkItem.state.in_(WORKING)]
    elif f.sla == SlaFilter.DUE_SOON:
        conditions += [WorkItem.due_at > now, WorkItem.due_at <= now + DUE_SOON]
    elif f.sla == SlaFilter.OK:
        conditions.append(WorkItem.due_at > now + DUE_SOON)
    elif f.sla == SlaFilter.NONE:
        conditions.append(WorkItem.due_at.is_(None))
    return conditions


def _urgent_first() -> tuple[Any, ...]:
    return (WorkItem.due_at.is_(None), WorkItem.due_at, WorkItem.priority.desc(), WorkItem.id)


def matching(user: User, f: ItemFilter, now: datetime) -> Select[Any]:
    """The open manual items matching ``f`` in the user's scope, most urgent first."""
    return select(WorkItem).where(*_conditions(user, f, now)).order_by(*_urgent_first())


@dataclass
class Preview:
    count: int
    total: Decimal
    items: list[WorkItem]
    by_owner: list[tuple[str, int]]
    # (id, state, assignee id) of every matching item, when there are few enough to act on.
    snapshot: list[tuple[int, str, int | None]] = field(default_factory=list)
    payers: dict[int, str] = field(default_factory=dict)


def preview(user: User, f: ItemFilter, now: datetime, *, cap: int) -> Preview:
    """Count, dollars, the first rows, per-owner counts, and the (id, state, owner) snapshot to sign."""
    conditions = _conditions(user, f, now)
    count, total = db.session.execute(
        select(func.count(WorkItem.id), func.coalesce(func.sum(WorkItem.amount), 0)).where(*conditions)
    ).one()
    owners = db.session.execute(
        select(WorkItem.assignee_id, func.count(WorkItem.id)).where(*conditions).group_by(WorkItem.assignee_id)
    ).all()
    names = dict(db.session.execute(select(User.id, User.name).where(User.id.in_([o for o, _ in owners if o]))).all())
    by_owner = sorted(((names.get(o, "unassigned") if o else "unassigned", n) for o, n in owners), key=lambda r: -r[1])
    rows = list(
        db.session.scalars(
            matching(user, f, now)
            .options(joinedload(WorkItem.practice), joinedload(WorkItem.assignee))
            .limit(PREVIEW_ROWS)
        )
    )
    payer_ids = {item.payer_id for item in rows if item.payer_id}
    payers = dict(db.session.execute(select(Payer.id, Payer.name).where(Payer.id.in_(payer_ids))).all())
    snapshot: list[tuple[int, str, int | None]] = []
    if 0 < count <= cap:
        snapshot = [
            (item_id, str(state.value if hasattr(state, "value") else state), assignee)
            for item_id, state, assignee in db.session.execute(
                select(WorkItem.id, WorkItem.state, WorkItem.assignee_id).where(*conditions).order_by(*_urgent_first())
            )
        ]
    return Preview(int(count), Decimal(total or 0), rows, by_owner, snapshot, payers)


def breaches(user: User, f: ItemFilter, now: datetime, *, limit: int = 500) -> tuple[int, list[WorkItem]]:
    """SLA-breached open items matching ``f`` (queue, practice, owner), most overdue first, and their count."""
    f = ItemFilter(**{**f.__dict__, "sla": SlaFilter.BREACHED.value})
    conditions = _conditions(user, f, now)
    count = db.session.scalar(select(func.count(WorkItem.id)).where(*conditions)) or 0
    items = db.session.scalars(
        select(WorkItem)
        .options(joinedload(WorkItem.practice), joinedload(WorkItem.assignee))
        .where(*conditions)
        .order_by(WorkItem.due_at, WorkItem.id)
        .limit(limit)
    )
    return int(count), list(items)


def filter_choices(user: User) -> dict[str, list[tuple[Any, str]]]:
    """Options for the filter selects: practices, payers, people and queues the user may see."""
    scope = practice_ids_for(user)
    practices = db.session.execute(
        select(Practice.id, Practice.name).where(Practice.id.in_(scope)).order_by(Practice.name)
    ).all()
    payers = db.session.execute(
        select(Payer.id, Payer.name).where(Payer.organization_id == user.organization_id).order_by(Payer.name)
    ).all()
    people = db.session.execute(
        select(User.id, User.name, User.role)
        .where(User.organization_id == user.organization_id, User.active, User.role.in_(list(STAFF_ROLES)))
        .order_by(User.name)
    ).all()
    queues = db.session.scalars(
        select(WorkItem.queue).where(WorkItem.practice_id.in_(scope), WorkItem.state.in_(OPEN)).distinct()
    ).all()
    return {
        "practices": [(p.id, p.name) for p in practices],
        "payers": [(p.id, p.name) for p in payers],
        "people": [(p.id, f"{p.name} ({p.role.value if hasattr(p.role, 'value') else p.role})") for p in people],
        "queues": [(q, q) for q in sorted(queues)],
    }


def open_loads(user_ids: list[int]) -> dict[int, int]:
    """Open (not blocked) items per user: what "least loaded" compares."""
    counts = dict.fromkeys(user_ids, 0)
    if user_ids:
        counts.update(
            db.session.execute(
                select(WorkItem.assignee_id, func.count(WorkItem.id))
                .where(WorkItem.assignee_id.in_(user_ids), WorkItem.state.in_(OPEN[1:]))
                .group_by(WorkItem.assignee_id)
            ).all()
        )
    return counts


def write_off_requests(user: User, *, pending: bool, limit: int = 200) -> list[WriteOffRequest]:
    """Pending requests (oldest first) or decided ones (newest first), in the user's scope."""
    stmt = select(WriteOffRequest).where(
        WriteOffRequest.organization_id == user.organization_id,
        WriteOffRequest.practice_id.in_(practice_ids_for(user)),
    )
    if pending:
        stmt = stmt.where(WriteOffRequest.state == "pending").order_by(WriteOffRequest.requested_at, WriteOffRequest.id)
    else:
        stmt = stmt.where(WriteOffRequest.state != "pending").order_by(
            WriteOffRequest.decided_at.desc(), WriteOffRequest.id.desc()
        )
    return list(db.session.scalars(stmt.limit(limit)))


def user_names(ids: set[int | None]) -> dict[int, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.name).where(User.id.in_(ids))).all())
