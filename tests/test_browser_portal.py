"""In a real browser (issue 20 acceptance): a biller sends a request to the practice from a denial; the practice's
user signs in to the client portal and answers it with a file; the appeal packet PDF holds that file after the
letter; the denial's SLA shows the time it was paused, waiting on the practice."""

from __future__ import annotations

import io
from datetime import date, timedelta
from pathlib import Path

from flask import Flask
from fpdf import FPDF
from pypdf import PdfReader
from sqlalchemy import select

from backoffice.appeals.models import Appeal
from backoffice.appeals.pdf import appeal_pdf
from backoffice.extensions import db
from backoffice.portal.models import PracticeRequest
from backoffice.work.models import WorkItem
from tests import factories as f
from tests.browser import shot, sign_in
from tests.factories import NOW
from tests.test_appeal_services import denied
from tests.test_appointments import _screens_world

MARKER = "Progress note 2026-11-02: PHQ-9 19 to 11, plan continued"


def _note_pdf(path: Path) -> Path:
    pdf = FPDF(format="Letter")
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(text=MARKER)
    path.write_bytes(bytes(pdf.output()))
    return path


def test_a_request_from_a_denial_is_answered_in_the_portal_and_its_file_joins_the_appeal_packet(
    app: Flask,
    page,
    clock_pin,
    tmp_path: Path,  # noqa: ANN001
) -> None:
    with app.app_context():
        org = f.make_org()
        practice = f.make_practice(org, name="Calm Mind")
        payer = f.make_payer(org, payer_id="1512345678", name="Example Health Plan", appeal_window_days=180)
        provider = f.make_provider(practice, first_name="Rae", last_name="Clinician")
        patient = f.make_patient(practice, payer, first_name="Ana", last_name="Example", date_of_birth=date(1990, 1, 2))
        session = f.make_session(practice, provider, patient, date_of_service=date(2026, 11, 2))
        f.make_user(org, practices=[practice], email="biller@example.test", name="Bea Biller")
        f.make_user(org, role="practice", practices=[practice], email="front@calmmind.test", name="Fran Front")
        other = f.make_practice(org, name="Other Practice")
        f.make_user(org, role="practice", practices=[other], email="front@other.test", name="Olly Other")
        world = {"org": org, "practice": practice, "payer": payer, "patient": patient, "session": session}
        claim, item = denied(world)
        appeal = db.session.scalar(select(Appeal).where(Appeal.claim_id == claim.id))
        appeal_id, item_id, due_before = appeal.id, item.id, item.due_at
        letter_pages = len(PdfReader(io.BytesIO(appeal_pdf(appeal))).pages)

    sign_in(page, "biller@example.test")
    page.goto(f"/items/{item_id}")
    page.click("#send-practice-request summary")
    page.select_option("#send-practice-request select[name=request_type]", "appeal_documentation")
    page.fill("#send-practice-request textarea[name=message]", "Please send the progress note of 11/02 for the appeal")
    page.click("#send-practice-request button[type=submit]")
    page.wait_for_selector("text=sent to the practice")
    assert "waiting on practice" in page.inner_text("#sla-pause")
    shot(page, "portal-1-request-sent")
    page.click("form[action='/logout'] button")

    clock_pin.advance(hours=26)  # Thursday 12:00 in New York: the practice answers a day later
    sign_in(page, "front@other.test")  # another practice's user sees nothing of it
    page.goto("/portal/requests")
    assert "progress note" not in page.content()
    page.click("form[action='/logout'] button")

    sign_in(page, "front@calmmind.test")
    page.wait_for_url("**/portal")
    assert "Requests waiting on you (1)" in page.content()
    shot(page, "portal-2-dashboard")
    page.click("a:text-is('Answer')")
    page.fill("textarea[name=answer]", "Here is the progress note, signed.")
    page.set_input_files("input[name=file]", str(_note_pdf(tmp_path / "progress-note.pdf")))
    page.click("#answer button[type=submit]")
    page.wait_for_selector("text=Thank you")
    assert "answered" in page.inner_text("#inbox")
    shot(page, "portal-3-answered")
    response = page.goto(f"/items/{item_id}")  # the company's item page is not theirs
    assert response.status == 403 and page.locator("h1").inner_text() == "Not allowed"
    page.goto("/portal")
    page.click("form[action='/logout'] button")

    with app.app_context():
        request = db.session.scalar(select(PracticeRequest).where(PracticeRequest.origin_item_id == item_id))
        item = db.session.get(WorkItem, item_id)
        assert request.answered_at is not None and item.state.value == "ready"
        assert item.due_at == due_before + timedelta(hours=26)

    sign_in(page, "biller@example.test")
    page.goto(f"/items/{item_id}")
    assert page.inner_text("#sla-pause") == "paused 26 h, waiting on practice"
    assert "Here is the progress note, signed." in page.content()
    shot(page, "portal-4-item-resumed")

    page.goto(f"/appeals/{appeal_id}")
    assert "progress-note.pdf" in page.content()
    with page.expect_download() as info:
        page.click("text=Download the appeal packet (PDF)")
    target = tmp_path / "packet.pdf"
    info.value.save_as(target)
    reader = PdfReader(io.BytesIO(target.read_bytes()))
    assert len(reader.pages) == letter_pages + 1
    assert MARKER in reader.pages[-1].extract_text()


def test_a_new_user_finds_the_appointments_and_the_monthly_report_from_the_nav_at_1440(
    app: Flask, page, clock_pin
) -> None:  # noqa: ANN001, E501
    clock_pin.set(NOW)
    w = _screens_world(app)
    page.set_viewport_size({"width": 1440, "height": 800})
    no_overflow = "document.documentElement.scrollWidth <= window.innerWidth"
    sign_in(page, w["desk"])
    page.click("nav.portal-nav >> text=Appointments")
    table = page.locator("#portal-appointments")
    assert "Coverage inactive" in table.locator('tr[data-ref="AP-1"]').inner_text()
    assert "to be checked on 11/19/2026" in table.locator('tr[data-ref="AP-3"]').inner_text()
    assert page.evaluate(no_overflow)
    shot(page, "portal-appointments")
    page.click("nav.portal-nav >> text=Reports")
    page.select_option("#report-month select[name=month]", "2026-09")
    page.click("#report-month button[type=submit]")
    page.wait_for_selector("#reconciles")
    assert "2026-09" in page.locator("#money h2").inner_text() and page.evaluate(no_overflow)
    assert page.locator("#money a.csv").get_attribute("href").endswith("/2026-09.pdf")
    page.click("text=back to the dashboard")
    assert page.url.endswith("/portal")
    page.click("text=Sign out")

    sign_in(page, w["biller"])
    page.click("header nav >> text=Appointments")
    page.select_option("#appointment-filters select[name=problem]", "inactive")
    page.click("#appointment-filters button[type=submit]")
    assert page.locator("#appointments tbody tr").count() == 1 and page.evaluate(no_overflow)
    shot(page, "staff-appointments")
    page.click(f'#appointments a[href="/items/{w["item"]}"]')
    page.wait_for_selector("text=Fix coverage before the visit")
