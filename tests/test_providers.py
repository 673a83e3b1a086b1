"""Providers and enrolments set up by an admin: the NPI check digit, supervision rules, the audit trail, the CSV
import/export (all or nothing, row and column named, its own export changes nothing) and the API."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import jsonschema
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from backoffice.api.openapi import openapi_document
from backoffice.api.services import issue_token
from backoffice.audit.models import AuditEvent
from backoffice.clock import utcnow
from backoffice.credentialing.records import RecordRefused
from backoffice.credentialing.rules import ProviderFacts, ProviderInput, individual_npi_problem, supervisor_problem
from backoffice.credentialing.services import (
    create_provider,
    export_providers,
    import_providers,
    provider_input,
    update_provider,
)
from backoffice.errors import Conflict, ValidationFailed
from backoffice.extensions import db
from backoffice.orgs.models import Provider
from backoffice.orgs.rules import complete_npi
from tests import factories as f

DOC = openapi_document()
TODAY = date(2026, 11, 18)
SUPERVISOR_NPI = complete_npi("100000001")
ASSOCIATE_NPI = complete_npi("100000002")


# --- pure rules ---------------------------------------------------------------------------------------


def test_an_individual_npi_needs_its_check_digit_and_type_1() -> None:
    assert individual_npi_problem("1234567893") is None
    assert "check digit is wrong (expected 3)" in (individual_npi_problem("1234567890") or "")
    assert "type 1" in (individual_npi_problem(complete_npi("234567890")) or "")
    assert "10 digits" in (individual_npi_problem("12345") or "")


def _facts(id_: int, **kw: Any) -> ProviderFacts:
    values: dict[str, Any] = {"id": id_, "practice_id": 1, "credential": "LCSW", "active": True,
                              "license_number": "L-1", "license_expires_on": TODAY + timedelta(days=100)}  # fmt: skip
    values.update(kw)
    return ProviderFacts(**values)


def test_a_supervisor_is_an_active_licensed_provider_of_the_same_practice_and_not_the_associate() -> None:
    associate = _facts(2, license_number=None, license_expires_on=None)
    assert supervisor_problem(associate, _facts(1), TODAY) is None
    assert "itself" in (supervisor_problem(associate, _facts(2), TODAY) or "")
    assert "same practice" in (supervisor_problem(associate, _facts(1, practice_id=9), TODAY) or "")
    assert "not active" in (supervisor_problem(associate, _facts(1, active=False), TODAY) or "")
    assert "no licence" in (supervisor_problem(associate, _facts(1, license_number=None), TODAY) or "")
    expired = _facts(1, license_expires_on=TODAY - timedelta(days=1))
    assert "expired" in (supervisor_problem(associate, expired, TODAY) or "")
    assert "no such provider" in (supervisor_problem(associate, None, TODAY) or "")


# --- services -----------------------------------------------------------------------------------------


def _input(npi: str = SUPERVISOR_NPI, **kw: Any) -> ProviderInput:
    values: dict[str, Any] = {"first_name": "Dana", "last_name": "Lee", "npi": npi, "credential": "LCSW",
                              "taxonomy": "1041C0700X", "license_type": "LCSW", "license_number": "LCSW-77",
                              "license_state": "NY", "license_expires_on": TODAY + timedelta(days=400)}  # fmt: skip
    values.update(kw)
    return ProviderInput(**values)


@pytest.fixture
def setup(ctx: Flask) -> dict[str, Any]:
    org = f.make_org()
    practice = f.make_practice(org, slug="calm-mind")
    admin = f.make_user(org, role="admin")
    return {"org": org, "practice": practice, "admin": admin}


def test_an_admin_adds_a_licensed_provider_and_an_associate_under_them_audited(setup: dict[str, Any]) -> None:
    practice, admin, now = setup["practice"], setup["admin"], utcnow()
    supervisor = create_provider(practice=practice, data=_input(SUPERVISOR_NPI), actor=admin, now=now)
    associate = create_provider(practice=practice, actor=admin, now=now, data=_input(
        ASSOCIATE_NPI, license_type=None, license_number=None, license_state=None, license_expires_on=None,
        supervising_npi=SUPERVISOR_NPI))  # fmt: skip
    assert associate.supervising_provider_id == supervisor.id
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.target_type == "provider")).all()
    assert [(e.action, e.user_id) for e in events] == [("provider_create", admin.id)] * 2
    assert events[1].data["after"]["npi"] == ASSOCIATE_NPI and events[1].data["before"] is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"npi": "1234567890"}, "npi: NPI check digit is wrong"),
        ({"credential": "LMSW"}, "credential:"),
        ({"taxonomy": "12"}, "taxonomy:"),
        ({"license_state": "New York"}, "license_state:"),
        ({"supervising_npi": "1234567893"}, "supervising_npi: no such provider"),
        ({"active_from": TODAY, "active_to": TODAY - timedelta(days=1)}, "active_to:"),
    ],
)
def test_bad_provider_input_is_refused_naming_the_field_and_writes_nothing(
    setup: dict[str, Any], changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationFailed, match=re.escape(field)):
        data = _input(**{"npi": SUPERVISOR_NPI, **changes})
        create_provider(practice=setup["practice"], data=data, actor=setup["admin"], now=utcnow())
    assert db.session.scalar(select(func.count()).select_from(Provider)) == 0


def test_a_supervisor_must_be_licensed_active_and_not_the_provider_itself(setup: dict[str, Any]) -> None:
    practice, admin, now = setup["practice"], setup["admin"], utcnow()
    bare = _input(SUPERVISOR_NPI, license_type=None, license_number=None, license_state=None, license_expires_on=None)
    unlicensed = create_provider(practice=practice, actor=admin, now=now, data=bare)
    with pytest.raises(ValidationFailed, match="supervising_npi: the supervisor has no licence on file"):
        create_provider(practice=practice, data=_input(ASSOCIATE_NPI, supervising_npi=SUPERVISOR_NPI), actor=admin,
                        now=now)  # fmt: skip
    with pytest.raises(ValidationFailed, match="supervising_npi: a provider cannot supervise itself"):
        update_provider(provider=unlicensed, data=provider_input(unlicensed, supervising_npi=SUPERVISOR_NPI),
                        actor=admin, now=now)  # fmt: skip
    with pytest.raises(Conflict, match="npi: a provider with NPI"):
        create_provider(practice=practice, data=_input(SUPERVISOR_NPI), actor=admin, now=now)


def test_deactivating_keeps_the_provider_and_is_audited(setup: dict[str, Any]) -> None:
    practice, admin, now = setup["practice"], setup["admin"], utcnow()
    provider = create_provider(practice=practice, data=_input(SUPERVISOR_NPI), actor=admin, now=now)
    update_provider(provider=provider, data=provider_input(provider, active=False), actor=admin, now=now)
    assert db.session.get(Provider, provider.id).active is False
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.target_id == str(provider.id))).all()
    assert actions == ["provider_create", "provider_deactivate"]


# --- CSV ----------------------------------------------------------------------------------------------

HEADER = ("first_name,last_name,npi,credential,taxonomy,license_type,license_number,license_state,"
          "license_expires_on,active_from,active_to,supervising_npi,active")  # fmt: skip


def test_the_csv_import_round_trips_its_own_export_without_changes(setup: dict[str, Any]) -> None:
    practice, admin, now = setup["practice"], setup["admin"], utcnow()
    text = (f"{HEADER}\n"
            f"Ann,Associate,{ASSOCIATE_NPI},LMHC,101YM0800X,,,,,2026-01-01,,{SUPERVISOR_NPI},yes\n"
            f"Sam,Senior,{SUPERVISOR_NPI},PsyD,103T00000X,PSY,PSY-1,NY,2027-06-30,,,,yes\n")  # fmt: skip
    assert import_providers(practice=practice, text=text, actor=admin, now=now) == {
        "created": 2, "updated": 0, "unchanged": 0}  # fmt: skip
    exported = export_providers(practice)
    audits = db.session.scalar(select(func.count()).select_from(AuditEvent))
    assert import_providers(practice=practice, text=exported, actor=admin, now=now) == {
        "created": 0, "updated": 0, "unchanged": 2}  # fmt: skip
    assert export_providers(practice) == exported
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == audits + 1  # only the import itself


def test_a_csv_with_bad_rows_names_each_row_and_column_and_imports_nothing(setup: dict[str, Any]) -> None:
    text = (f"{HEADER}\n"
            f"Sam,Senior,{SUPERVISOR_NPI},PsyD,103T00000X,PSY,PSY-1,NY,2027-06-30,,,,yes\n"
            f"Bad,Digit,1234567890,LCSW,1041C0700X,,,,,,,,yes\n"
            f"No,Date,{ASSOCIATE_NPI},LCSW,1041C0700X,,,,2027-13-01,,,,maybe\n")  # fmt: skip
    with pytest.raises(RecordRefused) as refused:
        import_providers(practice=setup["practice"], text=text, actor=setup["admin"], now=utcnow())
    found = {(e.row, e.column) for e in refused.value.errors}
    assert found == {(2, "npi"), (3, "license_expires_on"), (3, "active")}
    assert db.session.scalar(select(func.count()).select_from(Provider)) == 0


# --- API ----------------------------------------------------------------------------------------------


def call(client: FlaskClient, method: str, path: str, token: str, **kw: Any) -> Any:
    """A request whose status and body match what the OpenAPI document declares."""
    response = client.open(f"/api/v1{path}", method=method, headers={"Authorization": f"Bearer {token}"}, **kw)
    template = next(t for t in DOC["paths"] if re.fullmatch(re.sub(r"\{[^}]+\}", r"[^/]+", t), path))
    declared = DOC["paths"][template][method.lower()]["responses"]
    assert str(response.status_code) in declared, (path, response.status_code, response.get_json())
    schema = declared[str(response.status_code)]["content"]["application/json"].get("schema")
    if schema is not None:
        jsonschema.Draft202012Validator({**schema, "components": DOC["components"]}).validate(response.get_json())
    return response


def test_the_api_creates_providers_and_enrolments_and_refuses_bad_input(setup: dict[str, Any], client) -> None:  # noqa: ANN001
    _, token = issue_token(user=setup["admin"], scopes=["admin:read", "admin:write"], now=utcnow())
    f.make_payer(setup["org"], payer_id="AETNA", enrollment_required_837=True)
    body = {
        "first_name": "Sam", "last_name": "Senior", "npi": SUPERVISOR_NPI, "credential": "PsyD",
        "taxonomy": "103T00000X", "license_type": "PSY", "license_number": "PSY-1", "license_state": "NY",
    }  # fmt: skip
    created = call(client, "POST", "/practices/calm-mind/providers", token, json=body)
    assert created.status_code == 201 and created.get_json()["npi"] == SUPERVISOR_NPI
    assert call(client, "POST", "/practices/calm-mind/providers", token, json=body).status_code == 409
    bad = call(client, "POST", "/practices/calm-mind/providers", token, json={**body, "npi": "1234567890"})
    assert bad.status_code == 422 and bad.get_json()["error"].startswith("npi: NPI check digit is wrong")
    associate = {**body, "npi": ASSOCIATE_NPI, "license_type": None, "license_number": None, "license_state": None,
                 "credential": "LMHC", "supervising_npi": SUPERVISOR_NPI}  # fmt: skip
    assert call(client, "POST", "/practices/calm-mind/providers", token, json=associate).status_code == 201
    listed = call(client, "GET", "/practices/calm-mind/providers", token).get_json()["providers"]
    assert {p["npi"]: p["supervising_npi"] for p in listed} == {SUPERVISOR_NPI: "", ASSOCIATE_NPI: SUPERVISOR_NPI}

    enrol = {"provider_npi": ASSOCIATE_NPI, "payer_id": "AETNA", "status": "pending"}
    assert call(client, "POST", "/practices/calm-mind/enrollments", token, json=enrol).status_code == 201
    refused = call(client, "POST", "/practices/calm-mind/enrollments", token, json={**enrol, "status": "effective"})
    assert refused.status_code == 422 and refused.get_json()["error"].startswith("effective_from:")
    unknown = call(client, "POST", "/practices/calm-mind/enrollments", token, json={**enrol, "payer_id": "NOPE"})
    assert unknown.status_code == 422 and unknown.get_json()["error"] == "payer_id: unknown payer"
    done = call(client, "POST", "/practices/calm-mind/enrollments", token,
                json={**enrol, "status": "effective", "effective_from": "2026-10-01"})  # fmt: skip
    assert done.status_code == 200 and done.get_json()["status"] == "effective"
    (row,) = call(client, "GET", "/practices/calm-mind/enrollments", token).get_json()["enrollments"]
    assert (row["status"], row["effective_from"]) == ("effective", "2026-10-01")
    assert call(client, "GET", "/practices/elsewhere/providers", token).status_code == 404


def test_a_biller_token_cannot_change_the_setup(setup: dict[str, Any], client) -> None:  # noqa: ANN001
    biller = f.make_user(setup["org"], practices=[setup["practice"]])
    _, token = issue_token(user=biller, scopes=["admin:read", "admin:write"], now=utcnow())
    assert call(client, "GET", "/practices/calm-mind/providers", token).status_code == 403
