"""Work-item use cases. Each one owns its commit and writes its interaction row in the same
transaction; state changes are guarded UPDATEs so two people can never both win."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, bindparam, or_, select, update
from sqlalchemy.orm import aliased

from backoffice import signals
from backoffice.accounts.access import can_supervise, practice_ids_for
from backoffice.accounts.models import User
from backoffice.accounts.rules import STAFF_ROLES
from backoffice.calendars import is_business_day
from backoffice.errors import Conflict, InvalidTransition, NotAllowed, ValidationFailed
from backoffice.extensions import db
from backoffice.services_base import service
from backoffice.work import rules
from backoffice.work.log import record_interaction
from backoffice.work.models import Interaction, SlaPause, WorkItem, WorkItemDependency
from backoffice.work.rules import (
    ACTION_FROM,
    CallOutcome,
    CompletionOutcome,
    InteractionKind,
    ItemState,
    Mode,
)

MAX_NOTE_LENGTH = 10_000
MAX_SNOOZE = timedelta(days=90)
CLAIM_RETRIES = 20


def due_at_for(item: WorkItem, now: datetime) -> tuple[datetime, str]:
    policy = rules.sla_policy_for(item.kind, item.practice.sla_overrides)
    return rules.sla_due_at(now, policy, ZoneInfo(item.practice.timezone), is_business_day), policy.name


def _guarded_update(item: WorkItem, action: str, now: datetime, values: Mapping[str, Any], *extra: Any) -> ItemState:
    """UPDATE the item only if it is still in a state ``action`` allows; returns the state it left."""
    allowed = ACTION_FROM[action]
    before = item.state
    if before not in allowed:
        raise InvalidTransition(f"cannot {action.replace('_', ' ')} an item that is {before.value}")
    if item in db.session.dirty:
        db.session.flush()
    with db.session.no_autoflush:  # log rows added before go out with the next flush, in one INSERT
        changed = db.session.scalars(  # the row as updated, into ``item`` (one round trip, no reload)
            update(WorkItem)
            .where(WorkItem.id == item.id, WorkItem.state.in_(list(allowed)), *extra)
            .values(updated_at=now, **values)
            .returning(WorkItem)
            .execution_options(synchronize_session=False, populate_existing=True)
        ).one_or_none()
    if changed is None:
        raise Conflict(f"work item {item.id} was changed by someone else; reload it")
    return before


def _require_same_organization(item: WorkItem, actor: User) -> None:
    """Defence in depth behind the views' access check: nobody acts on another organization's work."""
    if item.practice.organization_id != actor.organization_id:
        raise NotAllowed(f"work item {item.id} is not in your organization")


def _require_owner(item: WorkItem, actor: User) -> None:
    _require_same_organization(item, actor)
    if item.assignee_id not in (None, actor.id) and not can_supervise(actor):
        raise NotAllowed(f"work item {item.id} belongs to another biller")


def became_ready(item: WorkItem, now: datetime) -> None:
    """Tell the features an item is ready (routing routes a manual one, automation enqueues an automated one's
    step); their handlers write in this transaction."""
    if item.state == ItemState.READY:
        signals.item_ready.send(item, now=now)


@service
def start_item(*, item: WorkItem, actor: User, now: datetime) -> WorkItem:
    """Take (if unassigned) and start an item; a biller cannot take someone else's."""
    _require_owner(item, actor)
    assignee = item.assignee_id or actor.id
    before = _guarded_update(
        item,
        "start",
        now,
        {"state": ItemState.IN_PROGRESS, "assignee_id": assignee, "started_at": now, "snoozed_until": None},
        or_(WorkItem.assignee_id.is_(None), WorkItem.assignee_id == assignee),
    )
    record_interaction(
        practice_id=item.practice_id,
        actor=actor,
        kind=InteractionKind.STATUS_CHANGE,
        now=now,
        item=item,
        from_state=before.value,
        to_state=item.state.value,
        body="Started",
    )
    db.session.commit()
    return item


