"""Seed the demo organization: reference rows in bulk, then 60 days of work history replayed through the real
work services, each call made at the simulated moment it happened (never after ``now``)."""

from __future__ import annotations

import itertools
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
from backoffice.calendars import is_business_day
from backoffice.demo import data
from backoffice.extensions import db
from backoffice.orgs.models import Organization, Payer, Practice, Provider
from backoffice.orgs.rules import Credential, complete_npi
from backoffice.patients.models import Authorization, Coverage, CoveragePriority, Patient
from backoffice.sessions.models import Session
from backoffice.work import services as work
from backoffice.work.models import Interaction, WorkItem
from backoffice.work.rules import CallOutcome, CompletionOutcome, WorkKind, chain_kinds

DEMO_ORG_SLUG = "summit-billing"
DEMO_LOGINS = [(f"{login}@summit.example", f"{login}-demo-2026", role) for login, _, role, _, _ in data.STAFF]
WINDOW_DAYS = 60
UNTOUCHED = timedelta(days=2)  # sessions received this recently are still at their first step
MARGIN = timedelta(hours=2)  # a step starts this long before ``now`` at the latest, so it also ends before it


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
        db.session.commit()
        History(rng, now, _staff(org_id, now)).replay(plans)
    return _summary()


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
    org = Organization(name=data.ORG_NAME, slug=DEMO_ORG_SLUG, created_at=now - timedelta(days=730))
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
        rows.append((session, chart, data.cpt_codes(fields)))
    _authorize(rng, now, rows)
    db.session.add_all([session for session, _, _ in rows])
    db.session.flush()
    kinds = [str(kind) for kind in chain_kinds(practice.owned_steps)]
    return [Plan(session, chart.payer, cpts, kinds, tz) for session, chart, cpts in rows]


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


# --- History replay ---------------------------------------------------------------------------------------------


@dataclass
class Plan:
    """One session to replay, with what its row does not say: primary payer, CPT lines, chain and time zone."""

    session: Session
    payer: Payer
    cpts: list[str]
    kinds: list[str]
    tz: ZoneInfo


@dataclass
class _Open:
    item_id: int
    practice_id: int
    queue: str
    ready_at: datetime


class Staff:
    """The demo users, and which billers work a queue of a practice."""

    def __init__(self, users: list[User]) -> None:
        self.billers = [user for user in users if user.role == Role.BILLER]
        self.supervisor = next(user for user in users if user.role == Role.SUPERVISOR)
        self._scope = {user.id: {p.id for p in user.practices} for user in self.billers}

    def serves(self, user: User, practice_id: int, queue: str) -> bool:
        """Whether ``user`` works ``queue`` for this practice."""
        return practice_id in self._scope[user.id] and queue in user.queues

    def for_queue(self, practice_id: int, queue: str) -> list[User]:
        """The billers who work this queue of this practice (the supervisor if nobody does)."""
        return [user for user in self.billers if self.serves(user, practice_id, queue)] or [self.supervisor]


