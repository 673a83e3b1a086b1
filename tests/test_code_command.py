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
    assert set(first) == {"session_ref", "billable", "filing_deadline", "lines", "findings"}
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


def test_bad_rows_are_reported_like_the_import_and_exit_1(app, runner, tmp_path) -> None:  # noqa: ANN001
    _setup(app)
    result = _run(runner, tmp_path, {**GOOD, "payer_id": "HUMANA"})
    assert result.exit_code == 1
    assert "row 2, column payer_id: unknown payer 'HUMANA'" in result.output
