"""Server-side sessions (issue 15, findings 3 and 4): a session ends for good at sign-out, password change,
deactivation and an admin's "sign out everywhere", whatever copies of its cookie exist; a cookie signed with the
app's own key but naming no live session opens nothing."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from backoffice.accounts.models import User, UserSession
from backoffice.audit.models import AuditEvent
from backoffice.cli import cli
from backoffice.extensions import db
from tests import factories as f
from tests.conftest import AuthActions, csrf_token
from tests.factories import PASSWORD

NEW_PASSWORD = "violet kettle harbour 42"  # noqa: S105


def _people(app: Flask) -> dict[str, int]:
    with app.app_context():
        org = f.make_org()
        practice = f.make_practice(org)
        biller = f.make_user(org, practices=[practice], email="b@example.test")
        admin = f.make_user(org, role="admin", email="a@example.test")
        return {"biller": biller.id, "admin": admin.id}


def _signed_in(app: Flask, email: str = "b@example.test") -> FlaskClient:
    client = app.test_client()
    assert AuthActions(client).login(email).status_code == 302
    return client


def _copy(app: Flask, client: FlaskClient) -> FlaskClient:
    """Another browser holding a copy of ``client``'s session cookie (stolen from a shared machine, a proxy log…)."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def _post(client: FlaskClient, path: str, **data: str):  # noqa: ANN202
    return client.post(path, data={"csrf_token": csrf_token(client.get("/account").text), **data})


def test_a_cookie_copied_before_logout_opens_nothing_after_it(app: Flask) -> None:
    _people(app)
    browser = _signed_in(app)
    thief = _copy(app, browser)
    assert thief.get("/queue").status_code == 200  # the copy works while the session lives...
    assert AuthActions(browser).logout().status_code == 302
    assert thief.get("/queue").status_code == 302  # ...and not after sign-out, however it is used
    assert thief.get("/queue").headers["Location"].startswith("/login")
    with app.app_context():
        (row,) = db.session.scalars(select(UserSession))
        assert row.revoked_at is not None and row.end_reason == "logout"


def test_a_copied_cookie_cannot_be_kept_alive_past_the_idle_limit_or_the_session_lifetime(
    app: Flask, clock_pin
) -> None:
    _people(app)
    browser = _signed_in(app)
    thief = _copy(app, browser)
    browser.get("/queue")
    clock_pin.advance(minutes=31)
    assert thief.get("/queue").status_code == 302  # the server's clock says idle, whatever the cookie says
    assert browser.get("/queue").status_code == 302  # it was one session: ended for both
    # In use every 25 minutes, a session still ends 12 hours after sign-in (BACKOFFICE_SESSION_MAX_HOURS).
    busy = _signed_in(app)
    for _ in range(28):  # 11 h 40 min
        clock_pin.advance(minutes=25)
        assert busy.get("/queue").status_code == 200
    clock_pin.advance(minutes=25)
    response = busy.get("/queue")
    assert response.status_code == 302
    assert "12 hours after signing in" in busy.get(response.headers["Location"]).text
    with app.app_context():
        assert [e.data for e in db.session.scalars(select(AuditEvent).where(AuditEvent.action == "session_expired"))] \
            == [{"max_hours": 12}]  # fmt: skip


def test_a_cookie_forged_with_the_apps_own_key_signs_nobody_in(app: Flask) -> None:
    """Even with the secret key (the public default was finding 4), a cookie needs a live session's random id."""
    ids = _people(app)
    signer = app.session_interface.get_signing_serializer(app)
    forged = app.test_client()
    forged.set_cookie("session", signer.dumps({"_user_id": str(ids["admin"]), "_fresh": True, "sid": "guess"}))
    for path in ("/queue", "/admin/audit", "/admin/users"):
        assert forged.get(path).status_code == 302, path


def test_changing_the_password_ends_every_other_session_and_keeps_this_browser_signed_in(app: Flask) -> None:
    _people(app)
    laptop, phone = _signed_in(app), _signed_in(app)
    response = _post(laptop, "/account/password", current_password=PASSWORD, new_password=NEW_PASSWORD,
                     confirm=NEW_PASSWORD)  # fmt: skip
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    assert phone.get("/queue").status_code == 302
    assert laptop.get("/queue").status_code == 200  # a fresh session for the browser that changed it
    assert AuthActions(app.test_client()).login("b@example.test").status_code == 401  # the old password is gone
    assert AuthActions(app.test_client()).login("b@example.test", NEW_PASSWORD).status_code == 302


