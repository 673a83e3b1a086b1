"""Session import: the CSV format, row/column errors without PHI, all-or-nothing writes, idempotent re-import."""

from __future__ import annotations

import csv
import io
from datetime import date, time

import pytest
from sqlalchemy import func, select

from backoffice.cli import cli
from backoffice.extensions import db
from backoffice.patients.models import Coverage, Patient
from backoffice.sessions.models import Session
from backoffice.sessions.rules import COLUMNS, PHI_COLUMNS, SUBSCRIBER_COLUMNS, SessionRow, parse_csv
from backoffice.sessions.services import ImportRefused, import_sessions
from backoffice.work.models import Interaction, WorkItem
from backoffice.x12.claim837_format import clean_text
from tests import factories as f
from tests.factories import NOW

TODAY = date(2026, 11, 18)
GOOD = {
    "session_ref": "CM-1001", "practice": "calm-mind", "date_of_service": "2026-11-16", "start_time": "09:00",
    "provider_npi": "1234567893", "provider_credential": "LCSW", "patient_ref": "P-77", "patient_first": "Jordan",
    "patient_last": "Rivera", "patient_dob": "1988-04-02", "patient_sex": "F", "payer_id": "AETNA",
    "member_id": "W123456789", "service": "psychotherapy", "minutes": "53", "em_code": "", "modality": "video",
    "patient_location": "home", "interactive_complexity": "no", "screenings": "1", "diagnoses": "F33.1;Z630",
    "auth_number": "",
}  # fmt: skip


def _csv(*rows: dict[str, str], columns: tuple[str, ...] = COLUMNS) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: row.get(c, "") for c in columns})
    return out.getvalue()


def _parse(*rows: dict[str, str]) -> tuple[list[SessionRow], list]:
    return parse_csv(io.StringIO(_csv(*rows)), today=TODAY)


def _messages(errors: list) -> list[str]:
    return [str(e) for e in errors]


def test_a_good_row_is_typed() -> None:
    (row,), errors = _parse(GOOD)
    assert errors == []
    assert (row.row, row.date_of_service, row.start_time, row.minutes) == (2, date(2026, 11, 16), time(9), 53)
    assert row.diagnoses == ("F33.1", "Z63.0")  # undotted codes are stored as printed
    assert (row.service.value, row.modality.value, row.interactive_complexity, row.screenings) == (
        "psychotherapy", "video", False, 1)  # fmt: skip


def test_column_order_is_free_and_blank_lines_are_skipped() -> None:
    text = _csv(GOOD, columns=tuple(reversed(COLUMNS))) + "\n,,,\n"
    rows, errors = parse_csv(io.StringIO(text), today=TODAY)
    assert errors == [] and len(rows) == 1


@pytest.mark.parametrize(
    "header, message",
    [
        ([], "the file is empty"),
        ([c for c in COLUMNS if c != "minutes"], "missing column(s): minutes"),
        ([*COLUMNS, "notes"], "unknown column(s): notes"),
        ([*COLUMNS, "minutes"], "repeated column(s): minutes"),
    ],
)
def test_a_wrong_header_is_reported_on_row_1(header: list[str], message: str) -> None:
    text = ",".join(header) + "\n" if header else ""
    rows, errors = parse_csv(io.StringIO(text), today=TODAY)
    assert rows == [] and len(errors) == 1
    assert str(errors[0]).startswith("row 1, column (header):") and message in str(errors[0])


