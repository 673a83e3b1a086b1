"""The Sandbox payer's side of the demo: its member file and its settings. The demo world is generated once, so
the seed enrolls the demo's patients with the Sandbox payers as their insurers would, with the differences real
payers' files have (a few members the payer never enrolled, a few birth dates keyed differently), Medicare members
who also have Medicaid crossed over, and commercial members carved out to the behavioral-health payer when the
organization has one. The Sandbox never reads our coverages afterwards: what a visitor changes on our side, the
payer does not know."""

from __future__ import annotations

import random
from datetime import date, timedelta

from sqlalchemy import select

from backoffice.clearinghouse.sandbox import enroll_member, member_hash
from backoffice.clearinghouse.sandbox_models import SandboxSettings
from backoffice.extensions import db
from backoffice.orgs.models import Payer
from backoffice.patients.models import Coverage, Patient, Relationship

NOT_ENROLLED = 0.01  # members the payer has no record of: AAA 75 on a 270, A7:164 on the 277CA
BIRTH_DATE_TYPO = 0.015  # a birth date keyed a day off at the payer: AAA 71 on a 270
# How the demo's Sandbox behaves (percentages; every pick is a hash of the seed and what is answered).
DEMO_SETTINGS = {"reject_999_percent": 1, "reject_277ca_percent": 1, "recoupment_percent": 5,
                 "interest_percent": 25, "reversal_percent": 3}  # fmt: skip
LIVE_DELAY_MINUTES = 5  # after seeding, the Sandbox answers a visitor's claims five minutes later


def seed_sandbox(organization_id: int, *, seed: int) -> int:
    """Enroll the organization's patients in the Sandbox's member file and write its settings (no delay while the
    seed bills the history); returns how many members were enrolled."""
    rng = random.Random(seed * 19)  # its own stream: the rest of the seed draws the same numbers as before
    db.session.merge(SandboxSettings(organization_id=organization_id, seed=seed, delay_minutes=0, **DEMO_SETTINGS))
    payers = {p.id: p for p in db.session.scalars(select(Payer).where(Payer.organization_id == organization_id))}
    carve_out = next((p for p in payers.values() if str(p.kind) == "behavioral_health_carve_out" and p.active), None)
    rows = db.session.execute(
        select(Coverage, Patient).join(Patient, Patient.id == Coverage.patient_id).order_by(Coverage.id)
    ).all()
    medicaid_of = {patient.id: payers[c.payer_id] for c, patient in rows if str(payers[c.payer_id].kind) == "medicaid"}
    seen: set[tuple[str, str, str, date]] = set()
    enrolled = 0
    for coverage, patient in rows:
        payer = payers.get(coverage.payer_id)
        if payer is None or str(payer.kind) == "self_pay" or rng.random() < NOT_ENROLLED:
            continue
        birth = patient.date_of_birth + (timedelta(days=1) if rng.random() < BIRTH_DATE_TYPO else timedelta())
        extra: dict[str, object] = {}
        medicaid = medicaid_of.get(patient.id)
        if str(payer.kind) == "medicare" and medicaid is not None:
            extra |= {"crossover_payer_name": medicaid.name, "crossover_payer_id": medicaid.payer_id}
        if str(payer.kind) == "commercial" and carve_out is not None and member_hash(coverage.member_id) % 5 == 0:
            extra |= {"carve_out_payer_name": carve_out.name, "carve_out_payer_id": carve_out.payer_id}
        relationship = str(coverage.relationship_to_subscriber)
        people = [(relationship, patient.first_name, patient.last_name, birth, str(patient.sex), extra)]
        if relationship != str(Relationship.SELF) and coverage.subscriber_date_of_birth is not None:
            people.append(("18", coverage.subscriber_first_name or "", coverage.subscriber_last_name or "",
                           coverage.subscriber_date_of_birth, str(coverage.subscriber_sex or "U"), {}))  # fmt: skip
        for code, first, last, born, sex, benefits in people:
            key = (payer.payer_id, coverage.member_id, first, born)
            if key in seen or not first:
                continue
            seen.add(key)
            enroll_member(
                organization_id=organization_id, payer_id=payer.payer_id, payer_kind=str(payer.kind),
                member_id=coverage.member_id, first_name=first, last_name=last, date_of_birth=born, sex=sex,
                effective_from=coverage.effective_from, effective_to=coverage.effective_to, relationship=code,
                **benefits,
            )  # fmt: skip
            enrolled += 1
    db.session.flush()
    return enrolled


def open_for_visitors(organization_id: int) -> None:
    """After the seed: the Sandbox answers with a delay, so a visitor sees claims wait for their 999/277CA/835."""
    settings = db.session.get(SandboxSettings, organization_id)
    if settings is not None:
        settings.delay_minutes = LIVE_DELAY_MINUTES
