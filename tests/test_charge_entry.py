"""Charge entry: a session becomes an original claim with coded lines, fee-schedule charges and the scrubber's
findings; same-day edits see the patient's other sessions; entering twice changes nothing."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from backoffice.claims.models import Claim
from backoffice.claims.rules import ClaimStatus
from backoffice.claims.services import enter_charge
from backoffice.errors import ValidationFailed
from backoffice.extensions import db
from backoffice.work.models import Interaction
from tests import factories as f
from tests.factories import NOW

TODAY = date(2026, 3, 20)  # inside the ICD-10-CM release the checks use
DOS = date(2026, 3, 16)
FEES = {"90837": "200.00", "90834": "150.00", "90832": "100.00", "96127": "15.00", "90785": "30.00"}


@pytest.fixture
def setup(ctx):  # noqa: ANN201
    org = f.make_org()
    practice = f.make_practice(org, slug="calm-mind", fee_schedule=FEES)
    payer = f.make_payer(org, payer_id="AETNA", filing_limit_days=120)
    provider = f.make_provider(practice, npi="1234567893", credential="LCSW")
    patient = f.make_patient(practice, payer)
    return practice, payer, provider, patient


def _session(setup, **kw):  # noqa: ANN001, ANN202
    practice, _, provider, patient = setup
    values = {"date_of_service": DOS, "minutes": 53, "diagnoses": ["F33.1"], "modality": "video",
              "patient_location": "home", "screening_count": 1}  # fmt: skip
    return f.make_session(practice, provider, patient, **{**values, **kw})


def test_a_clean_session_becomes_a_scrubbed_claim_with_charges(setup) -> None:  # noqa: ANN001
    session = _session(setup)
    claim = enter_charge(session=session, now=NOW, today=TODAY)
    assert claim.status == ClaimStatus.SCRUBBED and claim.frequency_code == "1"
    assert claim.account_number == f"CALM-MIND-{session.id}"
    assert [(line.cpt, line.modifiers, line.units, line.place_of_service, line.charge) for line in claim.lines] == [
        ("90837", ["95"], 1, "10", Decimal("200.00")),
        ("96127", ["95"], 1, "10", Decimal("15.00")),
    ]
    assert claim.total_charge == Decimal("215.00") and claim.findings == []
    log = db.session.scalars(select(Interaction).where(Interaction.claim_id == claim.id)).one()
    assert log.session_id == session.id and log.body == "Charge entered: 90837-95, 96127-95; scrubbed clean"


def test_entering_the_same_session_again_returns_its_claim(setup) -> None:  # noqa: ANN001
    session = _session(setup)
    first = enter_charge(session=session, now=NOW, today=TODAY)
    again = enter_charge(session=session, now=NOW, today=TODAY)
    assert again.id == first.id
    assert db.session.scalar(select(func.count()).select_from(Claim)) == 1


def test_same_day_edits_see_the_patients_other_sessions(setup) -> None:  # noqa: ANN001
    _session(setup, start_time=time(9))
    second = _session(setup, start_time=time(15), minutes=30)
    claim = enter_charge(session=second, now=NOW, today=TODAY)
    assert claim.status == ClaimStatus.DRAFT
    assert "SAME-DAY-E5" in [finding["rule"] for finding in claim.findings]


def test_a_cpt_missing_from_the_fee_schedule_blocks_the_claim(setup) -> None:  # noqa: ANN001
    claim = enter_charge(session=_session(setup, minutes=45, screening_count=0, service_kind="family_with_patient"),
                         now=NOW, today=TODAY)  # fmt: skip
    assert claim.status == ClaimStatus.DRAFT
    assert {"rule": "FEE-MISSING", "severity": "error", "field": "fee_schedule",
            "message": "no charge for 90847 in the practice's fee schedule."} in claim.findings  # fmt: skip


def test_a_session_without_primary_coverage_on_its_date_is_refused(setup) -> None:  # noqa: ANN001
    practice, _, provider, _ = setup
    uninsured = f.make_patient(practice)
    session = f.make_session(practice, provider, uninsured, date_of_service=DOS)
    with pytest.raises(ValidationFailed, match="no primary coverage in force"):
        enter_charge(session=session, now=NOW, today=TODAY)
    assert db.session.scalar(select(func.count()).select_from(Claim)) == 0
