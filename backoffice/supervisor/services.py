"""Bulk reassign: a supervisor moves exactly the items they previewed, all or nothing, each one logged."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import insert, select, update

from backoffice.accounts.access import can_supervise, practice_ids_for
from backoffice.accounts.models import User
from backoffice.audit.services import audit_event
from backoffice.errors import Conflict, NotAllowed, ValidationFailed
from backoffice.extensions import db
from backoffice.services_base import is_postgres, service
from backoffice.supervisor import queries, rules
from backoffice.supervisor.rules import MAX_BULK_ITEMS, Target
from backoffice.work.models import Interaction, WorkItem
from backoffice.work.rules import InteractionKind, ItemState

CHUNK = 1000
SALT = "supervisor-bulk-reassign"
Snapshot = list[tuple[int, str, int | None]]


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def sign_preview(*, actor: User, snapshot: Snapshot, filters: dict[str, str]) -> str:
    """A tamper-proof token naming exactly the previewed items, their state and owner (compressed)."""
    return _serializer().dumps({"u": actor.id, "s": [list(row) for row in snapshot], "f": filters})


def read_preview(token: str, *, actor: User) -> tuple[Snapshot, dict[str, str]]:
    """The snapshot and filters a preview token carries; refuses a forged, foreign or stale one."""
    try:
        data = _serializer().loads(token, max_age=rules.PREVIEW_MAX_AGE_SECONDS)
    except SignatureExpired as error:
        raise ValidationFailed("preview: older than 30 minutes; preview again") from error
    except BadSignature as error:
        raise ValidationFailed("preview: not a valid preview; preview again") from error
    if data.get("u") != actor.id:
        raise ValidationFailed("preview: made by someone else; preview again")
    return [(int(i), str(s), a) for i, s, a in data["s"]], dict(data.get("f") or {})


@dataclass
class BulkResult:
    bulk_id: str
    moved: int
    unchanged: int
    per_assignee: dict[str, int] = field(default_factory=dict)


def _check_people(actor: User, people: Sequence[User]) -> None:
    for person in people:
        if not person.active or person.organization_id != actor.organization_id:
            raise ValidationFailed("assignee: not an active user of this organization")


def _load_current(actor: User, ids: list[int]) -> dict[int, Any]:
    """The items' current practice, state, owner and subject, locked on PostgreSQL until commit."""
    rows: dict[int, Any] = {}
    for start in range(0, len(ids), CHUNK):
        stmt = (
            select(
                WorkItem.id, WorkItem.practice_id, WorkItem.state, WorkItem.assignee_id, WorkItem.session_id,
                WorkItem.claim_id,
            )
            .where(WorkItem.id.in_(ids[start : start + CHUNK]))
            .order_by(WorkItem.id)
        )  # fmt: skip
        if is_postgres():
            stmt = stmt.with_for_update(of=WorkItem)
        rows.update((row.id, row) for row in db.session.execute(stmt))
    return rows


def _changed(previewed: Snapshot, current: dict[int, Any], scope: set[int]) -> list[int]:
    changed = []
    for item_id, state, assignee in previewed:
        row = current.get(item_id)
        if row is None or row.practice_id not in scope or _value(row.state) != state or row.assignee_id != assignee:
            changed.append(item_id)
    return changed


def _value(state: Any) -> str:
    return state.value if hasattr(state, "value") else str(state)


def _targets(
    *, actor: User, previewed: Snapshot, current: dict[int, Any], target: Target, assignee: User | None,
    spread_to: Sequence[User],
) -> dict[int, int | None]:  # fmt: skip
    """The new owner of every item; refuses (naming the item) when the chosen person does not serve it."""
    if target == Target.QUEUE:
        return {item_id: None for item_id, _, _ in previewed}
    if target == Target.PERSON:
        if assignee is None:
            raise ValidationFailed("assign to: choose a person")
        _check_people(actor, [assignee])
        served = practice_ids_for(assignee)
        for item_id, _, _ in previewed:
            if current[item_id].practice_id not in served:
                raise ValidationFailed(f"assign to: {assignee.name} does not serve the practice of item #{item_id}")
        return {item_id: assignee.id for item_id, _, _ in previewed}
    if not spread_to:
        raise ValidationFailed("spread across: choose at least one person")
    _check_people(actor, spread_to)
    names = {person.id: person.name for person in spread_to}
    served = {person.id: practice_ids_for(person) for person in spread_to}
    loads = queries.open_loads(list(names))
    for _, state, owner in previewed:  # the items being moved no longer count against their owner
        if owner in loads and state != ItemState.BLOCKED:
            loads[owner] -= 1
    chosen = rules.spread(
        [(item_id, current[item_id].practice_id) for item_id, _, _ in previewed],
        loads,
        lambda user_id, practice_id: practice_id in served[user_id],
    )
    for item_id, user_id in chosen.items():
        if user_id is None:
            raise ValidationFailed(f"spread across: nobody chosen serves the practice of item #{item_id}")
    return chosen


