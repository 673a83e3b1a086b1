"""Every input is checked once at the edge (backoffice/inputs.py, backoffice/forms.py, backoffice/request_guard.py):
the 26 inputs that were a 500 (Unicode digits, NUL, NaN/Infinity/1e30) are named errors, a $0.01 payment is
taken and a payment dated 0001-01-01 is not. On PostgreSQL too (a NUL is what PostgreSQL cannot store)."""

from __future__ import annotations

import io
import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import Form as PlainForm

from backoffice import create_app, forms, inputs
from backoffice.accounts.forms import LoginForm
from backoffice.accounts.models import User
from backoffice.balances import queries as balance_queries
from backoffice.balances import services as balance_services
from backoffice.balances.models import PaymentPlan
from backoffice.errors import ValidationFailed
from backoffice.extensions import db
from backoffice.patients.models import LedgerEntry, Patient
from backoffice.sessions.rules import parse_csv
from tests.conftest import csrf_token, make_settings
from tests.factories import NOW
from tests.test_authorization_matrix import ADMIN, BILLER, build_world, signed_in_clients
from tests.test_session_import import GOOD, TODAY, _csv

UNICODE_DIGITS = ("²", "①", "٣", "１", "⑩")

# --- the normalisers, with no app ------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [*UNICODE_DIGITS, "1²", " ", "1.5", "1e3", "+1", "1_000", "0x10", "\x00", "9" * 13])
def test_whole_numbers_are_ascii_digits_only(raw: str) -> None:
    with pytest.raises(inputs.InputProblem):
        inputs.whole_number(raw)


def test_whole_numbers_in_range_are_taken() -> None:
    assert inputs.whole_number(" 42 ", low=1, high=99) == 42 and inputs.whole_number("-3", low=-5) == -3
    with pytest.raises(inputs.InputProblem, match="from 1 to 99"):
        inputs.whole_number("100", low=1, high=99)


@pytest.mark.parametrize("raw", ["NaN", "nan", "sNaN", "Infinity", "-Infinity", "inf", "1e30", "1E2", "²", "١٢",
                                 "0.001", "12345678901", "", "1.2.3", "\x00", 1.5, float("nan"), True])  # fmt: skip
def test_money_is_a_finite_decimal_with_cents(raw: Any) -> None:
    with pytest.raises(inputs.InputProblem):
        inputs.money(raw)


def test_money_keeps_exact_cents() -> None:
    assert inputs.money("0.01", low=Decimal("0.01")) == Decimal("0.01")  # a float 0.01 is more than one cent
    assert inputs.money("$1,234.5") == Decimal("1234.50") and inputs.money(Decimal("7")) == Decimal("7.00")


@pytest.mark.parametrize("raw", ["0001-01-01", "1899-12-31", "2099-01-01", "2026-02-30", "２０２６-01-01",
                                 "20261118", "2026-1-5", ""])  # fmt: skip
def test_dates_are_iso_ascii_and_plausible_relative_to_today(raw: str) -> None:
    with pytest.raises(inputs.InputProblem):
        inputs.iso_date(raw, today=TODAY)


def test_plausibility_moves_with_the_today_passed_in() -> None:
    assert inputs.iso_date("2040-01-01", today=TODAY) == date(2040, 1, 1)
    with pytest.raises(inputs.InputProblem, match="on or before"):
        inputs.iso_date("2040-01-01", today=date(2016, 1, 1))
    assert inputs.date_problem(date(2026, 11, 19), today=TODAY, future_days=0) == "must not be in the future"


@pytest.mark.parametrize(("text", "multiline", "ok"), [("a\tb", False, True), ("a\nb", True, True),
                         ("a\nb", False, False), ("a\x00b", True, False), ("a\x1bb", True, False),
                         ("a\x85b", True, False)])  # fmt: skip
def test_control_characters_are_refused_and_line_breaks_only_where_they_belong(
    text: str, multiline: bool, ok: bool
) -> None:
    assert (inputs.control_problem(text, multiline=multiline) is None) is ok


