"""Appeal-letter drafts (billing-rules §7.2 sections, §7.3 parity): what each denial family argues and encloses."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from backoffice.appeals.rules import (
    ARGUMENTS,
    PARITY_ARGUMENT,
    AppealFacts,
    Denial,
    DeniedLine,
    draft_appeal_letter,
)


def _facts(**kw) -> AppealFacts:
    values = dict(
        today=date(2026, 11, 20), family="medical_necessity", level="internal_appeal", deadline=date(2027, 5, 10),
        payer_name="Aetna", payer_kind="commercial", payer_claim_number="ICN123", account_number="CALM-17",
        denial_date=date(2026, 11, 10), patient_name="Ana Example", patient_dob=date(1990, 1, 2), member_id="W123",
        date_of_service=date(2026, 10, 1), diagnoses=("F33.1",),
        lines=(DeniedLine("90837", ("95",), 1, Decimal("180.00"), Decimal("0.00")),),
        denials=(Denial("CO", "50", "not deemed a medical necessity", Decimal("180.00"), (("N115", "LCD"),)),),
        provider_name="Rae Clinician", provider_credential="LCSW", provider_npi="1234567893",
        practice_name="Calm Mind", practice_npi="1245319599", practice_tax_id="123456789", practice_phone="5551234567",
    )  # fmt: skip
    values.update(kw)
    return AppealFacts(**values)


def test_a_medical_necessity_letter_has_the_identifiers_the_denial_and_the_clinical_argument() -> None:
    letter = draft_appeal_letter(_facts())
    for expected in ("Ana Example", "01/02/1990", "W123", "ICN123", "10/01/2026", "90837-95", "$180.00",
                     "CO-50", "N115", "Rae Clinician, LCSW, NPI 1234567893", "TIN 123456789",
                     ARGUMENTS["medical_necessity"], "Treatment plan", "05/10/2027"):  # fmt: skip
        assert expected in letter, expected
    assert "psychotherapy notes)" in letter  # never enclose separately kept psychotherapy notes (§7.2)


def test_parity_is_argued_for_commercial_medical_necessity_and_authorization_but_not_for_medicare() -> None:
    assert PARITY_ARGUMENT in draft_appeal_letter(_facts())
    assert PARITY_ARGUMENT in draft_appeal_letter(_facts(family="authorization"))
    assert PARITY_ARGUMENT not in draft_appeal_letter(_facts(payer_kind="medicare", level="redetermination"))
    assert PARITY_ARGUMENT not in draft_appeal_letter(_facts(family="coding"))


@pytest.mark.parametrize(
    ("payer_kind", "erisa"), [("commercial", True), ("behavioral_health_carve_out", True), ("medicare", False)]
)
def test_erisa_full_and_fair_review_is_requested_only_from_commercial_plans(payer_kind, erisa) -> None:
    assert ("29 CFR 2560.503-1" in draft_appeal_letter(_facts(payer_kind=payer_kind))) is erisa


def test_a_timely_filing_appeal_gives_the_submission_and_acceptance_dates_as_proof() -> None:
    letter = draft_appeal_letter(
        _facts(family="timely_filing", submitted_on=date(2026, 10, 3), accepted_on=date(2026, 10, 4))
    )
    assert "first submitted electronically 10/03/2026" in letter
    assert "(277CA) 10/04/2026" in letter
    assert "277CA for the original submission" in letter
    assert ARGUMENTS["timely_filing"] in letter
