"""Work-item use cases. Each one owns its commit and writes its interaction row in the same
transaction; state changes are guarded UPDATEs so two people can never both win."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, case, or_, select, text, update
from sqlalchemy.exc import IntegrityError

from backoffice.accounts.access import PRACTICE_SCOPE_SQL, can_supervise, practice_ids_for, practice_scope_params
from backoffice.accounts.models import User
from backoffice.calendars import is_business_day
from backoffice.errors import Conflict, InvalidTransition, NotAllowed, ValidationFailed
from backoffice.extensions import db
from backoffice.routing import rules as routing_rules
from backoffice.routing.services import route_item
from backoffice.services_base import is_postgres, service
from backoffice.sessions.models import Session
from backoffice.tasks import enqueue_after_commit
from backoffice.work import rules
from backoffice.work.models import Interaction, WorkItem, WorkItemDependency
from backoffice.work.rules import (
    ACTION_FROM,
    CallOutcome,
    CompletionOutcome,
    InteractionKind,
    ItemState,
    Mode,
)

AUTOMATION_JOB = "workers.jobs.run_automated_item"
SYSTEM = "system"
MAX_NOTE_LENGTH = 10_000
MAX_SNOOZE = timedelta(days=90)
CLAIM_RETRIES = 20


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


def _due_at(item: WorkItem, now: datetime) -> tuple[datetime, str]:
    policy = rules.sla_policy_for(item.kind, item.practice.sla_overrides)
    return rules.sla_due_at(now, policy, ZoneInfo(item.practice.timezone), is_business_day), policy.name


def _guarded_update(item: WorkItem, action: str, now: datetime, values: Mapping[str, Any], *extra: Any) -> ItemState:
    """UPDATE the item only if it is still in a state ``action`` allows; returns the state it left."""
    allowed = ACTION_FROM[action]
    before = item.state
    if before not in allowed:
        raise InvalidTransition(f"cannot {action.replace('_', ' ')} an item that is {before.value}")
    result = db.session.execute(
        update(WorkItem)
        .where(WorkItem.id == item.id, WorkItem.state.in_(list(allowed)), *extra)
        .values(updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict(f"work item {item.id} was changed by someone else; reload it")
    db.session.refresh(item)
    return before


def _require_same_organization(item: WorkItem, actor: User) -> None:
    """Defence in depth behind the views' access check: nobody acts on another organization's work."""
    if item.practice.organization_id != actor.organization_id:
        raise NotAllowed(f"work item {item.id} is not in your organization")


def _require_owner(item: WorkItem, actor: User) -> None:
    _require_same_organization(item, actor)
    if item.assignee_id not in (None, actor.id) and not can_supervise(actor):
        raise NotAllowed(f"work item {item.id} belongs to another biller")


def automation_queue(priority: int) -> str:
    """The RQ queue an automated item's job goes to: escalated and urgent work first."""
    return "high" if priority >= rules.ESCALATION_PRIORITY_BUMP else "default"


def _enqueue_if_automated(item: WorkItem) -> None:
    if item.mode == Mode.AUTOMATED and item.state == ItemState.READY:
        enqueue_after_commit(AUTOMATION_JOB, item.id, organization_id=item.practice.organization_id,
                             queue=automation_queue(item.priority), retry=automation_retry())  # fmt: skip