@pytest.mark.parametrize(("name", "spelled"), [("Muñoz", "Munoz"), ("O’Brien", "O'Brien"), ("Ærø", "Aero"),
                         ("Straße", "Strasse"), ("Zoe\u0308", "Zoe"), ("José  María", "Jose Maria")])  # fmt: skip
def test_accented_latin_names_are_spelled_in_ascii_for_the_837(name: str, spelled: str) -> None:
    assert inputs.x12_text(name, max_length=60) == spelled


@pytest.mark.parametrize("name", ["Smith😀", "Smith:Jr", "A*B", "A~B", "A^B", "A=B", "<b>", "A>B", "Ann\nLee",
                                  "Иванов", "王", "Ωmega", "A\x00"])  # fmt: skip
def test_what_an_837_cannot_carry_is_refused_without_echoing_the_name(name: str) -> None:
    with pytest.raises(inputs.InputProblem) as refused:
        inputs.x12_text(name, max_length=60)
    assert name not in str(refused.value)


# --- forms -----------------------------------------------------------------------------------------------------


def _all_subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_all_subclasses(sub)}
    return found


def test_every_form_of_the_app_derives_from_the_checked_bases() -> None:
    create_app(settings=make_settings("sqlite://", "/tmp/unused-instance"))  # noqa: S108 - imports every view
    ours = {c for c in _all_subclasses(FlaskForm) | _all_subclasses(PlainForm) if c.__module__.startswith("backoffice")}
    assert ours, "no form found"
    unchecked = sorted(c.__qualname__ for c in ours if not issubclass(c, forms.Form | forms.SubForm))
    assert not unchecked, f"derive these from backoffice.forms.Form (or SubForm): {unchecked}"


def test_the_sign_in_forms_email_with_a_nul_is_a_field_error(app: Flask) -> None:
    with app.test_request_context(method="POST", data={"email": "a\x00@example.test", "password": "x"}):
        form = LoginForm(meta={"csrf": False})
        assert not form.validate()
        assert form.errors == {"email": ["contains a NUL character, which is not allowed"]}


def test_a_money_field_names_its_problem_even_when_required(app: Flask) -> None:
    with app.test_request_context(method="POST", data={"amount": "NaN", "paid_on": "0001-01-01"}):
        from backoffice.balances.forms import PaymentForm

        form = PaymentForm(meta={"csrf": False})
        assert not form.validate()
        assert form.errors["amount"] == ["expected an amount such as 150.00, in digits 0-9"]
        assert form.errors["paid_on"] == ["must be on or after 1900-01-01"]


# --- the 26 inputs that were a 500, over HTTP --------------------------------------------------------------------


@pytest.fixture
def signed_in(app: Flask) -> tuple[Any, dict[Any, FlaskClient]]:
    world = build_world(app)
    return world, signed_in_clients(app, world)


def _token(client: FlaskClient, url: str = "/queue") -> str:
    return csrf_token(client.get(url).text)


GET_CASES = [  # (url, status, what the page must say)
    ("/queue?practice=²", 200, "practice: expected a practice id"),
    ("/queue?payer=①", 200, "payer: expected a payer id"),
    ("/queue?amount_min=NaN", 200, "amount from: &#39;NaN&#39; is not an amount"),
    ("/queue?amount_max=Infinity", 200, "amount to: &#39;Infinity&#39; is not an amount"),
    ("/queue?amount_min=1e30", 200, "amount from: &#39;1e30&#39; is not an amount"),
    ("/patients?page=①", 200, "page: expected a whole number"),
    ("/patients?page=²", 200, "page: expected a whole number"),
    ("/appeals?payer_id=²", 400, "payer_id: expected a whole number"),
    ("/supervisor/reassign?min_amount=NaN&amp;preview=1", 200, ""),
    ("/admin/audit?patient_id=%E2%91%A0", 200, "Patient id: expected a whole number"),
    ("/admin/audit?date_from=0001-01-01", 200, "must be on or after 2000-01-01"),
    ("/queue?queue=a%00b", 400, "queue: contains a NUL character"),
    ("/patients?q=Smi%00th", 400, "q: contains a NUL character"),
    ("/appeals?status=%00", 400, "status: contains a NUL character"),
]


