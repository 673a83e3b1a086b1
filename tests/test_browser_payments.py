"""In a real browser: a biller uploads an 835, reviews the preview (what posts where, the underpayment it opens) and
posts it; then keys a paper EOB that does not balance (refused, naming the line and field) and fixes it (posted);
then applies an 835 claim that matched no claim to the right one, checking which claim line each service line pays."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from flask import Flask
from sqlalchemy import select

from backoffice.claims.models import Claim, ClaimLine
from backoffice.claims.rules import ClaimStatus
from backoffice.clock import utcnow
from backoffice.extensions import db
from backoffice.orgs.models import ContractedRate
from backoffice.patients.models import Coverage
from backoffice.remits.models import Remittance
from backoffice.work.models import WorkItem
from tests import factories as f
from tests.browser import shot, sign_in
from tests.test_post_835 import clp, era, svc

D = Decimal


def _claim(practice, payer, patient, account: str, *lines: tuple[str, str]) -> Claim:  # noqa: ANN001
    coverage = db.session.scalar(select(Coverage).where(Coverage.patient_id == patient.id))
    claim = Claim(practice_id=practice.id, patient_id=patient.id, payer_id=payer.id, coverage_id=coverage.id,
                  account_number=account, status=ClaimStatus.SUBMITTED, total_charge=sum(D(c) for _, c in lines),
                  created_at=utcnow(),
                  lines=[ClaimLine(line_number=n, date_of_service=date(2026, 11, 2), cpt=cpt, modifiers=[], units=1,
                                   place_of_service="11", diagnosis_pointers=[1], charge=D(charge))
                         for n, (cpt, charge) in enumerate(lines, start=1)])  # fmt: skip
    db.session.add(claim)
    return claim


def test_biller_posts_an_835_and_a_paper_eob_in_the_browser(app: Flask, page, tmp_path) -> None:  # noqa: ANN001
    with app.app_context():
        org = f.make_org()
        practice = f.make_practice(org, name="Calm Mind")
        payer = f.make_payer(org, payer_id="1512345678", name="Example Health Plan", appeal_window_days=180)
        patient = f.make_patient(practice, payer)
        _claim(practice, payer, patient, "ACC1", ("90834", "150.00"))
        eob_claim = _claim(practice, payer, patient, "ACC2", ("90834", "150.00"), ("90837", "200.00"))
        typo_claim = _claim(practice, payer, patient, "ACC3", ("90834", "150.00"), ("90837", "200.00"))
        db.session.add(ContractedRate(practice_id=practice.id, payer_id=payer.id, cpt="90834", allowed=D("110.00"),
                                      effective_from=date(2026, 1, 1)))  # fmt: skip
        f.make_user(org, practices=[practice], email="poster@example.test", name="Pat Poster")
        db.session.commit()
        eob_claim_id, typo_claim_id = eob_claim.id, typo_claim.id
    text = era(clp("ACC1", "1", "150", "80", "20", svc("90834", "150", "80", "CAS*CO*45*50", "CAS*PR*3*20")))
    upload = tmp_path / "era.835"
    upload.write_text(text)

    sign_in(page, "poster@example.test")
    page.click("nav >> text=Payments")
    page.click("text=Upload an 835")
    page.set_input_files("input[name=file]", str(upload))
    page.click("button:has-text('Preview')")
    page.wait_for_selector("text=Preview: nothing is posted yet")
    page.wait_for_selector("text=CO-45 $50.00 → contractual (line 1)")
    page.wait_for_selector("text=Underpayment → underpayments $10.00")
    shot(page, "payments-1-preview")
    with app.app_context():
        assert db.session.scalar(select(Remittance.id)) is None  # the preview posted nothing
    page.click("button:has-text('Post')")
    page.wait_for_selector("text=1 payment(s) posted")
    shot(page, "payments-2-posted")
    with app.app_context():
        assert db.session.scalar(select(Claim.paid_amount).where(Claim.account_number == "ACC1")) == D("80.00")
        item = db.session.scalar(select(WorkItem).where(WorkItem.kind == "underpayment"))
        assert item.amount == D("10.00")

    page.fill("input[name=account_number] >> nth=0", "ACC2")
    page.click("button:has-text('Enter EOB')")
    page.wait_for_url(f"**/claims/{eob_claim_id}/eob")
    page.fill("input[name=check_number]", "10045")
    page.fill("input[name=paid_on]", "2026-11-16")
    page.fill("input[name=lines-0-paid]", "100.00")
    page.select_option("select[name=lines-0-adjustments-0-group]", "CO")
    page.fill("input[name=lines-0-adjustments-0-reason]", "45")
    page.fill("input[name=lines-0-adjustments-0-amount]", "30.00")
    page.select_option("select[name=lines-0-adjustments-1-group]", "PR")
    page.fill("input[name=lines-0-adjustments-1-reason]", "3")
    page.fill("input[name=lines-0-adjustments-1-amount]", "20.00")
    page.fill("input[name=lines-1-paid]", "120.00")
    page.select_option("select[name=lines-1-adjustments-0-group]", "CO")
    page.fill("input[name=lines-1-adjustments-0-reason]", "45")
    page.fill("input[name=lines-1-adjustments-0-amount]", "60.00")
    page.click("button:has-text('Post EOB')")
    page.wait_for_selector("text=line 2 (90837) paid: charge 200.00 ≠ paid 120.00 + adjustments 60.00")
    shot(page, "payments-3-eob-refused")
    with app.app_context():
        assert db.session.scalar(select(Claim.paid_amount).where(Claim.id == eob_claim_id)) == D("0.00")
    page.fill("input[name=lines-1-paid]", "140.00")
    page.click("button:has-text('Post EOB')")
    page.wait_for_selector("text=Paper EOB posted to claim ACC2")
    shot(page, "payments-4-eob-posted")
    with app.app_context():
        claim = db.session.get(Claim, eob_claim_id)
        assert (claim.paid_amount, claim.status) == (D("240.00"), ClaimStatus.PAID)
        assert db.session.scalar(select(Remittance.source).where(Remittance.trace_number == "10045/ACC2")) == "paper"

    # An 835 pays claim ACC3 under a mistyped CLP01, its 90837 service first: the poster applies it line by line.
    typo = tmp_path / "typo.835"
    typo.write_text(era(clp("ACC-3", "1", "350", "290", "0", svc("90837", "200", "140", "CAS*CO*45*60"),
                            svc("90834", "150", "150")), trace="EFT9"))  # fmt: skip
    page.click("nav >> text=Payments")
    page.click("text=Upload an 835")
    page.set_input_files("input[name=file]", str(typo))
    page.click("button:has-text('Preview')")
    page.wait_for_selector("text=Preview: nothing is posted yet")
    page.click("button:has-text('Post')")
    page.wait_for_selector("text=1 unmatched")
    page.fill("input[aria-label='Claim account number for ACC-3']", "ACC3")
    page.click("button:has-text('Apply…')")
    page.wait_for_selector("text=Apply an unmatched payment")
    assert page.input_value("select[name=line-1]") == "2" and page.input_value("select[name=line-2]") == "1"
    shot(page, "payments-5-unmatched-lines")
    page.select_option("select[name=line-2]", "2")  # a slip: both on line 2
    page.click("button:has-text('Apply to claim ACC3')")
    page.wait_for_selector("text=claim line 2 is already taken by service line 1")
    assert page.input_value("select[name=line-2]") == "2"  # what the poster chose stays
    with app.app_context():
        assert db.session.scalar(select(Claim.paid_amount).where(Claim.id == typo_claim_id)) == D("0.00")
    page.select_option("select[name=line-2]", "1")
    page.click("button:has-text('Apply to claim ACC3')")
    page.wait_for_selector("text=Payment applied to claim ACC3")
    with app.app_context():
        lines = db.session.scalars(select(ClaimLine).where(ClaimLine.claim_id == typo_claim_id)
                                   .order_by(ClaimLine.line_number)).all()  # fmt: skip
        assert [line.paid_amount for line in lines] == [D("150.00"), D("140.00")]