@cache
def _ready_dependents() -> Select[tuple[WorkItem, SlaPause]]:
    """The blocked dependents of item ``:done_id`` with nothing else left to wait for, each with its open SLA pause
    (if any), oldest pause first. Built once: constructing its aliased subquery cost more than running it."""
    other, other_dependency = aliased(WorkItem), aliased(WorkItemDependency)
    still_waiting = (
        select(other.id)
        .join(other_dependency, other_dependency.depends_on_id == other.id)
        .where(other_dependency.item_id == WorkItem.id, other.state != ItemState.DONE)
        .exists()
    )
    return (
        select(WorkItem, SlaPause)
        .join(WorkItemDependency, WorkItemDependency.item_id == WorkItem.id)
        .outerjoin(SlaPause, and_(SlaPause.work_item_id == WorkItem.id, SlaPause.ended_at.is_(None)))
        .where(WorkItemDependency.depends_on_id == bindparam("done_id"), WorkItem.state == ItemState.BLOCKED,
               ~still_waiting)
        .order_by(WorkItem.id, SlaPause.id)
    )  # fmt: skip


def _release_dependents(item: WorkItem, now: datetime, actor: User | None) -> list[WorkItem]:
    """Make ready every blocked item whose dependencies are now all done (one query: the dependents with nothing
    else left to wait for, each with its open SLA pause if it has one)."""
    rows = db.session.execute(_ready_dependents(), {"done_id": item.id}).all()  # sees dependencies added just now
    pauses: dict[WorkItem, SlaPause | None] = {}
    for dependent, pause in rows:
        pauses.setdefault(dependent, pause)  # the oldest open pause, as _open_pause picks it
    return [_release(dependent, item, now, actor, pause) for dependent, pause in pauses.items()]


def _open_pause(item: WorkItem) -> SlaPause | None:
    return db.session.scalar(
        select(SlaPause).where(SlaPause.work_item_id == item.id, SlaPause.ended_at.is_(None)).order_by(SlaPause.id)
    )


def _release(dependent: WorkItem, by: WorkItem, now: datetime, actor: User | None, pause: SlaPause | None) -> WorkItem:
    """Make a blocked item ready: a paused one (``pause``, its open SLA pause) resumes its SLA (due later by the
    time paused, the pause closed); a planned step starts a fresh one."""
    label = f"Released by #{by.id} ({rules.KIND_LABELS.get(by.kind, by.kind)})"
    data: dict[str, Any]
    if pause is not None:
        pause.ended_at = now
        due_at, policy = rules.resumed_due_at(pause.due_before, pause.started_at, now), dependent.sla_policy
        paused = rules.paused_time([(pause.started_at, now)], now)
        label += "; SLA resumed, " + rules.paused_label(paused, waiting_on=pause.waiting_on, open_now=False)
        data = {"sla_policy": policy, "paused_seconds": int(paused.total_seconds()), "waiting_on": pause.waiting_on}
    else:
        due_at, policy = due_at_for(dependent, now)
        data = {"sla_policy": policy}
    _guarded_update(dependent, "release", now, {"state": ItemState.READY, "due_at": due_at, "sla_policy": policy})
    record_interaction(
        practice_id=dependent.practice_id,
        actor=actor,
        actor_label="planner",
        kind=InteractionKind.STATUS_CHANGE,
        now=now,
        item=dependent,
        from_state=ItemState.BLOCKED.value,
        to_state=ItemState.READY.value,
        body=label,
        data=data,
    )
    became_ready(dependent, now)
    return dependent


def pause_for(*, item: WorkItem, cause: WorkItem, waiting_on: str, now: datetime, actor: User | None) -> SlaPause:
    """Block ``item`` on ``cause`` (a request to someone outside) and pause its SLA, in the caller's transaction
    (the caller commits): the item leaves Get next and every breach count until ``cause`` is done, and the time is
    attributed to ``waiting_on``. A second request while paused joins the same pause."""
    db.session.add(WorkItemDependency(item_id=item.id, depends_on_id=cause.id))
    pause = _open_pause(item)
    if pause is not None and item.state == ItemState.BLOCKED:
        body = f"Also waiting on {waiting_on}: #{cause.id}; SLA still paused"
        before = item.state
    else:
        pause = SlaPause(work_item_id=item.id, cause_item_id=cause.id, waiting_on=waiting_on, started_at=now,
                         due_before=item.due_at)  # fmt: skip
        db.session.add(pause)
        before = _guarded_update(
            item, "pause", now, {"state": ItemState.BLOCKED, "due_at": None, "snoozed_until": None}
        )
        body = f"Waiting on {waiting_on}: #{cause.id}; SLA paused"
    db.session.flush()
    record_interaction(
        practice_id=item.practice_id, actor=actor, kind=InteractionKind.STATUS_CHANGE, now=now, item=item,
        from_state=before.value, to_state=ItemState.BLOCKED.value, body=body,
        data={"waiting_on": waiting_on, "cause_item_id": cause.id},
    )  # fmt: skip
    return pause


