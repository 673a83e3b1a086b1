"""Security headers on every kind of response (pages, redirects, error pages, files, JSON), cookie flags, and
error pages and logs that never echo an exception's message."""

from __future__ import annotations

import logging
from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert

from backoffice import create_app
from backoffice.extensions import db
from backoffice.patients.models import Patient
from tests import factories as f
from tests.conftest import AuthActions, csrf_token, make_settings

PHI = ("Jane", "Doe-Smithers", "1980-02-29", "02/29/1980", "MBR77123")


def _assert_headers(response, what: str) -> None:  # noqa: ANN001
    csp = response.headers.get("Content-Security-Policy", "")
    directives = dict((part.strip().split(" ", 1) + [""])[:2] for part in csp.split(";") if part.strip())
    assert directives.get("script-src") == "'self'", (what, csp)
    assert directives.get("style-src") == "'self'", (what, csp)
    assert directives.get("frame-ancestors") == "'none'", (what, csp)
    assert directives.get("default-src") == "'self'", (what, csp)
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, (what, csp)
    assert response.headers.get("X-Content-Type-Options") == "nosniff", what
    assert response.headers.get("Referrer-Policy") in ("same-origin", "no-referrer", "strict-origin"), what
    assert response.headers.get("X-Frame-Options") == "DENY", what


@pytest.fixture
def boom(app: Flask) -> Flask:
    """A route that fails with PHI in the exception's message, as a careless `raise ValueError(f"...")` would."""

    def explode() -> str:
        raise ValueError(f"patient {PHI[0]} {PHI[1]} born {PHI[2]} ({PHI[3]}) member {PHI[4]}")

    def explode_in_the_database() -> str:  # PostgreSQL's DETAIL repeats the failing row's values
        values = {"account_number": "X", "first_name": PHI[0], "last_name": PHI[1], "sex": "F"}
        db.session.execute(insert(Patient).values(practice_id=None, date_of_birth=date(1980, 2, 29), **values))
        return "unreachable"

    app.add_url_rule("/boom", "boom", explode)
    app.add_url_rule("/boom-db", "boom_db", explode_in_the_database)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: the error handler answers
    return app


def test_every_kind_of_response_carries_the_headers(boom: Flask, client: FlaskClient, auth: AuthActions) -> None:
    with boom.app_context():
        org = f.make_org()
        f.make_user(org, practices=[f.make_practice(org)], email="b@example.test")
    responses = {
        "login page": client.get("/login"),
        "CSRF refusal (400)": client.post("/login", data={"email": "b@example.test"}),
        "redirect to login": client.get("/queue"),
        "static file": client.get("/static/app.css"),
        "API 401 (JSON)": client.get("/api/v1/work-items"),
        "health check": client.get("/healthz"),
    }
    for _ in range(5):
        auth.login("b@example.test", password="wrong password")
    responses["locked out (429)"] = auth.login("b@example.test")
    with boom.app_context():
        f.make_user(org, role="biller", email="c@example.test")
    auth.login("c@example.test")
    responses |= {
        "queue page": client.get("/queue"),
        "forbidden (403)": client.get("/supervisor"),
        "not found (404)": client.get("/items/999999"),
        "method not allowed (405)": client.get("/logout"),
        "server error (500)": client.get("/boom"),
    }
    expected = {"CSRF refusal (400)": 400, "locked out (429)": 429, "forbidden (403)": 403, "not found (404)": 404,
                "method not allowed (405)": 405, "server error (500)": 500, "redirect to login": 302,
                "API 401 (JSON)": 401}  # fmt: skip
    for what, response in responses.items():
        assert response.status_code == expected.get(what, 200), what
        _assert_headers(response, what)


def test_a_server_error_page_and_log_never_echo_the_exception_message(
    boom: Flask, client: FlaskClient, auth: AuthActions, caplog: pytest.LogCaptureFixture
) -> None:
    with boom.app_context():
        f.make_user(f.make_org(), email="b@example.test")
    auth.login("b@example.test")
    with caplog.at_level(logging.DEBUG):
        responses = [client.get("/boom"), client.get("/boom-db")]
    logged = "\n".join(record.getMessage() for record in caplog.records) + caplog.text
    assert "ValueError" in logged and "IntegrityError" in logged  # the log still says what failed and where
    for response in responses:
        assert response.status_code == 500 and "Something went wrong" in response.text
        for value in PHI:
            assert value not in response.text and value not in logged


def test_session_cookie_is_secure_in_production_and_always_httponly_and_samesite_lax(
    app: Flask, database_url: str, redis_url: str, tmp_path
) -> None:  # noqa: ANN001
    production = create_app(settings=make_settings(database_url, str(tmp_path), redis_url, env="production"))
    cookie = production.test_client().get("/login").headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert production.config["REMEMBER_COOKIE_HTTPONLY"] is True
    test_cookie = app.test_client().get("/login").headers["Set-Cookie"]
    assert "HttpOnly" in test_cookie and "SameSite=Lax" in test_cookie  # Secure only where there is HTTPS


def test_the_login_form_is_the_only_thing_a_token_unlocks(client: FlaskClient) -> None:
    """A CSRF token from the login page is bound to the session: another session's token is refused."""
    token = csrf_token(client.get("/login").text)
    other = client.application.test_client()
    other.get("/login")
    response = other.post("/login", data={"email": "x@example.test", "password": "y", "csrf_token": token})
    assert response.status_code == 400