@pytest.mark.parametrize(
    "column, value, message",
    [
        ("session_ref", "", "required"),
        ("date_of_service", "11/16/2026", "expected a date as YYYY-MM-DD, got '11/16/2026'"),
        ("date_of_service", "2026-11-19", "2026-11-19 is in the future"),
        ("start_time", "9am", "expected HH:MM (24-hour)"),
        ("provider_npi", "1234567890", "NPI check digit is wrong (expected 3)"),
        ("provider_npi", "123456789", "exactly 10 digits"),
        ("provider_credential", "MSW", "unknown value 'MSW'; expected one of MD, DO"),
        ("patient_sex", "X", "unknown value 'X'"),
        ("payer_id", "", "required"),
        ("member_id", "", "required unless payer_id is SELFPAY"),
        ("service", "therapy", "unknown value 'therapy'; expected one of intake"),
        ("minutes", "0", "expected a whole number from 1 to 600, got 0"),
        ("minutes", "45.5", "expected a whole number from 1 to 600, got '45.5'"),
        ("minutes", "601", "got 601"),
        ("em_code", "99213", "must be empty for service psychotherapy"),
        ("modality", "phone", "unknown value 'phone'; expected one of in_person, video, audio_only"),
        ("patient_location", "car", "unknown value 'car'"),
        ("interactive_complexity", "maybe", "expected yes or no"),
        ("screenings", "-1", "expected a whole number from 0 to 20"),
        ("diagnoses", "", "at least one ICD-10-CM code"),
        ("diagnoses", "F33.1;33.1", "'33.1' is not an ICD-10-CM code"),
        ("diagnoses", "F33.1;F33.1", "a code is listed twice"),
        ("diagnoses", ";".join(f"F{n}.0" for n in range(40, 53)), "at most 12 codes on a claim, got 13"),
    ],
)
def test_each_bad_cell_is_named_by_row_and_column(column: str, value: str, message: str) -> None:
    rows, errors = _parse(GOOD, {**GOOD, "session_ref": "CM-1002", column: value})
    assert len(rows) == 1
    assert any(m.startswith(f"row 3, column {column}: ") and message in m for m in _messages(errors)), errors


def test_e_and_m_services_need_an_office_e_and_m_code() -> None:
    _, errors = _parse({**GOOD, "service": "em_psychotherapy", "em_code": "90834"})
    assert _messages(errors) == [
        "row 2, column em_code: an office E/M code (99202-99205, 99211-99215) is required for service em_psychotherapy"
    ]
    rows, errors = _parse({**GOOD, "service": "em", "em_code": "99214"})
    assert errors == [] and rows[0].em_code == "99214"


def test_self_pay_rows_need_no_member_id() -> None:
    rows, errors = _parse({**GOOD, "payer_id": "SELFPAY", "member_id": ""})
    assert errors == [] and rows[0].member_id == ""


@pytest.mark.parametrize(
    "column, value", [("patient_dob", "04/02/1988"), ("patient_ref", "P" * 41), ("member_id", "M" * 41)]
)
def test_errors_never_repeat_patient_data(column: str, value: str) -> None:
    _, errors = _parse({**GOOD, column: value})
    assert errors and all(value not in m for m in _messages(errors))


def test_a_birth_date_after_the_service_is_refused() -> None:
    _, errors = _parse({**GOOD, "patient_dob": "2026-11-17"})
    assert "row 2, column patient_dob: is after the date of service" in _messages(errors)


# --- the import service ---


@pytest.fixture
def practice(ctx):
    org = f.make_org()
    practice = f.make_practice(org, slug="calm-mind", owned_steps=["verify_benefits", "enter_charge", "audit"])
    f.make_provider(practice, npi="1234567893", credential="LCSW")
    f.make_payer(org, payer_id="AETNA")
    f.make_payer(org, payer_id="SELFPAY", kind="self_pay")
    return practice


def _import(*rows: dict[str, str]):
    parsed, errors = _parse(*rows)
    assert errors == []
    return import_sessions(rows=parsed, organization_id=_org_id(), now=NOW, source="test.csv")


def _org_id() -> int:
    from backoffice.orgs.models import Organization

    return db.session.scalar(select(Organization.id).order_by(Organization.id.desc()))