def release_waiting(*, cause: WorkItem, now: datetime, actor: User | None) -> list[WorkItem]:
    """The items paused on ``cause`` when it ended without being done (a request cancelled): each resumes, in the
    caller's transaction, once nothing else it waits on is open."""
    waiting = db.session.scalars(
        select(WorkItem)
        .join(WorkItemDependency, WorkItemDependency.item_id == WorkItem.id)
        .where(WorkItemDependency.depends_on_id == cause.id, WorkItem.state == ItemState.BLOCKED)
    ).all()
    released = []
    for item in waiting:
        pause = _open_pause(item)
        if pause is None:
            continue
        pending = db.session.scalar(
            select(WorkItem.id)
            .join(WorkItemDependency, WorkItemDependency.depends_on_id == WorkItem.id)
            .where(WorkItemDependency.item_id == item.id, WorkItem.state.in_(list(rules.OPEN_STATES)))
            .limit(1)
        )
        if pending is None:
            released.append(_release(item, cause, now, actor, pause))
    return released


# A feature may refuse a person's completion of its kind of item (an audit with scrubber errors, a write-off
# approval nobody decided): guard(item, outcome) returns the reason to refuse, or None.
CompletionGuard = Callable[[WorkItem, str], str | None]
_COMPLETION_GUARDS: dict[str, list[CompletionGuard]] = {}


def register_completion_guard(kind: str, guard: CompletionGuard) -> None:
    """Check ``guard`` before a person completes an item of ``kind`` (automation completes through its steps)."""
    guards = _COMPLETION_GUARDS.setdefault(kind, [])
    if guard not in guards:
        guards.append(guard)


@service
def complete_item(
    *,
    item: WorkItem,
    actor: User | None,
    now: datetime,
    outcome: str = CompletionOutcome.RESOLVED,
    note: str | None = None,
    result: Mapping[str, Any] | None = None,
    actor_label: str | None = None,
) -> list[WorkItem]:
    """Finish an item with an outcome, then release the next items of its chain (returned)."""
    if outcome not in set(CompletionOutcome):
        raise ValidationFailed(f"outcome: expected one of {[o.value for o in CompletionOutcome]}")
    values: dict[str, Any] = {
        "state": ItemState.DONE,
        "completed_at": now,
        "result": {**(item.result or {}), **(result or {}), "outcome": outcome},
    }
    extra: list[Any] = []
    if actor is not None:
        _require_owner(item, actor)
        for guard in _COMPLETION_GUARDS.get(item.kind, ()):
            problem = guard(item, outcome)
            if problem:
                raise ValidationFailed(problem)
        if item.assignee_id is None:
            values["assignee_id"] = actor.id
            extra.append(WorkItem.assignee_id.is_(None))
    before = _guarded_update(item, "complete", now, values, *extra)
    record_interaction(
        practice_id=item.practice_id,
        actor=actor,
        actor_label=actor_label,
        kind=InteractionKind.STATUS_CHANGE,
        now=now,
        item=item,
        from_state=before.value,
        to_state=ItemState.DONE.value,
        outcome=outcome,
        body=_clean_text(note, "note", required=False) or f"Completed: {outcome.replace('_', ' ')}",
    )
    released = _release_dependents(item, now, actor)
    signals.item_completed.send(item, now=now, actor=actor, outcome=outcome)
    db.session.commit()
    return released


@service
def snooze_item(*, item: WorkItem, actor: User, now: datetime, until: datetime, reason: str) -> WorkItem:
    """Put an item aside until ``until``; its SLA keeps running."""
    _require_owner(item, actor)
    if until <= now:
        raise ValidationFailed("snooze until: must be in the future")
    if until - now > MAX_SNOOZE:
        raise ValidationFailed("snooze until: at most 90 days ahead")
    reason = _clean_text(reason, "reason")
    before = _guarded_update(
        item,
        "snooze",
        now,
        {"state": ItemState.SNOOZED, "snoozed_until": until, "assignee_id": item.assignee_id or actor.id},
    )
    record_interaction(
        practice_id=item.practice_id,
        actor=actor,
        kind=InteractionKind.STATUS_CHANGE,
        now=now,
        item=item,
        from_state=before.value,
        to_state=ItemState.SNOOZED.value,
        body=reason,
        data={"snoozed_until": until.isoformat()},
    )
    db.session.commit()
    return item


