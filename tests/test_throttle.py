"""Sign-in throttling (issue 15, finding 9): atomic under concurrency, per account and per client address, and a
wait rather than a lock, so that an attacker's guesses do not keep the real user out."""

from __future__ import annotations

import http.client
import threading
from urllib.parse import urlencode, urlsplit

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from backoffice import create_app
from backoffice.audit.models import AuditEvent
from backoffice.extensions import db
from tests import factories as f
from tests.browser import LiveServer
from tests.conftest import csrf_token, make_settings
from tests.factories import PASSWORD

ATTACKER, USER = "203.0.113.9", "198.51.100.7"


def _count(app: Flask, action: str) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).where(AuditEvent.action == action)) or 0


def _login(client: FlaskClient, email: str, password: str, address: str) -> int:
    page = client.get("/login", environ_base={"REMOTE_ADDR": address})
    data = {"email": email, "password": password, "csrf_token": csrf_token(page.text)}
    return client.post("/login", data=data, environ_base={"REMOTE_ADDR": address}).status_code


def test_sixty_parallel_wrong_passwords_are_checked_at_most_five_times(app: Flask) -> None:
    """Fired at once over HTTP against a threaded server, each request on its own database connection: the limit
    holds because every attempt is counted by a guarded UPDATE before its password is checked."""
    with app.app_context():
        f.make_user(f.make_org(), email="target@example.test")
    server = LiveServer(app).start()
    try:
        host = urlsplit(server.url)
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=60)
        conn.request("GET", "/login")
        first = conn.getresponse()
        cookie = first.getheader("Set-Cookie").split(";", 1)[0]
        token = csrf_token(first.read().decode())
        body = urlencode({"email": "target@example.test", "password": "wrong guess 1", "csrf_token": token})
        statuses: list[int] = []
        start = threading.Barrier(60)

        def attempt() -> None:
            c = http.client.HTTPConnection(host.hostname, host.port, timeout=120)
            start.wait()
            c.request(
                "POST",
                "/login",
                body=body,
                headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
            )
            statuses.append(c.getresponse().status)
            c.close()

        threads = [threading.Thread(target=attempt) for _ in range(60)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(180)
    finally:
        server.stop()
    assert len(statuses) == 60
    checked = _count(app, "login_failed")  # one row per password that reached Argon2
    assert statuses.count(401) == checked <= 5
    assert statuses.count(429) == 60 - checked
    assert checked == 5  # and the limit is not lower than configured either


def _app_with(database_url: str, redis_url: str, tmp_path, **limits: int) -> Flask:  # noqa: ANN001
    """The test app with other limits (smaller ones keep these tests to a few Argon2 verifications)."""
    return create_app(settings=make_settings(database_url, str(tmp_path), redis_url, **limits))


def test_one_password_tried_across_many_accounts_from_one_address_is_slowed(
    app: Flask,
    database_url: str,
    redis_url: str,
    tmp_path,  # noqa: ANN001
) -> None:
    assert app.config["BACKOFFICE_SETTINGS"].login_address_max_failures == 20  # the default
    sprayed = _app_with(database_url, redis_url, tmp_path, login_address_max_failures=6)
    with sprayed.app_context():
        org = f.make_org()
        for n in range(10):
            f.make_user(org, email=f"staff{n}@example.test")
    client = sprayed.test_client()
    answers = [_login(client, f"staff{n}@example.test", "Spring2026!", ATTACKER) for n in range(10)]
    assert answers == [401] * 6 + [429] * 4  # each account was tried once only
    assert _count(sprayed, "login_failed") == 6
    assert _login(client, "staff9@example.test", PASSWORD, USER) == 302  # other addresses are not slowed


def test_an_attackers_guesses_slow_the_attacker_not_the_user(app: Flask, clock_pin) -> None:
    with app.app_context():
        f.make_user(f.make_org(), email="real@example.test")
    attacker, user = app.test_client(), app.test_client()
    assert [_login(attacker, "real@example.test", f"guess {n}", ATTACKER) for n in range(5)] == [401] * 5
    assert _login(attacker, "real@example.test", "guess 5", ATTACKER) == 429
    assert _login(user, "real@example.test", PASSWORD, USER) == 302  # the real user is not locked out
    # The attacker gets one more guess after 30 s, the next after 60 s more, then 120 s...: no lock, just slower.
    for wait in (30, 60, 120):
        clock_pin.advance(seconds=wait - 1)
        assert _login(attacker, "real@example.test", "guess", ATTACKER) == 429
        clock_pin.advance(seconds=1)
        assert _login(attacker, "real@example.test", "guess", ATTACKER) == 401
    assert _count(app, "login_failed") == 8


def test_guesses_from_many_addresses_for_one_account_are_slowed_too(
    app: Flask,
    database_url: str,
    redis_url: str,
    tmp_path,  # noqa: ANN001
) -> None:
    assert app.config["BACKOFFICE_SETTINGS"].login_account_max_failures == 50  # the default
    spread = _app_with(database_url, redis_url, tmp_path, login_account_max_failures=7)
    with spread.app_context():
        f.make_user(f.make_org(), email="real@example.test")
    client = spread.test_client()
    answers = [_login(client, "real@example.test", "guess", f"192.0.2.{n}") for n in range(10)]
    assert answers == [401] * 7 + [429] * 3  # one guess per address, the account's own bucket still fills


def test_the_per_account_and_address_limit_is_a_setting(
    app: Flask, database_url: str, redis_url: str, tmp_path
) -> None:  # noqa: ANN001, E501
    strict = _app_with(database_url, redis_url, tmp_path, login_max_failures=2)
    with strict.app_context():
        f.make_user(f.make_org(), email="real@example.test")
    client = strict.test_client()
    assert [_login(client, "real@example.test", "guess", ATTACKER) for _ in range(3)] == [401, 401, 429]
