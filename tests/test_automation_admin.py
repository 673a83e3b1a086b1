"""The admin automation page: RQ queue depths, failed jobs (item IDs and error class, never the traceback's text)
and the retry button, through the real Redis and a real worker."""

from __future__ import annotations

from datetime import datetime

from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from rq import SimpleWorker
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer

from backoffice.automation import runner as work_jobs
from backoffice.automation.queries import error_class
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
