"""Benchmark: a simulated company-week (issue 22) — a billing company's floor run end to end through the product.

Builds a company on PostgreSQL through the product's own services and models: ``--practices`` practices (solo
therapists, group practices and a few psychiatry groups), their providers, patients with coverages (Medicaid
managed care, Medicaid, Medicare, commercial, a behavioral-health carve-out and self-pay), ``--billers`` billers
and 4 supervisors (``create_user``, with queues and skills) and routing rules, the Sandbox payer's own member file
(``seed_sandbox``) with rejection rates and a delay. A share of patients carries an intake defect: a wrong member
ID, insurance the payer ended, a missing prior authorization, or a diagnosis that does not support the service.

Then ``--days`` business days, each on the product's pinned clock (``backoffice.clock``), never real waiting:

- 07:00 ET: the scheduled flows (SLA sweep, recovery and requeue, follow-ups, timely filing, authorization watch, KPI
  snapshot, payment plans, credential watch, deposit matching, appointment eligibility, practice requests): with
  ``--prefect`` each of flows/scheduled.py's flows runs once on a local Prefect server (``prefect server start``), in
  this process so it reads the pinned clock; without it their service functions are called directly;
- the previous business day's sessions are committed as an import does and planned through the intake's own
  dispatch (``plan_imported`` with no Prefect server: its inline fallback, which enqueues the RQ jobs);
- the RQ jobs run in ``--workers`` worker processes (default 2, one per core) running ``backoffice worker``'s own loop
  (``backoffice.cli.run_worker``), their clock following this bench's (``clock.follow`` on a shared double the bench
  sets whenever it moves its clock); the bench waits for the queues to drain and the started jobs to finish after
  the intake and after each poll. ``--in-process`` runs them in an RQ ``SimpleWorker`` in this process instead;
- the Sandbox is polled every two hours as the ``inbox`` flow does it (``enqueue_polls``: one job per practice's
  inbox, the workers ingest and post its 999, 277CA and 835 side by side; ``ingest_all`` in this process with
  ``--in-process``), and the workers drain again;
- billers press Get next (``claim_next_item``) from 08:00 to 16:00 ET, each on their own simulated clock, and do
  what a person would with the item: send the drafted appeal (``mark_sent``), correct the member ID and resubmit
  (``correct_claim``), ask for a write-off that a supervisor approves (``request_write_off`` / ``decide_write_off``),
  log a payer call (``log_call``) and complete; each action takes simulated minutes.

The last line is one JSON object: items closed without a person (share, by step), seconds from an 835 being picked
up to each denial ready for its owner (its appeal drafted and handed over, or its work-denial item committed; wall
time of this run), claims past their filing limit, SLA
attainment by step and by practice, items per biller per day next to the anchors, wall and CPU seconds per day.

Usage: .venv/bin/python bench/floor.py [--practices 150] [--billers 40] [--days 5] [--seed 22] [--workers 2]
       [--in-process] [--prefect]
Database: BACKOFFICE_BENCH_DATABASE_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/bo_bench_floor;
created if missing, its public schema is dropped). Redis: BACKOFFICE_BENCH_REDIS_URL (default
redis://127.0.0.1:6379/12; flushed).
"""

from __future__ import annotations

import argparse
import bisect
import importlib
import json
import logging
import multiprocessing
import os
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from redis import Redis
from rq import Worker as RQWorker
from sqlalchemy import event, func, select, text

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from backoffice import clock, create_app, signals  # noqa: E402
from backoffice.accounts.services import create_user  # noqa: E402
from backoffice.appeals.models import Appeal  # noqa: E402
from backoffice.calendars import is_business_day  # noqa: E402
from backoffice.claims.corrections import HeaderEdit, correct_claim  # noqa: E402
from backoffice.claims.models import Claim  # noqa: E402
from backoffice.clearinghouse.sandbox_models import SandboxMember, SandboxSettings  # noqa: E402
from backoffice.demo import data  # noqa: E402
from backoffice.demo.sandbox_members import seed_sandbox  # noqa: E402
from backoffice.extensions import db  # noqa: E402
from backoffice.intake.dispatch import plan_imported  # noqa: E402
from backoffice.orgs.models import Organization, Payer, Practice, Provider  # noqa: E402
from backoffice.orgs.rules import PayerKind, complete_npi  # noqa: E402
from backoffice.patients.models import Authorization, Coverage, CoveragePriority, Patient  # noqa: E402
from backoffice.routing.models import RoutingRule  # noqa: E402
from backoffice.safe_worker import SimpleWorker  # noqa: E402
from backoffice.sessions.models import Session  # noqa: E402
from backoffice.settings import load_settings  # noqa: E402
from backoffice.supervisor.write_offs import decide_write_off, open_balance, request_write_off  # noqa: E402
from backoffice.tasks import QUEUE_NAMES, get_queue, get_redis  # noqa: E402
from backoffice.work.claiming import claim_next_item  # noqa: E402
from backoffice.work.models import WorkItem  # noqa: E402
from backoffice.work.rules import CompletionOutcome, Mode  # noqa: E402
from backoffice.work.services import add_note, complete_item, log_call  # noqa: E402
from bench.claim_next import ensure_database  # noqa: E402

