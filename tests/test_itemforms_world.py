"""A practice set up for the item-form tests: a session coded to 90834, its chain, billers, claims and exception
items (no tests here: shared by the other tests/test_itemforms*.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from backoffice.claims.models import Claim, ClaimLine
from backoffice.extensions import db
from backoffice.patients.models import Coverage
from backoffice.work import chains
from backoffice.work.models import WorkItem
from tests import factories as f
from tests.factories import NOW

DOS = date(2026, 3, 16)  # inside the ICD-10-CM release the scrubber checks
FEES = {"90834": "150.00", "90837": "200.00", "90832": "100.00", "90791": "250.00"}
OWNED = ["verify_benefits", "obtain_preauth", "enter_charge", "audit", "submit", "follow_up", "appeal"]


@dataclass
class World:
    org: Any
    practice: Any
    payer: Any
    provider: Any
    patient: Any
    session: Any
    coverage: Any
    biller: Any
    other_biller: Any
    outsider: Any
    supervisor: Any
    chain: dict[str, WorkItem]


def make_world(
    *, owned: list[str] | None = None, prior_auth_cpts: list[str] | None = None, chain: list[str] | None = None
) -> World:
    """One practice with a commercial payer (prior auth for ``prior_auth_cpts``), a 45-minute psychotherapy session
    (90834) and its chain (verify benefits → enter charge → audit by default), three billers and a supervisor."""
    org = f.make_org(edi_submitter_id="BILLCO01", edi_contact_name="EDI Desk", edi_contact_phone="8005550100")
    practice = f.make_practice(org, name="Calm Mind", fee_schedule=FEES, owned_steps=owned or OWNED,
                               taxonomy="261QM0801X")  # fmt: skip
    elsewhere = f.make_practice(org, name="Harbor")
    payer = f.make_payer(org, name="Aetna", filing_limit_days=365, prior_auth_cpts=prior_auth_cpts or [])
    provider = f.make_provider(practice, npi="1234567893", credential="LCSW")
    patient = f.make_patient(practice, payer, address_line1="12 Elm St", city="Springfield", state="IL",
                             zip_code="627011234")  # fmt: skip
    session = f.make_session(practice, provider, patient, date_of_service=DOS, minutes=45, diagnoses=["F33.1"])
    coverage = db.session.scalar(select(Coverage).where(Coverage.patient_id == patient.id))
    biller = f.make_user(org, practices=[practice], email="biller@example.test", name="Bea Biller")
    other = f.make_user(org, practices=[practice], email="other@example.test", name="Otto Other")
    outsider = f.make_user(org, practices=[elsewhere], email="outsider@example.test", name="Olga Outside")
    supervisor = f.make_user(org, role="supervisor", email="sup@example.test", name="Sam Super")
    kinds = chain or ["verify_benefits", "enter_charge", "audit"]
    items = chains.create_chain(session=session, kinds=kinds, now=NOW)
    return World(org, practice, payer, provider, patient, session, coverage, biller, other, outsider, supervisor,
                 {item.kind: item for item in items})  # fmt: skip


def make_claim(world: World, *, status: str = "scrubbed", cpt: str = "90834", version: int = 1) -> Claim:
    """The session's original claim with one line."""
    line = ClaimLine(line_number=1, date_of_service=DOS, cpt=cpt, modifiers=[], units=1, place_of_service="11",
                     diagnosis_pointers=[1], charge=Decimal(FEES[cpt]))  # fmt: skip
    claim = Claim(
        practice_id=world.practice.id, session_id=world.session.id, patient_id=world.patient.id,
        payer_id=world.payer.id, coverage_id=world.coverage.id, account_number=f"CALM-{world.session.id}",
        status=status, frequency_code="1", total_charge=line.charge, lines=[line], created_at=NOW, version=version,
    )  # fmt: skip
    db.session.add(claim)
    db.session.commit()
    return claim


REJECTION_999 = {
    "999": "0001", "group": "41", "transaction_set": "0001", "ik5": ["R", "5"],
    "ik3": [{"segment": "NM1", "position": 27, "loop": "2010BA", "code": "8",
             "ik4": [{"position": 9, "component": None, "element": 67, "code": "7"}]}],
    "ak9": ["R", "5"],
}  # fmt: skip


def open_exception(world: World, kind: str, claim: Claim, evidence: dict[str, Any], **kw: Any) -> WorkItem:
    """A fix-rejection or denial item on ``claim`` with the evidence its poster gives."""
    return chains.open_item(practice_id=world.practice.id, kind=kind, now=NOW, claim_id=claim.id,
                          session_id=claim.session_id, reason=kw.pop("reason", "test"), evidence=evidence,
                          dedupe_key=f"{kind}:{claim.id}:v{claim.version}", **kw)  # fmt: skip
