"""Setting up a client through the API alone (scopes admin:read / admin:write), every answer checked against the
served OpenAPI document; bad input is a 422 naming the field (and row), a duplicate a 409, and nothing is written."""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from backoffice.api.openapi import openapi_document
from backoffice.api.services import issue_token
from backoffice.cli import cli
from backoffice.extensions import db
from backoffice.onboarding.services import setup_organization
from backoffice.orgs.models import ContractedRate, Payer, Practice
from backoffice.orgs.rules import complete_npi
from tests.factories import NOW

DOC = openapi_document()
GROUP_NPI = complete_npi("212345678")
BAD_NPI = GROUP_NPI[:9] + str((int(GROUP_NPI[9]) + 1) % 10)
PRACTICE = {
    "name": "Calm Mind Therapy", "slug": "calm-mind", "npi": GROUP_NPI, "tin": "123456789", "taxonomy": "1041C0700X",
    "time_zone": "America/New_York", "address": {"line1": "1 Main St", "city": "Albany", "state": "NY", "zip": "12207"},
}  # fmt: skip
PAYERS = [
    {"payer_id": "60054", "name": "Aetna", "kind": "commercial", "filing_limit_days": 90, "appeal_window_days": 180},
    {"payer_id": "SKCO0", "name": "Medicare Part B", "kind": "medicare", "filing_limit_days": 365,
     "appeal_window_days": 120},
    {"payer_id": "SELF", "name": "Self-pay", "kind": "self_pay", "filing_limit_days": 365, "appeal_window_days": 365},
]  # fmt: skip
RATES = [
    {"payer_id": "60054", "cpt": "90834", "allowed": "98.50", "effective_from": "2026-01-01"},
    {"payer_id": "SKCO0", "cpt": "90837", "modifier": "95", "allowed": "140.25", "effective_from": "2026-01-01"},
]


def call(client: FlaskClient, method: str, path: str, token: str, **kw: Any) -> Any:
    """A request whose status and body must be the ones the OpenAPI document declares for it."""
    response = client.open(f"/api/v1{path}", method=method, headers={"Authorization": f"Bearer {token}"}, **kw)
    template = next(t for t in DOC["paths"] if re.fullmatch(re.sub(r"\{[^}]+\}", r"[^/]+", t), path))
    declared = DOC["paths"][template][method.lower()]["responses"]
    assert str(response.status_code) in declared, (path, response.status_code, response.get_json())
    schema = declared[str(response.status_code)]["content"]["application/json"].get("schema")
    if schema is not None:
        jsonschema.Draft202012Validator({**schema, "components": DOC["components"]}).validate(response.get_json())
    if method in ("POST", "PUT", "PATCH") and "json" in kw:  # the request body matches the document too
        body_schema = DOC["paths"][template][method.lower()]["requestBody"]["content"]["application/json"]["schema"]
        if response.status_code < 400:
            jsonschema.Draft202012Validator({**body_schema, "components": DOC["components"]}).validate(kw["json"])
    return response


@pytest.fixture
def admin_token(ctx: Flask) -> str:
    """An empty database with only what `backoffice setup` makes, and a token for its admin."""
    _, admin = setup_organization(
        slug="summit",
        name="Summit Billing",
        admin_email="owner@summit.example",
        admin_name="Olive Owner",
        admin_password="violet staple orbit canyon",
        now=NOW,
    )
    _, token = issue_token(user=admin, scopes=["admin:read", "admin:write"], now=NOW)
    return token


def _count(model: type) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_users_token_issues_the_admin_scopes(app: Flask) -> None:
    with app.app_context():
        setup_organization(slug="summit", name="Summit", admin_email="owner@summit.example", admin_name="Olive Owner",
                           admin_password="violet staple orbit canyon", now=NOW)  # fmt: skip
    result = app.test_cli_runner().invoke(cli, ["users", "token", "--email", "owner@summit.example", "--scope",
                                                "admin:read", "--scope", "admin:write"])  # fmt: skip
    assert result.exit_code == 0 and "admin:read admin:write" in result.output


