"""Appointments checked before the visit (issue 20.5): the import (CSV and API, all or nothing, future dates
accepted), the eligibility batch N business days ahead through the practice's connection (the Sandbox here), the
items a problem opens before the visit, the planner skipping a fresh verify-benefits step for a checked visit, and
cancellations and no-shows (no claim; a late-cancel fee for self-pay patients where the contract says so)."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from backoffice.api.services import issue_token
from backoffice.appointments import rules
from backoffice.appointments.demo import seed_appointments
from backoffice.appointments.models import Appointment
from backoffice.appointments.rules import AppointmentStatus, Problem, check_day, eligibility_problem, late_cancel_fee
from backoffice.appointments.services import AppointmentsRefused, check_due_eligibility, import_appointments
from backoffice.calendars import is_business_day
from backoffice.claims.models import Claim
from backoffice.clearinghouse.sandbox_models import SandboxMember
from backoffice.cli import cli
from backoffice.contracts.models import ClientContract
from backoffice.extensions import db
from backoffice.intake.planning import plan_sessions
from backoffice.patients.models import BenefitsCheck, Coverage, LedgerEntry, Patient
from backoffice.sessions.models import Session
from backoffice.sessions.rules import parse_csv as parse_session_csv
from backoffice.work.models import Interaction, WorkItem
from backoffice.work.rules import ItemState
from tests import factories as f
from tests.factories import NOW
from tests.test_api import call

TODAY = NOW.date()  # Wednesday 2026-11-18
HEADER = ",".join(rules.COLUMNS) + ",status,cancelled_at\n"
MONDAY = date(2026, 11, 23)  # two business days before it: Thursday 2026-11-19 (the weekend is not counted)
FRIDAY = date(2026, 11, 20)  # two business days before it: Wednesday 2026-11-18, today


# --- rules (pure) -------------------------------------------------------------------------------------------------


def test_the_check_day_counts_business_days_back_from_the_visit() -> None:
    assert check_day(FRIDAY, 2, is_business_day) == date(2026, 11, 18)
    assert check_day(MONDAY, 2, is_business_day) == date(2026, 11, 19)  # Saturday and Sunday skipped
    # Thanksgiving (Thursday 2026-11-26) is not a business day: Monday the 30th is checked on Wednesday the 25th.
    assert check_day(date(2026, 11, 30), 2, is_business_day) == date(2026, 11, 25)
    assert check_day(MONDAY, 0, is_business_day) == MONDAY
    assert rules.is_due(MONDAY, date(2026, 11, 19), 2, is_business_day)
    assert not rules.is_due(MONDAY, date(2026, 11, 18), 2, is_business_day)
    assert rules.is_due(MONDAY, date(2026, 11, 20), 2, is_business_day)  # sent late: checked at the next run
    assert not rules.is_due(MONDAY, date(2026, 11, 24), 2, is_business_day)  # the visit is past
    assert rules.days_ahead({}) == 2 and rules.days_ahead({"appointment_check_days": 3}) == 3


def _problem(**kw: Any) -> Problem | None:
    facts = {"active": True, "carve_out": "", "visits_remaining": 10, "auth_required": False, "cpt": "90837",
             "prior_auth_cpts": (), "authorized": False, **kw}  # fmt: skip
    found = eligibility_problem(**facts)
    return found[0] if found else None


def test_each_problem_before_the_visit_has_its_reason() -> None:
    assert _problem() is None
    assert _problem(active=False, carve_out="MBH01") == Problem.INACTIVE  # inactive first: nothing else matters
    assert _problem(carve_out="MBH01") == Problem.CARVE_OUT
    assert _problem(active=None) == Problem.UNCLEAR
    assert _problem(visits_remaining=0) == Problem.VISITS_EXHAUSTED
    assert _problem(auth_required=True) == Problem.AUTH_REQUIRED
    assert _problem(auth_required=True, authorized=True) is None
    assert _problem(prior_auth_cpts=("90837",)) == Problem.AUTH_REQUIRED
    # The payer lists prior-auth codes and the planned one is not among them: the 271's flag is for other codes.
    assert _problem(auth_required=True, prior_auth_cpts=("96130",)) is None
    assert "carved out to MBH01" in eligibility_problem(**{**dict(
        active=True, carve_out="MBH01", visits_remaining=1, auth_required=None, cpt="90834", prior_auth_cpts=(),
        authorized=False)})[1]  # fmt: skip


def test_the_late_cancel_fee_is_for_self_pay_no_shows_and_late_cancellations_only() -> None:
    start = datetime(2026, 11, 23, 10, 0)
    fee = Decimal("75.00")
    common = {"start": start, "fee": fee, "late_hours": 24}
    assert late_cancel_fee(status=AppointmentStatus.NO_SHOW, cancelled_at=None, self_pay=True, **common) == fee
    late = start - timedelta(hours=23, minutes=59)
    early = start - timedelta(hours=24)
    assert late_cancel_fee(status=AppointmentStatus.CANCELLED, cancelled_at=late, self_pay=True, **common) == fee
    assert late_cancel_fee(status=AppointmentStatus.CANCELLED, cancelled_at=early, self_pay=True, **common) is None
    assert late_cancel_fee(status=AppointmentStatus.NO_SHOW, cancelled_at=None, self_pay=False, **common) is None
    assert late_cancel_fee(status=AppointmentStatus.NO_SHOW, cancelled_at=None, self_pay=True,
                           **{**common, "fee": Decimal("0")}) is None  # fmt: skip


# --- the CSV format -----------------------------------------------------------------------------------------------


def _line(**kw: str) -> str:
    values = {
        "appointment_ref": "AP-1", "practice": "calm", "scheduled_start": "2026-11-23 10:00",
        "provider_npi": "1234567893", "patient_ref": "PT-1", "patient_first": "Ana", "patient_last": "Lopez",
        "patient_dob": "1985-04-02", "patient_sex": "F", "payer_id": "AETNA", "member_id": "W123",
        "cpt": "90837", "status": "", "cancelled_at": "",
    }  # fmt: skip
    values.update(kw)
    return ",".join(values[c] for c in (*rules.COLUMNS, "status", "cancelled_at")) + "\n"


def test_future_dates_are_accepted_for_appointments_but_not_for_sessions() -> None:
    rows, errors = rules.parse_csv([HEADER, _line()], today=TODAY)
    assert errors == [] and rows[0].scheduled_start == datetime(2026, 11, 23, 10, 0)
    session_header = "session_ref,practice,date_of_service,start_time,provider_npi,provider_credential,patient_ref,"
    assert session_header  # the session import keeps refusing a visit that has not happened (test_session_import)
    _, session_errors = parse_session_csv(
        [
            "session_ref,practice,date_of_service,start_time,provider_npi,provider_credential,patient_ref,"
            "patient_first,patient_last,patient_dob,patient_sex,payer_id,member_id,service,minutes,em_code,"
            "modality,patient_location,interactive_complexity,screenings,diagnoses,auth_number\n",
            "S-1,calm,2026-11-23,,1234567893,LCSW,PT-1,Ana,Lopez,1985-04-02,F,AETNA,W123,psychotherapy,53,,"
            "in_person,office,no,0,F33.1,\n",
        ],
        today=TODAY,
    )
    assert [e.column for e in session_errors] == ["date_of_service"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"scheduled_start": "2026-11-23"}, "row 3, column scheduled_start: expected YYYY-MM-DD HH:MM"),
        ({"scheduled_start": "2028-01-05 10:00"}, "row 3, column scheduled_start: 2028-01-05 is more than a year"),
        ({"cpt": "9083"}, "row 3, column cpt: expected the CPT or HCPCS code planned"),
        ({"member_id": ""}, "row 3, column member_id: required unless payer_id is SELFPAY"),
        ({"status": "checked"}, "row 3, column status: expected one of scheduled, cancelled, no_show"),
        ({"cancelled_at": "2026-11-22 09:00"}, "row 3, column cancelled_at: only for status cancelled"),
        ({"provider_npi": "1234567890"}, "row 3, column provider_npi:"),
        ({"patient_dob": "x"}, "row 3, column patient_dob: expected a past date"),
    ],
)
def test_each_bad_cell_is_named_by_row_and_column(change: dict[str, str], expected: str) -> None:
    rows, errors = rules.parse_csv([HEADER, _line(appointment_ref="AP-0"), _line(**change)], today=TODAY)
    assert rows == [] and str(errors[0]).startswith(expected), errors


def test_a_wrong_header_and_an_empty_file_are_reported() -> None:
    _, errors = rules.parse_csv(["appointment_ref,practice\n"], today=TODAY)
    assert str(errors[0]).startswith("row 1, column (header): missing column(s): scheduled_start")
    _, errors = rules.parse_csv([HEADER], today=TODAY)
    assert str(errors[0]) == "row 2, column (file): no appointments after the header"


# --- the database -------------------------------------------------------------------------------------------------


def _coverage_ends(coverage: Coverage, day: date | None) -> None:
    """The plan ends (or is renewed): on our coverage and in the Sandbox payer's own member file, which it answers
    from."""
    coverage.effective_to = day
    member = db.session.scalar(select(SandboxMember).where(SandboxMember.member_id == coverage.member_id))
    member.effective_to = day


@pytest.fixture
def world(ctx: Flask) -> dict[str, Any]:
    return _world()


def _world() -> dict[str, Any]:
    org = f.make_org()
    practice = f.make_practice(org, slug="calm", taxonomy="261QM0801X", fee_schedule={"90837": "200.00"})
    provider = f.make_provider(practice, npi="1234567893", credential="LCSW")
    payer = f.make_payer(org, payer_id="AETNA", name="Aetna Test")
    selfpay = f.make_payer(org, payer_id="SELFPAY", name="Self pay", kind="self_pay", enrollment_required_837=False)
    return {"org": org, "practice": practice, "provider": provider, "payer": payer, "selfpay": selfpay}


def _import(world: dict[str, Any], *lines: str, now: datetime = NOW) -> Any:
    rows, errors = rules.parse_csv([HEADER, *lines], today=now.date())
    assert errors == []
    return import_appointments(rows=rows, organization_id=world["org"].id, now=now, source="test.csv")


def _count(model: type) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_importing_creates_appointments_patients_and_coverage_in_the_practice_zone(world) -> None:
    result = _import(world, _line(), _line(appointment_ref="AP-2", scheduled_start="2026-11-20 16:30"))
    assert len(result.created) == 2 and _count(Patient) == 1 and _count(Coverage) == 1
    first = db.session.scalar(select(Appointment).where(Appointment.external_ref == "AP-1"))
    assert first.status == AppointmentStatus.SCHEDULED and first.visit_date == MONDAY and first.cpt == "90837"
    assert first.scheduled_start == datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # 10:00 in New York
    coverage = db.session.get(Coverage, first.coverage_id)
    assert coverage.member_id == "W123" and coverage.effective_from == date(2026, 11, 20)  # the first visit's day
    again = _import(world, _line(), _line(appointment_ref="AP-2", scheduled_start="2026-11-20 16:30"))
    assert again.created == [] and again.unchanged == 2


def test_one_bad_row_writes_nothing(world) -> None:
    rows, errors = rules.parse_csv([HEADER, _line(), _line(appointment_ref="AP-2", provider_npi="1245319599")],
                                   today=TODAY)  # fmt: skip
    assert errors == []
    with pytest.raises(AppointmentsRefused) as refused:
        import_appointments(rows=rows, organization_id=world["org"].id, now=NOW, source="test.csv")
    assert [str(e) for e in refused.value.errors] == [
        "row 3, column provider_npi: no provider with NPI 1245319599 at calm"
    ]
    assert _count(Appointment) == 0 and _count(Patient) == 0 and _count(Coverage) == 0


def test_a_known_patient_with_other_demographics_is_refused_without_echoing_them(world) -> None:
    _import(world, _line())
    rows, _ = rules.parse_csv([HEADER, _line(appointment_ref="AP-2", patient_last="Smith")], today=TODAY)
    with pytest.raises(AppointmentsRefused) as refused:
        import_appointments(rows=rows, organization_id=world["org"].id, now=NOW, source="test.csv")
    (error,) = refused.value.errors
    assert (error.row, error.column) == (2, "patient_last") and "Smith" not in str(error)


def test_the_command_imports_and_reports_bad_rows(app, runner, tmp_path) -> None:  # noqa: ANN001
    with app.app_context():
        org = f.make_org()
        practice = f.make_practice(org, slug="calm")
        f.make_provider(practice, npi="1234567893")
        f.make_payer(org, payer_id="AETNA")
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + _line() + _line(appointment_ref="AP-2", cpt="x"))
    refused = runner.invoke(cli, ["import", "appointments", str(bad)])
    assert refused.exit_code == 1 and "row 3, column cpt:" in refused.output
    good = tmp_path / "good.csv"
    good.write_text(HEADER + _line())
    done = runner.invoke(cli, ["import", "appointments", str(good)])
    assert done.exit_code == 0 and "imported 1 new appointment(s)" in done.output
    with app.app_context():
        assert _count(Appointment) == 1


# --- acceptance: eligibility two business days ahead through the Sandbox ---------------------------------------------


def test_eligibility_runs_two_business_days_ahead_and_an_inactive_coverage_opens_an_item_before_the_visit(
    app,
    runner,
    clock_pin,  # noqa: ANN001
) -> None:
    with app.app_context():
        org = f.make_org()
        practice = f.make_practice(org, slug="calm", taxonomy="261QM0801X")  # clearinghouse: the Sandbox
        f.make_provider(practice, npi="1234567893")
        payer = f.make_payer(org, payer_id="AETNA", name="Aetna Test")
        active = f.make_patient(practice, payer, account_number="PT-1", first_name="Ana", last_name="Lopez",
                                date_of_birth=date(1985, 4, 2))  # fmt: skip
        ended = f.make_patient(practice, payer, account_number="PT-2", first_name="Bo", last_name="Reyes",
                               date_of_birth=date(1990, 6, 1))  # fmt: skip
        lapsed = db.session.scalar(select(Coverage).where(Coverage.patient_id == ended.id))
        lapsed.effective_to = date(2026, 11, 15)  # the plan ended before the visit: the payer says inactive
        payers_member = db.session.scalar(select(SandboxMember).where(SandboxMember.member_id == lapsed.member_id))
        payers_member.effective_to = date(2026, 11, 15)  # the Sandbox answers from its own member file
        db.session.commit()
        member = {p.account_number: c.member_id for p, c in db.session.execute(
            select(Patient, Coverage).join(Coverage, Coverage.patient_id == Patient.id))}  # fmt: skip
        rows, errors = rules.parse_csv([
            HEADER,
            _line(appointment_ref="AP-1", member_id=member["PT-1"]),
            _line(appointment_ref="AP-2", patient_ref="PT-2", patient_first="Bo", patient_last="Reyes",
                  patient_dob="1990-06-01", member_id=member["PT-2"]),
        ], today=TODAY)  # fmt: skip
        assert errors == []
        import_appointments(rows=rows, organization_id=org.id, now=NOW, source="test.csv")
        assert active.id and lapsed.id

    # Wednesday: Monday's visits are not due yet (two business days before Monday is Thursday).
    wednesday = runner.invoke(cli, ["appointments", "check-eligibility"])
    assert wednesday.exit_code == 0, wednesday.output
    assert json.loads(wednesday.output)["due"] == 0
    with app.app_context():
        assert _count(BenefitsCheck) == 0

    clock_pin.set(datetime(2026, 11, 19, 11, 0, tzinfo=UTC))  # Thursday 06:00 in New York, the flow's hour
    thursday = runner.invoke(cli, ["appointments", "check-eligibility"])
    summary = json.loads(thursday.output)
    assert summary["due"] == 2 and summary["checked"] == 2 and summary["items_opened"] == 1
    assert summary["problems"] == {"inactive": 1}
    with app.app_context():
        ok = db.session.scalar(select(Appointment).where(Appointment.external_ref == "AP-1"))
        bad = db.session.scalar(select(Appointment).where(Appointment.external_ref == "AP-2"))
        assert ok.status == bad.status == AppointmentStatus.CHECKED
        assert ok.eligibility_problem is None and db.session.get(BenefitsCheck, ok.benefits_check_id).active is True
        assert bad.eligibility_problem == "inactive"
        assert db.session.get(BenefitsCheck, bad.benefits_check_id).active is False  # recorded from the Sandbox 271
        item = db.session.get(WorkItem, bad.work_item_id)
        assert item.kind == "appointment_eligibility" and item.queue == "eligibility" and item.state == "ready"
        assert item.patient_id == bad.patient_id and item.payer_id == bad.payer_id
        assert item.created_at.date() < bad.visit_date and item.due_at == bad.scheduled_start  # before the visit
        body = db.session.scalar(select(Interaction.body).where(Interaction.work_item_id == item.id))
        assert "AP-2 on 2026-11-23 (90837): the payer reports the coverage inactive" in body
        assert _count(WorkItem) == 1

    # Friday: nothing is asked twice.
    clock_pin.set(datetime(2026, 11, 20, 11, 0, tzinfo=UTC))
    assert json.loads(runner.invoke(cli, ["appointments", "check-eligibility"]).output)["due"] == 0


def test_an_appointment_sent_today_for_friday_is_checked_today_and_the_practice_sets_n(world) -> None:
    practice = world["practice"]
    patient = f.make_patient(practice, world["payer"], account_number="PT-1", first_name="Ana", last_name="Lopez",
                             date_of_birth=date(1985, 4, 2))  # fmt: skip
    member = db.session.scalar(select(Coverage.member_id).where(Coverage.patient_id == patient.id))
    _import(world, _line(scheduled_start="2026-11-20 09:00", member_id=member),
            _line(appointment_ref="AP-2", scheduled_start="2026-11-24 09:00", member_id=member))  # fmt: skip
    assert check_due_eligibility(now=NOW).due == 1  # Friday's; Tuesday's is checked on Friday
    practice.sla_overrides = {"appointment_check_days": 4}
    db.session.commit()
    summary = check_due_eligibility(now=NOW)  # four business days before Tuesday the 24th is Wednesday the 18th
    assert summary.due == 1 and summary.checked == 1


def test_a_clean_recheck_closes_the_item_the_first_check_opened(world) -> None:
    patient = f.make_patient(world["practice"], world["payer"], account_number="PT-1", first_name="Ana",
                             last_name="Lopez", date_of_birth=date(1985, 4, 2))  # fmt: skip
    coverage = db.session.scalar(select(Coverage).where(Coverage.patient_id == patient.id))
    _coverage_ends(coverage, date(2026, 11, 1))
    db.session.commit()
    _import(world, _line(scheduled_start="2026-11-20 09:00", member_id=coverage.member_id))
    assert check_due_eligibility(now=NOW).items_opened == 1
    appointment = db.session.scalar(select(Appointment))
    item_id = appointment.work_item_id
    _coverage_ends(coverage, None)  # the practice found the plan was renewed
    db.session.commit()
    later = NOW + timedelta(hours=2)  # the practice sends it again as it was: a new question for the payer
    again = _import(world, _line(scheduled_start="2026-11-20 09:00", member_id=coverage.member_id), now=later)
    assert again.updated == [appointment.id]
    summary = check_due_eligibility(now=later)
    assert summary.items_closed == 1
    item = db.session.get(WorkItem, item_id, populate_existing=True)
    assert item.state == ItemState.DONE
    assert (
        "no problem left"
        in db.session.scalars(
            select(Interaction.body).where(Interaction.work_item_id == item_id).order_by(Interaction.id.desc())
        ).first()
    )


# --- the visit's session --------------------------------------------------------------------------------------------


def test_a_session_for_a_checked_appointment_skips_verify_benefits_and_completes_it(world) -> None:
    practice, provider = world["practice"], world["provider"]
    patient = f.make_patient(practice, world["payer"], account_number="PT-1", first_name="Ana", last_name="Lopez",
                             date_of_birth=date(1985, 4, 2))  # fmt: skip
    member = db.session.scalar(select(Coverage.member_id).where(Coverage.patient_id == patient.id))
    _import(world, _line(scheduled_start="2026-11-20 09:00", member_id=member))
    check_due_eligibility(now=NOW)
    appointment = db.session.scalar(select(Appointment))
    assert appointment.status == AppointmentStatus.CHECKED and appointment.eligibility_problem is None
    # The checks on file would not skip verify benefits by themselves: only the appointment's stands for the visit.
    practice.sla_overrides = {"benefits_fresh_days": 0}
    db.session.commit()
    after = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
    visit = f.make_session(practice, provider, patient, date_of_service=FRIDAY, received_at=after)
    other_day = f.make_session(practice, provider, patient, date_of_service=date(2026, 11, 19), received_at=after)
    plan_sessions(session_ids=[visit.id, other_day.id], now=after)
    kinds = {s: set(db.session.scalars(select(WorkItem.kind).where(WorkItem.session_id == s)))
             for s in (visit.id, other_day.id)}  # fmt: skip
    assert "verify_benefits" not in kinds[visit.id] and "enter_charge" in kinds[visit.id]
    assert "verify_benefits" in kinds[other_day.id]  # no appointment that day: checked as before
    logs = list(db.session.scalars(select(Interaction.body).where(Interaction.session_id == visit.id)))
    assert any("skipped: eligibility checked 2026-11-18 before the visit (appointment AP-1)" in b for b in logs)
    assert any("Appointment AP-1 completed by this session" in b for b in logs)
    appointment = db.session.get(Appointment, appointment.id, populate_existing=True)
    assert appointment.status == AppointmentStatus.COMPLETED and appointment.session_id == visit.id
    # The practice sends its schedule again with the visit still "scheduled": nothing changes.
    assert _import(world, _line(scheduled_start="2026-11-20 09:00", member_id=member), now=after).unchanged == 1


def test_a_session_for_an_appointment_whose_check_found_a_problem_is_verified_again(world) -> None:
    practice, provider = world["practice"], world["provider"]
    patient = f.make_patient(practice, world["payer"], account_number="PT-1", first_name="Ana", last_name="Lopez",
                             date_of_birth=date(1985, 4, 2))  # fmt: skip
    coverage = db.session.scalar(select(Coverage).where(Coverage.patient_id == patient.id))
    _coverage_ends(coverage, date(2026, 11, 1))
    db.session.commit()
    _import(world, _line(scheduled_start="2026-11-20 09:00", member_id=coverage.member_id))
    check_due_eligibility(now=NOW)
    _coverage_ends(coverage, None)
    db.session.commit()
    after = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
    visit = f.make_session(practice, provider, patient, date_of_service=FRIDAY, received_at=after)
    plan_sessions(session_ids=[visit.id], now=after)
    assert "verify_benefits" in set(db.session.scalars(select(WorkItem.kind).where(WorkItem.session_id == visit.id)))


# --- cancellations and no-shows -------------------------------------------------------------------------------------


def test_a_cancellation_produces_no_claim_and_cancels_its_open_item(world) -> None:
    patient = f.make_patient(world["practice"], world["payer"], account_number="PT-1", first_name="Ana",
                             last_name="Lopez", date_of_birth=date(1985, 4, 2))  # fmt: skip
    coverage = db.session.scalar(select(Coverage).where(Coverage.patient_id == patient.id))
    _coverage_ends(coverage, date(2026, 11, 1))
    db.session.commit()
    _import(world, _line(scheduled_start="2026-11-20 09:00", member_id=coverage.member_id))
    check_due_eligibility(now=NOW)
    item_id = db.session.scalar(select(Appointment.work_item_id))
    result = _import(world, _line(scheduled_start="2026-11-20 09:00", member_id=coverage.member_id,
                                  status="cancelled", cancelled_at="2026-11-18 12:00"))  # fmt: skip
    assert result.cancelled == 1 and result.fees == []  # insured: no fee
    appointment = db.session.scalar(select(Appointment))
    assert appointment.status == AppointmentStatus.CANCELLED
    assert appointment.cancelled_at == datetime(2026, 11, 18, 17, 0, tzinfo=UTC)
    item = db.session.get(WorkItem, item_id, populate_existing=True)
    assert item.state == ItemState.CANCELLED
    assert _count(Session) == 0 and _count(Claim) == 0 and _count(LedgerEntry) == 0
    assert check_due_eligibility(now=NOW).due == 0  # never asked about again
    with pytest.raises(AppointmentsRefused) as refused:  # a cancelled appointment is not scheduled again
        _import(world, _line(scheduled_start="2026-11-20 09:00", member_id=coverage.member_id))
    assert "is already cancelled; it cannot change" in str(refused.value.errors[0])


def _contract(practice: Any, fee: str) -> None:
    db.session.add(ClientContract(
        organization_id=practice.organization_id, practice_id=practice.id, effective_from=date(2026, 1, 1),
        owned_steps=[], percent=Decimal("6.00"), basis="both", sla_hours={}, created_at=NOW,
        late_cancel_fee=Decimal(fee), late_cancel_hours=24,
    ))  # fmt: skip
    db.session.commit()


def test_self_pay_no_shows_and_late_cancellations_are_charged_the_contract_fee(world) -> None:
    _contract(world["practice"], "75.00")
    own = {"payer_id": "SELFPAY", "member_id": ""}
    _import(world, _line(**own), _line(appointment_ref="AP-2", scheduled_start="2026-11-24 10:00", **own),
            _line(appointment_ref="AP-3", scheduled_start="2026-11-25 10:00", **own))  # fmt: skip
    result = _import(
        world,
        _line(status="no_show", **own),
        _line(appointment_ref="AP-2", scheduled_start="2026-11-24 10:00", status="cancelled",
              cancelled_at="2026-11-23 18:00", **own),  # 16 hours before: late
        _line(appointment_ref="AP-3", scheduled_start="2026-11-25 10:00", status="cancelled",
              cancelled_at="2026-11-23 18:00", **own),  # 40 hours before: in time
    )  # fmt: skip
    assert result.no_shows == 1 and result.cancelled == 2 and len(result.fees) == 2
    entries = db.session.scalars(select(LedgerEntry).order_by(LedgerEntry.id)).all()
    assert [(e.kind, e.amount) for e in entries] == [("no_show_fee", Decimal("75.00")),
                                                     ("late_cancel_fee", Decimal("75.00"))]  # fmt: skip
    assert entries[0].reason == "No-show 11/23/2026 (appointment AP-1)"
    assert _count(Claim) == 0
    again = _import(world, _line(status="no_show", **own))  # the same outcome sent twice charges once
    assert again.unchanged == 1 and _count(LedgerEntry) == 2


def test_no_fee_where_the_contract_sets_none(world) -> None:
    _contract(world["practice"], "0.00")
    own = {"payer_id": "SELFPAY", "member_id": ""}
    _import(world, _line(**own))
    assert _import(world, _line(status="no_show", **own)).fees == []


# --- the API ------------------------------------------------------------------------------------------------------


def test_the_api_imports_appointments_all_or_nothing(world, client) -> None:  # noqa: ANN001
    user = f.make_user(world["org"], practices=[world["practice"]])
    _, token = issue_token(user=user, scopes=["appointments:write"], now=NOW)
    record = {"appointment_ref": "AP-1", "practice": "calm", "scheduled_start": "2026-11-23 10:00",
              "provider_npi": "1234567893", "patient_ref": "PT-1", "patient_first": "Ana", "patient_last": "Lopez",
              "patient_dob": "1985-04-02", "patient_sex": "F", "payer_id": "AETNA", "member_id": "W123",
              "cpt": "90837"}  # fmt: skip
    bad = call(client, "POST", "/appointments", token, json={"appointments": [record, {**record, "cpt": 90837}]})
    assert bad.status_code == 422
    assert bad.json["errors"][0] == {"row": 2, "column": "cpt", "message": "expected a string"}
    assert _count(Appointment) == 0
    done = call(client, "POST", "/appointments", token, json={"appointments": [record]})
    assert done.status_code == 201 and len(done.json["created"]) == 1
    other = f.make_practice(world["org"], slug="elsewhere")
    assert other.id
    foreign = call(client, "POST", "/appointments", token,
                   json={"appointments": [{**record, "practice": "elsewhere"}]})  # fmt: skip
    assert foreign.status_code == 422 and foreign.json["errors"][0]["column"] == "practice"
    _, no_scope = issue_token(user=user, scopes=["sessions:write"], now=NOW)
    assert call(client, "POST", "/appointments", no_scope, json={"appointments": [record]}).status_code == 403


def test_the_biller_opens_the_item_from_the_eligibility_queue(world, client, auth) -> None:  # noqa: ANN001
    patient = f.make_patient(world["practice"], world["payer"], account_number="PT-1", first_name="Ana",
                             last_name="Lopez", date_of_birth=date(1985, 4, 2))  # fmt: skip
    coverage = db.session.scalar(select(Coverage).where(Coverage.patient_id == patient.id))
    _coverage_ends(coverage, date(2026, 11, 1))
    db.session.commit()
    _import(world, _line(scheduled_start="2026-11-20 09:00", member_id=coverage.member_id))
    check_due_eligibility(now=NOW)
    item_id = db.session.scalar(select(Appointment.work_item_id))
    biller = f.make_user(world["org"], practices=[world["practice"]])
    db.session.expire_all()  # the page reads the users back as stored (their role as the enum)
    assert auth.login(biller.email).status_code == 302
    page = client.get(f"/items/{item_id}")
    assert page.status_code == 200 and "Fix coverage before the visit" in page.text
    assert "the payer reports the coverage inactive on the visit date" in page.text
    queue = client.get("/queue")
    assert queue.status_code == 200 and "Fix coverage before the visit" in queue.text


def test_the_demo_books_the_next_business_days_and_the_sandbox_answers_them(world) -> None:
    for n in range(3):
        f.make_patient(world["practice"], world["payer"], account_number=f"PT-{n}")
    assert seed_appointments(NOW) == 3
    days = sorted(db.session.scalars(select(Appointment.visit_date)))
    assert days == [date(2026, 11, 19), date(2026, 11, 20), date(2026, 11, 23)]  # Thursday, Friday, then Monday
    summary = check_due_eligibility(now=NOW)
    assert summary.due == 2 and summary.checked == 2  # Thursday's and Friday's; Monday's is asked on Thursday


# --- the appointments screens -------------------------------------------------------------------------------------


def _row(html: str, ref: str) -> str:
    found = re.search(rf'<tr data-ref="{ref}">(.*?)</tr>', html, re.DOTALL)
    return found.group(1) if found else ""


def _screens_world(app: Flask) -> dict[str, Any]:
    with app.app_context():
        return _screens(_world())


def _screens(world: dict[str, Any]) -> dict[str, Any]:
    """At NOW (Wednesday): AP-1 Friday, coverage ended (inactive, an item); AP-2 Friday, clean; AP-3 Monday, not
    asked yet (asked Thursday); AP-4 Friday, self-pay; OT-1 Friday at another practice of the organization."""
    ana = f.make_patient(world["practice"], world["payer"], account_number="PT-1", first_name="Ana",
                         last_name="Lopez", date_of_birth=date(1985, 4, 2))  # fmt: skip
    bo = f.make_patient(world["practice"], world["payer"], account_number="PT-2", first_name="Bo", last_name="Reyes",
                        date_of_birth=date(1990, 6, 1))  # fmt: skip
    ended = db.session.scalar(select(Coverage).where(Coverage.patient_id == ana.id))
    _coverage_ends(ended, date(2026, 11, 1))
    bo_member = db.session.scalar(select(Coverage.member_id).where(Coverage.patient_id == bo.id))
    other = f.make_practice(world["org"], slug="other", taxonomy="261QM0801X")
    f.make_provider(other, npi="1245319599")
    db.session.commit()
    bo_line = {"patient_ref": "PT-2", "patient_first": "Bo", "patient_last": "Reyes", "patient_dob": "1990-06-01",
               "member_id": bo_member}  # fmt: skip
    _import(world,
            _line(scheduled_start="2026-11-20 09:00", member_id=ended.member_id),
            _line(appointment_ref="AP-2", scheduled_start="2026-11-20 11:00", **bo_line),
            _line(appointment_ref="AP-3", scheduled_start="2026-11-23 11:00", **bo_line),
            _line(appointment_ref="AP-4", scheduled_start="2026-11-20 15:00", patient_ref="PT-3", patient_first="Cy",
                  patient_last="Moss", patient_dob="1970-01-01", payer_id="SELFPAY", member_id=""),
            _line(appointment_ref="OT-1", practice="other", provider_npi="1245319599", patient_ref="PT-9",
                  patient_first="Di", patient_last="Elsewhere", patient_dob="1975-03-03",
                  scheduled_start="2026-11-20 10:00"))  # fmt: skip
    check_due_eligibility(now=NOW, practice_ids=[world["practice"].id])
    item_id = db.session.scalar(select(Appointment.work_item_id).where(Appointment.external_ref == "AP-1"))
    users = {"biller": f.make_user(world["org"], practices=[world["practice"]]).email,
             "boss": f.make_user(world["org"], role="supervisor").email,
             "desk": f.make_user(world["org"], role="practice", practices=[world["practice"]]).email}  # fmt: skip
    return {"item": item_id, "other": other.id, **users}


def test_the_appointments_screen_lists_the_user_s_practices_with_what_eligibility_found(
    app,
    client,
    auth,
    clock_pin,  # noqa: ANN001
) -> None:
    clock_pin.set(NOW)
    w = _screens_world(app)
    assert auth.login(w["biller"]).status_code == 302
    assert 'href="/appointments"' in client.get("/queue").text  # in the nav
    page = client.get("/appointments")  # from today by default
    assert page.status_code == 200 and 'name="date_from" value="2026-11-18"' in page.text
    assert "Coverage inactive" in _row(page.text, "AP-1") and f'href="/items/{w["item"]}"' in _row(page.text, "AP-1")
    assert "the payer reports the coverage inactive" in _row(page.text, "AP-1")
    assert "Fri 11/20/2026 09:00" in _row(page.text, "AP-1")  # the visit in the practice's time zone
    assert "Eligible: nothing to fix" in _row(page.text, "AP-2") and "/items/" not in _row(page.text, "AP-2")
    assert "Not checked yet" in _row(page.text, "AP-3") and "asked on 11/19/2026" in _row(page.text, "AP-3")
    assert "Self-pay: not asked" in _row(page.text, "AP-4")
    assert "OT-1" not in page.text and "Elsewhere" not in page.text  # a practice the biller does not serve
    assert client.get(f"/appointments?practice_id={w['other']}").text.count("<tr data-ref") == 0
    refs = lambda html: re.findall(r'<tr data-ref="([^"]+)"', html)  # noqa: E731
    assert refs(client.get("/appointments?problem=inactive").text) == ["AP-1"]
    assert refs(client.get("/appointments?problem=any").text) == ["AP-1"]
    assert refs(client.get("/appointments?problem=none").text) == ["AP-2"]
    assert refs(client.get("/appointments?status=scheduled").text) == ["AP-3"]
    assert refs(client.get("/appointments?date_from=2026-11-18&date_to=2026-11-20").text) == ["AP-1", "AP-2", "AP-4"]
    bad = client.get("/appointments?date_from=2026-13-01&status=scheduled")
    assert bad.status_code == 200 and "date from:" in bad.text and 'value="2026-13-01"' in bad.text  # kept as typed
    assert refs(bad.text) == ["AP-3"]  # the good filters still apply
    auth.logout()
    assert auth.login(w["boss"]).status_code == 302
    assert "OT-1" in client.get("/appointments").text  # a supervisor sees every practice of the organization
    auth.logout()
    assert auth.login(w["desk"]).status_code == 302
    assert client.get("/appointments").status_code == 403  # practice users have the portal's list


def test_the_portal_lists_the_practice_s_upcoming_appointments_and_their_eligibility(
    app,
    client,
    auth,
    clock_pin,  # noqa: ANN001
) -> None:
    clock_pin.set(NOW)
    w = _screens_world(app)
    assert auth.login(w["desk"]).status_code == 302
    assert 'href="/portal/appointments"' in client.get("/portal").text
    page = client.get("/portal/appointments")
    assert page.status_code == 200
    assert "Coverage inactive" in _row(page.text, "AP-1") and "/items/" not in page.text  # no company screens
    assert "Eligible: nothing to fix" in _row(page.text, "AP-2")
    assert "to be checked on 11/19/2026" in _row(page.text, "AP-3")
    assert "OT-1" not in page.text and "Elsewhere" not in page.text
    clock_pin.set(datetime(2026, 11, 21, 15, 0, tzinfo=UTC))  # Saturday: Friday's visits are past
    assert client.get("/portal/appointments").status_code == 302  # the idle sign-out ended Wednesday's session
    assert auth.login(w["desk"]).status_code == 302
    assert re.findall(r'<tr data-ref="([^"]+)"', client.get("/portal/appointments").text) == ["AP-3"]


def test_a_payer_that_cannot_find_the_member_is_a_problem_of_its_own() -> None:
    found = eligibility_problem(rejections=["AAA 75: Subscriber/Insured Not Found"], active=None, carve_out="",
                                visits_remaining=None, auth_required=None, cpt="90837", prior_auth_cpts=(),
                                authorized=False)  # fmt: skip
    assert found is not None and found[0] == Problem.REJECTED and "AAA 75" in found[1]
    assert _problem(rejections=("AAA 71: Patient Birth Date Does Not Match",), active=False) == Problem.REJECTED


def test_a_dependent_is_asked_under_the_subscriber_and_an_unknown_member_is_rejected_by_the_sandbox(world) -> None:
    practice, payer = world["practice"], world["payer"]
    child = f.make_patient(practice, payer, account_number="PT-1", first_name="Ana", last_name="Lopez",
                           date_of_birth=date(2015, 4, 2))  # fmt: skip
    coverage = db.session.scalar(select(Coverage).where(Coverage.patient_id == child.id))
    coverage.relationship_to_subscriber = "19"  # the child of the subscriber
    coverage.subscriber_first_name, coverage.subscriber_last_name = "Maria", "Lopez"
    coverage.subscriber_date_of_birth, coverage.subscriber_sex = date(1984, 2, 3), "F"
    payers_child = db.session.scalar(select(SandboxMember).where(SandboxMember.member_id == coverage.member_id))
    payers_child.relationship = "19"
    f.enroll_member(organization_id=practice.organization_id, payer_id=payer.payer_id, payer_kind=str(payer.kind),
                    member_id=coverage.member_id, first_name="Maria", last_name="Lopez",
                    date_of_birth=date(1984, 2, 3), sex="F", effective_from=date(2026, 1, 1))  # fmt: skip
    stranger = f.make_patient(practice, payer, account_number="PT-2", first_name="Bo", last_name="Reyes",
                              date_of_birth=date(1990, 6, 1))  # fmt: skip
    unknown = db.session.scalar(select(Coverage).where(Coverage.patient_id == stranger.id))
    db.session.delete(db.session.scalar(select(SandboxMember).where(SandboxMember.member_id == unknown.member_id)))
    db.session.commit()
    _import(world, _line(scheduled_start="2026-11-20 09:00", patient_dob="2015-04-02", member_id=coverage.member_id),
            _line(appointment_ref="AP-2", scheduled_start="2026-11-20 10:00", patient_ref="PT-2", patient_first="Bo",
                  patient_last="Reyes", patient_dob="1990-06-01", member_id=unknown.member_id))  # fmt: skip

    summary = check_due_eligibility(now=NOW)

    assert summary.checked == 2 and summary.problems == {"rejected": 1}
    by_ref = {a.external_ref: a for a in db.session.scalars(select(Appointment))}
    assert by_ref["AP-1"].eligibility_problem is None  # the Sandbox found the child under the subscriber: active
    assert db.session.get(BenefitsCheck, by_ref["AP-1"].benefits_check_id).active is True
    assert by_ref["AP-2"].eligibility_problem == "rejected"
    item = db.session.get(WorkItem, by_ref["AP-2"].work_item_id)
    assert item.kind == "appointment_eligibility" and item.state == "ready"
    assert "AAA 75" in by_ref["AP-2"].eligibility_reason
