"""`backoffice edi build-837`: an import file coded against a practice's setup becomes a valid 837P (pyx12 and
our business checks), sessions that cannot be billed are listed with why, and nothing is written."""

from __future__ import annotations

from sqlalchemy import func, select

from backoffice.cli import cli
from backoffice.extensions import db
from backoffice.sessions.models import Session
from backoffice.sessions.rules import ADDRESS_COLUMNS, COLUMNS
from backoffice.x12.checks import business_problems
from tests import factories as f
from tests.test_session_import import GOOD, _csv
from tests.x12_checks import pyx12_errors

ADDRESS = {"patient_address": "12 Elm St", "patient_city": "Springfield", "patient_state": "IL",
           "patient_zip": "627011234"}  # fmt: skip
FEES = {"90837": "200.00", "90834": "150.00", "96127": "15.00", "90847": "160.00"}


def _setup(app) -> None:  # noqa: ANN001
    with app.app_context():
        org = f.make_org(edi_submitter_id="BILLCO01", edi_contact_name="EDI Desk", edi_contact_phone="8005550100")
        practice = f.make_practice(org, slug="calm-mind", group_npi="1558598797", taxonomy="261QM0801X",
                                   zip_code="627011234", fee_schedule=FEES)  # fmt: skip
        f.make_provider(practice, npi="1234567893", credential="LCSW", taxonomy="1041C0700X")
        f.make_payer(org, payer_id="AETNA", filing_limit_days=120)
        f.make_payer(org, payer_id="SELFPAY", kind="self_pay")


def test_an_onboarding_file_becomes_a_valid_837p_and_nothing_is_written(app, runner, tmp_path) -> None:  # noqa: ANN001
    _setup(app)
    rows = [
        {**GOOD, **ADDRESS, "modality": "video", "patient_location": "home"},
        {**GOOD, **ADDRESS, "session_ref": "CM-2", "patient_ref": "P-2", "service": "family_with_patient",
         "minutes": "50", "screenings": "0", "patient_last": "Muñoz"},
        {**GOOD, "session_ref": "CM-3", "patient_ref": "P-3", "payer_id": "SELFPAY", "member_id": ""},
        {**GOOD, "session_ref": "CM-4", "patient_ref": "P-4", "minutes": "12"},
        {**GOOD, "session_ref": "CM-5", "patient_ref": "P-5"},  # no address anywhere
    ]  # fmt: skip
    source = tmp_path / "onboard.csv"
    source.write_text(_csv(*rows, columns=(*COLUMNS, *ADDRESS_COLUMNS)), encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(cli, ["edi", "build-837", str(source), "--practice", "calm-mind", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "2 claim(s), 3 session(s) skipped" in result.output
    assert "skipped CM-3: self-pay: there is no insurance claim" in result.output
    assert "skipped CM-4: not billable: CODE-TIME-UNDER-16" in result.output
    assert "skipped CM-5: no patient address" in result.output
    (written,) = out.iterdir()
    text = written.read_text(encoding="ascii")
    assert business_problems(text) == []
    assert pyx12_errors(text, tmp_path) == []
    assert "*T*:~" in text[:110]  # a preview carries the test usage indicator
    assert "CLM*CM-1001*215*" in text  # 90837 at 200.00 + 96127 at 15.00
    assert "HC:90837:95" in text and "MUNOZ" in text
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Session)) == 0


def test_a_cpt_missing_from_the_fee_schedule_is_reported(app, runner, tmp_path) -> None:  # noqa: ANN001
    _setup(app)
    source = tmp_path / "s.csv"
    source.write_text(
        _csv({**GOOD, **ADDRESS, "minutes": "30", "screenings": "0"}, columns=(*COLUMNS, *ADDRESS_COLUMNS))
    )
    result = runner.invoke(
        cli, ["edi", "build-837", str(source), "--practice", "calm-mind", "--out", str(tmp_path / "o")]
    )
    assert "skipped CM-1001: no charge for 90832 in the practice's fee schedule" in result.output
    assert "no billable session" in result.output


def test_rows_of_another_practice_are_refused(app, runner, tmp_path) -> None:  # noqa: ANN001
    _setup(app)
    source = tmp_path / "s.csv"
    source.write_text(_csv({**GOOD, "practice": "harbor-family"}))
    result = runner.invoke(cli, ["edi", "build-837", str(source), "--practice", "calm-mind", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "row 2, column practice: 'harbor-family', but this file is being built for calm-mind" in result.output


def test_an_organization_without_its_edi_identity_is_told_what_to_set(app, runner, tmp_path) -> None:  # noqa: ANN001
    with app.app_context():
        org = f.make_org()
        f.make_practice(org, slug="calm-mind", taxonomy="261QM0801X")
    source = tmp_path / "s.csv"
    source.write_text(_csv(GOOD))
    result = runner.invoke(cli, ["edi", "build-837", str(source), "--practice", "calm-mind", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "set edi_submitter_id, edi_contact_name, edi_contact_phone before building an 837P" in result.output


def test_a_session_ref_too_long_for_clm01_is_refused_never_cut(app, runner, tmp_path) -> None:  # noqa: ANN001
    _setup(app)
    long_ref = "CM-" + "7" * 35  # 38 characters fit; the two below share those 38 and differ only after them
    rows = [
        {**GOOD, **ADDRESS, "session_ref": long_ref + "1", "patient_ref": "P-1"},
        {**GOOD, **ADDRESS, "session_ref": long_ref + "2", "patient_ref": "P-2"},
        {**GOOD, **ADDRESS, "session_ref": long_ref, "patient_ref": "P-3"},
    ]
    source = tmp_path / "long.csv"
    source.write_text(_csv(*rows, columns=(*COLUMNS, *ADDRESS_COLUMNS)), encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(cli, ["edi", "build-837", str(source), "--practice", "calm-mind", "--out", str(out)])
    assert result.exit_code == 0, result.output
    for suffix in "12":
        assert (
            f"skipped {long_ref}{suffix}: claim '{long_ref}{suffix}': account number (CLM01): is 39 characters; "
            "at most 38 fit" in result.output
        )
    assert "1 claim(s), 2 session(s) skipped" in result.output
    (written,) = out.iterdir()
    assert written.read_text(encoding="ascii").count(f"CLM*{long_ref}*") == 1