def _count(model: type) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_importing_creates_sessions_patients_coverages_and_a_log_row_each(practice) -> None:
    second = {**GOOD, "session_ref": "CM-1002", "date_of_service": "2026-11-17", "start_time": "14:30"}
    result = _import(GOOD, second)
    assert len(result.created) == 2 and result.unchanged == 0
    assert (result.patients_created, result.coverages_created) == (1, 1)
    coverage = db.session.scalars(select(Coverage)).one()
    assert (coverage.member_id, coverage.priority.value, coverage.relationship_to_subscriber.value) == (
        "W123456789", "primary", "18")  # fmt: skip
    assert coverage.effective_from == date(2026, 11, 16)
    session = db.session.get(Session, result.created[0])
    assert (session.external_ref, session.diagnoses, session.received_at) == ("CM-1001", ["F33.1", "Z63.0"], NOW)
    logged = db.session.scalars(select(Interaction).where(Interaction.session_id == session.id)).one()
    assert logged.body == "Imported from test.csv, row 2" and logged.kind.value == "document"


def test_reimporting_the_same_rows_changes_nothing(practice) -> None:
    _import(GOOD)
    before = (_count(Session), _count(Patient), _count(Coverage), _count(Interaction))
    again = _import(GOOD)
    assert (again.created, again.unchanged) == ([], 1)
    assert (_count(Session), _count(Patient), _count(Coverage), _count(Interaction)) == before


def test_a_changed_row_for_an_imported_session_is_refused(practice) -> None:
    _import(GOOD)
    with pytest.raises(ImportRefused) as refused:
        _import({**GOOD, "minutes": "45"})
    assert _messages(refused.value.errors) == [
        "row 2, column session_ref: 'CM-1001' was imported before with different minutes; "
        "changes to an imported session are refused"
    ]


def test_one_bad_row_writes_nothing_at_all(practice) -> None:
    rows = [GOOD, {**GOOD, "session_ref": "CM-1002", "provider_npi": "1558598797"}, {**GOOD, "session_ref": "CM-3"}]
    with pytest.raises(ImportRefused) as refused:
        _import(*rows)
    assert _messages(refused.value.errors) == [
        "row 3, column provider_npi: no provider with NPI 1558598797 at calm-mind"
    ]
    assert (_count(Session), _count(Patient), _count(Coverage), _count(Interaction)) == (0, 0, 0, 0)


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"practice": "elsewhere"}, "row 2, column practice: no practice 'elsewhere' in this organization"),
        ({"payer_id": "HUMANA"}, "row 2, column payer_id: unknown payer 'HUMANA'"),
        ({"provider_credential": "LPC"}, "row 2, column provider_credential: LPC, but the provider on file is LCSW"),
    ],
)
def test_references_must_resolve(practice, change: dict, expected: str) -> None:
    with pytest.raises(ImportRefused) as refused:
        _import({**GOOD, **change})
    assert _messages(refused.value.errors) == [expected]


def test_a_session_ref_twice_in_one_file_is_refused(practice) -> None:
    with pytest.raises(ImportRefused) as refused:
        _import(GOOD, {**GOOD, "start_time": "10:00"})
    assert "row 3, column session_ref: 'CM-1001' appears again (first on row 2)" in _messages(refused.value.errors)


def test_a_known_patient_with_other_demographics_is_refused_without_echoing_them(practice) -> None:
    _import(GOOD)
    with pytest.raises(ImportRefused) as refused:
        _import({**GOOD, "session_ref": "CM-2", "patient_last": "Rivers", "patient_dob": "1988-04-03"})
    messages = _messages(refused.value.errors)
    assert messages == [
        "row 2, column patient_last: differs from the patient on file for this patient_ref",
        "row 2, column patient_dob: differs from the patient on file for this patient_ref",
    ]


# --- the command ---


def test_the_command_imports_plans_chains_and_is_idempotent(app, runner, tmp_path) -> None:
    with app.app_context():
        org = f.make_org()
        practice = f.make_practice(org, slug="calm-mind", owned_steps=["verify_benefits", "enter_charge", "appeal"])
        f.make_provider(practice, npi="1234567893", credential="LCSW")
        f.make_payer(org, payer_id="AETNA")
    path = tmp_path / "sessions.csv"
    path.write_text(_csv(GOOD, {**GOOD, "session_ref": "CM-1002"}), encoding="utf-8")
    result = runner.invoke(cli, ["import", "sessions", str(path)])
    assert result.exit_code == 0, result.output
    assert "imported 2 new session(s), 0 already imported" in result.output
    assert "4 work item(s) planned" in result.output  # verify_benefits + enter_charge each; never an appeal
    again = runner.invoke(cli, ["import", "sessions", str(path)])
    assert "imported 0 new session(s), 2 already imported and unchanged" in again.output
    with app.app_context():
        assert _count(WorkItem) == 4


