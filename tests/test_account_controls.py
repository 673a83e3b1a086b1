"""Account controls (issue 15, finding 10): equal work for unknown, deactivated and active accounts, a password
policy wherever a password is set, API tokens that expire, and no-store on everything that carries PHI."""

from __future__ import annotations

from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient

from backoffice.accounts.rules import password_problem
from backoffice.accounts.services import authenticate, create_user
from backoffice.api.services import issue_token
from backoffice.cli import cli
from backoffice.errors import ValidationFailed
from tests import factories as f
from tests.conftest import AuthActions
from tests.factories import NOW, PASSWORD
from tests.test_appeal_views import w  # noqa: F401  (the appeals world: a PDF and a CSV that show PHI)


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every Argon2 verification the app runs (the real one still runs: this only counts)."""
    seen: list[str] = []
    real = PasswordHasher.verify

    def counting(self: PasswordHasher, hash: str, password: str) -> bool:  # noqa: A002
        seen.append(hash[:9])
        return real(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting)
    return seen


def test_unknown_deactivated_and_active_accounts_cost_one_argon2_verification_each(ctx, verifications) -> None:
    org = f.make_org()
    f.make_user(org, email="on@example.test")
    f.make_user(org, email="off@example.test", active=False)
    cases = {"unknown": ("nobody@example.test", PASSWORD), "deactivated, right": ("off@example.test", PASSWORD),
             "deactivated, wrong": ("off@example.test", "nope"), "active, wrong": ("on@example.test", "nope"),
             "active, right": ("on@example.test", PASSWORD)}  # fmt: skip
    for what, (email, password) in cases.items():
        verifications.clear()
        user = authenticate(email=email, password=password, now=NOW, remote_addr=f"192.0.2.{len(what)}")
        assert (what, len(verifications)) == (what, 1)
        assert (user is not None) == (what == "active, right")
        assert verifications[0] == "$argon2id"  # the dummy hash is a real Argon2id hash with the same cost


@pytest.mark.parametrize(
    "password, why",
    [
        (" " * 10, "cannot be blank or only spaces"),
        (" " * 40, "cannot be blank or only spaces"),
        ("short pw", "at least 10 characters"),
        ("password123", "too easy to guess"),
        ("qwertyuiop", "too easy to guess"),
        ("1234567890", "too easy to guess"),
        ("aaaaaaaaaaaa", "too easy to guess"),
        ("Summer2026!", "too easy to guess"),
        ("dana.whitfield1", "too easy to guess"),  # the user's own name
    ],
)
def test_weak_passwords_are_refused_with_the_reason_and_never_quoted(password: str, why: str) -> None:
    problem = password_problem(password, user_inputs=("dana.whitfield@summit.example", "Dana Whitfield"))
    assert problem is not None and why in problem
    assert password.strip() not in problem or not password.strip()


@pytest.mark.parametrize("password", ["correct horse battery", "violet kettle harbour 42", "biller1-demo-2026"])
def test_passphrases_pass(password: str) -> None:
    assert password_problem(password, user_inputs=("biller@example.test", "Priya Natarajan")) is None


def test_creating_a_user_applies_the_policy(ctx) -> None:
    org = f.make_org()
    base = {"organization_id": org.id, "email": "n@example.test", "name": "N", "role": "biller", "now": NOW}
    with pytest.raises(ValidationFailed, match="only spaces"):
        create_user(password=" " * 10, **base)
    with pytest.raises(ValidationFailed, match="too easy to guess"):
        create_user(password="password1234", **base)
    assert create_user(password="violet kettle harbour 42", **base).email == "n@example.test"


def test_the_cli_applies_the_policy_when_creating_a_user_or_setting_a_password(app: Flask, runner) -> None:  # noqa: ANN001
    with app.app_context():
        f.make_user(f.make_org(), email="u@example.test")
    create = ["users", "create", "--email", "a@example.test", "--name", "A", "--role", "biller", "--password"]
    result = runner.invoke(cli, [*create, " " * 10])
    assert result.exit_code == 1 and "cannot be blank or only spaces" in result.output
    result = runner.invoke(cli, ["users", "set-password", "--email", "u@example.test", "--password", "letmein123"])
    assert result.exit_code == 1 and "too easy to guess" in result.output
    signed_in = app.test_client()
    assert AuthActions(signed_in).login("u@example.test").status_code == 302
    result = runner.invoke(
        cli, ["users", "set-password", "--email", "u@example.test", "--password", "amber lantern 77"]
    )
    assert result.exit_code == 0, result.output
    assert signed_in.get("/queue").status_code == 302  # a password set by an admin ends every session
    assert AuthActions(app.test_client()).login("u@example.test", "amber lantern 77").status_code == 302


def _token(app: Flask, **kw: Any) -> str:
    with app.app_context():
        user = f.make_user(f.make_org(), practices=[], email="api@example.test")
        return issue_token(user=user, scopes=["work:read"], now=NOW, **kw)[1]


def test_api_tokens_expire_after_90_days_with_a_clear_401(app: Flask, client: FlaskClient, clock_pin) -> None:
    token = _token(app)
    headers = {"Authorization": f"Bearer {token}"}
    clock_pin.advance(days=89, hours=23)
    assert client.get("/api/v1/work-items", headers=headers).status_code == 200
    clock_pin.advance(hours=1)
    response = client.get("/api/v1/work-items", headers=headers)
    assert response.status_code == 401
    assert response.get_json() == {"error": "this token expired on 2027-02-16 15:00 UTC; issue a new one"}


def test_a_token_lifetime_is_chosen_at_issue_and_shown_where_tokens_are_listed(app: Flask, runner) -> None:  # noqa: ANN001
    with app.app_context():
        f.make_user(f.make_org(), email="api@example.test")
    issued = runner.invoke(
        cli, ["users", "token", "--email", "api@example.test", "--scope", "work:read", "--days", "7"]
    )
    assert issued.exit_code == 0 and "expires 2026-11-25 15:00 UTC" in issued.stderr
    listed = runner.invoke(cli, ["users", "tokens", "--email", "api@example.test"])
    assert "live" in listed.output and "expires 2026-11-25 15:00 UTC" in listed.output
    too_long = runner.invoke(cli, ["users", "token", "--email", "api@example.test", "--scope", "work:read",
                                   "--days", "1000"])  # fmt: skip
    assert too_long.exit_code == 1 and "days: between 1 and 366" in too_long.output
    with pytest.raises(ValidationFailed), app.app_context():
        issue_token(user=f.make_user(f.make_org()), scopes=["work:read"], now=NOW, days=0)


def test_every_response_with_phi_is_no_store_and_static_files_stay_cacheable(
    app: Flask,
    client: FlaskClient,
    auth: AuthActions,
    w: dict,  # noqa: F811
) -> None:
    auth.login("super@example.test")
    responses = {
        "HTML page": client.get(f"/appeals/{w['appeal']}"),
        "PDF": client.get(f"/appeals/{w['appeal']}/letter.pdf"),
        "CSV report": client.get("/appeals/report.csv"),
        "redirect": client.get("/"),
        "login page": app.test_client().get("/login"),
        "JSON API": client.get("/api/v1/work-items"),
    }
    for what, response in responses.items():
        assert response.status_code < 500, what
        assert response.headers.get("Cache-Control") == "no-store", what
    assert responses["CSV report"].mimetype == "text/csv" and responses["PDF"].mimetype == "application/pdf"
    assert "no-store" not in client.get("/static/app.css").headers.get("Cache-Control", "")
