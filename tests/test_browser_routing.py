"""In a real browser: a supervisor creates a routing rule; the next denial goes to the chosen biller, who
finds it by filtering their queue by payer and amount."""

from __future__ import annotations

from decimal import Decimal

from flask import Flask

from backoffice.extensions import db
from backoffice.work import chains
from backoffice.work.models import WorkItem
from tests import factories as f
from tests.browser import shot, sign_in


def test_supervisor_routes_aetna_denials_to_a_biller_who_filters_for_them(app: Flask, page) -> None:  # noqa: ANN001
    with app.app_context():
        org = f.make_org()
        practice = f.make_practice(org, name="Calm Mind")
        aetna = f.make_payer(org, name="Aetna")
        biller = f.make_user(org, practices=[practice], email="biller@example.test", name="Bea Biller")
        f.make_user(org, role="supervisor", email="sup@example.test", name="Sam Super")
        aetna_id, practice_id, biller_id = aetna.id, practice.id, biller.id

    sign_in(page, "sup@example.test")
    page.goto(page.url.split("/queue")[0] + "/supervisor/routing")
    page.click("text=New rule")
    page.fill("input[name=name]", "Aetna denials to Bea")
    page.select_option("select[name=payer_id]", str(aetna_id))
    page.select_option("select[name=kind]", "work_denial")
    page.select_option("select[name=distribution]", "person")
    page.select_option("select[name=target_user_id]", str(biller_id))
    shot(page, "routing-1-new-rule")
    page.click("button:has-text('Save rule')")
    page.wait_for_selector("text=Rule 'Aetna denials to Bea' saved.")
    shot(page, "routing-2-rules")

    with app.app_context():
        item, _ = chains.add_item(practice_id=practice_id, kind="work_denial", now=f.NOW, reason="CO-22 $300",
                                    session_id=f.make_session(db.session.get(type(practice), practice_id)).id,
                                    payer_id=aetna_id, amount=Decimal("300.00"), denial_family="eligibility",
                                    reason_code="CO-22")  # fmt: skip
        db.session.commit()
        item_id = item.id
        assert db.session.get(WorkItem, item_id).assignee_id == biller_id

    page.click("form .link:has-text('Sign out'), button:has-text('Sign out')")
    sign_in(page, "biller@example.test")
    page.select_option("select[name=payer]", str(aetna_id))
    page.fill("input[name=amount_min]", "250")
    page.click(".queue-filters button[type=submit]")
    page.wait_for_selector(f"text=#{item_id}")
    shot(page, "routing-3-biller-filtered")
    assert "amount_min=250" in page.url and page.input_value("input[name=amount_min]") == "250.00"
