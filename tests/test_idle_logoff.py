"""Automatic logoff: a browser session idle for session_idle_minutes (default 30) is signed out; activity resets it."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from backoffice import create_app
from backoffice.audit.models import AuditEvent
from backoffice.extensions import db
from tests import factories as f
from tests.conftest import AuthActions, PinnedClock, make_settings


class MovedClock:
    """The pinned ``backoffice.clock`` (conftest's ``clock_pin``), moved forward in minutes."""

    def __init__(self, pinned: PinnedClock) -> None:
        self._pinned = pinned

    @property
    def now(self) -> datetime:
        return self._pinned.now

    def advance(self, minutes: float) -> None:
        self._pinned.advance(minutes=minutes)


@pytest.fixture
def moved(clock_pin: PinnedClock) -> MovedClock:
    return MovedClock(clock_pin)


def _signed_in(app: Flask, auth: AuthActions) -> int:
    with app.app_context():
        org = f.make_org()
        user_id = f.make_user(org, practices=[f.make_practice(org)], email="u@example.test").id
    assert auth.login("u@example.test").status_code == 302
    return user_id


def _idle_events(app: Flask) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "idle_logoff")))


def test_after_30_idle_minutes_the_next_request_is_signed_out_to_login_with_a_message(
    app: Flask, client: FlaskClient, auth: AuthActions, moved: MovedClock
) -> None:
    user_id = _signed_in(app, auth)
    moved.advance(29.9)
    assert client.get("/queue").status_code == 200  # still within the window
    moved.advance(30.1)
    response = client.get("/queue?queue=benefits")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/queue?queue%3Dbenefits"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "You were signed out after 30 minutes without activity." in page
    assert client.get("/queue").status_code == 302  # the session is gone, not just this request
    (event,) = _idle_events(app)
    assert event.user_id == user_id and event.data == {"idle_minutes": 30}


def test_activity_restarts_the_timer(app: Flask, client: FlaskClient, auth: AuthActions, moved: MovedClock) -> None:
    _signed_in(app, auth)
    for _ in range(4):  # two hours of a request every 25 minutes
        moved.advance(25)
        assert client.get("/queue").status_code == 200
    assert _idle_events(app) == []


def test_an_idle_post_changes_nothing_and_goes_to_login(
    app: Flask, client: FlaskClient, auth: AuthActions, moved: MovedClock
) -> None:
    _signed_in(app, auth)
    token = client.get("/queue").get_data(as_text=True).split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    moved.advance(31)
    response = client.post("/items/next", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert len(_idle_events(app)) == 1


def test_the_idle_limit_is_a_setting(
    app: Flask, database_url: str, redis_url: str, tmp_path, moved: MovedClock
) -> None:  # noqa: ANN001
    short = create_app(settings=make_settings(database_url, str(tmp_path), redis_url, session_idle_minutes=5))
    client = short.test_client()
    _signed_in(short, AuthActions(client))
    moved.advance(4)
    assert client.get("/queue").status_code == 200
    moved.advance(6)
    assert client.get("/queue").status_code == 302
    assert short.permanent_session_lifetime == timedelta(minutes=5)  # the cookie expires with the same idle time


def test_the_api_is_not_subject_to_the_browser_timer(
    app: Flask, client: FlaskClient, auth: AuthActions, moved: MovedClock
) -> None:
    _signed_in(app, auth)
    moved.advance(45)
    assert client.get("/api/v1/work-items").status_code == 401  # bearer tokens only, cookie or not
    assert _idle_events(app) == []


def test_the_session_cookie_is_rewritten_once_a_minute_not_on_every_request(
    app: Flask, client: FlaskClient, auth: AuthActions, moved: MovedClock
) -> None:
    """Re-signing the cookie on each page is work for nothing: the timer is kept to the minute (it may end a
    session up to a minute early, never late)."""
    _signed_in(app, auth)
    client.get("/queue")
    moved.advance(0.5)
    assert "Set-Cookie" not in client.get("/queue").headers
    moved.advance(0.6)
    assert "session=" in client.get("/queue").headers.get("Set-Cookie", "")
    moved.advance(29.5)  # 29.5 minutes after the last refresh, 30.6 after sign-in: still signed in
    assert client.get("/queue").status_code == 200
