"""Sign-in: Argon2 hashes, throttling, safe redirects, session handling, and the access scope.

(Server-side sessions: tests/test_sessions.py; the throttle under concurrency: tests/test_throttle.py; password
policy, constant-time lookup, token expiry and no-store: tests/test_account_controls.py; MFA: tests/test_mfa.py.)"""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, text

from backoffice.accounts.access import PRACTICE_SCOPE_SQL, load_user_with_scope, practice_ids_for, practice_scope_params
from backoffice.accounts.models import User
from backoffice.accounts.rules import ThrottleLimits, is_safe_next, throttle_wait
from backoffice.accounts.services import authenticate, create_user
from backoffice.accounts.signins import start_session, token_digest
from backoffice.accounts.throttle import LoginThrottled
from backoffice.errors import ValidationFailed
from backoffice.extensions import db
from tests import factories as f
from tests.conftest import AuthActions, csrf_token
from tests.factories import NOW, PASSWORD

WINDOW = timedelta(minutes=15)


@pytest.mark.parametrize("target", ["/queue", "/items/3?tab=calls", "/"])
def test_local_paths_are_safe_next_targets(target: str) -> None:
    assert is_safe_next(target)


@pytest.mark.parametrize(
    "target",
    [
        "",
        None,
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "\\\\evil",
        "javascript:alert(1)",
        "queue",
        "/\x00x",
        "http:/x",
    ],
)
def test_remote_or_odd_next_targets_are_refused(target: str | None) -> None:
    assert not is_safe_next(target)


def test_past_the_limit_each_attempt_waits_longer_never_more_than_the_window() -> None:
    assert [throttle_wait(n, 5, WINDOW) for n in (1, 4)] == [None, None]
    waits = [throttle_wait(n, 5, WINDOW) for n in range(5, 12)]
    assert waits == [timedelta(seconds=s) for s in (30, 60, 120, 240, 480, 900, 900)]


def _create(org_id: int, **kw: object):  # noqa: ANN202
    values = {"email": "x@example.test", "name": "X", "role": "biller", "password": "a long enough password"}
    return create_user(organization_id=org_id, now=NOW, **{**values, **kw})


def test_create_user_hashes_with_argon2id_and_normalizes_email(ctx) -> None:
    org = f.make_org()
    user = _create(org.id, email=" Ann@Example.TEST ", name="Ann")
    assert user.email == "ann@example.test"
    assert user.password_hash.startswith("$argon2id$")
    assert "a long enough password" not in user.password_hash
    with pytest.raises(ValidationFailed, match="already exists"):
        _create(org.id, email="ANN@example.test")
    with pytest.raises(ValidationFailed, match="password: at least 10"):
        _create(org.id, email="b@example.test", password="short")
    with pytest.raises(ValidationFailed, match="password: too easy to guess"):
        _create(org.id, email="b@example.test", password="password123")
    with pytest.raises(ValidationFailed, match="role"):
        _create(org.id, email="c@example.test", role="owner")
    with pytest.raises(ValidationFailed, match="email"):
        _create(org.id, email="not-an-email")


def test_authenticate_slows_down_after_five_failures_and_a_sign_in_clears_them(ctx) -> None:
    org = f.make_org()
    user = f.make_user(org, email="t@example.test")
    kw = {"remote_addr": "127.0.0.1", "limits": ThrottleLimits(window=WINDOW)}
    assert authenticate(email="t@example.test", password=PASSWORD, now=NOW, **kw).id == user.id
    start_session(user=user, now=NOW, remote_addr="127.0.0.1", user_agent=None)
    for minute in range(5):
        assert authenticate(email="t@example.test", password="wrong", now=NOW + timedelta(minutes=minute), **kw) is None
    later = NOW + timedelta(minutes=4)
    with pytest.raises(LoginThrottled, match="Try again in 30 seconds"):  # even the right password waits
        authenticate(email="t@example.test", password=PASSWORD, now=later, **kw)
    with pytest.raises(LoginThrottled, match="Try again in 1 second[.]"):
        authenticate(email="t@example.test", password=PASSWORD, now=later + timedelta(seconds=29), **kw)
    signed_in = authenticate(email="T@example.test", password=PASSWORD, now=later + timedelta(seconds=30), **kw)
    assert signed_in.id == user.id  # a wait, not a lock
    start_session(user=signed_in, now=later, remote_addr="127.0.0.1", user_agent=None)
    # The sign-in cleared the account's failures: one more mistake does not slow it down.
    assert authenticate(email="t@example.test", password="wrong", now=later + timedelta(minutes=1), **kw) is None
    assert authenticate(email="t@example.test", password=PASSWORD, now=later + timedelta(minutes=1), **kw) is not None


def test_unknown_emails_are_throttled_too(ctx) -> None:
    kw = {"remote_addr": None, "limits": ThrottleLimits(account_address=2, window=WINDOW)}
    for _ in range(2):
        assert authenticate(email="nobody@example.test", password="x", now=NOW, **kw) is None
    with pytest.raises(LoginThrottled):
        authenticate(email="nobody@example.test", password="x", now=NOW, **kw)


def test_inactive_users_cannot_sign_in(ctx) -> None:
    f.make_user(f.make_org(), email="gone@example.test", active=False)
    assert authenticate(email="gone@example.test", password=PASSWORD, now=NOW, remote_addr=None) is None


