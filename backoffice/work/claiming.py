"""Get next: hand a biller the most urgent item they may work, and start it, so that two billers pressing it at
the same moment never get the same item (one data-modifying statement on PostgreSQL, a guarded UPDATE on SQLite)."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, case, or_, select, text, update

from backoffice.accounts.access import PRACTICE_SCOPE_SQL, can_supervise, practice_ids_for, practice_scope_params
from backoffice.accounts.models import User
from backoffice.errors import Conflict, NotAllowed
from backoffice.extensions import db
from backoffice.services_base import is_postgres, service, statement_is_transaction
from backoffice.work import rules
from backoffice.work.log import record_interaction
from backoffice.work.models import Interaction, WorkItem
from backoffice.work.rules import InteractionKind, ItemState, Mode

CLAIM_RETRIES = 20


def _claimable_conditions(user: User, scope: set[int], now: datetime, queue: str | None) -> list[Any]:
    conditions: list[Any] = [
        WorkItem.practice_id.in_(scope),
        WorkItem.mode == Mode.MANUAL,
        or_(
            WorkItem.state == ItemState.READY,
            and_(WorkItem.state == ItemState.SNOOZED, WorkItem.snoozed_until <= now),
        ),
        or_(WorkItem.assignee_id.is_(None), WorkItem.assignee_id == user.id),
        WorkItem.queue.not_in(list(rules.OUTSIDE_QUEUES)),
    ]
    if queue:
        conditions.append(WorkItem.queue == queue)
    elif user.queues and not can_supervise(user):
        conditions.append(or_(WorkItem.queue.in_(user.queues), WorkItem.assignee_id == user.id))
    return conditions


def get_next_order() -> tuple[Any, ...]:
    """Get next's order: priority, due date (none last), dollars (none last), recoverability of the denial family
    (``rules.family_ranks``, as a CASE over the few families), then age."""
    ranks = rules.family_ranks()
    family = case(*((WorkItem.denial_family == f, rank) for f, rank in ranks.items()), else_=rules.no_family_rank())
    return (WorkItem.priority.desc(), WorkItem.due_at.asc().nulls_last(), WorkItem.amount.desc().nulls_last(), family,
            WorkItem.id)  # fmt: skip


def _rank_sql() -> str:
    ranks = sorted(rules.family_ranks().items())
    return (
        "CASE w.denial_family "
        + " ".join(f"WHEN '{family}' THEN {rank}" for family, rank in ranks)
        + f" ELSE {rules.no_family_rank()} END"
    )


# PostgreSQL: get_next_order() mixes directions (priority DESC, due_at ASC), which no single pass over
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
        f" AND {a}.queue NOT IN ({', '.join(repr(q) for q in sorted(rules.OUTSIDE_QUEUES))})"
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
        candidate=_PG_CANDIDATE.format(filters=_pg_filters("w", queues), rank=_rank_sql(), scope=PRACTICE_SCOPE_SQL),
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
        statement_is_transaction()  # the claim is one statement: no BEGIN and COMMIT round trips around it
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

    Order (``get_next_order``): priority (escalations and the filing-deadline guard raise it), then due date
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
    candidate = select(WorkItem.id).where(*conditions).order_by(*get_next_order()).limit(1).scalar_subquery()
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
