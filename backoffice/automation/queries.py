"""What the automation is doing, for the admin page: RQ queue depths and registries, failed jobs (their item IDs and
error class only: RQ keeps tracebacks, which may quote data, so the page never shows them), and automated items by
state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from redis import Redis
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.tasks import QUEUE_NAMES, get_queue
from backoffice.work.models import WorkItem
from backoffice.work.rules import Mode


@dataclass(frozen=True)
class QueueDepth:
    name: str
    queued: int
    running: int
    retrying: int  # waiting in the scheduled registry for a retry with backoff
    failed: int


@dataclass(frozen=True)
class FailedJob:
    id: str
    queue: str
    function: str
    args: tuple[object, ...]
    error: str  # the exception class only
    ended_at: datetime | None


def queue_depths(conn: Redis) -> list[QueueDepth]:
    """Per RQ queue: waiting, running, waiting to retry, failed."""
    rows = []
    for name in QUEUE_NAMES:
        queue = get_queue(name, conn)
        rows.append(
            QueueDepth(
                name,
                queue.count,
                StartedJobRegistry(queue=queue).count,
                ScheduledJobRegistry(queue=queue).count,
                FailedJobRegistry(queue=queue).count,
            )  # fmt: skip
        )
    return rows


def error_class(exc_info: str | None) -> str:
    """The exception class of a stored traceback's last line (``module.Error: message`` → ``Error``)."""
    lines = [line for line in (exc_info or "").strip().splitlines() if line.strip()]
    if not lines:
        return "unknown"
    head = lines[-1].split(":", 1)[0].strip()
    return head.rsplit(".", 1)[-1] if head and " " not in head else "unknown"


def failed_jobs(conn: Redis, limit: int = 100) -> list[FailedJob]:
    """The most recent failed jobs of every queue."""
    jobs: list[FailedJob] = []
    for name in QUEUE_NAMES:
        queue = get_queue(name, conn)
        registry = FailedJobRegistry(queue=queue)
        for job_id in registry.get_job_ids(0, limit - 1):
            job = Job.fetch(job_id, connection=conn, serializer=queue.serializer) if Job.exists(job_id, conn) else None
            if job is None:
                continue
            latest = job.latest_result()
            error = error_class(latest.exc_string if latest is not None else None)
            jobs.append(FailedJob(job.id, name, job.func_name, tuple(job.args), error, job.ended_at))
    return sorted(jobs, key=lambda j: j.ended_at or datetime.min, reverse=True)[:limit]


def automated_items_by_state(organization_practice_ids: set[int]) -> dict[str, int]:
    """Automated items per state in the practices given."""
    rows = db.session.execute(
        select(WorkItem.state, func.count())
        .where(WorkItem.mode == Mode.AUTOMATED, WorkItem.practice_id.in_(organization_practice_ids))
        .group_by(WorkItem.state)
    ).all()
    return {str(state): count for state, count in rows}
