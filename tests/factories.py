"""Test-data factories: plain functions that build committed rows inside an active app context."""

from __future__ import annotations

import functools
import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any

from backoffice.accounts.models import User
from backoffice.accounts.services import hash_password
from backoffice.clearinghouse.sandbox import enroll_member
from backoffice.extensions import db
from backoffice.orgs.models import Organization, Payer, Practice, Provider
from backoffice.orgs.rules import complete_npi
from backoffice.patients.models import Coverage, Patient
from backoffice.sessions.models import Session
from backoffice.work import chains
from backoffice.work.models import WorkItem

PASSWORD = "correct horse battery"  # noqa: S105
NOW = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)  # a Wednesday, 10:00 in New York
_seq = itertools.count(1)


def _n() -> int:
    return next(_seq)


def make_org(**kw: Any) -> Organization:
    """An organization that asks no role for a second factor (a new organization asks admins and supervisors:
    tests of two-step sign-in pass ``mfa_required_roles``), so that the suite's supervisors sign in with a password."""
    n = _n()
    kw.setdefault("mfa_required_roles", [])
    org = Organization(
        name=kw.pop("name", f"Billing Co {n}"), slug=kw.pop("slug", f"billing-{n}"), created_at=NOW, **kw
    )
    db.session.add(org)
    db.session.commit()
    return org


def make_practice(org: Organization, **kw: Any) -> Practice:
    n = _n()
    values: dict[str, Any] = {
        "organization_id": org.id,
        "name": f"Practice {n}",
        "slug": f"practice-{n}",
        "group_npi": complete_npi(f"2{n:08d}"),
        "tax_id": f"{n:09d}",
        "address_line1": "1 Main St",
        "city": "Springfield",
        "state": "IL",
        "zip_code": "627010001",
        "timezone": "America/New_York",
        "owned_steps": ["verify_benefits", "enter_charge", "audit", "submit", "follow_up", "appeal"],
        "sla_overrides": {},
        "created_at": NOW,
    }
    values.update(kw)
    practice = Practice(**values)
    db.session.add(practice)
    db.session.commit()
    return practice


def make_provider(practice: Practice, **kw: Any) -> Provider:
    n = _n()
    values = {
        "practice_id": practice.id,
        "first_name": "Dana",
        "last_name": f"Clinician{n}",
        "npi": complete_npi(f"1{n:08d}"),
        "credential": "LCSW",
        "taxonomy": "1041C0700X",
    }
    values.update(kw)
    provider = Provider(**values)
    db.session.add(provider)
    db.session.commit()
    return provider


def make_payer(org: Organization, **kw: Any) -> Payer:
    n = _n()
    values = {
        "organization_id": org.id,
        "payer_id": f"P{n:05d}",
        "name": f"Payer {n}",
        "kind": "commercial",
        "filing_limit_days": 90,
        "appeal_window_days": 180,
        "telehealth_policy": {},
        "prior_auth_cpts": [],
    }
    values.update(kw)
    payer = Payer(**values)
    db.session.add(payer)
    db.session.commit()
    return payer


def enroll_in_sandbox(practice: Practice, payer: Payer, patient: Patient, member_id: str, **kw: Any) -> None:
    """The Sandbox payer's own member file learns about the patient (what a payer's enrolment would do): the
    tests' patients are covered by the Sandbox as our coverage says, unless a test says otherwise."""
    enroll_member(
        organization_id=practice.organization_id, payer_id=payer.payer_id, payer_kind=str(payer.kind),
        member_id=member_id, first_name=patient.first_name, last_name=patient.last_name,
        date_of_birth=patient.date_of_birth, sex=str(patient.sex), effective_from=date(2026, 1, 1), **kw,
    )  # fmt: skip


def make_patient(practice: Practice, payer: Payer | None = None, **kw: Any) -> Patient:
    n = _n()
    values = {
        "practice_id": practice.id,
        "account_number": f"ACCT{n}",
        "first_name": "Pat",
        "last_name": f"Patient{n}",
        "date_of_birth": date(1980, 1, 1),
        "sex": "F",
    }
    values.update(kw)
    patient = Patient(**values)
    db.session.add(patient)
    db.session.flush()
    if payer is not None:
        db.session.add(
            Coverage(
                patient_id=patient.id,
                payer_id=payer.id,
                member_id=f"M{n:08d}",
                priority="primary",
                relationship_to_subscriber="18",
                effective_from=date(2026, 1, 1),
            )
        )
        enroll_in_sandbox(practice, payer, patient, f"M{n:08d}")
    db.session.commit()
    return patient


def make_session(
    practice: Practice, provider: Provider | None = None, patient: Patient | None = None, **kw: Any
) -> Session:
    n = _n()
    provider = provider or make_provider(practice)
    patient = patient or make_patient(practice)
    values = {
        "practice_id": practice.id,
        "patient_id": patient.id,
        "provider_id": provider.id,
        "external_ref": f"S-{n}",
        "date_of_service": (NOW - timedelta(days=2)).date(),
        "service_kind": "psychotherapy",
        "minutes": 53,
        "modality": "in_person",
        "patient_location": "office",
        "diagnoses": ["F33.1"],
        "received_at": NOW,
    }
    values.update(kw)
    session = Session(**values)
    db.session.add(session)
    db.session.commit()
    return session


@functools.cache
def _password_hash() -> str:
    return hash_password(PASSWORD)  # Argon2 costs ~0.2 s: hash once per run


def make_user(org: Organization, role: str = "biller", practices: list[Practice] | None = None, **kw: Any) -> User:
    """A user whose password is PASSWORD (create_user itself is tested in test_accounts)."""
    n = _n()
    user = User(
        organization_id=org.id,
        email=kw.pop("email", f"user{n}@example.test"),
        name=kw.pop("name", f"User {n}"),
        role=role,
        password_hash=_password_hash(),
        practices=practices or [],
        queues=kw.pop("queues", []),
        skills=kw.pop("skills", []),
        active=kw.pop("active", True),
        created_at=NOW,
        **kw,
    )
    db.session.add(user)
    db.session.commit()
    return user


def make_ready_items(
    practice: Practice, count: int, *, kind: str = "verify_benefits", now: datetime = NOW
) -> list[WorkItem]:
    """``count`` ready manual items of one kind, each the head of its own session's chain."""
    provider = make_provider(practice)
    patient = make_patient(practice)
    items = []
    for _ in range(count):
        session = make_session(practice, provider, patient)
        items.extend(chains.create_chain(session=session, kinds=[kind], now=now))
    return items
