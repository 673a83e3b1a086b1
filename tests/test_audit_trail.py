"""The audit trail: sign-in events, PHI reads, admin actions, and the admin page that examines it."""

from __future__ import annotations

import csv
import io

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from backoffice.audit.models import AuditEvent
from backoffice.audit.services import record_event, record_phi_read
from backoffice.cli import cli
from backoffice.extensions import db
from backoffice.orgs.models import Practice
from tests import factories as f
from tests.conftest import AuthActions, csrf_token

PASSWORD_TYPED = "wrong horse battery"  # noqa: S105


def _events(app: Flask, action: str | None = None) -> list[AuditEvent]:
    with app.app_context():
        stmt = select(AuditEvent).order_by(AuditEvent.id)
        if action:
            stmt = stmt.where(AuditEvent.action == action)
        return list(db.session.scalars(stmt))


def _world(app: Flask) -> dict[str, int]:
    with app.app_context():
        org = f.make_org()
        practice = f.make_practice(org)
        biller = f.make_user(org, practices=[practice], email="b@example.test")
        admin = f.make_user(org, role="admin", email="a@example.test")
        item = f.make_ready_items(practice, 1)[0]
        return {"org": org.id, "practice": practice.id, "biller": biller.id, "admin": admin.id, "item": item.id,
                "patient": item.session.patient_id}  # fmt: skip


