"""In a real browser: an admin adds two providers (one a pre-licensed associate under the other) and records the
associate's enrolment with Aetna as pending; the associate's session is held before submission; marking the
enrolment effective (back-dated) releases it, and it goes out through the Sandbox clearinghouse."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import select

from backoffice.automation.runner import run_automated_item
from backoffice.claims.models import Claim
from backoffice.clock import utcnow
from backoffice.extensions import db
from backoffice.intake.planning import plan_sessions
from backoffice.orgs.models import Practice, Provider
from backoffice.orgs.rules import complete_npi
from backoffice.patients.models import BenefitsCheck
from backoffice.work.models import WorkItem
from backoffice.work.rules import ItemState, Mode
from tests import factories as f
from tests.browser import shot, sign_in

SUPERVISOR_NPI = complete_npi("100000011")
ASSOCIATE_NPI = complete_npi("100000012")
SLUG = "bright-path"


def _run_ready(session_id: int) -> None:
    """What the workers do: run the session's ready automated items until none is left."""
    for _ in range(12):
        ready = db.session.scalars(
            select(WorkItem.id).where(WorkItem.session_id == session_id, WorkItem.state == ItemState.READY,
                                      WorkItem.mode == Mode.AUTOMATED)
        ).all()  # fmt: skip
        if not ready:
            return
        for item_id in ready:
            run_automated_item(item_id, now=utcnow())


def _items(session_id: int) -> dict[str, WorkItem]:
    rows = db.session.scalars(
        select(WorkItem).where(WorkItem.session_id == session_id).execution_options(populate_existing=True)
    )
    return {item.kind: item for item in rows}


def _add_provider(page, **fields: str) -> None:  # noqa: ANN001
    for name, value in fields.items():
        if name in ("credential", "supervising_npi"):
            page.select_option(f"#new-provider select[name={name}]", value)
        else:
            page.fill(f"#new-provider input[name={name}]", value)
    page.click("#new-provider button:has-text('Add provider')")
    page.wait_for_selector("text=Provider added.")


def test_an_associates_held_claim_is_released_when_the_enrolment_becomes_effective(app: Flask, page) -> None:  # noqa: ANN001
    with app.app_context():
        org = f.make_org(edi_submitter_id="BRIGHT001", edi_contact_name="Billing Desk", edi_contact_phone="5551230000")
        practice = f.make_practice(org, slug=SLUG, name="Bright Path", taxonomy="261QM0801X",
                                   fee_schedule={"90834": "150.00", "90837": "190.00"})  # fmt: skip
        # this plan pays an associate's sessions with the supervisor named in loop 2310D (payer data; issue 21)
        aetna = f.make_payer(org, payer_id="AETNA", name="Aetna", enrollment_required_837=True,
                             coding_policy={"associate_billing": "supervisor_2310d"})  # fmt: skip
        f.make_user(org, role="admin", email="admin@example.test", name="Ada Admin")
        practice_id, aetna_id = practice.id, aetna.id

    sign_in(page, "admin@example.test")
    base = page.url.split("/queue")[0]
    page.goto(f"{base}/admin/credentialing/")
    page.click("table a:text-is('Providers')")
    _add_provider(page, first_name="Sam", last_name="Senior", npi=SUPERVISOR_NPI, credential="PsyD",
                  taxonomy="103T00000X", license_type="PSY", license_number="PSY-1", license_state="NY",
                  license_expires_on="2028-06-30")  # fmt: skip
    page.reload()
    _add_provider(page, first_name="Ann", last_name="Associate", npi=ASSOCIATE_NPI, credential="LMHC",
                  taxonomy="101YM0800X", supervising_npi=SUPERVISOR_NPI)  # fmt: skip
    shot(page, "enrollment-1-providers")
    assert page.locator("#providers tr", has_text="Ann Associate").locator("text=Sam Senior, PsyD").count() == 1

    with app.app_context():
        associate = db.session.scalar(select(Provider).where(Provider.npi == ASSOCIATE_NPI))
        associate_id = associate.id
    page.click(".page-head a:text-is('Enrolments')")
    page.select_option("#enrollment-form select[name=provider_id]", str(associate_id))
    page.select_option("#enrollment-form select[name=payer_id]", str(aetna_id))
    page.select_option("#enrollment-form select[name=status]", "pending")
    page.fill("#enrollment-form input[name=submitted_on]", "2026-10-20")
    page.click("#enrollment-form button:has-text('Save enrolment')")
    page.wait_for_selector("text=Enrolment saved.")

    with app.app_context():  # the practice sends a session for the associate with an Aetna patient
        practice = db.session.get(Practice, practice_id)
        patient = f.make_patient(practice, db.session.get(type(aetna), aetna_id), address_line1="1 Elm St",
                                 city="Springfield", state="IL", zip_code="62701")  # fmt: skip
        db.session.add(BenefitsCheck(practice_id=practice_id, patient_id=patient.id, payer_id=aetna_id, source="271",
                                     checked_at=utcnow() - timedelta(days=1), active=True, messages=[]))  # fmt: skip
        db.session.commit()
        session = f.make_session(practice, db.session.get(Provider, associate_id), patient, minutes=45,
                                 date_of_service=(utcnow() - timedelta(days=3)).date())  # fmt: skip
        session_id = session.id
        plan_sessions(session_ids=[session_id], now=utcnow())
        _run_ready(session_id)
        items = _items(session_id)
        assert items["await_enrollment"].state == ItemState.SNOOZED, items["await_enrollment"].last_error
        assert items["submit"].state == ItemState.BLOCKED
        held_id = items["await_enrollment"].id

    page.reload()
    held = page.locator("#held-claims", has_text=f"#{held_id}")
    assert held.count() == 1 and "left" in held.inner_text()
    shot(page, "enrollment-2-held")
    page.select_option("#enrollment-form select[name=provider_id]", str(associate_id))
    page.select_option("#enrollment-form select[name=payer_id]", str(aetna_id))
    page.select_option("#enrollment-form select[name=status]", "effective")
    page.fill("#enrollment-form input[name=effective_from]", "2026-10-01")  # back-dated before the session
    page.click("#enrollment-form button:has-text('Save enrolment')")
    page.wait_for_selector("text=Enrolment saved.")
    # Woken at once: ready, its step sees the effective enrolment and releases submission.
    assert "ready" in page.locator("#held-claims", has_text=f"#{held_id}").inner_text()
    shot(page, "enrollment-3-effective")

    with app.app_context():
        _run_ready(session_id)
        items = _items(session_id)
        assert items["await_enrollment"].state == ItemState.DONE
        assert items["submit"].state == ItemState.DONE, items["submit"].last_error
        claim = db.session.scalar(select(Claim).where(Claim.session_id == session_id))
        assert claim is not None and str(claim.status) == "submitted"
        assert claim.submitted_at == utcnow()
