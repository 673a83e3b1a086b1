"""In a real browser: a supervisor filters denials by CARC, sees the preview and bulk-reassigns them to a biller."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from flask import Flask
from sqlalchemy import select

from backoffice.clock import utcnow
from backoffice.extensions import db
from backoffice.work import chains
from backoffice.work.models import Interaction, WorkItem
from backoffice.work.rules import InteractionKind
from tests import factories as f
from tests.browser import shot, sign_in


def test_a_supervisor_bulk_reassigns_denials_with_a_preview(app: Flask, page) -> None:
    with app.app_context():
        org = f.make_org()
        practice = f.make_practice(org, name="Calm Mind")
        aetna = f.make_payer(org, name="Aetna")
        f.make_user(org, role="supervisor", email="boss@example.test", name="Sam Supervisor")
        bob = f.make_user(org, practices=[practice], name="Bob Biller")
        ann = f.make_user(org, practices=[practice], name="Ann Biller")
        now = utcnow()
        denials = {}
        for n, code in enumerate(["CO-50", "CO-50", "CO-50", "CO-97"]):
            session = f.make_session(practice)
            item = chains.open_item(practice_id=practice.id, kind="work_denial", now=now - timedelta(days=n + 1),
                                  reason="denied", session_id=session.id)  # fmt: skip
            item.reason_code, item.amount, item.payer_id, item.assignee_id = code, Decimal("120.00"), aetna.id, bob.id
            denials[item.id] = code
        db.session.commit()
        ann_id = ann.id
    medical_necessity = {i for i, code in denials.items() if code == "CO-50"}

    sign_in(page, "boss@example.test")
    page.goto("/supervisor/reassign")
    page.select_option("#kind", "work_denial")
    page.fill("#reason_code", "CO-50")
    page.click("#bulk-filter button[type=submit]")
    page.wait_for_selector("#preview")
    preview = page.inner_text("#preview")
    assert "3 item(s) · $360.00" in preview and "Bob Biller 3" in preview
    shot(page, "supervisor-1-preview")

    page.check("input[name=target][value=person]")
    page.select_option("#assignee_id", str(ann_id))
    page.fill("#confirm input[name=reason]", "Bob is out this week")
    page.click("#confirm button[type=submit]")
    page.wait_for_selector("text=Reassigned 3 item(s) (Ann Biller: 3)")
    shot(page, "supervisor-2-reassigned")

    with app.app_context():
        owners = {i: db.session.get(WorkItem, i).assignee_id for i in denials}
        assert {owners[i] for i in medical_necessity} == {ann_id}
        assert {owner for i, owner in owners.items() if i not in medical_necessity} != {ann_id}
        logs = db.session.scalars(select(Interaction).where(Interaction.kind == InteractionKind.ASSIGNMENT)).all()
        assert {log.work_item_id for log in logs} == medical_necessity
        assert {log.body for log in logs} == {"Bob is out this week"}


def test_a_biller_asks_for_a_write_off_and_a_supervisor_approves_it_in_the_browser(app: Flask, page) -> None:
    from backoffice.claims.models import Claim
    from backoffice.claims.rules import ClaimStatus
    from tests.factories_edi_posting import make_claim

    with app.app_context():
        org = f.make_org()
        practice = f.make_practice(org, name="Calm Mind")
        payer = f.make_payer(org, name="Aetna")
        f.make_user(org, practices=[practice], email="bea@example.test", name="Bea Biller")
        f.make_user(org, role="supervisor", email="boss@example.test", name="Sam Supervisor")
        claim = make_claim(practice, f.make_patient(practice, payer), status=ClaimStatus.DENIED)
        item = chains.open_item(practice_id=practice.id, kind="work_denial", now=utcnow(), reason="CO-29",
                              claim_id=claim.id)  # fmt: skip
        item_id, claim_id = item.id, claim.id

    sign_in(page, "bea@example.test")
    page.goto(f"/items/{item_id}")
    page.click("#write-off summary")
    page.select_option("#write-off-balance", "insurance")
    page.fill("#write-off-amount", "150.00")
    page.select_option("#write-off-reason", "timely_filing")
    page.click("#write-off button[type=submit]")
    page.wait_for_selector("text=sent for a supervisor's approval")
    shot(page, "write-off-1-requested")
    page.click("button.link:has-text('Sign out')")

    sign_in(page, "boss@example.test")
    page.goto("/supervisor/write-offs")
    page.fill("input[name=note]", "No proof of timely filing")
    page.click("button[value=approve]")
    page.wait_for_selector("text=approved and posted")
    shot(page, "write-off-2-approved")
    with app.app_context():
        claim = db.session.get(Claim, claim_id)
        assert (claim.adjustment_amount, claim.status) == (Decimal("150.00"), ClaimStatus.CLOSED)
