"""Issue 16's acceptance in one browser run, from an empty database: `backoffice setup` makes the company and its
admin; through the UI the admin fills in the company, a practice, three payers from a directory CSV (Aetna billing
associates with their supervisor in 2310D), a fee schedule, contracted rates, a biller, two providers (a
pre-licensed associate under a psychologist) and their Aetna enrolments (the associate's still pending). The
practice's session file (one for a dependent child, with the subscriber's columns) is imported; the sessions go
through the automation and the Sandbox clearinghouse to submission, except the associate's, which is held until the
enrolment is marked effective in the UI, and then goes out too."""

from __future__ import annotations

import csv
import io
from datetime import date

from flask import Flask
from sqlalchemy import func, select

from backoffice import clock
from backoffice.automation.runner import run_automated_item
from backoffice.claims.models import Claim
from backoffice.clearinghouse.sandbox import enroll_member
from backoffice.cli import cli
from backoffice.extensions import db
from backoffice.intake.planning import plan_sessions
from backoffice.orgs.models import Payer, Provider
from backoffice.orgs.rules import complete_npi
from backoffice.patients.models import Coverage
from backoffice.sessions.models import Session
from backoffice.sessions.rules import ADDRESS_COLUMNS, COLUMNS, SUBSCRIBER_COLUMNS
from backoffice.work.models import WorkItem
from backoffice.work.rules import ItemState, Mode
from tests.browser import shot
from tests.onboarding_flow import set_up_the_company

SUPERVISOR_NPI = complete_npi("100000011")
ASSOCIATE_NPI = complete_npi("100000012")
SESSION = {
    "practice": "calm-mind", "date_of_service": "2026-11-16", "start_time": "09:00", "payer_id": "60054",
    "service": "psychotherapy", "minutes": "53", "em_code": "", "modality": "in_person", "patient_location": "office",
    "interactive_complexity": "no", "screenings": "0", "diagnoses": "F41.1", "auth_number": "",
    "patient_address": "1 Elm St", "patient_city": "Albany", "patient_state": "NY", "patient_zip": "12207",
}  # fmt: skip


def _add_provider(page, **fields: str) -> None:  # noqa: ANN001
    for name, value in fields.items():
        if name in ("credential", "supervising_npi"):
            page.select_option(f"#new-provider select[name={name}]", value)
        else:
            page.fill(f"#new-provider input[name={name}]", value)
    page.click("#new-provider button:has-text('Add provider')")
    page.wait_for_selector("text=Provider added.")


def _enrol(page, provider_id: int, payer_id: int, status: str, **dates: str) -> None:  # noqa: ANN001
    page.select_option("#enrollment-form select[name=provider_id]", str(provider_id))
    page.select_option("#enrollment-form select[name=payer_id]", str(payer_id))
    page.select_option("#enrollment-form select[name=status]", status)
    for name, value in dates.items():
        page.fill(f"#enrollment-form input[name={name}]", value)
    page.click("#enrollment-form button:has-text('Save enrolment')")
    page.wait_for_selector("text=Enrolment saved.")


def _sessions_csv() -> str:
    rows = [
        {**SESSION, "session_ref": "CM-1", "provider_npi": SUPERVISOR_NPI, "provider_credential": "PsyD",
         "patient_ref": "P-1", "patient_first": "Dana", "patient_last": "Adult", "patient_dob": "1980-03-04",
         "patient_sex": "F", "member_id": "W100"},
        {**SESSION, "session_ref": "CM-2", "start_time": "10:00", "provider_npi": SUPERVISOR_NPI,
         "provider_credential": "PsyD", "patient_ref": "P-2", "patient_first": "Sam", "patient_last": "Young",
         "patient_dob": "2015-06-01", "patient_sex": "M", "member_id": "W200", "subscriber_relationship": "child",
         "subscriber_first": "Pat", "subscriber_last": "Young", "subscriber_dob": "1984-02-02",
         "subscriber_sex": "F"},
        {**SESSION, "session_ref": "CM-3", "start_time": "11:00", "provider_npi": ASSOCIATE_NPI,
         "provider_credential": "LMHC", "patient_ref": "P-3", "patient_first": "Lee", "patient_last": "Other",
         "patient_dob": "1990-07-08", "patient_sex": "U", "member_id": "W300", "minutes": "45"},
    ]  # fmt: skip
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*COLUMNS, *ADDRESS_COLUMNS, *SUBSCRIBER_COLUMNS], lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return out.getvalue()


