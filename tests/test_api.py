"""The REST API /api/v1: bearer tokens hashed at rest and scoped, JSON session import (all or nothing) with the
CSV rules, work items, claim status, and every answer checked against the served OpenAPI document."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import jsonschema
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text

from backoffice.api.models import ApiToken
from backoffice.api.openapi import openapi_document
from backoffice.api.rules import SCOPES, bearer_token, hash_token, parse_records
from backoffice.api.services import issue_token, revoke_token
from backoffice.claims.models import Claim
from backoffice.cli import cli
from backoffice.errors import ValidationFailed
from backoffice.extensions import db
from backoffice.sessions.models import Session
from backoffice.work.models import WorkItem
from backoffice.work.rules import ItemState
from tests import factories as f
from tests.factories import NOW
from tests.test_session_import import GOOD, TODAY

DOC = openapi_document()


def call(client: FlaskClient, method: str, path: str, token: str | None = None, **kw: Any) -> Any:
    """Make a request and check its status is one the OpenAPI document declares for that operation."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = client.open(f"/api/v1{path}", method=method, headers=headers, **kw)
    template = next(t for t in DOC["paths"] if re.fullmatch(re.sub(r"\{[^}]+\}", r"[0-9]+", t), path.split("?")[0]))
    declared = DOC["paths"][template][method.lower()]["responses"]
    assert str(response.status_code) in declared, (path, response.status_code, response.get_json())
    assert response.is_json
    schema = declared[str(response.status_code)]["content"]["application/json"].get("schema")
    if schema is not None:  # the body matches the declared schema ($refs resolve against the document)
        jsonschema.Draft202012Validator({**schema, "components": DOC["components"]}).validate(response.get_json())
    return response


@pytest.fixture
def world(ctx: Flask) -> dict[str, Any]:
    org = f.make_org()
    practice = f.make_practice(org, slug="calm-mind", owned_steps=["verify_benefits", "enter_charge", "audit"])
    other = f.make_practice(org, slug="elsewhere")
    f.make_provider(practice, npi="1234567893", credential="LCSW")
    f.make_payer(org, payer_id="AETNA")
    biller = f.make_user(org, practices=[practice])
    _, token = issue_token(user=biller, scopes=list(SCOPES), now=NOW, name="integration")
    return {"org": org, "practice": practice, "other": other, "biller": biller, "token": token}


def _count(model: type) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# --- rules -------------------------------------------------------------------------------------------------


def test_the_bearer_header_is_read_strictly() -> None:
    assert bearer_token("Bearer abc") == "abc" and bearer_token("bearer  abc ") == "abc"
    assert [bearer_token(h) for h in (None, "", "Basic abc", "Bearer", "Bearer a b")] == [None] * 5


def test_json_records_use_the_csv_rules_and_count_rows_from_1() -> None:
    rows, errors = parse_records([GOOD, {**GOOD, "session_ref": "CM-2", "minutes": 601, "extra": "x"}], today=TODAY)
    assert len(rows) == 1 and rows[0].minutes == 53 and rows[0].diagnoses == ("F33.1", "Z63.0")
    assert [str(e) for e in errors] == [
        "row 2, column extra: unknown column",
        "row 2, column minutes: expected a whole number from 1 to 600, got 601",
    ]
    _, errors = parse_records([{**GOOD, "minutes": 53.5, "patient_dob": ["1988"]}], today=TODAY)
    assert {(e.column, e.message) for e in errors} >= {("minutes", "expected a string"),
                                                        ("patient_dob", "expected a string")}  # fmt: skip
    assert str(parse_records([], today=TODAY)[1][0]) == "row 0, column sessions: expected a non-empty array of " \
        "session objects"  # fmt: skip


# --- tokens ------------------------------------------------------------------------------------------------


def test_the_database_never_holds_the_token(world: dict[str, Any]) -> None:
    token = world["token"]
    row = db.session.scalar(select(ApiToken))
    assert row.token_hash == hash_token(token) and len(row.token_hash) == 64 and row.prefix == token[:10]
    with db.engine.connect() as conn:
        dumped = " ".join(str(v) for r in conn.execute(text("SELECT * FROM api_tokens")) for v in r)
    assert token not in dumped and token[10:20] not in dumped


def test_unknown_scopes_are_refused(world: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailed, match="unknown scope.*claims:write"):
        issue_token(user=world["biller"], scopes=["claims:write"], now=NOW)
    with pytest.raises(ValidationFailed, match="at least one scope"):
        issue_token(user=world["biller"], scopes=[], now=NOW)