def test_a_client_is_set_up_through_the_api_alone(client: FlaskClient, admin_token: str) -> None:
    created = call(client, "POST", "/practices", admin_token, json=PRACTICE)
    assert created.status_code == 201 and created.get_json()["npi"] == GROUP_NPI
    assert created.get_json()["owned_steps"] == ["verify_benefits", "obtain_preauth", "enter_charge", "audit", "submit",
                                                 "follow_up", "appeal"]  # fmt: skip
    patched = call(client, "PATCH", "/practices/calm-mind", admin_token, json={"taxonomy": "103T00000X"})
    assert patched.get_json()["practice"]["taxonomy"] == "103T00000X" and patched.get_json()["changed"] == ["taxonomy"]
    for payer in PAYERS:
        assert call(client, "POST", "/payers", admin_token, json=payer).status_code == 201
    listed = call(client, "GET", "/payers", admin_token).get_json()["payers"]
    assert [p["kind"] for p in listed] == ["commercial", "self_pay", "medicare"]
    assert {p["payer_id"]: p["enrollment_required_837"] for p in listed} == {"60054": True, "SELF": False,
                                                                           "SKCO0": True}  # fmt: skip
    fees = call(client, "PUT", "/practices/calm-mind/fee-schedule", admin_token,
                json={"fees": [{"cpt": "90834", "charge": "150.00"}, {"cpt": "90837", "charge": "200"}]})  # fmt: skip
    assert fees.status_code == 200 and fees.get_json()["changed"] == ["90834", "90837"]
    rates = call(client, "PUT", "/practices/calm-mind/contracted-rates", admin_token, json={"rates": RATES})
    assert rates.get_json()["added"] == 2
    again = call(client, "PUT", "/practices/calm-mind/contracted-rates", admin_token, json={"rates": RATES})
    assert again.get_json() | {"rates": None} == {"rates": None, "added": 0, "changed": 0, "removed": 0}
    biller = call(client, "POST", "/users", admin_token, json={
        "email": "priya@summit.example", "name": "Priya Biller", "role": "biller", "practices": ["calm-mind"],
        "queues": ["eligibility", "submission"], "password": "orange kettle ribbon spark"})  # fmt: skip
    assert biller.status_code == 201
    assert biller.get_json() | {"id": 0} == {
        "id": 0,
        "email": "priya@summit.example",
        "name": "Priya Biller",
        "role": "biller",
        "practices": ["calm-mind"],
        "queues": ["eligibility", "submission"],
        "skills": [],
        "active": True,
        "password_change_required": True,
    }
    invited = call(client, "POST", "/users", admin_token, json={"email": "sam@summit.example", "name": "Sam Super",
                                                                 "role": "supervisor"})  # fmt: skip
    assert "/set-password/" in invited.get_json()["set_password_url"]
    listed = call(client, "GET", "/practices", admin_token).get_json()["practices"]
    assert [p["slug"] for p in listed] == ["calm-mind"]


@pytest.mark.parametrize(
    ("path", "method", "body", "field"),
    [
        ("/practices", "POST", {**PRACTICE, "npi": BAD_NPI}, "npi"),
        ("/practices", "POST", {**PRACTICE, "address": {**PRACTICE["address"], "zip": "1220"}}, "address.zip"),
        ("/practices", "POST", {**PRACTICE, "colour": "blue"}, "colour"),
        ("/payers", "POST", {**PAYERS[0], "payer_id": "87726", "kind": "insurer"}, "kind"),
        ("/practices/calm-mind/contracted-rates", "PUT", {"rates": [*RATES, {**RATES[0], "cpt": "90837",
                                                                             "allowed": "-3"}]}, "allowed"),
        ("/practices/calm-mind/contracted-rates", "PUT", {"rates": [*RATES, {**RATES[0], "payer_id": "NOPE"}]},
         "payer_id"),
        ("/practices/calm-mind/contracted-rates", "PUT", {"rates": [*RATES, {**RATES[0],
                                                                             "effective_from": "2026-06-01"}]},
         "effective_from"),
        ("/practices/calm-mind/fee-schedule", "PUT", {"fees": [{"cpt": "90834", "charge": "-150"}]}, "charge"),
    ],
)  # fmt: skip
def test_bad_input_is_a_422_naming_the_field_and_writes_nothing(
    client: FlaskClient, admin_token: str, path: str, method: str, body: dict[str, Any], field: str
) -> None:
    call(client, "POST", "/practices", admin_token, json={**PRACTICE, "slug": "calm-mind"})
    call(client, "POST", "/payers", admin_token, json=PAYERS[0])
    call(client, "POST", "/payers", admin_token, json=PAYERS[1])
    before = (
        _count(Practice),
        _count(Payer),
        _count(ContractedRate),
        dict(db.session.scalar(select(Practice)).fee_schedule),
    )
    if method == "POST" and path == "/practices":
        body = {**body, "slug": "other"}
    refused = call(client, method, path, admin_token, json=body)
    assert refused.status_code == 422
    assert field in [e["field"] for e in refused.get_json()["errors"]] and field in refused.get_json()["error"]
    db.session.expire_all()
    after = (
        _count(Practice),
        _count(Payer),
        _count(ContractedRate),
        dict(db.session.scalar(select(Practice)).fee_schedule),
    )
    assert after == before


def test_a_duplicate_is_a_409_naming_the_field(client: FlaskClient, admin_token: str) -> None:
    call(client, "POST", "/practices", admin_token, json=PRACTICE)
    duplicate = call(client, "POST", "/practices", admin_token, json=PRACTICE)
    assert duplicate.status_code == 409 and duplicate.get_json()["error"].startswith("slug:")
    call(client, "POST", "/payers", admin_token, json=PAYERS[0])
    assert call(client, "POST", "/payers", admin_token, json=PAYERS[0]).get_json()["error"].startswith("payer_id:")
    user = {"email": "p@summit.example", "name": "P Q", "role": "biller"}
    call(client, "POST", "/users", admin_token, json=user)
    assert call(client, "POST", "/users", admin_token, json=user).status_code in (409, 422)
    assert _count(Practice) == 1


def test_admin_endpoints_need_the_admin_scopes(client: FlaskClient, ctx: Flask) -> None:
    _, admin = setup_organization(
        slug="summit",
        name="Summit",
        admin_email="owner@summit.example",
        admin_name="Olive Owner",
        admin_password="violet staple orbit canyon",
        now=NOW,
    )
    _, token = issue_token(user=admin, scopes=["admin:read"], now=NOW)
    assert call(client, "GET", "/practices", token).status_code == 200
    assert call(client, "POST", "/practices", token, json=PRACTICE).status_code == 403