def test_a_wrong_current_password_or_a_weak_new_one_changes_nothing(app: Flask) -> None:
    _people(app)
    browser, other = _signed_in(app), _signed_in(app)
    wrong = _post(browser, "/account/password", current_password="not it at all", new_password=NEW_PASSWORD,
                  confirm=NEW_PASSWORD)  # fmt: skip
    assert wrong.status_code == 400 and "current password: not right" in wrong.text
    weak = _post(browser, "/account/password", current_password=PASSWORD, new_password="          ",
                 confirm="          ")  # fmt: skip
    assert weak.status_code == 400 and "password: cannot be blank or only spaces" in weak.text
    assert other.get("/queue").status_code == 200


def test_deactivation_by_an_admin_ends_every_session_of_the_user(app: Flask) -> None:
    ids = _people(app)
    billers = [_signed_in(app), _signed_in(app)]
    admin = _signed_in(app, "a@example.test")
    response = _post(admin, f"/admin/users/{ids['biller']}/active")
    assert response.status_code == 302
    assert [b.get("/queue").status_code for b in billers] == [302, 302]
    assert AuthActions(app.test_client()).login("b@example.test").status_code == 401
    with app.app_context():
        assert db.session.get(User, ids["biller"]).active is False
        (event,) = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "admin:user_deactivate"))
        assert (event.user_id, event.target_id, event.data) == (ids["admin"], str(ids["biller"]), {"sessions_ended": 2})


def test_an_admins_sign_out_everywhere_ends_every_session_of_the_user_and_only_theirs(app: Flask) -> None:
    ids = _people(app)
    billers = [_signed_in(app), _signed_in(app)]
    admin = _signed_in(app, "a@example.test")
    page = admin.get("/admin/users").text
    assert "Sign out everywhere" in page and "b@example.test" in page
    assert _post(admin, f"/admin/users/{ids['biller']}/sign-out").status_code == 302
    assert [b.get("/queue").status_code for b in billers] == [302, 302]
    assert admin.get("/queue").status_code == 200
    assert _signed_in(app).get("/queue").status_code == 200  # the user can sign in again
    with app.app_context():
        (event,) = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "admin:sign_out_everywhere"))
        assert (event.user_id, event.target_id, event.data) == (ids["admin"], str(ids["biller"]), {"sessions": 2})


def test_the_cli_signs_a_user_out_everywhere_and_deactivates(app: Flask, runner) -> None:  # noqa: ANN001
    _people(app)
    browser = _signed_in(app)
    result = runner.invoke(cli, ["users", "sign-out-everywhere", "--email", "b@example.test"])
    assert result.exit_code == 0 and "1 session(s) ended" in result.output
    assert browser.get("/queue").status_code == 302
    browser = _signed_in(app)
    assert runner.invoke(cli, ["users", "deactivate", "--email", "b@example.test"]).exit_code == 0
    assert browser.get("/queue").status_code == 302
    assert runner.invoke(cli, ["users", "reactivate", "--email", "b@example.test"]).exit_code == 0
    assert _signed_in(app).get("/queue").status_code == 200


def test_a_user_signs_out_everywhere_from_their_account_page(app: Flask) -> None:
    _people(app)
    laptop, phone = _signed_in(app), _signed_in(app)
    assert laptop.get("/account").text.count("<tr><td>") == 2  # both sessions listed
    assert _post(laptop, "/account/sessions/end").headers["Location"] == "/login"
    assert [laptop.get("/queue").status_code, phone.get("/queue").status_code] == [302, 302]


def test_an_admin_cannot_deactivate_themselves_or_touch_another_organizations_users(app: Flask) -> None:
    ids = _people(app)
    with app.app_context():
        stranger = f.make_user(f.make_org(), email="x@example.test").id
    admin = _signed_in(app, "a@example.test")
    refused = admin.get(_post(admin, f"/admin/users/{ids['admin']}/active").headers["Location"]).text
    assert "you cannot deactivate your own account" in refused
    assert _post(admin, f"/admin/users/{stranger}/sign-out").status_code == 404
