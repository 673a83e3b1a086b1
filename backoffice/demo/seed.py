"""Seed the demo organization: reference rows in bulk, then 60 days of work history replayed through the real
work services, each call made at the simulated moment it happened (never after ``now``)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event, func, select

from backoffice.accounts.models import User
from backoffice.accounts.rules import Role
from backoffice.accounts.services import create_user
from backoffice.appeals.demo import seed_appeals
from backoffice.appointments.demo import seed_appointments
from backoffice.balances.demo import seed_balances
from backoffice.calendars import is_business_day
from backoffice.demo import data
from backoffice.demo.billing import bill_sessions
from backoffice.demo.history import History, Plan, Staff, coded_lines
from backoffice.demo.sandbox_members import open_for_visitors, seed_sandbox
from backoffice.extensions import db
from backoffice.intake.planning import pending_session_ids
from backoffice.orgs.models import Organization, Payer, Practice, Provider
from backoffice.orgs.rules import Credential, complete_npi
from backoffice.patients.models import Authorization, Coverage, CoveragePriority, Patient
from backoffice.portal.services import send_request
from backoffice.routing.demo import seed_routing
from backoffice.sessions.models import Session
from backoffice.supervisor.demo import seed_supervisor
from backoffice.work.models import Interaction, WorkItem
from backoffice.work.rules import ItemState

DEMO_ORG_SLUG = "summit-billing"
DEMO_LOGINS = [(f"{login}@summit.example", f"{login}-demo-2026", role) for login, _, role, _, _ in data.STAFF]
WINDOW_DAYS = 60
# The newest sessions stay unplanned in the seed: when the demo runs, the intake flow plans them and the workers
# push them through the Sandbox payer, so a visitor sees items completed by automation.
LIVE_SESSIONS = 30
# The oldest sessions the replay leaves unplanned are billed for real while seeding (backoffice/demo/billing.py):
# planned, automated, submitted to the Sandbox payer and its answers posted, so the demo opens with claims.
BILLED_SESSIONS = 45


@dataclass(frozen=True)
class DemoSummary:
    """Row counts of what ``seed_demo`` created (counts only, never patient data)."""

    practices: int
    providers: int
    payers: int
    patients: int
    coverages: int
    authorizations: int
    sessions: int
    work_items: int
    interactions: int
    users: int

    def describe(self) -> str:
        """A short multi-line summary for the console."""
        return (
            f"Seeded {data.ORG_NAME} ({DEMO_ORG_SLUG}):\n"
            f"  {self.practices} practices, {self.providers} providers, {self.payers} payers, {self.users} users\n"
            f"  {self.patients} patients, {self.coverages} coverages, {self.authorizations} authorizations\n"
            f"  {self.sessions} sessions, {self.work_items} work items, {self.interactions} interactions"
        )


def seed_demo(*, now: datetime, seed: int = 2026) -> DemoSummary:
    """Create the demo organization in an empty, migrated database; the same (now, seed) gives the same data."""
    if now.tzinfo is None or now.utcoffset() != timedelta(0):
        raise ValueError("now must be an aware UTC datetime")
    rng = random.Random(seed)
    with _seeding():
        org_id = _reference_rows(rng, now)
        plans = _clinical_rows(rng, now)
        seed_sandbox(org_id, seed=seed)  # the Sandbox payer's own member file and settings
        db.session.commit()
        History(rng, now, _staff(org_id, now)).replay(plans, live=LIVE_SESSIONS + BILLED_SESSIONS)
        seed_routing(now)  # before billing: the denials the Sandbox sends back are routed by these rules
        bill_sessions(pending_session_ids()[:BILLED_SESSIONS], now=now)
        seed_balances(now)
        seed_supervisor(now)
        seed_appeals(now)  # after seed_supervisor: uses the CARC and amount it puts on appeal items
        _practice_request(now)
        _medicaid_managed_care(org_id)
        seed_appointments(now)  # the next business days' visits, for the appointment-eligibility flow
        open_for_visitors(org_id)
    return _summary()


def _practice_request(now: datetime) -> None:
    """One request waiting in Calm Mind's client portal: the progress note for an appeal (its item's SLA paused)."""
    practice = db.session.scalars(select(Practice).where(Practice.slug == "calm-mind")).one()
    origin = db.session.scalars(
        select(WorkItem)
        .where(WorkItem.practice_id == practice.id, WorkItem.kind.in_(["appeal", "work_denial"]),
               WorkItem.state == ItemState.READY, WorkItem.claim_id.is_not(None))
        .order_by(WorkItem.id)
    ).first()  # fmt: skip
    sender = db.session.scalars(select(User).where(User.role == Role.SUPERVISOR).order_by(User.id)).first()
    if origin is None or sender is None:
        return
    send_request(origin=origin, actor=sender, now=now, request_type="appeal_documentation",
                 message="Please upload the signed progress note for this date of service: the payer needs it "
                 "with the appeal.")  # fmt: skip


def _medicaid_managed_care(org_id: int) -> None:
    """The Medicaid managed-care plan (HCPCS, HO/AJ/HE modifiers) and an associate billed under supervision."""
    payer_id, name, kind, filing_days, appeal_days, phone = data.MEDICAID_MCO
    payer = Payer(organization_id=org_id, payer_id=payer_id, name=name, kind=kind, phone=phone, active=True)
    payer.filing_limit_days, payer.appeal_window_days = filing_days, appeal_days
    payer.telehealth_policy = dict(data.MEDICAID_TELEHEALTH)
    payer.separate_session_modifier = "XE"
    payer.coding_policy = dict(data.MEDICAID_MCO_CODING)
    db.session.add(payer)
    slug, first, last, credential, (supervisor_first, supervisor_last) = data.ASSOCIATE
    practice = db.session.scalars(select(Practice).where(Practice.slug == slug)).one()
    supervisor = next(
        p for p in practice.providers if (p.first_name, p.last_name) == (supervisor_first, supervisor_last)
    )
    taken = {p.npi for p in db.session.scalars(select(Provider))}
    npi = next(n for n in (complete_npi(f"19{base:07d}") for base in range(2100, 10**7)) if n not in taken)
    associate = Provider(practice_id=practice.id, first_name=first, last_name=last, npi=npi, active=True)
    associate.credential, associate.taxonomy = Credential(credential), data.TAXONOMY[credential]
    associate.supervising_provider_id = supervisor.id
    db.session.add(associate)
    db.session.flush()


@contextmanager
def _seeding() -> Iterator[None]:
    """While seeding: no fsync per commit on SQLite (a failed seed is re-run from scratch), and no expiry on commit
    (the app's default, enforced here: expiring every loaded row on each of ~3,000 commits makes the seed quadratic)."""
    session = db.session()
    expire_on_commit, session.expire_on_commit = session.expire_on_commit, False
    hooks = {"checkout": _no_fsync, "checkin": _fsync} if db.engine.dialect.name == "sqlite" else {}
    for name, hook in hooks.items():
        event.listen(db.engine, name, hook)
    try:
        yield
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    finally:
        db.session.close()  # checks the connection back in, restoring fsync on it
        for name, hook in hooks.items():
            event.remove(db.engine, name, hook)
        session.expire_on_commit = expire_on_commit


def _no_fsync(dbapi_connection: Any, *_: Any) -> None:
    dbapi_connection.execute("PRAGMA synchronous=OFF")


def _fsync(dbapi_connection: Any, *_: Any) -> None:
    dbapi_connection.execute("PRAGMA synchronous=FULL")  # SQLite's default


def _reference_rows(rng: random.Random, now: datetime) -> int:
    org = Organization(
        name=data.ORG_NAME, slug=DEMO_ORG_SLUG, created_at=now - timedelta(days=730), **data.EDI_IDENTITY
    )
    db.session.add(org)
    db.session.flush()
    for spec in data.PRACTICES:
        line1, line2, city, state, zip_code = spec["address"]
        practice = Practice(
            **{key: spec[key] for key in ("slug", "name", "taxonomy", "tax_id", "phone", "timezone")},
            organization_id=org.id,
            group_npi=complete_npi(spec["npi_base"]),  # organizations start with 2
            address_line1=line1,
            address_line2=line2,
            city=city,
            state=state,
            zip_code=zip_code,
            owned_steps=list(spec["owned_steps"]),
            sla_overrides=dict(spec["sla_overrides"]),
            fee_schedule=data.fee_schedule(spec["slug"]),
            active=True,
            created_at=now - timedelta(days=spec["volume"][2]),
        )
        db.session.add(practice)
    db.session.flush()
    practice_ids = {p.slug: p.id for p in db.session.scalars(select(Practice))}
    npis = rng.sample(range(10**8), len(data.PROVIDERS))  # individuals start with 1, all distinct
    for (slug, first, last, credential), base in zip(data.PROVIDERS, npis, strict=True):
        provider = Provider(practice_id=practice_ids[slug], first_name=first, last_name=last, active=True)
        provider.npi, provider.credential = complete_npi(f"1{base:08d}"), Credential(credential)
        provider.taxonomy = data.TAXONOMY[credential]
        db.session.add(provider)
    for payer_id, name, kind, filing_days, appeal_days, phone in data.PAYERS:
        payer = Payer(organization_id=org.id, payer_id=payer_id, name=name, kind=kind, phone=phone, active=True)
        payer.filing_limit_days, payer.appeal_window_days = filing_days, appeal_days
        payer.telehealth_policy = dict(data.TELEHEALTH.get(payer_id, data.COMMERCIAL_TELEHEALTH))
        payer.prior_auth_cpts = list(data.PRIOR_AUTH_CPTS.get(payer_id, []))
        for key, value in data.PAYER_RULES.get(payer_id, {}).items():
            setattr(payer, key, value)
        db.session.add(payer)
    db.session.flush()
    return org.id


@dataclass
class _Chart:
    """A patient while their sessions are generated."""

    patient: Patient
    provider: Provider
    payer: Payer  # primary
    weight: int  # relative visit frequency
    new: bool  # first seen inside the window, so their first visit is an intake
    diagnoses: list[str]


def _clinical_rows(rng: random.Random, now: datetime) -> list[Plan]:
    payers = {payer.payer_id: payer for payer in db.session.scalars(select(Payer).order_by(Payer.id))}
    plans: list[Plan] = []
    for spec in data.PRACTICES:
        practice = db.session.scalars(select(Practice).where(Practice.slug == spec["slug"])).one()
        charts = [_chart(rng, now, practice, spec, n, payers) for n in range(spec["volume"][0])]
        db.session.flush()
        plans += _sessions(rng, now, practice, spec, charts)
    return plans


def _chart(rng: random.Random, now: datetime, practice: Practice, spec: dict, n: int, payers: dict) -> _Chart:
    window_start = now.date() - timedelta(days=WINDOW_DAYS)
    fields, age = data.patient_fields(rng, spec, n, now.date())
    patient = Patient(practice_id=practice.id, **fields)
    payer_ids = data.payer_ids(rng, age)
    for payer_id, priority in zip(payer_ids, CoveragePriority, strict=False):  # primary, then secondary
        coverage = data.coverage_fields(rng, payer_id, priority, fields, age, window_start)
        patient.coverages.append(Coverage(payer=payers[payer_id], effective_to=None, **coverage))
    diagnoses = data.diagnoses(rng, spec["slug"])
    providers = sorted(practice.providers, key=lambda p: p.id)
    provider = rng.choices(providers, weights=[data.CASELOAD.get(p.credential.value, 30) for p in providers])[0]
    db.session.add(patient)
    return _Chart(patient, provider, payers[payer_ids[0]], rng.choice([1, 2, 2, 4, 4]), rng.random() < 0.25, diagnoses)


def _sessions(rng: random.Random, now: datetime, practice: Practice, spec: dict, charts: list[_Chart]) -> list[Plan]:
    tz = ZoneInfo(practice.timezone)
    window_start = now.date() - timedelta(days=WINDOW_DAYS)
    last_day = min(now.date(), now.astimezone(tz).date()) - timedelta(days=1)  # the visit is over, wherever it was
    days = [last_day - timedelta(days=n) for n in range(WINDOW_DAYS)]
    days = [day for day in days if is_business_day(day) and day >= window_start]  # practices close on holidays
    weights = [chart.weight for chart in charts]
    visits: list[tuple[date, int]] = []
    while len(visits) < spec["volume"][1]:
        visit = (rng.choice(days), rng.choices(range(len(charts)), weights=weights)[0])
        if visit not in visits:  # at most one visit per patient per day
            visits.append(visit)
    rows: list[tuple[Session, _Chart, list[str]]] = []
    seen: set[int] = set()
    for number, (day, index) in enumerate(sorted(visits), start=4101):
        chart = charts[index]
        fields = data.visit_fields(
            rng, spec["slug"], chart.provider.credential, chart.new and index not in seen, chart.new
        )
        seen.add(index)
        session = Session(
            practice_id=practice.id,
            patient_id=chart.patient.id,
            provider_id=chart.provider.id,
            external_ref=f"{spec['prefix']}-{number:06d}",
            date_of_service=day,
            diagnoses=list(chart.diagnoses),
            received_at=data.received_at(rng, day, tz, fields["minutes"], now),
            **fields,
        )
        credential = str(chart.provider.credential)
        rows.append((session, chart, [line.cpt for line in coded_lines(session, credential, chart.payer)]))
    _authorize(rng, now, rows)
    db.session.add_all([session for session, _, _ in rows])
    db.session.flush()
    return [Plan(session, chart.payer, cpts, tz) for session, chart, cpts in rows]


def _authorize(rng: random.Random, now: datetime, rows: list[tuple[Session, _Chart, list[str]]]) -> None:
    """A block of visits for each patient whose payer requires prior auth for a code they receive (8.3)."""
    needing: dict[int, tuple[_Chart, list[Session], set[str]]] = {}
    for session, chart, cpts in rows:
        codes = set(cpts) & set(chart.payer.prior_auth_cpts)
        if codes:
            _, sessions, all_codes = needing.setdefault(chart.patient.id, (chart, [], set()))
            sessions.append(session)
            all_codes.update(codes)
    for chart, sessions, codes in needing.values():
        fields = data.authorization_fields(rng, chart.payer.payer_id, sessions[0].date_of_service, len(sessions), now)
        auth = Authorization(patient_id=chart.patient.id, payer_id=chart.payer.id, cpt_codes=sorted(codes), **fields)
        db.session.add(auth)
        for session in sessions:
            session.auth_number = auth.number


def _staff(org_id: int, now: datetime) -> Staff:
    practices = {p.slug: p for p in db.session.scalars(select(Practice))}
    users = []
    for (email, password, role), (_, name, _, slugs, queues) in zip(DEMO_LOGINS, data.STAFF, strict=True):
        account = {"email": email, "password": password, "role": role, "name": name, "queues": queues}
        serves = [practices[slug] for slug in slugs]
        users.append(create_user(organization_id=org_id, now=now - timedelta(days=200), practices=serves, **account))
    return Staff(users)


def _summary() -> DemoSummary:
    def count(model: Any) -> int:
        return db.session.scalar(select(func.count()).select_from(model)) or 0

    models = (Practice, Provider, Payer, Patient, Coverage, Authorization, Session, WorkItem, Interaction, User)
    return DemoSummary(*(count(model) for model in models))
