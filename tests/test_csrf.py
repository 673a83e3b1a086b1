"""Every state-changing route refuses a POST without a CSRF token (the routes are enumerated, not listed)."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from tests import factories as f
from tests.conftest import AuthActions


def _post_rules(app: Flask) -> list[str]:
    paths = []
    for rule in app.url_map.iter_rules():
        if "POST" in (rule.methods or set()):
            paths.append(re.sub(r"<(?:int:)?[a-z_]+>", "1", rule.rule))
    return sorted(paths)


def test_every_post_route_without_a_csrf_token_is_refused(app: Flask, client: FlaskClient, auth: AuthActions) -> None:
    with app.app_context():
        org = f.make_org()
        practice = f.make_practice(org)
        f.make_user(org, role="supervisor", email="s@example.test")
        f.make_ready_items(practice, 1)
    auth.login("s@example.test")
    paths = _post_rules(app)
    assert {"/login", "/logout", "/items/next", "/items/1/complete", "/items/1/calls"} <= set(paths)
    for path in paths:
        response = client.post(path, data={"body": "x", "outcome": "resolved", "reason": "x"})
        assert response.status_code == 400, path
        assert b"CSRF" in response.data, path


def test_login_without_a_token_is_refused_even_with_the_right_password(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        f.make_user(f.make_org(), email="u@example.test")
    response = client.post("/login", data={"email": "u@example.test", "password": f.PASSWORD})
    assert response.status_code == 400
    assert client.get("/queue").status_code == 302  # still signed out