def test_the_command_reports_every_problem_and_exits_1(app, runner, tmp_path) -> None:
    with app.app_context():
        f.make_org()
    path = tmp_path / "bad.csv"
    path.write_text(_csv({**GOOD, "minutes": "ten"}, {**GOOD, "modality": "fax"}), encoding="utf-8")
    result = runner.invoke(cli, ["import", "sessions", str(path)])
    assert result.exit_code == 1
    assert "row 2, column minutes: expected a whole number from 1 to 600, got 'ten'" in result.output
    assert "row 3, column modality: unknown value 'fax'" in result.output
    assert "2 problem(s) in bad.csv; nothing was imported" in result.output
    with app.app_context():
        assert _count(Session) == 0


def test_the_command_refuses_a_file_that_is_not_utf8(app, runner, tmp_path) -> None:
    with app.app_context():
        f.make_org()
    path = tmp_path / "latin1.csv"
    path.write_bytes(_csv({**GOOD, "patient_last": "Núñez"}).encode("latin-1"))
    result = runner.invoke(cli, ["import", "sessions", str(path)])
    assert result.exit_code == 1
    assert "latin1.csv is not UTF-8 text" in result.output


@pytest.mark.parametrize("code, ok", [("F32.A", True), ("F4323", True), ("Z63.0", True), ("S52.001A", True),
                                      ("U07.1", True), ("F43.", False), ("F3", False), ("1F32", False),
                                      ("F43.231234", False)])  # fmt: skip
def test_diagnosis_shapes_follow_billing_rules_3_5(code: str, ok: bool) -> None:
    _, errors = _parse({**GOOD, "diagnoses": code})
    assert (errors == []) is ok, errors


ADDRESS = {"patient_address": "12 Elm St", "patient_city": "Springfield", "patient_state": "il",
           "patient_zip": "62701-1234"}  # fmt: skip


def test_the_optional_address_columns_are_read_together() -> None:
    rows, errors = parse_csv(io.StringIO(_csv({**GOOD, **ADDRESS}, columns=(*COLUMNS, *ADDRESS))), today=TODAY)
    assert errors == [] and rows[0].patient_address == ("12 Elm St", "Springfield", "IL", "627011234")
    _, errors = parse_csv(
        io.StringIO(_csv({**GOOD, **ADDRESS, "patient_city": "", "patient_zip": "6270"}, columns=(*COLUMNS, *ADDRESS))),
        today=TODAY,
    )
    assert _messages(errors) == [
        "row 2, column patient_city: required when any patient address column is given",
        "row 2, column patient_zip: 5 or 9 digits",
    ]


def test_a_new_patient_gets_the_address_and_a_different_one_later_is_refused(practice) -> None:  # noqa: ANN001
    parsed, _ = parse_csv(io.StringIO(_csv({**GOOD, **ADDRESS}, columns=(*COLUMNS, *ADDRESS))), today=TODAY)
    import_sessions(rows=parsed, organization_id=_org_id(), now=NOW, source="a.csv")
    patient = db.session.scalars(select(Patient)).one()
    assert (patient.address_line1, patient.state, patient.zip_code) == ("12 Elm St", "IL", "627011234")
    moved = {**GOOD, **ADDRESS, "session_ref": "CM-2", "patient_address": "9 Oak Ave"}
    parsed, _ = parse_csv(io.StringIO(_csv(moved, columns=(*COLUMNS, *ADDRESS))), today=TODAY)
    with pytest.raises(ImportRefused) as refused:
        import_sessions(rows=parsed, organization_id=_org_id(), now=NOW, source="b.csv")
    assert _messages(refused.value.errors) == [
        "row 2, column patient_address: differs from the patient on file for this patient_ref"
    ]