def test_the_command_prints_the_token_once_and_it_works(world: dict[str, Any], runner, client) -> None:
    email = world["biller"].email
    result = runner.invoke(cli, ["users", "token", "--email", email, "--scope", "work:read", "--name", "n8n"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("bo_") and call(client, "GET", "/work-items", token).status_code == 200
    assert call(client, "POST", "/work-items/next", token).status_code == 403  # work:write not granted
    bad = runner.invoke(cli, ["users", "token", "--email", email, "--scope", "everything"])
    assert bad.exit_code != 0 and "unknown scope" in bad.output


@pytest.mark.parametrize("header", [None, "Bearer bo_not-a-token", "Basic dXNlcjpwYXNz"])
def test_missing_or_unknown_tokens_get_401(world: dict[str, Any], client, header) -> None:
    headers = {"Authorization": header} if header else {}
    response = client.get("/api/v1/work-items", headers=headers)
    assert response.status_code == 401 and "bearer token" in response.get_json()["error"]


def test_a_revoked_token_or_an_inactive_user_gets_401(world: dict[str, Any], client) -> None:
    assert call(client, "GET", "/work-items", world["token"]).status_code == 200
    row = db.session.scalar(select(ApiToken))
    assert row.last_used_at is not None
    revoke_token(token=row, now=NOW)
    assert call(client, "GET", "/work-items", world["token"]).status_code == 401
    _, second = issue_token(user=world["biller"], scopes=["work:read"], now=NOW)
    world["biller"].active = False
    db.session.commit()
    assert call(client, "GET", "/work-items", second).status_code == 401


def test_a_signed_in_cookie_session_is_not_enough(world: dict[str, Any], client, auth) -> None:
    (item,) = f.make_ready_items(world["practice"], 1)
    auth.login(world["biller"].email)
    assert call(client, "GET", "/work-items").status_code == 401
    refused = call(client, "POST", "/work-items/next")  # a cookie-borne write meets CSRF before anything else
    assert refused.status_code == 400 and "CSRF" in refused.get_json()["error"]
    assert call(client, "POST", "/work-items/next", "bo_wrong").status_code == 401
    assert db.session.get(WorkItem, item.id, populate_existing=True).assignee_id is None


def test_each_endpoint_needs_its_scope(world: dict[str, Any], client) -> None:
    _, reader = issue_token(user=world["biller"], scopes=["work:read"], now=NOW)
    assert call(client, "POST", "/sessions", reader, json={"sessions": [GOOD]}).status_code == 403
    assert call(client, "POST", "/work-items/next", reader).status_code == 403
    assert call(client, "POST", "/work-items/1/complete", reader).status_code == 403
    assert call(client, "GET", "/claims/1", reader).status_code == 403
    assert _count(Session) == 0


# --- sessions ----------------------------------------------------------------------------------------------


def test_posting_sessions_imports_and_plans_them(world: dict[str, Any], client) -> None:
    body = {"sessions": [GOOD, {**GOOD, "session_ref": "CM-1002", "minutes": 38}]}
    response = call(client, "POST", "/sessions", world["token"], json=body)
    assert response.status_code == 201
    data = response.get_json()
    assert len(data["created"]) == 2 and data["unchanged"] == 0 and data["planned_items"] > 0
    assert _count(Session) == 2 and _count(WorkItem) == data["planned_items"]
    again = call(client, "POST", "/sessions", world["token"], json=body).get_json()
    assert again == {
        "created": [],
        "unchanged": 2,
        "planned_items": 0,
        "planning": {"mode": "none", "flow_run_id": None},
        "coverage_changes": [],
    }


def test_one_bad_session_writes_nothing_and_names_row_and_column(world: dict[str, Any], client) -> None:
    body = {"sessions": [GOOD, {**GOOD, "session_ref": "CM-2", "provider_npi": "1234567890"},
                         {**GOOD, "session_ref": "CM-3", "payer_id": "NOPE"}]}  # fmt: skip
    response = call(client, "POST", "/sessions", world["token"], json=body)
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert {(e["row"], e["column"]) for e in errors} == {(2, "provider_npi")}  # format errors come first
    body["sessions"].pop(1)  # every row well formed; the payer is unknown: the import service refuses it all
    refused = call(client, "POST", "/sessions", world["token"], json=body)
    assert refused.status_code == 422 and refused.get_json()["errors"] == [
        {"row": 2, "column": "payer_id", "message": "unknown payer 'NOPE'"}
    ]
    assert "Rivera" not in response.get_data(as_text=True) and "W123456789" not in response.get_data(as_text=True)
    assert _count(Session) == 0 and _count(WorkItem) == 0


def test_sessions_for_a_practice_the_user_does_not_serve_are_refused(world: dict[str, Any], client) -> None:
    response = call(client, "POST", "/sessions", world["token"], json={"sessions": [{**GOOD, "practice": "elsewhere"}]})
    assert response.status_code == 422
    assert response.get_json()["errors"] == [{"row": 1, "column": "practice",
                                              "message": "no practice 'elsewhere' that you serve"}]  # fmt: skip
    assert call(client, "POST", "/sessions", world["token"], data="[1]",
                content_type="application/json").status_code == 400  # fmt: skip


# --- work items and claims ---------------------------------------------------------------------------------


def test_list_claim_and_complete_work_items(world: dict[str, Any], client) -> None:
    items = f.make_ready_items(world["practice"], 2, kind="verify_benefits")
    f.make_ready_items(world["other"], 1)
    listed = call(client, "GET", "/work-items?kind=verify_benefits", world["token"]).get_json()
    assert sorted(i["id"] for i in listed["team"]) == sorted(i.id for i in items) and listed["mine"] == []
    assert call(client, "GET", "/work-items?kind=audit", world["token"]).get_json() == {"mine": [], "team": []}
    claimed = call(client, "POST", "/work-items/next", world["token"]).get_json()["item"]
    assert claimed["state"] == "in_progress" and claimed["assignee_id"] == world["biller"].id
    mine = call(client, "GET", "/work-items", world["token"]).get_json()["mine"]
    assert [i["id"] for i in mine] == [claimed["id"]]
    done = call(client, "POST", f"/work-items/{claimed['id']}/complete", world["token"],
                json={"outcome": "resolved", "note": "verified by API"})  # fmt: skip
    assert done.status_code == 200 and done.get_json()["item"]["state"] == "done"
    assert db.session.get(WorkItem, claimed["id"], populate_existing=True).state == ItemState.DONE
    again = call(client, "POST", f"/work-items/{claimed['id']}/complete", world["token"], json={})
    assert again.status_code == 409
    bad = call(client, "POST", f"/work-items/{items[1].id}/complete", world["token"], json={"outcome": "maybe"})
    assert bad.status_code == 422 and "outcome" in bad.get_json()["error"]


def test_claiming_with_nothing_left_answers_null(world: dict[str, Any], client) -> None:
    assert call(client, "POST", "/work-items/next", world["token"], json={"queue": "x"}).get_json() == {"item": None}


def test_another_practices_item_and_claim_are_404(world: dict[str, Any], client) -> None:
    (foreign,) = f.make_ready_items(world["other"], 1)
    assert call(client, "POST", f"/work-items/{foreign.id}/complete", world["token"], json={}).status_code == 404
    assert call(client, "POST", "/work-items/999999/complete", world["token"], json={}).status_code == 404
    claim = _claim(world["other"])
    assert call(client, "GET", f"/claims/{claim.id}", world["token"]).status_code == 404
    assert db.session.get(WorkItem, foreign.id, populate_existing=True).state == ItemState.READY


def _claim(practice: Any) -> Claim:
    payer = db.session.scalar(select(f.Payer).where(f.Payer.payer_id == "AETNA"))
    patient = f.make_patient(practice, payer)
    claim = Claim(practice_id=practice.id, patient_id=patient.id, payer_id=payer.id,
                  account_number=f"API-{practice.id}-{patient.id}", status="paid", status_category="F1",
                  total_charge=Decimal("150.00"), paid_amount=Decimal("112.50"),
                  patient_responsibility=Decimal("20.00"), adjustment_amount=Decimal("17.50"),
                  created_at=NOW)  # fmt: skip
    db.session.add(claim)
    db.session.commit()
    return claim


def test_a_claims_status_and_amounts(world: dict[str, Any], client) -> None:
    claim = _claim(world["practice"])
    data = call(client, "GET", f"/claims/{claim.id}", world["token"]).get_json()
    assert (data["status"], data["status_category"], data["total_charge"], data["paid_amount"]) == (
        "paid", "F1", "150.00", "112.50")  # fmt: skip
    assert data["patient_responsibility"] == "20.00" and data["adjustment_amount"] == "17.50"
    assert not {"patient_first", "patient_last", "member_id", "patient_dob"} & set(data)
    schema = DOC["components"]["schemas"]["Claim"]
    assert set(schema["required"]) <= set(data) and set(data) <= set(schema["properties"])


# --- the document ------------------------------------------------------------------------------------------


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [node["$ref"]] if "$ref" in node else [r for v in node.values() for r in _refs(v)]
    return [r for v in node for r in _refs(v)] if isinstance(node, list) else []


def test_the_served_document_covers_every_route_and_resolves(world: dict[str, Any], app: Flask, client) -> None:
    served = client.get("/api/v1/openapi.json")
    assert served.status_code == 200 and served.get_json() == DOC and DOC["openapi"] == "3.1.0"
    routes = {(re.sub(r"<(?:int:)?(\w+)>", r"{\1}", r.rule.removeprefix("/api/v1")), m.lower())
              for r in app.url_map.iter_rules() if r.rule.startswith("/api/v1/")
              for m in r.methods - {"HEAD", "OPTIONS"}}  # fmt: skip
    documented = {(p, m) for p, ops in DOC["paths"].items() for m in ops}
    assert routes == documented
    for ops in DOC["paths"].values():
        for op in ops.values():
            assert op["responses"] and all(re.fullmatch(r"[1-5][0-9]{2}", s) for s in op["responses"])
    for ref in _refs(DOC):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in DOC["components"]["schemas"]


def test_the_document_passes_openapi_spec_validator() -> None:
    import openapi_spec_validator  # a test dependency (pyproject: test extras)

    openapi_spec_validator.validate(DOC)
