"""In a real browser: a biller signs in, gets the next item, logs a payer call and completes the item."""

from __future__ import annotations

from flask import Flask

from backoffice.extensions import db
from backoffice.work.models import Interaction, WorkItem
from backoffice.work.rules import InteractionKind, ItemState
from tests import factories as f
from tests.browser import shot, sign_in


def test_biller_gets_next_logs_a_call_and_completes_it_in_the_browser(app: Flask, page) -> None:
    with app.app_context():
        org = f.make_org()
        practice = f.make_practice(org, name="Calm Mind")
        f.make_payer(org, name="Aetna")
        f.make_user(org, practices=[practice], email="biller@example.test", name="Bea Biller")
        (item,) = f.make_ready_items(practice, 1)
        item_id = item.id

    sign_in(page, "biller@example.test")
    shot(page, "biller-1-queue")
    page.click("form.getnext button")
    page.wait_for_url(f"**/items/{item_id}")
    shot(page, "biller-2-item")

    page.fill("input[name=representative]", "Dana at Aetna")
    page.fill("input[name=reference_number]", "REF-20261122-7")
    page.select_option("#call-outcome", "in_process")
    page.fill("#call-body", "Claim is in process; call back in 14 days.")
    page.click("#call form button[type=submit]")
    page.wait_for_selector("text=Call logged.")

    page.select_option("#complete select[name=outcome]", "resolved")
    page.click("#complete form button[type=submit]")
    page.wait_for_selector("text=Completed.")
    shot(page, "biller-3-completed")

    with app.app_context():
        done = db.session.get(WorkItem, item_id)
        assert done.state == ItemState.DONE
        call = db.session.query(Interaction).filter_by(work_item_id=item_id, kind=InteractionKind.CALL).one()
        assert (call.representative, call.reference_number, call.outcome) == (
            "Dana at Aetna",
            "REF-20261122-7",
            "in_process",
        )
