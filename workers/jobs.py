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


def run_automated_item(item_id: int) -> dict[str, Any]:
    """Run the automated step of one work item."""
    from backoffice.work.jobs import run_automated_item as run

    with job_context():
        return run(item_id, now=utcnow())


def noop() -> None:
    """A job that does nothing: the bare RQ baseline that bench/automation.py measures next to real steps."""
