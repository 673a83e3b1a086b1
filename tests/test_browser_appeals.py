"""In a real browser: a biller opens an appeal, edits the letter, saves it and downloads the PDF, whose text holds
the edit, marks it sent and records a partial win; a supervisor sees it in the overturn-rate report."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

from flask import Flask
from pypdf import PdfReader
from sqlalchemy import select

from backoffice.appeals.models import Appeal
from backoffice.audit.models import AuditEvent
from backoffice.extensions import db
from tests import factories as f
from tests.browser import shot, sign_in
from tests.test_appeal_services import denied

EDIT = "The PHQ-9 fell from 19 to 11 over twelve weeks of weekly 90837 sessions."


def test_a_biller_edits_the_appeal_letter_and_downloads_the_pdf(app: Flask, page, tmp_path: Path) -> None:  # noqa: ANN001
    with app.app_context():
        org = f.make_org()
        practice = f.make_practice(org, name="Calm Mind")
        payer = f.make_payer(org, payer_id="1512345678", name="Example Health Plan", appeal_window_days=180)
        provider = f.make_provider(practice, first_name="Rae", last_name="Clinician")
        patient = f.make_patient(practice, payer, first_name="Ana", last_name="Example", date_of_birth=date(1990, 1, 2))
        session = f.make_session(practice, provider, patient, date_of_service=date(2026, 11, 2))
        f.make_user(org, practices=[practice], email="biller@example.test", name="Bea Biller")
        f.make_user(org, role="supervisor", email="super@example.test", name="Sam Supervisor")
        world = {"org": org, "practice": practice, "payer": payer, "patient": patient, "session": session}
        claim, item = denied(world)
        appeal_id = db.session.scalar(select(Appeal.id).where(Appeal.claim_id == claim.id))
        item_id = item.id

    sign_in(page, "biller@example.test")
    page.goto(f"/items/{item_id}")
    page.wait_for_selector("#panel-appeal")
    shot(page, "appeals-1-item-panel")

    page.goto("/appeals")
    page.click(f"a[href='/appeals/{appeal_id}']")
    page.wait_for_url(f"**/appeals/{appeal_id}")
    letter = page.locator(f"#letter-{appeal_id}")
    letter.fill(letter.input_value().replace("Why the denial should be overturned:",
                                             f"{EDIT}\n\nWhy the denial should be overturned:"))  # fmt: skip
    page.click("form.letter-form button[type=submit]")
    page.wait_for_selector("text=Letter saved.")
    shot(page, "appeals-2-letter-saved")

    with page.expect_download() as info:
        page.click("text=Download PDF")
    download = info.value
    assert download.suggested_filename == "appeal-ACC2-L1.pdf"
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(target.read_bytes())).pages)
    assert " ".join(EDIT.split()) in " ".join(text.split())
    assert "PCN-ACC2" in text and "not deemed a medical necessity" in text

    page.fill("input[name=reference]", "PORTAL-5521")
    page.select_option("select[name=method]", "portal")
    page.click("#sent form button[type=submit]")
    page.wait_for_selector("text=Marked as sent.")
    shot(page, "appeals-3-sent")

    page.select_option("select[name=outcome]", "partial")
    page.fill("input[name=recovered]", "80.00")
    page.click("#outcome form button[type=submit]")
    page.wait_for_selector("text=Decision recorded.")
    with app.app_context():
        appeal = db.session.get(Appeal, appeal_id)
        assert appeal.status == "decided" and EDIT in appeal.letter and appeal.reference_number == "PORTAL-5521"
        assert (appeal.outcome, str(appeal.recovered_amount)) == ("partial", "80.00")
        assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.action == "pdf")) == "pdf"

    page.click("form[action='/logout'] button")
    sign_in(page, "super@example.test")
    page.goto("/appeals/report")
    page.wait_for_selector("text=Appeal overturn rate")
    row = page.locator("table.report tbody tr").last.inner_text()
    assert "Example Health Plan" in row and "100.0" in row and "80.00" in row  # a partial win counts as a win
    shot(page, "appeals-4-report")
