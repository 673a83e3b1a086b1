"""Chaos run (issue 7, faults): push sessions through the automated steps with real `backoffice worker` processes
while killing them with SIGKILL in the middle of steps (at fixed points and at random moments), stopping a
private Redis for a minute and restarting a private PostgreSQL cluster under load; then prove nothing was lost:
every item ends done, deferred or handed to a person exactly as a run without faults would, none is left in
progress, every claim version is filed once (in the database and at the payer), control numbers are unique.

Usage: .venv/bin/python bench/chaos.py [--sessions 40] [--workers 3] [--random-kills 30] [--redis-outage 60]
       [--phases kills,redis,pg]
The run owns everything it touches: a private Redis on a free port and a private PostgreSQL cluster (initdb as the
`postgres` user, fsync off) under a temporary folder, both stopped at the end. Prints one JSON object on its last
line. The harness (private Redis and cluster, worker processes, the kill driver, the invariant checks) is shared
with tests/test_faults.py, which runs the short versions in CI.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from redis import Redis  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from backoffice.extensions import db  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OWNED_STEPS = ["verify_benefits", "enter_charge", "audit", "submit", "follow_up"]
AUTOMATED_KINDS = ("verify_benefits", "enter_charge", "audit", "submit")  # follow_up waits (NotYet) at once
PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), Path("/usr/bin"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: Callable[[], bool], timeout: float, step: float = 0.1, what: str = "condition") -> float:
    """Poll ``check`` until it is true; the seconds it took. TimeoutError names ``what``."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{what} not reached within {timeout} s")
        time.sleep(step)
    return time.monotonic() - started


# --- private servers ---------------------------------------------------------------------------------------------


class PrivateRedis:
    """A redis-server of our own on a free loopback port, without persistence (a restart loses every queue)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> PrivateRedis:
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
        wait_for(self._answers, 10, what=f"redis on port {self.port}")
        return self

    def _answers(self) -> bool:
        try:
            return bool(Redis.from_url(self.url, socket_timeout=1).ping())
        except Exception:  # noqa: BLE001
            return False

    def stop(self) -> None:
        """SIGTERM with --save '': the data is gone, as after a crash of a Redis without persistence."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


class PrivateCluster:
    """A throwaway PostgreSQL cluster (initdb -A trust, fsync off) run by the postgres user on a free port."""

    def __init__(self, root: Path, port: int | None = None) -> None:
        self.root, self.port = root, port or free_port()
        self.data = root / "data"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True, capture_output=True)  # noqa: S603

    def _pg_ctl(self, action: str, *extra: str) -> None:
        opts = f"-p {self.port} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -k {self.root}"
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"), "-w",
                          "-o", opts, action, *extra)  # fmt: skip

    def start(self) -> PrivateCluster:
        self.root.mkdir(parents=True, exist_ok=True)
        shutil.chown(self.root, "postgres", "postgres")
        if not self.data.exists():
            self._as_postgres(str(PG_BIN / "initdb"), "-A", "trust", "-U", "postgres", "-D", str(self.data))
        self._pg_ctl("start")
        return self

    def restart(self) -> float:
        """``pg_ctl restart -m fast``: every connection is cut; the seconds it took."""
        started = time.monotonic()
        self._pg_ctl("restart", "-m", "fast")
        return time.monotonic() - started

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._pg_ctl("stop", "-m", "immediate")


# --- the world ---------------------------------------------------------------------------------------------------