@service
def escalate_item(*, item: WorkItem, actor: User, now: datetime, reason: str) -> WorkItem:
    """Flag an item for a supervisor and raise its priority; it stays with its owner."""
    _require_same_organization(item, actor)
    reason = _clean_text(reason, "reason")
    _guarded_update(
        item,
        "escalate",
        now,
        {"escalated_at": now, "auto_escalated": False, "priority": rules.escalated_priority(item.priority)},
    )
    record_interaction(
        practice_id=item.practice_id,
        actor=actor,
        kind=InteractionKind.ESCALATION,
        now=now,
        item=item,
        body=reason,
        data={"priority": item.priority},
    )
    db.session.commit()
    return item


@service
def reassign_item(*, item: WorkItem, actor: User, now: datetime, assignee: User | None, reason: str) -> WorkItem:
    """Give an item to another person (supervisors) or back to its queue (its owner or a supervisor)."""
    _require_same_organization(item, actor)
    reason = _clean_text(reason, "reason")
    releasing_own = assignee is None and item.assignee_id == actor.id
    if not (can_supervise(actor) or releasing_own):
        raise NotAllowed("only a supervisor can reassign work")
    if assignee is not None:
        if not assignee.active or assignee.organization_id != actor.organization_id:
            raise ValidationFailed("assignee: not an active user of this organization")
        if assignee.role not in STAFF_ROLES:
            raise ValidationFailed(f"assignee: {assignee.name} is a practice's user, not one of the billing staff")
        if item.practice_id not in practice_ids_for(assignee):
            raise ValidationFailed(f"assignee: {assignee.name} does not serve this practice")
    previous_assignee = item.assignee_id
    values: dict[str, Any] = {"assignee_id": assignee.id if assignee else None}
    if item.state == ItemState.IN_PROGRESS:
        values["state"] = ItemState.READY  # the new owner starts it themselves
    before = _guarded_update(
        item,
        "reassign",
        now,
        values,
        WorkItem.assignee_id.is_(None) if previous_assignee is None else WorkItem.assignee_id == previous_assignee,
    )
    record_interaction(
        practice_id=item.practice_id,
        actor=actor,
        kind=InteractionKind.ASSIGNMENT,
        now=now,
        item=item,
        from_state=before.value,
        to_state=item.state.value,
        body=reason,
        data={"from_user_id": previous_assignee, "to_user_id": item.assignee_id, "reason": reason},
    )
    db.session.commit()
    return item


@service
def add_note(*, item: WorkItem, actor: User, now: datetime, body: str) -> Interaction:
    """Append a free-text note to the item's timeline."""
    _require_same_organization(item, actor)
    row = record_interaction(
        practice_id=item.practice_id,
        actor=actor,
        kind=InteractionKind.NOTE,
        now=now,
        item=item,
        body=_clean_text(body, "note"),
    )
    db.session.commit()
    return row


@service
def log_call(
    *,
    item: WorkItem,
    actor: User,
    now: datetime,
    outcome: str,
    payer_id: int | None = None,
    phone_line: str | None = None,
    representative: str | None = None,
    reference_number: str | None = None,
    next_action: str | None = None,
    duration_minutes: int | None = None,
    body: str | None = None,
) -> Interaction:
    """Record a structured payer call (who, which line, reference number, outcome, next action)."""
    _require_same_organization(item, actor)
    if outcome not in set(CallOutcome):
        raise ValidationFailed(f"outcome: expected one of {[o.value for o in CallOutcome]}")
    if outcome != CallOutcome.VOICEMAIL and not (representative or "").strip():
        raise ValidationFailed("representative: required unless the call went to voicemail")
    if duration_minutes is not None and not 0 <= duration_minutes <= 600:
        raise ValidationFailed("duration: between 0 and 600 minutes")
    row = record_interaction(
        practice_id=item.practice_id,
        actor=actor,
        kind=InteractionKind.CALL,
        now=now,
        item=item,
        payer_id=payer_id,
        phone_line=_clean_text(phone_line, "phone line", required=False, limit=40),
        representative=_clean_text(representative, "representative", required=False, limit=120),
        reference_number=_clean_text(reference_number, "reference number", required=False, limit=80),
        outcome=outcome,
        next_action=_clean_text(next_action, "next action", required=False),
        duration_minutes=duration_minutes,
        body=_clean_text(body, "notes", required=False),
    )
    db.session.commit()
    return row


