"""Seed the demo organization: reference rows in bulk, then 60 days of work history replayed through
the real work services, each call made with the simulated moment it happened (never after ``now``)."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event, func, select

from backoffice.accounts.rules import Role
from backoffice.accounts.services import create_user
from backoffice.calendars import is_business_day
from backoffice.demo import data
from backoffice.extensions import db
from backoffice.models import (
    Authorization,
    Coverage,
    Interaction,
    Organization,
    Patient,
    Payer,
    Practice,
    Provider,
    Session,
    User,
    WorkItem,
)
from backoffice.orgs.rules import Credential, PayerKind, complete_npi
from backoffice.patients.models import CoveragePriority, Relationship, Sex
from backoffice.sessions.models import Modality, ServiceKind
from backoffice.work import services as work
from backoffice.work.rules import (
    CallOutcome,
    CompletionOutcome,
    WorkKind,
    add_business_days,
    chain_kinds,
)

DEMO_ORG_SLUG = "summit-billing"
DEMO_LOGINS: list[tuple[str, str, str]] = [(email, pw, role) for email, pw, role, *_ in data.STAFF]
WINDOW_DAYS = 60
IC_KINDS = {ServiceKind.INTAKE, ServiceKind.INTAKE_MEDICAL, ServiceKind.PSYCHOTHERAPY,
            ServiceKind.EM_WITH_PSYCHOTHERAPY, ServiceKind.GROUP}


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
        return "\n".join([
            f"Seeded {data.ORG_NAME} ({DEMO_ORG_SLUG}):",
            f"  {self.practices} practices, {self.providers} providers, {self.payers} payers, "
            f"{self.users} users",
            f"  {self.patients} patients, {self.coverages} coverages, "
            f"{self.authorizations} authorizations",
            f"  {self.sessions} sessions, {self.work_items} work items, "
            f"{self.interactions} interactions",
        ])


def seed_demo(*, now: datetime, seed: int = 2026) -> DemoSummary:
    """Create the demo organization in an empty, migrated database; same (now, seed), same data."""
    if now.tzinfo is None or now.utcoffset() != timedelta(0):
        raise ValueError("now must be an aware UTC datetime")
    rng = random.Random(seed)
    with _seeding():
        org_id = _reference_rows(rng, now)
        plans = _clinical_rows(rng, now)
        db.session.commit()
        db.session.expunge_all()  # the replay keeps only the rows it holds in memory
        History(rng, now, _staff(org_id, now)).replay(plans)
    return _summary()


@contextmanager
def _seeding() -> Iterator[None]:
    """While seeding, skip SQLite's fsync per commit (a failed seed is simply re-run) and keep
    long-lived rows (users, practices) loaded across the services' ~3,000 commits."""
    session = db.session()
    expire_on_commit, session.expire_on_commit = session.expire_on_commit, False
    listeners: list[tuple[str, Any]] = []
    dialect = db.engine.dialect.name
    if dialect in _NO_WAIT:
        fast, durable = _NO_WAIT[dialect]

        def no_wait(dbapi_connection: Any, *_: Any) -> None:
            _run(dbapi_connection, fast)

        def restore(dbapi_connection: Any, *_: Any) -> None:
            _run(dbapi_connection, durable)

        listeners = [("checkout", no_wait), ("checkin", restore)]
        for name, fn in listeners:
            event.listen(db.engine, name, fn)
    try:
        yield
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    finally:
        db.session.close()  # returns the connection to the pool, restoring synchronous=FULL
        for name, fn in listeners:
            event.remove(db.engine, name, fn)
        session.expire_on_commit = expire_on_commit


# Per-connection settings that stop each commit from waiting for the disk, and their defaults.
_NO_WAIT = {
    "sqlite": ("PRAGMA synchronous=OFF", "PRAGMA synchronous=FULL"),
}


def _run(dbapi_connection: Any, statement: str) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(statement)
    cursor.close()
    dbapi_connection.commit()  # on PostgreSQL a SET inside a rolled-back transaction is undone