# --- what an 837 can carry --------------------------------------------------------------------------------------

ADDRESSED = (*COLUMNS, "patient_address", "patient_city", "patient_state", "patient_zip")
PLACE = {"patient_address": "12 Elm St", "patient_city": "Springfield", "patient_state": "IL", "patient_zip": "62701"}


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("patient_last", "Rivera😀", "contains a character an 837 cannot carry (U+1F600)"),
        ("patient_last", "Rivera:Jr", "contains an X12 separator (:), which an 837 cannot carry"),
        ("patient_first", "Jor*dan", "contains an X12 separator (*)"),
        ("patient_first", "Jo~", "contains an X12 separator (~)"),
        ("patient_last", "Ri^vera", "contains an X12 separator (^)"),
        ("patient_last", "A=B", "contains '=', which an 837 cannot carry"),
        ("patient_first", "<b>", "contains '<', which an 837 cannot carry"),
        ("patient_first", "Jordan>", "contains '>', which an 837 cannot carry"),
        ("patient_last", "Ri\nvera", "contains a line break; this field is one line"),
        ("patient_last", "Иванова", "contains a character an 837 cannot carry (U+0418)"),
        ("patient_first", "J" * 36, "at most 35 characters (the 837 limit)"),
        ("patient_address", "12 Elm St:Apt 4", "contains an X12 separator (:)"),
        ("patient_city", "Spring~field", "contains an X12 separator (~)"),
        ("member_id", "W123:456", "letters, digits, spaces and hyphens only (what an 837 carries)"),
        ("auth_number", "A=1", "letters, digits, spaces and hyphens only (what an 837 carries)"),
        ("patient_last", "Riv\x00era", "contains a NUL character, which is not allowed"),
        ("minutes", "⑤", "expected a whole number from 1 to 600"),
        ("date_of_service", "２０２６-11-16", "expected a date as YYYY-MM-DD"),
        ("date_of_service", "2016-11-16", "is more than 3 years ago"),
        ("patient_dob", "0001-01-01", "must be a past date after 1900"),
    ],
)
def test_names_addresses_and_ids_an_837_cannot_carry_are_refused_by_row_and_column(
    column: str, value: str, message: str
) -> None:
    row = {**GOOD, **PLACE, column: value}
    rows, errors = parse_csv(io.StringIO(_csv(row, columns=ADDRESSED)), today=TODAY)
    assert rows == []
    assert any(str(e).startswith(f"row 2, column {column}: ") and message in str(e) for e in errors), errors
    if column in PHI_COLUMNS:
        assert all(value not in str(e) for e in errors)


def test_accented_latin_names_are_kept_as_written_and_carried_in_ascii() -> None:
    row = {**GOOD, **PLACE, "patient_first": "Zoë", "patient_last": "Muñoz-O’Brien", "patient_city": "Cañon City"}
    (parsed,), errors = parse_csv(io.StringIO(_csv(row, columns=ADDRESSED)), today=TODAY)
    assert errors == []
    assert (parsed.patient_first, parsed.patient_last) == ("Zoë", "Muñoz-O’Brien")  # the patient's name as written
    assert clean_text(parsed.patient_last) == "MUNOZ-O'BRIEN" and clean_text(parsed.patient_address[1]) == "CANON CITY"


def test_a_name_written_with_a_combining_accent_matches_the_patient_on_file() -> None:
    composed, decomposed = "Zo\u00eb", "Zoe\u0308"
    (first,), _ = _parse({**GOOD, "patient_first": composed})
    (second,), _ = _parse({**GOOD, "patient_first": decomposed})
    assert first.patient_first == second.patient_first  # NFC at the edge


# --- large files --------------------------------------------------------------------------------------------------

BIG = 70_000  # more rows than the 65,535 bound parameters one statement may carry