DB_URL = os.environ.get("BACKOFFICE_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bo_bench_floor")
REDIS_URL = os.environ.get("BACKOFFICE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
FIRST_DAY = date(2026, 3, 2)  # a Monday; the first day's sessions are the Friday before
OPEN_UTC, CLOSE_UTC = 13, 21  # 08:00-16:00 Eastern (EST): the billers' day
POLL_HOURS_UTC = (14, 16, 18, 20, 22)  # the Sandbox's inbox read every two hours
SANDBOX_RATES = {  # percentages; the 835 scenarios' own weights give 14% denials (sandbox_x12_model.WEIGHTS)
    "reject_999_percent": 1, "reject_277ca_percent": 3, "recoupment_percent": 2, "interest_percent": 10,
    "reversal_percent": 1, "delay_minutes": 60,
}  # fmt: skip
DEFECT_RATE = 0.08  # patients whose intake data is wrong in one of four ways
DEFECTS = ("wrong_member_id", "inactive_insurance", "missing_authorization", "unsupported_diagnosis")
PAYER_ODDS = {"KEYSTONEMCO": 16, "MEDICAID": 6, "AETNA": 15, "BCBS": 18, "UHC": 14, "CIGNA": 9, "OPTUMBH": 10,
              "SELFPAY": 5}  # fmt: skip
SENIOR_ODDS = {"MEDICARE": 92, "SELFPAY": 8}
SESSIONS_PER_PROVIDER = (4, 7)  # a clinician's billable sessions per day
# (module, function) of every scheduled flow the morning runs (flows/scheduled.py calls the same services).
SCHEDULED = [
    ("backoffice.sweeps.services", "sweep_sla"), ("backoffice.automation.runner", "recover_automation"),
    ("backoffice.sweeps.services", "requeue_orphaned_items"), ("backoffice.sweeps.services", "generate_follow_ups"),
    ("backoffice.sweeps.services", "guard_timely_filing"), ("backoffice.sweeps.services", "watch_authorizations"),
    ("backoffice.sweeps.services", "snapshot_kpis"), ("backoffice.balances.sweeps", "sweep_payment_plans"),
    ("backoffice.credentialing.services", "watch_credential_expiries"),
    ("backoffice.money.sweeps", "sweep_deposit_matching"),
    ("backoffice.appointments.services", "check_due_eligibility"),
    ("backoffice.portal.services", "remind_practice_requests"),
]  # fmt: skip
# The same, as flows/scheduled.py's flows (requeue-sweeper runs recovery, requeue and resend).
SCHEDULED_FLOWS = ("sla_sweep", "requeue_sweeper", "follow_ups", "timely_filing", "authorization_watch", "kpi_snapshot",
                   "payment_plans", "credential_watch", "deposit_matching", "appointment_eligibility",
                   "practice_requests")  # fmt: skip
MINUTES = {  # simulated minutes a person spends on each action (low, high)
    "send_appeal": (10, 20), "correct_resubmit": (8, 15), "write_off_request": (5, 10), "call": (12, 35),
    "review_complete": (4, 12), "nothing_to_claim": (15, 15),
}  # fmt: skip
TARGETS = {"closed_without_person_share": 0.70, "denial_to_owner_with_draft_p95_s": 60.0,
           "claims_past_filing_limit": 0, "claims_per_biller_per_day_anchor": 27,
           "follow_up_accounts_per_biller_per_day_anchor": 50}  # fmt: skip


@dataclass
class World:
    """What the bench knows that the product does not: the true member IDs behind the defects."""

    org_id: int
    practice_ids: list[int]
    billers: list[int]
    supervisors: list[int]
    charts: dict[int, list[tuple[int, int, str, list[str]]]]  # practice → (patient, provider, template, diagnoses)
    true_member_id: dict[int, str] = field(default_factory=dict)  # coverage id → what the payer has
    defects: Counter = field(default_factory=Counter)


# ---- the company ---------------------------------------------------------------------------------------------------


def build_company(rng: random.Random, practices: int, billers: int, now: datetime) -> World:
    org = Organization(name="Floor Bench Billing", slug="floor-bench", created_at=now - timedelta(days=900),
                       **data.EDI_IDENTITY)  # fmt: skip
    db.session.add(org)
    db.session.flush()
    payers = _payers(org.id)
    kinds = ["psychiatry" if n % 15 == 7 else "group" if n % 5 in (1, 3) else "solo" for n in range(practices)]
    npis = iter(rng.sample(range(10**8), practices * 12))
    state_of = [("PA", "191", "America/New_York"), ("NJ", "080", "America/New_York"), ("NY", "100", "America/New_York")]
    practice_rows: list[tuple[Practice, str]] = []
    for n, kind in enumerate(kinds):
        template = "bright-path" if kind == "psychiatry" else ("harbor-family" if n % 4 == 3 else "calm-mind")
        state, zip3, tz = state_of[n % len(state_of)]
        steps = list(data.ALL_STEPS) if n % 6 else [s for s in data.ALL_STEPS if s != "verify_benefits"]
        practice = Practice(
            organization_id=org.id, name=f"Practice {n + 1:03d} ({kind})", slug=f"p{n + 1:03d}",
            taxonomy="193200000X" if kind == "psychiatry" else "261QM0801X", tax_id=f"{100000000 + n * 7919}",
            phone=f"215555{1000 + n:04d}", timezone=tz, group_npi=complete_npi(f"2{next(npis):08d}"),
            address_line1=f"{100 + n} Market Street", city="Philadelphia", state=state, zip_code=f"{zip3}035521",
            owned_steps=steps, sla_overrides={}, fee_schedule=data.fee_schedule(template), active=True,
            created_at=now - timedelta(days=400),
        )  # fmt: skip
        db.session.add(practice)
        practice_rows.append((practice, template))
    db.session.flush()
    credentials = {"psychiatry": ["MD", "NP", "NP", "PA", "PsyD"], "group": ["LCSW", "LPC", "LMFT", "PhD", "LCSW"],
                   "solo": ["LCSW", "LPC", "LMFT", "PsyD"]}  # fmt: skip
    charts: dict[int, list[tuple[int, int, str, list[str]]]] = {}
    world = World(org.id, [p.id for p, _ in practice_rows], [], [], charts)
    auth_payers = {pid: payers[pid] for pid in data.PRIOR_AUTH_CPTS if pid in payers}
    for (practice, template), kind in zip(practice_rows, kinds, strict=True):
        size = 1 if kind == "solo" else rng.randint(4, 8) if kind == "psychiatry" else rng.randint(3, 9)
        providers = []
        for _ in range(size):
            credential = rng.choice(credentials[kind])
            sex = rng.choice(["F", "M"])
            provider = Provider(practice_id=practice.id, first_name=data.first_name(rng, sex),
                                last_name=rng.choice(data.LAST_NAMES), npi=complete_npi(f"1{next(npis):08d}"),
                                credential=credential, taxonomy=data.TAXONOMY[credential], active=True)  # fmt: skip
            db.session.add(provider)
            providers.append(provider)
        db.session.flush()
        spec = {"slug": template, "prefix": practice.slug.upper(), "phone": practice.phone}
        rows = []
        for n in range(size * 30):  # a caseload of about 30 patients per clinician
            fields, age = data.patient_fields(rng, spec, n, now.date())
            patient = Patient(practice_id=practice.id, **fields)
            odds = SENIOR_ODDS if age >= 66 else PAYER_ODDS
            payer_id = rng.choices(list(odds), weights=list(odds.values()))[0]
            coverage = data.coverage_fields(rng, payer_id, CoveragePriority.PRIMARY, fields, age, date(2026, 1, 1))
            patient.coverages.append(Coverage(payer=payers[payer_id], effective_to=None, **coverage))
            db.session.add(patient)
            rows.append((patient, rng.choice(providers), data.diagnoses(rng, template), payer_id))
        db.session.flush()
        for patient, provider, diagnoses, payer_id in rows:
            charts.setdefault(practice.id, []).append((patient.id, provider.id, template, diagnoses))
            defect = rng.choice(DEFECTS) if rng.random() < DEFECT_RATE and payer_id != "SELFPAY" else None
            if payer_id in auth_payers and defect != "missing_authorization":
                db.session.add(Authorization(
                    patient_id=patient.id, payer_id=payers[payer_id].id, cpt_codes=list(data.PRIOR_AUTH_CPTS[payer_id]),
                    number=f"PA{rng.randint(10**7, 10**8 - 1)}", counts_visits=True, authorized=40, used=0,
                    start_date=now.date() - timedelta(days=30), end_date=now.date() + timedelta(days=150),
                ))  # fmt: skip
            if defect:
                world.defects[(patient.id, defect)] += 1
    db.session.flush()
    seed_sandbox(org.id, seed=rng.randint(1, 10**6))  # the payers' own member file, from the coverages as they are
    settings = db.session.get(SandboxSettings, org.id)
    for key, value in SANDBOX_RATES.items():
        setattr(settings, key, value)
    _apply_defects(world)
    _staff(rng, world, billers, practice_rows, payers, now)
    db.session.commit()
    return world


def _payers(org_id: int) -> dict[str, Payer]:
    payers: dict[str, Payer] = {}
    for payer_id, name, kind, filing_days, appeal_days, phone in [*data.PAYERS, data.MEDICAID_MCO]:
        payer = Payer(organization_id=org_id, payer_id=payer_id, name=name, kind=kind, phone=phone,
                      active=True)  # fmt: skip
        payer.filing_limit_days, payer.appeal_window_days = filing_days, appeal_days
        payer.telehealth_policy = dict(data.TELEHEALTH.get(payer_id, data.COMMERCIAL_TELEHEALTH))
        if kind == PayerKind.MEDICAID_MANAGED_CARE:
            payer.telehealth_policy = dict(data.MEDICAID_TELEHEALTH)
            payer.separate_session_modifier = "XE"
            payer.coding_policy = dict(data.MEDICAID_MCO_CODING)
        payer.prior_auth_cpts = list(data.PRIOR_AUTH_CPTS.get(payer_id, []))
        for key, value in data.PAYER_RULES.get(payer_id, {}).items():
            setattr(payer, key, value)
        db.session.add(payer)
        payers[payer_id] = payer
    db.session.flush()
    return payers


def _apply_defects(world: World) -> None:
    """Make the defects true after the payer's member file was written from the right data."""
    coverage_of = {c.patient_id: c for c in db.session.scalars(select(Coverage))}
    for patient_id, defect in list(world.defects):
        coverage = coverage_of[patient_id]
        if defect == "wrong_member_id":  # two digits transposed at the front desk
            world.true_member_id[coverage.id] = coverage.member_id
            digits = coverage.member_id
            coverage.member_id = digits[:-2] + digits[-1] + digits[-2] if digits[-1] != digits[-2] else digits + "9"
        elif defect == "inactive_insurance":  # the payer ended the plan last month; the practice did not know
            for member in db.session.scalars(
                select(SandboxMember).where(SandboxMember.member_id == coverage.member_id)
            ):
                member.effective_to = FIRST_DAY - timedelta(days=20)
    db.session.flush()


def _staff(rng: random.Random, world: World, billers: int, practices: list, payers: dict, now: datetime) -> None:
    all_queues = data.ALL_QUEUES
    shapes = [all_queues, all_queues[:3], all_queues[3:], all_queues, ["follow-up", "denials"], all_queues]
    skills = [["medicaid"], ["appeals"], ["coding"], [], ["appeals", "medicaid"], []]
    teams: list[list[Practice]] = [[] for _ in range(4)]
    for n, (practice, _) in enumerate(practices):
        teams[n % 4].append(practice)
    for n in range(4):
        user = create_user(organization_id=world.org_id, email=f"supervisor{n + 1}@floor.example", role="supervisor",
                           name=f"Supervisor {n + 1}", password=f"floor-bench-supervisor-{n + 1}-pass", now=now,
                           practices=teams[n])  # fmt: skip
        world.supervisors.append(user.id)
    for n in range(billers):
        team = teams[n % 4]
        user = create_user(organization_id=world.org_id, email=f"biller{n + 1}@floor.example", role="biller",
                           name=f"Biller {n + 1}", password=f"floor-bench-biller-{n + 1}-pass", now=now,
                           practices=team, queues=shapes[n % len(shapes)], skills=skills[n % len(skills)])  # fmt: skip
        world.billers.append(user.id)
    specs = [
        dict(name="Medicaid MCO denials - Medicaid specialists", payer_id=payers["KEYSTONEMCO"].id,
             kind="work_denial", required_skill="medicaid", target_queue="denials", distribution="least_loaded"),
        dict(name="Timely filing - least loaded", denial_family="timely_filing", target_queue="timely-filing",
             distribution="least_loaded", user_ids=world.billers[:8]),
        dict(name="Rejections - round robin", kind="fix_rejection", distribution="round_robin",
             user_ids=world.billers),
    ]  # fmt: skip
    for position, spec in enumerate(specs, start=1):
        spec.setdefault("user_ids", [])
        db.session.add(RoutingRule(organization_id=world.org_id, position=position * 10, created_at=now,
                                   updated_at=now, **spec))  # fmt: skip


def import_sessions(rng: random.Random, world: World, day: date, received: datetime) -> list[int]:
    """The practices' EHR exports of ``day``: committed as an import does; their ids."""
    rows = []
    per_provider: dict[int, list] = defaultdict(list)
    for practice_id in world.practice_ids:
        for chart in world.charts[practice_id]:
            per_provider[chart[1]].append((practice_id, chart))
    defects = {patient: name for patient, name in world.defects}
    for provider_id, charts in sorted(per_provider.items()):
        count = min(len(charts), rng.randint(*SESSIONS_PER_PROVIDER))
        for practice_id, (patient_id, _, template, diagnoses) in rng.sample(charts, count):
            provider = db.session.get(Provider, provider_id)
            fields = data.visit_fields(rng, template, str(provider.credential), False, False)
            if defects.get(patient_id) == "unsupported_diagnosis":
                diagnoses = ["Z63.0"]  # a Z-code alone does not support psychotherapy (3.3)
            rows.append(Session(practice_id=practice_id, patient_id=patient_id, provider_id=provider_id,
                                external_ref=f"F{day:%m%d}-{patient_id}", date_of_service=day,
                                diagnoses=list(diagnoses), received_at=received, **fields))  # fmt: skip
    _authorize(rows)
    db.session.add_all(rows)
    db.session.commit()
    return [s.id for s in rows]


def _authorize(sessions: list[Session]) -> None:
    numbers = {
        a.patient_id: a.number for a in db.session.scalars(
            select(Authorization).where(Authorization.patient_id.in_({s.patient_id for s in sessions})))
    }  # fmt: skip
    for session in sessions:
        session.auth_number = numbers.get(session.patient_id)


# ---- the automation ------------------------------------------------------------------------------------------------


class Automation:
    """``--in-process``: RQ's SimpleWorker in this process (burst) runs the enqueued jobs on the pinned clock."""

    workers = 0

    def __init__(self, redis: Redis) -> None:
        from rq.serializers import JSONSerializer

        self.redis, self.serializer = redis, JSONSerializer
        self.seconds = 0.0
        self.cpu = 0.0

    def move(self, at: datetime) -> None:
        """The in-process worker reads this process's pinned clock: nothing to move."""

    def drain(self) -> int:
        started, cpu = time.perf_counter(), time.process_time()
        queues = [get_queue(n, self.redis) for n in QUEUE_NAMES]
        count = sum(q.count for q in queues)
        if count:
            worker = SimpleWorker(queues, connection=self.redis, serializer=self.serializer)
            worker.work(burst=True, with_scheduler=False, logging_level="WARNING")
        db.session.remove()
        self.seconds += time.perf_counter() - started
        self.cpu += time.process_time() - cpu
        return count

    def worker_cpu(self) -> float:
        return self.cpu

    def stop(self) -> None:
        """Nothing runs outside this process."""


HANDED_KEY = "bench.floor.handed"  # Redis hash: appeal item id → wall time (time.time()) its draft was handed over


def worker_process(now: Any, settings_overrides: dict[str, str]) -> None:
    """One worker process: ``backoffice worker``'s own loop (``run_worker``), its clock following the bench's."""
    from backoffice.cli import run_worker

    clock.follow(lambda: datetime.fromtimestamp(now.value, UTC))
    for name in ("backoffice", "rq", "rq.worker", "rq.scheduler"):
        logging.getLogger(name).setLevel(logging.WARNING)
    app = create_app(settings=load_settings(environ={}, overrides=settings_overrides))
    signals.item_ready.connect(_record_handed)
    with app.app_context():
        run_worker(burst=False)


def _record_handed(item: WorkItem, **_: Any) -> None:
    if item.kind == "appeal" and item.mode == Mode.MANUAL:
        get_redis().hsetnx(HANDED_KEY, str(item.id), time.time())


class Workers:
    """``count`` worker processes (spawned: no connection inherited) running the product's worker loop, their clock
    following this bench's through a shared double (epoch seconds) that :meth:`move` sets."""

    def __init__(self, redis: Redis, count: int, settings_overrides: dict[str, str], at: datetime) -> None:
        context = multiprocessing.get_context("spawn")
        self.redis, self.workers = redis, count
        self.now = context.Value("d", at.timestamp())
        self.processes = [context.Process(target=worker_process, args=(self.now, settings_overrides),
                                          name=f"floor-worker-{n}") for n in range(count)]  # fmt: skip
        for process in self.processes:
            process.start()
        self.seconds, self.cpu = 0.0, 0.0
        deadline = time.monotonic() + 120
        while RQWorker.count(connection=redis) < count:  # registered: imported, warmed up, listening
            if time.monotonic() > deadline or any(not p.is_alive() for p in self.processes):
                raise RuntimeError("the worker processes did not start; see their stderr")
            time.sleep(0.1)

    def move(self, at: datetime) -> None:
        self.now.value = at.timestamp()

    def busy(self) -> bool:
        queues = [get_queue(n, self.redis) for n in QUEUE_NAMES]
        return any(q.count for q in queues) or any(q.started_job_registry.get_job_count(cleanup=False) for q in queues)

    def drain(self) -> int:
        """Wait until the queues are empty and no job is running (twice in a row: a job between its queue and the
        started registry is counted in neither for an instant); the jobs that were waiting."""
        started = time.perf_counter()
        count = sum(get_queue(n, self.redis).count for n in QUEUE_NAMES)
        quiet = 0
        while quiet < 2:
            if any(not p.is_alive() for p in self.processes):
                raise RuntimeError("a worker process died; see its stderr")
            quiet = 0 if self.busy() else quiet + 1
            time.sleep(0.05)
        for item_id, at in self.redis.hgetall(HANDED_KEY).items():
            HANDED.setdefault(int(item_id), float(at))
        db.session.remove()
        self.seconds += time.perf_counter() - started
        return count

    def polls_ended(self) -> dict[int, float]:
        """Per practice, when (wall, epoch seconds) its last inbox poll job ended (RQ keeps a job 500 s after)."""
        from backoffice.exchange.ingest import poll_job_id

        ended: dict[int, float] = {}
        queue = get_queue("default", self.redis)
        for practice_id in db.session.scalars(select(Practice.id)):
            job = queue.fetch_job(poll_job_id(practice_id))
            if job is not None and job.ended_at is not None:
                ended[practice_id] = job.ended_at.replace(tzinfo=UTC).timestamp()
        return ended

    def worker_cpu(self) -> float:
        """CPU seconds of the worker processes and their children so far (Linux /proc)."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for process in self.processes:
            try:
                with open(f"/proc/{process.pid}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += sum(int(v) for v in fields[11:15]) / ticks  # utime stime cutime cstime
        self.cpu = max(self.cpu, total)  # the last reading stays once the processes have stopped
        return self.cpu

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.join(timeout=15)
            if process.is_alive():
                process.kill()
                process.join()


class PrefectFlows:
    """``--prefect``: a local Prefect server (``flows.runtime.local_server``) and flows/scheduled.py's flows, whose
    runs build this bench's app (``app_factory``)."""

    def __init__(self, app: Any) -> None:
        self.app, self.server_start_s = app, 0.0
        self._stack = ExitStack()

    def start(self, instance: str) -> Any:
        from flows.runtime import app_factory, local_server, prefect_env

        prefect_env(instance)  # before prefect is imported
        started = time.perf_counter()
        self.api_url = self._stack.enter_context(local_server())
        self.server_start_s = time.perf_counter() - started
        self._stack.enter_context(app_factory(lambda: self.app))
        return importlib.import_module("flows.scheduled")

    def stop(self) -> None:
        self._stack.close()

    def figures(self) -> dict[str, Any]:
        return {"server": "local (prefect server start, SQLite)", "server_start_s": round(self.server_start_s, 1),
                "flows_per_day": len(SCHEDULED_FLOWS)}  # fmt: skip


def run_scheduled(now: datetime, flows: Any = None) -> None:
    """The morning's scheduled work: each flow of ``flows/scheduled.py`` run once on the Prefect server (``--prefect``;
    the flow runs here, so it reads this process's pinned clock), else the same services called directly."""
    if flows is not None:
        for name in SCHEDULED_FLOWS:
            getattr(flows, name)()
        db.session.remove()
        return
    for module, name in SCHEDULED:
        getattr(importlib.import_module(module), name)(now=now)
        db.session.commit()


# ---- the billers ---------------------------------------------------------------------------------------------------


@dataclass
class Desk:
    user_id: int
    at: datetime
    worked: Counter = field(default_factory=Counter)


def work_item(rng: random.Random, world: World, user: Any, item: WorkItem, now: datetime) -> tuple[str, int]:
    """Do what a biller would with ``item``; the action's name and its minutes."""
    claim = db.session.get(Claim, item.claim_id) if item.claim_id else None
    if item.kind == "appeal":
        appeal = db.session.scalar(select(Appeal).where(Appeal.work_item_id == item.id, Appeal.status == "draft"))
        if appeal is not None:
            from backoffice.appeals.services import mark_sent

            mark_sent(appeal=appeal, actor=user, now=now, sent_on=clock.today_in("America/New_York"),
                      method="portal", reference=f"WEB{item.id:08d}")  # fmt: skip
            return "send_appeal", rng.randint(*MINUTES["send_appeal"])
    if item.kind == "fix_rejection" and claim is not None:
        coverage = db.session.get(Coverage, claim.coverage_id) if getattr(claim, "coverage_id", None) else None
        true_id = world.true_member_id.get(coverage.id) if coverage is not None else None
        if true_id:
            correct_claim(claim=claim, actor=user, now=now, edit=HeaderEdit(member_id=true_id),
                          reason="member ID corrected from the insurance card", resubmit=True)  # fmt: skip
            return "correct_resubmit", rng.randint(*MINUTES["correct_resubmit"])
    if (
        item.kind == "work_denial"
        and claim is not None
        and (item.denial_family == "timely_filing" or rng.random() < 0.2)
    ):
        amount = open_balance(claim, "insurance")
        if amount > 0:
            reason = "timely_filing" if item.denial_family == "timely_filing" else "contractual"
            request_write_off(item=item, actor=user, now=now, balance="insurance", amount=amount, reason=reason,
                              note="Not recoverable: write off per policy")  # fmt: skip
            db.session.commit()
            return "write_off_request", rng.randint(*MINUTES["write_off_request"])
    if item.kind in ("follow_up", "work_denial", "verify_benefits", "fix_rejection", "obtain_preauth"):
        payer_id = claim.payer_id if claim is not None else None
        outcome = "in_process" if item.kind == "follow_up" else "needs_information"
        log_call(item=item, actor=user, now=now, outcome=outcome,
                 payer_id=payer_id, representative=rng.choice(data.REPRESENTATIVES),
                 reference_number=f"C{item.id:09d}", duration_minutes=rng.randint(8, 30),
                 next_action="resolved on the call")  # fmt: skip
        complete_item(item=item, actor=user, now=now + timedelta(minutes=1), outcome=CompletionOutcome.RESOLVED,
                      note="Resolved with the payer on the phone")  # fmt: skip
        return "call", rng.randint(*MINUTES["call"])
    add_note(item=item, actor=user, now=now, body="Reviewed and resolved")
    complete_item(item=item, actor=user, now=now, outcome=CompletionOutcome.RESOLVED)
    return "review_complete", rng.randint(*MINUTES["review_complete"])


def approve_write_offs(world: World, now: datetime) -> int:
    from backoffice.accounts.models import User
    from backoffice.supervisor.models import WriteOffRequest

    decided = 0
    for request in db.session.scalars(select(WriteOffRequest).where(WriteOffRequest.state == "pending")).all():
        supervisor = next(db.session.get(User, s) for s in world.supervisors if s != request.requested_by_id)
        decide_write_off(request=request, actor=supervisor, now=now, approve=True, note="Approved per policy")
        decided += 1
    db.session.commit()
    return decided


def run_day(rng: random.Random, world: World, day: date, automation: Automation | Workers, figures: dict,
            flows: Any = None) -> None:  # fmt: skip
    from backoffice.accounts.models import User
    from backoffice.exchange.ingest import enqueue_polls, ingest_all

    morning = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)

    def move(at: datetime) -> None:
        clock.pin(at)
        automation.move(at)

    move(morning)
    phase = figures["phase_s"]
    mark = time.perf_counter()
    run_scheduled(morning, flows)
    phase["scheduled_flows"] += time.perf_counter() - mark
    previous = day - timedelta(days=1)
    while not is_business_day(previous):
        previous -= timedelta(days=1)
    mark = time.perf_counter()
    ids = import_sessions(rng, world, previous, morning - timedelta(hours=10))
    figures["sessions"] += len(ids)
    plan_imported(ids, now=morning, api_url=None)
    phase["import_and_plan"] += time.perf_counter() - mark
    automation.drain()
    opening = datetime(day.year, day.month, day.day, OPEN_UTC, tzinfo=UTC)
    desks = [Desk(uid, opening + timedelta(minutes=rng.randint(0, 20))) for uid in world.billers]
    close = datetime(day.year, day.month, day.day, CLOSE_UTC, tzinfo=UTC)
    polls = [datetime(day.year, day.month, day.day, h, tzinfo=UTC) for h in POLL_HOURS_UTC]

    def poll(at: datetime) -> None:
        move(at)
        seen = figures["denial_items_seen"]
        started, mark = time.time(), time.perf_counter()
        if isinstance(automation, Workers):  # the inbox flow's fan-out: the workers poll and post, one job an inbox
            enqueue_polls(now=at)
            automation.drain()
            posted = automation.polls_ended()
            committed_at = None
        else:
            with commits_timed() as commits:
                ingest_all(now=at)
                db.session.commit()
            posted, committed_at = {}, commits.committed_at
        phase["sandbox_poll_ingest_post"] += time.perf_counter() - mark
        rows = db.session.execute(select(WorkItem.id, WorkItem.kind, WorkItem.practice_id)
                                  .where(WorkItem.kind.in_(DENIAL)))  # fmt: skip
        for item_id, kind, practice_id in rows:
            if item_id not in seen:
                seen[item_id] = started
                figures["denial_kinds"][item_id] = kind
                if kind == "work_denial":  # opened for a person (routed) in the posting's own transaction: by the
                    # end of its practice's poll job with workers (an upper bound), at its commit in process
                    at_most = posted.get(practice_id, time.time())
                    HANDED.setdefault(item_id, committed_at(item_id) if committed_at else at_most)
        automation.drain()
        mark = time.perf_counter()
        approve_write_offs(world, at)
        phase["supervisors"] += time.perf_counter() - mark

    while desks:
        desk = min(desks, key=lambda d: d.at)
        while polls and polls[0] <= desk.at:
            poll(polls.pop(0))
        if desk.at >= close:
            desks.remove(desk)
            continue
        move(desk.at)
        mark = time.perf_counter()
        user = db.session.get(User, desk.user_id)
        item = claim_next_item(user=user, now=desk.at)
        if item is None:
            phase["billers"] += time.perf_counter() - mark
            desk.at = polls[0] if polls and polls[0] > desk.at else desk.at + timedelta(minutes=30)
            figures["idle_presses"] += 1
            continue
        kind = item.kind
        try:
            action, minutes = work_item(rng, world, user, item, desk.at)
        except Exception as error:  # noqa: BLE001 - a refusal a person would meet: they hand it back, noted
            db.session.rollback()
            figures["refused"][f"{kind}: {type(error).__name__}"] += 1
            item = db.session.get(WorkItem, item.id)
            from backoffice.work.services import escalate_item

            try:
                escalate_item(item=item, actor=user, now=desk.at, reason="Needs a supervisor: the action was refused")
            except Exception:  # noqa: BLE001
                db.session.rollback()
            action, minutes = "escalated", 5
        figures["actions"][action] += 1
        desk.worked[kind] += 1
        figures["per_biller_kind"][kind] += 1
        desk.at += timedelta(minutes=minutes)
        phase["billers"] += time.perf_counter() - mark
    for at in polls:
        poll(at)
    automation.drain()


