"""Posting by a person (issue 18): the 835 preview is exactly what posts and changes nothing; an unmatched
remittance claim applied by hand (logged, item closed); a paper EOB refused until it balances, then posted."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from backoffice.claims.models import Claim
from backoffice.claims.rules import ClaimStatus
from backoffice.errors import NotAllowed, ValidationFailed
from backoffice.extensions import db
from backoffice.orgs.models import ContractedRate
from backoffice.remits.manual import post_paper_eob, preview_835
from backoffice.remits.models import ClaimPayment, Remittance
from backoffice.remits.rules import EobAdjustment, EobLine
from backoffice.remits.services import post_835
from backoffice.remits.unmatched import apply_unmatched, default_line_numbers
from backoffice.work.models import Interaction, WorkItem
from backoffice.work.rules import ItemState
from tests import factories as f
from tests.conftest import csrf_token
from tests.test_post_835 import NOW, clp, era, items, make_claim, svc

D = Decimal


@pytest.fixture
def setup(ctx):  # noqa: ANN001, ANN201
    org = f.make_org()
    practice = f.make_practice(org)
    payer = f.make_payer(org, payer_id="1512345678", name="Example Health Plan", appeal_window_days=180)
    patient = f.make_patient(practice, payer, address_line1="1 Elm St", city="Springfield", state="IL",
                             zip_code="62701")  # fmt: skip
    return org, practice, payer, patient


def count(model) -> int:  # noqa: ANN001
    return db.session.scalar(select(func.count()).select_from(model))


def test_the_preview_shows_what_will_post_and_posts_nothing(setup) -> None:  # noqa: ANN001
    org, practice, payer, _ = setup
    claim = make_claim(setup, "ACC1", ("90834", "150.00"))
    make_claim(setup, "ACC2", ("90837", "200.00"))
    db.session.add(ContractedRate(practice_id=practice.id, payer_id=payer.id, cpt="90834", allowed=D("110"),
                                  effective_from=date(2026, 1, 1)))  # fmt: skip
    db.session.commit()
    text = era(
        clp("ACC1", "1", "150", "80", "20", svc("90834", "150", "80", "CAS*CO*45*50", "CAS*PR*3*20")),
        clp("ACC2", "4", "200", "0", "0", svc("90837", "200", "0", "CAS*CO*197*200")),
        clp("NOPE", "1", "100", "60", "0", svc("90834", "100", "60", "CAS*CO*45*40")),
    )
    preview = preview_835(organization_id=org.id, text=text, now=NOW)
    assert count(Remittance) == 0 and count(WorkItem) == 0 and count(ClaimPayment) == 0
    db.session.refresh(claim)
    assert claim.paid_amount == D("0.00") and claim.status == ClaimStatus.SUBMITTED
    [remittance] = preview.remittances
    first, second, third = remittance.claims
    assert (first.claim_id, first.paid, first.patient, first.status_after) == (claim.id, D("80"), D("20"), "paid")
    assert [(code, amount, where, line) for code, amount, where, line in first.adjustments] == [
        ("CO-45", D("50.00"), "contractual", 1), ("PR-3", D("20.00"), "patient", 1)]  # fmt: skip
    assert [(i.kind, i.queue, i.amount) for i in first.items] == [("Underpayment", "underpayments", D("10.00"))]
    assert second.status_after == "denied" and second.items and second.items[0].queue == "authorization"
    assert third.claim_id is None and third.items[0].kind == "Posting exception"
    # Posting it then does exactly that.
    post_835(organization_id=org.id, text=text, now=NOW)
    assert count(Remittance) == 1
    assert [i.amount for i in items(kind="underpayment")] == [D("10.00")]


def test_an_unbalanced_835_is_refused_by_the_preview(setup) -> None:  # noqa: ANN001
    make_claim(setup, "ACC1", ("90834", "150.00"))
    text = era(clp("ACC1", "1", "150", "80", "0", svc("90834", "150", "80", "CAS*CO*45*50")))
    with pytest.raises(ValidationFailed, match="does not balance"):
        preview_835(organization_id=setup[0].id, text=text, now=NOW)
    assert count(Remittance) == 0


def test_an_unmatched_claim_is_applied_by_hand_logged_and_its_item_closed(setup) -> None:  # noqa: ANN001
    org, practice, _, _ = setup
    claim = make_claim(setup, "ACC1", ("90834", "150.00"))
    post_835(organization_id=org.id, now=NOW,
             text=era(clp("ACC-TYPO", "1", "150", "97.5", "20", svc("90834", "150", "97.5", "CAS*CO*45*32.5",
                                                                     "CAS*PR*3*20"))))  # fmt: skip
    [item] = items(kind="posting_exception")
    payment = db.session.get(ClaimPayment, item.claim_payment_id)
    assert payment.claim_id is None and {a.disposition for a in payment.adjustments} == {"unmatched"}
    user = f.make_user(org, "biller", practices=[practice])
    apply_unmatched(payment=payment, claim=claim, actor=user, now=NOW)
    db.session.refresh(claim)
    db.session.refresh(item)
    assert (claim.paid_amount, claim.adjustment_amount, claim.patient_responsibility) == (
        D("97.50"), D("32.50"), D("20.00"))  # fmt: skip
    assert claim.status == ClaimStatus.PAID
    assert item.state == ItemState.DONE and item.result["applied_to_claim_id"] == claim.id
    assert db.session.get(ClaimPayment, payment.id).claim_id == claim.id
    notes = db.session.scalars(select(Interaction.body).where(Interaction.claim_id == claim.id)).all()
    assert any("applied by hand to claim ACC1" in body for body in notes)
    with pytest.raises(ValidationFailed, match="already applied"):
        apply_unmatched(payment=db.session.get(ClaimPayment, payment.id), claim=claim, actor=user, now=NOW)


def eob_lines(paid_2: str) -> list[EobLine]:
    return [
        EobLine(
            1,
            "90834",
            D("150.00"),
            D("100.00"),
            (EobAdjustment("CO", "45", D("30.00")), EobAdjustment("PR", "3", D("20.00"))),
        ),  # fmt: skip
        EobLine(2, "90837", D("200.00"), D(paid_2), (EobAdjustment("CO", "45", D("60.00")),), ("N130",)),
    ]


def test_a_paper_eob_that_does_not_balance_is_refused_then_posts(setup) -> None:  # noqa: ANN001
    org, practice, _, _ = setup
    claim = make_claim(setup, "ACC1", ("90834", "150.00"), ("90837", "200.00"))
    user = f.make_user(org, "biller", practices=[practice])
    with pytest.raises(ValidationFailed) as refused:
        post_paper_eob(claim=claim, actor=user, now=NOW, check_number="10045", paid_on=date(2026, 11, 16),
                       lines=eob_lines("120.00"))  # fmt: skip
    assert "line 2 (90837) paid: charge 200.00 ≠ paid 120.00 + adjustments 60.00 (off by 20.00)" in str(refused.value)
    assert count(Remittance) == 0
    db.session.refresh(claim)
    assert claim.paid_amount == D("0.00")
    result = post_paper_eob(claim=claim, actor=user, now=NOW, check_number="10045", paid_on=date(2026, 11, 16),
                            lines=eob_lines("140.00"))  # fmt: skip
    assert result.claims_posted == 1
    db.session.refresh(claim)
    assert (claim.paid_amount, claim.adjustment_amount, claim.patient_responsibility) == (
        D("240.00"), D("90.00"), D("20.00"))  # fmt: skip
    assert claim.status == ClaimStatus.PAID
    assert [line.paid_amount for line in sorted(claim.lines, key=lambda x: x.line_number)] == [D("100.00"),
                                                                                              D("140.00")]  # fmt: skip
    remittance = db.session.scalar(select(Remittance))
    assert (remittance.source, remittance.trace_number, remittance.payment_method) == ("paper", "10045/ACC1", "CHK")
    # The same check for the same claim again is refused, not posted twice.
    with pytest.raises(ValidationFailed, match="already posted"):
        post_paper_eob(claim=claim, actor=user, now=NOW, check_number="10045", paid_on=date(2026, 11, 16),
                       lines=eob_lines("140.00"))  # fmt: skip


def test_paper_eob_names_bad_group_codes_and_missing_lines(setup) -> None:  # noqa: ANN001
    org, practice, _, _ = setup
    claim = make_claim(setup, "ACC1", ("90834", "150.00"), ("90837", "200.00"))
    user = f.make_user(org, "biller", practices=[practice])
    lines = [EobLine(1, "90834", D("150.00"), D("100.00"), (EobAdjustment("XX", "45", D("50.00")),))]
    with pytest.raises(ValidationFailed) as refused:
        post_paper_eob(claim=claim, actor=user, now=NOW, check_number="1", paid_on=date(2026, 11, 16), lines=lines)
    message = str(refused.value)
    assert "line 1 (90834) adjustment 1 group code: 'XX'" in message
    assert "line 2 (90837): missing from the EOB" in message
    assert "claim charge: the lines add up to 150.00 but the claim's total charge is 350.00" in message
    assert db.session.scalar(select(Claim.paid_amount).where(Claim.id == claim.id)) == D("0.00")


def test_nobody_applies_another_organizations_payment(setup) -> None:  # noqa: ANN001
    org, _, _, _ = setup
    claim = make_claim(setup, "ACC1", ("90834", "150.00"))
    post_835(organization_id=org.id, now=NOW,
             text=era(clp("ACC-TYPO", "1", "150", "150", "0", svc("90834", "150", "150"))))  # fmt: skip
    payment = db.session.scalar(select(ClaimPayment))
    other = f.make_org()
    stranger = f.make_user(other, "supervisor")
    with pytest.raises(NotAllowed):
        apply_unmatched(payment=payment, claim=claim, actor=stranger, now=NOW)
    assert db.session.get(ClaimPayment, payment.id).claim_id is None


def _unmatched_two_lines(setup) -> tuple[Claim, ClaimPayment, WorkItem]:  # noqa: ANN001
    """Claim ACC1: two 90834 lines, on 11/02 and 11/09; an 835 pays them under a mistyped CLP01, the 11/09 service
    first (paid 110) and the 11/02 one second (paid 80, copay 20)."""
    org = setup[0]
    claim = make_claim(setup, "ACC1", ("90834", "150.00"), ("90834", "150.00"))
    claim.lines[1].date_of_service = date(2026, 11, 9)
    db.session.commit()
    post_835(organization_id=org.id, now=NOW, text=era(clp(
        "ACC-TYPO", "1", "300", "190", "20",
        svc("90834", "150", "110", "CAS*CO*45*40", day="20261109"),
        svc("90834", "150", "80", "CAS*CO*45*50", "CAS*PR*3*20", day="20261102"))))  # fmt: skip
    [item] = items(kind="posting_exception")
    return claim, db.session.get(ClaimPayment, item.claim_payment_id), item


def _lines(claim: Claim) -> list[tuple[D, D, D]]:
    db.session.refresh(claim)
    return [(x.paid_amount, x.adjustment_amount, x.patient_responsibility)
            for x in sorted(claim.lines, key=lambda x: x.line_number)]  # fmt: skip


def test_an_unmatched_claim_keeps_its_service_lines_and_is_applied_line_by_line(setup) -> None:  # noqa: ANN001
    org, practice, payer, _ = setup
    db.session.add(ContractedRate(practice_id=practice.id, payer_id=payer.id, cpt="90834", allowed=D("110"),
                                  effective_from=date(2026, 1, 1)))  # fmt: skip
    db.session.commit()
    claim, payment, item = _unmatched_two_lines(setup)
    assert [s["paid"] for s in payment.unmatched_detail["services"]] == ["110", "80"]
    # The form starts from the match posting would make: by code, modifiers and date (11/09 → line 2).
    assert default_line_numbers(payment, claim) == [2, 1]
    user = f.make_user(org, "biller", practices=[practice])
    apply_unmatched(payment=payment, claim=claim, actor=user, now=NOW, line_numbers=[2, 1])
    assert _lines(claim) == [(D("80.00"), D("50.00"), D("20.00")), (D("110.00"), D("40.00"), D("0.00"))]
    assert (claim.paid_amount, claim.adjustment_amount, claim.patient_responsibility) == (
        D("190.00"), D("90.00"), D("20.00"))  # fmt: skip
    db.session.expire_all()
    payment = db.session.get(ClaimPayment, payment.id)
    by_line = {line.id: line.line_number for line in claim.lines}
    assert sorted((by_line[a.claim_line_id], a.group, a.reason, a.disposition) for a in payment.adjustments) == [
        (1, "CO", "45", "contractual"), (1, "PR", "3", "patient"), (2, "CO", "45", "contractual")]  # fmt: skip
    assert payment.claim_id == claim.id and payment.unmatched_detail is None
    # Expected payment ran line by line: line 1 allowed 100 against 110 is underpaid by 10; line 2 (110) is not.
    [under] = items(kind="underpayment")
    assert under.claim_id == claim.id and under.amount == D("10.00")
    assert [x.expected_allowed for x in sorted(claim.lines, key=lambda x: x.line_number)] == [D("110.00")] * 2
    db.session.refresh(item)
    assert item.state == ItemState.DONE
    note = db.session.scalar(select(Interaction.body).where(Interaction.claim_id == claim.id,
                                                            Interaction.body.like("%applied by hand%")))  # fmt: skip
    assert "service lines 1 → claim line 2, 2 → claim line 1" in note


def test_the_poster_may_map_the_service_lines_otherwise(setup) -> None:  # noqa: ANN001
    org, practice, _, _ = setup
    claim, payment, _ = _unmatched_two_lines(setup)
    user = f.make_user(org, "biller", practices=[practice])
    apply_unmatched(payment=payment, claim=claim, actor=user, now=NOW, line_numbers=[1, 2])
    assert _lines(claim) == [(D("110.00"), D("40.00"), D("0.00")), (D("80.00"), D("50.00"), D("20.00"))]


@pytest.mark.parametrize(
    ("chosen", "problem"),
    [
        (
            [1, 1],
            "service line 2 (90834 2026-11-02 charge 150.00 paid 80.00): claim line 1 is already taken by "
            "service line 1",
        ),
        ([1, None], "service line 2 (90834 2026-11-02 charge 150.00 paid 80.00): choose the claim line it pays"),
        ([9, 1], "service line 1 (90834 2026-11-09 charge 150.00 paid 110.00): the claim has no line 9"),
        ([1], "service lines: 2 to map, 1 mapped"),
    ],
)
def test_a_mapping_that_leaves_a_line_out_or_doubles_one_is_refused_and_changes_nothing(setup, chosen, problem) -> None:  # noqa: ANN001
    org, practice, _, _ = setup
    claim, payment, item = _unmatched_two_lines(setup)
    user = f.make_user(org, "biller", practices=[practice])
    with pytest.raises(ValidationFailed) as refused:
        apply_unmatched(payment=payment, claim=claim, actor=user, now=NOW, line_numbers=chosen)
    assert problem in str(refused.value) and "the payment was not applied" in str(refused.value)
    assert _lines(claim) == [(D("0.00"), D("0.00"), D("0.00"))] * 2
    payment = db.session.get(ClaimPayment, payment.id)
    assert payment.claim_id is None and payment.unmatched_detail is not None
    assert {a.disposition for a in payment.adjustments} == {"unmatched"} and len(payment.adjustments) == 3
    db.session.refresh(item)
    assert item.state == ItemState.READY


def test_a_payment_kept_before_its_service_lines_were_applies_at_claim_level(setup) -> None:  # noqa: ANN001
    org, practice, _, _ = setup
    claim, payment, _ = _unmatched_two_lines(setup)
    payment.unmatched_detail = None  # as posted before migration 0027
    db.session.commit()
    apply_unmatched(payment=payment, claim=claim, actor=f.make_user(org, "biller", practices=[practice]), now=NOW)
    db.session.refresh(claim)
    assert (claim.paid_amount, claim.adjustment_amount, claim.patient_responsibility) == (
        D("190.00"), D("90.00"), D("20.00"))  # fmt: skip
    assert _lines(claim) == [(D("0.00"), D("0.00"), D("0.00"))] * 2  # claim level: the lines were not kept


def test_the_unmatched_item_page_maps_the_lines_and_applies_the_payment(app, client, auth) -> None:  # noqa: ANN001
    with app.app_context():
        org = f.make_org()
        practice = f.make_practice(org)
        payer = f.make_payer(org, payer_id="1512345678", name="Example Health Plan", appeal_window_days=180)
        patient = f.make_patient(practice, payer)
        claim_id = make_claim((org, practice, payer, patient), "ACC1", ("90834", "150.00"), ("90837", "200.00")).id
        post_835(organization_id=org.id, now=NOW,
                 text=era(clp("ACC-TYPO", "1", "350", "350", "0", svc("90837", "200", "200"),
                              svc("90834", "150", "150"))))  # fmt: skip
        [item] = items(kind="posting_exception")
        item_id, payment_id = item.id, item.claim_payment_id
        f.make_user(org, practices=[practice], email="poster@example.test")
    auth.login("poster@example.test")
    page = client.get(f"/items/{item_id}").get_data(as_text=True)
    assert "Unmatched payment" in page and "Choose lines and apply" in page
    lines = client.get(f"/payments/unmatched/{payment_id}/lines",
                       query_string={"account_number": "ACC1", "next": f"/items/{item_id}"})  # fmt: skip
    html = lines.get_data(as_text=True)
    assert lines.status_code == 200 and "Apply to claim ACC1 (closes its item)" in html
    assert '<option value="2" selected>line 2 · 90837' in html and '<option value="1" selected>line 1 · 90834' in html
    data = {"csrf_token": csrf_token(html), "account_number": "ACC1", "next": f"/items/{item_id}"}
    # A POST without the mapping goes back to the mapping page; with it the payment is applied.
    response = client.post(f"/payments/unmatched/{payment_id}/apply", data=data)
    assert response.status_code == 302 and f"/payments/unmatched/{payment_id}/lines" in response.headers["Location"]
    refused = client.post(f"/payments/unmatched/{payment_id}/apply", data=data | {"line-1": "1", "line-2": "1"})
    html = refused.get_data(as_text=True)  # the same page, with the refusal and what the poster chose
    assert refused.status_code == 200 and "claim line 1 is already taken by service line 1" in html
    assert html.count('<option value="1" selected>') == 2
    response = client.post(f"/payments/unmatched/{payment_id}/apply", data=data | {"line-1": "2", "line-2": "1"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/items/{item_id}")
    assert "ACC-TYPO" not in client.get("/payments").get_data(as_text=True)  # nothing left unmatched
    # A paper EOB's claim number that finds nothing comes back in the search box with the problem.
    missed = client.get("/payments/eob", query_string={"account_number": "ACC9"}, follow_redirects=True)
    html = missed.get_data(as_text=True)
    assert "no claim &#39;ACC9&#39; in your practices" in html and 'required value="ACC9"' in html
    with app.app_context():
        assert db.session.get(WorkItem, item_id).state == ItemState.DONE
        claim = db.session.get(Claim, claim_id)
        assert claim.paid_amount == D("350.00")
        assert [x.paid_amount for x in sorted(claim.lines, key=lambda x: x.line_number)] == [D("150.00"),
                                                                                            D("200.00")]  # fmt: skip
