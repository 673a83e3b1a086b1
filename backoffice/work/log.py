"""The interaction log, the ground floor every package writes on: one row per call, note, state change or
assignment, added to the caller's transaction. It imports only models, so routing, claims, appeals, posting and
balances log without importing the work services."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from backoffice.extensions import db
from backoffice.work.models import Interaction
from backoffice.work.rules import InteractionKind

if TYPE_CHECKING:
    from backoffice.accounts.models import User
    from backoffice.work.models import WorkItem

SYSTEM = "system"


def record_interaction(
    *,
    practice_id: int,
    actor: User | None,
    kind: InteractionKind,
    now: datetime,
    item: WorkItem | None = None,
    session_id: int | None = None,
    claim_id: int | None = None,
    actor_label: str | None = None,
    **fields: Any,
) -> Interaction:
    """Add one log row to the current transaction (the caller commits). Items log on their subject too."""
    if item is not None:
        session_id = session_id or item.session_id
        claim_id = claim_id or item.claim_id
    row = Interaction(
        practice_id=practice_id,
        work_item_id=item.id if item is not None else None,
        session_id=session_id,
        claim_id=claim_id,
        actor_user_id=actor.id if actor is not None else None,
        actor_label=actor.name if actor is not None else (actor_label or SYSTEM),
        kind=kind,
        at=now,
        data=fields.pop("data", None) or {},
        **fields,
    )
    db.session.add(row)
    return row