def _big_file(rows: int) -> str:
    """``rows`` sessions of ``rows // 10`` patients (ten sessions each), every one on its own line."""
    lines = [",".join(COLUMNS)]
    for n in range(rows):
        patient = n // 10
        day = f"2026-{1 + n % 10:02d}-{1 + n % 28:02d}"
        row = {**GOOD, "session_ref": f"BIG-{n}", "patient_ref": f"P-{patient}", "member_id": f"W{patient:09d}",
               "date_of_service": day, "start_time": f"{8 + n % 10:02d}:00"}  # fmt: skip
        lines.append(",".join(row[c] for c in COLUMNS))
    return "\n".join(lines) + "\n"


def test_an_import_of_70000_rows_is_written_whole_in_one_transaction(practice) -> None:
    rows, errors = parse_csv(io.StringIO(_big_file(BIG)), today=TODAY)
    assert errors == [] and len(rows) == BIG
    result = import_sessions(rows=rows, organization_id=_org_id(), now=NOW, source="big.csv")
    assert len(result.created) == BIG and result.patients_created == BIG // 10
    assert db.session.scalar(select(func.count()).select_from(Session)) == BIG
    assert db.session.scalar(select(func.count()).select_from(Coverage)) == BIG // 10
    logged = select(func.count()).select_from(Interaction).where(Interaction.body.like("Imported from big.csv%"))
    assert db.session.scalar(logged) == BIG


def test_an_import_of_70000_rows_with_one_bad_row_writes_nothing(practice) -> None:
    text = _big_file(BIG).replace("BIG-69999,calm-mind", "BIG-69999,elsewhere")
    rows, errors = parse_csv(io.StringIO(text), today=TODAY)
    assert errors == []
    on_file = {"session_ref": "BIG-5", "patient_ref": "P-0", "member_id": "W000000000",
               "date_of_service": "2026-06-06", "start_time": "13:00"}  # fmt: skip
    _import({**GOOD, **on_file})  # one row already imported: the chunked lookups find it
    with pytest.raises(ImportRefused) as refused:
        import_sessions(rows=rows, organization_id=_org_id(), now=NOW, source="big.csv")
    assert [str(e) for e in refused.value.errors] == [
        "row 70001, column practice: no practice 'elsewhere' in this organization"
    ]
    assert db.session.scalar(select(func.count()).select_from(Session)) == 1  # the one imported before
    assert db.session.scalar(select(func.count()).select_from(Patient)) == 1


# ---- a dependent's subscriber, and a row that changes the patient's coverage (issue 16) -----------------------

WITH_SUBSCRIBER = (*COLUMNS, *SUBSCRIBER_COLUMNS)
CHILD = {**GOOD, "patient_ref": "P-88", "patient_first": "Sam", "patient_dob": "2014-06-01", "patient_sex": "M",
         "subscriber_relationship": "child", "subscriber_first": "Jordan", "subscriber_last": "Rivera",
         "subscriber_dob": "1988-04-02", "subscriber_sex": "F"}  # fmt: skip


def _parse_with_subscriber(*rows: dict[str, str]) -> tuple[list[SessionRow], list]:
    return parse_csv(io.StringIO(_csv(*rows, columns=WITH_SUBSCRIBER)), today=TODAY)


def test_a_dependent_child_is_imported_with_the_subscribers_own_facts(practice) -> None:
    rows, errors = _parse_with_subscriber(CHILD)
    assert errors == []
    import_sessions(rows=rows, organization_id=_org_id(), now=NOW, source="test.csv")
    coverage = db.session.scalars(select(Coverage)).one()
    assert (coverage.relationship_to_subscriber.value, coverage.subscriber_first_name, coverage.subscriber_last_name,
            coverage.subscriber_date_of_birth, coverage.subscriber_sex.value) == (
        "19", "Jordan", "Rivera", date(1988, 4, 2), "F")  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"subscriber_first": ""}, "row 2, column subscriber_first: required when subscriber_relationship is child"),
        ({"subscriber_relationship": "cousin"},
         "row 2, column subscriber_relationship: expected one of self, spouse, child, other, got 'cousin'"),
        ({"subscriber_relationship": "self"}, "row 2, column subscriber_first: only for a dependent"),
        ({"subscriber_dob": "2026-11-30"}, "row 2, column subscriber_dob: must be after 1900 and before the date"),
        ({"coverage_priority": "quaternary"}, "row 2, column coverage_priority: expected one of primary, secondary"),
        ({"payer_id": "SELFPAY", "member_id": ""}, "row 2, column subscriber_first: must be empty for SELFPAY"),
    ],
)  # fmt: skip
def test_bad_subscriber_columns_are_named(changes: dict[str, str], expected: str) -> None:
    _, errors = _parse_with_subscriber({**CHILD, **changes})
    assert any(message.startswith(expected) for message in _messages(errors)), _messages(errors)