class History:
    """Plans each session's chain when it arrived and works it step by step at simulated moments."""

    def __init__(self, rng: random.Random, now: datetime, staff: Staff) -> None:
        self.rng, self.now, self.staff = rng, now, staff
        self.open: list[_Open] = []  # items left ready, for this morning's activity
        self.verified: dict[int, datetime] = {}  # patient -> last eligibility check
        self.refs = itertools.count(1001)

    def replay(self, plans: list[Plan]) -> None:
        """Work every session in arrival order, then this morning's activity."""
        for plan in sorted(plans, key=lambda p: (p.session.received_at, p.session.id)):
            self._session(plan)
        self._today()

    def _session(self, plan: Plan) -> None:
        session = plan.session
        chain = work.create_chain(session=session, kinds=plan.kinds, now=session.received_at)
        at: datetime | None = session.received_at
        for item in chain:
            assert at is not None
            days = self.rng.randint(14, 21) if item.kind == WorkKind.FOLLOW_UP else self._lag()
            when = data.work_moment(self.rng, at, plan.tz, days)
            if session.received_at > self.now - UNTOUCHED or when > self.now - MARGIN:
                self.open.append(_Open(item.id, item.practice_id, item.queue, at))
                return
            user = self.rng.choice(self.staff.for_queue(item.practice_id, item.queue))
            at = getattr(self, f"_{item.kind}")(item, plan, user, when)
            if at is None:
                return

    def _verify_benefits(self, item: WorkItem, plan: Plan, user: User, when: datetime) -> datetime:
        last = self.verified.get(plan.session.patient_id)
        if last is not None and when - last < timedelta(days=30):
            note = f"Eligibility verified {last:%b %d}; re-verification not due yet."
            return self._done(item, user, when, CompletionOutcome.NOT_NEEDED, note)
        copay = self.rng.choice([0, 20, 25, 30, 40, 50])
        if self.rng.random() < 0.3:
            body = f"Active; outpatient BH in network, copay ${copay}, no visit limit."
            when = self._call(item, plan, user, when, CallOutcome.BENEFITS_CONFIRMED, body=body)
        self.verified[plan.session.patient_id] = when
        result = {"eligible": True, "copay": copay}
        return self._done(item, user, when, CompletionOutcome.RESOLVED, "Active coverage confirmed (271).", result)

    def _obtain_preauth(self, item: WorkItem, plan: Plan, user: User, when: datetime) -> datetime:
        number = plan.session.auth_number
        if not set(plan.cpts) & set(plan.payer.prior_auth_cpts):
            note = f"{plan.payer.name} requires no prior auth for {plan.cpts[0]}."
            return self._done(item, user, when, CompletionOutcome.NOT_NEEDED, note)
        if self.rng.random() < 0.3:
            body = f"Auth {number} active; remaining visits confirmed."
            when = self._call(item, plan, user, when, CallOutcome.AUTH_APPROVED, body=body)
        note, result = f"Auth {number} on file and in date.", {"auth_number": number}
        return self._done(item, user, when, CompletionOutcome.RESOLVED, note, result)

    def _enter_charge(self, item: WorkItem, plan: Plan, user: User, when: datetime) -> datetime:
        if self.rng.random() < 0.06:
            note = "Progress note was unsigned in the EHR; clinician signed it today."
            work.add_note(item=item, actor=user, now=when, body=note)
            when += timedelta(minutes=self.rng.randint(30, 120))
        session = plan.session
        pos, modifiers = data.place_of_service(plan.payer.telehealth_policy, session.modality, session.patient_location)
        result = {"cpts": plan.cpts, "pos": pos, "modifiers": modifiers}
        return self._done(item, user, when, CompletionOutcome.RESOLVED, None, result)

    def _audit(self, item: WorkItem, plan: Plan, user: User, when: datetime) -> datetime:
        edited = self.rng.random() < 0.08
        note = self.rng.choice(data.AUDIT_FINDINGS) if edited else "Scrubber passed; no edits."
        return self._done(item, user, when, CompletionOutcome.RESOLVED, note, {"edited": edited})

    def _submit(self, item: WorkItem, plan: Plan, user: User, when: datetime) -> datetime:
        batch = f"837P-{when.astimezone(plan.tz):%Y%m%d}-{item.practice_id:02d}"
        return self._done(
            item, user, when, CompletionOutcome.RESOLVED, f"Sent in {batch}; 999 accepted.", {"batch": batch}
        )

    def _follow_up(self, item: WorkItem, plan: Plan, user: User, when: datetime) -> datetime | None:
        """The first status check, ~30 days after submission (9.2); denials go on to an appeal."""
        outcome = self.rng.choices(["era", "paid", "pending", "denied", "lost"], weights=[45, 30, 10, 10, 5])[0]
        paid = {"claim_status": "paid"}
        if outcome == "era":
            note = "ERA posted: paid per contract; no status call needed."
            return self._done(item, user, when, CompletionOutcome.NOT_NEEDED, note, paid)
        if outcome == "paid":
            when = self._call(item, plan, user, when, CallOutcome.PAID, body="Paid; EFT trace number noted.")
            return self._done(item, user, when, CompletionOutcome.RESOLVED, None, paid)
        if outcome == "lost":
            when = self._call(item, plan, user, when, CallOutcome.NO_CLAIM_ON_FILE, next_action="Resubmit")
            note = "Resubmitted electronically; kept the 999 acceptance as proof of timely filing."
            return self._done(item, user, when, CompletionOutcome.RESOLVED, note, {"claim_status": "resubmitted"})
        if outcome == "denied":
            reason, family = self.rng.choice(
                data.APPEALABLE_DENIALS + [data.AUTH_DENIAL] * bool(plan.session.auth_number)
            )
            when = self._call(item, plan, user, when, CallOutcome.DENIED, body=reason, next_action="Appeal")
            note = f"Denied ({family}); routed to the denials queue."
            self._done(item, user, when, CompletionOutcome.HANDED_OFF, note, {"claim_status": "denied"})
            return self._appeal(plan, when)
        when = self._call(item, plan, user, when, CallOutcome.IN_PROCESS, next_action="Check again in two weeks")
        retry = data.work_moment(self.rng, when, plan.tz, 10)
        if retry < self.now - MARGIN:
            retry = self._call(item, plan, user, retry, CallOutcome.PAID, body="Paid after review.")
            return self._done(item, user, retry, CompletionOutcome.RESOLVED, None, paid)
        until = max(retry, self.now + timedelta(days=1))
        work.snooze_item(item=item, actor=user, now=when, until=until, reason=data.SNOOZE_REASONS[0])
        return None

    def _appeal(self, plan: Plan, denied_at: datetime) -> None:
        appeal = work.create_chain(session=plan.session, kinds=[WorkKind.APPEAL], now=denied_at)[0]
        when = data.work_moment(self.rng, denied_at, plan.tz, self.rng.randint(1, 6))
        if when > self.now - MARGIN:
            self.open.append(_Open(appeal.id, appeal.practice_id, appeal.queue, denied_at))
            return
        user = self.rng.choice(self.staff.for_queue(appeal.practice_id, appeal.queue))
        note = "Appeal letter drafted with progress notes, treatment plan and auth history."
        work.add_note(item=appeal, actor=user, now=when, body=note)
        note = "Appeal submitted on the payer portal; reconsideration pending."
        self._done(appeal, user, when + timedelta(minutes=40), CompletionOutcome.RESOLVED, note)

    def _today(self) -> None:
        """This morning: the supervisor hands out work; billers start, call, escalate, snooze, and use Get next."""
        rng, now = self.rng, self.now
        pool = [o for o in self.open if o.ready_at < now - timedelta(hours=1)]
        taken: set[int] = set()
        for user in self.staff.billers:
            mine = [o for o in pool if o.item_id not in taken and self.staff.serves(user, o.practice_id, o.queue)]
            picks = rng.sample(mine, k=min(len(mine), 7))
            taken.update(o.item_id for o in picks)
            for n, choice in enumerate(picks):
                item = db.session.get(WorkItem, choice.item_id)
                at = max(choice.ready_at, now - timedelta(minutes=rng.randint(60, 360)))
                reason = rng.choice(data.ESCALATIONS)
                if n < 3:  # in the biller's queue, not started
                    supervisor = self.staff.supervisor
                    work.reassign_item(item=item, actor=supervisor, now=at, assignee=user, reason="Today's workload.")
                elif n < 5:  # in progress: one waiting on a payer call back, one escalated
                    work.start_item(item=item, actor=user, now=at)
                    if n == 3:
                        call = {"outcome": CallOutcome.VOICEMAIL, "duration_minutes": 3, "next_action": "Call back"}
                        work.log_call(item=item, actor=user, now=at + timedelta(minutes=4), **call)
                    else:
                        work.escalate_item(item=item, actor=user, now=at + timedelta(minutes=20), reason=reason)
                elif n == 5:
                    until, why = now + timedelta(days=rng.randint(2, 7)), rng.choice(data.SNOOZE_REASONS[1:])
                    work.snooze_item(item=item, actor=user, now=at, until=until, reason=why)
                else:  # escalated while still unassigned in the queue
                    work.escalate_item(item=item, actor=user, now=at, reason=reason)
        for user in self.staff.billers:
            work.claim_next_item(user=user, now=now - timedelta(minutes=rng.randint(2, 15)))

    def _done(
        self, item: WorkItem, user: User, when: datetime, outcome: str, note: str | None, result: dict | None = None
    ) -> datetime:
        work.complete_item(item=item, actor=user, now=when, outcome=outcome, note=note, result=result)
        return when

    def _call(self, item: WorkItem, plan: Plan, user: User, when: datetime, outcome: str, **fields: str) -> datetime:
        """Log a payer call at ``when``; returns when the call ended."""
        phone, minutes, rep = plan.payer.phone or "", self.rng.randint(6, 42), self.rng.choice(data.REPRESENTATIVES)
        fields |= {"phone_line": f"{phone[:3]}-{phone[3:6]}-{phone[6:]}", "representative": rep}
        fields |= {"reference_number": f"REF-{when:%Y-%m}-{next(self.refs):05d}"}
        work.log_call(
            item=item, actor=user, now=when, outcome=outcome, payer_id=plan.payer.id, duration_minutes=minutes, **fields
        )
        return when + timedelta(minutes=minutes)

    def _lag(self) -> int:
        """Business days before a step is picked up: mostly within its SLA, a tail of late ones."""
        return self.rng.choices([0, 1, 2, 3, 5], weights=[50, 33, 10, 5, 2])[0]
