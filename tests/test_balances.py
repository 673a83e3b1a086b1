"""Patient balances end to end on the real database: sliding-scale tables and determinations, hardship waivers,
payment plans and payments, the reminder sweep, statements and their PDF, the screens and their scoping."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from flask import g
from pypdf import PdfReader
from sqlalchemy import func, select

from backoffice.accounts.models import User
from backoffice.audit.models import AuditEvent
from backoffice.balances import pdf, queries, rules, services, sweeps
from backoffice.balances.models import PaymentPlan, SlidingScaleDetermination, SlidingScaleTier
from backoffice.errors import InvalidTransition, NotAllowed, ValidationFailed
from backoffice.extensions import db
from backoffice.orgs.models import Practice, Provider
from backoffice.patients.models import LedgerEntry, Patient
from backoffice.work.models import WorkItem
from tests.conftest import csrf_token
from tests.factories import NOW, make_org, make_patient, make_payer, make_practice, make_provider, make_user

D = Decimal
TODAY = date(2026, 11, 18)  # NOW in New York
FEES = {"90791": "250.00", "90834": "160.00", "90837": "210.00"}
TIERS = [
    rules.Tier(None, "A", 100, flat_fee=D("20.00")),
    rules.Tier(None, "B", 200, discount_percent=D("50")),
    rules.Tier(None, "C", 300, discount_percent=D("25")),
]


@dataclass
class World:
    practice: Practice
    other: Practice
    provider: Provider
    patient: Patient
    insured: Patient
    stranger: Patient
    biller: User
    supervisor: User
    outsider: User


@pytest.fixture
def world(ctx) -> World:  # noqa: ANN001
    org = make_org()
    practice = make_practice(org, fee_schedule=FEES, phone="2175550100")
    other = make_practice(org, fee_schedule=FEES)
    self_pay = make_payer(org, kind="self_pay", name="Self pay")
    insurer = make_payer(org, name="Acme Health")
    w = World(
        practice=practice,
        other=other,
        provider=make_provider(practice),
        patient=make_patient(practice, self_pay, first_name="Robin", last_name="Selfpay"),
        insured=make_patient(practice, insurer, last_name="Insured"),
        stranger=make_patient(other, last_name="Elsewhere"),
        biller=make_user(org, "biller", [practice], email="biller@example.test"),
        supervisor=make_user(org, "supervisor", email="sup@example.test"),
        outsider=make_user(org, "biller", [other], email="outsider@example.test"),
    )
    services.save_tiers(practice=practice, tiers=TIERS, actor=w.supervisor, now=NOW)
    db.session.expire_all()  # reload as the app sees rows (enums, not the strings the factories passed)
    return w


def charge(
    patient: Patient,
    amount: str,
    *,
    kind: str = "patient_responsibility",
    at: datetime = NOW,
    reason: str = "PR-1 deductible",
) -> LedgerEntry:
    entry = LedgerEntry(
        practice_id=patient.practice_id, patient_id=patient.id, kind=kind, amount=D(amount), reason=reason, at=at
    )
    db.session.add(entry)
    db.session.commit()
    return entry


def sign_in(auth, email: str) -> None:  # noqa: ANN001
    """Sign in; the test's app context outlives requests, so drop the CSRF token it cached in ``g`` before the
    sign-in cleared the session (the next page then stores a fresh one, as a real browser's would)."""
    g.pop("csrf_token", None)
    auth.login(email)
    g.pop("csrf_token", None)


def pdf_text(body: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)


# --- sliding scale ---------------------------------------------------------------------------------------------


def test_saving_a_tier_table_updates_by_bound_and_deactivates_the_rest(world: World) -> None:
    assert [(t.name, t.max_fpl_percent) for t in queries.tiers(world.practice.id)] == [
        ("A", 100),
        ("B", 200),
        ("C", 300),
    ]
    services.save_tiers(
        practice=world.practice, tiers=[rules.Tier(None, "B2", 200, flat_fee=D("35"))], actor=world.supervisor, now=NOW
    )
    rows = {t.max_fpl_percent: t for t in queries.tiers(world.practice.id, active_only=False)}
    assert rows[200].name == "B2" and rows[200].flat_fee == D("35.00") and rows[200].discount_percent is None
    assert not rows[100].active and not rows[300].active
    services.save_tiers(practice=world.practice, tiers=TIERS, actor=world.supervisor, now=NOW)  # reactivates
    assert len(queries.tiers(world.practice.id)) == 3
    assert db.session.scalar(select(func.count()).select_from(SlidingScaleTier)) == 3


def test_a_bad_tier_table_changes_nothing_and_billers_cannot_edit(world: World) -> None:
    bad = [rules.Tier(None, "X", 150, discount_percent=D("10")), rules.Tier(None, "Y", 150, flat_fee=D("5"))]
    with pytest.raises(ValidationFailed, match="tier 2 max_fpl_percent: 150% is used by another tier"):
        services.save_tiers(practice=world.practice, tiers=bad, actor=world.supervisor, now=NOW)
    with pytest.raises(NotAllowed):
        services.save_tiers(practice=world.practice, tiers=TIERS, actor=world.biller, now=NOW)
    assert [t.name for t in queries.tiers(world.practice.id)] == ["A", "B", "C"]


@pytest.mark.parametrize(
    ("income", "size", "tier"),
    [("33000", 4, "A"), ("33330", 4, "B"), ("66000", 4, "B"), ("66330", 4, "C"), ("99000", 4, "C"), ("99330", 4, None)],
)
def test_a_determination_picks_the_tier_for_the_household(world: World, income: str, size: int, tier: str) -> None:
    row = services.determine_sliding_scale(
        patient=world.patient,
        household_size=size,
        annual_income=income,
        evidence="2025 tax return",
        actor=world.biller,
        now=NOW,
    )
    assert row.fpl_percent == rules.fpl_percent(D(income), size)
    assert (db.session.get(SlidingScaleTier, row.tier_id).name if row.tier_id else None) == tier
    assert (
        row.determined_on == TODAY and row.expires_on == date(2027, 11, 18) and row.determined_by_id == world.biller.id
    )


def test_the_session_fee_of_a_self_pay_patient_is_the_tier_price(world: World) -> None:
    assert queries.session_fee(world.patient, world.practice, "90834", TODAY).price == D("160.00")
    services.determine_sliding_scale(
        patient=world.patient,
        household_size=1,
        annual_income="20000",
        evidence="pay stubs",
        actor=world.biller,
        now=NOW,
    )  # 125% → B, 50% off
    fee = queries.session_fee(world.patient, world.practice, "90834", TODAY)
    assert (fee.price, fee.basis) == (D("80.00"), "sliding scale: B")
    # A determination expires after 12 months: the full fee again.
    assert queries.session_fee(world.patient, world.practice, "90834", date(2027, 11, 18)).price == D("160.00")


def test_an_insured_patient_pays_the_fee_schedule_even_with_a_determination(world: World) -> None:
    services.determine_sliding_scale(
        patient=world.insured,
        household_size=1,
        annual_income="1000",
        evidence="benefits letter",
        actor=world.biller,
        now=NOW,
    )
    assert queries.session_fee(world.insured, world.practice, "90834", TODAY).price == D("160.00")


def test_a_determination_needs_evidence_and_sane_numbers(world: World) -> None:
    for kwargs, message in [
        ({"evidence": " "}, "evidence: required"),
        ({"household_size": 0}, "household_size"),
        ({"annual_income": "-5"}, "annual_income"),
        ({"annual_income": "lots"}, "annual_income"),
    ]:
        values = {"household_size": 2, "annual_income": "1000", "evidence": "W-2"} | kwargs
        with pytest.raises(ValidationFailed, match=message):
            services.determine_sliding_scale(patient=world.patient, actor=world.biller, now=NOW, **values)
    assert db.session.scalar(select(func.count()).select_from(SlidingScaleDetermination)) == 0


def test_a_waiver_for_an_insured_patient_requires_a_hardship_determination(world: World) -> None:
    charge(world.insured, "40.00", reason="PR-3 copay")
    with pytest.raises(ValidationFailed, match="documented hardship determination"):
        services.waive_balance(patient=world.insured, amount="40", reason="hardship", actor=world.supervisor, now=NOW)
    assert queries.balance(world.insured.id) == D("40.00")
    services.determine_sliding_scale(
        patient=world.insured,
        household_size=3,
        annual_income="18000",
        evidence="unemployment letter",
        actor=world.biller,
        now=NOW,
    )
    with pytest.raises(NotAllowed):
        services.waive_balance(patient=world.insured, amount="40", reason="hardship", actor=world.biller, now=NOW)
    with pytest.raises(ValidationFailed, match="amount: more than the balance of 40.00"):
        services.waive_balance(patient=world.insured, amount="40.01", reason="x", actor=world.supervisor, now=NOW)
    entry = services.waive_balance(
        patient=world.insured, amount="40", reason="job loss", actor=world.supervisor, now=NOW
    )
    assert entry.kind == "hardship_waiver" and entry.amount == D("-40.00")
    assert queries.balance(world.insured.id) == D("0.00")


# --- payment plans -------------------------------------------------------------------------------------------


def make_plan(
    world: World, total: str = "100.00", count: int = 3, first: date = date(2026, 12, 1), **kw
) -> PaymentPlan:  # noqa: ANN003
    charge(world.patient, total)
    values = {"interval": "monthly", "autopay": True, "agreement_signed_on": TODAY, "now": NOW} | kw
    return services.create_payment_plan(
        patient=world.patient, instalment_count=count, first_due_on=first, actor=world.biller, **values
    )


def test_a_plan_splits_the_current_balance_without_interest(world: World) -> None:
    plan = make_plan(world)
    assert plan.total == D("100.00") and plan.state == "active" and plan.autopay and plan.agreement_signed_on == TODAY
    assert [(i.number, i.due_on, i.amount) for i in plan.instalments] == [
        (1, date(2026, 12, 1), D("33.33")),
        (2, date(2027, 1, 1), D("33.33")),
        (3, date(2027, 2, 1), D("33.34")),
    ]
    with pytest.raises(ValidationFailed, match="already has an open payment plan"):
        services.create_payment_plan(
            patient=world.patient,
            instalment_count=2,
            first_due_on=date(2026, 12, 1),
            interval="weekly",
            autopay=False,
            agreement_signed_on=None,
            actor=world.biller,
            now=NOW,
        )


def test_a_plan_needs_a_balance_a_future_date_and_a_known_interval(world: World) -> None:
    common = {
        "patient": world.patient,
        "autopay": False,
        "agreement_signed_on": None,
        "actor": world.biller,
        "now": NOW,
    }
    with pytest.raises(ValidationFailed, match="balance: nothing owed"):
        services.create_payment_plan(instalment_count=2, first_due_on=date(2026, 12, 1), interval="monthly", **common)
    charge(world.patient, "50")
    with pytest.raises(ValidationFailed, match="first_due_on"):
        services.create_payment_plan(instalment_count=2, first_due_on=date(2026, 11, 17), interval="monthly", **common)
    with pytest.raises(ValidationFailed, match="interval"):
        services.create_payment_plan(instalment_count=2, first_due_on=date(2026, 12, 1), interval="daily", **common)
    with pytest.raises(ValidationFailed, match="instalment_count"):
        services.create_payment_plan(instalment_count=0, first_due_on=date(2026, 12, 1), interval="weekly", **common)
    assert db.session.scalar(select(func.count()).select_from(PaymentPlan)) == 0


def test_a_payment_posts_a_negative_ledger_entry_and_pays_instalments_in_order(world: World) -> None:
    plan = make_plan(world)
    entry = services.record_plan_payment(plan=plan, amount="50.00", paid_on=TODAY, actor=world.biller, now=NOW)
    assert entry.kind == "patient_payment" and entry.amount == D("-50.00") and "instalment 1, 2" in entry.reason
    assert [(i.paid_amount, i.paid_on) for i in plan.instalments] == [
        (D("33.33"), TODAY),
        (D("16.67"), None),
        (D("0.00"), None),
    ]
    assert queries.balance(world.patient.id) == D("50.00")
    with pytest.raises(ValidationFailed, match="amount: more than the 50.00 the plan still owes"):
        services.record_plan_payment(plan=plan, amount="50.01", paid_on=TODAY, actor=world.biller, now=NOW)
    services.record_plan_payment(plan=plan, amount="50.00", paid_on=TODAY, actor=world.biller, now=NOW)
    assert plan.state == "completed" and queries.balance(world.patient.id) == D("0.00")
    with pytest.raises(InvalidTransition):
        services.record_plan_payment(plan=plan, amount="1", paid_on=TODAY, actor=world.biller, now=NOW)


def test_a_paused_plan_gets_no_reminders_and_resumes(world: World) -> None:
    plan = make_plan(world, first=date(2026, 11, 20))
    services.pause_plan(plan=plan, reason="gfe_dispute", actor=world.biller, now=NOW)
    assert plan.state == "paused" and "GFE dispute" in plan.note
    assert sweeps.sweep_payment_plans(now=NOW)["upcoming"] == 0
    with pytest.raises(ValidationFailed, match="reason"):
        services.pause_plan(plan=plan, reason="bored", actor=world.biller, now=NOW)
    services.resume_plan(plan=plan, actor=world.biller, now=NOW)
    assert plan.state == "active"
    assert sweeps.sweep_payment_plans(now=NOW)["upcoming"] == 1


def test_the_sweep_opens_one_reminder_per_instalment_and_a_rerun_creates_nothing(world: World) -> None:
    plan = make_plan(
        world,
        count=4,
        first=date(2026, 11, 4),
        interval="weekly",
        now=NOW - timedelta(days=15),
        agreement_signed_on=None,
    )  # 11/4, 11/11, 11/18, 11/25
    first = sweeps.sweep_payment_plans(now=NOW)
    assert (first["missed"], first["upcoming"]) == (2, 1)  # 11/4 and 11/11 missed, 11/18 due today; 11/25 is 7 days
    items = db.session.scalars(select(WorkItem).where(WorkItem.kind == "payment_reminder").order_by(WorkItem.id)).all()
    assert [i.dedupe_key for i in items] == [
        f"plan:{plan.id}:instalment:{n}:{k}" for n, k in [(1, "missed"), (2, "missed"), (3, "upcoming")]
    ]
    assert all(
        i.patient_id == world.patient.id and i.session_id is None and i.queue == "patient-balances" for i in items
    )
    assert items[2].due_at == datetime(2026, 11, 18, 22, 0, tzinfo=UTC)  # 17:00 New York on the due day
    assert items[0].due_at == datetime(2026, 11, 19, 22, 0, tzinfo=UTC)  # missed: close of business tomorrow
    assert plan.instalments[2].reminder_item_id == items[2].id
    again = sweeps.sweep_payment_plans(now=NOW)
    assert (again["missed"], again["upcoming"], again["existing"]) == (0, 0, 3)
    later = sweeps.sweep_payment_plans(now=NOW + timedelta(days=3))  # 11/21: 11/25 is within 5 days; 3 missed
    assert (later["upcoming"], later["missed"], later["defaulted"]) == (1, 1, 1)
    db.session.refresh(plan)
    assert plan.state == "defaulted"
    assert db.session.scalar(select(func.count()).select_from(WorkItem)) == 5


# --- statements ----------------------------------------------------------------------------------------------


def test_a_statement_shows_the_period_and_its_totals_equal_the_ledger(world: World) -> None:
    charge(world.patient, "30.00", at=datetime(2026, 9, 5, 15, tzinfo=UTC), reason="Balance from 2026-09")
    charge(
        world.patient,
        "160.00",
        kind="self_pay_charge",
        at=datetime(2026, 10, 2, 15, tzinfo=UTC),
        reason="Session 10/02 90834",
    )
    charge(world.patient, "-40.00", kind="reversal", at=datetime(2026, 10, 9, 15, tzinfo=UTC), reason="Reversal")
    plan = make_plan(world, total="0.01", count=1, first=date(2026, 12, 1))  # the plan covers the whole balance
    services.record_plan_payment(plan=plan, amount="0.01", paid_on=date(2026, 10, 20), actor=world.biller, now=NOW)
    statement = services.create_statement(
        patient=world.patient, period_from=date(2026, 10, 1), period_to=date(2026, 11, 18), actor=world.biller, now=NOW
    )
    assert statement.balance == queries.balance(world.patient.id) == D("150.00")
    assert statement.due_on == TODAY + timedelta(days=30) and statement.issued_on == TODAY
    text = pdf_text(pdf.statement_pdf(statement))
    assert world.practice.name in text and "Patient statement" in text and "10/01/2026 to 11/18/2026" in text
    assert "Balance forward" in text and "$30.00" in text  # opening balance from before the period
    assert "Session 10/02 90834" in text and "$160.00" in text and "-$40.00" in text
    assert "Balance due" in text and "$150.00" in text and "12/18/2026" in text
    assert "Balance from 2026-09" not in text  # outside the period
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "pdf")).all()
    assert [(e.target_type, e.patient_id) for e in events] == [("statement", world.patient.id)]