# ---- the figures ---------------------------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


DENIAL = ("work_denial", "appeal")
# Wall time (time.time(), shared by the worker processes) at which each denial's item was ready for its owner: an
# appeal item when its draft is handed over to a person, a work-denial item when the posting that opened it committed.
HANDED: dict[int, float] = {}


def _on_ready(item: WorkItem, **_: Any) -> None:
    if item.kind == "appeal" and item.mode == Mode.MANUAL and item.id not in HANDED:
        HANDED[item.id] = time.time()


class Commits:
    """This process's commits during a poll: the highest work-item id each could see, and when it committed."""

    def __init__(self) -> None:
        self.max_ids: list[int] = []
        self.times: list[float] = []
        self._pending: int | None = None

    def before(self, session: Any) -> None:
        self._pending = session.execute(select(func.max(WorkItem.id))).scalar() or 0

    def after(self, _session: Any) -> None:
        if self._pending is not None:
            self.max_ids.append(self._pending)
            self.times.append(time.time())
            self._pending = None

    def committed_at(self, item_id: int) -> float:
        """When the commit that wrote ``item_id`` returned: the first whose highest id reached it (ids only grow, and
        only this process opens denial items)."""
        if not self.times:
            return time.time()
        index = bisect.bisect_left(self.max_ids, item_id)
        return self.times[min(index, len(self.times) - 1)]


