"""The automated-step runner: loads an item by ID, runs the step registered for its kind, and records
the outcome. Steps that cannot finish become manual items with the reason attached."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import update

from backoffice.extensions import db
from backoffice.work import services
from backoffice.work.models import WorkItem
from backoffice.work.rules import InteractionKind, ItemState, Mode

# kind -> step(item, now) -> result; later features (eligibility, charge entry, scrub, submit,
# claim status, posting, appeal drafts) register their steps here.
Step = Callable[[WorkItem, datetime], Mapping[str, Any]]
STEPS: dict[str, Step] = {}


class NeedsPerson(Exception):
    """Raised by a step that cannot finish by itself; the message is the reason (never PHI)."""

    def __init__(self, reason: str, evidence: Mapping[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.evidence = dict(evidence or {})


def register_step(kind: str, step: Step) -> None:
    STEPS[kind] = step


def run_automated_item(item_id: int, *, now: datetime) -> dict[str, Any]:
    """Run one automated item. Idempotent: an item that is not ready and automated is skipped."""
    item = db.session.get(WorkItem, item_id)
    if item is None:
        return {"item_id": item_id, "status": "missing"}
    if item.mode != Mode.AUTOMATED or item.state != ItemState.READY:
        return {"item_id": item_id, "status": "skipped", "state": item.state.value}
    step = STEPS.get(item.kind)
    source = f"worker:{item.kind}"
    if step is None:
        services.hand_over_to_manual(
            item=item, now=now, reason=f"no automated step exists for {item.kind}", source=source
        )
        return {"item_id": item_id, "status": "handed_over"}
    db.session.execute(update(WorkItem).where(WorkItem.id == item_id).values(attempts=WorkItem.attempts + 1))
    db.session.commit()
    try:
        result = dict(step(item, now))
    except NeedsPerson as needs:
        services.hand_over_to_manual(item=item, now=now, reason=str(needs), evidence=needs.evidence, source=source)
        return {"item_id": item_id, "status": "handed_over"}
    except Exception as error:
        db.session.rollback()
        _record_failure(item_id, now, source, error)
        raise  # RQ retries with backoff and keeps the failure in its registry
    services.complete_item(item=item, actor=None, actor_label=source, now=now, result=result)
    return {"item_id": item_id, "status": "done"}


def _record_failure(item_id: int, now: datetime, source: str, error: Exception) -> None:
    item = db.session.get(WorkItem, item_id)
    if item is None:
        return
    reason = f"{type(error).__name__}"  # the class only: messages may carry data we must not log
    item.last_error = reason
    services.record_interaction(
        practice_id=item.practice_id,
        actor=None,
        actor_label=source,
        kind=InteractionKind.AUTOMATION,
        now=now,
        item=item,
        body=f"Attempt {item.attempts} failed: {reason}",
        data={"attempt": item.attempts, "error": reason},
    )
    db.session.commit()