def seed_world(sessions: int, *, slug: str = "chaos", manual_benefits: int = 0) -> dict[str, Any]:
    """One practice on the Sandbox clearinghouse owning the steps up to follow-up, one commercial payer, and
    ``sessions`` 53-minute sessions of patients whose 271 comes back active and in network (each is in the Sandbox's
    own member file). The first
    ``manual_benefits`` patients have an inactive benefits check on file: their verification is a person's."""
    from backoffice.clearinghouse.sandbox import enroll_member, member_hash
    from backoffice.orgs.models import Organization, Payer, Practice, Provider
    from backoffice.orgs.rules import complete_npi
    from backoffice.patients.models import BenefitsCheck, Coverage, Patient
    from backoffice.sessions.models import Session

    now = datetime.now(UTC)
    org = Organization(
        name="Chaos Billing",
        slug=f"{slug}-org",
        edi_submitter_id="CHAOSSUB1",
        edi_contact_name="Desk",
        edi_contact_phone="5551230000",
        created_at=now,
        mfa_required_roles=[],
    )  # fmt: skip  (its supervisor signs in with a password)
    db.session.add(org)
    db.session.flush()
    practice = Practice(
        organization_id=org.id, name="Chaos Practice", slug=slug, group_npi=complete_npi("200000001"),
        tax_id="123456780", taxonomy="261QM0801X", address_line1="1 Main St", city="Springfield", state="IL",
        zip_code="627010001", timezone="America/New_York", owned_steps=OWNED_STEPS, sla_overrides={},
        fee_schedule={"90837": "190.00", "90834": "150.00"}, clearinghouse="sandbox", created_at=now,
    )  # fmt: skip
    payer = Payer(organization_id=org.id, payer_id="UHC", name="UnitedHealthcare", kind="commercial",
                  filing_limit_days=90, appeal_window_days=180, telehealth_policy={}, prior_auth_cpts=[])  # fmt: skip
    db.session.add_all([practice, payer])
    db.session.flush()
    provider = Provider(practice_id=practice.id, first_name="C", last_name="Chaos", npi=complete_npi("100000001"),
                        credential="LCSW", taxonomy="1041C0700X")  # fmt: skip
    db.session.add(provider)
    db.session.flush()
    members = (f"W{n:09d}" for n in range(10**6) if member_hash(f"W{n:09d}") % 5)  # h % 5 == 0: out of network
    session_ids = []
    for n in range(sessions):
        patient = Patient(practice_id=practice.id, account_number=f"C{n}", first_name="Pat", last_name=f"Chaos{n}",
                          date_of_birth=date(1980, 1, 1), sex="F", address_line1=f"{n + 1} Elm St",
                          city="Springfield", state="IL", zip_code="62701")  # fmt: skip
        db.session.add(patient)
        db.session.flush()
        coverage = Coverage(patient_id=patient.id, payer_id=payer.id, member_id=next(members), priority="primary",
                            relationship_to_subscriber="18", effective_from=date(2026, 1, 1))  # fmt: skip
        db.session.add(coverage)
        enroll_member(organization_id=org.id, payer_id=payer.payer_id, payer_kind="commercial",
                      member_id=coverage.member_id, first_name=patient.first_name, last_name=patient.last_name,
                      date_of_birth=patient.date_of_birth, sex="F", effective_from=date(2026, 1, 1))  # fmt: skip
        if n < manual_benefits:
            db.session.add(BenefitsCheck(practice_id=practice.id, patient_id=patient.id, payer_id=payer.id,
                                         source="271", checked_at=now - timedelta(days=1), active=False))  # fmt: skip
        session = Session(practice_id=practice.id, patient_id=patient.id, provider_id=provider.id,
                          external_ref=f"CH-{n}", date_of_service=(now - timedelta(days=3)).date(),
                          service_kind="psychotherapy", minutes=53, modality="in_person", patient_location="office",
                          diagnoses=["F33.1"], received_at=now)  # fmt: skip
        db.session.add(session)
        db.session.flush()
        session_ids.append(session.id)
    db.session.commit()
    return {"org": org.id, "practice": practice.id, "payer": payer.id, "sessions": session_ids, "slug": slug}


# --- workers and the kill driver -----------------------------------------------------------------------------------


