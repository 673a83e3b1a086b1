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


def _snapshot() -> dict[str, list[tuple]]:
    """Every row of every table, in primary-key order."""
    from sqlalchemy import select

    from backoffice.extensions import db

    return {
        table.name: [tuple(row) for row in db.session.execute(select(table).order_by(*table.primary_key.columns))]
        for table in db.metadata.sorted_tables
    }


def test_every_post_route_with_real_objects_and_no_token_is_400_and_changes_nothing(app: Flask) -> None:
    """Enumerated from the URL map, with URL arguments naming real objects the admin may act on."""
    from tests.test_authorization_matrix import EXPECT, build_url, build_world, signed_in_clients, url_args

    assert app.config.get("WTF_CSRF_ENABLED", True)  # as in production
    world = build_world(app)
    admin = signed_in_clients(app, world)["admin"]
    with app.app_context():
        before = _snapshot()
    refused = []
    for rule in app.url_map.iter_rules():
        if "POST" not in (rule.methods or set()):
            continue
        url = build_url(app, rule.endpoint, url_args(EXPECT[rule.endpoint], world, "own"))
        data = {"body": "x", "outcome": "resolved", "reason": "x", "decision": "approve", "amount": "1.00"}
        response = admin.post(url, data=data)  # a cookie session, as a forged cross-site form would have
        assert response.status_code == 400, f"POST {url}: {response.status_code}"
        assert "CSRF" in response.text, url
        refused.append(rule.endpoint)
    assert {"work.complete", "accounts.logout", "api.post_sessions", "balances.create_plan"} <= set(refused)
    with app.app_context():
        assert _snapshot() == before
    assert admin.get("/queue").status_code == 200  # logout without a token did not sign the admin out