def test_a_statement_lists_the_plan_instalments_due(world: World) -> None:
    plan = make_plan(world, count=2, first=date(2026, 12, 1))
    statement = services.create_statement(
        patient=world.patient, period_from=date(2026, 11, 1), period_to=TODAY, actor=world.biller, now=NOW
    )
    text = pdf_text(pdf.statement_pdf(statement))
    assert f"Payment plan #{plan.id}" in text and "12/01/2026" in text and "$50.00" in text
    assert "01/01/2027" not in text  # due after the statement's due date
    with pytest.raises(ValidationFailed, match="period_to: on or after period_from"):
        services.create_statement(
            patient=world.patient, period_from=TODAY, period_to=date(2026, 11, 1), actor=world.biller, now=NOW
        )


def test_services_refuse_a_patient_outside_the_actors_practices(world: World) -> None:
    with pytest.raises(NotAllowed):
        services.create_statement(
            patient=world.patient, period_from=date(2026, 11, 1), period_to=TODAY, actor=world.outsider, now=NOW
        )
    with pytest.raises(NotAllowed):
        services.determine_sliding_scale(
            patient=world.patient, household_size=1, annual_income="1", evidence="x", actor=world.outsider, now=NOW
        )


# --- screens -------------------------------------------------------------------------------------------------