@pytest.mark.parametrize(("url", "status", "says"), GET_CASES)
def test_list_filters_with_unicode_digits_nul_or_nan_are_named_errors(
    signed_in: tuple[Any, dict[Any, FlaskClient]], url: str, status: int, says: str
) -> None:
    _, clients = signed_in
    response = clients[ADMIN].get(url.replace("&amp;", "&"))
    assert response.status_code == status, response.text[:300]
    assert says in response.text


def test_notes_escalations_and_the_sign_in_email_with_a_nul_are_refused_by_name(
    app: Flask, signed_in: tuple[Any, dict[Any, FlaskClient]]
) -> None:
    world, clients = signed_in
    item = world.objects["own"]["item"]
    client = clients[BILLER]
    token = _token(client)
    for path, data, field in (
        (f"/items/{item}/notes", {"body": "called \x00 the payer"}, "body"),
        (f"/items/{item}/escalate", {"reason": "stuck\x00"}, "reason"),
        (f"/items/{item}/calls", {"outcome": "resolved", "representative": "A\x00"}, "representative"),
        (f"/items/{item}/complete", {"outcome": "resolved", "note": "\x00"}, "note"),
    ):
        response = client.post(path, data={**data, "csrf_token": token})
        assert response.status_code == 400 and f"{field}: contains a NUL character" in response.text, path
    anonymous = app.test_client()
    response = anonymous.post("/login", data={"email": "x\x00@matrix.test", "password": "p",
                                              "csrf_token": _token(anonymous, "/login")})  # fmt: skip
    assert response.status_code == 400 and "email: contains a NUL character" in response.text
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(db.metadata.tables["interactions"])) >= 0


def test_money_fields_refuse_nan_infinity_and_1e30_with_the_field_named(
    app: Flask, signed_in: tuple[Any, dict[Any, FlaskClient]]
) -> None:
    world, clients = signed_in
    client = clients[BILLER]
    patient, plan, item = (world.objects["own"][k] for k in ("patient", "plan", "item"))
    token = _token(client, f"/patients/{patient}")
    for bad in ("NaN", "Infinity", "-Infinity", "1e30", "²"):
        cases = (
            (f"/plans/{plan}/payments", {"pay-amount": bad, "pay-paid_on": "2026-11-18"}, f"/patients/{patient}",
             "amount: expected an amount"),
            (f"/patients/{patient}/waivers", {"waive-amount": bad, "waive-reason": "hardship"}, f"/patients/{patient}",
             "amount: expected an amount"),
            (f"/items/{item}/forms/benefits", {"copay": bad, "active": "yes"}, f"/items/{item}",
             "Copay $: expected an amount"),
            (f"/items/{item}/write-off", {"balance": "insurance", "amount": bad, "reason": "small_balance"},
             f"/items/{item}", "Amount: expected an amount"),
        )  # fmt: skip
        for path, data, page, says in cases:
            response = client.post(path, data={**data, "csrf_token": token}, follow_redirects=True)
            assert response.status_code < 500, (path, bad)
            assert says in response.text or says in client.get(page).text, (path, bad)


