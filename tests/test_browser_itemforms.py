"""In a real browser: a biller enters a benefits result on a verify-benefits item, then changes a CPT on a charge
review (audit) item and watches the live scrubber's findings change before saving anything; keyboard shortcuts."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from backoffice.claims.models import Claim
from backoffice.extensions import db
from backoffice.patients.models import BenefitsCheck
from backoffice.work import chains
from backoffice.work.models import WorkItem
from backoffice.work.rules import ItemState
from tests.browser import shot, sign_in
from tests.factories import NOW
from tests.test_itemforms_world import make_claim, make_world


def test_biller_enters_benefits_and_sees_the_live_scrubber_follow_a_cpt_change(app: Flask, page) -> None:  # noqa: ANN001
    with app.app_context():
        w = make_world(prior_auth_cpts=["90837"])
        verify_id = w.chain["verify_benefits"].id
        audit = chains.open_item(practice_id=w.practice.id, kind="audit", now=NOW, session_id=w.session.id,
                               reason="scrubber errors to fix", dedupe_key="test:audit")  # fmt: skip
        audit_id = audit.id
        claim_id = make_claim(w).id

    sign_in(page, "biller@example.test")
    page.goto(f"/items/{verify_id}")
    page.select_option("#benefits-active", "yes")
    page.select_option("#benefits-network", "yes")
    page.fill("#benefits-copay", "30.00")
    page.fill("#benefits-coinsurance", "20")
    page.fill("#benefits-deductible", "250.00")
    page.fill("#benefits-visits-allowed", "20")
    page.fill("#benefits-visits-remaining", "12")
    page.select_option("#benefits-auth", "no")
    page.fill("#benefits-reference", "REF-2026-11")
    shot(page, "itemforms-1-benefits-entry")
    page.click("#benefits-form button[value=finish]")
    page.wait_for_selector("text=Benefits recorded; item completed.")
    shot(page, "itemforms-2-benefits-recorded")
    with app.app_context():
        check = db.session.scalars(select(BenefitsCheck)).one()
        assert (check.source, str(check.copay), check.coinsurance_percent, check.visits_remaining) == (
            "manual", "30.00", 20, 12,
        )  # fmt: skip
        assert db.session.get(WorkItem, verify_id).state == ItemState.DONE

    page.goto(f"/items/{audit_id}")
    page.wait_for_selector("#scrub-findings li.clean")
    assert page.text_content("#charge-total") == "150.00"
    page.fill("input[name=line-1-cpt]", "90837")  # the payer wants prior auth for 90837
    page.wait_for_selector("#scrub-findings li.error >> text=AUTH-REQUIRED")
    assert page.text_content("#charge-total") == "200.00"
    assert page.text_content("#scrub-status") == "1 error(s) · live"
    shot(page, "itemforms-3-live-scrubber-error")
    page.fill("input[name=line-1-cpt]", "9083")
    page.wait_for_selector("#scrub-problems >> text=line 1, CPT: 9083 is not in the catalogue")
    page.fill("input[name=line-1-cpt]", "90834")
    page.wait_for_selector("#scrub-findings li.clean")
    with app.app_context():
        assert db.session.get(Claim, claim_id).version == 1  # previews never save

    page.focus("input[name=line-1-pos]")
    page.fill("input[name=line-1-pos]", "02")
    page.keyboard.press("Control+Enter")  # submits with the primary button: save and pass audit
    page.wait_for_selector("text=Claim lines saved; item completed.")
    shot(page, "itemforms-4-audit-passed")
    with app.app_context():
        claim = db.session.get(Claim, claim_id)
        assert claim.version == 2 and claim.lines[0].place_of_service == "02"
        assert db.session.get(WorkItem, audit_id).state == ItemState.DONE


def test_queue_keys_move_the_selection_open_and_take_an_item(app: Flask, page) -> None:  # noqa: ANN001
    with app.app_context():
        w = make_world()
        second = chains.open_item(practice_id=w.practice.id, kind="audit", now=NOW, session_id=w.session.id,
                                reason="look", dedupe_key="test:audit", priority=-1)  # fmt: skip
        ids = [w.chain["verify_benefits"].id, second.id]

    sign_in(page, "biller@example.test")
    page.goto("/queue")
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    selected = page.locator("table.items tr.selected a").first.get_attribute("href")
    assert selected.endswith(f"/items/{ids[0]}") or selected.endswith(f"/items/{ids[1]}")
    shot(page, "itemforms-5-queue-selection")
    page.keyboard.press("t")  # take and start the selected item
    page.wait_for_selector("text=Started.")
    item_id = int(page.url.rsplit("/", 1)[1].split("#")[0])
    assert page.url.endswith(f"/items/{item_id}")
    with app.app_context():
        taken = db.session.get(WorkItem, item_id)
        assert taken.state == ItemState.IN_PROGRESS and taken.assignee.email == "biller@example.test"
    page.keyboard.press("r")  # release: opens the form with the reason focused
    page.keyboard.type("wrong practice queue")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("text=Reassigned.")
    page.keyboard.press("?")
    assert page.is_visible("#keys-help >> text=take and start")
    with app.app_context():
        assert db.session.get(WorkItem, item_id).assignee_id is None
