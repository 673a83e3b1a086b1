"""Benchmark: push N sessions through the automated steps with W RQ worker processes, next to a bare RQ no-op job
baseline measured in the same run with the same workers.

What is timed: from the intake's jobs being queued to the queues draining (verify benefits with a 270/271 through
the Sandbox clearinghouse, charge entry, audit, 837P submission), then the Sandbox's 999/277CA/835 ingested and
posted, then the second drain (appeal drafts for medical-necessity denials). Workers are `backoffice worker --burst`
processes (RQ's SimpleWorker in a warm process, the product's default).

With ``--batch`` the practice is on a batch connection instead (a local-folder connection with the Office Ally
profile; an SFTP connection behaves the same once the file has left): the submit steps wait for the batch run,
``submit_batches`` (the claim-batches flow) sends every waiting claim in one interchange, the submit items wake and
close, the clearinghouse simulator (``backoffice clearinghouse simulate --once``, its own process) answers with a
TA1, 999, 277CA and 835, and ingest posts them. Verify benefits is not among the practice's steps in this mode (on
a batch connection the 271 comes back later, and a person gets the item meanwhile). The figures add the claims per
interchange and each stage's seconds.

Usage: .venv/bin/python bench/automation.py [--sessions 1000] [--workers 4] [--batch]
Database: BACKOFFICE_BENCH_DATABASE_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/bo_bench_automation;
created if missing, its public schema is dropped). Redis: BACKOFFICE_BENCH_REDIS_URL (default
redis://127.0.0.1:6379/13; flushed). Prints one JSON object on its last line.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta

from redis import Redis
from sqlalchemy import func, insert, select

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from backoffice import create_app  # noqa: E402
from backoffice.claims.models import Claim  # noqa: E402
from backoffice.clearinghouse.sandbox import enroll_member, member_hash  # noqa: E402
from backoffice.extensions import db  # noqa: E402
from backoffice.orgs.models import Organization, Payer, Practice, Provider  # noqa: E402
from backoffice.orgs.rules import complete_npi  # noqa: E402
from backoffice.patients.models import Coverage, Patient  # noqa: E402
from backoffice.sessions.models import Session  # noqa: E402
from backoffice.settings import load_settings  # noqa: E402
from backoffice.tasks import QUEUE_NAMES, get_queue  # noqa: E402
from backoffice.work.models import WorkItem  # noqa: E402
from backoffice.work.rules import ItemState, Mode  # noqa: E402
from bench.claim_next import ensure_database  # noqa: E402

DB_URL = os.environ.get(
    "BACKOFFICE_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bo_bench_automation"
)
REDIS_URL = os.environ.get("BACKOFFICE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
STEPS = ["verify_benefits", "enter_charge", "audit", "submit", "follow_up", "appeal"]


def seed(sessions: int, steps: list[str] = STEPS) -> list[int]:
    """One practice on the Sandbox clearinghouse; one patient with coverage and one 45-minute session each."""
    now = datetime.now(UTC)
    org = Organization(name="Bench Billing", slug="bench", edi_submitter_id="BENCHSUB01", edi_contact_name="Desk",
                       edi_contact_phone="5551230000", created_at=now)  # fmt: skip
    db.session.add(org)
    db.session.flush()
    practice = Practice(
        organization_id=org.id, name="Bench Practice", slug="bench-practice", group_npi=complete_npi("200000000"),
        tax_id="123456789", taxonomy="261QM0801X", address_line1="1 Main St", city="Springfield", state="IL",
        zip_code="627010001", owned_steps=steps, sla_overrides={}, fee_schedule={"90834": "150.00"},
        clearinghouse="sandbox", created_at=now,
    )  # fmt: skip
    payer = Payer(organization_id=org.id, payer_id="UHC", name="UnitedHealthcare", kind="commercial",
                  filing_limit_days=90, appeal_window_days=180, telehealth_policy={}, prior_auth_cpts=[])  # fmt: skip
    db.session.add_all([practice, payer])
    db.session.flush()
    provider = Provider(practice_id=practice.id, first_name="B", last_name="Bench", npi=complete_npi("100000000"),
                        credential="LCSW", taxonomy="1041C0700X")  # fmt: skip
    db.session.add(provider)
    db.session.flush()
    patients = db.session.execute(
        insert(Patient).returning(Patient.id),
        [
            {
                "practice_id": practice.id,
                "account_number": f"B{n}",
                "first_name": "Pat",
                "last_name": f"Bench{n}",
                "date_of_birth": date(1980, 1, 1),
                "sex": "F",
                "address_line1": f"{n} Elm St",
                "city": "Springfield",
                "state": "IL",
                "zip_code": "62701",
            }  # fmt: skip
            for n in range(sessions)
        ],
    ).scalars()
    patient_ids = list(patients)
    members = [f"W{n:09d}" for n in range(10 * sessions + 10) if member_hash(f"W{n:09d}") % 5][:sessions]
    for n, member_id in enumerate(members):  # the Sandbox payer knows each patient (h % 5 == 0: out of network)
        enroll_member(organization_id=org.id, payer_id=payer.payer_id, payer_kind="commercial", member_id=member_id,
                      first_name="Pat", last_name=f"Bench{n}", date_of_birth=date(1980, 1, 1), sex="F",
                      effective_from=date(2026, 1, 1))  # fmt: skip
    db.session.execute(
        insert(Coverage),
        [
            {
                "patient_id": pid,
                "payer_id": payer.id,
                "member_id": member_id,
                "priority": "primary",
                "relationship_to_subscriber": "18",
                "effective_from": date(2026, 1, 1),
            }  # fmt: skip
            for pid, member_id in zip(patient_ids, members, strict=True)
        ],
    )
    dos = (now - timedelta(days=3)).date()
    ids = db.session.execute(
        insert(Session).returning(Session.id),
        [
            {
                "practice_id": practice.id,
                "patient_id": pid,
                "provider_id": provider.id,
                "external_ref": f"S{pid}",
                "date_of_service": dos,
                "service_kind": "psychotherapy",
                "minutes": 45,
                "modality": "in_person",
                "patient_location": "office",
                "diagnoses": ["F33.1"],
                "received_at": now,
            }  # fmt: skip
            for pid in patient_ids
        ],
    ).scalars()
    session_ids = list(ids)
    db.session.commit()
    return session_ids


def run_workers(count: int, env: dict[str, str]) -> float:
    """Start ``count`` burst workers and wait for all of them; the seconds it took."""
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "backoffice.cli", "worker", "--burst"],
            env=env,  # noqa: S603
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for _ in range(count)
    ]
    for proc in procs:
        proc.wait()
    return time.perf_counter() - started


def noop_baseline(redis: Redis, jobs: int, workers: int, env: dict[str, str]) -> float:
    """Jobs per second of the bare no-op job on the same workers."""
    queue = get_queue("default", redis)
    queue.enqueue_many([queue.prepare_data("workers.jobs.noop") for _ in range(jobs)])
    return jobs / run_workers(workers, env)


def use_batch_connection(folders: str, settings) -> dict[str, str]:  # noqa: ANN001
    """Put the bench practice on a local-folder connection (Office Ally's profile) under ``folders``."""
    from backoffice.clearinghouse.services import save_connection

    practice = db.session.scalar(select(Practice))
    values = {
        "name": "bench batch", "practice_id": practice.id, "kind": "local_folder", "profile": "office_ally",
        "usage": "T", "upload_folder": f"{folders}/inbound", "download_folder": f"{folders}/outbound",
    }  # fmt: skip
    save_connection(organization_id=practice.organization_id, values=values, secrets={}, settings=settings,
                    actor=None, now=datetime.now(UTC))  # fmt: skip
    return values


def simulate_clearinghouse(folders: str, env: dict[str, str]) -> float:
    """The clearinghouse simulator in its own process, one pass (the 835 at once); the seconds it took."""
    started = time.perf_counter()
    subprocess.run(  # noqa: S603
        [sys.executable, "-m", "backoffice.cli", "clearinghouse", "simulate", "--root", folders, "--once"],
        env=env, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return time.perf_counter() - started


def batch_figures(args: argparse.Namespace, redis: Redis, env: dict[str, str], instance: str, settings) -> dict:  # noqa: ANN001
    """The batch mode: intake → steps → one interchange per run → simulator → ingest → steps again."""
    from backoffice.exchange.ingest import ingest_all
    from backoffice.exchange.submission import submit_batches
    from backoffice.intake.planning import plan_sessions

    folders = os.path.join(instance, "clearinghouse")
    session_ids = seed(args.sessions, [s for s in STEPS if s != "verify_benefits"])
    use_batch_connection(folders, settings)
    noop_per_s = noop_baseline(redis, 2000, args.workers, env)
    load_before = os.getloadavg()
    plan_sessions(session_ids=session_ids, now=datetime.now(UTC))
    charge_seconds = run_workers(args.workers, env)  # enter charge, audit, submit (waits for the batch)
    started = time.perf_counter()
    batch = submit_batches(now=datetime.now(UTC))
    batch_seconds = time.perf_counter() - started
    submit_seconds = run_workers(args.workers, env)  # the submit items close; follow-ups wait
    simulator_seconds = simulate_clearinghouse(folders, env)
    started = time.perf_counter()
    ingested = ingest_all(now=datetime.now(UTC))
    ingest_seconds = time.perf_counter() - started
    after_seconds = run_workers(args.workers, env)  # follow-ups close on their 835; appeal drafts
    load_after = os.getloadavg()
    db.session.remove()
    automated_done = db.session.scalar(
        select(func.count()).where(WorkItem.state == ItemState.DONE, WorkItem.mode == Mode.AUTOMATED)
    )
    claims = dict(db.session.execute(select(Claim.status, func.count()).group_by(Claim.status)).all())
    worker_seconds = charge_seconds + submit_seconds + after_seconds
    total = worker_seconds + batch_seconds + simulator_seconds + ingest_seconds
    return {
        "mode": "batch (local-folder connection, Office Ally profile, clearinghouse simulator)",
        "sessions": args.sessions,
        "workers": args.workers,
        "claims_per_interchange": batch["claims_per_interchange"],
        "charge_audit_park_seconds": round(charge_seconds, 2),
        "submit_batches_seconds": round(batch_seconds, 2),
        "submit_items_close_seconds": round(submit_seconds, 2),
        "simulator_seconds": round(simulator_seconds, 2),
        "ingest_and_post_seconds": round(ingest_seconds, 2),
        "files_ingested": {k: dict(v) for k, v in ingested.counts.items()},
        "follow_ups_and_appeals_seconds": round(after_seconds, 2),
        "sessions_per_second": round(args.sessions / total, 1),
        "automated_items_done": automated_done,
        "automated_steps_per_second": round(automated_done / worker_seconds, 1),
        "noop_jobs_per_second": round(noop_per_s, 1),
        "claims_by_status": {str(k): v for k, v in sorted(claims.items(), key=lambda kv: str(kv[0]))},
        "load_average_1m_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--batch", action="store_true", help="a batch connection and the clearinghouse simulator")
    args = parser.parse_args()
    ensure_database(DB_URL)
    redis = Redis.from_url(REDIS_URL)
    redis.flushdb()
    instance = tempfile.mkdtemp(prefix="bench-automation-")
    settings = load_settings(environ={}, overrides={"database_url": DB_URL, "redis_url": REDIS_URL,
                                                    "instance_path": instance})  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKOFFICE_")}
    env.update(
        BACKOFFICE_DATABASE_URL=DB_URL,
        BACKOFFICE_REDIS_URL=REDIS_URL,
        BACKOFFICE_INSTANCE_PATH=instance,
        BACKOFFICE_SECRET_KEY=secrets.token_urlsafe(32),
    )  # workers refuse to start without one; they sign nothing
    app = create_app(settings=settings)
    with app.app_context():
        from flask_migrate import upgrade

        from backoffice.exchange.ingest import ingest_all
        from backoffice.intake.planning import plan_sessions

        upgrade(directory=app.extensions["migrate"].directory)
        if args.batch:
            print(json.dumps(batch_figures(args, redis, env, instance, settings)))
            return
        session_ids = seed(args.sessions)
        noop_per_s = noop_baseline(redis, 2000, args.workers, env)
        plan = plan_sessions(session_ids=session_ids, now=datetime.now(UTC))
        jobs_before = sum(get_queue(n, redis).count for n in QUEUE_NAMES)
        steps_seconds = run_workers(args.workers, env)
        started = time.perf_counter()
        ingest_all(now=datetime.now(UTC))
        ingest_seconds = time.perf_counter() - started
        drafts_seconds = run_workers(args.workers, env)
        db.session.remove()
        automated_done = db.session.scalar(
            select(func.count()).where(WorkItem.state == ItemState.DONE, WorkItem.mode == Mode.AUTOMATED)
        )
        claims = dict(db.session.execute(select(Claim.status, func.count()).group_by(Claim.status)).all())
    total = steps_seconds + ingest_seconds + drafts_seconds
    figures = {
        "sessions": args.sessions,
        "workers": args.workers,
        "planned_items": getattr(plan, "items", None),
        "jobs_queued_by_intake": jobs_before,
        "steps_seconds": round(steps_seconds, 2),
        "ingest_and_post_seconds": round(ingest_seconds, 2),
        "appeal_drafts_seconds": round(drafts_seconds, 2),
        "sessions_per_second": round(args.sessions / total, 1),
        "automated_items_done": automated_done,
        "automated_steps_per_second": round(automated_done / steps_seconds, 1),
        "noop_jobs_per_second": round(noop_per_s, 1),
        "claims_by_status": {str(k): v for k, v in sorted(claims.items(), key=lambda kv: str(kv[0]))},
        "targets": {"note": "throughput reported next to the bare RQ baseline (issue 5 names no figure)"},
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