def test_the_api_and_csv_imports_name_unicode_digits_and_nul(
    app: Flask, client: FlaskClient, signed_in: tuple[Any, dict[Any, FlaskClient]]
) -> None:
    world, _ = signed_in
    rows, errors = parse_csv(io.StringIO(_csv({**GOOD, "minutes": "²"})), today=TODAY)
    assert not rows and [str(e) for e in errors] == ["row 2, column minutes: expected a whole number from 1 to 600, "
                                                     "got '²'"]  # fmt: skip
    headers = {"Authorization": f"Bearer {world.tokens[BILLER]}", "Content-Type": "application/json"}
    response = client.post("/api/v1/sessions", data=json.dumps({"sessions": [{**GOOD, "minutes": "①"}]}),
                           headers=headers)  # fmt: skip
    assert response.status_code == 422
    assert {"row": 1, "column": "minutes"}.items() <= response.get_json()["errors"][0].items()
    response = client.post("/api/v1/sessions", data=json.dumps({"sessions": [{**GOOD, "patient_last": "Ri\x00"}]}),
                           headers=headers)  # fmt: skip
    assert response.status_code == 400
    assert response.get_json()["error"].startswith("sessions[0].patient_last: contains a NUL character")
    for column, value in (("patient_last", "Rivera😀"), ("patient_first", "Jo:rdan"), ("patient_last", "A<B")):
        body = json.dumps({"sessions": [{**GOOD, column: value}]})
        response = client.post("/api/v1/sessions", data=body, headers=headers)
        assert response.status_code == 422  # the API import takes the CSV's X12 rule
        (error,) = response.get_json()["errors"]
        assert (error["row"], error["column"]) == (1, column) and "837 cannot carry" in error["message"]
        assert value not in response.text
    response = client.post("/api/v1/work-items/next", data=json.dumps({"queue": "\x00"}), headers=headers)
    assert response.status_code == 400 and response.get_json()["error"].startswith("queue: contains a NUL")


# --- $0.01 and 0001-01-01 ---------------------------------------------------------------------------------------


def test_a_one_cent_payment_is_taken_and_a_payment_dated_year_one_is_not(
    app: Flask, signed_in: tuple[Any, dict[Any, FlaskClient]]
) -> None:
    world, clients = signed_in
    client = clients[BILLER]
    patient = world.objects["own"]["patient"]
    page = f"/patients/{patient}"
    with app.app_context():
        person = db.session.get(Patient, patient)
        db.session.get(PaymentPlan, world.objects["own"]["plan"]).state = "cancelled"  # the matrix's bare plan
        db.session.add(LedgerEntry(practice_id=person.practice_id, patient_id=patient, kind="patient_responsibility",
                                   amount=Decimal("90.00"), reason="PR-1 deductible", at=NOW))  # fmt: skip
        db.session.commit()
        biller = db.session.scalar(select(User).where(User.email == world.emails[BILLER]))
        plan_id = balance_services.create_payment_plan(
            patient=person, instalment_count=3, first_due_on=date(2026, 12, 1), interval="monthly", autopay=False,
            agreement_signed_on=None, actor=biller, now=NOW,
        ).id  # fmt: skip
    token = _token(client, page)
    response = client.post(f"/plans/{plan_id}/payments",
                           data={"pay-amount": "0.01", "pay-paid_on": "2026-11-18", "csrf_token": token})  # fmt: skip
    assert response.status_code in (302, 303)
    assert "Amount: Number must be at least" not in client.get(page).text
    for paid_on, says in (("0001-01-01", "paid_on: must be on or after 1900-01-01"),
                          ("1926-11-18", "paid_on: must be on or after")):  # fmt: skip
        client.post(f"/plans/{plan_id}/payments",
                    data={"pay-amount": "1.00", "pay-paid_on": paid_on, "csrf_token": token})  # fmt: skip
        assert says in client.get(page).text, paid_on
    with app.app_context():
        paid = select(LedgerEntry).where(LedgerEntry.patient_id == patient, LedgerEntry.kind == "patient_payment")
        payments = db.session.scalars(paid).all()
        assert [p.amount for p in payments] == [Decimal("-0.01")]
        assert balance_queries.balance(patient) is not None


def test_the_payment_service_refuses_floats_and_implausible_dates(app: Flask) -> None:
    with app.app_context():
        with pytest.raises(ValidationFailed, match="amount: not an amount"):
            balance_services._money(0.01, "amount")
        assert balance_services._money("0.01", "amount") == Decimal("0.01")
        assert NOW.date() == TODAY
