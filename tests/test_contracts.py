"""Client contracts and monthly invoices (issue 20): fees for each basis against hand-computed figures, the monthly
minimum, the one-time setup fee, per-claim and per-appeal fees, the practice's time zone at the month's edges, an
idempotent close, late postings, approval, credit notes (never an edit), PDF and CSV, and who may do it."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from backoffice.appeals.models import Appeal
from backoffice.claims.models import Claim
from backoffice.cli import cli
from backoffice.contracts import rules, services
from backoffice.contracts.models import ClientContract, Invoice, InvoiceSource
from backoffice.errors import NotAllowed, ValidationFailed
from backoffice.extensions import db
from backoffice.patients.models import Coverage, LedgerEntry
from backoffice.remits.models import ClaimPayment, Remittance
from tests import factories as f
from tests.conftest import AuthActions, csrf_token

D = Decimal
NOW = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)


# ---- pure fee rules -----------------------------------------------------------------------------------------


TERMS = rules.Terms(percent=D("7.5"), basis=rules.FeeBasis.BOTH, monthly_minimum=D("500"), per_claim=D("2"),
                    per_appeal=D("25"), setup_fee=D("250"))  # fmt: skip
ACTIVITY = rules.Activity(insurance=D("3134.56"), patient=D("65.00"), claims=3, appeals=1, first_invoice=True)


def amounts(lines: list[rules.FeeLine]) -> list[tuple[str, Decimal]]:
    return [(line.kind.value, line.amount) for line in lines]


def test_both_bases_with_a_minimum_top_up_and_the_setup_fee() -> None:
    # 7.5% of 3,199.56 = 239.967 → 239.97; 3 claims × 2 = 6; 1 appeal × 25; 270.97 earned < 500: 229.03 top-up
    assert amounts(rules.fee_lines(TERMS, ACTIVITY)) == [
        ("percentage", D("239.97")), ("per_claim", D("6.00")), ("per_appeal", D("25.00")),
        ("minimum", D("229.03")), ("setup", D("250.00")),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("basis", "fee"),
    [("insurance", D("235.09")), ("patient", D("4.88")), ("both", D("239.97"))],  # 235.092; 4.875 rounds half-up
)
def test_the_percentage_applies_to_the_contracts_basis(basis: str, fee: Decimal) -> None:
    terms = rules.Terms(percent=D("7.5"), basis=rules.FeeBasis(basis))
    assert amounts(rules.fee_lines(terms, ACTIVITY)) == [("percentage", fee)]


def test_no_top_up_when_the_fees_reach_the_minimum_and_no_setup_fee_after_the_first_invoice() -> None:
    busy = rules.Activity(insurance=D("10000"), claims=3, appeals=1, first_invoice=False)
    assert amounts(rules.fee_lines(TERMS, busy)) == [("percentage", D("750.00")), ("per_claim", D("6.00")),
                                                     ("per_appeal", D("25.00"))]  # fmt: skip
    # exactly the minimum: nothing to top up
    exact = rules.Terms(percent=D("5"), basis=rules.FeeBasis.INSURANCE, monthly_minimum=D("500"))
    assert amounts(rules.fee_lines(exact, rules.Activity(insurance=D("10000")))) == [("percentage", D("500.00"))]


def test_refunds_larger_than_collections_credit_the_fee_and_the_minimum_still_applies() -> None:
    terms = rules.Terms(percent=D("6"), basis=rules.FeeBasis.INSURANCE, monthly_minimum=D("100"))
    lines = rules.fee_lines(terms, rules.Activity(insurance=D("-200")))
    assert amounts(lines) == [("percentage", D("-12.00")), ("minimum", D("112.00"))]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("percent", D("100.01"), "percent: between 0 and 100"), ("monthly_minimum", D("-1"), "monthly_minimum"),
     ("per_claim", D("-0.01"), "per_claim"), ("setup_fee", D("-5"), "setup_fee")],
)  # fmt: skip
def test_bad_terms_are_named(field: str, value: Decimal, message: str) -> None:
    values = {"percent": D("5"), "basis": rules.FeeBasis.BOTH, field: value}
    assert message in rules.terms_problem(rules.Terms(**values))


# ---- the close on the database --------------------------------------------------------------------------------


@pytest.fixture
def world(ctx):  # noqa: ANN001, ANN201
    org = f.make_org()
    practice = f.make_practice(org)  # America/New_York
    payer = f.make_payer(org)
    patient = f.make_patient(practice, payer)
    supervisor = f.make_user(org, "supervisor")
    biller = f.make_user(org, "biller", practices=[practice])
    return org, practice, payer, patient, supervisor, biller


def contract(world, **changes) -> ClientContract:  # noqa: ANN001, ANN003
    values = {"effective_from": date(2026, 10, 1), "percent": D("7.5"), "basis": "both",
              "monthly_minimum": D("500"), "per_claim": D("2"), "per_appeal": D("25"), "setup_fee": D("250"),
              "owned_steps": ["enter_charge", "submit", "follow_up"], **changes}  # fmt: skip
    saved = services.save_contract(practice=world[1], values=values, user=world[4], now=NOW)
    db.session.commit()
    return saved


_claims = iter(range(1, 10_000))


def claim(world, submitted_at: datetime | None = None) -> Claim:  # noqa: ANN001
    _, practice, payer, patient, *_ = world
    coverage = db.session.scalar(select(Coverage).where(Coverage.patient_id == patient.id))
    row = Claim(practice_id=practice.id, patient_id=patient.id, payer_id=payer.id, coverage_id=coverage.id,
                account_number=f"INV-T-{next(_claims)}", status="submitted", total_charge=D("150"), created_at=NOW,
                submitted_at=submitted_at)  # fmt: skip
    db.session.add(row)
    db.session.commit()
    return row


def payment(world, paid: str, posted_at: datetime, *, reversal: bool = False) -> ClaimPayment:  # noqa: ANN001
    target = claim(world)
    remittance = Remittance(organization_id=world[0].id, payer_id=world[2].id, payer_identifier="P1",
                            payer_name="Payer", trace_number=f"T{target.id}", payment_method="ACH",
                            payment_date=posted_at.date(), total_paid=D(paid), transaction_control_number="0001",
                            posted_at=posted_at)  # fmt: skip
    row = ClaimPayment(remittance=remittance, claim_id=target.id, account_number=target.account_number,
                       status_code="22" if reversal else "1", charge=D("150"), paid=D(paid),
                       patient_responsibility=D("0"), is_reversal=reversal)  # fmt: skip
    db.session.add_all([remittance, row])
    db.session.commit()
    return row


def ledger(world, kind: str, amount: str, at: datetime) -> LedgerEntry:  # noqa: ANN001
    row = LedgerEntry(practice_id=world[1].id, patient_id=world[3].id, kind=kind, amount=D(amount), reason=kind,
                      at=at)  # fmt: skip
    db.session.add(row)
    db.session.commit()
    return row


def appeal(world, sent_on: date) -> Appeal:  # noqa: ANN001
    target = claim(world)
    row = Appeal(organization_id=world[0].id, practice_id=world[1].id, claim_id=target.id, payer_id=world[2].id,
                 level=1, denial_family="medical_necessity", letter="...", amount=D("150"), status="sent",
                 sent_on=sent_on, created_at=NOW, updated_at=NOW)  # fmt: skip
    db.session.add(row)
    db.session.commit()
    return row


def october(world) -> None:  # noqa: ANN001
    """The hand-computed month: insurance 1,234.56 + 2,000.00 − 100.00 (a reversal) = 3,134.56; patient 80.00 − 15.00
    refunded = 65.00; three claims submitted; one appeal sent. Plus money just outside October in New York."""
    payment(world, "1234.56", datetime(2026, 10, 5, 14, 0, tzinfo=UTC))
    payment(world, "2000.00", datetime(2026, 11, 1, 3, 30, tzinfo=UTC))  # Oct 31, 23:30 in New York: October
    payment(world, "-100.00", datetime(2026, 10, 20, 14, 0, tzinfo=UTC), reversal=True)
    payment(world, "999.00", datetime(2026, 11, 1, 4, 30, tzinfo=UTC))  # Nov 1, 00:30 in New York: November
    payment(world, "555.00", datetime(2026, 9, 30, 14, 0, tzinfo=UTC))  # before the contract: never billed
    ledger(world, "patient_payment", "-80.00", datetime(2026, 10, 7, 15, 0, tzinfo=UTC))
    ledger(world, "patient_refund", "15.00", datetime(2026, 10, 9, 15, 0, tzinfo=UTC))
    ledger(world, "patient_responsibility", "40.00", datetime(2026, 10, 9, 15, 0, tzinfo=UTC))  # not money in
    for day in (2, 15, 30):
        claim(world, datetime(2026, 10, day, 15, 0, tzinfo=UTC))
    appeal(world, date(2026, 10, 12))


def test_the_close_bills_the_hand_computed_month_each_line_traced_to_its_sources(world) -> None:  # noqa: ANN001
    contract(world)
    october(world)
    invoice = services.close_month(practice=world[1], year=2026, month=10, now=NOW, user=world[4])
    db.session.commit()
    assert (invoice.number, invoice.status, invoice.total) == ("INV-000001", "draft", D("750.00"))
    assert [(line.kind, line.quantity, line.amount) for line in invoice.lines] == [
        ("percentage", D("3199.56"), D("239.97")), ("per_claim", D("3.00"), D("6.00")),
        ("per_appeal", D("1.00"), D("25.00")), ("minimum", D("1.00"), D("229.03")), ("setup", D("1.00"), D("250.00")),
    ]  # fmt: skip
    percentage = invoice.lines[0]
    assert sorted(s.amount for s in percentage.sources) == [D("-100.00"), D("-15.00"), D("80.00"), D("1234.56"),
                                                            D("2000.00")]  # fmt: skip
    assert sum(s.amount for s in percentage.sources) == percentage.quantity
    assert {s.on for s in percentage.sources if s.amount == D("2000.00")} == {date(2026, 10, 31)}
    assert [s.kind for s in invoice.lines[1].sources] == ["claim", "claim", "claim"]


def test_closing_twice_changes_nothing_and_a_late_posting_lands_on_the_next_invoice(world) -> None:  # noqa: ANN001
    contract(world)
    october(world)
    first = services.close_month(practice=world[1], year=2026, month=10, now=NOW, user=world[4])
    db.session.commit()
    sources = db.session.scalar(select(func.count()).select_from(InvoiceSource))
    again = services.close_month(practice=world[1], year=2026, month=10, now=NOW, user=world[4])
    db.session.commit()
    assert again.id == first.id and again.total == D("750.00")
    assert db.session.scalar(select(func.count()).select_from(Invoice)) == 1
    assert db.session.scalar(select(func.count()).select_from(InvoiceSource)) == sources
    # an October payment posted after the close is billed in November, once; no second setup fee
    payment(world, "400.00", datetime(2026, 10, 30, 14, 0, tzinfo=UTC))
    december = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
    november = services.close_month(practice=world[1], year=2026, month=11, now=december, user=world[4])
    db.session.commit()
    assert november.number == "INV-000002"
    percentage = november.lines[0]
    assert percentage.quantity == D("1399.00")  # 999.00 (Nov 1 in New York) + 400.00 late
    assert [line.kind for line in november.lines] == ["percentage", "minimum"]  # 104.93 + 395.07
    assert november.total == D("500.00")


def test_a_month_not_over_or_without_a_contract_is_refused(world) -> None:  # noqa: ANN001
    with pytest.raises(ValidationFailed, match="no client contract in force in 2026-10"):
        services.close_month(practice=world[1], year=2026, month=10, now=NOW)
    contract(world)
    with pytest.raises(ValidationFailed, match="2026-11 has not ended yet"):
        services.close_month(practice=world[1], year=2026, month=11, now=NOW)
    with pytest.raises(ValidationFailed, match="month: YYYY-MM"):
        services.parse_month("Nov 2026")
    assert db.session.scalar(select(func.count()).select_from(Invoice)) == 0


def test_approval_then_a_credit_note_never_an_edit(world) -> None:  # noqa: ANN001
    contract(world)
    october(world)
    invoice = services.close_month(practice=world[1], year=2026, month=10, now=NOW, user=world[4])
    db.session.commit()
    with pytest.raises(NotAllowed):
        services.move_invoice(invoice=invoice, target="approved", user=world[5], now=NOW)
    services.move_invoice(invoice=invoice, target="approved", user=world[4], now=NOW)
    db.session.commit()
    assert invoice.approved_by_id == world[4].id
    with pytest.raises(ValidationFailed, match="approved, it cannot become void; correct it with a credit note"):
        services.move_invoice(invoice=invoice, target="void", user=world[4], now=NOW)
    note = services.credit_note(invoice=invoice, amount=D("50"), reason="disputed minimum", user=world[4], now=NOW)
    db.session.commit()
    assert (note.number, note.kind, note.total, note.credits_invoice_id) == ("CN-000001", "credit_note", D("-50.00"),
                                                                             invoice.id)  # fmt: skip
    assert services.credited(invoice) == D("50.00") and invoice.total == D("750.00")  # the invoice is untouched
    with pytest.raises(ValidationFailed, match="at most 700.00"):
        services.credit_note(invoice=invoice, amount=D("700.01"), reason="x", user=world[4], now=NOW)
    services.move_invoice(invoice=invoice, target="sent", user=world[4], now=NOW)
    db.session.commit()
    with pytest.raises(ValidationFailed, match="paid_on"):
        services.move_invoice(invoice=invoice, target="paid", user=world[4], now=NOW)
    services.move_invoice(invoice=invoice, target="paid", user=world[4], now=NOW, paid_on=date(2026, 11, 15))
    assert invoice.status == "paid"


def test_a_voided_draft_releases_what_it_billed(world) -> None:  # noqa: ANN001
    contract(world)
    october(world)
    draft = services.close_month(practice=world[1], year=2026, month=10, now=NOW, user=world[4])
    services.move_invoice(invoice=draft, target="void", user=world[4], now=NOW)
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(InvoiceSource)) == 0
    again = services.close_month(practice=world[1], year=2026, month=10, now=NOW, user=world[4])
    db.session.commit()
    assert again.id != draft.id and again.total == D("750.00") and again.number == "INV-000002"


def test_a_new_contract_version_ends_the_old_one_and_sets_the_owned_steps(world) -> None:  # noqa: ANN001
    first = contract(world)
    second = contract(world, effective_from=date(2026, 11, 1), percent=D("6"), owned_steps=["submit"])
    assert first.effective_to == date(2026, 10, 31) and second.effective_to is None
    assert world[1].owned_steps == ["submit"]
    with pytest.raises(ValidationFailed, match="effective_from: a contract from 2026-11-01 exists"):
        contract(world, effective_from=date(2026, 10, 15))
    with pytest.raises(ValidationFailed, match="owned_steps: unknown step 'coding'"):
        contract(world, effective_from=date(2026, 12, 1), owned_steps=["coding"])


# ---- screens ----------------------------------------------------------------------------------------------------


def test_a_supervisor_closes_a_month_and_downloads_the_pdf_and_csv(app, client) -> None:  # noqa: ANN001
    with app.app_context():
        world = (org := f.make_org(), practice := f.make_practice(org), f.make_payer(org), None,
                 f.make_user(org, "supervisor", email="sup@example.test"), None)  # fmt: skip
        world = (world[0], world[1], world[2], f.make_patient(practice, world[2]), world[4], None)
        contract(world)
        october(world)
        practice_id = practice.id
    auth = AuthActions(client)
    auth.login("sup@example.test")
    page = client.get("/billing/invoices").get_data(as_text=True)
    closed = client.post("/billing/close", data={"csrf_token": csrf_token(page), "practice_id": practice_id,
                                                 "month": "2026-10"}, follow_redirects=True)  # fmt: skip
    body = closed.get_data(as_text=True)
    assert closed.status_code == 200 and "INV-000001" in body and "750.00" in body
    with app.app_context():
        invoice_id = db.session.scalar(select(Invoice.id))
    pdf = client.get(f"/billing/invoices/{invoice_id}.pdf")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    rows = list(csv.DictReader(io.StringIO(client.get(f"/billing/invoices/{invoice_id}.csv").get_data(as_text=True))))
    assert [r["amount"] for r in rows if r["amount"]] == ["239.97", "6.00", "25.00", "229.03", "250.00"]
    assert D(rows[1]["source_amount"]) in {D("1234.56"), D("2000.00"), D("-100.00"), D("80.00"), D("-15.00")}
    # A refused form comes back with what was typed in it, never an empty form after a redirect.
    bad_close = client.post("/billing/close", data={"csrf_token": csrf_token(page), "practice_id": practice_id,
                                                    "month": "2026-13"})  # fmt: skip
    assert bad_close.status_code == 422 and 'value="2026-13"' in bad_close.get_data(as_text=True)
    invoice_page = client.get(f"/billing/invoices/{invoice_id}").get_data(as_text=True)
    token = csrf_token(invoice_page)
    assert client.post(f"/billing/invoices/{invoice_id}/status", data={"csrf_token": token, "status": "approved"},
                       follow_redirects=True).status_code == 200  # fmt: skip
    too_much = client.post(f"/billing/invoices/{invoice_id}/credit", data={
        "csrf_token": token, "amount": "9999.00", "reason": "Double-counted patient payment"})  # fmt: skip
    body = too_much.get_data(as_text=True)
    assert too_much.status_code == 422 and "at most 750.00" in body and 'value="9999.00"' in body
    assert "Double-counted patient payment</textarea>" in body


def test_billers_cannot_see_the_companys_invoices(app, client) -> None:  # noqa: ANN001
    with app.app_context():
        org = f.make_org()
        practice = f.make_practice(org)
        f.make_user(org, "biller", practices=[practice], email="biller@example.test")
    AuthActions(client).login("biller@example.test")
    assert client.get("/billing/invoices").status_code == 403


def test_the_close_command_closes_every_practice_with_a_contract_once(app, runner) -> None:  # noqa: ANN001

    with app.app_context():
        org = f.make_org()
        practice = f.make_practice(org, slug="calm-mind")
        f.make_practice(org, slug="no-contract")
        payer = f.make_payer(org)
        world = (org, practice, payer, f.make_patient(practice, payer), f.make_user(org, "supervisor"), None)
        contract(world)
        october(world)
        slug = org.slug
    first = runner.invoke(cli, ["invoices", "close", "--month", "2026-10", "--org", slug])
    assert first.exit_code == 0, first.output
    assert "calm-mind: INV-000001 draft total 750.00" in first.output
    assert "no-contract: no client contract in 2026-10; nothing to close" in first.output
    again = runner.invoke(cli, ["invoices", "close", "--month", "2026-10", "--org", slug])
    assert "calm-mind: INV-000001 draft total 750.00" in again.output
    bad = runner.invoke(cli, ["invoices", "close", "--month", "October", "--org", slug])
    assert bad.exit_code == 2 and "month: YYYY-MM" in bad.output