def worker_env(*, database_url: str, redis_url: str, instance_path: str, pause_at: str = "",
               pause_dir: str = "") -> dict[str, str]:  # fmt: skip
    """The environment of a worker process: only the settings given (none inherited from this process)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKOFFICE_")}
    env.update(BACKOFFICE_DATABASE_URL=database_url, BACKOFFICE_REDIS_URL=redis_url,
               BACKOFFICE_INSTANCE_PATH=instance_path, BACKOFFICE_LOG_LEVEL="WARNING",
               BACKOFFICE_SECRET_KEY=BENCH_SECRET)  # fmt: skip
    if pause_at:
        env.update(BACKOFFICE_TEST_PAUSE_AT=pause_at, BACKOFFICE_TEST_PAUSE_DIR=pause_dir)
    return env


# Workers refuse to start without a secret (docs/security.md); they sign nothing, so each run makes its own.
BENCH_SECRET = secrets.token_urlsafe(32)
STARTED: list[subprocess.Popen[bytes]] = []  # every worker this process started, stopped by stop_all()


def start_worker(env: dict[str, str], log: Path, *, burst: bool = False) -> subprocess.Popen[bytes]:
    """`backoffice worker` as a child process (its own process group, so a kill reaches only it)."""
    cmd = [sys.executable, "-m", "backoffice.cli", "worker", *(["--burst"] if burst else [])]
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,  # noqa: S603
                                start_new_session=True)  # fmt: skip
    STARTED.append(proc)
    return proc


def stop_all() -> None:
    """Stop every worker still running that this process started (a failed run must not leave any behind)."""
    for proc in STARTED:
        stop_gently(proc)


def kill_hard(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the worker and its scheduler child (same process group), then reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


def stop_gently(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            kill_hard(proc)


def hold_workers(conn: Redis, timeout: float = 60) -> None:
    """Suspend RQ's workers and wait until the one live worker is (blocked waiting for a job, it wakes on a no-op
    job and then sees the suspension), so that jobs queued next stay in Redis (and an outage then loses them).
    Workers killed earlier stay registered until their TTL: they are not waited for."""
    from rq import Worker
    from rq.suspension import suspend

    from backoffice.tasks import get_queue

    suspend(conn)
    get_queue("low", conn).enqueue("workers.jobs.noop")  # it may stay queued: a worker not in dequeue just stops
    wait_for(lambda: any(w.get_state() == "suspended" for w in Worker.all(connection=conn)), timeout,
             what="a worker suspended")  # fmt: skip


@dataclass
class DriveResult:
    kills: int = 0
    kills_at: Counter[str] = field(default_factory=Counter)  # "submit:stepped" -> n
    random_kills: int = 0
    recovered: int = 0
    requeued: int = 0
    worker_starts: int = 0
    seconds: float = 0.0
    last_kill_to_settled_seconds: float | None = None


def automation_pending() -> int:
    """Automated items still to run: ready or in progress (a follow-up waiting for its window is settled)."""
    from backoffice.work.models import WorkItem
    from backoffice.work.rules import ItemState, Mode

    db.session.remove()
    return int(
        db.session.scalar(
            select(func.count(WorkItem.id)).where(
                WorkItem.mode == Mode.AUTOMATED, WorkItem.state.in_([ItemState.READY, ItemState.IN_PROGRESS])
            )
        )
        or 0
    )


def drive(
    env: dict[str, str],
    logs: Path,
    *,
    workers: int = 1,
    pause_dir: Path | None = None,
    random_kill_budget: int = 0,
    stale_after: timedelta = timedelta(seconds=20),
    recover_at_once: bool = False,
    sweep_every: float = 1.0,
    timeout: float = 600,
    rng: random.Random | None = None,
) -> DriveResult:
    """Run ``workers`` long-lived worker processes until no automated item is ready or in progress, killing each
    worker that reaches a pause point (SIGKILL, then a fresh worker) and, with a budget, random busy workers at
    random moments. Recovery is the requeue-sweeper's plain functions (``recover_automation`` with ``stale_after``,
    then ``requeue_orphaned_items``), run every ``sweep_every`` seconds in this process; ``stale_after`` must exceed
    the longest step, or a live step would be run twice. ``recover_at_once`` runs recovery right after each kill with
    no threshold: only right when one item at a time can be in progress (one session's chain, whose steps run one
    after the other), so that the killed worker's item is the only one in progress. A second worker then works as
    a warm spare: it takes the recovered item while the killed one's replacement starts (a start costs seconds)."""
    from backoffice.automation.runner import recover_automation
    from backoffice.clock import utcnow
    from backoffice.sweeps.services import requeue_orphaned_items

    rng = rng or random.Random(7)
    result = DriveResult()
    started = time.monotonic()
    seen: set[str] = set()
    pool: list[subprocess.Popen[bytes]] = []

    def spawn() -> None:
        if recover_at_once:
            result.recovered += recover_automation(now=utcnow(), stale_after=timedelta(0))["recovered"]
            db.session.remove()
        pool.append(start_worker(env, logs / f"worker-{result.worker_starts}.log"))
        result.worker_starts += 1

    for _ in range(workers):
        pool.append(start_worker(env, logs / f"worker-{result.worker_starts}.log"))
        result.worker_starts += 1
    last_kill, last_sweep, next_random = None, 0.0, time.monotonic() + rng.uniform(0.5, 2.5)
    settled_since = None
    try:
        while True:
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"automation not settled within {timeout} s")
            for name in sorted(set(os.listdir(pause_dir)) - seen) if pause_dir else []:
                seen.add(name)
                pid = int((pause_dir / name).read_text() or 0)
                victim = next((p for p in pool if p.pid == pid), None)
                if victim is None:
                    continue
                kill_hard(victim)
                pool.remove(victim)
                result.kills += 1
                result.kills_at[name.split("-", 1)[1]] += 1
                last_kill = time.monotonic()
                spawn()
            if result.random_kills < random_kill_budget and time.monotonic() >= next_random:
                next_random = time.monotonic() + rng.uniform(0.3, 2.5)
                victim = rng.choice(pool)
                kill_hard(victim)
                pool.remove(victim)
                result.kills += 1
                result.random_kills += 1
                last_kill = time.monotonic()
                spawn()
            for proc in [p for p in pool if p.poll() is not None]:  # a worker that died by itself: replace it
                pool.remove(proc)
                spawn()
            if time.monotonic() - last_sweep >= sweep_every:
                last_sweep = time.monotonic()
                now = utcnow()
                result.recovered += recover_automation(now=now, stale_after=stale_after)["recovered"]
                result.requeued += requeue_orphaned_items(now=now, ready_for=stale_after)["requeued"]
                db.session.remove()
                if automation_pending() == 0 and result.random_kills >= random_kill_budget:
                    settled_since = settled_since or time.monotonic()
                    if time.monotonic() - settled_since >= 1.0:
                        break
                else:
                    settled_since = None
            time.sleep(0.05)
    finally:
        for proc in pool:
            stop_gently(proc)
    result.seconds = round(time.monotonic() - started, 2)
    if last_kill is not None:
        result.last_kill_to_settled_seconds = round(time.monotonic() - last_kill, 2)
    return result


