"""Two-step sign-in (issue 15): TOTP enrolment with a QR code and recovery codes, required by role as an
organization setting, remembered browsers, an admin's reset, and every step on the audit trail."""

from __future__ import annotations

import re

import pyotp
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from backoffice import clock
from backoffice.accounts.models import TrustedDevice, User
from backoffice.audit.models import AuditEvent
from backoffice.cli import cli
from backoffice.extensions import db
from backoffice.orgs.models import Organization
from tests import factories as f
from tests.conftest import AuthActions, csrf_token
from tests.factories import NOW

CODE_RE = re.compile(r"<code>([a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4})</code>")


def _org(app: Flask, roles: tuple[str, ...] = ("admin", "supervisor")) -> dict[str, int]:
    with app.app_context():
        org = f.make_org(mfa_required_roles=list(roles))
        admin = f.make_user(org, role="admin", email="a@example.test")
        biller = f.make_user(org, practices=[f.make_practice(org)], email="b@example.test")
        return {"org": org.id, "admin": admin.id, "biller": biller.id}


def _user(app: Flask, user_id: int) -> User:
    with app.app_context():
        user = db.session.get(User, user_id)
        db.session.expunge(user)
        return user


def _now_code(secret: str) -> str:
    return pyotp.TOTP(secret).at(clock.utcnow())


def _post(client: FlaskClient, path: str, page: str, **data: object):  # noqa: ANN202
    return client.post(path, data={"csrf_token": csrf_token(client.get(page).text), **data})