def _reference_rows(rng: random.Random, now: datetime) -> int:
    org = Organization(name=data.ORG_NAME, slug=DEMO_ORG_SLUG, created_at=now - timedelta(days=730))
    db.session.add(org)
    db.session.flush()
    npis: set[str] = set()
    for spec in data.PRACTICES:
        practice = Practice(
            organization_id=org.id, group_npi=complete_npi(spec["npi_base"]), active=True,
            owned_steps=list(spec["owned_steps"]), sla_overrides=dict(spec["sla_overrides"]),
            created_at=now - timedelta(days=spec["onboarded_days_ago"]),
            **{k: spec[k] for k in ("slug", "name", "tax_id", "taxonomy", "address_line1",
                                    "address_line2", "city", "state", "zip_code", "phone",
                                    "timezone")},
        )
        for first, last, credential in data.PROVIDERS[spec["slug"]]:
            while (npi := complete_npi(f"1{rng.randrange(10**8):08d}")) in npis:
                pass
            npis.add(npi)
            practice.providers.append(Provider(
                first_name=first, last_name=last, npi=npi, credential=credential,
                taxonomy=data.TAXONOMY_BY_CREDENTIAL[credential], active=True))
        db.session.add(practice)
    for spec in data.PAYERS:
        db.session.add(Payer(organization_id=org.id, active=True, **{
            **spec, "telehealth_policy": dict(spec["telehealth_policy"]),
            "prior_auth_cpts": list(spec["prior_auth_cpts"])}))
    db.session.flush()
    return org.id


@dataclass
class _Chart:
    """A patient while the clinical rows are generated."""

    patient: Patient
    practice: Practice
    provider: Provider
    payer: Payer
    weight: int
    new: bool
    diagnoses: list[str]


def _clinical_rows(rng: random.Random, now: datetime) -> list[Plan]:
    practices = db.session.scalars(select(Practice).order_by(Practice.id)).all()
    payers = {p.payer_id: p for p in db.session.scalars(select(Payer).order_by(Payer.id))}
    window_start = now.date() - timedelta(days=WINDOW_DAYS)
    charts = [chart for practice, spec in zip(practices, data.PRACTICES, strict=True)
              for chart in _charts(rng, now, practice, spec, payers, window_start)]
    db.session.flush()
    plans: list[Plan] = []
    for practice, spec in zip(practices, data.PRACTICES, strict=True):
        mine = [c for c in charts if c.practice is practice]
        plans.extend(_sessions(rng, now, practice, spec, mine, window_start))
    return plans


def _charts(rng: random.Random, now: datetime, practice: Practice, spec: dict[str, Any],
            payers: dict[str, Payer], window_start: date) -> list[_Chart]:
    today = now.date()
    providers = list(practice.providers)
    provider_weights = [{Credential.PSYD: 15, Credential.PA: 20}.get(p.credential, 30)
                        for p in providers]
    charts = []
    for n in range(spec["patients"]):
        if spec["slug"] == "harbor-family":
            age = rng.randint(5, 17) if rng.random() < 0.6 else rng.randint(25, 55)
        else:
            age = rng.randint(66, 84) if rng.random() < 0.13 else rng.randint(19, 64)
        sex = Sex.FEMALE if rng.random() < 0.56 else Sex.MALE
        city, state, zip3 = rng.choice(data.PATIENT_CITIES[spec["slug"]])
        patient = Patient(
            practice_id=practice.id, account_number=f"{spec['prefix']}{10001 + n}",
            first_name=rng.choice(data.FEMALE_NAMES if sex == Sex.FEMALE else data.MALE_NAMES),
            last_name=rng.choice(data.LAST_NAMES), sex=sex,
            date_of_birth=today - timedelta(days=round(age * 365.25) + rng.randint(1, 360)),
            address_line1=f"{rng.randint(12, 9890)} {rng.choice(data.STREETS)}", city=city,
            state=state, zip_code=f"{zip3}{rng.randint(0, 99):02d}{rng.randint(1, 9999):04d}",
            phone=f"{spec['phone'][:3]}5550{rng.randint(100, 199)}",
        )
        weights = data.SENIOR_PAYER_WEIGHTS if age >= 66 else data.UNDER_65_PAYER_WEIGHTS
        payer = payers[rng.choices(list(weights), weights=list(weights.values()))[0]]
        patient.coverages.append(_coverage(rng, patient, payer, CoveragePriority.PRIMARY, age,
                                           window_start))
        second = _secondary_payer(rng, payer, payers)
        if second is not None:
            patient.coverages.append(_coverage(rng, patient, second, CoveragePriority.SECONDARY,
                                               age, window_start))
        primary = rng.choice(data.PRIMARY_DX[spec["slug"]])
        others = [c for c in data.SECONDARY_DX[spec["slug"]] if c[:3] != primary[:3]]
        dx = [primary, *rng.sample(others, k=rng.choices([0, 1, 2], weights=[40, 45, 15])[0])]
        provider = rng.choices(providers, weights=provider_weights)[0]
        db.session.add(patient)
        charts.append(_Chart(patient, practice, provider, payer, rng.choice([1, 2, 2, 4, 4]),
                             rng.random() < 0.25, dx))
    return charts