# --- what must hold after any fault --------------------------------------------------------------------------------


def sent_claim_counts(instance_path: str, slug: str) -> Counter[str]:
    """How many times each claim (CLM01) reached the payer: CLM segments in the Sandbox's received 837P files."""
    counts: Counter[str] = Counter()
    for path in (Path(instance_path) / "edi" / "sandbox" / slug / "sent").glob("837P-*.x12"):
        for account in re.findall(r"(?:^|~)\s*CLM\*([^*~]+)\*", path.read_text(), re.MULTILINE):
            counts[account] += 1
    return counts


def invariants(instance_path: str, slug: str) -> dict[str, Any]:
    """The counts that must be 0 after any fault, and the figures around them."""
    from backoffice.claims.models import Claim
    from backoffice.exchange.models import ClaimSubmission, EdiFile
    from backoffice.work.models import WorkItem
    from backoffice.work.rules import ItemState, Mode

    db.session.remove()
    count = db.session.scalar

    def dupes(*columns: Any) -> int:
        grouped = select(*columns).group_by(*columns).having(func.count() > 1).subquery()
        return int(count(select(func.count()).select_from(grouped)) or 0)

    sent = sent_claim_counts(instance_path, slug)
    submitted = set(db.session.scalars(select(Claim.account_number).join(ClaimSubmission)))
    items_by_state = {
        f"{mode}:{state}": n
        for mode, state, n in db.session.execute(
            select(WorkItem.mode, WorkItem.state, func.count()).group_by(WorkItem.mode, WorkItem.state)
        )
    }
    return {
        "items": int(count(select(func.count(WorkItem.id))) or 0),
        "items_by_state": dict(sorted(items_by_state.items())),
        "stuck_in_progress": int(count(select(func.count()).where(WorkItem.state == ItemState.IN_PROGRESS)) or 0),
        "automated_ready": int(
            count(select(func.count()).where(WorkItem.state == ItemState.READY, WorkItem.mode == Mode.AUTOMATED)) or 0
        ),
        "handed_over_after_retries": int(
            count(select(func.count()).where(WorkItem.mode == Mode.MANUAL, WorkItem.last_error.is_not(None)))
            or 0  # fmt: skip
        ),
        "duplicate_items": dupes(WorkItem.session_id, WorkItem.kind),
        "claims": int(count(select(func.count(Claim.id))) or 0),
        "duplicate_claims": dupes(Claim.session_id, Claim.payer_sequence, Claim.version),
        "claim_submissions": int(count(select(func.count(ClaimSubmission.id))) or 0),
        "double_submissions_db": dupes(ClaimSubmission.claim_id, ClaimSubmission.claim_version),
        "claims_sent_to_payer": len(sent),
        "double_submissions_payer": sum(1 for n in sent.values() if n > 1),
        "sent_but_not_recorded": len(set(sent) - submitted),
        "duplicate_control_numbers": dupes(
            EdiFile.organization_id, EdiFile.direction, EdiFile.kind, EdiFile.interchange_control_number
        ),  # fmt: skip
    }


