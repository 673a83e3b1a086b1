"""The intake flow: plan every new session's chain, a batch of sessions per task (never one per session:
a flow run costs ~1.1 s and a task ~12 ms here). Import after ``flows.runtime.prefect_env``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner

from flows.runtime import current_flow_app, flow_app

DEFAULT_BATCH = 500
# Two batches in flight: one computes while the other waits on PostgreSQL (disjoint batches; SKIP LOCKED and
# ON CONFLICT make even overlapping ones safe). SQLite allows one writer, so there batches run one by one.
PARALLEL_BATCHES = 2


def pending_batches_in(
    app: Flask, batch_size: int = DEFAULT_BATCH, limit: int | None = None, session_ids: list[int] | None = None
) -> list[list[int]]:
    """The unplanned sessions' IDs (all, or those of ``session_ids``: one import's), oldest first, cut into batches
    of ``batch_size``."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    from backoffice.intake.planning import pending_session_ids  # noqa: PLC0415 - flows load the app lazily

    with app.app_context():
        ids = pending_session_ids(limit, among=session_ids)
    return [ids[start : start + batch_size] for start in range(0, len(ids), batch_size)]


def plan_batch_in(app: Flask, session_ids: list[int], now: datetime | None = None) -> dict[str, Any]:
    """Plan one batch in one transaction; returns the counts."""
    from backoffice.clock import utcnow  # noqa: PLC0415
    from backoffice.intake.planning import plan_sessions  # noqa: PLC0415

    with app.app_context():
        return plan_sessions(session_ids=session_ids, now=now or utcnow()).as_dict()


def add_up(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """One summary for the whole run (counts added, kinds merged)."""
    total: dict[str, Any] = {"batches": len(summaries), "sessions": 0, "planned": 0, "already_planned": 0,
                             "items": 0, "enqueued": 0, "by_kind": {}}  # fmt: skip
    for summary in summaries:
        for key in ("sessions", "planned", "already_planned", "items", "enqueued"):
            total[key] += summary[key]
        for kind, count in summary["by_kind"].items():
            total["by_kind"][kind] = total["by_kind"].get(kind, 0) + count
    return total


def run_intake(
    app: Flask,
    batch_size: int = DEFAULT_BATCH,
    limit: int | None = None,
    now: datetime | None = None,
    session_ids: list[int] | None = None,
) -> dict[str, Any]:
    """The flow's logic as a plain function: every pending batch planned in turn."""
    batches = pending_batches_in(app, batch_size, limit, session_ids)
    return add_up([plan_batch_in(app, batch, now) for batch in batches])


@task(cache_policy=NO_CACHE, persist_result=False)
def pending_batches(batch_size: int, limit: int | None, session_ids: list[int] | None = None) -> list[list[int]]:
    """Task: the batches of unplanned session IDs."""
    return pending_batches_in(current_flow_app(), batch_size, limit, session_ids)


@task(cache_policy=NO_CACHE, persist_result=False)
def plan_batch(session_ids: list[int]) -> dict[str, Any]:
    """Task: plan one batch of sessions."""
    return plan_batch_in(current_flow_app(), session_ids)


def _concurrent(app: Flask) -> bool:
    return not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")


@flow(
    name="intake",
    persist_result=False,
    log_prints=False,
    task_runner=ThreadPoolTaskRunner(max_workers=PARALLEL_BATCHES),  # type: ignore[arg-type]
)
def intake(
    batch_size: int = DEFAULT_BATCH, limit: int | None = None, session_ids: list[int] | None = None
) -> dict[str, Any]:
    """Plan the chains of new sessions in batches: every pending one (the schedule's run), or one import's
    (``session_ids``, a run an import triggered). Parameters are numbers only, never patient data."""
    with flow_app() as app:
        batches = pending_batches(batch_size, limit, session_ids)
        if _concurrent(app) and batches:
            return add_up([future.result() for future in plan_batch.map(batches)])
        return add_up([plan_batch(batch) for batch in batches])
