"""The browser flow both onboarding acceptance tests start with, from an empty migrated database: `backoffice setup`
makes the company and its admin, who enrols two-step sign-in (the organization's default) and, through the UI alone,
fills in the company, creates a practice (a bad NPI check digit is refused first), loads three payers from a directory
CSV (a bad file is refused naming its row and column; Aetna pays associates with the supervisor in 2310D), enters a fee
schedule and contracted rates (a negative rate is refused) and adds a biller with an initial password."""

from __future__ import annotations

import pyotp
from flask import Flask
from sqlalchemy import func, select

from backoffice import clock
from backoffice.extensions import db
from backoffice.onboarding.services import setup_organization
from backoffice.orgs.models import Organization
from backoffice.orgs.rules import complete_npi
from tests.browser import shot, sign_in
from tests.factories import NOW

PASSWORD = "violet staple orbit canyon"  # noqa: S105
GROUP_NPI = complete_npi("212345678")
BAD_NPI = GROUP_NPI[:9] + str((int(GROUP_NPI[9]) + 1) % 10)
PAYERS_CSV = (
    "payer_id,name,kind,filing_limit_days,appeal_window_days,prior_auth_cpts,enrollment_required_837,coding_policy\n"
    '60054,Aetna,commercial,90,180,,yes,"{""associate_billing"": ""supervisor_2310d""}"\n'
    "SKCO0,Medicare Part B,medicare,365,120,,yes,\n"
    "SELF,Self-pay,self_pay,365,365,,no,\n"
)


def _flash(page, text: str) -> None:  # noqa: ANN001
    page.wait_for_selector(f".flash >> text={text}")


def _upload(page, content: str) -> None:  # noqa: ANN001
    file = {"name": "payers.csv", "mimeType": "text/csv", "buffer": content.encode()}
    page.set_input_files("#upload-form input[type=file]", files=[file])
    page.click("#upload-form button[type=submit]")
    page.wait_for_load_state()


def set_up_the_company(app: Flask, page, prefix: str) -> None:  # noqa: ANN001
    """Run the flow above in ``page``; screenshots are named ``<prefix>-N-…``."""
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Organization)) == 0  # an empty, migrated database
        setup_organization(slug="summit", name="Summit Billing", admin_email="owner@summit.example",
                           admin_name="Olive Owner", admin_password=PASSWORD, now=NOW)  # fmt: skip

    sign_in(page, "owner@summit.example", PASSWORD)
    assert page.url.endswith("/login/enrol")  # admins must use a second factor (the organization's default)
    secret = page.inner_text("#mfa-secret").replace(" ", "")
    page.fill("input[name=code]", pyotp.TOTP(secret).at(clock.utcnow()))
    page.click("button[type=submit].primary")
    page.click("text=I saved them: continue")
    page.wait_for_selector("text=Olive Owner")

    page.click("header nav >> text=Setup")
    page.click("text=Organization")
    page.fill("input[name=legal_name]", "Summit Billing LLC")
    page.fill("input[name=tin]", "987654321")
    page.fill("input[name=edi_submitter_name]", "SUMMIT BILLING")
    page.fill("input[name=edi_submitter_id]", "SUM123")
    page.fill("input[name=edi_contact_name]", "Billing Desk")
    page.fill("input[name=edi_contact_phone]", "5551230000")
    page.click("#setup-form button[type=submit]")
    _flash(page, "Organization saved.")

    page.goto("/admin/practices")
    page.click("text=New practice")
    for name, value in {"name": "Calm Mind Therapy", "slug": "calm-mind", "npi": BAD_NPI, "tin": "123456789",
                        "taxonomy": "1041C0700X", "address_line1": "1 Main St", "city": "Albany", "state": "NY",
                        "zip_code": "122071234"}.items():  # fmt: skip
        page.fill(f"input[name={name}]", value)
    page.click("#setup-form button[type=submit]")
    _flash(page, "npi: NPI check digit is wrong")
    shot(page, f"{prefix}-1-bad-npi")
    page.fill("input[name=npi]", GROUP_NPI)
    page.click("#setup-form button[type=submit]")
    _flash(page, "Practice created.")

    page.goto("/admin/payers")
    _upload(page, PAYERS_CSV + "ZZZ,Nobody,insurer,90,180,,\n")
    _flash(page, "row 5, column kind")
    _upload(page, PAYERS_CSV)
    _flash(page, "3 added, 0 changed, 0 unchanged.")
    shot(page, f"{prefix}-2-payers")

    page.goto("/admin/practices/calm-mind")
    page.click("text=Fee schedule")
    page.fill("input[name='rows-0-cpt']", "90834")
    page.fill("input[name='rows-0-charge']", "150.00")
    page.fill("input[name='rows-1-cpt']", "90837")
    page.fill("input[name='rows-1-charge']", "200.00")
    page.click("#fees-form button[type=submit]")
    _flash(page, "Fee schedule saved.")

    page.goto("/admin/practices/calm-mind/rates")
    page.select_option("select[name='rows-0-payer_id']", "60054")
    page.fill("input[name='rows-0-cpt']", "90834")
    page.fill("input[name='rows-0-allowed']", "-98.50")
    page.fill("input[name='rows-0-effective_from']", "2026-01-01")
    page.select_option("select[name='rows-1-payer_id']", "SKCO0")
    page.fill("input[name='rows-1-cpt']", "90837")
    page.fill("input[name='rows-1-allowed']", "140.25")
    page.fill("input[name='rows-1-effective_from']", "2026-01-01")
    page.click("#rates-form button[type=submit]")
    _flash(page, "row 1, column allowed: must not be negative")
    page.fill("input[name='rows-0-allowed']", "98.50")
    page.click("#rates-form button[type=submit]")
    _flash(page, "Contracted rates saved.")
    shot(page, f"{prefix}-3-rates")

    page.goto("/admin/setup")
    page.click("text=Add a user")
    page.fill("input[name=email]", "priya@summit.example")
    page.fill("input[name=name]", "Priya Biller")
    page.select_option("select[name=role]", "biller")
    page.check("input[name=practices][value=calm-mind]")
    page.check("input[name=queues][value=eligibility]")
    page.check("input[name=queues][value=submission]")
    page.fill("input[name=password]", "orange kettle ribbon spark")
    page.click("#setup-form button[type=submit]")
    page.wait_for_selector("text=must change it at once")
    shot(page, f"{prefix}-4-biller")
