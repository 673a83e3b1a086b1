"""The admin automation page: RQ queue depths, failed jobs (item IDs and error class, never the traceback's text)
and the retry button, through the real Redis and a real worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime

from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from rq import SimpleWorker
from rq.registry import FailedJobRegistry, StartedJobRegistry
from rq.serializers import JSONSerializer

from backoffice.audit.models import AuditEvent
from backoffice.automation import runner as work_jobs
from backoffice.automation.queries import error_class
from backoffice.extensions import db
from backoffice.tasks import _EXT_KEY, QUEUE_NAMES, get_queue
from backoffice.work import chains
from backoffice.work.models import WorkItem
from tests import factories as f
from tests.conftest import AuthActions, csrf_token
from tests.factories import NOW


def _fail_once_per_attempt(item: WorkItem, now: datetime) -> dict:
    raise ConnectionError("portal refused member 998877665")


def _world(app: Flask) -> int:
    with app.app_context():
        org = f.make_org()
        practice = f.make_practice(org)
        f.make_user(org, role="admin", email="admin@example.test")
        f.make_user(org, role="supervisor", email="sup@example.test")
        session = f.make_session(practice)
        chain = chains.create_chain(session=session, kinds=["verify_benefits"], now=NOW, automated=["verify_benefits"])
        return chain[0].id


def _work_off(redis_conn: Redis) -> None:
    queues = [get_queue(name, redis_conn) for name in QUEUE_NAMES]
    SimpleWorker(queues, connection=redis_conn, serializer=JSONSerializer).work(burst=True)


def test_error_class_is_the_exception_name_without_its_message() -> None:
    trace = 'Traceback (most recent call last):\n  File "x.py"\nbuiltins.ConnectionError: portal refused member 99\n'
    assert error_class(trace) == "ConnectionError"
    assert error_class("") == "unknown"


def test_admin_sees_a_failed_job_without_its_message_and_requeues_it(
    app: Flask, client: FlaskClient, auth: AuthActions, redis_conn: Redis, monkeypatch
) -> None:
    monkeypatch.setitem(work_jobs.STEPS, "verify_benefits", _fail_once_per_attempt)
    item_id = _world(app)
    with app.app_context():
        job = get_queue("default", redis_conn).jobs[0]
        job.retries_left = 0  # this test looks at the failed registry, not at the backoff
        job.save()
        _work_off(redis_conn)
    auth.login("admin@example.test")
    page = client.get("/admin/automation")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f"#{item_id}" in html and "ConnectionError" in html
    assert "998877665" not in html
    registry = FailedJobRegistry(queue=get_queue("default", redis_conn))
    assert registry.count == 1
    response = client.post(f"/admin/automation/jobs/{job.id}/retry", data={"csrf_token": csrf_token(html)})
    assert response.status_code == 302
    assert registry.count == 0
    assert [j.args for j in get_queue("default", redis_conn).jobs] == [[item_id]]


def test_the_automation_page_is_for_admins_only(app: Flask, client: FlaskClient, auth: AuthActions) -> None:
    _world(app)
    auth.login("sup@example.test")
    assert client.get("/admin/automation").status_code == 403
    assert client.post("/admin/automation/jobs/x/retry").status_code in (400, 403)


def test_the_automation_page_still_answers_while_redis_is_down(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    _world(app)
    app.extensions[_EXT_KEY] = Redis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=0.2)  # nothing listens
    auth.login("admin@example.test")
    page = client.get("/admin/automation")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "Redis cannot be reached" in body
    assert '<td>ready</td><td class="num">1</td>' in body  # the database's side is still shown


def _failed_item_of_a_second_organization(app: Flask, redis_conn: Redis) -> tuple[int, str]:
    """Organization B (its own admin) with an automated item whose job failed on the real worker: (item, job id)."""
    with app.app_context():
        org = f.make_org()
        f.make_user(org, role="admin", email="admin-b@example.test")
        session = f.make_session(f.make_practice(org))
        item = chains.create_chain(session=session, kinds=["verify_benefits"], now=NOW,
                                     automated=["verify_benefits"])[0]  # fmt: skip
        job = next(j for j in get_queue("default", redis_conn).jobs if j.args == [item.id])
        job.retries_left = 0
        job.save()
        _work_off(redis_conn)
        return item.id, job.id


def test_an_admin_sees_and_retries_only_the_failed_jobs_of_their_own_organization(
    app: Flask, client: FlaskClient, auth: AuthActions, redis_conn: Redis, monkeypatch
) -> None:
    monkeypatch.setitem(work_jobs.STEPS, "verify_benefits", _fail_once_per_attempt)
    _world(app)
    with app.app_context():
        _work_off(redis_conn)  # organization A's job fails too (it has retries: it waits to retry)
    other_item, other_job = _failed_item_of_a_second_organization(app, redis_conn)
    registry = FailedJobRegistry(queue=get_queue("default", redis_conn))
    assert other_job in registry
    auth.login("admin@example.test")
    page = client.get("/admin/automation")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert other_job[:8] not in html and f"#{other_item}" not in html
    assert '<td class="num ">0</td>' in html.split("<td>default</td>")[1].split("</tr>")[0]  # B's failure uncounted
    response = client.post(f"/admin/automation/jobs/{other_job}/retry", data={"csrf_token": csrf_token(html)})
    assert response.status_code == 404
    assert other_job in registry  # still failed, still B's to retry
    with app.app_context():
        assert db.session.query(AuditEvent).filter_by(action="admin:automation_retry").count() == 0
    auth.logout()
    auth.login("admin-b@example.test")
    page = client.get("/admin/automation")
    assert other_job[:8] in page.get_data(as_text=True)
    response = client.post(f"/admin/automation/jobs/{other_job}/retry", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 302
    assert other_job not in registry


def test_jobs_carry_their_organization_in_their_meta(app: Flask, redis_conn: Redis) -> None:
    item_id = _world(app)
    with app.app_context():
        job = get_queue("default", redis_conn).jobs[0]
        item = db.session.get(WorkItem, item_id)
        assert job.args == [item_id]
        assert job.meta == {"organization_id": item.practice.organization_id}


_WORKER = """
import sys
from redis import Redis
from rq.serializers import JSONSerializer
from backoffice.safe_worker import SimpleWorker
from backoffice.tasks import get_queue
conn = Redis.from_url(sys.argv[1])
SimpleWorker([get_queue("low", conn)], connection=conn, serializer=JSONSerializer).work()
"""


def _kill_a_worker_mid_job(redis_url: str, redis_conn: Redis, organization_id: int) -> str:
    """A real worker process takes a long job and is killed (SIGKILL) while it runs; RQ's own maintenance then
    moves the abandoned job to the failed registry, with no end time."""
    queue = get_queue("low", redis_conn)
    job = queue.enqueue("time.sleep", 120, meta={"organization_id": organization_id})
    worker = subprocess.Popen([sys.executable, "-c", _WORKER, redis_url], start_new_session=True)
    try:
        started = StartedJobRegistry(queue=queue)
        deadline = time.monotonic() + 30
        while job.id not in started.get_job_ids(cleanup=False):
            assert time.monotonic() < deadline, "the worker never started the job"
            assert worker.poll() is None, "the worker exited"
            time.sleep(0.05)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    started.cleanup(timestamp=2**40)  # what a worker's maintenance does once the dead one's heartbeat expired
    assert job.id in FailedJobRegistry(queue=queue)
    assert job.fetch(job.id, connection=redis_conn, serializer=JSONSerializer).ended_at is None
    return job.id


def test_the_automation_page_answers_when_a_worker_was_killed_mid_job(
    app: Flask, client: FlaskClient, auth: AuthActions, redis_conn: Redis, redis_url: str, monkeypatch
) -> None:
    monkeypatch.setitem(work_jobs.STEPS, "verify_benefits", _fail_once_per_attempt)
    item_id = _world(app)
    with app.app_context():
        organization_id = db.session.get(WorkItem, item_id).practice.organization_id
        job = get_queue("default", redis_conn).jobs[0]
        job.retries_left = 0
        job.save()
        _work_off(redis_conn)  # one ordinary failure, with an end time
    killed = _kill_a_worker_mid_job(redis_url, redis_conn, organization_id)
    auth.login("admin@example.test")
    page = client.get("/admin/automation")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert killed[:8] in html and job.id[:8] in html and "worker lost" in html
    response = client.post(f"/admin/automation/jobs/{killed}/retry", data={"csrf_token": csrf_token(html)})
    assert response.status_code == 302
    assert [j.id for j in get_queue("low", redis_conn).jobs] == [killed]