LOSSES = ("stuck_in_progress", "automated_ready", "duplicate_items", "duplicate_claims", "double_submissions_db",
          "double_submissions_payer", "sent_but_not_recorded", "duplicate_control_numbers")  # fmt: skip


def losses(checked: dict[str, Any]) -> int:
    return sum(int(checked[key]) for key in LOSSES)


# --- the long run ---------------------------------------------------------------------------------------------------


def _app(database_url: str, redis_url: str, instance: str):  # noqa: ANN202
    from backoffice import create_app
    from backoffice.settings import load_settings

    settings = load_settings(environ={}, overrides={"database_url": database_url, "redis_url": redis_url,
                                                    "instance_path": instance})  # fmt: skip
    return create_app(settings=settings)


def _plan(session_ids: list[int]) -> Any:
    from backoffice.clock import utcnow
    from backoffice.intake.planning import plan_sessions

    return plan_sessions(session_ids=session_ids, now=utcnow())


def _web_load(app: Any, stop: threading.Event, tally: Counter[str]) -> None:
    """A signed-in supervisor reading the queue page in a loop; tallies status codes and exceptions."""
    from tests.conftest import AuthActions

    client = app.test_client()
    while AuthActions(client).login("chaos-supervisor@example.test").status_code != 302:
        time.sleep(0.2)
    while not stop.is_set():
        try:
            status = client.get("/queue").status_code
            tally[str(status)] += 1
            if status != 200:
                tally["last_error"] = time.monotonic()  # type: ignore[assignment]
        except Exception:  # noqa: BLE001 - the test client re-raises what the app raised
            tally["exception"] += 1
            tally["last_error"] = time.monotonic()  # type: ignore[assignment]
        time.sleep(0.1)


