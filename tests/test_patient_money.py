"""Patient payments, receipts, credit balances and refunds (issue 18): a payment is applied oldest balance first or
to the chosen claims with the rest kept as credit, pays the payment plan's instalments, prints a receipt; a refund
is decided by someone other than who asked for it and posting it reduces the credit."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from backoffice.balances import services as balances
from backoffice.balances.models import PaymentPlan
from backoffice.balances.sweeps import sweep_payment_plans
from backoffice.claims.rules import ClaimStatus
from backoffice.errors import Conflict, NotAllowed, ValidationFailed
from backoffice.extensions import db
from backoffice.money import rules
from backoffice.money.deposits import record_deposit
from backoffice.money.models import Deposit, PatientPayment, RefundRequest
from backoffice.money.pdf import receipt_pdf
from backoffice.money.refunds import decide_refund, post_refund, request_refund
from backoffice.money.services import patient_credit, record_patient_payment
from backoffice.money.sweeps import sweep_deposit_matching
from backoffice.patients.models import LedgerEntry
from backoffice.remits.models import Remittance
from backoffice.remits.services import post_835
from backoffice.work.models import Interaction, WorkItem
from backoffice.work.rules import ItemState
from tests import factories as f
from tests.conftest import csrf_token
from tests.factories_edi_posting import make_claim
from tests.test_month_end import era

D = Decimal
NOW = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)
TODAY = date(2026, 11, 18)


def _world() -> dict:
    org = f.make_org()
    practice = f.make_practice(org, name="Calm Mind")
    payer = f.make_payer(org)
    patient = f.make_patient(practice, payer)
    older = make_claim(practice, patient, status=ClaimStatus.PAID)
    newer = make_claim(practice, patient, status=ClaimStatus.PAID)
    for claim, amount, days in ((older, "30.00", 40), (newer, "50.00", 10)):
        db.session.add(LedgerEntry(practice_id=practice.id, patient_id=patient.id, claim_id=claim.id,
                                   kind="patient_responsibility", amount=D(amount), reason="PR-1 deductible",
                                   at=NOW - timedelta(days=days)))  # fmt: skip
    db.session.commit()
    return {
        "org": org, "practice": practice, "patient": patient, "older": older, "newer": newer,
        "biller": f.make_user(org, practices=[practice], email="biller@example.test"),
        "boss": f.make_user(org, role="supervisor", email="boss@example.test"),
        "boss2": f.make_user(org, role="supervisor", email="boss2@example.test"),
    }  # fmt: skip


@pytest.fixture
def w(ctx) -> dict:  # noqa: ANN001
    return _world()


def _pay(w: dict, amount: str, **kw) -> PatientPayment:  # noqa: ANN003
    values = {"method": "cash", "received_on": TODAY} | kw
    return record_patient_payment(patient=w["patient"], actor=w["biller"], now=NOW, amount=D(amount), **values)


def _applied(payment: PatientPayment) -> list[tuple[int | None, D]]:
    return [(e.claim_id, -e.amount) for e in db.session.scalars(
        select(LedgerEntry).where(LedgerEntry.patient_payment_id == payment.id).order_by(LedgerEntry.id))]  # fmt: skip


def test_a_payment_goes_to_the_oldest_balance_first(w) -> None:  # noqa: ANN001
    payment = _pay(w, "40.00", method="copay")
    assert _applied(payment) == [(w["older"].id, D("30.00")), (w["newer"].id, D("10.00"))]
    assert payment.unapplied == 0 and payment.received_by_id == w["biller"].id and payment.method == "copay"


def test_a_payment_to_chosen_lines_keeps_the_rest_as_unapplied_credit(w) -> None:  # noqa: ANN001
    payment = _pay(w, "60.00", method="check", reference="1042", claim_ids=[w["newer"].id])
    assert _applied(payment) == [(w["newer"].id, D("50.00")), (None, D("10.00"))]
    assert payment.unapplied == D("10.00")
    more = _pay(w, "45.00")  # 30 to the older claim, 15 more credit
    assert _applied(more) == [(w["older"].id, D("30.00")), (None, D("15.00"))]
    assert patient_credit(w["patient"].id) == D("25.00")


def test_a_check_needs_its_number_and_a_refused_payment_changes_nothing(w) -> None:  # noqa: ANN001
    with pytest.raises(ValidationFailed, match="reference: the check number is required"):
        _pay(w, "10.00", method="check")
    with pytest.raises(ValidationFailed, match="method"):
        _pay(w, "10.00", method="bitcoin")
    with pytest.raises(ValidationFailed, match="received on"):
        _pay(w, "10.00", received_on=TODAY + timedelta(days=1))
    with pytest.raises(ValidationFailed, match="has no open patient balance"):
        _pay(w, "10.00", claim_ids=[999999])
    assert db.session.scalar(select(func.count()).select_from(PatientPayment)) == 0


def test_the_pure_split_never_drops_money() -> None:
    balances = [rules.OpenBalance(1, D("30.00"), date(2026, 1, 1)), rules.OpenBalance(2, D("5.00"), date(2025, 1, 1))]
    assert rules.apply_payment(balances, D("100.00")) == ([(2, D("5.00")), (1, D("30.00"))], D("65.00"))
    assert rules.apply_payment(balances, D("3.00"), chosen=[1]) == ([(1, D("3.00"))], D("0.00"))


def test_a_payment_pays_the_payment_plan_instalments(w) -> None:  # noqa: ANN001
    plan = balances.create_payment_plan(patient=w["patient"], instalment_count=2,
                                        first_due_on=TODAY + timedelta(days=3), interval="monthly", autopay=True,
                                        agreement_signed_on=TODAY, actor=w["biller"], now=NOW)  # fmt: skip
    _pay(w, "50.00")
    plan = db.session.get(PaymentPlan, plan.id)
    assert [(i.number, i.paid_amount) for i in plan.instalments] == [(1, D("40.00")), (2, D("10.00"))]
    assert plan.instalments[0].paid_on == TODAY


def test_autopay_makes_the_reminder_say_to_charge_the_card_on_file(w) -> None:  # noqa: ANN001
    balances.create_payment_plan(patient=w["patient"], instalment_count=2,
                                 first_due_on=TODAY + timedelta(days=3), interval="monthly", autopay=True,
                                 agreement_signed_on=TODAY, actor=w["biller"], now=NOW)  # fmt: skip
    sweep_payment_plans(now=NOW)
    item = db.session.scalar(select(WorkItem).where(WorkItem.kind == "payment_reminder"))
    body = db.session.scalar(select(Interaction.body).where(Interaction.work_item_id == item.id))
    assert body.startswith("Payment-plan reminder: charge the card on file: payment plan #")


def test_the_receipt_is_one_page_with_its_footer_and_the_amounts(w) -> None:  # noqa: ANN001
    payment = _pay(w, "60.00", method="card", reference="AUTH 77", claim_ids=[w["newer"].id])
    pages = PdfReader(io.BytesIO(receipt_pdf(payment))).pages
    text = pages[0].extract_text()
    assert len(pages) == 1 and f"receipt R-{payment.id:06d}" in text and "Page 1 of 1" in text
    assert "$60.00" in text and "$50.00" in text and "Unapplied credit" in text and "AUTH 77" in text


def test_a_patient_refund_is_decided_by_another_supervisor_and_posting_reduces_the_credit(w) -> None:  # noqa: ANN001
    _pay(w, "100.00")  # 80 applied, 20 credit
    assert patient_credit(w["patient"].id) == D("20.00")
    with pytest.raises(ValidationFailed, match="more than the \\$20.00 credit"):
        request_refund(actor=w["boss"], now=NOW, patient=w["patient"], amount=D("25.00"), reason="overpaid")
    refund = request_refund(actor=w["boss"], now=NOW, patient=w["patient"], amount=D("20.00"), reason="overpaid")
    item = db.session.get(WorkItem, refund.work_item_id)
    assert (item.kind, item.queue, item.amount) == ("approve_refund", "write-offs", D("20.00"))
    with pytest.raises(NotAllowed, match="dual control"):
        decide_refund(request=refund, actor=w["boss"], now=NOW, approve=True, note=None)
    with pytest.raises(NotAllowed, match="only a supervisor"):
        decide_refund(request=refund, actor=w["biller"], now=NOW, approve=True, note=None)
    with pytest.raises(Conflict):
        post_refund(request=refund, actor=w["biller"], now=NOW)  # not approved yet
    decide_refund(request=refund, actor=w["boss2"], now=NOW, approve=True, note=None)
    db.session.refresh(item)
    assert item.state.value == "done" and item.result["closed_by"] == "refund-decided"
    post_refund(request=refund, actor=w["biller"], now=NOW, reference="CHK 501")
    assert (refund.state, refund.reference) == ("posted", "CHK 501")
    assert patient_credit(w["patient"].id) == D("0.00")
    entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.kind == "refund"))
    assert entry.amount == D("20.00") and entry.reason == f"refund #{refund.id} (CHK 501)"
    assert db.session.scalar(select(func.sum(PatientPayment.unapplied))) == D("0.00")


def test_a_payer_refund_takes_the_overpayment_off_the_claim(w) -> None:  # noqa: ANN001
    claim = make_claim(w["practice"], w["patient"], status=ClaimStatus.PAID, paid_amount=D("170.00"))
    refund = request_refund(actor=w["biller"], now=NOW, claim=claim, amount=D("20.00"), reason="paid twice")
    decide_refund(request=refund, actor=w["boss"], now=NOW, approve=True, note=None)
    post_refund(request=refund, actor=w["biller"], now=NOW)
    db.session.refresh(claim)
    assert claim.paid_amount == D("150.00") and claim.open_balance == 0
    assert db.session.scalar(select(RefundRequest.state)) == "posted"


def test_the_payment_page_records_a_payment_and_links_its_receipt(app, client, auth) -> None:  # noqa: ANN001
    with app.app_context():
        world = _world()
        patient_id, newer = world["patient"].id, world["newer"].id
    auth.login("biller@example.test")
    url = f"/money/patients/{patient_id}/payments"
    page = client.get(url)
    assert page.status_code == 200
    response = client.post(url, data={"csrf_token": csrf_token(page.get_data(as_text=True)), "method": "check",
                                      "amount": "60.00", "received_on": "2026-11-18", "reference": "1042",
                                      "claim_ids": [str(newer)]})  # fmt: skip
    assert response.status_code == 302
    html = client.get(url).get_data(as_text=True)
    assert "Payment of $60.00 recorded" in html and '<strong id="credit">$10.00</strong>' not in html
    receipt = client.get(html.split('href="/money/payments/')[1].split('"')[0].join(["/money/payments/", ""]))
    assert receipt.status_code == 200 and receipt.mimetype == "application/pdf"
    credits = client.get("/money/credits").get_data(as_text=True)
    assert "Patient credits" in credits


def test_a_patient_deposit_matches_its_batch_and_an_eft_its_era_by_trace_number(w) -> None:  # noqa: ANN001
    _pay(w, "30.00", batch="B-1118")
    _pay(w, "20.00", batch="B-1118")
    with pytest.raises(ValidationFailed, match="batch B-1118 holds \\$50.00"):
        record_deposit(practice=w["practice"], actor=w["biller"], now=NOW, deposited_on=TODAY, amount=D("40.00"),
                       kind="patient", batch="B-1118")  # fmt: skip
    deposit = record_deposit(practice=w["practice"], actor=w["biller"], now=NOW, deposited_on=TODAY,
                             amount=D("50.00"), kind="patient", batch="B-1118")  # fmt: skip
    assert deposit.matched_at == NOW
    assert set(db.session.scalars(select(PatientPayment.deposit_id))) == {deposit.id}
    payer = f.make_payer(w["org"], payer_id="1512345678", name="Example Health Plan")
    patient = f.make_patient(w["practice"], payer)
    claim = make_claim(w["practice"], patient, total_charge=D("150.00"))
    text = era(claim.account_number, D("150.00"), paid=D("100.00"), co45=D("50.00"))
    trace = text.split("TRN*1*")[1].split("*")[0]
    post_835(organization_id=w["org"].id, now=NOW, text=text)
    eft = record_deposit(practice=w["practice"], actor=w["biller"], now=NOW, deposited_on=TODAY, amount=D("100.00"),
                         kind="eft", trace_number=trace)  # fmt: skip
    assert eft.remittance_id is not None and eft.matched_at == NOW
    with pytest.raises(ValidationFailed, match="trace number"):
        record_deposit(practice=w["practice"], actor=w["biller"], now=NOW, deposited_on=TODAY, amount=D("1.00"),
                       kind="eft")  # fmt: skip


def test_an_era_without_a_deposit_after_n_business_days_opens_one_item(w) -> None:  # noqa: ANN001
    payer = f.make_payer(w["org"], payer_id="1512345678", name="Example Health Plan")
    patient = f.make_patient(w["practice"], payer)
    claim = make_claim(w["practice"], patient, total_charge=D("150.00"))
    post_835(organization_id=w["org"].id, now=NOW, text=era(claim.account_number, D("150.00"), paid=D("100.00"),
                                                            co45=D("50.00")))  # fmt: skip
    # Posted Wed 11/18; 3 business days later is Mon 11/23 (the weekend does not count).
    none = {"matched": 0, "items": 0, "deposit_items": 0}
    assert sweep_deposit_matching(now=NOW + timedelta(days=4)) == none  # Sun 11/22
    assert sweep_deposit_matching(now=NOW + timedelta(days=5)) == none | {"items": 1}  # Mon 11/23
    assert sweep_deposit_matching(now=NOW + timedelta(days=6)) == none  # idempotent
    item = db.session.scalar(select(WorkItem).where(WorkItem.kind == "match_deposit"))
    assert (item.queue, item.amount, item.practice_id) == ("posting", D("100.00"), w["practice"].id)
    body = db.session.scalar(select(Interaction.body).where(Interaction.work_item_id == item.id))
    assert "has no bank deposit after 3 business days" in body
    # The poster records the deposit: it matches the ERA and the item closes itself, logged with the reason.
    trace = db.session.scalar(select(Remittance.trace_number))
    record_deposit(practice=w["practice"], actor=w["biller"], now=NOW + timedelta(days=6), kind="eft",
                   deposited_on=TODAY + timedelta(days=1), amount=D("100.00"), trace_number=trace)  # fmt: skip
    db.session.refresh(item)
    assert item.state == ItemState.DONE and item.result["closed_by"] == "deposit-recorded"
    closed = db.session.scalar(select(Interaction).where(Interaction.work_item_id == item.id,
                                                         Interaction.to_state == "done"))  # fmt: skip
    assert closed.actor_user_id == w["biller"].id and f"matched to ERA trace {trace}" in closed.body


def _eft_deposit(w: dict, trace: str, amount: str, on: date = TODAY) -> Deposit:
    return record_deposit(practice=w["practice"], actor=w["biller"], now=NOW, deposited_on=on, amount=D(amount),
                          kind="eft", trace_number=trace)  # fmt: skip


def test_a_deposit_without_an_era_after_n_business_days_opens_an_item_that_closes_when_its_era_posts(w) -> None:  # noqa: ANN001
    deposit = _eft_deposit(w, "TRC000777", "100.00")  # Wed 11/18; no ERA with that trace yet
    assert deposit.remittance_id is None
    none = {"matched": 0, "items": 0, "deposit_items": 0}
    assert sweep_deposit_matching(now=NOW + timedelta(days=4)) == none  # Sun 11/22: 2 business days
    assert sweep_deposit_matching(now=NOW + timedelta(days=5)) == none | {"deposit_items": 1}  # Mon 11/23
    assert sweep_deposit_matching(now=NOW + timedelta(days=6)) == none  # one item per deposit
    item = db.session.scalar(select(WorkItem).where(WorkItem.kind == "match_deposit"))
    assert (item.deposit_id, item.subject_type, item.amount, item.queue) == (deposit.id, "deposit", D("100.00"),
                                                                             "posting")  # fmt: skip
    body = db.session.scalar(select(Interaction.body).where(Interaction.work_item_id == item.id))
    assert "Deposit of $100.00 on 2026-11-18 (EFT trace TRC000777) has no ERA after 3 business days" in body
    # The ERA arrives: posting it matches the waiting deposit (same trace and amount) and closes the item, logged.
    payer = f.make_payer(w["org"], payer_id="1512345678", name="Example Health Plan")
    claim = make_claim(w["practice"], f.make_patient(w["practice"], payer), total_charge=D("150.00"))
    text = era(claim.account_number, D("150.00"), paid=D("100.00"), co45=D("50.00"))
    text = text.replace(text.split("TRN*1*")[1].split("*")[0], "TRC000777")
    post_835(organization_id=w["org"].id, now=NOW + timedelta(days=7), text=text)
    db.session.refresh(deposit)
    db.session.refresh(item)
    remittance = db.session.scalar(select(Remittance).where(Remittance.trace_number == "TRC000777"))
    assert deposit.remittance_id == remittance.id and deposit.matched_at == NOW + timedelta(days=7)
    assert item.state == ItemState.DONE and item.result["closed_by"] == "era-posted"
    closed = db.session.scalar(select(Interaction.body).where(Interaction.work_item_id == item.id,
                                                              Interaction.to_state == "done"))  # fmt: skip
    assert closed == "Deposit of $100.00 on 2026-11-18 matched to ERA trace TRC000777 ($100.00)"
    assert sweep_deposit_matching(now=NOW + timedelta(days=8)) == none  # nothing left to match


def test_a_deposit_whose_era_paid_another_amount_is_never_matched_silently(w) -> None:  # noqa: ANN001
    deposit = _eft_deposit(w, "TRC000888", "99.00")
    payer = f.make_payer(w["org"], payer_id="1512345678", name="Example Health Plan")
    claim = make_claim(w["practice"], f.make_patient(w["practice"], payer), total_charge=D("150.00"))
    text = era(claim.account_number, D("150.00"), paid=D("100.00"), co45=D("50.00"))
    post_835(organization_id=w["org"].id, now=NOW, text=text.replace(text.split("TRN*1*")[1].split("*")[0],
                                                                     "TRC000888"))  # fmt: skip
    db.session.refresh(deposit)
    assert deposit.remittance_id is None
    assert sweep_deposit_matching(now=NOW + timedelta(days=5)) == {"matched": 0, "items": 1, "deposit_items": 1}
    item = db.session.scalar(select(WorkItem).where(WorkItem.deposit_id == deposit.id))
    body = db.session.scalar(select(Interaction.body).where(Interaction.work_item_id == item.id))
    assert "ERA trace TRC000888 paid $100.00, not $99.00" in body


def test_the_deposits_page_records_a_patient_batch_deposit(app, client, auth) -> None:  # noqa: ANN001
    with app.app_context():
        world = _world()
        _pay(world, "30.00", batch="B-7")
        practice_id = world["practice"].id
    auth.login("biller@example.test")
    page = client.get("/money/deposits")
    assert page.status_code == 200
    response = client.post("/money/deposits", data={"csrf_token": csrf_token(page.get_data(as_text=True)),
                                                    "practice_id": str(practice_id), "deposited_on": "2026-11-18",
                                                    "amount": "30.00", "kind": "patient", "batch": "B-7"})  # fmt: skip
    assert response.status_code == 302
    assert "Deposit of $30.00 recorded, matched." in client.get("/money/deposits").get_data(as_text=True)


def test_the_item_of_a_deposit_without_an_era_shows_the_deposit(app, client, auth) -> None:  # noqa: ANN001
    with app.app_context():
        world = _world()
        _eft_deposit(world, "TRC000999", "42.50")
        sweep_deposit_matching(now=NOW + timedelta(days=5))
        item_id = db.session.scalar(select(WorkItem.id).where(WorkItem.kind == "match_deposit"))
    auth.login("biller@example.test")
    page = client.get(f"/items/{item_id}").get_data(as_text=True)
    assert "Match deposit" in page and "$42.50" in page
    assert "none matched yet: an ERA with trace TRC000999 and this amount is matched when it posts" in page
