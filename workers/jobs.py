"""Importable, ID-only RQ jobs (``workers.jobs.<name>``); each one runs inside an app context."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, has_app_context

from backoffice.clock import utcnow
from backoffice.extensions import db

_app: Flask | None = None


@contextmanager
def job_context() -> Iterator[None]:
    """Use the worker's app context if there is one, else build the app once per process."""
    global _app
    if has_app_context():
        try:
            yield
        finally:
            db.session.remove()
        return
    if _app is None:
        from backoffice import create_app

        _app = create_app()
    with _app.app_context():
        try:
            yield
        finally:
            db.session.remove()


def warm_up() -> None:
    """Import every step and load the code tables once in the worker's parent process, so each forked job starts
    warm (a cold job paid ~150 ms of imports), then drop the parent's database connections: a forked child must
    never share a connection with its parent."""
    from backoffice.automation import eligibility, steps  # noqa: F401
    from backoffice.clearinghouse import sandbox, sandbox_x12  # noqa: F401
    from backoffice.coding import icd10
    from backoffice.eligibility import services as benefits  # noqa: F401
    from backoffice.exchange import ack_posting, ingest, submission  # noqa: F401
    from backoffice.remits import services  # noqa: F401

    icd10.billable_problem("F33.1", utcnow().date())
    if has_app_context():
        db.engine.dispose()


def run_automated_item(item_id: int) -> dict[str, Any]:
    """Run the automated step of one work item."""
    from backoffice.automation.runner import run_automated_item as run

    with job_context():
        return run(item_id, now=utcnow())


def run_automated_items(*item_ids: int) -> dict[str, int]:
    """Run the automated steps of many items in one job (the ones a commit asked for: ``tasks.coalesce``), in one
    database session, each item with its own commits and clock reading. The jobs their commits ask for (the next
    steps) are held and sent together at the end, as batch jobs again. An item whose step fails has its attempt
    recorded and is retried alone after RQ's first retry interval; the others go on."""
    from backoffice.automation.runner import run_automated_items as run
    from backoffice.tasks import get_redis, jobs_held

    with job_context(), jobs_held():
        return run(item_ids, clock=utcnow, redis=get_redis())


def send_eligibility_inquiry(item_id: int) -> str:
    """Send the 270 a person queued with "Check eligibility now" on a benefits item (batch channels)."""
    from backoffice.automation.eligibility import send_eligibility_inquiry as send

    with job_context():
        return send(item_id, now=utcnow())


def poll_practice(practice_id: int) -> dict[str, Any]:
    """Poll one practice's clearinghouse inbox and ingest what came (the inbox flow's fan-out)."""
    from backoffice.exchange.ingest import poll_practice as poll

    with job_context():
        return poll(practice_id=practice_id, now=utcnow())


def noop() -> None:
    """A job that does nothing: the bare RQ baseline that bench/automation.py measures next to real steps."""