def _secondary_payer(rng: random.Random, primary: Payer, payers: dict[str, Payer]) -> Payer | None:
    if primary.kind in (PayerKind.MEDICAID, PayerKind.BH_CARVE_OUT) or rng.random() > 0.19:
        return None
    if primary.kind == PayerKind.MEDICARE:  # dual eligible, or a retiree plan
        return payers["MCD01"] if rng.random() < 0.6 else payers["BCBS1"]
    if primary.payer_id == "61101":
        return payers["MCD01"]
    return payers[rng.choice([p for p in ("60054", "BCBS1", "87726", "62308")
                              if p != primary.payer_id])]


def _coverage(rng: random.Random, patient: Patient, payer: Payer, priority: CoveragePriority,
              age: int, window_start: date) -> Coverage:
    relationship = Relationship.SELF
    if payer.kind in (PayerKind.COMMERCIAL, PayerKind.BH_CARVE_OUT) and payer.payer_id != "61101":
        if age < 18 or (age < 26 and rng.random() < 0.5):
            relationship = Relationship.CHILD
        elif rng.random() < 0.15 or priority == CoveragePriority.SECONDARY:
            relationship = Relationship.SPOUSE
    coverage = Coverage(payer=payer, member_id=data.make_member_id(rng, payer.payer_id),
                        group_number=data.group_number(rng, payer.payer_id), priority=priority,
                        relationship_to_subscriber=relationship, effective_to=None)
    if payer.kind == PayerKind.MEDICARE:  # Part B starts the month the patient turns 65
        dob = patient.date_of_birth
        coverage.effective_from = date(dob.year + 65, dob.month, 1)
    else:
        coverage.effective_from = date(window_start.year - rng.randint(0, 4),
                                       rng.choice([1, 1, 1, 7]), 1)
        if coverage.effective_from > window_start:
            coverage.effective_from = coverage.effective_from.replace(year=window_start.year - 1)
    if relationship != Relationship.SELF:
        sex = rng.choice([Sex.FEMALE, Sex.MALE])
        years = rng.randint(24, 40) if relationship == Relationship.CHILD else rng.randint(-6, 6)
        coverage.subscriber_first_name = rng.choice(
            data.FEMALE_NAMES if sex == Sex.FEMALE else data.MALE_NAMES)
        coverage.subscriber_last_name = patient.last_name
        coverage.subscriber_date_of_birth = patient.date_of_birth - timedelta(days=365 * years + 40)
        coverage.subscriber_sex = sex
    return coverage


