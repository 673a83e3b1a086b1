"""Creating work: a session's chain of steps (each waiting on the one before) and single items (a rejection to fix,
a denial to work, an exception), each logged and announced ready (``item-ready``) in the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from backoffice.accounts.models import User
from backoffice.calendars import is_business_day
from backoffice.errors import ValidationFailed
from backoffice.extensions import db
from backoffice.orgs.models import Practice
from backoffice.patients.models import Coverage, CoveragePriority
from backoffice.services_base import service
from backoffice.sessions.models import Session
from backoffice.work import rules
from backoffice.work.log import SYSTEM, record_interaction
from backoffice.work.models import WorkItem, WorkItemDependency
from backoffice.work.rules import (
    InteractionKind,
    ItemState,
    Mode,
)
from backoffice.work.services import became_ready, due_at_for


@service
def create_chain(
    *,
    session: Session,
    kinds: Sequence[str],
    now: datetime,
    actor: User | None = None,
    automated: Iterable[str] = (),
    priority: int = 0,
) -> list[WorkItem]:
    """Plan a session's chain: each kind depends on the one before; the first is ready with its SLA.

    Idempotent: kinds already planned for this session are reused, never created twice.
    """
    unknown = [kind for kind in kinds if kind not in rules.DEFAULT_QUEUES]
    if unknown:
        raise ValidationFailed(f"unknown work kind(s): {', '.join(unknown)}")
    automated = set(automated)
    keys = {kind: f"session:{session.id}:{kind}" for kind in kinds}
    existing = {
        item.kind: item
        for item in db.session.scalars(select(WorkItem).where(WorkItem.dedupe_key.in_(list(keys.values()))))
    }
    chain: list[WorkItem] = []
    created: list[WorkItem] = []
    previous: WorkItem | None = None
    payer_id = _primary_payer_id(session) if len(existing) < len(keys) else None
    for kind in kinds:
        item = existing.get(kind)
        if item is None:
            ready = previous is None or previous.state == ItemState.DONE
            item = WorkItem(
                practice_id=session.practice_id,
                practice=session.practice,
                kind=kind,
                session_id=session.id,
                dedupe_key=keys[kind],
                state=ItemState.READY if ready else ItemState.BLOCKED,
                mode=Mode.AUTOMATED if kind in automated else Mode.MANUAL,
                queue=rules.DEFAULT_QUEUES[kind],
                priority=priority,
                payer_id=payer_id,
                created_at=now,
                updated_at=now,
                result={},
            )
            if ready:
                item.due_at, item.sla_policy = due_at_for(item, now)
            db.session.add(item)
            db.session.flush()
            if previous is not None:
                db.session.add(WorkItemDependency(item_id=item.id, depends_on_id=previous.id))
            record_interaction(
                practice_id=item.practice_id,
                actor=actor,
                actor_label="planner",
                kind=InteractionKind.STATUS_CHANGE,
                now=now,
                item=item,
                to_state=item.state.value,
                body=f"Planned {rules.KIND_LABELS[kind]} ({item.mode.value})",
                data={"sla_policy": item.sla_policy} if item.sla_policy else {},
            )
            created.append(item)
        chain.append(item)
        previous = item
    for item in created:
        became_ready(item, now)
    try:
        db.session.commit()
    except IntegrityError:
        # Another planner created the same items first: theirs stand, ours are rolled back.
        db.session.rollback()
        return list(db.session.scalars(select(WorkItem).where(WorkItem.dedupe_key.in_(list(keys.values())))))
    return chain


def add_item(
    *,
    practice_id: int,
    kind: str,
    now: datetime,
    reason: str,
    session_id: int | None = None,
    claim_id: int | None = None,
    claim_payment_id: int | None = None,
    edi_file_id: int | None = None,
    authorization_id: int | None = None,
    patient_id: int | None = None,
    provider_id: int | None = None,
    deposit_id: int | None = None,
    dedupe_key: str | None = None,
    queue: str | None = None,
    mode: Mode = Mode.MANUAL,
    priority: int = 0,
    routed_sla: tuple[str, int] | None = None,
    due_at: datetime | None = None,
    evidence: Mapping[str, Any] | None = None,
    source: str = SYSTEM,
    payer_id: int | None = None,
    amount: Decimal | None = None,
    denial_family: str | None = None,
    reason_code: str | None = None,
) -> tuple[WorkItem, bool]:
    """Add one ready item (a rejection to fix, a denial to work, an exception) to the current transaction;
    the caller commits. Returns ``(item, created)``: an item with the same ``dedupe_key`` is reused, never
    duplicated. ``routed_sla`` is the routing rule's ``(name, business days)``; ``due_at`` an explicit one.

    Payer and amount default from the claim (its payer; open balance = charge − paid − adjustments − patient
    responsibility). A manual item is then routed by the organization's rules (``routing.services``)."""
    if kind not in rules.DEFAULT_QUEUES:
        raise ValidationFailed(f"unknown work kind: {kind}")
    if dedupe_key is not None:
        existing = db.session.scalar(select(WorkItem).where(WorkItem.dedupe_key == dedupe_key))
        if existing is not None:
            return existing, False
    practice = db.session.get(Practice, practice_id)
    if practice is None:
        raise ValidationFailed(f"practice {practice_id} does not exist")
    item = WorkItem(
        practice_id=practice_id, practice=practice, kind=kind, session_id=session_id, claim_id=claim_id,
        claim_payment_id=claim_payment_id, edi_file_id=edi_file_id, authorization_id=authorization_id,
        payer_id=payer_id, amount=amount, denial_family=denial_family, reason_code=reason_code,
        patient_id=patient_id, provider_id=provider_id, deposit_id=deposit_id, dedupe_key=dedupe_key,
        state=ItemState.READY, mode=mode,
        queue=queue or rules.DEFAULT_QUEUES[kind],
        priority=min(priority, rules.MAX_PRIORITY), created_at=now, updated_at=now, result={},
    )  # fmt: skip
    if due_at is not None:
        item.due_at, item.sla_policy = due_at, "explicit"
    else:
        policy = rules.sla_policy_for(kind, practice.sla_overrides, routed=routed_sla)
        item.due_at = rules.sla_due_at(now, policy, ZoneInfo(practice.timezone), is_business_day)
        item.sla_policy = policy.name
    db.session.add(item)
    db.session.flush()
    if item.claim is not None:  # payer and dollars at stake default from the claim (claims/models.py's balance)
        item.payer_id = payer_id if payer_id is not None else item.claim.payer_id
        item.amount = amount if amount is not None else item.claim.open_balance
    record_interaction(
        practice_id=practice_id, actor=None, actor_label=source, kind=InteractionKind.STATUS_CHANGE, now=now,
        item=item, to_state=ItemState.READY.value, body=f"{rules.KIND_LABELS.get(kind, kind)}: {reason}",
        data={"evidence": dict(evidence or {}), "queue": item.queue, "sla_policy": item.sla_policy},
    )  # fmt: skip
    became_ready(item, now)
    return item, True


def _primary_payer_id(session: Session) -> int | None:
    """The payer of the patient's primary coverage in force on the date of service (the planner's choice)."""
    coverages = db.session.scalars(
        select(Coverage)
        .where(Coverage.patient_id == session.patient_id, Coverage.priority == CoveragePriority.PRIMARY)
        .order_by(Coverage.id)
    )
    return next((c.payer_id for c in coverages if c.is_active_on(session.date_of_service)), None)


@service
def open_item(**fields: Any) -> WorkItem:
    """``add_item`` in its own transaction (for callers with nothing else to commit)."""
    item, _ = add_item(**fields)
    db.session.commit()
    return item
