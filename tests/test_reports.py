"""Reports: figures computed by hand on a small book of claims and items, access per role and organization,
and CSV exports that keep numbers as numbers and neutralise formula-looking text."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from backoffice.claims.models import Claim, ClaimLine
from backoffice.extensions import db
from backoffice.remits.models import ClaimPayment, PaymentAdjustment, Remittance
from backoffice.reports import charts, queries, rules
from backoffice.work.models import Interaction, WorkItem
from backoffice.work.rules import InteractionKind, ItemState
from tests import factories as f
from tests.factories import NOW  # Wed 2026-11-18 15:00 UTC

EVIL = '=HYPERLINK("http://evil.test","x")'
D = Decimal


def _utc(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 15, 0, tzinfo=UTC)


def _claim(practice: Any, patient: Any, payer: Any, *, dos: date, charge: str, status: str, **kw: Any) -> Claim:
    claim = Claim(practice_id=practice.id, patient_id=patient.id, payer_id=payer.id, account_number=f"CLM{f._n()}",
                  status=status, total_charge=D(charge), created_at=kw.pop("created_at", _utc(dos.year, dos.month,
                  dos.day)), **kw)  # fmt: skip
    claim.lines.append(ClaimLine(line_number=1, date_of_service=dos, cpt="90837", place_of_service="11",
                                 charge=D(charge)))  # fmt: skip
    db.session.add(claim)
    db.session.commit()
    return claim


def _item(practice: Any, user: Any, *, completed: datetime, due: datetime | None) -> WorkItem:
    item = f.make_ready_items(practice, 1)[0]
    item.state, item.assignee_id, item.completed_at, item.due_at = ItemState.DONE, user and user.id, completed, due
    db.session.commit()
    return item


def _touch(item: WorkItem, user: Any, n: int) -> None:
    for _ in range(n):
        db.session.add(Interaction(practice_id=item.practice_id, work_item_id=item.id, actor_user_id=user and user.id,
                                   actor_label=user.name if user else "system", at=NOW - timedelta(days=2),
                                   kind=InteractionKind.NOTE, body="worked"))  # fmt: skip
    db.session.commit()


@pytest.fixture
def book(ctx) -> dict[str, Any]:
    org = f.make_org()
    practice = f.make_practice(org, name="Calm Minds")
    evil, aetna = f.make_payer(org, name=EVIL), f.make_payer(org, name="Aetna")
    patient = f.make_patient(practice, evil)
    c = lambda **kw: _claim(practice, patient, kw.pop("payer"), **kw)  # noqa: E731
    c(payer=evil, dos=date(2026, 11, 10), charge="150.00", status="accepted", submitted_at=_utc(2026, 11, 11),
      accepted_at=_utc(2026, 11, 12))  # fmt: skip
    partial = c(payer=aetna, dos=date(2026, 9, 30), charge="200.00", status="partially_paid", paid_amount=D("100.00"),
                adjustment_amount=D("24.50"), submitted_at=_utc(2026, 10, 1), accepted_at=_utc(2026, 10, 2),
                adjudicated_at=_utc(2026, 10, 20), created_at=_utc(2026, 10, 1))  # fmt: skip
    denied = c(
        payer=evil,
        dos=date(2026, 6, 1),
        charge="100.00",
        status="denied",
        patient_responsibility=D("80.00"),
        submitted_at=_utc(2026, 6, 5),
        accepted_at=_utc(2026, 6, 6),
        adjudicated_at=_utc(2026, 11, 10),
    )
    c(
        payer=aetna,
        dos=date(2026, 10, 24),
        charge="120.00",
        status="paid",
        paid_amount=D("120.00"),
        submitted_at=_utc(2026, 10, 25),
        accepted_at=_utc(2026, 10, 26),
        adjudicated_at=_utc(2026, 11, 5),
    )
    c(payer=evil, dos=date(2026, 11, 14), charge="100.00", status="rejected", submitted_at=_utc(2026, 11, 16))
    remittance = Remittance(organization_id=org.id, payer_identifier="P1", payer_name="Payer", trace_number="T1",
                            payment_method="ACH", total_paid=D("100.00"), transaction_control_number="0001",
                            posted_at=NOW - timedelta(days=8))  # fmt: skip
    db.session.add(remittance)
    db.session.flush()
    for claim, group, reason, amount, disposition in ((denied, "CO", "50", "20.00", "denial"),
                                                      (partial, "CO", "45", "24.50", "contractual")):  # fmt: skip
        payment = ClaimPayment(remittance=remittance, claim_id=claim.id, account_number=claim.account_number,
                               status_code="4", charge=claim.total_charge, paid=D("0"),
                               patient_responsibility=D("0"))  # fmt: skip
        payment.adjustments.append(PaymentAdjustment(group=group, reason=reason, amount=D(amount),
                                                     disposition=disposition))  # fmt: skip
        db.session.add(payment)
    db.session.commit()
    bea = f.make_user(org, "biller", [practice], name="Bea")
    carl = f.make_user(org, "biller", [practice], name="Carl")
    on_time = _item(practice, bea, completed=NOW - timedelta(days=2), due=NOW - timedelta(days=1))
    late = _item(practice, bea, completed=NOW - timedelta(days=3), due=NOW - timedelta(days=5))
    _item(practice, bea, completed=NOW - timedelta(days=40), due=NOW - timedelta(days=41))  # outside 30 days
    _item(practice, carl, completed=NOW - timedelta(days=1), due=None)  # no SLA: productivity only
    _touch(on_time, bea, 3)
    _touch(on_time, None, 1)  # automation is not a person's touch
    _touch(late, bea, 1)
    # The claim behind Bea's late item came back as a rejection after she resolved it: one reopened of two.
    rework = f.make_ready_items(practice, 1, kind="fix_rejection")[0]
    rework.session_id, rework.created_at = late.session_id, NOW - timedelta(days=1)
    db.session.commit()
    other_org = f.make_org()
    other = f.make_practice(other_org, name="Elsewhere")
    other_payer = f.make_payer(other_org, name="Other payer")
    _claim(other, f.make_patient(other, other_payer), other_payer, dos=date(2026, 11, 1), charge="999.00",
           status="accepted")  # fmt: skip
    return {
        "org": org,
        "practice": practice,
        "bea": bea,
        "other_org": other_org,
        "other": other,
        "supervisor": f.make_user(org, "supervisor"),
        "other_supervisor": f.make_user(other_org, "supervisor"),
    }


def _rows(name: str, practice_ids: list[int]) -> list[list[Any]]:
    return queries.TABLES[name](practice_ids, NOW).rows


def test_aging_by_practice_and_payer_by_hand(book) -> None:
    ids = [book["practice"].id]
    # open: 150 (8 days), 200-100-24.50 (49 days), 100-80 (170 days); paid and rejected claims are not A/R
    assert _rows("aging_practice", ids) == [["Calm Minds", D("150.00"), D("75.50"), D("0.00"), D("0.00"),
                                            D("20.00"), D("245.50")]]  # fmt: skip
    assert _rows("aging_payer", ids) == [
        [EVIL, D("150.00"), D("0.00"), D("0.00"), D("0.00"), D("20.00"), D("170.00")],
        ["Aetna", D("0.00"), D("75.50"), D("0.00"), D("0.00"), D("0.00"), D("75.50")],
    ]


def test_denial_rates_by_payer_month_and_carc_by_hand(book) -> None:
    ids = [book["practice"].id]
    assert _rows("denials_payer", ids) == [[EVIL, 1, 1, D("100.0")], ["Aetna", 2, 0, D("0.0")]]
    assert _rows("denials_month", ids) == [["2026-08", 0, 0, None], ["2026-09", 0, 0, None],
                                           ["2026-10", 1, 0, D("0.0")], ["2026-11", 2, 1, D("50.0")]]  # fmt: skip
    # only the denial disposition counts; 1 denied claim of 3 adjudicated
    assert _rows("denials_carc", ids) == [["CO-50", 1, D("20.00"), D("33.3")]]


def test_clean_claims_first_pass_and_days_in_ar_by_hand(book) -> None:
    # 3 of 4 answered were accepted first time; 2 of 3 adjudicated were paid first time;
    # 245.50 / (570 charged in 90 days / 90) = 38.76
    assert _rows("claim_kpis", [book["practice"].id]) == [
        ["Calm Minds", D("75.0"), D("66.7"), D("245.50"), D("570.00"), D("38.8")]
    ]


def test_sla_and_productivity_by_hand(book) -> None:
    ids = [book["practice"].id]
    assert _rows("sla_biller", ids) == [["Bea", 2, 1, D("50.0")]]
    assert _rows("sla_practice", ids) == [["Calm Minds", 2, 1, D("50.0")]]
    assert _rows("productivity", ids) == [
        ["Bea", 2, 4, D("2.00"), 1, D("50.0")],
        ["Carl", 1, 0, D("0.00"), 0, D("0.0")],
    ]
    assert "came back" in queries.productivity(ids, NOW).note


def test_billers_get_403(book, client, auth) -> None:
    auth.login(book["bea"].email)
    assert client.get("/reports").status_code == 403
    assert client.get("/reports/aging_payer.csv").status_code == 403


def test_page_renders_tables_and_svg_charts_without_scripts(book, client, auth) -> None:
    auth.login(book["supervisor"].email)
    html = client.get("/reports").get_data(as_text=True)
    assert html.count("<svg") == 2 and "<script" not in html.split("</nav>")[1]
    assert "245.50" in html and "Elsewhere" not in html and "999.00" not in html
    assert client.get("/reports/nope.csv").status_code == 404


def test_csv_keeps_numbers_and_neutralises_formulas(book, client, auth) -> None:
    auth.login(book["supervisor"].email)
    response = client.get("/reports/aging_payer.csv")
    assert response.mimetype == "text/csv"
    lines = response.get_data(as_text=True).splitlines()
    assert lines[0] == "Payer,0-30,31-60,61-90,91-120,120+,Total"
    assert lines[1] == '"\'=HYPERLINK(""http://evil.test"",""x"")",150.00,0.00,0.00,0.00,20.00,170.00'
    assert next(csv.reader(io.StringIO(lines[1])))[0] == "'" + EVIL


def test_other_organization_sees_nothing_of_ours(book, client, auth) -> None:
    auth.login(book["other_supervisor"].email)
    lines = client.get("/reports/aging_practice.csv").get_data(as_text=True).splitlines()
    assert lines[1:] == ["Elsewhere,999.00,0.00,0.00,0.00,0.00,999.00"]
    assert len(client.get("/reports/denials_payer.csv").get_data(as_text=True).splitlines()) == 1


def test_csv_cells() -> None:
    assert rules.csv_cell(D("-12.50")) == D("-12.50")
    assert rules.to_csv(["a", "b"], [["-x", D("-12.50")], ["@SUM(A1)", 3], ["+1", None], ["\tx", date(2026, 1, 2)],
                                     ["plain", D("0.00")]]) == (
        "a,b\r\n'-x,-12.50\r\n'@SUM(A1),3\r\n'+1,\r\n'\tx,2026-01-02\r\nplain,0.00\r\n")  # fmt: skip
    assert rules.last_months(date(2026, 2, 10), 3) == ["2025-12", "2026-01", "2026-02"]


def test_bar_chart_escapes_labels_and_scales_to_the_largest() -> None:
    svg = str(charts.bar_chart([("<b>", D("50")), ("big", D("100")), ("none", None)], title="t", unit="%"))
    assert "<b>" not in svg and "&lt;b&gt;" in svg and "n/a" in svg
    assert f'width="{(charts.WIDTH - charts.LABEL_WIDTH - 70) // 2}"' in svg