def test_the_patients_list_is_scoped_searchable_and_shows_balances(world: World, client, auth) -> None:  # noqa: ANN001
    charge(world.patient, "75.50")
    sign_in(auth, "biller@example.test")
    html = client.get("/patients").get_data(as_text=True)
    assert "Selfpay, Robin" in html and "Insured" in html and "$75.50" in html and "Elsewhere" not in html
    html = client.get("/patients?q=selfp").get_data(as_text=True)
    assert "Selfpay, Robin" in html and "Insured" not in html
    html = client.get(f"/patients?q={world.insured.account_number}").get_data(as_text=True)
    assert "Insured" in html and "Selfpay" not in html
    assert "No patients" in client.get("/patients?q=%25").get_data(as_text=True)  # a wildcard is just a character


def test_the_patients_list_pages(world: World, client, auth, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(queries, "PAGE_SIZE", 1)
    sign_in(auth, "biller@example.test")
    first = client.get("/patients").get_data(as_text=True)
    assert "page=2" in first and "Insured" in first and "Selfpay" not in first
    second = client.get("/patients?page=2").get_data(as_text=True)
    assert "Selfpay" in second and "page=1" in second and "page=3" not in second


def test_the_balance_page_logs_a_phi_read_and_another_practice_is_a_404(world: World, client, auth) -> None:  # noqa: ANN001
    charge(world.patient, "12.00", reason="PR-2 coinsurance", at=NOW - timedelta(days=3))
    charge(world.patient, "-5.00", kind="patient_payment", reason="Cash at the desk")
    sign_in(auth, "biller@example.test")
    response = client.get(f"/patients/{world.patient.id}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "PR-2 coinsurance" in html and "$12.00" in html
    rows = re.findall(r"<td class=\"num\">([^<]+)</td><td class=\"num\">([^<]+)</td></tr>", html)
    assert rows[:2] == [("$12.00", "$12.00"), ("-$5.00", "$7.00")]  # running balance, oldest first
    assert client.get(f"/patients/{world.stranger.id}").status_code == 404
    assert client.get("/patients/999999").status_code == 404
    db.session.remove()
    reads = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "phi_view")).all()
    assert [(e.patient_id, e.user_id) for e in reads] == [(world.patient.id, world.biller.id)]