def test_scope_billers_see_their_practices_supervisors_the_organization_only(ctx) -> None:
    org, other_org = f.make_org(), f.make_org()
    a, b = f.make_practice(org), f.make_practice(org)
    foreign = f.make_practice(other_org)
    assert practice_ids_for(f.make_user(org, practices=[a])) == {a.id}
    assert practice_ids_for(f.make_user(org, role="supervisor")) == {a.id, b.id}
    assert practice_ids_for(f.make_user(org, role="admin")) == {a.id, b.id}
    assert foreign.id not in practice_ids_for(f.make_user(other_org, role="admin")) - {foreign.id}
    assert practice_ids_for(f.make_user(org, practices=[a], active=False)) == set()


def test_the_signed_in_user_is_loaded_with_the_same_scope_in_one_query(app: Flask) -> None:
    """load_user_with_scope (every request's user loader) primes practice_ids_for with exactly what its own query
    would answer: a biller's practices of their own organization (a link to a foreign practice is ignored), the
    whole organization for supervisors and admins, nothing for a biller with no practice."""
    with app.app_context():
        org, other_org = f.make_org(), f.make_org()
        a, b = f.make_practice(org), f.make_practice(org)
        foreign = f.make_practice(other_org)
        users = {
            "biller": f.make_user(org, practices=[a]),
            "biller with a foreign link": f.make_user(org, practices=[b, foreign]),
            "biller with none": f.make_user(org),
            "supervisor": f.make_user(org, role="supervisor"),
            "admin": f.make_user(org, role="admin"),
        }
        expected = {"biller": {a.id}, "biller with a foreign link": {b.id}, "biller with none": set(),
                    "supervisor": {a.id, b.id}, "admin": {a.id, b.id}}  # fmt: skip
        ids = {name: user.id for name, user in users.items()}
        tokens = {name: start_session(user=user, now=NOW, remote_addr=None, user_agent=None)
                  for name, user in users.items()}  # fmt: skip
    for name, user_id in ids.items():
        with app.test_request_context("/queue"), app.app_context():
            statements: list[str] = []

            def count(*args: object, statements: list[str] = statements) -> None:
                statements.append(str(args[2]))

            event.listen(db.engine, "before_cursor_execute", count)
            try:
                user = load_user_with_scope(user_id, token_digest(tokens[name]))
                scope = practice_ids_for(user)
            finally:
                event.remove(db.engine, "before_cursor_execute", count)
            assert (name, scope) == (name, expected[name])
            assert len(statements) == 1, name  # practice_ids_for asked nothing more, nor did the session check
    with app.test_request_context("/queue"), app.app_context():
        assert load_user_with_scope(10**9, token_digest(tokens["admin"])) is None
        assert load_user_with_scope(ids["admin"], token_digest(tokens["biller"])) is None  # another user's session
        assert load_user_with_scope(ids["admin"], token_digest("not-a-session")) is None
        for name, user_id in ids.items():  # and the same rule as SQL, for Get next's one statement
            user = db.session.get(User, user_id)
            in_sql = set(db.session.scalars(text(PRACTICE_SCOPE_SQL), practice_scope_params(user)))
            assert (name, in_sql) == (name, expected[name])


def _user(app: Flask, **kw) -> None:
    with app.app_context():
        f.make_user(f.make_org(), email="u@example.test", **kw)


def test_login_page_signs_in_and_redirects_to_a_local_next(app: Flask, client: FlaskClient, auth: AuthActions) -> None:
    _user(app)
    response = auth.login("u@example.test", next_url="/items/7")
    assert response.status_code == 302 and response.headers["Location"] == "/items/7"


def test_login_ignores_a_remote_next(app: Flask, client: FlaskClient, auth: AuthActions) -> None:
    _user(app)
    response = auth.login("u@example.test", next_url="https://evil.example/phish")
    assert response.headers["Location"] == "/queue"


def test_wrong_password_is_401_and_the_sixth_try_is_429_until_the_wait_is_over(
    app: Flask, client: FlaskClient, auth: AuthActions, clock_pin
) -> None:
    _user(app)
    for _ in range(5):
        response = auth.login("u@example.test", password="wrong password")
        assert response.status_code == 401
        assert "Email or password is wrong." in response.get_data(as_text=True)
    response = auth.login("u@example.test")
    assert response.status_code == 429
    assert "Too many failed sign-ins. Try again in 30 seconds." in response.get_data(as_text=True)
    clock_pin.advance(seconds=30)
    assert auth.login("u@example.test").status_code == 302


def test_logout_is_a_post_and_ends_the_session(app: Flask, client: FlaskClient, auth: AuthActions) -> None:
    _user(app)
    auth.login("u@example.test")
    assert client.get("/logout").status_code == 405
    assert auth.logout().status_code == 302
    assert client.get("/queue").status_code == 302


def test_session_cookie_is_httponly_and_samesite(app: Flask, client: FlaskClient, auth: AuthActions) -> None:
    _user(app)
    cookie = auth.login("u@example.test").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_pages_carry_security_headers(client: FlaskClient) -> None:
    response = client.get("/login")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_login_form_has_a_csrf_token(client: FlaskClient) -> None:
    assert csrf_token(client.get("/login").get_data(as_text=True))
