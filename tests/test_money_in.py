"""Money in (issue 18): expected payment against contracted rates (underpayment items), duplicate payments kept
unapplied (overpayment items), PLB recoupments / interest / other provider-level adjustments."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from backoffice.claims.models import Claim, ClaimLine
from backoffice.claims.rules import ClaimStatus
from backoffice.extensions import db
from backoffice.orgs.models import ContractedRate
from backoffice.remits import rules
from backoffice.remits.models import ClaimPayment, ProviderAdjustment, Remittance
from backoffice.remits.services import post_835
from backoffice.work.models import Interaction
from tests import factories as f
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


def rate(setup, cpt: str, allowed: str, modifier: str = "", start: date = date(2026, 1, 1), end=None):  # noqa: ANN001, ANN201
    _, practice, payer, _ = setup
    row = ContractedRate(practice_id=practice.id, payer_id=payer.id, cpt=cpt, modifier=modifier, allowed=D(allowed),
                         effective_from=start, effective_to=end)  # fmt: skip
    db.session.add(row)
    db.session.commit()
    return row


def post(setup, *claims: str, **kw) -> object:  # noqa: ANN001, ANN003
    return post_835(organization_id=setup[0].id, now=NOW, text=era(*claims, **kw))


# --- Expected payment -------------------------------------------------------------------------------------------


def test_an_underpaid_835_opens_an_underpayment_item_with_the_difference(setup) -> None:  # noqa: ANN001
    claim = make_claim(setup, "ACC1", ("90834", "150.00"))
    rate(setup, "90834", "110.00")
    # Allowed 100 (paid 80 + copay 20) against a contracted 110: short by 10, beyond max($1, 2% = $2.20).
    result = post(setup, clp("ACC1", "1", "150", "80", "20", svc("90834", "150", "80", "CAS*CO*45*50", "CAS*PR*3*20")))
    assert result.underpayment_items == 1
    [item] = items(kind="underpayment")
    assert item.claim_id == claim.id and item.amount == D("10.00") and item.queue == "underpayments"
    assert item.denial_family == "underpayment" and item.reason_code == "CO-45"
    line = db.session.scalar(select(ClaimLine).where(ClaimLine.claim_id == claim.id))
    assert line.expected_allowed == D("110.00")
    # The payment itself posted as the payer sent it.
    db.session.refresh(claim)
    assert claim.paid_amount == D("80.00") and claim.status == ClaimStatus.PAID


def test_co45_below_the_contract_is_flagged_on_the_item(setup) -> None:  # noqa: ANN001
    make_claim(setup, "ACC1", ("90834", "150.00"))
    rate(setup, "90834", "110.00")
    post(setup, clp("ACC1", "1", "150", "80", "20", svc("90834", "150", "80", "CAS*CO*45*50", "CAS*PR*3*20")))
    [item] = items(kind="underpayment")
    assert item.reason_code == "CO-45"
    body = db.session.scalar(select(Interaction.body).where(Interaction.work_item_id == item.id))
    assert "CO-45 took the allowed amount below the contracted rate" in body
    assert "underpaid $10.00" in body


@pytest.mark.parametrize(
    ("allowed", "paid", "opens"),
    [
        ("100.00", "79.00", False),  # short $1.00 of a $100 contract: within max($1, $2) → no item
        ("100.00", "78.00", False),  # short $2.00: exactly the 2% tolerance → no item
        ("100.00", "77.99", True),  # short $2.01: beyond → item
        ("40.00", "18.99", True),  # short $1.01 of $40 (2% = $0.80): the $1 wins and is exceeded → item
        ("40.00", "19.00", False),  # short $1.00 of $40: within the $1 → no item
    ],
)
def test_the_larger_of_the_two_tolerances_wins(setup, allowed: str, paid: str, opens: bool) -> None:  # noqa: ANN001
    make_claim(setup, "ACC1", ("90834", "150.00"))
    rate(setup, "90834", allowed)
    co45 = D("150") - D(paid) - D("20")
    post(setup, clp("ACC1", "1", "150", paid, "20", svc("90834", "150", paid, f"CAS*CO*45*{co45}", "CAS*PR*3*20")))
    found = items(kind="underpayment")
    assert bool(found) is opens
    if opens:
        assert found[0].amount == D(allowed) - D(paid) - D("20")


def test_practice_tolerance_setting_is_used(setup) -> None:  # noqa: ANN001
    _, practice, _, _ = setup
    practice.underpayment_tolerance, practice.underpayment_tolerance_percent = D("15.00"), D("0")
    db.session.commit()
    make_claim(setup, "ACC1", ("90834", "150.00"))
    rate(setup, "90834", "110.00")
    post(setup, clp("ACC1", "1", "150", "80", "20", svc("90834", "150", "80", "CAS*CO*45*50", "CAS*PR*3*20")))
    assert items(kind="underpayment") == []


def test_paid_at_the_contract_opens_nothing_and_records_the_expected_amount(setup) -> None:  # noqa: ANN001
    claim = make_claim(setup, "ACC1", ("90834", "150.00"), ("90837", "200.00"))
    rate(setup, "90834", "100.00")
    rate(setup, "90837", "130.00", start=date(2025, 1, 1), end=date(2026, 6, 30))  # expired: not in force on DOS
    rate(setup, "90837", "140.00", start=date(2026, 7, 1))
    post(setup, clp("ACC1", "1", "350", "220", "20",
                    svc("90834", "150", "80", "CAS*CO*45*50", "CAS*PR*3*20"),
                    svc("90837", "200", "140", "CAS*CO*45*60")))  # fmt: skip
    assert items(kind="underpayment") == []
    lines = db.session.scalars(select(ClaimLine).where(ClaimLine.claim_id == claim.id).order_by(ClaimLine.line_number))
    assert [line.expected_allowed for line in lines] == [D("100.00"), D("140.00")]


def test_a_modifier_rate_wins_over_the_plain_one_and_units_multiply(setup) -> None:  # noqa: ANN001
    claim = make_claim(setup, "ACC1", ("90834", "150.00"))
    line = claim.lines[0]
    line.modifiers, line.units = ["95"], 2
    db.session.commit()
    rate(setup, "90834", "100.00")
    rate(setup, "90834", "90.00", modifier="95")
    post(setup, clp("ACC1", "1", "150", "150", "0", "~".join(["SVC*HC:90834:95*150*150**2", "DTM*472*20261102"])))
    db.session.refresh(line)
    assert line.expected_allowed == D("180.00")
    [item] = items(kind="underpayment")
    assert item.amount == D("30.00")


def test_a_denied_line_and_a_claim_without_rate_are_not_underpayments(setup) -> None:  # noqa: ANN001
    make_claim(setup, "ACC1", ("90834", "150.00"))
    make_claim(setup, "ACC2", ("90791", "250.00"))
    rate(setup, "90834", "110.00")
    post(setup,
         clp("ACC1", "4", "150", "0", "0", svc("90834", "150", "0", "CAS*CO*50*150")),
         clp("ACC2", "1", "250", "10", "0", svc("90791", "250", "10", "CAS*CO*45*240")))  # fmt: skip
    assert items(kind="underpayment") == []
    assert len(items(kind="appeal")) == 1  # the denial is worked as a denial


def test_rules_tolerance_and_check_line() -> None:
    assert rules.tolerance(D("40"), D("1.00"), D("2")) == D("1.00")
    assert rules.tolerance(D("150"), D("1.00"), D("2")) == D("3.00")
    check = rules.check_line(expected=D("110"), charge=D("150"), paid=D("80"), patient=D("20"), co45=D("50"),
                             tolerance_dollars=D("1"), tolerance_percent=D("2"))  # fmt: skip
    assert (check.allowed, check.shortfall, check.co45_below_contract) == (D("100"), D("10"), True)


# --- Duplicates -------------------------------------------------------------------------------------------------


def test_a_duplicate_payment_under_a_new_trace_opens_an_overpayment_item(setup) -> None:  # noqa: ANN001
    claim = make_claim(setup, "ACC1", ("90834", "150.00"))
    paid = clp("ACC1", "1", "150", "97.5", "20", svc("90834", "150", "97.5", "CAS*CO*45*32.5", "CAS*PR*3*20"))
    post(setup, paid, trace="EFT1")
    result = post(setup, paid, trace="EFT2")
    assert result.remittances_posted == 1 and result.overpayment_items == 1
    db.session.refresh(claim)
    # Not doubled: the claim and its line keep the first payment; the second is an unapplied credit.
    assert (claim.paid_amount, claim.adjustment_amount, claim.patient_responsibility) == (
        D("97.50"), D("32.50"), D("20.00"))  # fmt: skip
    assert claim.lines[0].paid_amount == D("97.50")
    second = db.session.scalar(select(ClaimPayment).join(Remittance).where(Remittance.trace_number == "EFT2"))
    assert second.claim_id == claim.id and second.unapplied_amount == D("97.50")
    assert {a.disposition for a in second.adjustments} == {"duplicate"}
    [item] = items(kind="overpayment")
    assert item.claim_id == claim.id and item.claim_payment_id == second.id and item.amount == D("97.50")
    first = db.session.scalar(select(ClaimPayment).join(Remittance).where(Remittance.trace_number == "EFT1"))
    assert first.unapplied_amount == D("0.00")


def test_a_duplicate_in_the_same_file_is_caught_too(setup) -> None:  # noqa: ANN001
    claim = make_claim(setup, "ACC1", ("90834", "150.00"))
    paid = clp("ACC1", "1", "150", "100", "0", svc("90834", "150", "100", "CAS*CO*45*50"))
    post(setup, paid, paid)
    db.session.refresh(claim)
    assert claim.paid_amount == D("100.00")
    assert len(items(kind="overpayment")) == 1


def test_a_payment_after_a_denial_or_a_reversal_is_not_a_duplicate(setup) -> None:  # noqa: ANN001
    denied = make_claim(setup, "ACC1", ("90834", "150.00"))
    post(setup, clp("ACC1", "4", "150", "0", "0", svc("90834", "150", "0", "CAS*CO*197*150")), trace="EFT1")
    post(setup, clp("ACC1", "1", "150", "100", "0", svc("90834", "150", "100", "CAS*CO*45*50")), trace="EFT2")
    db.session.refresh(denied)
    assert denied.paid_amount == D("100.00") and items(kind="overpayment") == []
    make_claim(setup, "ACC2", ("90834", "150.00"))
    original = clp("ACC2", "1", "150", "100", "0", svc("90834", "150", "100", "CAS*CO*45*50"))
    post(setup, original, trace="EFT3")
    reversal = clp("ACC2", "22", "-150", "-100", "0", svc("90834", "-150", "-100", "CAS*CO*45*-50"))
    corrected = clp("ACC2", "1", "150", "110", "0", svc("90834", "150", "110", "CAS*CO*45*40"))
    post(setup, reversal, corrected, trace="EFT4")
    assert items(kind="overpayment") == []
    assert db.session.scalar(select(Claim.paid_amount).where(Claim.account_number == "ACC2")) == D("110.00")


# --- PLB --------------------------------------------------------------------------------------------------------


def test_a_wo_recoupment_reduces_its_claim_and_opens_an_item_on_it(setup) -> None:  # noqa: ANN001
    old = make_claim(setup, "OLD1", ("90834", "150.00"))
    post(setup, clp("OLD1", "1", "150", "100", "0", svc("90834", "150", "100", "CAS*CO*45*50")), trace="EFT1")
    make_claim(setup, "ACC2", ("90837", "200.00"))
    result = post(setup, clp("ACC2", "1", "200", "140", "0", svc("90837", "200", "140", "CAS*CO*45*60")),
                  trace="EFT2", plb="PLB*1234567893*20261231*WO:OLD1*40")  # fmt: skip
    assert result.remittances_posted == 1 and result.recoupment_items == 1
    db.session.refresh(old)
    assert old.paid_amount == D("60.00") and old.lines[0].paid_amount == D("60.00")  # the line too
    [item] = items(kind="recoupment")
    assert item.claim_id == old.id and item.amount == D("40.00")
    [row] = db.session.scalars(select(ProviderAdjustment)).all()
    assert (row.kind, row.reason, row.reference, row.amount, row.claim_id) == ("recoupment", "WO", "OLD1",
                                                                              D("40.00"), old.id)  # fmt: skip
    assert row.line_amounts == {str(old.lines[0].id): "40.00"}
    # The payment balances: BPR02 140 − 40 = 100 = ΣCLP04 − ΣPLB.
    remittance = db.session.scalar(select(Remittance).where(Remittance.trace_number == "EFT2"))
    paid = sum(p.paid for p in remittance.payments)
    assert remittance.total_paid == paid - sum(p.amount for p in remittance.plb_rows) == D("100.00")


def _line_paid(claim: Claim) -> list[D]:
    db.session.refresh(claim)
    return [line.paid_amount for line in sorted(claim.lines, key=lambda x: x.line_number)]


def test_a_recoupment_is_spread_over_the_lines_by_what_each_was_paid_and_a_reversal_gives_it_back(setup) -> None:  # noqa: ANN001
    old = make_claim(setup, "OLD1", ("90834", "150.00"), ("90837", "200.00"), ("90785", "20.00"))
    post(setup, clp("OLD1", "1", "370", "150", "0", svc("90834", "150", "100", "CAS*CO*45*50"),
                    svc("90837", "200", "50", "CAS*CO*45*150"), svc("90785", "20", "0", "CAS*CO*97*20")),
         trace="EFT1")  # fmt: skip
    make_claim(setup, "ACC2", ("90837", "200.00"))
    make_claim(setup, "ACC3", ("90837", "200.00"))
    pay = clp("ACC2", "1", "200", "140", "0", svc("90837", "200", "140", "CAS*CO*45*60"))
    post(setup, pay, trace="EFT2", plb="PLB*1234567893*20261231*WO:OLD1*40")
    # 40 over paid 100 and 50: 26.67 and the remainder 13.33 on the last paid line; the unpaid line keeps 0.
    assert _line_paid(old) == [D("73.33"), D("36.67"), D("0.00")]
    assert old.paid_amount == D("110.00") == sum(_line_paid(old))
    row = db.session.scalar(select(ProviderAdjustment).where(ProviderAdjustment.reason == "WO"))
    ids = [str(line.id) for line in sorted(old.lines, key=lambda x: x.line_number)]
    assert row.line_amounts == {ids[0]: "26.67", ids[1]: "13.33"}
    body = db.session.scalar(select(Interaction.body).where(Interaction.work_item_id == items(kind="recoupment")[0].id))
    assert "recouped $40.00 (reference OLD1; line 1 26.67, line 2 13.33)" in body
    # The payer reverses the recoupment (a negative WO): the same cents go back to the same lines.
    pay = clp("ACC3", "1", "200", "140", "0", svc("90837", "200", "140", "CAS*CO*45*60"))
    post(setup, pay, trace="EFT3", plb="PLB*1234567893*20261231*WO:OLD1*-40")
    assert _line_paid(old) == [D("100.00"), D("50.00"), D("0.00")]
    assert old.paid_amount == D("150.00")
    back = db.session.scalar(select(ProviderAdjustment).where(ProviderAdjustment.amount == D("-40.00")))
    assert back.line_amounts == {ids[0]: "-26.67", ids[1]: "-13.33"}


def test_spread_is_to_the_cent_with_the_remainder_on_the_last_weighted_line() -> None:
    assert rules.spread(D("40.00"), [D("100"), D("50"), D("0")]) == [D("26.67"), D("13.33"), D("0.00")]
    assert rules.spread(D("0.01"), [D("1"), D("1"), D("1")]) == [D("0.00"), D("0.00"), D("0.01")]
    assert rules.spread(D("10.00"), [D("0"), D("0")]) == [D("0.00"), D("10.00")]  # nothing paid: the last line
    assert rules.spread(D("-30.00"), [D("20"), D("10")]) == [D("-20.00"), D("-10.00")]
    assert rules.spread(D("5.00"), []) == []


@settings(max_examples=300, deadline=None)
@given(
    amount=st.decimals(min_value=D("-5000"), max_value=D("5000"), places=2),
    weights=st.lists(st.decimals(min_value=D("-100"), max_value=D("1000"), places=2), min_size=1, max_size=8),
)
def test_spread_never_loses_or_makes_a_cent(amount: D, weights: list[D]) -> None:
    shares = rules.spread(amount, weights)
    assert sum(shares) == amount and all(share == share.quantize(D("0.01")) for share in shares)
    positive = [i for i, w in enumerate(weights) if w > 0]
    if positive:
        assert all(shares[i] == 0 for i in range(len(weights)) if i not in positive)
        total = sum(weights[i] for i in positive)
        for i in positive[:-1]:  # each within half a cent of its exact share
            assert abs(shares[i] - amount * weights[i] / total) <= D("0.005")


def test_a_recoupment_by_payer_claim_number_and_one_we_cannot_find(setup) -> None:  # noqa: ANN001
    old = make_claim(setup, "OLD1", ("90834", "150.00"))
    post(setup, clp("OLD1", "1", "150", "100", "0", svc("90834", "150", "100", "CAS*CO*45*50")), trace="EFT1")
    make_claim(setup, "ACC2", ("90837", "200.00"))
    post(setup, clp("ACC2", "1", "200", "140", "0", svc("90837", "200", "140", "CAS*CO*45*60")), trace="EFT2",
         paid="110", plb="PLB*1234567893*20261231*72:PCN-OLD1*25*FB:NOPE*5")  # fmt: skip
    db.session.refresh(old)
    assert old.paid_amount == D("75.00")
    found = items(kind="recoupment")
    assert [(i.claim_id, i.amount) for i in found] == [(old.id, D("25.00")), (None, D("5.00"))]
    assert found[1].claim_payment_id is not None


def test_l6_interest_is_recorded_as_interest_not_a_claim_payment(setup) -> None:  # noqa: ANN001
    claim = make_claim(setup, "ACC1", ("90834", "150.00"))
    result = post(setup, clp("ACC1", "1", "150", "100", "0", svc("90834", "150", "100", "CAS*CO*45*50")),
                  plb="PLB*1234567893*20261231*L6:ACC1*-3.25")  # fmt: skip
    assert result.remittances_posted == 1
    db.session.refresh(claim)
    assert claim.paid_amount == D("100.00")
    [row] = db.session.scalars(select(ProviderAdjustment)).all()
    assert (row.kind, row.amount, row.claim_id) == ("interest", D("-3.25"), None)
    remittance = db.session.scalar(select(Remittance))
    assert remittance.total_paid == D("103.25")
    assert items(kind="recoupment") == [] and items(kind="posting_exception") == []


def test_any_other_plb_opens_an_item_with_the_amount(setup) -> None:  # noqa: ANN001
    make_claim(setup, "ACC1", ("90834", "150.00"))
    post(setup, clp("ACC1", "1", "150", "100", "0", svc("90834", "150", "100", "CAS*CO*45*50")),
         plb="PLB*1234567893*20261231*CS:ADJ9*12.50")  # fmt: skip
    [item] = items(kind="posting_exception")
    assert item.amount == D("12.50")
    [row] = db.session.scalars(select(ProviderAdjustment)).all()
    assert row.kind == "other"


def test_plb_kinds() -> None:
    assert [rules.plb_kind(r) for r in ("WO", "72", "FB", "L6", "CS", "wo")] == [
        "recoupment", "recoupment", "recoupment", "interest", "other", "recoupment"]  # fmt: skip