def _enrol_with_the_sandbox(organization_id: int) -> None:
    """Aetna's own member file (the Sandbox payer's) has the three patients; the child under its subscriber."""
    people = [
        ("W100", "18", "Dana", "Adult", date(1980, 3, 4), "F"),
        ("W200", "18", "Pat", "Young", date(1984, 2, 2), "F"),
        ("W200", "19", "Sam", "Young", date(2015, 6, 1), "M"),
        ("W300", "18", "Lee", "Other", date(1990, 7, 8), "U"),
    ]
    for member_id, relationship, first, last, born, sex in people:
        enroll_member(organization_id=organization_id, payer_id="60054", payer_kind="commercial", member_id=member_id,
                      first_name=first, last_name=last, date_of_birth=born, sex=sex, relationship=relationship,
                      effective_from=date(2026, 1, 1))  # fmt: skip
    db.session.commit()


def _run_ready() -> None:
    """What the workers do: run every ready automated item until none is left."""
    for _ in range(15):
        ready = db.session.scalars(
            select(WorkItem.id).where(WorkItem.state == ItemState.READY, WorkItem.mode == Mode.AUTOMATED)
        ).all()
        if not ready:
            return
        for item_id in ready:
            run_automated_item(item_id, now=clock.utcnow())


def _claim_status(ref: str) -> str | None:
    session = db.session.scalar(select(Session).where(Session.external_ref == ref))
    claim = db.session.scalar(select(Claim).where(Claim.session_id == session.id))
    return None if claim is None else str(claim.status)


def test_a_new_company_sets_up_its_first_client_and_bills_it(app: Flask, page, tmp_path) -> None:  # noqa: ANN001
    set_up_the_company(app, page, "first-client")

    page.goto("/admin/credentialing/calm-mind/providers")
    _add_provider(page, first_name="Sam", last_name="Senior", npi=SUPERVISOR_NPI, credential="PsyD",
                  taxonomy="103T00000X", license_type="PSY", license_number="PSY-1", license_state="NY",
                  license_expires_on="2028-06-30")  # fmt: skip
    page.reload()
    _add_provider(page, first_name="Ann", last_name="Associate", npi=ASSOCIATE_NPI, credential="LMHC",
                  taxonomy="101YM0800X", supervising_npi=SUPERVISOR_NPI)  # fmt: skip
    with app.app_context():
        supervisor_id = db.session.scalar(select(Provider.id).where(Provider.npi == SUPERVISOR_NPI))
        associate_id = db.session.scalar(select(Provider.id).where(Provider.npi == ASSOCIATE_NPI))
        aetna_id = db.session.scalar(select(Payer.id).where(Payer.payer_id == "60054"))
    page.goto("/admin/credentialing/calm-mind/enrollments")
    _enrol(page, supervisor_id, aetna_id, "effective", submitted_on="2025-11-01", effective_from="2026-01-01")
    _enrol(page, associate_id, aetna_id, "pending", submitted_on="2026-10-20")
    shot(page, "first-client-5-enrolments")

    source = tmp_path / "calm-mind-sessions.csv"
    source.write_text(_sessions_csv(), encoding="utf-8")
    imported = app.test_cli_runner().invoke(cli, ["import", "sessions", str(source), "--no-plan"])
    assert imported.exit_code == 0, imported.output
    assert "imported 3 new session(s)" in imported.output

    with app.app_context():
        child = db.session.scalar(select(Coverage).where(Coverage.member_id == "W200"))
        assert (child.relationship_to_subscriber.value, child.subscriber_first_name) == ("19", "Pat")
        _enrol_with_the_sandbox(db.session.scalar(select(Payer.organization_id).where(Payer.payer_id == "60054")))
        plan_sessions(session_ids=list(db.session.scalars(select(Session.id))), now=clock.utcnow())
        _run_ready()
        states = [(i.kind, i.last_error) for i in db.session.scalars(select(WorkItem)) if i.last_error]
        assert (_claim_status("CM-1"), _claim_status("CM-2")) == ("submitted", "submitted"), states
        held = db.session.scalar(select(WorkItem).where(WorkItem.kind == "await_enrollment"))
        assert held is not None and held.state == ItemState.SNOOZED
        assert _claim_status("CM-3") != "submitted"

    page.goto("/admin/credentialing/calm-mind/enrollments")
    _enrol(page, associate_id, aetna_id, "effective", effective_from="2026-10-01")  # back-dated: releases it
    shot(page, "first-client-6-released")
    with app.app_context():
        _run_ready()
        assert _claim_status("CM-3") == "submitted"
        assert db.session.scalar(select(func.count()).select_from(Claim).where(Claim.status == "submitted")) == 3
