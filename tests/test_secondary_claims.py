"""Secondary and beyond (issue 17): a secondary claim built from the primary's 835 goes through the scrubber with the
secondary payer's rules before it is submitted; a Medicare → Medicaid crossover (CLP02 19/20, NM1*TT) is recognised
and the secondary is not billed again (logged, and the item says why)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from backoffice.claims.models import Claim, ClaimLine
from backoffice.claims.rules import ClaimStatus
from backoffice.extensions import db
from backoffice.patients.models import Coverage, LedgerEntry
from backoffice.remits.services import post_835
from backoffice.work.models import Interaction, WorkItem
from backoffice.x12.era835 import parse_835
from tests import factories as f
from tests.test_post_835 import NOW, clp, era, svc

DOS = date(2026, 9, 2)  # inside the ICD-10-CM release the scrubber checks


@pytest.fixture
def setup(ctx):  # noqa: ANN001, ANN201
    org = f.make_org()
    practice = f.make_practice(org)
    payer = f.make_payer(org, payer_id="1512345678", name="Example Health Plan", kind="medicare")
    patient = f.make_patient(practice, payer, address_line1="1 Elm St", city="Springfield", state="IL",
                             zip_code="62701")  # fmt: skip
    return org, practice, payer, patient


def primary_claim(setup, account: str) -> Claim:  # noqa: ANN001
    org, practice, payer, patient = setup
    session = f.make_session(practice, f.make_provider(practice), patient, date_of_service=DOS, diagnoses=["F33.1"])
    coverage = db.session.scalar(select(Coverage).where(Coverage.patient_id == patient.id))
    claim = Claim(practice_id=practice.id, session_id=session.id, patient_id=patient.id, payer_id=payer.id,
                  coverage_id=coverage.id, account_number=account, status=ClaimStatus.SUBMITTED,
                  total_charge=D("150.00"), created_at=NOW,
                  lines=[ClaimLine(line_number=1, date_of_service=DOS, cpt="90834", modifiers=[], units=1,
                                   place_of_service="11", diagnosis_pointers=[1], charge=D("150.00"))])  # fmt: skip
    db.session.add(claim)
    db.session.commit()
    return claim


def secondary_payer(setup, kind: str = "commercial", **kw):  # noqa: ANN001, ANN201, ANN003
    org, _, _, patient = setup
    second = f.make_payer(org, payer_id="SEC01", name="State Medicaid", kind=kind, **kw)
    db.session.add(Coverage(patient_id=patient.id, payer_id=second.id, member_id="MCD123", priority="secondary",
                            relationship_to_subscriber="18", effective_from=date(2026, 1, 1)))  # fmt: skip
    db.session.commit()
    return second


PAID_WITH_COINSURANCE = ("1", "150", "97.5", "20", svc("90834", "150", "97.5", "CAS*CO*45*32.5", "CAS*PR*2*20",
                                                        day="20260902"))  # fmt: skip


def test_a_secondary_claim_the_secondary_payers_rules_stop_waits_for_a_person(setup) -> None:  # noqa: ANN001
    secondary_payer(setup, prior_auth_cpts=["90834"])  # the secondary requires an authorization the primary did not
    primary_claim(setup, "SEC-A")
    post_835(organization_id=setup[0].id, now=NOW, text=era(clp("SEC-A", *PAID_WITH_COINSURANCE)))
    secondary = db.session.scalar(select(Claim).where(Claim.account_number == "SEC-AS"))
    assert secondary.status == ClaimStatus.DRAFT
    assert [x["rule"] for x in secondary.findings if x["severity"] == "error"] == ["AUTH-REQUIRED"]
    submit = db.session.scalar(select(WorkItem).where(WorkItem.claim_id == secondary.id))
    assert (submit.kind, submit.mode.value) == ("submit", "manual")
    reason = db.session.scalar(select(Interaction.body).where(Interaction.work_item_id == submit.id))
    assert "stopped it for the secondary payer (AUTH-REQUIRED)" in reason


def test_a_clean_secondary_claim_is_scrubbed_and_submitted_by_automation(setup) -> None:  # noqa: ANN001
    secondary_payer(setup)
    primary_claim(setup, "SEC-B")
    post_835(organization_id=setup[0].id, now=NOW, text=era(clp("SEC-B", *PAID_WITH_COINSURANCE)))
    secondary = db.session.scalar(select(Claim).where(Claim.account_number == "SEC-BS"))
    assert secondary.status == ClaimStatus.SCRUBBED and secondary.findings == []
    submit = db.session.scalar(select(WorkItem).where(WorkItem.claim_id == secondary.id))
    assert submit.mode.value == "automated"
    log = db.session.scalar(select(Interaction.body).where(Interaction.claim_id == secondary.id))
    assert "scrubbed with State Medicaid's rules: clean" in log


def test_a_medicare_to_medicaid_crossover_is_not_billed_again_and_the_item_says_why(setup) -> None:  # noqa: ANN001
    secondary_payer(setup, kind="medicaid")
    claim = primary_claim(setup, "SEC-C")
    text = era(clp("SEC-C", *PAID_WITH_COINSURANCE[:-1], "NM1*TT*2*STATE MEDICAID*****PI*SKMCD",
                   PAID_WITH_COINSURANCE[-1]))  # fmt: skip
    (parsed,) = parse_835(text)[0].claims
    assert parsed.crossover_payer == "STATE MEDICAID" and parsed.crossed_over
    post_835(organization_id=setup[0].id, now=NOW, text=text)
    assert db.session.scalar(select(func.count()).select_from(Claim).where(Claim.payer_sequence == "S")) == 0
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 0  # nor billed to the patient
    log = db.session.scalar(select(Interaction.body).where(Interaction.body.like("835 posted%")))
    assert "crossover: the payer forwarded the claim to STATE MEDICAID itself (CLP02 1, NM1*TT)" in log
    item = db.session.scalar(select(WorkItem).where(WorkItem.dedupe_key == f"crossover:{claim.id}"))
    reason = db.session.scalar(select(Interaction.body).where(Interaction.work_item_id == item.id))
    assert "crossed over to STATE MEDICAID" in reason and "we do not bill the secondary" in reason


def test_clp02_19_alone_is_a_crossover_too(setup) -> None:  # noqa: ANN001
    secondary_payer(setup, kind="medicaid")
    primary_claim(setup, "SEC-D")
    post_835(organization_id=setup[0].id, now=NOW, text=era(clp("SEC-D", "19", *PAID_WITH_COINSURANCE[1:])))
    assert db.session.scalar(select(func.count()).select_from(Claim).where(Claim.payer_sequence == "S")) == 0
    assert db.session.scalar(select(func.count()).select_from(WorkItem).where(WorkItem.kind == "follow_up")) == 1


def test_what_the_secondary_leaves_goes_to_the_tertiary_payer_not_the_patient(setup) -> None:  # noqa: ANN001
    org, _, _, patient = setup
    second = secondary_payer(setup)
    third = f.make_payer(org, payer_id="TER01", name="Union Plan")
    db.session.add(Coverage(patient_id=patient.id, payer_id=third.id, member_id="U77", priority="tertiary",
                            relationship_to_subscriber="18", effective_from=date(2026, 1, 1)))  # fmt: skip
    db.session.commit()
    primary_claim(setup, "SEC-E")
    post_835(organization_id=org.id, now=NOW, text=era(clp("SEC-E", *PAID_WITH_COINSURANCE)))
    secondary = db.session.scalar(select(Claim).where(Claim.account_number == "SEC-ES"))
    assert secondary.payer_id == second.id and secondary.payer_sequence == "S"
    secondary.status = ClaimStatus.SUBMITTED
    db.session.commit()
    post_835(organization_id=org.id, now=NOW, text=era(clp("SEC-ES", "2", "150", "10", "10", svc(
        "90834", "150", "10", "CAS*OA*23*130", "CAS*PR*2*10", day="20260902")), trace="EFT-S"))  # fmt: skip
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 0
    item = db.session.scalar(select(WorkItem).where(WorkItem.dedupe_key == f"claim:{secondary.id}:tertiary"))
    assert (item.kind, item.mode.value) == ("submit", "manual")
    reason = db.session.scalar(select(Interaction.body).where(Interaction.work_item_id == item.id))
    assert "bill the tertiary payer Union Plan" in reason
