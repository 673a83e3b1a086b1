"""The credentialing pages: admins add and edit providers and enrolments through the forms; supervisors read."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from backoffice.credentialing.models import Enrollment
from backoffice.extensions import db
from backoffice.orgs.models import Payer, Provider
from backoffice.orgs.rules import complete_npi
from tests import factories as f
from tests.conftest import AuthActions, csrf_token

NPI = complete_npi("100000001")


def _world(app: Flask) -> dict[str, Any]:
    with app.app_context():
        org = f.make_org()
        practice = f.make_practice(org, slug="calm-mind")
        f.make_payer(org, payer_id="AETNA", name="Aetna", enrollment_required_837=True)
        admin = f.make_user(org, role="admin", email="admin@example.test")
        supervisor = f.make_user(org, role="supervisor", email="sup@example.test")
        return {"practice": practice.id, "admin": admin.email, "supervisor": supervisor.email}


def _provider_form(**kw: str) -> dict[str, str]:
    values = {
        "first_name": "Sam", "last_name": "Senior", "npi": NPI, "credential": "PsyD", "taxonomy": "103T00000X",
        "license_type": "PSY", "license_number": "PSY-1", "license_state": "ny", "license_expires_on": "2028-01-31",
        "supervising_npi": "", "active": "y",
    }  # fmt: skip
    values.update(kw)
    return values


def test_an_admin_adds_a_provider_and_an_enrolment_through_the_pages(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    _world(app)
    auth.login("admin@example.test")
    page = client.get("/admin/credentialing/calm-mind/providers")
    assert page.status_code == 200
    token = csrf_token(page.get_data(as_text=True))
    bad = client.post("/admin/credentialing/calm-mind/providers", follow_redirects=True,
                      data={**_provider_form(npi="1234567890"), "csrf_token": token})  # fmt: skip
    assert "npi: NPI check digit is wrong" in bad.get_data(as_text=True)
    token = csrf_token(page.get_data(as_text=True))
    done = client.post("/admin/credentialing/calm-mind/providers", data={**_provider_form(), "csrf_token": token})
    assert done.status_code == 302
    with app.app_context():
        provider = db.session.scalar(select(Provider).where(Provider.npi == NPI))
        assert provider is not None and provider.license_state == "NY"
        provider_id = provider.id
        payer_id = db.session.scalar(select(Payer.id).where(Payer.payer_id == "AETNA"))
    listed = client.get("/admin/credentialing/calm-mind/providers").get_data(as_text=True)
    assert "Sam Senior, PsyD" in listed and "PSY PSY-1 (NY)" in listed
    page = client.get("/admin/credentialing/calm-mind/enrollments")
    saved = client.post("/admin/credentialing/calm-mind/enrollments", follow_redirects=True, data={
        "provider_id": provider_id, "payer_id": payer_id, "status": "pending", "submitted_on": "2026-11-01",
        "csrf_token": csrf_token(page.get_data(as_text=True))})  # fmt: skip
    assert "Enrolment saved." in saved.get_data(as_text=True)
    with app.app_context():
        (row,) = db.session.scalars(select(Enrollment)).all()
        assert str(row.status) == "pending"
    assert client.get("/admin/credentialing/calm-mind/providers.csv").get_data(as_text=True).startswith("first_name,")


def test_a_supervisor_reads_but_cannot_change_the_setup(app: Flask, client: FlaskClient, auth: AuthActions) -> None:
    _world(app)
    auth.login("sup@example.test")
    page = client.get("/admin/credentialing/calm-mind/providers")
    assert page.status_code == 200 and "Add a provider" not in page.get_data(as_text=True)
    token = csrf_token(client.get("/admin/credentialing/").get_data(as_text=True) or "")
    refused = client.post("/admin/credentialing/calm-mind/providers", data={**_provider_form(), "csrf_token": token})
    assert refused.status_code in (400, 403)
    with app.app_context():
        assert db.session.scalar(select(Provider.id)) is None


def test_a_biller_cannot_open_credentialing(app: Flask, client: FlaskClient, auth: AuthActions) -> None:
    with app.app_context():
        org = f.make_org()
        f.make_practice(org, slug="calm-mind")
        f.make_user(org, email="biller@example.test")
    auth.login("biller@example.test")
    assert client.get("/admin/credentialing/calm-mind/providers").status_code == 403
