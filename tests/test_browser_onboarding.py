"""In a real browser, from an empty database: `backoffice setup` makes the company and its admin; the admin sets up
two-step sign-in (as the organization requires) and then, through the UI alone, fills in the company, creates a
practice (a bad NPI check digit is refused first), loads three payers from a directory CSV (a bad file is refused
naming its row and column), enters a fee schedule and contracted rates (a negative rate is refused) and adds a
biller with an initial password."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from backoffice.accounts.models import User
from backoffice.audit.models import AuditEvent
from backoffice.extensions import db
from backoffice.orgs.models import ContractedRate, Organization, Payer, Practice
from tests.onboarding_flow import GROUP_NPI, set_up_the_company


def test_a_new_company_sets_up_its_first_client_in_the_browser(app: Flask, page) -> None:  # noqa: ANN001
    set_up_the_company(app, page, "onboarding")

    with app.app_context():
        org = db.session.scalar(select(Organization))
        assert (org.legal_name, org.tax_id, org.edi_submitter_id) == ("Summit Billing LLC", "987654321", "SUM123")
        practice = db.session.scalar(select(Practice))
        assert (practice.slug, practice.group_npi, practice.fee_schedule) == (
            "calm-mind", GROUP_NPI, {"90834": "150.00", "90837": "200.00"})  # fmt: skip
        assert db.session.scalar(select(func.count()).select_from(Payer)) == 3
        assert sorted(str(r.allowed) for r in db.session.scalars(select(ContractedRate))) == ["140.25", "98.50"]
        biller = db.session.scalar(select(User).where(User.email == "priya@summit.example"))
        assert biller.role.value == "biller" and [p.slug for p in biller.practices] == ["calm-mind"]
        assert biller.queues == ["eligibility", "submission"] and biller.password_change_required
        actions = {e.action for e in db.session.scalars(select(AuditEvent))}
    assert {"admin:organization_update", "admin:practice_create", "admin:payer_create", "admin:fee_schedule_update",
            "admin:contracted_rates_update", "admin:user_create"} <= actions  # fmt: skip