@service
def cancel_item(*, item: WorkItem, actor: User, now: datetime, reason: str) -> WorkItem:
    """Cancel an open item (supervisors); its dependents stay blocked."""
    _require_same_organization(item, actor)
    if not can_supervise(actor):
        raise NotAllowed("only a supervisor can cancel work")
    reason = _clean_text(reason, "reason")
    before = _guarded_update(item, "cancel", now, {"state": ItemState.CANCELLED, "completed_at": now})
    record_interaction(
        practice_id=item.practice_id,
        actor=actor,
        kind=InteractionKind.STATUS_CHANGE,
        now=now,
        item=item,
        from_state=before.value,
        to_state=ItemState.CANCELLED.value,
        body=reason,
    )
    signals.item_cancelled.send(item, now=now, actor=actor, reason=reason)
    db.session.commit()
    return item


@service
def hand_over_to_manual(
    *, item: WorkItem, now: datetime, reason: str, evidence: Mapping[str, Any] | None = None, source: str
) -> WorkItem:
    """An automated step that cannot finish becomes a manual item in its queue, with reason and evidence."""
    before = _guarded_update(
        item,
        "hand_over",
        now,
        {"mode": Mode.MANUAL, "state": ItemState.READY, "last_error": reason[:2000]},
        WorkItem.mode == Mode.AUTOMATED,
    )
    record_interaction(
        practice_id=item.practice_id,
        actor=None,
        actor_label=source,
        kind=InteractionKind.AUTOMATION,
        now=now,
        item=item,
        from_state=before.value,
        to_state=ItemState.READY.value,
        body=f"Needs a person: {reason}",
        data={"evidence": dict(evidence or {}), "handed_over": True},
    )
    became_ready(item, now)
    db.session.commit()
    return item


@service
def defer_automated_item(*, item: WorkItem, now: datetime, until: datetime, reason: str, source: str) -> WorkItem:
    """An automated step that is not due yet waits, snoozed until ``until``; the recovery sweep wakes it."""
    before = _guarded_update(
        item, "defer", now, {"state": ItemState.SNOOZED, "snoozed_until": until}, WorkItem.mode == Mode.AUTOMATED
    )
    record_interaction(
        practice_id=item.practice_id, actor=None, actor_label=source, kind=InteractionKind.AUTOMATION, now=now,
        item=item, from_state=before.value, to_state=ItemState.SNOOZED.value,
        body=f"Waiting until {until:%Y-%m-%d %H:%M} UTC: {reason}", data={"until": until.isoformat()},
    )  # fmt: skip
    db.session.commit()
    return item


@service
def resume_automated_item(*, item: WorkItem, now: datetime) -> bool:
    """Make a deferred (or stalled) automated item ready again and send its job; False if someone moved it first."""
    body = "Waiting is over" if item.state == ItemState.SNOOZED else "Worker lost mid-step: running again"
    try:
        wake_automated_item(item=item, now=now, source="recovery", body=body)
    except (Conflict, InvalidTransition):
        db.session.rollback()
        return False
    db.session.commit()
    return True


def wake_automated_item(*, item: WorkItem, now: datetime, source: str, body: str) -> None:
    """Make a waiting automated item ready now, in the caller's transaction (it commits): logged with ``body``,
    and ``item-ready`` sent so its step runs. Raises ``Conflict``/``InvalidTransition`` if it is not waiting."""
    before = _guarded_update(
        item, "resume", now, {"state": ItemState.READY, "snoozed_until": None}, WorkItem.mode == Mode.AUTOMATED
    )
    record_interaction(
        practice_id=item.practice_id, actor=None, actor_label=source, kind=InteractionKind.AUTOMATION, now=now,
        item=item, from_state=before.value, to_state=ItemState.READY.value, body=body,
    )  # fmt: skip
    became_ready(item, now)


def _clean_text(value: str | None, field: str, *, required: bool = True, limit: int = MAX_NOTE_LENGTH) -> str | None:
    text = (value or "").strip()
    if not text:
        if required:
            raise ValidationFailed(f"{field}: required")
        return None
    if len(text) > limit:
        raise ValidationFailed(f"{field}: at most {limit} characters")
    return text