def automation_retry() -> Any:
    """RQ's retry policy for automated steps: three retries with backoff (the worker runs with its scheduler)."""
    from rq import Retry  # noqa: PLC0415 - keeps RQ out of pure imports of this module

    from backoffice.work.jobs import MAX_ATTEMPTS, RETRY_INTERVALS  # noqa: PLC0415 - jobs imports services

    return Retry(max=MAX_ATTEMPTS - 1, interval=list(RETRY_INTERVALS))


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
                item.due_at, item.sla_policy = _due_at(item, now)
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
            route_item(item, now=now)
            created.append(item)
        chain.append(item)
        previous = item
    for item in created:
        _enqueue_if_automated(item)
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
    from backoffice.orgs.models import Practice  # noqa: PLC0415 - orgs imports nothing from work; keeps layers

    practice = db.session.get(Practice, practice_id)
    if practice is None:
        raise ValidationFailed(f"practice {practice_id} does not exist")
    if claim_id is not None and (payer_id is None or amount is None):
        claim_payer, balance = _claim_money(claim_id)
        payer_id = payer_id if payer_id is not None else claim_payer
        amount = amount if amount is not None else balance
    item = WorkItem(
        practice_id=practice_id, practice=practice, kind=kind, session_id=session_id, claim_id=claim_id,
        claim_payment_id=claim_payment_id, edi_file_id=edi_file_id, authorization_id=authorization_id,
        payer_id=payer_id, amount=amount, denial_family=denial_family, reason_code=reason_code,
        patient_id=patient_id, dedupe_key=dedupe_key, state=ItemState.READY, mode=mode,
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
    record_interaction(
        practice_id=practice_id, actor=None, actor_label=source, kind=InteractionKind.STATUS_CHANGE, now=now,
        item=item, to_state=ItemState.READY.value, body=f"{rules.KIND_LABELS.get(kind, kind)}: {reason}",
        data={"evidence": dict(evidence or {}), "queue": item.queue, "sla_policy": item.sla_policy},
    )  # fmt: skip
    route_item(item, now=now)
    _enqueue_if_automated(item)
    return item, True


def _primary_payer_id(session: Session) -> int | None:
    """The payer of the patient's primary coverage in force on the date of service (the planner's choice)."""
    from backoffice.patients.models import Coverage, CoveragePriority  # noqa: PLC0415 - keeps layers

    coverages = db.session.scalars(
        select(Coverage)
        .where(Coverage.patient_id == session.patient_id, Coverage.priority == CoveragePriority.PRIMARY)
        .order_by(Coverage.id)
    )
    return next((c.payer_id for c in coverages if c.is_active_on(session.date_of_service)), None)


def _claim_money(claim_id: int) -> tuple[int | None, Decimal | None]:
    """A claim's payer and open balance (charge − paid − adjustments − patient responsibility, never below 0)."""
    from backoffice.claims.models import Claim  # noqa: PLC0415 - claims imports work; keeps layers

    row = db.session.execute(
        select(
            Claim.payer_id, Claim.total_charge, Claim.paid_amount, Claim.adjustment_amount,
            Claim.patient_responsibility,
        ).where(Claim.id == claim_id)
    ).first()  # fmt: skip
    if row is None:
        return None, None
    payer_id, charge, paid, adjusted, patient = row
    balance = (charge or 0) - (paid or 0) - (adjusted or 0) - (patient or 0)
    return payer_id, max(Decimal(balance), Decimal("0.00")).quantize(Decimal("0.01"))


@service
def open_item(**fields: Any) -> WorkItem:
    """``add_item`` in its own transaction (for callers with nothing else to commit)."""
    item, _ = add_item(**fields)
    db.session.commit()
    return item


def _claimable_conditions(user: User, scope: set[int], now: datetime, queue: str | None) -> list[Any]:
    conditions: list[Any] = [
        WorkItem.practice_id.in_(scope),
        WorkItem.mode == Mode.MANUAL,
        or_(
            WorkItem.state == ItemState.READY,
            and_(WorkItem.state == ItemState.SNOOZED, WorkItem.snoozed_until <= now),
        ),
        or_(WorkItem.assignee_id.is_(None), WorkItem.assignee_id == user.id),
    ]
    if queue:
        conditions.append(WorkItem.queue == queue)
    elif user.queues and not can_supervise(user):
        conditions.append(or_(WorkItem.queue.in_(user.queues), WorkItem.assignee_id == user.id))
    return conditions


# The family rank as SQL: a CASE over the few families (routing/rules.py says why this order).
_FAMILY_RANK = case(
    *((WorkItem.denial_family == family, rank) for family, rank in routing_rules.FAMILY_RANK.items()),
    else_=routing_rules.NO_FAMILY_RANK,
)
GET_NEXT_ORDER = (
    WorkItem.priority.desc(),
    WorkItem.due_at.asc().nulls_last(),
    WorkItem.amount.desc().nulls_last(),
    _FAMILY_RANK,
    WorkItem.id,
)


_RANK_SQL = (
    "CASE w.denial_family "
    + " ".join(f"WHEN '{family}' THEN {rank}" for family, rank in sorted(routing_rules.FAMILY_RANK.items()))
    + f" ELSE {routing_rules.NO_FAMILY_RANK} END"
)
# PostgreSQL: GET_NEXT_ORDER mixes directions (priority DESC, due_at ASC), which no single pass over
# ix_work_items_claimable (state, mode, practice_id, priority, due_at) yields; a plain ORDER BY sorts every ready
# row (~0.5 s at a million items). So per (practice, state): first the highest claimable priority (a backward
# index probe), then, at that priority, the earliest due rows in index order with dollars and family as an
# incremental sort of the rows sharing that due time, locked with SKIP LOCKED; the best of those wins.
_PG_CANDIDATE = """
WITH k AS (
  SELECT p.id AS pid, s.st FROM ({scope}) AS p, unnest(CAST(:states AS varchar[])) AS s(st)
), top AS (
  SELECT max(x.priority) AS priority FROM k CROSS JOIN LATERAL (
    SELECT w.priority FROM work_items w
    WHERE w.state = k.st AND w.mode = 'manual' AND w.practice_id = k.pid AND {filters}
    ORDER BY w.priority DESC LIMIT 1) x
)
SELECT c.id FROM k CROSS JOIN top CROSS JOIN LATERAL (
  SELECT w.id, w.due_at, w.amount, {rank} AS rank FROM work_items w
  WHERE w.state = k.st AND w.mode = 'manual' AND w.practice_id = k.pid AND w.priority = top.priority AND {filters}
  ORDER BY w.due_at ASC NULLS LAST, w.amount DESC NULLS LAST, rank, w.id
  LIMIT 1 FOR UPDATE OF w SKIP LOCKED) c
ORDER BY c.due_at ASC NULLS LAST, c.amount DESC NULLS LAST, c.rank, c.id
LIMIT 1
"""


# One statement takes the item and writes its log row (a data-modifying CTE): the claim costs one round trip and
# no ORM flush. The UPDATE re-checks every condition on the row it locked; the claimed row comes back whole.
# ``lazy_flush`` turns off synchronous_commit for this transaction only (SET LOCAL without another round trip): a
# claim need not wait for its WAL flush, because if PostgreSQL crashed right after, the claim and its log row
# vanish together and the item is simply back in its queue. Every other write keeps full durability.
_PG_CLAIM = """
WITH taken AS (
  UPDATE work_items AS t
  SET assignee_id = :me, state = 'in_progress', started_at = :now, snoozed_until = NULL, updated_at = :now
  WHERE t.id = ({candidate}) AND t.practice_id IN ({scope}) AND t.mode = 'manual'
    AND t.state IN ('ready', 'snoozed') AND {recheck}
  RETURNING {columns}
), logged AS (
  INSERT INTO interactions (practice_id, work_item_id, session_id, claim_id, actor_user_id, actor_label, at, kind,
                            body, from_state, to_state, data)
  SELECT practice_id, id, session_id, claim_id, :me, :actor_label, :now, :kind, :body, :from_state, :to_state,
         CAST(:data AS json)
  FROM taken
), lazy_flush AS (
  SELECT set_config('synchronous_commit', 'off', true)
)
SELECT {columns} FROM taken CROSS JOIN lazy_flush
"""
CLAIM_BODY = "Claimed with Get next"


def _pg_queue_scope(user: User, queue: str | None) -> tuple[str, dict[str, Any]]:
    """Which queues a claim looks in (``_claimable_conditions``): one asked for, the biller's own, or all."""
    if queue:
        return "queue", {"queue": queue}
    if user.queues and not can_supervise(user):
        return "queues", {"queues": list(user.queues)}
    return "all", {}


def _pg_filters(alias: str, queues: str) -> str:
    """The claimable conditions beyond practice, mode and state, as SQL on ``alias`` (``queues``: which queues, as
    ``_pg_queue_scope`` names them)."""
    a = alias
    filters = (
        f"({a}.state = 'ready' OR {a}.snoozed_until <= :now) AND ({a}.assignee_id IS NULL OR {a}.assignee_id = :me)"
    )
    if queues == "queue":
        filters += f" AND {a}.queue = :queue"
    elif queues == "queues":
        filters += f" AND ({a}.queue = ANY(CAST(:queues AS varchar[])) OR {a}.assignee_id = :me)"
    return filters


@functools.cache
def _pg_claim_statement(queues: str) -> Any:
    """The claim statement for one queue scope, built once per process (its values are given at execution)."""
    log = Interaction.__table__.c
    columns = ", ".join(column.name for column in WorkItem.__table__.columns)
    sql = _PG_CLAIM.format(
        candidate=_PG_CANDIDATE.format(filters=_pg_filters("w", queues), rank=_RANK_SQL, scope=PRACTICE_SCOPE_SQL),
        recheck=_pg_filters("t", queues),
        scope=PRACTICE_SCOPE_SQL,
        columns=columns,
    )
    claim = text(sql).bindparams(bindparam("kind", type_=log.kind.type), bindparam("data", type_=log.data.type))
    return select(WorkItem).from_statement(claim.columns(*WorkItem.__table__.columns))


def _pg_claim(user: User, now: datetime, queue: str | None) -> WorkItem | None:
    """``claim_next_item`` on PostgreSQL: the user's practice scope, the candidate (``_PG_CANDIDATE``), its claim
    and its log row in one statement."""
    queues, params = _pg_queue_scope(user, queue)
    take = _pg_claim_statement(queues)
    params.update(
        practice_scope_params(user), states=["ready", "snoozed"], now=now, me=user.id, kind=InteractionKind.ASSIGNMENT,
        data={"assignee_id": user.id, "reason": "get_next"}, actor_label=user.name, body=CLAIM_BODY,
        from_state=ItemState.READY.value, to_state=ItemState.IN_PROGRESS.value,
    )  # fmt: skip
    for _ in range(CLAIM_RETRIES):
        item = db.session.scalars(take, params, execution_options={"populate_existing": True}).first()
        if item is not None:
            db.session.commit()
            return item
        # Either nothing is left, or every candidate we saw was taken between our read and our lock.
        conditions = _claimable_conditions(user, practice_ids_for(user), now, queue)
        if db.session.scalar(select(WorkItem.id).where(*conditions).limit(1)) is None:
            db.session.rollback()
            return None
        db.session.rollback()
    raise Conflict("too much contention claiming work; try again")


@service
def claim_next_item(*, user: User, now: datetime, queue: str | None = None) -> WorkItem | None:
    """Give ``user`` the most urgent item they may work and start it; exactly one biller wins each item.

    Order (``GET_NEXT_ORDER``): priority (escalations and the filing-deadline guard raise it), then due date
    (none last), then dollars at stake (none last), then recoverability by denial family, then age. One
    statement picks and takes the item: ``UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED) AND
    <still claimable> RETURNING`` the row on PostgreSQL (other claimers' rows are skipped, not waited for; the
    log row is written by the same statement, ``_pg_claim``); on SQLite the same UPDATE runs under the database
    write lock. The re-checked WHERE and the returned row decide who won.
    """
    if not user.active:
        raise NotAllowed("inactive users cannot claim work")
    if is_postgres():
        return _pg_claim(user, now, queue)
    scope = practice_ids_for(user)
    if not scope:
        return None
    conditions = _claimable_conditions(user, scope, now, queue)
    candidate = select(WorkItem.id).where(*conditions).order_by(*GET_NEXT_ORDER).limit(1).scalar_subquery()
    take = (
        update(WorkItem)
        .where(WorkItem.id == candidate, *conditions)
        .values(assignee_id=user.id, state=ItemState.IN_PROGRESS, started_at=now, snoozed_until=None, updated_at=now)
        .returning(WorkItem)  # the claimed row comes back loaded: no second read
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    for _ in range(CLAIM_RETRIES):
        item = db.session.scalars(take).first()
        if item is None:
            # Either nothing is left, or every candidate we saw was taken between our read and our lock.
            if db.session.scalar(select(WorkItem.id).where(*conditions).limit(1)) is None:
                db.session.rollback()
                return None
            db.session.rollback()
            continue
        record_interaction(
            practice_id=item.practice_id,
            actor=user,
            kind=InteractionKind.ASSIGNMENT,
            now=now,
            item=item,
            from_state=ItemState.READY.value,
            to_state=ItemState.IN_PROGRESS.value,
            body=CLAIM_BODY,
            data={"assignee_id": user.id, "reason": "get_next"},
        )
        db.session.commit()
        return item
    raise Conflict("too much contention claiming work; try again")


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


def _release_dependents(item: WorkItem, now: datetime, actor: User | None) -> list[WorkItem]:
    """Make ready every blocked item whose dependencies are now all done."""
    dependents = db.session.scalars(
        select(WorkItem)
        .join(WorkItemDependency, WorkItemDependency.item_id == WorkItem.id)
        .where(WorkItemDependency.depends_on_id == item.id, WorkItem.state == ItemState.BLOCKED)
    ).all()
    released = []
    for dependent in dependents:
        pending = db.session.scalar(
            select(WorkItem.id)
            .join(WorkItemDependency, WorkItemDependency.depends_on_id == WorkItem.id)
            .where(WorkItemDependency.item_id == dependent.id, WorkItem.state != ItemState.DONE)
            .limit(1)
        )
        if pending is not None:
            continue
        due_at, policy = _due_at(dependent, now)
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
            body=f"Released by #{item.id} ({rules.KIND_LABELS.get(item.kind, item.kind)})",
            data={"sla_policy": policy},
        )
        route_item(dependent, now=now)
        _enqueue_if_automated(dependent)
        released.append(dependent)
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
    _guarded_update(item, "escalate", now, {"escalated_at": now, "priority": rules.escalated_priority(item.priority)})
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
    route_item(item, now=now)
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
    try:
        before = _guarded_update(
            item, "resume", now, {"state": ItemState.READY, "snoozed_until": None}, WorkItem.mode == Mode.AUTOMATED
        )
    except (Conflict, InvalidTransition):
        db.session.rollback()
        return False
    record_interaction(
        practice_id=item.practice_id, actor=None, actor_label="recovery", kind=InteractionKind.AUTOMATION, now=now,
        item=item, from_state=before.value, to_state=ItemState.READY.value,
        body="Waiting is over" if before == ItemState.SNOOZED else "Worker lost mid-step: running again",
    )  # fmt: skip
    _enqueue_if_automated(item)
    db.session.commit()
    return True


def _clean_text(value: str | None, field: str, *, required: bool = True, limit: int = MAX_NOTE_LENGTH) -> str | None:
    text = (value or "").strip()
    if not text:
        if required:
            raise ValidationFailed(f"{field}: required")
        return None
    if len(text) > limit:
        raise ValidationFailed(f"{field}: at most {limit} characters")
    return text
