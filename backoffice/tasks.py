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
    **options: Any,
) -> None:
    """Ask for ``func(*args)`` to run on RQ once the current transaction commits, on behalf of
    ``organization_id`` (kept in the job's meta).

    ``args`` must be IDs (ints or short strings): no patient data ever goes into a job.
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
    session.info.setdefault(PENDING_KEY, []).append(PendingJob(func, args, queue, organization_id, job_id, options))


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


def _send_pending(session: OrmSession) -> None:
    jobs: list[PendingJob] = session.info.pop(PENDING_KEY, [])
    if not jobs or session.info.get(INLINE_KEY):
        return
    try:
        conn = get_redis()
        for job in jobs:
            get_queue(job.queue, conn).enqueue(
                job.func, *job.args, job_id=job.job_id, meta=job_meta(job.organization_id), **job.options
            )
    except Exception:  # noqa: BLE001 - the commit stands; the sweeper re-enqueues ready items
        log.exception("could not enqueue %d job(s) after commit; the sweeper will retry", len(jobs))


def _drop_pending(session: OrmSession) -> None:
    session.info.pop(PENDING_KEY, None)


def _drop_pending_soft(session: OrmSession, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:
        session.info.pop(PENDING_KEY, None)
