"""Work closes itself: when an action elsewhere resolves the reason an item exists (a write-off approved, an
appeal sent or decided, a payment on a denied claim, a void), the feature that did it calls one of these, in its
own transaction. Every close or advance is a guarded UPDATE and a log row with the reason; the kernel imports no
feature, features import this."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from backoffice import signals
from backoffice.accounts.models import User
from backoffice.extensions import db
from backoffice.work.log import record_interaction
from backoffice.work.models import WorkItem
from backoffice.work.rules import OPEN_STATES, CompletionOutcome, InteractionKind, ItemState

OPEN = [state.value for state in OPEN_STATES]


def open_items(claim_id: int, kinds: Collection[str]) -> list[WorkItem]:
    """The claim's open items of ``kinds`` (blocked, ready, in progress or snoozed), oldest first."""
    return list(
        db.session.scalars(
            select(WorkItem)
            .where(WorkItem.claim_id == claim_id, WorkItem.kind.in_(list(kinds)), WorkItem.state.in_(OPEN))
            .order_by(WorkItem.id)
        )
    )


def close_item(
    item: WorkItem,
    *,
    now: datetime,
    actor: User | None,
    reason: str,
    cause: str,
    state: ItemState = ItemState.DONE,
    data: dict[str, Any] | None = None,
) -> bool:
    """Close one open item (done, or cancelled when its work is moot) because ``cause`` resolved it; logged with
    ``reason``. False (and nothing written) when someone else closed it first. The caller commits."""
    before = item.state
    if before not in OPEN_STATES:
        return False
    values: dict[str, Any] = {"state": state, "completed_at": now, "updated_at": now, "snoozed_until": None}
    if state == ItemState.DONE:
        values["result"] = {**(item.result or {}), "outcome": CompletionOutcome.RESOLVED.value, "closed_by": cause}
    result = db.session.execute(
        update(WorkItem)
        .where(WorkItem.id == item.id, WorkItem.state == before)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    db.session.refresh(item)
    record_interaction(
        practice_id=item.practice_id, actor=actor, actor_label=None if actor else cause, now=now, item=item,
        kind=InteractionKind.STATUS_CHANGE, from_state=before.value, to_state=state.value,
        outcome=CompletionOutcome.RESOLVED.value if state == ItemState.DONE else None,
        body=reason, data={"closed_by": cause, **(data or {})},
    )  # fmt: skip
    if state == ItemState.DONE:
        signals.item_completed.send(item, now=now, actor=actor, outcome=CompletionOutcome.RESOLVED.value)
    else:
        signals.item_cancelled.send(item, now=now, actor=actor, reason=reason)
    return True


def close_claim_items(
    claim_id: int,
    kinds: Collection[str],
    *,
    now: datetime,
    actor: User | None,
    reason: str,
    cause: str,
    state: ItemState = ItemState.DONE,
    data: dict[str, Any] | None = None,
) -> list[WorkItem]:
    """Close every open item of ``kinds`` on the claim (see ``close_item``); returns the ones closed."""
    return [
        item
        for item in open_items(claim_id, kinds)
        if close_item(item, now=now, actor=actor, reason=reason, cause=cause, state=state, data=data)
    ]


def park_item(
    item: WorkItem,
    *,
    now: datetime,
    actor: User | None,
    until: datetime,
    due_at: datetime,
    reason: str,
    cause: str,
    data: dict[str, Any] | None = None,
) -> bool:
    """Advance an open item to waiting on someone outside (a payer's decision): snoozed until ``until`` with a new
    due date ``due_at`` (the SLA no longer runs on work that is not ours), logged. False if it was not open."""
    before = item.state
    if before not in OPEN_STATES - {ItemState.BLOCKED}:
        return False
    result = db.session.execute(
        update(WorkItem)
        .where(WorkItem.id == item.id, WorkItem.state == before)
        .values(state=ItemState.SNOOZED, snoozed_until=until, due_at=due_at, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    db.session.refresh(item)
    record_interaction(
        practice_id=item.practice_id, actor=actor, actor_label=None if actor else cause, now=now, item=item,
        kind=InteractionKind.STATUS_CHANGE, from_state=before.value, to_state=ItemState.SNOOZED.value, body=reason,
        data={"advanced_by": cause, "snoozed_until": until.isoformat(), "due_at": due_at.isoformat(), **(data or {})},
    )  # fmt: skip
    return True
