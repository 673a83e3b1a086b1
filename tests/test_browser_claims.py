"""In a real browser: a biller finds a claim by member ID from the Claims page and opens it; then corrects a
rejected claim's member ID and resubmits it, after an unchanged resubmit was refused."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from backoffice.claims.models import Claim
from backoffice.exchange.ingest import ingest_all
from backoffice.exchange.submission import submit_claims
from backoffice.extensions import db
from backoffice.patients.models import Coverage
from backoffice.work.models import WorkItem
from tests import factories as f
from tests.browser import shot, sign_in
from tests.factories_submission import NOW, account_for, edi_setup, scrubbed_claim


def _sent(scenario: str) -> tuple[int, str, str]:
    """A claim answered by the Sandbox payer with ``scenario``; (claim id, member ID, biller email)."""
    org, practice, provider, payer = edi_setup()
    claim = scrubbed_claim(practice, provider, payer, account_number=account_for(scenario))
    submit_claims(organization_id=org.id, claim_ids=[claim.id], now=NOW, source="test")
    ingest_all(now=NOW)
    biller = f.make_user(org, "biller", [practice], email=f"biller{claim.id}@browser.test")
    return claim.id, db.session.get(Coverage, claim.coverage_id).member_id, biller.email


def test_a_biller_finds_a_claim_by_member_id_and_opens_it(app: Flask, page) -> None:  # noqa: ANN001
    with app.app_context():
        claim_id, member_id, email = _sent("denied_auth")
        _sent("paid")  # another patient's claim, which the search must leave out
        account = db.session.get(Claim, claim_id).account_number
    sign_in(page, email)
    page.click("nav >> text=Claims")
    page.fill("#claim-search input[name=member_id]", member_id)
    page.click("#claim-search button[type=submit]")
    page.wait_for_selector("#claims")
    assert page.locator("#claims tbody tr").count() == 1
    shot(page, "claims-1-search-by-member-id")
    page.click(f"#claims >> text={account}")
    page.wait_for_selector("#claim-lines")
    assert account in page.text_content("h1")
    assert page.text_content("#claim-member-id").startswith(member_id)
    assert page.locator("#claim-history tbody tr").count() >= 3  # submitted, 277CA, 835
    assert page.locator("#replace-form").count() == 1  # a denial can be corrected and replaced
    shot(page, "claims-2-claim-page")


def test_a_biller_corrects_a_rejected_claims_member_id_and_resubmits_it(app: Flask, page) -> None:  # noqa: ANN001
    with app.app_context():
        claim_id, member_id, email = _sent("rejected")
    sign_in(page, email)
    page.goto(f"/claims/{claim_id}")
    form = page.locator("#correct-form")
    form.locator("textarea[name=reason]").fill("277CA: subscriber not found")
    form.locator("button[value=resubmit]").click()
    page.wait_for_selector("text=nothing changed since version 1 was sent")
    shot(page, "claims-3-unchanged-resubmit-refused")
    form = page.locator("#correct-form")
    form.locator("input[name=member_id]").fill("W555000222")
    form.locator("textarea[name=reason]").fill("277CA: subscriber not found; member ID from the card")
    form.locator("button[value=resubmit]").click()
    page.wait_for_selector("text=Claim corrected as version 2; resubmission queued.")
    assert page.text_content("#claim-member-id").startswith("W555000222")
    assert "member id" in page.text_content("#claim-versions").lower()
    shot(page, "claims-4-corrected-and-resubmitted")
    with app.app_context():
        claim = db.session.get(Claim, claim_id)
        assert (claim.status, claim.version, claim.frequency_code) == ("scrubbed", 2, "1")
        assert db.session.get(Coverage, claim.coverage_id).member_id == "W555000222" != member_id
        assert db.session.scalar(select(WorkItem.id).where(WorkItem.claim_id == claim_id, WorkItem.kind == "submit"))