def test_sign_in_sign_out_and_a_failed_sign_in_are_logged_without_password_or_email(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    ids = _world(app)
    auth.login("b@example.test", password=PASSWORD_TYPED)
    auth.login("nobody@example.test", password=PASSWORD_TYPED)
    auth.login("b@example.test")
    auth.logout()
    rows = [(e.action, e.user_id, e.data.get("reason")) for e in _events(app)]
    assert rows == [
        ("login_failed", ids["biller"], "wrong_password"),
        ("login_failed", None, "unknown_account"),
        ("login", ids["biller"], None),
        ("logout", ids["biller"], None),
    ]
    for event in _events(app):
        assert event.remote_addr == "127.0.0.1" and event.endpoint.startswith("accounts.")
        text = repr((event.data, event.target_id, event.target_type))
        assert PASSWORD_TYPED not in text and "example.test" not in text


def test_throttling_says_the_same_for_a_known_and_an_unknown_email_and_is_logged(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    ids = _world(app)
    answers = {}
    for email in ("b@example.test", "nobody@example.test"):
        wrong = [auth.login(email, password=PASSWORD_TYPED) for _ in range(5)]
        assert {r.status_code for r in wrong} == {401}
        assert all("Email or password is wrong." in r.get_data(as_text=True) for r in wrong)
        locked = auth.login(email)  # the right password does not help while throttled
        assert locked.status_code == 429
        answers[email] = locked.get_data(as_text=True).split('class="flash error"', 1)[1].split("</div>", 1)[0]
    assert answers["b@example.test"] == answers["nobody@example.test"]
    assert "Too many failed sign-ins. Try again in 30 seconds." in answers["b@example.test"]
    assert client.get("/queue").status_code == 302  # still signed out
    assert [e.user_id for e in _events(app, "login_throttled")] == [ids["biller"], None]


def test_the_work_item_page_logs_a_phi_view_and_a_404_logs_nothing(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    ids = _world(app)
    auth.login("b@example.test")
    assert client.get(f"/items/{ids['item']}").status_code == 200
    assert client.get(f"/items/{ids['item'] + 1000}").status_code == 404
    (view,) = _events(app, "phi_view")
    assert (view.user_id, view.patient_id, view.practice_id, view.endpoint) == (
        ids["biller"], ids["patient"], ids["practice"], "work.item"
    )  # fmt: skip
    assert (view.target_type, view.target_id, view.organization_id) == ("work_item", str(ids["item"]), ids["org"])


def test_the_queue_page_logs_one_phi_view_per_patient_it_names_in_one_insert(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    ids = _world(app)
    with app.app_context():
        practice = db.session.get(Practice, ids["practice"])
        more = [f.make_ready_items(practice, 1)[0] for _ in range(3)]  # three more patients
        patients = {ids["patient"], *(item.session.patient_id for item in more)}
        assert len(patients) == 4
    auth.login("b@example.test")
    assert client.get("/queue").status_code == 200
    views = _events(app, "phi_view")
    assert sorted(v.patient_id for v in views) == sorted(patients)  # each patient once, none missing
    for view in views:
        assert (view.user_id, view.practice_id, view.organization_id) == (ids["biller"], ids["practice"], ids["org"])
        assert (view.endpoint, view.target_type, view.remote_addr, view.data) == (
            "work.queue",
            "queue",
            "127.0.0.1",
            {},
        )
    assert len({v.at for v in views}) == 1  # one instant: written together when the page succeeded


def test_record_phi_read_outside_a_request_writes_at_once_and_refuses_unknown_actions(app: Flask) -> None:
    ids = _world(app)
    with app.app_context():
        record_phi_read(patient_id=ids["patient"], practice_id=ids["practice"], action="pdf", target_type="statement")
        try:
            record_phi_read(patient_id=ids["patient"], practice_id=ids["practice"], action="peek")
        except ValueError as error:
            assert "action" in str(error)
        else:
            raise AssertionError("an unknown action was accepted")
    assert [(e.action, e.patient_id) for e in _events(app)] == [("pdf", ids["patient"])]


def test_user_creation_and_role_change_are_admin_events(app: Flask, runner) -> None:  # noqa: ANN001
    with app.app_context():
        org = f.make_org()
        f.make_practice(org, slug="calm")
    result = runner.invoke(
        cli,
        ["users", "create", "--email", "New@Example.test", "--name", "New", "--role", "biller",
              "--practice", "calm", "--password", "a long enough password"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["users", "set-role", "--email", "new@example.test", "--role", "supervisor"])
    assert result.exit_code == 0, result.output
    created, changed = _events(app, "admin:user_create") + _events(app, "admin:role_change")
    assert created.target_type == "user" and created.data["role"] == "biller" and created.organization_id == org.id
    assert changed.target_id == created.target_id and changed.data == {"from": "biller", "to": "supervisor"}
    assert "a long enough password" not in repr(created.data)


def test_api_token_issue_and_revoke_are_admin_events(app: Flask, runner) -> None:  # noqa: ANN001
    ids = _world(app)
    result = runner.invoke(cli, ["users", "token", "--email", "b@example.test", "--scope", "work:read"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    result = runner.invoke(cli, ["users", "revoke-token", "--id", _events(app)[-1].target_id])
    assert result.exit_code == 0, result.output
    issued, revoked = _events(app, "admin:token_issue") + _events(app, "admin:token_revoke")
    assert issued.target_type == revoked.target_type == "api_token" and issued.target_id == revoked.target_id
    expires = "2027-02-16T15:00:00+00:00"  # 90 days after the pinned clock (BACKOFFICE_API_TOKEN_DAYS)
    assert issued.data == {"for_user_id": ids["biller"], "scopes": ["work:read"], "expires_at": expires}
    assert token not in repr(issued.data) and token[8:] not in repr(_events(app))


def test_the_audit_page_is_for_admins_filters_and_exports(app: Flask, client: FlaskClient, auth: AuthActions) -> None:
    ids = _world(app)
    with app.app_context():
        record_event(action="phi_view", organization_id=ids["org"], user=None, patient_id=ids["patient"])
        other = f.make_org()
        record_event(action="phi_view", organization_id=other.id, patient_id=ids["patient"])  # another company's
    auth.login("b@example.test")
    assert client.get("/admin/audit").status_code == 403
    assert client.get("/admin/audit.csv").status_code == 403
    auth.logout()
    auth.login("a@example.test")
    page = client.get("/admin/audit").get_data(as_text=True)
    assert page.count("<code>phi_view</code>") == 1 and "<code>login</code>" in page
    page = client.get(f"/admin/audit?patient_id={ids['patient']}&action=phi_view").get_data(as_text=True)
    assert page.count("<code>phi_view</code>") == 1 and "<code>login</code>" not in page
    assert "No events match" in client.get("/admin/audit?date_to=2020-01-01").get_data(as_text=True)
    bad = client.get("/admin/audit?patient_id=abc").get_data(as_text=True)
    assert "Patient id: expected a whole number" in bad and "No events match" in bad
    response = client.get(f"/admin/audit.csv?user_id={ids['admin']}")
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["action"] for r in rows] == ["login"] and rows[0]["user"] == "a@example.test"
    assert _events(app)[-1].action == "admin:audit_export" and _events(app)[-1].data == {"rows": 1}


def test_an_automation_retry_is_an_admin_event(app: Flask, client: FlaskClient, auth: AuthActions, redis_conn,
                                               monkeypatch) -> None:  # noqa: ANN001  # fmt: skip
    from backoffice.automation import runner as work_jobs
    from backoffice.tasks import get_queue
    from tests.test_automation_admin import _fail_once_per_attempt, _work_off
    from tests.test_automation_admin import _world as automation_world

    monkeypatch.setitem(work_jobs.STEPS, "verify_benefits", _fail_once_per_attempt)
    automation_world(app)
    with app.app_context():
        job = get_queue("default", redis_conn).jobs[0]
        job.retries_left = 0
        job.save()
        _work_off(redis_conn)
    auth.login("admin@example.test")
    token = csrf_token(client.get("/admin/automation").text)
    assert client.post(f"/admin/automation/jobs/{job.id}/retry", data={"csrf_token": token}).status_code == 302
    (event,) = _events(app, "admin:automation_retry")
    assert (event.target_type, event.target_id, event.endpoint) == ("rq_job", job.id, "automation.retry")
