"""In a real browser: a biller finds a self-pay patient, records a sliding-scale determination, sets up a payment
plan, records a payment and drafts and issues a Good Faith Estimate."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from flask import Flask
from sqlalchemy import select

from backoffice.balances import queries, rules, services
from backoffice.balances.models import GoodFaithEstimate
from backoffice.clock import utcnow
from backoffice.extensions import db
from backoffice.patients.models import LedgerEntry
from tests import factories as f
from tests.browser import shot, sign_in


def test_biller_works_a_self_pay_balance_in_the_browser(app: Flask, page) -> None:  # noqa: ANN001
    today = utcnow().date()
    with app.app_context():
        org = f.make_org()
        practice = f.make_practice(org, name="Calm Mind", fee_schedule={"90791": "250.00", "90834": "160.00"})
        f.make_provider(practice, first_name="Rae", last_name="Okafor")
        self_pay = f.make_payer(org, kind="self_pay", name="Self pay")
        patient = f.make_patient(practice, self_pay, first_name="Robin", last_name="Selfpay")
        f.make_patient(practice, last_name="Other")
        supervisor = f.make_user(org, "supervisor")
        f.make_user(org, practices=[practice], email="biller@example.test", name="Bea Biller")
        services.save_tiers(practice=practice, tiers=[rules.Tier(None, "B", 200, discount_percent=Decimal("50"))],
                            actor=supervisor, now=utcnow())  # fmt: skip
        db.session.add(LedgerEntry(practice_id=practice.id, patient_id=patient.id, kind="self_pay_charge",
                                   amount=Decimal("240.00"), reason="Sessions in October", at=utcnow()))  # fmt: skip
        db.session.commit()
        patient_id = patient.id

    sign_in(page, "biller@example.test")
    page.click("nav >> text=Patients")
    page.fill("input[name=q]", "selfp")
    page.click("form[role=search] button")
    shot(page, "balances-1-patients")
    page.click("text=Selfpay, Robin")
    page.wait_for_url(f"**/patients/{patient_id}")

    page.fill("input[name=det-household_size]", "2")
    page.fill("input[name=det-annual_income]", "30000")
    page.fill("input[name=det-evidence]", "2025 tax return")
    page.click("text=Record determination")
    page.wait_for_selector("text=Determination recorded.")

    page.fill("input[name=plan-instalment_count]", "3")
    page.fill("input[name=plan-first_due_on]", (today + timedelta(days=7)).isoformat())
    page.check("input[name=plan-autopay]")
    page.click("text=Create payment plan")
    page.wait_for_selector("text=Payment plan created.")
    page.fill("input[name=pay-amount]", "100.00")
    page.click("text=Record payment >> visible=true")
    page.wait_for_selector("text=Payment recorded.")

    page.select_option("select[name=gfe-services-0-cpt]", "90834")
    page.fill("input[name=gfe-services-0-sessions]", "20")
    page.fill("input[name=gfe-diagnosis_codes]", "F41.1")
    page.fill("input[name=gfe-requested_on]", today.isoformat())
    page.fill("input[name=gfe-covers_from]", (today + timedelta(days=7)).isoformat())
    page.fill("input[name=gfe-covers_to]", (today + timedelta(days=180)).isoformat())
    page.click("text=Draft estimate")
    page.wait_for_selector("text=Good Faith Estimate drafted")
    page.click("form.inline button:has-text('Issue')")
    page.wait_for_selector("text=Good Faith Estimate issued.")
    shot(page, "balances-2-patient")

    with app.app_context():
        plan = queries.open_plan(patient_id)
        assert plan.autopay and [i.amount for i in plan.instalments] == [Decimal("80.00")] * 3
        assert [i.paid_amount for i in plan.instalments] == [Decimal("80.00"), Decimal("20.00"), Decimal("0.00")]
        assert queries.balance(patient_id) == Decimal("140.00")
        gfe = db.session.scalar(select(GoodFaithEstimate))
        assert gfe.state == "issued" and gfe.total == Decimal("1600.00")  # 20 × $80: tier B, 50% off $160