@service
def bulk_reassign(
    *,
    actor: User,
    now: datetime,
    previewed: Snapshot,
    target: str,
    reason: str,
    assignee: User | None = None,
    spread_to: Sequence[User] = (),
) -> BulkResult:
    """Move exactly the previewed items to one person, back to their queues, or spread over several people
    (least loaded first). All or nothing: if any item changed state or owner since the preview, or a chosen
    person does not serve an item's practice, nothing moves. Each moved item gets an assignment entry."""
    if not can_supervise(actor):
        raise NotAllowed("only a supervisor can reassign work")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("reason: required")
    if len(reason) > 2000:
        raise ValidationFailed("reason: at most 2000 characters")
    if target not in set(Target):
        raise ValidationFailed(f"target: expected one of {', '.join(Target)}")
    if not previewed:
        raise ValidationFailed("preview: no items to reassign")
    if len(previewed) > MAX_BULK_ITEMS:
        raise ValidationFailed(f"preview: {len(previewed):,} items; at most {MAX_BULK_ITEMS:,} per action")
    ids = [item_id for item_id, _, _ in previewed]
    current = _load_current(actor, ids)
    changed = _changed(previewed, current, practice_ids_for(actor))
    if changed:
        shown = ", ".join(f"#{i}" for i in changed[:5])
        raise Conflict(
            f"{len(changed)} of the {len(previewed)} previewed items changed since the preview ({shown}"
            f"{', …' if len(changed) > 5 else ''}); nothing was reassigned. Preview again."
        )
    new_owner = _targets(
        actor=actor, previewed=previewed, current=current, target=Target(target), assignee=assignee,
        spread_to=spread_to,
    )  # fmt: skip
    bulk_id = uuid.uuid4().hex
    groups: dict[tuple[str, int | None, int | None], list[int]] = defaultdict(list)
    for item_id, state, owner in previewed:
        if new_owner[item_id] != owner:
            groups[(state, owner, new_owner[item_id])].append(item_id)
    moved = 0
    logs: list[dict[str, Any]] = []
    for (state, owner, to), group in groups.items():
        # An item in progress goes back to ready: its new owner starts it themselves (as a single reassign).
        to_state = ItemState.READY.value if state == ItemState.IN_PROGRESS else state
        for start in range(0, len(group), CHUNK):
            chunk = group[start : start + CHUNK]
            result = db.session.execute(
                update(WorkItem)
                .where(
                    WorkItem.id.in_(chunk),
                    WorkItem.state == state,
                    WorkItem.assignee_id.is_(None) if owner is None else WorkItem.assignee_id == owner,
                )
                .values(assignee_id=to, state=to_state, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != len(chunk):
                raise Conflict("some previewed items changed while reassigning; nothing was reassigned. Preview again.")
            moved += len(chunk)
        data_base = {"bulk": bulk_id, "target": target, "from_user_id": owner, "to_user_id": to, "reason": reason}
        logs.extend(
            {
                "practice_id": current[item_id].practice_id,
                "work_item_id": item_id,
                "session_id": current[item_id].session_id,
                "claim_id": current[item_id].claim_id,
                "actor_user_id": actor.id,
                "actor_label": actor.name,
                "kind": InteractionKind.ASSIGNMENT,
                "at": now,
                "body": reason,
                "from_state": state,
                "to_state": to_state,
                "data": data_base,
            }  # fmt: skip
            for item_id in group
        )
    for start in range(0, len(logs), CHUNK):
        db.session.execute(insert(Interaction), logs[start : start + CHUNK])
    per_user = Counter(new_owner[i] for (_, _, _), group in groups.items() for i in group)
    names = queries.user_names(set(per_user))
    per_assignee = {(names.get(uid, "?") if uid else "queue"): n for uid, n in per_user.items()}
    audit_event(
        action="supervisor:bulk_reassign", user=actor, now=now, target_type="work_items", target_id=bulk_id,
        data={"target": target, "previewed": len(previewed), "moved": moved, "unchanged": len(previewed) - moved,
              "to_user_ids": {str(uid or 0): n for uid, n in per_user.items()}},
    )  # fmt: skip
    db.session.commit()
    return BulkResult(bulk_id, moved, len(previewed) - moved, per_assignee)