def main() -> None:  # noqa: PLR0915 - one long scripted scenario
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=40)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--random-kills", type=int, default=30)
    parser.add_argument("--redis-outage", type=float, default=60.0)
    parser.add_argument("--phases", default="kills,redis,pg", help="which runs: kills, redis, pg (comma-separated)")
    args = parser.parse_args()
    phases = set(args.phases.split(","))
    from flask_migrate import upgrade

    from backoffice.orgs.models import Organization
    from backoffice.work.models import Interaction
    from tests.factories import make_user

    base = Path(tempfile.mkdtemp(prefix="chaos-"))
    os.chmod(base, 0o755)  # noqa: S103 - the postgres user must reach its data folder
    cluster = PrivateCluster(base / "pg").start()
    redis = PrivateRedis().start()
    instance = str(base / "instance")
    figures: dict[str, Any] = {"sessions": args.sessions, "workers": args.workers, "work_dir": str(base)}
    app = _app(cluster.url, redis.url, instance)
    try:
        with app.app_context():
            upgrade(directory=app.extensions["migrate"].directory)
            logs = base / "logs"
            logs.mkdir()
            env = worker_env(database_url=cluster.url, redis_url=redis.url, instance_path=instance)

            if "kills" in phases:
                # 1. Kills at fixed points: every automated step of every session is killed once when it has just
                # taken its item and once after its own work committed; plus random kills of busy workers.
                world = seed_world(args.sessions, slug="chaos")
                pause_dir = base / "pauses"
                pause_dir.mkdir()
                kill_env = worker_env(database_url=cluster.url, redis_url=redis.url, instance_path=instance,
                                      pause_at="*:taken,*:stepped", pause_dir=str(pause_dir))  # fmt: skip
                _plan(world["sessions"])
                kills = drive(kill_env, logs, workers=args.workers, pause_dir=pause_dir,
                              random_kill_budget=args.random_kills, stale_after=timedelta(seconds=20),
                              sweep_every=2.0, timeout=1800)  # fmt: skip
                figures["kills"] = {"total": kills.kills, "at_points": dict(kills.kills_at),
                                    "random": kills.random_kills,
                                    "worker_starts": kills.worker_starts, "recovered": kills.recovered,
                                    "requeued": kills.requeued, "seconds": kills.seconds,
                                    "last_kill_to_settled_seconds": kills.last_kill_to_settled_seconds}  # fmt: skip
                figures["after_kills"] = invariants(instance, "chaos")
                print(json.dumps({"kills": figures["kills"], "after": figures["after_kills"]}), file=sys.stderr)
                figures["recovery_log_rows"] = int(db.session.scalar(select(func.count(Interaction.id)).where(
                    Interaction.body == "Worker lost mid-step: running again")) or 0)  # fmt: skip

            if "redis" in phases:
                # 2. Redis stopped for a minute: the web keeps working and a biller completes items; jobs queued
                # before the outage are lost with Redis; after it comes back the sweeper and the workers finish.
                outage = seed_world(args.sessions // 2, slug="outage", manual_benefits=args.sessions // 4)
                biller_org = db.session.get(Organization, outage["org"])
                from backoffice.orgs.models import Practice

                make_user(biller_org, "biller", email="chaos-biller@example.test",
                          practices=[db.session.get(Practice, outage["practice"])], queues=["eligibility"])  # fmt: skip
                worker = start_worker(env, logs / "outage-worker.log")
                wait_for(lambda: _registered(redis.url, worker.pid), 120, what="worker registered")
                from rq.suspension import resume

                hold_workers(Redis.from_url(redis.url))  # queued jobs wait, so that the outage loses them
                _plan(outage["sessions"])
                queued_before = sum(Redis.from_url(redis.url).llen(f"rq:queue:{q}") for q in ("high", "default", "low"))
                redis.stop()
                outage_started = time.monotonic()
                web = _in_thread(_outage_web_work, app, until=outage_started + args.redis_outage)
                web["queued_jobs_lost"] = queued_before
                redis.start()
                resume(Redis.from_url(redis.url))
                back = time.monotonic()
                from backoffice.clock import utcnow
                from backoffice.sweeps.services import requeue_orphaned_items

                requeued = requeue_orphaned_items(now=utcnow(), ready_for=timedelta(0))
                wait_for(lambda: automation_pending() == 0, 600, 0.5, what="automation after the Redis outage")
                web["redis_down_seconds"] = round(back - outage_started, 1)
                web["requeued_after"] = requeued["requeued"]
                web["finished_after_redis_back_seconds"] = round(time.monotonic() - back, 1)
                web["worker_survived"] = worker.poll() is None
                stop_gently(worker)
                figures["redis_outage"] = web
                figures["after_redis_outage"] = invariants(instance, "outage")
                print(json.dumps({"redis_outage": web, "after": figures["after_redis_outage"]}), file=sys.stderr)

            if "pg" in phases:
                # 3. PostgreSQL restarted under load: workers busy, a supervisor reading the queue page.
                load = seed_world(args.sessions, slug="pgload")
                make_user(db.session.get(Organization, load["org"]), "supervisor",
                          email="chaos-supervisor@example.test")  # fmt: skip
                done_before = _done()
                _plan(load["sessions"])
                stop, tally = threading.Event(), Counter()
                reader = threading.Thread(target=_web_load, args=(app, stop, tally), daemon=True)
                reader.start()
                pool = [start_worker(env, logs / f"pg-worker-{n}.log") for n in range(args.workers)]
                wait_for(lambda: _done() >= done_before + args.sessions, 300, 0.2, what="load under way")
                db.session.remove()  # as at the end of a request: no connection held across the restart
                restart_seconds = cluster.restart()
                restarted = time.monotonic()
                settled = drive(env, logs, workers=0, stale_after=timedelta(seconds=20), sweep_every=2.0, timeout=900)
                stop.set()
                reader.join(10)
                figures["pg_restart"] = {
                    "restart_seconds": round(restart_seconds, 2),
                    "web_requests": {k: v for k, v in tally.items() if not k.startswith("last_")},
                    "web_errors_until_seconds_after_restart": round(float(tally["last_error"]) - restarted, 2)
                    if "last_error" in tally
                    else None,  # fmt: skip
                    "workers_alive_after": sum(1 for p in pool if p.poll() is None),
                    "recovered": settled.recovered,
                    "requeued": settled.requeued,
                    "settled_after_restart_seconds": round(time.monotonic() - restarted, 1),
                }
                for proc in pool:
                    stop_gently(proc)
                figures["after_pg_restart"] = invariants(instance, "pgload")
        checked = [key for key in ("after_kills", "after_redis_outage", "after_pg_restart") if key in figures]
        figures["runs"] = len(checked)
        figures["losses"] = sum(losses(figures[key]) for key in checked)
        figures["double_submissions"] = sum(
            figures[k]["double_submissions_db"] + figures[k]["double_submissions_payer"] for k in checked
        )
        figures["targets"] = {"losses": 0, "double_submissions": 0}
    finally:
        stop_all()
        with app.app_context():
            db.engine.dispose()
        redis.stop()
        cluster.stop()
    print(json.dumps(figures, default=str))


def _done() -> int:
    from backoffice.work.models import WorkItem
    from backoffice.work.rules import ItemState

    db.session.remove()
    return int(db.session.scalar(select(func.count(WorkItem.id)).where(WorkItem.state == ItemState.DONE)) or 0)


def _registered(url: str, pid: int) -> bool:
    from rq import Worker

    return any(w.pid == pid for w in Worker.all(connection=Redis.from_url(url)))


def _in_thread(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run ``func`` in a thread of its own: test-client requests made there push their own app context, as real
    requests do (inside this script's app context they would share its database session and ``g``)."""
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(func(*args, **kwargs)))
    thread.start()
    thread.join()
    if not out:
        raise RuntimeError(f"{func.__name__} failed (see the traceback above)")
    return out[0]


def _outage_web_work(app: Any, *, until: float) -> dict[str, Any]:
    """While Redis is down: a biller signs in, reads the queue and items, and completes every manual item."""
    from tests.conftest import AuthActions, csrf_token

    client = app.test_client()
    statuses: Counter[str] = Counter()
    statuses[str(AuthActions(client).login("chaos-biller@example.test").status_code)] += 1
    completed = 0
    while True:
        page = client.get("/queue")
        statuses[str(page.status_code)] += 1
        token = csrf_token(page.get_data(as_text=True))
        taken = client.post("/items/next", data={"csrf_token": token})
        statuses[str(taken.status_code)] += 1
        match = re.search(r"/items/(\d+)", taken.headers.get("Location", ""))
        if not match:
            break
        item_page = client.get(f"/items/{match.group(1)}")
        statuses[str(item_page.status_code)] += 1
        done = client.post(f"/items/{match.group(1)}/complete", data={
            "csrf_token": csrf_token(item_page.get_data(as_text=True)), "outcome": "resolved",
            "note": "benefits confirmed by phone"})  # fmt: skip
        statuses[str(done.status_code)] += 1
        completed += done.status_code in (302, 303)
    while time.monotonic() < until:  # the rest of the outage: keep reading
        statuses[str(client.get("/queue").status_code)] += 1
        time.sleep(0.5)
    return {"web_statuses": dict(statuses), "items_completed_during_outage": completed}


if __name__ == "__main__":
    main()
