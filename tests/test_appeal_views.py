"""Appeal screens: scope (another practice's appeal is a 404), roles (templates: admins edit, supervisors view,
billers 403; report: supervisors and admins), the letter, PDF, sent and outcome forms, filters and the CSV."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from backoffice.accounts.models import User
from backoffice.appeals import services
from backoffice.appeals.models import Appeal, AppealTemplate
from backoffice.audit.models import AuditEvent
from backoffice.extensions import db
from backoffice.orgs.models import Organization, Payer, Practice
from backoffice.patients.models import Patient
from backoffice.sessions.models import Session
from backoffice.work.models import Interaction
from backoffice.work.rules import InteractionKind
from tests import factories as f
from tests.conftest import csrf_token
from tests.test_appeal_services import NOW, denied


@pytest.fixture
def w(app):  # noqa: ANN001, ANN201
    """The world, built in an app context of its own: requests must not share the test's ``g`` (Flask-WTF keeps
    the CSRF token there) or its session. Tests read the database back inside ``with app.app_context()``."""
    with app.app_context():
        world = _world()
        ids = {key: getattr(value, "id", value) for key, value in world.items()}
        ids["letter"] = world["appeal"].letter
        ids["item_kind"] = world["item"].kind
    return ids


def _world() -> dict:
    org = f.make_org()
    practice = f.make_practice(org, name="Calm Mind")
    other_practice = f.make_practice(org, name="Harbor")
    payer = f.make_payer(org, payer_id="1512345678", name="Example Health Plan", appeal_window_days=180)
    provider = f.make_provider(practice, first_name="Rae", last_name="Clinician")
    patient = f.make_patient(practice, payer, first_name="Ana", last_name="Example", date_of_birth=date(1990, 1, 2))
    session = f.make_session(practice, provider, patient, date_of_service=date(2026, 11, 2), diagnoses=["F33.1"])
    world = {"org": org, "practice": practice, "payer": payer, "patient": patient, "session": session,
             "biller": f.make_user(org, practices=[practice], email="biller@example.test"),
             "outsider": f.make_user(org, practices=[other_practice], email="outsider@example.test"),
             "supervisor": f.make_user(org, role="supervisor", email="super@example.test"),
             "admin": f.make_user(org, role="admin", email="admin@example.test")}  # fmt: skip
    claim, item = denied(world)
    world["claim"], world["item"] = claim, item
    world["appeal"] = db.session.scalar(select(Appeal).where(Appeal.claim_id == claim.id))
    return world


def post_form(client, page_url: str, action: str, data: dict):  # noqa: ANN001, ANN201
    token = csrf_token(client.get(page_url).get_data(as_text=True))
    return client.post(action, data={**data, "csrf_token": token})


def test_a_biller_sees_the_appeal_and_another_practices_biller_gets_404_everywhere(client, auth, w) -> None:  # noqa: ANN001
    appeal_id = w["appeal"]
    auth.login("biller@example.test")
    page = client.get(f"/appeals/{appeal_id}").get_data(as_text=True)
    assert "Download PDF" in page and "PCN-ACC2" in page and "days left" in page
    assert f"/appeals/{appeal_id}" in client.get("/appeals").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/queue").get_data(as_text=True))})
    auth.login("outsider@example.test")
    assert client.get(f"/appeals/{appeal_id}").status_code == 404
    assert client.get(f"/appeals/{appeal_id}/letter.pdf").status_code == 404
    token = csrf_token(client.get("/appeals").get_data(as_text=True))
    assert client.post(f"/appeals/{appeal_id}/letter", data={"letter": "x", "csrf_token": token}).status_code == 404
    assert f"/appeals/{appeal_id}" not in client.get("/appeals").get_data(as_text=True)


def test_the_pdf_download_is_an_uncached_attachment_and_is_audited(app, client, auth, w) -> None:  # noqa: ANN001
    auth.login("biller@example.test")
    response = client.get(f"/appeals/{w['appeal']}/letter.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == 'attachment; filename="appeal-ACC2-L1.pdf"'
    assert response.headers["Cache-Control"] == "no-store"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(response.data)).pages)
    assert "PCN-ACC2" in text and "not deemed a medical necessity" in text
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "pdf"))
    assert (event.user_id, event.target_id, event.patient_id) == (w["biller"], str(w["appeal"]),
                                                                  w["patient"])  # fmt: skip


def test_saving_the_letter_from_the_page_logs_its_hash_and_an_empty_letter_keeps_nothing(app, client, auth, w) -> None:  # noqa: ANN001
    auth.login("biller@example.test")
    url = f"/appeals/{w['appeal']}"
    edited = w["letter"] + "\r\nAdded: PHQ-9 scores enclosed."
    response = post_form(client, url, f"{url}/letter", {"letter": edited})
    assert response.status_code == 303
    assert read(app, Appeal, w["appeal"]).letter.endswith("PHQ-9 scores enclosed.")
    with app.app_context():
        documents = db.session.scalars(select(Interaction).where(Interaction.kind == InteractionKind.DOCUMENT)).all()
        assert documents[-1].actor_user_id == w["biller"] and "PHQ-9" not in str(documents[-1].data)
    response = post_form(client, url, f"{url}/letter", {"letter": ""})
    assert response.status_code == 422 and "Letter: This field is required." in response.get_data(as_text=True)
    assert read(app, Appeal, w["appeal"]).letter.endswith("PHQ-9 scores enclosed.")


def test_sent_and_outcome_forms_refuse_bad_input_with_the_field_named(app, client, auth, w) -> None:  # noqa: ANN001
    auth.login("biller@example.test")
    url = f"/appeals/{w['appeal']}"
    response = post_form(client, url, f"{url}/sent", {"sent_on": "2027-01-01", "method": "fax"})
    assert "sent date: cannot be in the future" in client.get(response.headers["Location"]).get_data(as_text=True)
    response = post_form(client, url, f"{url}/sent", {"sent_on": "2099-01-01", "method": "fax"})  # beyond plausible
    assert "Sent on: must be on or before" in client.get(response.headers["Location"]).get_data(as_text=True)
    post_form(client, url, f"{url}/sent", {"sent_on": "2026-11-16", "method": "portal", "reference": "P-1"})
    assert read(app, Appeal, w["appeal"]).status == "sent"
    response = post_form(client, url, f"{url}/outcome", {"outcome": "partial", "decided_on": "2026-11-17",
                                                         "recovered": "0"})  # fmt: skip
    assert "recovered: a partial win" in client.get(response.headers["Location"]).get_data(as_text=True)
    post_form(client, url, f"{url}/outcome", {"outcome": "partial", "decided_on": "2026-11-17", "recovered": "80"})
    appeal = read(app, Appeal, w["appeal"])
    assert (appeal.outcome, str(appeal.recovered_amount)) == ("partial", "80.00")
    assert "Draft the level 2 appeal" in client.get(url).get_data(as_text=True)


def test_the_item_page_shows_the_appeal_panel_with_the_letter_editor(client, auth, w) -> None:  # noqa: ANN001
    auth.login("biller@example.test")
    page = client.get(f"/items/{w['item']}").get_data(as_text=True)
    assert 'id="panel-appeal"' in page and f'id="letter-{w["appeal"]}"' in page and "Download PDF" in page


def test_filters_narrow_the_list_by_status_family_and_deadline(client, auth, w) -> None:  # noqa: ANN001
    auth.login("biller@example.test")
    link = f'href="/appeals/{w["appeal"]}"'
    assert link in client.get("/appeals?status=draft&family=medical_necessity").get_data(as_text=True)
    assert link not in client.get("/appeals?status=sent").get_data(as_text=True)
    assert link not in client.get("/appeals?family=coding").get_data(as_text=True)
    assert link not in client.get("/appeals?due_within=30").get_data(as_text=True)  # deadline is ~6 months out
    assert link in client.get("/appeals?due_within=400").get_data(as_text=True)
    assert client.get("/appeals?due_within=soon").status_code == 400


@pytest.mark.parametrize(("email", "status"), [("biller@example.test", 403), ("super@example.test", 200),
                                               ("admin@example.test", 200)])  # fmt: skip
def test_templates_and_the_report_are_for_supervisors_and_admins(client, auth, w, email, status) -> None:  # noqa: ANN001
    auth.login(email)
    assert client.get("/admin/appeal-templates").status_code == status
    assert client.get("/appeals/report").status_code == status
    assert client.get("/appeals/report.csv").status_code == status


def test_only_an_admin_saves_a_template_and_a_typo_is_shown_with_the_input_kept(app, client, auth, w) -> None:  # noqa: ANN001
    data = {"name": "Necessity", "denial_family": "medical_necessity", "payer_id": "0", "level": "1",
            "body": "{{ patient.name }} {{ claim.nubmer }}", "active": "y"}  # fmt: skip
    auth.login("super@example.test")
    assert post_form(client, "/admin/appeal-templates/new", "/admin/appeal-templates/new", data).status_code == 403
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/queue").get_data(as_text=True))})
    auth.login("admin@example.test")
    response = post_form(client, "/admin/appeal-templates/new", "/admin/appeal-templates/new", data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "nubmer" in page and "claim.nubmer" in page  # error and the input kept
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AppealTemplate)) == 0
    data["body"] = "{{ patient.name }} {{ claim.number }}"
    assert post_form(client, "/admin/appeal-templates/new", "/admin/appeal-templates/new", data).status_code == 303
    with app.app_context():
        template = db.session.scalar(select(AppealTemplate))
        assert (template.payer_id, template.level, template.active) == (None, 1, True)
        template_id = template.id
    response = post_form(client, "/admin/appeal-templates", f"/admin/appeal-templates/{template_id}/active", {})
    assert response.status_code == 303 and read(app, AppealTemplate, template_id).active is False


def test_the_report_csv_has_numbers_as_numbers_and_counts_partial_as_a_win(app, client, auth, w) -> None:  # noqa: ANN001
    with app.app_context():
        appeal, biller = db.session.get(Appeal, w["appeal"]), db.session.get(User, w["biller"])
        services.mark_sent(appeal=appeal, actor=biller, now=NOW, sent_on=date(2026, 11, 16), method="fax")
        services.record_outcome(appeal=appeal, actor=biller, now=NOW, outcome="partial", decided_on=date(2026, 11, 17),
                                recovered=Decimal("50.00"))  # fmt: skip
    auth.login("super@example.test")
    response = client.get("/appeals/report.csv")
    assert response.headers["Content-Disposition"] == 'attachment; filename="appeal-overturn-rate.csv"'
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][:4] == ["Denial family", "Payer", "Level", "Month"]
    assert rows[1] == ["medical_necessity", "Example Health Plan", "1", "2026-11", "1", "0", "1", "0", "100.0", "50.00"]
    assert '"' not in response.get_data(as_text=True).splitlines()[1]  # unquoted numbers, no currency symbols
    assert "overturned and partial" in client.get("/appeals/report").get_data(as_text=True)


def test_a_denial_item_without_an_appeal_can_draft_one_from_its_panel(app, client, auth, w) -> None:  # noqa: ANN001
    with app.app_context():
        world = {key: db.session.get(model, w[key]) for key, model in
                 (("org", Organization), ("practice", Practice), ("payer", Payer), ("patient", Patient),
                  ("session", Session))}  # fmt: skip
        claim, item = denied(world, account="ACC9", cas="CAS*CO*197*200")  # authorization: a work_denial item
        assert item.kind == "work_denial"
        claim_id, item_id = claim.id, item.id
    auth.login("biller@example.test")
    assert "Draft an appeal" in client.get(f"/items/{item_id}").get_data(as_text=True)
    response = post_form(client, f"/items/{item_id}", f"/items/{item_id}/appeal", {})
    with app.app_context():
        appeal = db.session.scalar(select(Appeal).where(Appeal.claim_id == claim_id))
        assert response.headers["Location"].endswith(f"/appeals/{appeal.id}")
        assert appeal.denial_family == "authorization" and appeal.work_item_id == item_id
        assert "The service was authorized or did not require authorization" in appeal.letter
        documents = db.session.scalar(select(func.count()).where(Interaction.kind == InteractionKind.DOCUMENT,
                                                                 Interaction.work_item_id == item_id))  # fmt: skip
        assert documents == 1


def read(app, model, id_):  # noqa: ANN001, ANN201
    """A row as the database has it now (outside any request's session)."""
    with app.app_context():
        row = db.session.get(model, id_)
        db.session.expunge(row)
        return row


def test_a_new_template_starts_from_the_default_letter_with_a_sample_preview(client, auth, w) -> None:  # noqa: ANN001
    auth.login("admin@example.test")
    page = client.get("/admin/appeal-templates/new").get_data(as_text=True)
    assert "{{ patient.name }}" in page and "Preview" in page and "Sample Patient" in page