@contextmanager
def commits_timed() -> Iterator[Commits]:
    commits = Commits()
    session = db.session()
    event.listen(session, "before_commit", commits.before)
    event.listen(session, "after_commit", commits.after)
    try:
        yield commits
    finally:
        event.remove(session, "before_commit", commits.before)
        event.remove(session, "after_commit", commits.after)


def summarise(world: World, figures: dict, days: int, day_seconds: list[float], day_cpu: list[float],
              automation: Automation | Workers, last_day: date) -> dict:  # fmt: skip
    db.session.remove()
    rows = db.session.execute(text("""
        SELECT w.kind, w.state, w.mode, w.practice_id, w.assignee_id IS NOT NULL AS touched,
               w.due_at, w.completed_at,
               EXISTS (SELECT 1 FROM interactions i
                       WHERE i.work_item_id = w.id AND i.actor_user_id IS NOT NULL) AS person
        FROM work_items w
    """)).all()  # fmt: skip
    by_step: dict[str, Counter] = defaultdict(Counter)
    sla_step: dict[str, Counter] = defaultdict(Counter)
    sla_practice: dict[int, Counter] = defaultdict(Counter)
    end = datetime(last_day.year, last_day.month, last_day.day, 23, 59, tzinfo=UTC)
    for kind, state, _mode, practice_id, _touched, due_at, completed_at, person in rows:
        closed = state in ("done", "cancelled")
        by_step[kind]["items"] += 1
        if closed:
            by_step[kind]["closed"] += 1
            by_step[kind]["closed_without_person" if not person else "closed_by_person"] += 1
        if due_at is not None and (closed or due_at <= end):
            met = closed and completed_at is not None and completed_at <= due_at
            for bucket in (sla_step[kind], sla_practice[practice_id]):
                bucket["due"] += 1
                bucket["met"] += int(met)
    total_closed = sum(c["closed"] for c in by_step.values())
    without = sum(c["closed_without_person"] for c in by_step.values())
    latencies = [HANDED[i] - t0 for i, t0 in figures["denial_items_seen"].items() if i in HANDED]
    by_kind: dict[str, list[float]] = defaultdict(list)
    for item_id, t0 in figures["denial_items_seen"].items():
        if item_id in HANDED:
            by_kind[figures["denial_kinds"][item_id]].append(HANDED[item_id] - t0)
    past_limit = db.session.scalar(
        text("""
        SELECT count(*) FROM claims c JOIN payers p ON p.id = c.payer_id JOIN sessions s ON s.id = c.session_id
        WHERE c.status IN ('draft', 'scrubbed', 'rejected')
          AND s.date_of_service + p.filing_limit_days < :today
    """),
        {"today": last_day},
    )  # never accepted by the payer, and its filing limit passed
    practice_rates = sorted(c["met"] / c["due"] for c in sla_practice.values() if c["due"])
    claims = dict(db.session.execute(text("SELECT status, count(*) FROM claims GROUP BY status")).all())
    person_items = sum(figures["per_biller_kind"].values())
    billers = len(world.billers)
    claims_worked = sum(v for k, v in figures["per_biller_kind"].items() if k != "follow_up")
    follow_ups = figures["per_biller_kind"].get("follow_up", 0)
    share = round(without / total_closed, 3) if total_closed else None
    p95 = pct(latencies, 0.95)
    return {
        "practices": len(world.practice_ids),
        "providers": db.session.scalar(select(func.count()).select_from(Provider)),
        "patients": db.session.scalar(select(func.count()).select_from(Patient)),
        "billers": billers,
        "supervisors": len(world.supervisors),
        "days": days,
        "sessions": figures["sessions"],
        "intake_defects": dict(Counter(name for _, name in world.defects)),
        "sandbox": SANDBOX_RATES | {"denial_share_of_835_scenarios": 0.14},
        "work_items": len(rows),
        "closed_without_person": {
            "share": share,
            "target": TARGETS["closed_without_person_share"],
            "met": share is not None and share >= TARGETS["closed_without_person_share"],
            "by_step": {
                k: {
                    "items": c["items"],
                    "closed": c["closed"],
                    "without_person": c["closed_without_person"],
                    "share": round(c["closed_without_person"] / c["closed"], 3) if c["closed"] else None,
                }
                for k, c in sorted(by_step.items())
            },
        },
        "denial_835_to_owner_with_draft_s": {
            "denials": len(latencies),
            "by_kind": {k: {"denials": len(v), "p50": pct(v, 0.5), "p95": pct(v, 0.95)} for k, v in by_kind.items()},
            "p50": pct(latencies, 0.5),
            "p95": p95,
            "target_p95": TARGETS["denial_to_owner_with_draft_p95_s"],
            "met": p95 is not None and p95 <= TARGETS["denial_to_owner_with_draft_p95_s"],
            "clock": "wall seconds of this run from the poll that picked the 835 up to the denial ready for its owner "
            "(work-denial items: the posting committed; appeals: the draft handed over)",
        },
        "claims_past_filing_limit": {"count": past_limit, "target": 0, "met": past_limit == 0},
        "sla_attainment": {
            "by_step": {
                k: {"due": c["due"], "met": c["met"], "rate": round(c["met"] / c["due"], 3)}
                for k, c in sorted(sla_step.items())
                if c["due"]
            },
            "by_practice": {
                "practices": len(practice_rates),
                "min": pct(practice_rates, 0.0),
                "p10": pct(practice_rates, 0.1),
                "median": pct(practice_rates, 0.5),
                "below_90_percent": sum(r < 0.9 for r in practice_rates),
            },
        },
        "per_biller_per_day": {
            "items": round(person_items / billers / days, 1),
            "claims_worked": round(claims_worked / billers / days, 1),
            "claims_anchor": TARGETS["claims_per_biller_per_day_anchor"],
            "follow_up_accounts": round(follow_ups / billers / days, 1),
            "follow_up_anchor": TARGETS["follow_up_accounts_per_biller_per_day_anchor"],
            "by_kind": dict(figures["per_biller_kind"]),
            "actions": dict(figures["actions"]),
            "refused": dict(figures["refused"]),
            "idle_presses": figures["idle_presses"],
        },
        "claims_by_status": {str(k): v for k, v in sorted(claims.items())},
        "wall_s_per_day": [round(s, 1) for s in day_seconds],
        "cpu_s_per_day": [round(s, 1) for s in day_cpu],
        "wall_s_by_phase": {k: round(v, 1) for k, v in figures["phase_s"].items()}
        | {"waiting_for_rq_jobs": round(automation.seconds, 1)},
        "workers_cpu_s_per_day": [round(s, 1) for s in figures["worker_cpu_per_day"]],
        "automation": {
            "worker_processes": automation.workers,
            "waiting_for_jobs_wall_s": round(automation.seconds, 1),
            "worker_cpu_s": round(automation.worker_cpu(), 1),
            "note": (
                f"{automation.workers} worker processes running `backoffice worker`'s loop, their clock following "
                "the bench's pinned clock; the bench waits for the queues to drain after the intake and each poll"
                if automation.workers
                else "RQ SimpleWorker in the bench process (--in-process), on the pinned clock"
            )
            + ("; scheduled flows on a Prefect server" if figures.get("prefect") else "; no Prefect server"),
        },
        "targets": TARGETS,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--practices", type=int, default=150)
    parser.add_argument("--billers", type=int, help="default: 40 per 150 practices (at least 4)")
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--seed", type=int, default=22)
    parser.add_argument("--workers", type=int, default=2, help="RQ worker processes (default 2, one per core)")
    parser.add_argument("--in-process", action="store_true", help="run the RQ jobs in this process instead")
    parser.add_argument("--prefect", action="store_true", help="run the scheduled flows on a local Prefect server")
    args = parser.parse_args()
    args.billers = args.billers or max(4, round(40 * args.practices / 150))
    ensure_database(DB_URL)
    redis = Redis.from_url(REDIS_URL)
    redis.flushdb()
    instance = tempfile.mkdtemp(prefix="bench-floor-")
    overrides = {"database_url": DB_URL, "redis_url": REDIS_URL, "instance_path": instance}
    app = create_app(settings=load_settings(environ={}, overrides=overrides))
    rng = random.Random(args.seed)
    for name in ("backoffice", "rq", "rq.worker"):  # one INFO line per claim sent would bury the figures
        logging.getLogger(name).setLevel(logging.WARNING)
    with app.app_context():
        from flask_migrate import upgrade

        upgrade(directory=app.extensions["migrate"].directory)
        signals.item_ready.connect(_on_ready)
        start = datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, 11, tzinfo=UTC)
        clock.pin(start)
        started, cpu = time.perf_counter(), time.process_time()
        world = build_company(rng, args.practices, args.billers, start)
        build = {"wall_s": round(time.perf_counter() - started, 1), "cpu_s": round(time.process_time() - cpu, 1)}
        db.session.remove()
        db.engine.dispose()
        in_process = args.in_process or args.workers < 1
        automation = Automation(redis) if in_process else Workers(redis, args.workers, overrides, start)
        figures: dict[str, Any] = {"sessions": 0, "denial_items_seen": {}, "actions": Counter(), "refused": Counter(),
                                   "per_biller_kind": Counter(), "idle_presses": 0, "phase_s": Counter(),
                                   "worker_cpu_per_day": [], "denial_kinds": {}}  # fmt: skip
        day, day_seconds, day_cpu = FIRST_DAY, [], []
        prefect = PrefectFlows(app) if args.prefect else None
        flows = prefect.start(instance) if prefect else None
        figures["prefect"] = prefect is not None
        try:
            for _ in range(args.days):
                while not is_business_day(day):
                    day += timedelta(days=1)
                started, cpu, workers_cpu = time.perf_counter(), time.process_time(), automation.worker_cpu()
                run_day(rng, world, day, automation, figures, flows)
                day_seconds.append(time.perf_counter() - started)
                day_cpu.append(time.process_time() - cpu)
                figures["worker_cpu_per_day"].append(automation.worker_cpu() - workers_cpu)
                print(f"day {len(day_seconds)} ({day}): {day_seconds[-1]:.1f} s wall, {day_cpu[-1]:.1f} s CPU here, "
                      f"{figures['worker_cpu_per_day'][-1]:.1f} s in workers, {figures['sessions']} sessions so far, "
                      f"load {os.getloadavg()[0]:.2f}", file=sys.stderr, flush=True)  # fmt: skip
                last = day
                day += timedelta(days=1)
        finally:
            automation.stop()
            if prefect:
                prefect.stop()
        result = summarise(world, figures, args.days, day_seconds, day_cpu, automation, last)
        result["build"] = build
        result["prefect"] = (
            prefect.figures()
            if prefect
            else {"server": None, "note": "--prefect not given: the scheduled flows' services were called directly"}
        )
        result["load_average_1m"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
