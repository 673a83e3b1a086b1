"""The client's monthly report (issue 20.3): one practice's month in its time zone — money reconciled to the cent
(the month-end roll-forward), denials by root cause and whose they were to fix, SLA attainment for the steps we own
against the contract's promise, what waits on the practice — on screen, as a PDF with its footer on every page,
and from the command line. Figures are checked against a hand-computed November."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any

import pytest
from pypdf import PdfReader

from backoffice.cli import cli
from backoffice.contracts import services as contracts
from backoffice.extensions import db
from backoffice.money.services import record_patient_payment
from backoffice.remits.rules import Family
from backoffice.remits.services import post_835
from backoffice.reports import client as client_report
from backoffice.reports import rules
from backoffice.reports.client_pdf import report_pdf
from backoffice.work.models import Interaction, WorkItem
from backoffice.work.rules import InteractionKind, ItemState, Mode
from tests import factories as f
from tests.conftest import AuthActions
from tests.factories_edi_posting import make_claim
from tests.test_month_end import write_off
from tests.test_pdf_pages import assert_every_page_has_body_and_footer, pages

D = Decimal
NOV = datetime(2026, 11, 1, 4, 0, tzinfo=UTC)  # 2026-11-01 00:00 in New York (EDT until 02:00 that day)
AFTER = datetime(2026, 12, 5, 15, 0, tzinfo=UTC)  # the report is run after the month ended
_trace = count(1)


# ---- pure rules: whose denial it was ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("family", "owner"),
    [("eligibility", "practice"), ("authorization", "practice"), ("records", "practice"),
     ("medical_necessity", "practice"), ("credentialing", "practice"), ("benefit_maximum", "practice"),
     ("review", "payer"), ("underpayment", "payer"), ("coding", "us"), ("timely_filing", "us")],
)  # fmt: skip
def test_each_denial_family_has_the_owner_who_had_to_fix_it(family: str, owner: str) -> None:
    assert rules.denial_owner(family) == rules.Owner(owner)


def test_every_denial_family_posting_knows_has_an_owner_and_an_unknown_one_is_the_payers() -> None:
    assert set(rules.DENIAL_OWNER) == {family.value for family in Family}
    assert rules.denial_owner("something_new") is rules.Owner.PAYER
    assert rules.denial_owner(None) is rules.Owner.PAYER


def test_the_sla_is_met_within_the_promised_hours_counted_from_ready() -> None:
    ready = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)
    assert rules.met_sla(ready, ready + timedelta(hours=24), 24)
    assert not rules.met_sla(ready, ready + timedelta(hours=24, minutes=1), 24)


# ---- the hand-computed November --------------------------------------------------------------------------------


def era(account: str, charge: D, cas: list[tuple[str, str, D]], paid: D = D(0), pr: D = D(0)) -> str:
    """An 835 for one claim with the given CAS triples (group, CARC, amount) on its service line."""
    status = "4" if paid == 0 and pr == 0 else "1"
    trace = f"CR{next(_trace):06d}"
    body = [f"CLP*{account}*{status}*{charge}*{paid}*{pr}*12*PCN-{account}*11*1", "NM1*QC*1****MI*M1",
            f"SVC*HC:90834*{charge}*{paid}**1", "DTM*472*20261102",
            *[f"CAS*{g}*{r}*{a}" for g, r, a in cas]]  # fmt: skip
    segments = ["ST*835*0001", f"BPR*I*{paid}*C*ACH*CCP*01*021000021*DA*1*1512345678**01*1*DA*2*20261110",
                f"TRN*1*{trace}*1512345678", "N1*PR*EXAMPLE HEALTH PLAN", "N1*PE*CALM MIND*XX*1234567893", "LX*1",
                *body]  # fmt: skip
    segments.append(f"SE*{len(segments) + 1}*0001")
    isa = "ISA*00*          *00*          *ZZ*PAYER01        *ZZ*SUBMITTER01    *261110*0900*^*00501*000000102*0*P*:~"
    gs = "GS*HP*PAYER01*SUBMITTER01*20261110*0900*102*X*005010X221A1~"
    return f"{isa}{gs}{'~'.join(segments)}~GE*1*102~IEA*1*000000102~"


def item(patient: Any, kind: str, created: datetime, completed: datetime | None, ready: datetime | None = None,
         state: ItemState = ItemState.DONE) -> WorkItem:  # fmt: skip
    practice_id = patient.practice_id
    row = WorkItem(practice_id=practice_id, patient_id=patient.id, kind=kind, state=state, mode=Mode.MANUAL,
                   queue="billing", created_at=created, updated_at=completed or created, completed_at=completed,
                   result={})  # fmt: skip
    db.session.add(row)
    db.session.flush()
    if ready is not None:  # a chain step released from blocked: its SLA runs from then
        db.session.add(Interaction(practice_id=practice_id, work_item_id=row.id, actor_label="system", at=ready,
                                   kind=InteractionKind.STATUS_CHANGE, from_state="blocked", to_state="ready",
                                   data={}))  # fmt: skip
    db.session.commit()
    return row


def november() -> dict:
    """A/R at start 80.00 (claim A, billed in October). In November: charges 150 + 200 + 120 + 90 = 560.00; claim B
    paid 100.00 with 30.00 contractual (CO-45) and 20.00 deductible, which the patient pays; claim C denied CO-27
    (eligibility: the practice's) 200.00, written off; claim D denied CO-96 (processing: the payer's) 120.00; claim E
    denied CO-29 (timely filing: ours) 90.00. Payments 120.00, adjustments 30.00 + 200.00 = 230.00, A/R at end
    80 + 560 − 120 − 30 − 200 = 290.00 (A, D and E still open). December's claim F is not November's."""
    org = f.make_org(name="Acme Billing")
    practice = f.make_practice(org, name="Calm Mind", slug="calm-mind")
    payer = f.make_payer(org, payer_id="1512345678", name="Example Health Plan")
    patient = f.make_patient(practice, payer)
    w = {"org": org, "practice": practice, "payer": payer, "patient": patient,
         "biller": f.make_user(org, practices=[practice], email=f"biller{org.id}@example.test"),
         "boss": f.make_user(org, role="supervisor", email=f"boss{org.id}@example.test")}  # fmt: skip
    make_claim(practice, patient, total_charge=D("80.00"), submitted_at=datetime(2026, 10, 20, 15, tzinfo=UTC))
    b, c, d, e = (make_claim(practice, patient, total_charge=D(amount), submitted_at=NOV + timedelta(days=n))
                  for n, amount in ((1, "150.00"), (2, "200.00"), (2, "120.00"), (3, "90.00")))  # fmt: skip
    make_claim(practice, patient, total_charge=D("60.00"), submitted_at=datetime(2026, 12, 2, 15, tzinfo=UTC))
    post = {"organization_id": org.id}
    post_835(**post, now=NOV + timedelta(days=5), text=era(b.account_number, D("150.00"), [
        ("CO", "45", D("30.00")), ("PR", "1", D("20.00"))], paid=D("100.00"), pr=D("20.00")))  # fmt: skip
    post_835(**post, now=NOV + timedelta(days=6), text=era(c.account_number, D("200.00"), [("CO", "27", D("200.00"))]))
    post_835(**post, now=NOV + timedelta(days=6), text=era(d.account_number, D("120.00"), [("CO", "96", D("120.00"))]))
    post_835(**post, now=NOV + timedelta(days=7), text=era(e.account_number, D("90.00"), [("CO", "29", D("90.00"))]))
    write_off(w, c, D("200.00"), NOV + timedelta(days=8))
    record_patient_payment(patient=patient, actor=w["biller"], now=NOV + timedelta(days=9, hours=12), method="check",
                           reference="1001", amount=D("20.00"), received_on=date(2026, 11, 10))  # fmt: skip
    contracts.save_contract(practice=practice, values={
        "effective_from": date(2026, 10, 1), "percent": D("7"), "basis": "both",
        "owned_steps": ["submit", "follow_up", "audit"], "sla_hours": {"submit": 24, "follow_up": 48}},
        user=w["boss"], now=NOV)  # fmt: skip
    db.session.commit()
    # submit: one ready (released) Nov 6 10:00 and done 23 h later although created two days before: on time; one
    # done 25 h after it was created: late; one done in December: not November's. follow-up: 24 h of 48: on time.
    item(patient, "submit", NOV + timedelta(days=3), NOV + timedelta(days=5, hours=9),
         ready=NOV + timedelta(days=4, hours=10))  # fmt: skip
    item(patient, "submit", NOV + timedelta(days=7, hours=10), NOV + timedelta(days=8, hours=11))
    item(patient, "submit", NOV + timedelta(days=29), datetime(2026, 12, 1, 15, tzinfo=UTC))
    item(patient, "follow_up", NOV + timedelta(days=9), NOV + timedelta(days=10))
    item(patient, "enter_charge", NOV + timedelta(days=9), NOV + timedelta(days=10))  # not a step we own
    return w


def test_the_report_of_a_hand_computed_month(ctx) -> None:  # noqa: ANN001
    w = november()
    report = client_report.build(w["practice"], 2026, 11, AFTER)
    money = report.money
    assert money.start_ar == D("80.00")
    assert money.figures == {"charges": D("560.00"), "payments": D("120.00"), "contractual": D("30.00"),
                             "write_offs": D("200.00"), "refunds": D("0.00"), "other": D("0.00")}  # fmt: skip
    assert report.adjustments == D("230.00")
    assert money.end_ar == D("290.00") == money.rolled and money.difference == 0  # to the cent
    assert [(r.family, r.owner.value, r.claims, r.amount) for r in report.denials] == [
        ("eligibility", "practice", 1, D("200.00")), ("review", "payer", 1, D("120.00")),
        ("timely_filing", "us", 1, D("90.00"))]  # fmt: skip
    assert [(o.value, n, a) for o, n, a in report.denials_by_owner()] == [
        ("practice", 1, D("200.00")), ("payer", 1, D("120.00")), ("us", 1, D("90.00"))]  # fmt: skip
    assert [(s.step, s.promised_hours, s.completed, s.on_time, s.attainment) for s in report.sla] == [
        ("submit", 24, 2, 1, D("50.0")),
        ("follow_up", 48, 1, 1, D("100.0")),
        ("audit", None, 0, 0, None),
    ]
    assert report.waiting == []  # no request to the practice is open
    # December starts where November ended.
    assert client_report.build(w["practice"], 2026, 12, AFTER).money.start_ar == D("290.00")


def test_open_requests_to_the_practice_are_listed_as_waiting_on_it(ctx) -> None:  # noqa: ANN001
    w = november()
    waiting = item(w["patient"], "practice_request", NOV + timedelta(days=20), None, state=ItemState.READY)
    item(w["patient"], "practice_request", NOV + timedelta(days=20), NOV + timedelta(days=21))  # answered: not waiting
    item(w["patient"], "verify_benefits", NOV + timedelta(days=20), None, state=ItemState.READY)  # ours, not theirs
    report = client_report.build(w["practice"], 2026, 11, AFTER)
    assert [row.item_id for row in report.waiting] == [waiting.id]


def test_a_practice_out_of_scope_has_no_report(ctx) -> None:  # noqa: ANN001
    w = november()
    with pytest.raises(LookupError):
        client_report.report_for(w["practice"].id, {w["practice"].id + 1000}, 2026, 11, AFTER)
    assert client_report.report_for(w["practice"].id, {w["practice"].id}, 2026, 11, AFTER).money.end_ar == D("290.00")


def test_the_pdf_has_every_section_and_its_footer_on_every_page(ctx, monkeypatch) -> None:  # noqa: ANN001
    w = november()
    monkeypatch.setattr(rules, "WAITING_ON_PRACTICE_KINDS", ("verify_benefits",))
    for n in range(70):  # enough rows to run over several pages
        item(w["patient"], "verify_benefits", NOV + timedelta(days=20, minutes=n), None, state=ItemState.READY)
    report = client_report.build(w["practice"], 2026, 11, AFTER)
    texts = pages(report_pdf(report, organization_name="Acme Billing", created=AFTER))
    assert len(texts) >= 2
    assert_every_page_has_body_and_footer(texts, "Calm Mind - monthly report 2026-11")
    whole = "\n".join(texts)
    for expected in (
        "A/R at start",
        "560.00",
        "290.00",
        "Reconciles to the cent.",
        "eligibility",
        "timely filing",
        "Us (billing)",
        "50.0%",
        "Waiting on the practice",
    ):
        assert expected in whole, expected


def test_a_supervisor_sees_the_report_and_downloads_its_pdf_a_biller_does_not(app, client, clock_pin) -> None:  # noqa: ANN001
    clock_pin.set(AFTER)
    with app.app_context():
        w = november()
        practice_id, boss, biller = w["practice"].id, w["boss"].email, w["biller"].email
    AuthActions(client).login(boss)
    page = client.get(f"/reports/client?practice_id={practice_id}&month=2026-11")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "Calm Mind, 2026-11" in body and "Reconciles to the cent." in body
    for figure in (
        "560.00",
        "230.00",
        "290.00",
        "Us (billing)",
        'data-family="timely_filing"',
        'data-step="submit"',
        "Nothing is waiting on the practice.",
    ):
        assert figure in body, figure
    pdf = client.get(f"/reports/client/{practice_id}/2026-11.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert "290.00" in PdfReader(io.BytesIO(pdf.data)).pages[0].extract_text()
    assert "month: YYYY-MM" in client.get(f"/reports/client?practice_id={practice_id}&month=Nov").get_data(as_text=True)
    assert client.get(f"/reports/client/{practice_id}/2026-13.pdf").status_code == 400
    assert client.get(f"/reports/client?practice_id={practice_id + 1000}&month=2026-11").status_code == 404
    AuthActions(client).logout()
    AuthActions(client).login(biller)
    assert client.get(f"/reports/client?practice_id={practice_id}&month=2026-11").status_code == 403


def test_a_practice_user_sees_their_own_report_in_the_portal_and_no_other_practice_s(app, client, clock_pin) -> None:  # noqa: ANN001
    clock_pin.set(AFTER)
    with app.app_context():
        w = november()
        other = f.make_practice(w["org"], name="Other Practice")
        portal_user = f.make_user(w["org"], role="practice", practices=[w["practice"]], email="desk@calm.test")
        practice_id, other_id, portal_email, boss = w["practice"].id, other.id, portal_user.email, w["boss"].email
    AuthActions(client).login(portal_email)
    dashboard = client.get("/portal").get_data(as_text=True)
    assert 'href="/portal/reports"' in dashboard  # in the portal's nav and on the dashboard
    page = client.get("/portal/reports")  # last month, in the practice's time zone, by default
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "Calm Mind, 2026-11" in body and "Reconciles to the cent." in body
    for figure in ("560.00", "230.00", "290.00", 'data-family="timely_filing"', 'data-step="submit"',
                   f'href="/portal/reports/{practice_id}/2026-11.pdf"', 'value="2026-11" selected'):  # fmt: skip
        assert figure in body, figure
    october = client.get("/portal/reports?month=2026-10").get_data(as_text=True)
    assert "Calm Mind, 2026-10" in october and "80.00" in october
    pdf = client.get(f"/portal/reports/{practice_id}/2026-11.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert "290.00" in PdfReader(io.BytesIO(pdf.data)).pages[0].extract_text()
    assert client.get(f"/portal/reports/{other_id}/2026-11.pdf").status_code == 404  # another practice's: no leak
    assert client.get(f"/portal/reports/{practice_id}/2026-13.pdf").status_code == 400
    bad = client.get("/portal/reports?month=Nov")
    assert bad.status_code == 422 and "month: YYYY-MM" in bad.get_data(as_text=True)
    assert '<option value="Nov" selected>' in bad.get_data(as_text=True)  # what was asked for stays chosen
    assert client.get("/reports/client").status_code == 403  # the company's report page stays closed to them
    AuthActions(client).logout()
    AuthActions(client).login(boss)
    assert client.get("/portal/reports").status_code == 403  # staff use Reports → Client's monthly report


def test_the_command_prints_the_report_and_writes_the_pdf(app, runner, tmp_path, clock_pin) -> None:  # noqa: ANN001
    clock_pin.set(AFTER)
    with app.app_context():
        slug = november()["org"].slug
    out = tmp_path / "calm-mind-2026-11.pdf"
    done = runner.invoke(cli, ["reports", "client", "--practice", "calm-mind", "--month", "2026-11", "--org", slug,
                               "--pdf", str(out)])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "A/R at end" in done.output and "290.00" in done.output and "reconciles: yes" in done.output
    assert "denials timely_filing: 1 claim(s), 90.00 (Us (billing))" in done.output
    assert "SLA submit: 1/2 on time (promised 24 h)" in done.output
    assert_every_page_has_body_and_footer(pages(out.read_bytes()), "Calm Mind - monthly report 2026-11")
    bad = runner.invoke(cli, ["reports", "client", "--practice", "nowhere", "--month", "2026-11", "--org", slug])
    assert bad.exit_code == 2 and "--practice: no practice 'nowhere'" in bad.output