def test_creating_a_plan_and_paying_through_the_page(world: World, client, auth) -> None:  # noqa: ANN001
    charge(world.patient, "90.00")
    sign_in(auth, "biller@example.test")
    page = client.get(f"/patients/{world.patient.id}").get_data(as_text=True)
    response = client.post(
        f"/patients/{world.patient.id}/plans",
        data={
            "csrf_token": csrf_token(page),
            "plan-instalment_count": "3",
            "plan-first_due_on": "2026-12-01",
            "plan-interval": "biweekly",
            "plan-agreement_signed_on": "2026-11-18",
            "plan-autopay": "y",
        },
    )
    assert response.status_code == 303
    plan = queries.open_plan(world.patient.id)
    assert [i.due_on for i in plan.instalments] == [date(2026, 12, 1), date(2026, 12, 15), date(2026, 12, 29)]
    response = client.post(
        f"/plans/{plan.id}/payments",
        data={"csrf_token": csrf_token(page), "pay-amount": "100.00", "pay-paid_on": "2026-11-18"},
        follow_redirects=True,
    )
    assert "more than the 90.00 the plan still owes" in response.get_data(as_text=True)
    client.post(
        f"/plans/{plan.id}/payments",
        data={"csrf_token": csrf_token(page), "pay-amount": "30.00", "pay-paid_on": "2026-11-18"},
    )
    db.session.remove()
    assert queries.balance(world.patient.id) == D("60.00")


