"""Factories for submission tests: an organization set up for EDI and scrubbed claims ready to send."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from backoffice.claims.models import Claim, ClaimLine
from backoffice.extensions import db
from backoffice.orgs.models import Organization, Payer, Practice, Provider
from backoffice.patients.models import Coverage, Patient
from tests import factories as f

NOW = f.NOW
_accounts = itertools.count(1)
EDI_ORG = {"edi_submitter_id": "BILLCO01", "edi_contact_name": "EDI Desk", "edi_contact_phone": "8005550100"}


def edi_setup(**practice_kw: Any) -> tuple[Organization, Practice, Provider, Payer]:
    """An organization with its EDI identity, one practice able to bill, a clinician and a commercial payer."""
    org = f.make_org(**EDI_ORG)
    values = {"taxonomy": "261QM0801X", "fee_schedule": {"90834": "150.00", "90837": "200.00"}, **practice_kw}
    practice = f.make_practice(org, **values)
    provider = f.make_provider(practice)
    payer = f.make_payer(org, payer_id=f"AET{org.id:04d}", name="Aetna Test")
    return org, practice, provider, payer


def scrubbed_claim(
    practice: Practice, provider: Provider, payer: Payer, *, status: str = "scrubbed", **claim_kw: Any
) -> Claim:
    """A scrubbed original claim for a new patient's 90834 session (two lines when ``two_lines``)."""
    two_lines = claim_kw.pop("two_lines", False)
    patient = f.make_patient(practice, payer, address_line1="12 Elm St", city="Springfield", state="IL",
                             zip_code="627011234")  # fmt: skip
    session = f.make_session(practice, provider, patient, diagnoses=["F33.1"])
    coverage = db.session.scalar(select(Coverage).where(Coverage.patient_id == patient.id))
    lines = [
        ClaimLine(line_number=1, date_of_service=session.date_of_service, cpt="90834", modifiers=[], units=1,
                  place_of_service="11", diagnosis_pointers=[1], charge=Decimal("150.00")),
    ]  # fmt: skip
    if two_lines:
        lines.append(
            ClaimLine(
                line_number=2,
                date_of_service=session.date_of_service,
                cpt="90785",
                modifiers=[],
                units=1,
                place_of_service="11",
                diagnosis_pointers=[1],
                charge=Decimal("25.00"),
            )  # fmt: skip
        )
    values: dict[str, Any] = {
        "practice_id": practice.id, "session_id": session.id, "patient_id": patient.id, "payer_id": payer.id,
        "coverage_id": coverage.id, "account_number": f"{practice.slug[:12].upper()}-{session.id}",
        "status": status, "frequency_code": "1", "total_charge": sum(line.charge for line in lines),
        "lines": lines, "created_at": NOW,
    }  # fmt: skip
    values.update(claim_kw)
    claim = Claim(**values)
    db.session.add(claim)
    db.session.commit()
    return claim


def account_for(scenario: str, prefix: str = "SBX") -> str:
    """A fresh claim account number (CLM01) that the sandbox payer answers with ``scenario``."""
    from backoffice.clearinghouse.sandbox_x12 import scenario_for

    while True:
        account = f"{prefix}-{next(_accounts)}"
        if scenario_for(account) == scenario:
            return account


def secondary_claim(primary: Claim, payer: Payer) -> Claim:
    """The secondary claim of a primary one: same lines, billed to ``payer`` under a secondary coverage."""
    coverage = Coverage(
        patient_id=primary.patient_id,
        payer_id=payer.id,
        member_id=f"SEC{primary.id:06d}",
        priority="secondary",
        relationship_to_subscriber="18",
        effective_from=date(2026, 1, 1),
    )
    db.session.add(coverage)
    db.session.flush()
    patient = db.session.get(Patient, primary.patient_id)
    f.enroll_in_sandbox(db.session.get(Practice, patient.practice_id), payer, patient, coverage.member_id)
    lines = [
        ClaimLine(
            line_number=line.line_number,
            date_of_service=line.date_of_service,
            cpt=line.cpt,
            modifiers=list(line.modifiers),
            units=line.units,
            place_of_service=line.place_of_service,
            diagnosis_pointers=list(line.diagnosis_pointers),
            charge=line.charge,
        )  # fmt: skip
        for line in primary.lines
    ]
    claim = Claim(
        practice_id=primary.practice_id, session_id=primary.session_id, patient_id=primary.patient_id,
        payer_id=payer.id, coverage_id=coverage.id, account_number=f"{primary.account_number}-S",
        status="scrubbed", frequency_code="1", total_charge=primary.total_charge, lines=lines, created_at=NOW,
        payer_sequence="S", parent_claim_id=primary.id,
    )  # fmt: skip
    db.session.add(claim)
    db.session.commit()
    return claim