def test_a_new_payer_replaces_the_primary_and_the_change_is_reported_never_a_silent_secondary(practice) -> None:
    f.make_payer(practice.organization, payer_id="CIGNA")
    _import(GOOD)
    later = {**GOOD, "session_ref": "CM-1002", "date_of_service": "2026-11-17", "payer_id": "CIGNA",
             "member_id": "C555"}  # fmt: skip
    result = _import(later)
    assert result.coverage_changes == [
        "row 2: primary coverage changes from payer AETNA to CIGNA from 2026-11-17; the one on file ends 2026-11-16"
    ]
    coverages = db.session.scalars(select(Coverage).order_by(Coverage.id)).all()
    assert [(c.member_id, c.priority.value, c.effective_from, c.effective_to) for c in coverages] == [
        ("W123456789", "primary", date(2026, 11, 16), date(2026, 11, 16)),
        ("C555", "primary", date(2026, 11, 17), None),
    ]
    # an explicit secondary is added beside the primary, and says nothing changed
    third = {**later, "session_ref": "CM-1003", "payer_id": "AETNA", "member_id": "W2"}
    rows, _ = _parse_with_subscriber({**third, "coverage_priority": "secondary"})
    added = import_sessions(rows=rows, organization_id=_org_id(), now=NOW, source="test.csv")
    assert added.coverage_changes == [] and added.coverages_created == 1


def test_a_coverage_that_would_end_before_it_starts_is_refused_and_nothing_is_written(practice) -> None:
    f.make_payer(practice.organization, payer_id="CIGNA")
    _import(GOOD)  # AETNA primary from 2026-11-16
    same_day = {**GOOD, "session_ref": "CM-1002", "start_time": "15:00", "payer_id": "CIGNA", "member_id": "C555"}
    with pytest.raises(ImportRefused) as refused:
        _import(same_day)
    assert _messages(refused.value.errors) == [
        "row 2, column payer_id: the patient's primary coverage on file starts on or after 2026-11-16; change "
        "coverage on the patient's page"
    ]
    assert _count(Coverage) == 1 and _count(Session) == 1


def test_the_import_command_prints_the_coverage_change(app, runner, tmp_path) -> None:  # noqa: ANN001
    with app.app_context():
        org = f.make_org()
        practice = f.make_practice(org, slug="calm-mind", owned_steps=["verify_benefits"])
        f.make_provider(practice, npi="1234567893", credential="LCSW")
        f.make_payer(org, payer_id="AETNA")
        f.make_payer(org, payer_id="CIGNA")
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text(_csv(GOOD, columns=WITH_SUBSCRIBER), encoding="utf-8")
    moved = {**GOOD, "session_ref": "CM-1002", "date_of_service": "2026-11-17", "payer_id": "CIGNA", "member_id": "C1"}
    second.write_text(_csv(moved, columns=WITH_SUBSCRIBER), encoding="utf-8")
    assert runner.invoke(cli, ["import", "sessions", str(first), "--no-plan"]).exit_code == 0
    result = runner.invoke(cli, ["import", "sessions", str(second), "--no-plan"])
    assert result.exit_code == 0, result.output
    assert "row 2: primary coverage changes from payer AETNA to CIGNA from 2026-11-17" in result.output