def _enrolled(app: Flask, email: str = "a@example.test") -> tuple[FlaskClient, str, list[str]]:
    """Sign ``email`` in through enrolment; returns the signed-in client, the TOTP secret and the recovery codes."""
    client = app.test_client()
    assert AuthActions(client).login(email).headers["Location"] == "/login/enrol"
    page = client.get("/login/enrol").text
    secret = re.search(r'id="mfa-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    done = _post(client, "/login/enrol", "/login/enrol", code=_now_code(secret))
    assert done.status_code == 200, done.text
    return client, secret, CODE_RE.findall(done.text)


def _events(app: Flask, *actions: str) -> list[tuple[str, int | None, dict]]:
    with app.app_context():
        rows = db.session.scalars(select(AuditEvent).where(AuditEvent.action.in_(actions)).order_by(AuditEvent.id))
        return [(e.action, e.user_id, e.data) for e in rows]


def test_new_organizations_require_it_of_admins_and_supervisors(ctx) -> None:
    org = Organization(name="New Co", slug="new-co", created_at=NOW)
    db.session.add(org)
    db.session.commit()
    assert org.mfa_required_roles == ["admin", "supervisor"] and org.mfa_remember_days == 30


def test_a_required_role_enrols_at_sign_in_with_a_qr_code_before_going_in(app: Flask) -> None:
    ids = _org(app)
    client = app.test_client()
    assert AuthActions(client).login("a@example.test").headers["Location"] == "/login/enrol"
    assert client.get("/queue").status_code == 302  # a right password alone opens nothing
    page = client.get("/login/enrol").text
    assert 'src="data:image/svg+xml' in page and "Set up two-step sign-in" in page
    secret = re.search(r'id="mfa-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    assert client.get("/login/enrol").text.count(secret[:4]) >= 1  # a reload shows the same key
    wrong = _post(client, "/login/enrol", "/login/enrol", code="000000" if _now_code(secret) != "000000" else "111111")
    assert "That code is not right" in wrong.text and client.get("/queue").status_code == 302
    done = _post(client, "/login/enrol", "/login/enrol", code=_now_code(secret))
    codes = CODE_RE.findall(done.text)
    assert len(set(codes)) == 10 and "shown only now" in done.text
    assert client.get("/queue").status_code == 200
    user = _user(app, ids["admin"])
    assert user.mfa_secret == secret and user.mfa_pending_secret is None
    assert _events(app, "mfa_failed", "mfa_enrol", "login") == [
        ("mfa_failed", ids["admin"], {"during": "enrolment"}),
        ("mfa_enrol", ids["admin"], {}),
        ("login", ids["admin"], {"mfa": "totp"}),
    ]
    with app.app_context():
        assert all(code not in repr(e.data) for e in db.session.scalars(select(AuditEvent)) for code in codes)


def test_an_enrolled_user_signs_in_with_a_code_good_once(app: Flask, clock_pin) -> None:
    ids = _org(app)
    first, secret, _ = _enrolled(app)
    AuthActions(first).logout()
    clock_pin.advance(seconds=30)
    client = app.test_client()
    assert AuthActions(client).login("a@example.test").headers["Location"] == "/login/code"
    assert client.get("/queue").status_code == 302
    code = _now_code(secret)
    assert _post(client, "/login/code", "/login/code", code=code).headers["Location"] == "/queue"
    assert client.get("/queue").status_code == 200
    replay = app.test_client()  # the same code again, within its 90 seconds: refused
    AuthActions(replay).login("a@example.test")
    refused = _post(replay, "/login/code", "/login/code", code=code)
    assert refused.status_code == 401 and "not right (or was already used)" in refused.text
    assert [(a, d) for a, _, d in _events(app, "mfa_use", "mfa_failed")] == [("mfa_use", {"method": "totp"}),
                                                                              ("mfa_failed", {})]  # fmt: skip
    assert _events(app, "login")[-1] == ("login", ids["admin"], {"mfa": "totp"})


def test_a_recovery_code_works_once(app: Flask) -> None:
    _org(app)
    _, _, codes = _enrolled(app)
    client = app.test_client()
    AuthActions(client).login("a@example.test")
    used = _post(client, "/login/code", "/login/code", code=codes[3].upper().replace("-", " "))
    assert used.headers["Location"] == "/queue"
    assert "Recovery code used: 9 left" in client.get("/queue").text
    again = app.test_client()
    AuthActions(again).login("a@example.test")
    assert _post(again, "/login/code", "/login/code", code=codes[3]).status_code == 401
    assert [d for _, _, d in _events(app, "mfa_use")] == [{"method": "recovery_code", "recovery_codes_left": 9}]


def test_wrong_codes_are_throttled_like_passwords(app: Flask) -> None:
    _org(app)
    _enrolled(app)
    client = app.test_client()
    AuthActions(client).login("a@example.test")
    answers = [_post(client, "/login/code", "/login/code", code=f"{n:06d}").status_code for n in range(1, 6)]
    assert 429 in answers and answers.count(401) <= 4  # the password counted too: five tries in all


def test_the_code_step_expires_and_needs_the_password_first(app: Flask, clock_pin) -> None:
    _org(app)
    _, secret, _ = _enrolled(app)
    client = app.test_client()
    assert client.get("/login/code").headers["Location"] == "/login"  # no password given in this browser
    AuthActions(client).login("a@example.test")
    clock_pin.advance(minutes=6)
    late = _post(client, "/login/code", "/login", code=_now_code(secret))
    assert late.headers["Location"] == "/login" and client.get("/queue").status_code == 302


def test_a_remembered_browser_is_not_asked_again_until_it_expires_or_is_forgotten(app: Flask, clock_pin) -> None:
    ids = _org(app)
    _, secret, _ = _enrolled(app)
    client = app.test_client()
    AuthActions(client).login("a@example.test")
    clock_pin.advance(seconds=30)
    _post(client, "/login/code", "/login/code", code=_now_code(secret), remember="y")
    assert client.get_cookie("bo_device", path="/login").http_only
    AuthActions(client).logout()
    assert AuthActions(client).login("a@example.test").headers["Location"] == "/queue"  # no code asked
    assert _events(app, "mfa_use")[-1] == ("mfa_use", ids["admin"], {"method": "remembered_device"})
    other = app.test_client()  # another browser is asked
    assert AuthActions(other).login("a@example.test").headers["Location"] == "/login/code"
    AuthActions(client).logout()
    clock_pin.advance(days=30)
    assert AuthActions(client).login("a@example.test").headers["Location"] == "/login/code"  # 30 days: expired


def test_an_admins_reset_clears_the_factor_its_devices_and_sessions(app: Flask, runner) -> None:  # noqa: ANN001
    ids = _org(app)
    _org_admin2(app, ids)
    victim, _, _ = _enrolled(app)
    with app.app_context():
        assert db.session.scalar(select(TrustedDevice.id)) is None
    helper, _, _ = _enrolled(app, "a2@example.test")
    page = helper.get("/admin/users").text
    assert "Reset two-step sign-in" in page
    assert _post(helper, f"/admin/users/{ids['admin']}/mfa-reset", "/admin/users").status_code == 302
    assert victim.get("/queue").status_code == 302
    assert _user(app, ids["admin"]).mfa_secret is None
    assert AuthActions(app.test_client()).login("a@example.test").headers["Location"] == "/login/enrol"
    (action, actor, data) = _events(app, "admin:mfa_reset")[0]
    assert (actor, data) == (_user_id(app, "a2@example.test"), {"was_enrolled": True, "sessions": 1})
    assert runner.invoke(cli, ["users", "reset-mfa", "--email", "a2@example.test"]).exit_code == 0
    assert _user(app, _user_id(app, "a2@example.test")).mfa_secret is None


def _org_admin2(app: Flask, ids: dict[str, int]) -> None:
    with app.app_context():
        f.make_user(db.session.get(Organization, ids["org"]), role="admin", email="a2@example.test")


def _user_id(app: Flask, email: str) -> int:
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.email == email))


def test_billers_choose_and_admins_can_require_it_for_them(app: Flask) -> None:
    ids = _org(app)
    biller = app.test_client()
    assert AuthActions(biller).login("b@example.test").headers["Location"] == "/queue"  # not required of billers
    assert "Set up two-step sign-in" in biller.get("/account").text
    page = biller.get("/account/mfa").text
    secret = re.search(r'id="mfa-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    done = _post(biller, "/account/mfa", "/account/mfa", code=_now_code(secret))
    assert len(CODE_RE.findall(done.text)) == 10
    assert "recovery code(s) left" in biller.get("/account").text
    admin, _, _ = _enrolled(app)
    saved = _post(admin, "/admin/security", "/admin/users", admin="y", supervisor="y", biller="y", remember_days=0)
    assert saved.status_code == 302
    with app.app_context():
        org = db.session.get(Organization, ids["org"])
        assert (org.mfa_required_roles, org.mfa_remember_days) == (["admin", "biller", "supervisor"], 0)
    assert _events(app, "admin:mfa_policy")[0][2] == {
        "from": {"roles": ["admin", "supervisor"], "remember_days": 30},
        "to": {"roles": ["admin", "biller", "supervisor"], "remember_days": 0},
    }
    again = app.test_client()
    assert AuthActions(again).login("b@example.test").headers["Location"] == "/login/code"
    assert "Don't ask again" not in again.get("/login/code").text  # 0 days: never remembered