def test_a_form_error_names_the_field_and_changes_nothing(world: World, client, auth) -> None:  # noqa: ANN001
    sign_in(auth, "biller@example.test")
    page = client.get(f"/patients/{world.patient.id}").get_data(as_text=True)
    response = client.post(
        f"/patients/{world.patient.id}/determinations",
        data={
            "csrf_token": csrf_token(page),
            "det-household_size": "0",
            "det-annual_income": "",
            "det-evidence": "W-2",
        },
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert "household_size" in html and "annual_income" in html
    assert db.session.scalar(select(func.count()).select_from(SlidingScaleDetermination)) == 0


def test_writes_need_csrf_and_scope(world: World, client, auth) -> None:  # noqa: ANN001
    charge(world.stranger, "10")
    sign_in(auth, "biller@example.test")
    assert client.post(f"/patients/{world.patient.id}/statements", data={}).status_code in (302, 303, 400)
    page = client.get(f"/patients/{world.patient.id}").get_data(as_text=True)
    assert (
        client.post(
            f"/patients/{world.stranger.id}/statements",
            data={"csrf_token": csrf_token(page), "stmt-period_from": "2026-11-01", "stmt-period_to": "2026-11-18"},
        ).status_code
        == 404
    )
    db.session.remove()
    assert queries.statements(world.stranger.id) == []


def test_the_sliding_scale_screen_is_for_supervisors(world: World, client, auth) -> None:  # noqa: ANN001
    sign_in(auth, "biller@example.test")
    assert client.get(f"/practices/{world.practice.id}/sliding-scale").status_code == 403
    auth.logout()
    sign_in(auth, "sup@example.test")
    page = client.get(f"/practices/{world.practice.id}/sliding-scale")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "$15,960.00" in html and "2026" in html and 'value="B"' in html
    data = {
        "csrf_token": csrf_token(html),
        "tiers-0-name": "Low",
        "tiers-0-max_fpl_percent": "150",
        "tiers-0-discount_percent": "60",
        "tiers-1-name": "",
        "tiers-1-max_fpl_percent": "250",
    }
    response = client.post(f"/practices/{world.practice.id}/sliding-scale", data=data, follow_redirects=True)
    assert "tier 2: a name and an FPL bound are required" in response.get_data(as_text=True)
    db.session.remove()
    assert [t.name for t in queries.tiers(world.practice.id)] == ["A", "B", "C"]  # nothing saved
    del data["tiers-1-max_fpl_percent"]
    assert client.post(f"/practices/{world.practice.id}/sliding-scale", data=data).status_code == 303
    db.session.remove()
    assert [(t.name, t.max_fpl_percent, t.discount_percent) for t in queries.tiers(world.practice.id)] == [
        ("Low", 150, D("60.00"))
    ]


def test_a_reminder_item_page_shows_the_patient_balance_panel(world: World, client, auth) -> None:  # noqa: ANN001
    make_plan(world, first=date(2026, 11, 20))
    sweeps.sweep_payment_plans(now=NOW)
    item = db.session.scalar(select(WorkItem).where(WorkItem.kind == "payment_reminder"))
    sign_in(auth, "biller@example.test")
    html = client.get(f"/items/{item.id}").get_data(as_text=True)
    assert "Patient balance" in html and "$100.00" in html and re.search(r"#\d+ · Active", html)


def test_the_sliding_scale_screen_shows_every_tier_so_saving_drops_none(world: World, client, auth) -> None:  # noqa: ANN001
    seven = [rules.Tier(None, f"T{n}", 50 * n, discount_percent=D(90 - 10 * n)) for n in range(1, 8)]
    services.save_tiers(practice=world.practice, tiers=seven, actor=world.supervisor, now=NOW)
    sign_in(auth, "sup@example.test")
    listing = client.get("/patients").get_data(as_text=True)
    assert f"/practices/{world.practice.id}/sliding-scale" in listing
    html = client.get(f"/practices/{world.practice.id}/sliding-scale").get_data(as_text=True)
    assert all(f'value="T{n}"' in html for n in range(1, 8)) and 'name="tiers-8-name"' in html


def test_an_open_payer_appeal_pauses_the_plan_and_stops_its_reminders(world: World) -> None:
    from backoffice.claims.rules import ClaimStatus  # noqa: PLC0415
    from backoffice.work.chains import add_item  # noqa: PLC0415
    from tests.factories_edi_posting import make_claim  # noqa: PLC0415

    charge(world.insured, "120.00", reason="PR-2 coinsurance")
    plan = services.create_payment_plan(patient=world.insured, instalment_count=2, first_due_on=date(2026, 11, 20),
                                        interval="monthly", autopay=False, agreement_signed_on=None,
                                        actor=world.biller, now=NOW)  # fmt: skip
    claim = make_claim(world.practice, world.insured, status=ClaimStatus.DENIED)
    appeal, _ = add_item(practice_id=world.practice.id, kind="appeal", now=NOW, reason="denied", claim_id=claim.id)
    db.session.commit()
    counts = sweeps.sweep_payment_plans(now=NOW)
    assert (counts["paused"], counts["upcoming"]) == (1, 0)
    db.session.refresh(plan)
    assert plan.state == "paused" and f"payer appeal pending (work item #{appeal.id})" in plan.note
    assert db.session.scalars(select(WorkItem).where(WorkItem.kind == "payment_reminder")).all() == []


@pytest.mark.postgres
def test_two_payments_at_once_never_pay_the_same_instalment_twice(world: World, app) -> None:  # noqa: ANN001
    import threading  # noqa: PLC0415

    plan_id, user_id = make_plan(world, total="100.00", count=2).id, world.biller.id
    db.session.remove()
    barrier, outcomes = threading.Barrier(2, timeout=30), []

    def pay() -> None:
        with app.app_context():
            plan, user = db.session.get(PaymentPlan, plan_id), db.session.get(User, user_id)
            barrier.wait()
            try:
                services.record_plan_payment(plan=plan, amount="60.00", paid_on=TODAY, actor=user, now=NOW)
                outcomes.append("paid")
            except ValidationFailed as error:
                outcomes.append(str(error))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=pay) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["amount: more than the 40.00 the plan still owes", "paid"]
    assert queries.balance(world.patient.id) == D("40.00")
    plan = db.session.get(PaymentPlan, plan_id)
    assert [i.paid_amount for i in plan.instalments] == [D("50.00"), D("10.00")]