def _sessions(rng: random.Random, now: datetime, practice: Practice, spec: dict[str, Any],
              charts: list[_Chart], window_start: date) -> list[Plan]:
    tz = ZoneInfo(practice.timezone)
    last_day = min(now.date(), now.astimezone(tz).date()) - timedelta(days=1)
    days = [d for d in (last_day - timedelta(days=i) for i in range(WINDOW_DAYS))
            if d.weekday() < 5 and d >= window_start]
    visits: list[tuple[date, int]] = []
    seen: set[tuple[date, int]] = set()
    weights = [c.weight for c in charts]
    while len(visits) < spec["sessions"]:
        visit = (rng.choice(days), rng.choices(range(len(charts)), weights=weights)[0])
        if visit not in seen:
            seen.add(visit)
            visits.append(visit)
    visits.sort()
    rows: list[tuple[Session, _Chart, list[str]]] = []
    first_seen: set[int] = set()
    for number, (day, index) in enumerate(visits, start=4101):
        chart = charts[index]
        first_visit = chart.new and index not in first_seen
        first_seen.add(index)
        kind, minutes, em_code = data.pick_service(rng, spec["slug"], chart.provider.credential,
                                                   first_visit)
        modality, location = data.pick_modality(rng)
        interactive = kind in IC_KINDS and rng.random() < (0.12 if chart.new else 0.04)
        screenings = (rng.choice([1, 2, 2]) if first_visit
                      else rng.choices([0, 1, 2], weights=[85, 12, 3])[0])
        start = datetime.combine(day, time(rng.randint(8, 17), rng.choice([0, 30])), tzinfo=tz)
        end = start + timedelta(minutes=minutes)
        lag_hours = rng.choices([rng.uniform(0.5, 6), rng.uniform(12, 20), rng.uniform(24, 70)],
                                weights=[60, 30, 10])[0]
        received = min(end + timedelta(hours=lag_hours), now - timedelta(minutes=rng.randint(5, 90)))
        session = Session(
            practice_id=practice.id, patient_id=chart.patient.id, provider_id=chart.provider.id,
            external_ref=f"{spec['prefix']}-{number:06d}", date_of_service=day, service_kind=kind,
            minutes=minutes, em_code=em_code, modality=modality, patient_location=location,
            interactive_complexity=interactive, screening_count=screenings,
            diagnoses=list(chart.diagnoses), received_at=max(received, end),
        )
        rows.append((session, chart, data.cpt_codes(kind, minutes, em_code, interactive, screenings)))
    _authorize(rng, now, rows)
    db.session.add_all(session for session, _, _ in rows)
    db.session.flush()
    kinds = [str(kind) for kind in chain_kinds(practice.owned_steps)]
    return [_plan(session, chart, cpts, tz, kinds) for session, chart, cpts in rows]


def _authorize(rng: random.Random, now: datetime,
               rows: list[tuple[Session, _Chart, list[str]]]) -> None:
    """One authorization per patient whose payer requires one for a code they receive."""
    by_patient: dict[int, list[Session]] = {}
    for session, chart, cpts in rows:
        if set(cpts) & set(chart.payer.prior_auth_cpts):
            by_patient.setdefault(chart.patient.id, []).append(session)
    charts = {chart.patient.id: chart for _, chart, _ in rows}
    for patient_id, sessions in by_patient.items():
        payer = charts[patient_id].payer
        start = sessions[0].date_of_service - timedelta(days=rng.randint(0, 40))
        used = rng.randint(0, 8) + len(sessions)
        authorized = used + rng.randint(0, 2) if rng.random() < 0.35 else max(used, 12) + 8
        number = f"{'PA' if payer.kind == PayerKind.MEDICAID else 'CBH'}{rng.randint(10**7, 10**8)}"
        db.session.add(Authorization(
            patient_id=patient_id, payer_id=payer.id, number=number, counts_visits=True,
            cpt_codes=sorted(payer.prior_auth_cpts), authorized=authorized, used=used,
            start_date=start, end_date=max(start + timedelta(days=180), now.date() + timedelta(days=14))))
        for session in sessions:
            session.auth_number = number


def _plan(session: Session, chart: _Chart, cpts: list[str], tz: ZoneInfo, kinds: list[str]) -> Plan:
    policy = chart.payer.telehealth_policy
    if session.modality == Modality.IN_PERSON:
        pos, modifiers = "11", []
    else:
        pos = policy["home_pos"] if session.patient_location.value == "home" else policy["other_pos"]
        modifier = policy["video_modifier" if session.modality == Modality.VIDEO
                          else "audio_only_modifier"]
        modifiers = [modifier] if modifier else []
    return Plan(session_id=session.id, patient_id=chart.patient.id, practice_id=session.practice_id,
                tz=tz, kinds=kinds, received_at=session.received_at, payer_id=chart.payer.id,
                payer_name=chart.payer.name, payer_phone=chart.payer.phone or "", cpts=cpts,
                pos=pos, modifiers=modifiers, auth_number=session.auth_number,
                needs_auth=bool(set(cpts) & set(chart.payer.prior_auth_cpts)))


def _staff(org_id: int, now: datetime) -> Staff:
    practices = {p.slug: p for p in db.session.scalars(select(Practice).order_by(Practice.id))}
    users = [
        create_user(organization_id=org_id, email=email, name=name, role=role, password=password,
                    now=now - timedelta(days=200), practices=[practices[s] for s in slugs],
                    queues=queues)
        for email, password, role, name, slugs, queues in data.STAFF
    ]
    return Staff(users)


