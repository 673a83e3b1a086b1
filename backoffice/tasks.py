"""Redis connection, RQ queues and ``enqueue_after_commit``: jobs reach Redis only once the
transaction that asked for them has committed, and are dropped if it rolls back.

Every job carries the organization it works for in its meta (``organization_id``, an id, never PHI): RQ's queues
and registries are shared by every organization, so each view of them filters by it (automation/queries.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app
from redis import Redis
from rq import Queue
from rq.serializers import JSONSerializer
from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession

from backoffice.extensions import db

log = logging.getLogger(__name__)

QUEUE_NAMES = ("high", "default", "low")  # a worker listens in this order
PENDING_KEY = "backoffice.pending_jobs"
INLINE_KEY = "backoffice.jobs_run_inline"
HELD_KEY = "backoffice.jobs_held"
# Jobs that may go as one (``batch_as``): at most this many ids per batch job. One job costs a worker about as much
# as a cheap step (RQ's own Redis round trips, logging, the app context); 20 items keep a batch under a second.
BATCH_SIZE = 20
_EXT_KEY = "backoffice.redis"
ORGANIZATION_META = "organization_id"


@dataclass(frozen=True)
class PendingJob:
    func: str
    args: tuple[int | str, ...]
    queue: str
    organization_id: int
    job_id: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    batch_as: str | None = None  # a function taking many such ids: jobs of one queue and organization go as one


def init_app(app: Flask) -> None:
    """Register the after-commit hooks (idempotent); the Redis connection opens lazily."""
    if not event.contains(OrmSession, "after_commit", _send_pending):
        event.listen(OrmSession, "after_commit", _send_pending)
        event.listen(OrmSession, "after_rollback", _drop_pending)
        event.listen(OrmSession, "after_soft_rollback", _drop_pending_soft)


def get_redis(app: Flask | None = None) -> Redis:
    """The app's Redis connection, created on first use from ``REDIS_URL``."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    conn = app.extensions.get(_EXT_KEY)
    if conn is None:
        url = app.config["BACKOFFICE_SETTINGS"].redis_url
        if not url:
            raise RuntimeError(
                "BACKOFFICE_REDIS_URL is not set: `backoffice demo`/`serve` start an embedded Redis, "
                "other commands need a real one"
            )
        conn = Redis.from_url(url)
        app.extensions[_EXT_KEY] = conn
    return conn


def get_queue(name: str = "default", connection: Redis | None = None) -> Queue:
    """An RQ queue that serializes job arguments as JSON (IDs only, never objects or PHI)."""
    if name not in QUEUE_NAMES:
        raise ValueError(f"unknown queue {name!r}; known: {QUEUE_NAMES}")
    return Queue(name, connection=connection or get_redis(), serializer=JSONSerializer)


def job_meta(organization_id: int) -> dict[str, int]:
    """The meta every job carries: the organization it works for (an id, so a job view can filter by it)."""
    if not isinstance(organization_id, int) or isinstance(organization_id, bool):
        raise TypeError("a job's organization_id must be an int")
    return {ORGANIZATION_META: organization_id}


def enqueue_after_commit(
    func: str,
    *args: int | str,
    organization_id: int,
    queue: str = "default",
    job_id: str | None = None,
    batch_as: str | None = None,
    **options: Any,
) -> None:
    """Ask for ``func(*args)`` to run on RQ once the current transaction commits, on behalf of
    ``organization_id`` (kept in the job's meta).

    ``args`` must be IDs (ints or short strings): no patient data ever goes into a job. With ``batch_as`` (the
    name of a job taking any number of such ids), the jobs one commit asks for in the same queue and organization
    go as batch jobs of up to ``BATCH_SIZE`` ids (with the first one's options); a lone one goes as ``func``.
    """
    for arg in args:
        if not isinstance(arg, int | str) or isinstance(arg, bool):
            raise TypeError("job arguments must be IDs (int or str)")
    job_meta(organization_id)  # refuses a missing or malformed organization now, not after the commit
    if queue not in QUEUE_NAMES:
        raise ValueError(f"unknown queue {queue!r}")
    session = db.session()
    if not session.in_transaction():
        session.begin()  # so that a rollback, even with no SQL run yet, drops the job
    session.info.setdefault(PENDING_KEY, []).append(
        PendingJob(func, args, queue, organization_id, job_id, options, batch_as)
    )


