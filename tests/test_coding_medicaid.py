"""A Medicaid managed-care plan (the demo's) billed end to end: HCPCS with HO/AJ/HE modifiers, an associate under
supervision in 2310D, the dry run and the 837P preview (pyx12 and our business checks), stored sessions too."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from backoffice.cli import cli
from backoffice.demo import data
from backoffice.errors import ValidationFailed
from backoffice.extensions import db
from backoffice.orgs.models import Payer, Provider
from backoffice.scrubber.queries import scrub_stored_session
from backoffice.sessions.models import Session
from backoffice.sessions.rules import ADDRESS_COLUMNS, CODING_COLUMNS, COLUMNS
from backoffice.x12.checks import business_problems
from tests import factories as f
from tests.test_edi_build_837 import ADDRESS
from tests.test_session_import import GOOD, _csv
from tests.x12_checks import pyx12_errors

SUPERVISOR_NPI = "1234567893"
ASSOCIATE_NPI = "1245319599"
MCO = {"payer_id": "KEYSTONEMCO", "member_id": "KM12345678"}
FEES = {"H0004": "32.00", "H0031": "180.00", "96127": "15.00", "H2019": "30.00"}
ALL_COLUMNS = (*COLUMNS, *ADDRESS_COLUMNS, *CODING_COLUMNS)


def _setup(app, associate_billing: str | None = None) -> None:  # noqa: ANN001
    with app.app_context():
        org = f.make_org(edi_submitter_id="BILLCO01", edi_contact_name="EDI Desk", edi_contact_phone="8005550100")
        practice = f.make_practice(org, slug="calm-mind", group_npi="1558598797", taxonomy="261QM0801X",
                                   zip_code="627011234", fee_schedule=FEES)  # fmt: skip
        supervisor = f.make_provider(practice, npi=SUPERVISOR_NPI, credential="LCSW", taxonomy="1041C0700X",
                                     last_name="Abernathy")  # fmt: skip
        f.make_provider(practice, npi=ASSOCIATE_NPI, credential="LPC", taxonomy="101YP2500X", last_name="Nandakumar",
                        supervising_provider_id=supervisor.id)  # fmt: skip
        policy = dict(data.MEDICAID_MCO_CODING)
        if associate_billing:
            policy["associate_billing"] = associate_billing
        f.make_payer(org, payer_id="KEYSTONEMCO", kind="medicaid_managed_care", filing_limit_days=180,
                     telehealth_policy=dict(data.MEDICAID_TELEHEALTH), coding_policy=policy)  # fmt: skip


def _rows() -> list[dict[str, str]]:
    return [
        {**GOOD, **ADDRESS, **MCO, "provider_npi": ASSOCIATE_NPI, "provider_credential": "LPC", "screenings": "0"},
        {**GOOD, **ADDRESS, **MCO, "session_ref": "CM-2", "patient_ref": "P-2", "service": "intake", "minutes": "",
         "modality": "in_person", "patient_location": "office"},
        {**GOOD, **ADDRESS, **MCO, "session_ref": "CM-3", "patient_ref": "P-3", "service": "hcpcs",
         "procedure": "H2019", "minutes": "50", "screenings": "0", "patient_dob": "2012-05-01",
         "modality": "in_person", "patient_location": "office"},
    ]  # fmt: skip


def test_the_plans_837p_carries_hcpcs_modifiers_and_the_supervisor_in_2310d(app, runner, tmp_path) -> None:  # noqa: ANN001
    _setup(app)
    source = tmp_path / "mco.csv"
    source.write_text(_csv(*_rows(), columns=ALL_COLUMNS), encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(cli, ["edi", "build-837", str(source), "--practice", "calm-mind", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "3 claim(s), 0 session(s) skipped" in result.output
    (written,) = out.iterdir()
    text = written.read_text(encoding="ascii")
    assert business_problems(text) == []
    assert pyx12_errors(text, tmp_path) == []
    segments = [s.strip() for s in text.split("~")]
    # the associate's video session: H0004 x4 (53 minutes, midpoint rule), HO then HE, then the plan's GT
    assert "SV1*HC:H0004:HO:HE:GT*128*UN*4***1:2" in segments
    assert f"NM1*82*1*NANDAKUMAR*DANA****XX*{ASSOCIATE_NPI}" in segments
    rendering = segments.index(f"NM1*82*1*NANDAKUMAR*DANA****XX*{ASSOCIATE_NPI}")
    assert segments[rendering + 2] == f"NM1*DQ*1*ABERNATHY*DANA****XX*{SUPERVISOR_NPI}"  # 2310D after 2310B's PRV
    assert "SV1*HC:H0031:HO:AJ:HE*180*UN*1***1:2" in segments  # an intake crosswalked to H0031, no minutes
    assert "SV1*HC:H2019:HO:AJ:HE:HA*90*UN*3***1:2" in segments  # 50 minutes: 3 units; a 14-year-old: HA
    assert text.count("NM1*DQ") == 1  # the licensed clinician's claims name no supervisor
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Session)) == 0


def test_a_payer_billing_associates_under_the_supervisor_renders_the_supervisor(app, runner, tmp_path) -> None:  # noqa: ANN001
    _setup(app, associate_billing="under_supervisor")
    source = tmp_path / "mco.csv"
    source.write_text(_csv(_rows()[0], columns=ALL_COLUMNS), encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(cli, ["edi", "build-837", str(source), "--practice", "calm-mind", "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = next(out.iterdir()).read_text(encoding="ascii")
    assert f"NM1*82*1*ABERNATHY*DANA****XX*{SUPERVISOR_NPI}" in text and "NM1*DQ" not in text
    assert pyx12_errors(text, tmp_path) == [] and business_problems(text) == []


def test_a_payer_that_does_not_pay_associates_skips_the_claim(app, runner, tmp_path) -> None:  # noqa: ANN001
    _setup(app, associate_billing="not_billable")
    source = tmp_path / "mco.csv"
    source.write_text(_csv(*_rows()[:2], columns=ALL_COLUMNS), encoding="utf-8")
    result = runner.invoke(
        cli, ["edi", "build-837", str(source), "--practice", "calm-mind", "--out", str(tmp_path / "o")]
    )
    assert "skipped CM-1001: not billable: SUPERVISION-NOT-BILLABLE" in result.output


def test_the_dry_run_names_the_supervisor_and_why(app, runner, tmp_path) -> None:  # noqa: ANN001
    _setup(app)
    source = tmp_path / "mco.csv"
    source.write_text(_csv(*_rows(), columns=ALL_COLUMNS), encoding="utf-8")
    result = runner.invoke(cli, ["code", str(source), "--json"])
    assert result.exit_code == 0, result.output
    associate, intake, h2019 = json.loads(result.stdout)["sessions"]
    assert (associate["rendering_npi"], associate["supervising_npi"]) == (ASSOCIATE_NPI, SUPERVISOR_NPI)
    assert any(x["rule"] == "SUPERVISION-2310D" and SUPERVISOR_NPI in x["message"] for x in associate["findings"])
    assert intake["supervising_npi"] is None and intake["lines"][0]["cpt"] == "H0031"
    assert h2019["lines"][0] == {"cpt": "H2019", "modifiers": ["HO", "AJ", "HE", "HA"], "units": 3, "pos": "11",
                                 "diagnosis_pointers": [1, 2]}  # fmt: skip


def test_a_stored_associate_session_is_scrubbed_with_its_supervisor(app) -> None:  # noqa: ANN001
    _setup(app)
    with app.app_context():
        associate = db.session.scalars(select(Provider).where(Provider.npi == ASSOCIATE_NPI)).one()
        payer = db.session.scalars(select(Payer).where(Payer.payer_id == "KEYSTONEMCO")).one()
        patient = f.make_patient(associate.practice, payer)
        session = f.make_session(associate.practice, associate, patient, minutes=40)
        result, _ = scrub_stored_session(session, today=session.date_of_service)
        assert result.supervising_npi == SUPERVISOR_NPI and result.billable
        assert [(line.cpt, line.modifiers, line.units) for line in result.lines] == [("H0004", ("HO", "HE"), 3)]


def test_a_payers_coding_policy_is_checked_when_saved(app) -> None:  # noqa: ANN001
    with app.app_context():
        org = f.make_org()
        with pytest.raises(ValidationFailed, match="payer coding_policy: associate_billing"):
            f.make_payer(org, coding_policy={"associate_billing": "sometimes"})
        payer = f.make_payer(org, coding_policy={"crosswalk": {"90837": "H0004"}})
        db.session.commit()
        assert db.session.get(Payer, payer.id).coding_policy == {"crosswalk": {"90837": "H0004"}}