def _summary() -> DemoSummary:
    def count(model: Any) -> int:
        return db.session.scalar(select(func.count()).select_from(model)) or 0

    return DemoSummary(
        practices=count(Practice), providers=count(Provider), payers=count(Payer),
        patients=count(Patient), coverages=count(Coverage), authorizations=count(Authorization),
        sessions=count(Session), work_items=count(WorkItem), interactions=count(Interaction),
        users=count(User),
    )



# --- History replay -------------------------------------------------------------------------------

UNTOUCHED = timedelta(days=2)  # sessions received this recently are still at their first step
MARGIN = timedelta(minutes=30)  # no simulated step ends closer to ``now`` than this


@dataclass
class Plan:
    """What the history replay needs to know about one session (plain values, no ORM rows)."""

    session_id: int
    patient_id: int
    practice_id: int
    tz: ZoneInfo
    kinds: list[str]
    received_at: datetime
    payer_id: int
    payer_name: str
    payer_phone: str
    cpts: list[str]
    pos: str
    modifiers: list[str]
    auth_number: str | None
    needs_auth: bool


@dataclass
class _Open:
    item_id: int
    practice_id: int
    queue: str
    ready_at: datetime


class Staff:
    """The demo users, and which billers work a queue of a practice."""

    def __init__(self, users: list[User]) -> None:
        self.billers = [u for u in users if u.role == Role.BILLER]
        self.supervisor = next(u for u in users if u.role == Role.SUPERVISOR)
        self._scope = {u.id: {p.id for p in u.practices} for u in self.billers}

    def serves(self, user: User, practice_id: int, queue: str) -> bool:
        """Whether ``user`` works ``queue`` for this practice."""
        return practice_id in self._scope[user.id] and queue in user.queues

    def for_queue(self, practice_id: int, queue: str) -> list[User]:
        """The billers who work this queue of this practice (the supervisor if nobody does)."""
        return [u for u in self.billers if self.serves(u, practice_id, queue)] or [self.supervisor]


