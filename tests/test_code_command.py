"""`backoffice code FILE.csv --json`: the dry run's JSON contract, same-day edits across rows, nothing written."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from backoffice.cli import cli
from backoffice.extensions import db
from backoffice.sessions.models import Session
from tests import factories as f
from tests.test_session_import import GOOD, _csv


def _setup(app) -> None:  # noqa: ANN001
    with app.app_context():
        org = f.make_org()
        practice = f.make_practice(org, slug="calm-mind", group_npi="1558598797")
        f.make_provider(practice, npi="1234567893", credential="LCSW")
        f.make_payer(org, payer_id="AETNA", prior_auth_cpts=["90837"], filing_limit_days=120)
        f.make_payer(org, payer_id="MEDICARE", kind="medicare", filing_limit_days=365, telehealth_policy={
            "video_modifier": None, "audio_only_modifier": "93", "home_pos": "10", "other_pos": "02"})  # fmt: skip


def _run(runner, tmp_path, *rows: dict) -> object:  # noqa: ANN001
    path = tmp_path / "s.csv"
    path.write_text(_csv(*rows), encoding="utf-8")
    return runner.invoke(cli, ["code", str(path), "--json"])


def test_the_dry_run_prints_the_contract_and_writes_nothing(app, runner, tmp_path) -> None:  # noqa: ANN001
    _setup(app)
    medicare_video = {**GOOD, "session_ref": "CM-2", "payer_id": "MEDICARE", "member_id": "1EG4TE5MK73",
                      "patient_ref": "P-9", "minutes": "45"}  # fmt: skip
    result = _run(runner, tmp_path, GOOD, medicare_video)
    assert result.exit_code == 0, result.output
    sessions = json.loads(result.stdout)["sessions"]
    assert [s["session_ref"] for s in sessions] == ["CM-1001", "CM-2"]
    first, second = sessions
    assert set(first) == {"session_ref", "billable", "filing_deadline", "lines", "findings", "rendering_npi",
                          "supervising_npi"}  # fmt: skip
    assert first["lines"][0] == {"cpt": "90837", "modifiers": ["95"], "units": 1, "pos": "10",
                                 "diagnosis_pointers": [1, 2]}  # fmt: skip
    assert first["lines"][1]["cpt"] == "96127"
    # Aetna requires prior auth for 90837 and nobody has one on file.
    assert any(x["rule"] == "AUTH-REQUIRED" and x["severity"] == "error" for x in first["findings"])
    assert first["billable"] is False
    # Medicare video: no 95 on a professional claim; 12 months to file, moved off a weekend/holiday.
    assert second["lines"][0]["cpt"] == "90834" and second["lines"][0]["modifiers"] == []
    assert second["filing_deadline"] == "2027-11-16"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Session)) == 0


def test_same_day_edits_see_every_row_of_the_file(app, runner, tmp_path) -> None:  # noqa: ANN001
    _setup(app)
    second = {**GOOD, "session_ref": "CM-2", "start_time": "15:00", "minutes": "30"}
    sessions = json.loads(_run(runner, tmp_path, GOOD, second).stdout)["sessions"]
    assert any(x["rule"] == "SAME-DAY-E5" for x in sessions[1]["findings"])


def test_a_row_with_an_unknown_payer_gets_a_finding_and_the_others_are_coded(app, runner, tmp_path) -> None:  # noqa: ANN001
    _setup(app)
    other = {**GOOD, "session_ref": "CM-2", "patient_ref": "P-2", "payer_id": "HUMANA"}
    result = _run(runner, tmp_path, {**GOOD, "payer_id": "MEDICARE"}, other)
    assert result.exit_code == 0, result.output
    good, bad = json.loads(result.stdout)["sessions"]
    assert good["lines"] and not any(f["severity"] == "error" for f in good["findings"])
    assert bad == {"session_ref": "CM-2", "billable": False, "rendering_npi": None, "supervising_npi": None,
                   "filing_deadline": None, "lines": [],
                   "findings": [{"rule": "ROW-INVALID", "severity": "error", "field": "payer_id",
                                 "message": "row 3, column payer_id: unknown payer 'HUMANA'"}]}  # fmt: skip


def test_every_row_is_reported_bad_npi_and_diagnoses_as_findings_naming_the_field(app, runner, tmp_path) -> None:  # noqa: ANN001
    _setup(app)
    rows = [
        {**GOOD, "session_ref": "R-NPI", "patient_ref": "P-1", "provider_npi": "1234567890"},  # check digit is 3
        {**GOOD, "session_ref": "R-DX", "patient_ref": "P-2", "diagnoses": "F33.1;9X9"},  # malformed
        {**GOOD, "session_ref": "R-BILL", "patient_ref": "P-3", "diagnoses": "F33"},  # a category, not billable
        {**GOOD, "session_ref": "R-INTAKE", "patient_ref": "P-4", "service": "intake", "minutes": ""},
        {**GOOD, "session_ref": "R-EM", "patient_ref": "P-5", "service": "em", "minutes": "", "em_code": "99213",
         "provider_credential": "MD"},
        {**GOOD, "session_ref": "R-SCREEN", "patient_ref": "P-6", "service": "screening", "minutes": "",
         "screenings": "2"},
        {**GOOD, "session_ref": "R-MIN", "patient_ref": "P-7", "minutes": ""},  # psychotherapy is timed
        {**GOOD, "session_ref": "R-OK", "patient_ref": "P-8", "payer_id": "MEDICARE"},
    ]  # fmt: skip
    result = _run(runner, tmp_path, *rows)
    assert result.exit_code == 0, result.output
    by_ref = {s["session_ref"]: s for s in json.loads(result.stdout)["sessions"]}
    assert list(by_ref) == [r["session_ref"] for r in rows]

    def errors(ref: str) -> list[tuple[str, str]]:
        return [(f["rule"], f["field"]) for f in by_ref[ref]["findings"] if f["severity"] == "error"]

    assert errors("R-NPI") == [("NPI-RENDERING", "provider_npi"), ("AUTH-REQUIRED", "auth_number")]
    assert any("expected 3" in f["message"] for f in by_ref["R-NPI"]["findings"] if f["rule"] == "NPI-RENDERING")
    assert by_ref["R-NPI"]["lines"][0]["cpt"] == "90837"  # still coded
    assert ("DX-FORMAT", "diagnoses") in errors("R-DX")
    assert ("DX-NOT-BILLABLE", "diagnoses") in errors("R-BILL")
    assert [line["cpt"] for line in by_ref["R-INTAKE"]["lines"]] == ["90791", "96127"]
    assert by_ref["R-INTAKE"]["billable"] is True
    assert by_ref["R-EM"]["lines"][0]["cpt"] == "99213" and by_ref["R-EM"]["billable"] is True
    assert [(line["cpt"], line["units"]) for line in by_ref["R-SCREEN"]["lines"]] == [("96127", 2)]
    assert errors("R-MIN") == [("ROW-INVALID", "minutes")] and by_ref["R-MIN"]["lines"] == []
    assert by_ref["R-OK"]["billable"] is True


def test_the_import_stays_all_or_nothing_for_the_same_file(app, runner, tmp_path) -> None:  # noqa: ANN001
    _setup(app)
    path = tmp_path / "s.csv"
    path.write_text(_csv(GOOD, {**GOOD, "session_ref": "CM-2", "provider_npi": "1234567890"}), encoding="utf-8")
    result = runner.invoke(cli, ["import", "sessions", str(path), "--no-plan"])
    assert result.exit_code == 1 and "column provider_npi: NPI check digit is wrong" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Session)) == 0


def test_an_unreadable_header_is_still_refused_as_a_whole(app, runner, tmp_path) -> None:  # noqa: ANN001
    _setup(app)
    path = tmp_path / "s.csv"
    path.write_text("session_ref,foo\nA,1\n", encoding="utf-8")
    result = runner.invoke(cli, ["code", str(path), "--json"])
    assert result.exit_code == 1 and "missing column(s)" in result.output