def pending_jobs() -> list[PendingJob]:
    """Jobs waiting for the current transaction to commit (for tests and diagnostics)."""
    return list(db.session().info.get(PENDING_KEY, []))


@contextmanager
def jobs_run_inline() -> Iterator[None]:
    """While inside: jobs asked for after commit are not sent to Redis, because the caller runs the automation
    itself, in process (the demo seed bills part of its history this way, before any Redis exists)."""
    session = db.session()
    session.info[INLINE_KEY] = True
    try:
        yield
    finally:
        session.info.pop(INLINE_KEY, None)
        session.info.pop(PENDING_KEY, None)


@contextmanager
def jobs_held() -> Iterator[None]:
    """While inside (a batch job running its items one commit each): the jobs those commits ask for are held and
    sent together when the block ends, so that the next steps of a batch go as batch jobs too. A crash inside
    loses the held jobs, never the work: their items are committed and ready, and the requeue sweeper finds them."""
    session = db.session()
    held: list[PendingJob] = []
    session.info[HELD_KEY] = held
    try:
        yield
    finally:
        session.info.pop(HELD_KEY, None)
        send_jobs(held)


def coalesce(jobs: list[PendingJob]) -> list[PendingJob]:
    """The jobs to send: batchable ones (``batch_as``, no job id) of one queue and organization merged into batch
    jobs of up to ``BATCH_SIZE`` distinct ids, in the order asked; the rest as they are."""
    out: list[PendingJob] = []
    groups: dict[tuple[str, str, int], list[PendingJob]] = {}
    for job in jobs:
        if job.batch_as is None or job.job_id is not None:
            out.append(job)
        else:
            groups.setdefault((job.batch_as, job.queue, job.organization_id), []).append(job)
    for (batch_as, queue, organization_id), group in groups.items():
        args = list(dict.fromkeys(arg for job in group for arg in job.args))
        for start in range(0, len(args), BATCH_SIZE):
            chunk = tuple(args[start : start + BATCH_SIZE])
            if len(chunk) == 1 and len(group[0].args) == 1:
                out.append(PendingJob(group[0].func, chunk, queue, organization_id, None, group[0].options))
            else:
                out.append(PendingJob(batch_as, chunk, queue, organization_id, None, group[0].options))
    return out


def send_jobs(jobs: list[PendingJob]) -> int:
    """Enqueue ``jobs`` (coalesced) in one Redis pipeline; how many jobs went. A failure is logged, not raised: the
    work they were for is committed, and the sweepers enqueue it again."""
    if not jobs:
        return 0
    to_send = coalesce(jobs)
    try:
        conn = get_redis()
        with conn.pipeline() as pipe:
            for job in to_send:
                queue = get_queue(job.queue, conn)
                data = queue.prepare_data(job.func, args=job.args, job_id=job.job_id,
                                          meta=job_meta(job.organization_id), **job.options)  # fmt: skip
                queue.enqueue_many([data], pipeline=pipe)
            pipe.execute()
    except Exception:  # noqa: BLE001 - the commit stands; the sweeper re-enqueues ready items
        log.exception("could not enqueue %d job(s) after commit; the sweeper will retry", len(jobs))
        return 0
    return len(to_send)


def _send_pending(session: OrmSession) -> None:
    jobs: list[PendingJob] = session.info.pop(PENDING_KEY, [])
    if not jobs or session.info.get(INLINE_KEY):
        return
    held = session.info.get(HELD_KEY)
    if held is not None:
        held.extend(jobs)
        return
    send_jobs(jobs)


def _drop_pending(session: OrmSession) -> None:
    session.info.pop(PENDING_KEY, None)


def _drop_pending_soft(session: OrmSession, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:
        session.info.pop(PENDING_KEY, None)
