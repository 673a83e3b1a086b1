"""What the automation is doing, for the admin page: RQ queue depths and registries, failed jobs (their item IDs and
error class only: RQ keeps tracebacks, which may quote data, so the page never shows them), and automated items by
state.

RQ's queues and registries are shared by every organization: every read here is for one organization, told by the
``organization_id`` in each job's meta (``backoffice.tasks.job_meta``). A job enqueued before jobs carried it is
an automation job whose work item names its organization; any other job without it belongs to nobody's page.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from redis import Redis
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from sqlalchemy import func, select

from backoffice.automation.runner import job_item_ids
from backoffice.extensions import db
from backoffice.orgs.models import Practice
from backoffice.tasks import ORGANIZATION_META, QUEUE_NAMES, get_queue
from backoffice.work.models import WorkItem
from backoffice.work.rules import Mode

NEVER = datetime.min.replace(tzinfo=UTC)  # sorts last: a failed job with no time at all


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
    ended_at: datetime | None  # None: the worker died mid-job (RQ moved it here as abandoned)
    started_at: datetime | None = None

    @property
    def sort_key(self) -> datetime:
        """When it failed, or when it started for a job whose worker was killed (no end time), as aware UTC."""
        when = self.ended_at or self.started_at
        if when is None:
            return NEVER
        return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _meta_organization(raw: bytes | None) -> int | None:
    """The organization id in a job's stored meta (JSON, as every queue here serializes), or None."""
    try:
        meta = json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError):
        return None
    value = meta.get(ORGANIZATION_META) if isinstance(meta, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def job_organizations(conn: Redis, job_ids: Iterable[str]) -> dict[str, int | None]:
    """Each job's organization: from its meta (one pipelined read of the meta field only), else, for an automation
    job enqueued before jobs carried it, from its work item; None when neither tells."""
    ids = list(dict.fromkeys(job_ids))
    if not ids:
        return {}
    with conn.pipeline(transaction=False) as pipe:
        for job_id in ids:
            pipe.hget(Job.key_for(job_id), "meta")
        metas = pipe.execute()
    found = {job_id: _meta_organization(raw) for job_id, raw in zip(ids, metas, strict=True)}
    unknown = [job_id for job_id, org in found.items() if org is None]
    found.update(_legacy_organizations(conn, unknown))
    return found


def _legacy_organizations(conn: Redis, job_ids: list[str]) -> dict[str, int]:
    if not job_ids:
        return {}
    item_of: dict[str, int] = {}
    for job in Job.fetch_many(job_ids, connection=conn, serializer=get_queue("default", conn).serializer):
        items = job_item_ids(job.func_name, job.args) if job is not None else []
        if items:
            item_of[job.id] = items[0]
    if not item_of:
        return {}
    rows = db.session.execute(
        select(WorkItem.id, Practice.organization_id)
        .join(Practice, Practice.id == WorkItem.practice_id)
        .where(WorkItem.id.in_(set(item_of.values())))
    ).all()
    org_of_item = {item_id: organization_id for item_id, organization_id in rows}
    return {job_id: org_of_item[item_id] for job_id, item_id in item_of.items() if item_id in org_of_item}


def _count_own(conn: Redis, job_ids: list[str], organization_id: int) -> int:
    return sum(1 for org in job_organizations(conn, job_ids).values() if org == organization_id)


def queue_depths(conn: Redis, organization_id: int) -> list[QueueDepth]:
    """Per RQ queue, the organization's jobs: waiting, running, waiting to retry, failed."""
    rows = []
    for name in QUEUE_NAMES:
        queue = get_queue(name, conn)
        rows.append(
            QueueDepth(
                name,
                _count_own(conn, queue.get_job_ids(), organization_id),
                _count_own(conn, StartedJobRegistry(queue=queue).get_job_ids(), organization_id),
                _count_own(conn, ScheduledJobRegistry(queue=queue).get_job_ids(), organization_id),
                _count_own(conn, FailedJobRegistry(queue=queue).get_job_ids(), organization_id),
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


def failed_jobs(conn: Redis, organization_id: int, limit: int = 100) -> list[FailedJob]:
    """The organization's most recent failed jobs of every queue; a job whose worker was killed mid-run has no end
    time and sorts by when it started."""
    jobs: list[FailedJob] = []
    for name in QUEUE_NAMES:
        queue = get_queue(name, conn)
        registry = FailedJobRegistry(queue=queue)
        ids = registry.get_job_ids()
        owners = job_organizations(conn, ids)
        own = [job_id for job_id in ids if owners.get(job_id) == organization_id]
        for job in Job.fetch_many(own, connection=conn, serializer=queue.serializer):
            if job is None:
                continue
            latest = job.latest_result()
            error = error_class(latest.exc_string if latest is not None else None)
            jobs.append(FailedJob(job.id, name, job.func_name, tuple(job.args), error, job.ended_at, job.started_at))
    return sorted(jobs, key=lambda j: j.sort_key, reverse=True)[:limit]


def failed_job_queue(conn: Redis, organization_id: int, job_id: str) -> str | None:
    """The queue whose failed registry holds this job of the organization, or None (another organization's job
    is as unknown as a made-up id)."""
    for name in QUEUE_NAMES:
        registry = FailedJobRegistry(queue=get_queue(name, conn))
        if job_id in registry:
            return name if job_organizations(conn, [job_id]).get(job_id) == organization_id else None
    return None


def automated_items_by_state(organization_practice_ids: set[int]) -> dict[str, int]:
    """Automated items per state in the practices given."""
    rows = db.session.execute(
        select(WorkItem.state, func.count())
        .where(WorkItem.mode == Mode.AUTOMATED, WorkItem.practice_id.in_(organization_practice_ids))
        .group_by(WorkItem.state)
    ).all()
    return {str(state): count for state, count in rows}