class History:
    """Plans each session's chain when it arrived and works it step by step at simulated moments."""

    def __init__(self, rng: random.Random, now: datetime, staff: Staff) -> None:
        self.rng, self.now, self.staff = rng, now, staff
        self.open: list[_Open] = []
        self.verified: dict[int, datetime] = {}
        self.refs = itertools.count(1001)

    def replay(self, plans: list[Plan]) -> None:
        """Work every session in arrival order, then this morning's activity."""
        for plan in sorted(plans, key=lambda p: (p.received_at, p.session_id)):
            self._session(plan)
        self._today()

    def _session(self, plan: Plan) -> None:
        session = db.session.get(Session, plan.session_id)
        chain = work.create_chain(session=session, kinds=plan.kinds, now=plan.received_at)
        at: datetime | None = plan.received_at
        for item in chain:
            assert at is not None
            days = self.rng.randint(14, 21) if item.kind == WorkKind.FOLLOW_UP else self._lag()
            when = self._moment(at, plan.tz, days)
            if plan.received_at > self.now - UNTOUCHED or when > self.now - MARGIN:
                self.open.append(_Open(item.id, item.practice_id, item.queue, at))
                return
            user = self.rng.choice(self.staff.for_queue(plan.practice_id, item.queue))
            at = getattr(self, f"_{item.kind}")(item, plan, user, when)
            if at is None:
                return

    def _verify_benefits(self, item: WorkItem, plan: Plan, user: User, when: datetime) -> datetime:
        last = self.verified.get(plan.patient_id)
        if last is not None and when - last < timedelta(days=30):
            return self._done(item, user, when, CompletionOutcome.NOT_NEEDED,
                              f"Eligibility verified {last:%b %d}; re-verification not due yet.")
        copay = self.rng.choice([0, 20, 25, 30, 40, 50])
        if self.rng.random() < 0.3:
            self._call(item, plan, user, when, CallOutcome.BENEFITS_CONFIRMED,
                       body=f"Active; outpatient BH in network, copay ${copay}, no visit limit.")
            when += timedelta(minutes=self.rng.randint(5, 20))
        self.verified[plan.patient_id] = when
        return self._done(item, user, when, CompletionOutcome.RESOLVED,
                          "Active coverage confirmed (271 response).", {"eligible": True, "copay": copay})

    def _obtain_preauth(self, item: WorkItem, plan: Plan, user: User, when: datetime) -> datetime:
        if not plan.needs_auth:
            return self._done(item, user, when, CompletionOutcome.NOT_NEEDED,
                              f"{plan.payer_name} requires no prior auth for {plan.cpts[0]}.")
        if self.rng.random() < 0.3:
            self._call(item, plan, user, when, CallOutcome.AUTH_APPROVED,
                       body=f"Auth {plan.auth_number} active; remaining visits confirmed.")
            when += timedelta(minutes=self.rng.randint(5, 20))
        return self._done(item, user, when, CompletionOutcome.RESOLVED,
                          f"Auth {plan.auth_number} on file and in date.", {"auth_number": plan.auth_number})

    def _enter_charge(self, item: WorkItem, plan: Plan, user: User, when: datetime) -> datetime:
        if self.rng.random() < 0.06:
            work.add_note(item=item, actor=user, now=when,
                          body="Progress note was unsigned in the EHR; clinician signed it today.")
            when += timedelta(minutes=self.rng.randint(30, 120))
        return self._done(item, user, when, CompletionOutcome.RESOLVED, None,
                          {"cpts": plan.cpts, "pos": plan.pos, "modifiers": plan.modifiers})

    def _audit(self, item: WorkItem, plan: Plan, user: User, when: datetime) -> datetime:
        finding = self.rng.random() < 0.08
        note = self.rng.choice(data.AUDIT_FINDINGS) if finding else "Scrubber passed; no edits."
        return self._done(item, user, when, CompletionOutcome.RESOLVED, note, {"edited": finding})

    def _submit(self, item: WorkItem, plan: Plan, user: User, when: datetime) -> datetime:
        batch = f"837P-{when.astimezone(plan.tz):%Y%m%d}-{plan.practice_id:02d}"
        return self._done(item, user, when, CompletionOutcome.RESOLVED,
                          f"Sent in batch {batch}; 999 accepted.", {"batch": batch})

    def _follow_up(self, item: WorkItem, plan: Plan, user: User, when: datetime) -> datetime | None:
        outcome = self.rng.choices(["era", "paid", "pending", "denied", "lost"],
                                   weights=[45, 30, 10, 10, 5])[0]
        later = when + timedelta(minutes=self.rng.randint(8, 25))
        if outcome == "era":
            return self._done(item, user, when, CompletionOutcome.NOT_NEEDED,
                              "ERA posted: paid per contract; no status call needed.",
                              {"claim_status": "paid"})
        if outcome == "paid":
            self._call(item, plan, user, when, CallOutcome.PAID, body="Claim paid; EFT trace noted.")
            return self._done(item, user, later, CompletionOutcome.RESOLVED, None, {"claim_status": "paid"})
        if outcome == "lost":
            self._call(item, plan, user, when, CallOutcome.NO_CLAIM_ON_FILE,
                       next_action="Resubmit electronically")
            return self._done(item, user, later, CompletionOutcome.RESOLVED,
                              "Resubmitted; kept the 999 acceptance as proof of timely filing.",
                              {"claim_status": "resubmitted"})
        if outcome == "denied":
            reason, family = self.rng.choice(data.DENIALS)
            self._call(item, plan, user, when, CallOutcome.DENIED, body=reason, next_action="Appeal")
            self._done(item, user, later, CompletionOutcome.HANDED_OFF,
                       f"Denied ({family}); routed to the denials queue.", {"claim_status": "denied"})
            return self._appeal(plan, later)
        self._call(item, plan, user, when, CallOutcome.IN_PROCESS,
                   next_action="Check status again in two weeks")
        retry = self._moment(when, plan.tz, 10)
        if retry < self.now - MARGIN:
            self._call(item, plan, user, retry, CallOutcome.PAID, body="Claim paid after review.")
            return self._done(item, user, retry + timedelta(minutes=10), CompletionOutcome.RESOLVED,
                              None, {"claim_status": "paid"})
        work.snooze_item(item=item, actor=user, now=later, until=max(retry, self.now + timedelta(days=1)),
                         reason=data.SNOOZE_REASONS[0])
        return None

    def _appeal(self, plan: Plan, denied_at: datetime) -> None:
        session = db.session.get(Session, plan.session_id)
        appeal = work.create_chain(session=session, kinds=[WorkKind.APPEAL], now=denied_at)[0]
        when = self._moment(denied_at, plan.tz, self.rng.randint(1, 6))
        if when > self.now - MARGIN:
            self.open.append(_Open(appeal.id, appeal.practice_id, appeal.queue, denied_at))
            return
        user = self.rng.choice(self.staff.for_queue(plan.practice_id, appeal.queue))
        work.add_note(item=appeal, actor=user, now=when,
                      body="Appeal letter drafted with progress notes, treatment plan and auth history.")
        self._done(appeal, user, when + timedelta(minutes=40), CompletionOutcome.RESOLVED,
                   "Appeal submitted on the payer portal; reconsideration pending.")

    def _today(self) -> None:
        """This morning: the supervisor balances work, billers start, call, escalate, snooze, Get next."""
        rng, now, supervisor = self.rng, self.now, self.staff.supervisor
        pool = [o for o in self.open if o.ready_at < now - timedelta(hours=1)]
        taken: set[int] = set()
        for user in self.staff.billers:
            mine = [o for o in pool
                    if o.item_id not in taken and self.staff.serves(user, o.practice_id, o.queue)]
            picks = rng.sample(mine, k=min(len(mine), 7))
            taken.update(o.item_id for o in picks)
            for n, choice in enumerate(picks):
                item = db.session.get(WorkItem, choice.item_id)
                assert item is not None
                at = max(choice.ready_at, now - timedelta(minutes=rng.randint(60, 360)))
                if n < 3:
                    work.reassign_item(item=item, actor=supervisor, now=at, assignee=user,
                                       reason="Balancing today's workload.")
                elif n < 5:
                    work.start_item(item=item, actor=user, now=at)
                    if n == 3:
                        work.log_call(item=item, actor=user, now=at + timedelta(minutes=4),
                                      outcome=CallOutcome.VOICEMAIL, duration_minutes=3,
                                      next_action="Call the payer back after 2 pm")
                    else:
                        work.escalate_item(item=item, actor=user, now=at + timedelta(minutes=20),
                                           reason=rng.choice(data.ESCALATIONS))
                elif n == 5:
                    work.snooze_item(item=item, actor=user, now=at,
                                     until=now + timedelta(days=rng.randint(2, 7)),
                                     reason=rng.choice(data.SNOOZE_REASONS[1:]))
                else:
                    work.escalate_item(item=item, actor=user, now=at,
                                       reason=rng.choice(data.ESCALATIONS))
        for user in self.staff.billers:
            work.claim_next_item(user=user, now=now - timedelta(minutes=rng.randint(2, 15)))

    def _done(self, item: WorkItem, user: User, when: datetime, outcome: CompletionOutcome,
              note: str | None, result: dict[str, Any] | None = None) -> datetime:
        work.complete_item(item=item, actor=user, now=when, outcome=outcome, note=note, result=result)
        return when

    def _call(self, item: WorkItem, plan: Plan, user: User, when: datetime, outcome: CallOutcome,
              *, body: str | None = None, next_action: str | None = None) -> None:
        phone = plan.payer_phone
        work.log_call(item=item, actor=user, now=when, outcome=outcome, payer_id=plan.payer_id,
                      phone_line=f"{phone[:3]}-{phone[3:6]}-{phone[6:]}",
                      representative=self.rng.choice(data.REPRESENTATIVES),
                      reference_number=f"REF-{when:%Y-%m}-{next(self.refs):05d}",
                      duration_minutes=self.rng.randint(6, 42), next_action=next_action, body=body)

    def _lag(self) -> int:
        return self.rng.choices([0, 1, 2, 3, 5], weights=[50, 33, 10, 5, 2])[0]

    def _moment(self, after: datetime, tz: ZoneInfo, days: int) -> datetime:
        """A working moment (08:30-17:30 practice time) ``days`` business days after ``after``."""
        local = after.astimezone(tz)
        if days == 0 and is_business_day(local.date()) and local.time() < time(16, 30):
            start = max(local, datetime.combine(local.date(), time(8, 30), tzinfo=tz))
            closing = datetime.combine(local.date(), time(17, 30), tzinfo=tz)
            return (start + (closing - start) * self.rng.uniform(0.05, 0.7)).astimezone(UTC)
        day = add_business_days(local.date(), max(days, 1), is_business_day)
        opening = datetime.combine(day, time(8, 30), tzinfo=tz).astimezone(UTC)
        return opening + timedelta(minutes=self.rng.randint(0, 480))
