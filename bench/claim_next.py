"""Benchmark: claim_next_item under concurrent billers on PostgreSQL, next to a bare SKIP LOCKED SQL loop.

Usage: .venv/bin/python bench/claim_next.py [--items 5000] [--threads 16]
Database: BACKOFFICE_BENCH_DATABASE_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/backoffice_bench;
created if missing, its public schema is dropped and rebuilt). Prints one JSON object on its last line.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, date, datetime

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from backoffice import create_app  # noqa: E402
from backoffice.accounts.models import User  # noqa: E402
from backoffice.extensions import db  # noqa: E402
from backoffice.orgs.models import Organization, Practice, Provider  # noqa: E402
from backoffice.orgs.rules import complete_npi  # noqa: E402
from backoffice.patients.models import Patient  # noqa: E402
from backoffice.sessions.models import Session  # noqa: E402
from backoffice.settings import load_settings  # noqa: E402
from backoffice.work import (
    claiming,  # noqa: E402
)
from backoffice.work.models import WorkItem  # noqa: E402

URL = os.environ.get("BACKOFFICE_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/backoffice_bench")
NOW = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)
TARGET_P95_MS = 10.0


def ensure_database(url: str) -> None:
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database}):
            conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def seed(items: int, threads: int) -> list[int]:
    """Bulk-load one practice with ``items`` ready manual items; return the billers' IDs."""
    org = Organization(name="Bench Billing", slug="bench", created_at=NOW)
    db.session.add(org)
    db.session.flush()
    practice = Practice(
        organization_id=org.id,
        name="Bench Practice",
        slug="bench-practice",
        group_npi=complete_npi("200000000"),
        tax_id="123456789",
        address_line1="1 Main St",
        city="Springfield",
        state="IL",
        zip_code="62701",
        owned_steps=[],
        sla_overrides={},
        created_at=NOW,
    )
    db.session.add(practice)
    db.session.flush()
    provider = Provider(
        practice_id=practice.id,
        first_name="B",
        last_name="Bench",
        npi=complete_npi("100000000"),
        credential="LCSW",
        taxonomy="1041C0700X",
    )
    patient = Patient(
        practice_id=practice.id,
        account_number="B1",
        first_name="Bench",
        last_name="Patient",
        date_of_birth=date(1980, 1, 1),
        sex="F",
    )
    db.session.add_all([provider, patient])
    db.session.flush()
    users = [
        User(
            organization_id=org.id,
            email=f"b{i}@bench.test",
            name=f"Biller {i}",
            role="biller",
            password_hash="x",
            queues=[],
            skills=[],
            active=True,
            created_at=NOW,
            practices=[practice],
        )
        for i in range(threads)
    ]
    db.session.add_all(users)
    db.session.flush()
    db.session.execute(
        insert(Session),
        [
            {
                "practice_id": practice.id,
                "patient_id": patient.id,
                "provider_id": provider.id,
                "external_ref": f"S{i}",
                "date_of_service": date(2026, 11, 1),
                "service_kind": "psychotherapy",
                "minutes": 53,
                "modality": "in_person",
                "patient_location": "office",
                "interactive_complexity": False,
                "screening_count": 0,
                "diagnoses": ["F33.1"],
                "received_at": NOW,
            }
            for i in range(items)
        ],
    )
    session_ids = db.session.scalars(text("SELECT id FROM sessions ORDER BY id")).all()
    db.session.execute(
        insert(WorkItem),
        [
            {
                "practice_id": practice.id,
                "kind": "verify_benefits",
                "session_id": sid,
                "state": "ready",
                "mode": "manual",
                "queue": "eligibility",
                "priority": i % 7,
                "due_at": NOW,
                "attempts": 0,
                "result": {},
                "created_at": NOW,
                "updated_at": NOW,
            }
            for i, sid in enumerate(session_ids)
        ],
    )
    db.session.commit()
    return [u.id for u in users]


def run_threads(threads: int, work) -> tuple[list[int], list[float], float]:  # noqa: ANN001
    claimed: list[int] = []
    latencies: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads, timeout=60)

    def runner(index: int) -> None:
        local_ids, local_lat = work(index, barrier)
        with lock:
            claimed.extend(local_ids)
            latencies.extend(local_lat)

    pool = [threading.Thread(target=runner, args=(i,)) for i in range(threads)]
    started = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return claimed, latencies, time.perf_counter() - started


def service_claimer(  # noqa: ANN201
    app,
    user_ids: list[int],
    *,
    now: datetime,
    per_user: int | None = None,
    think: float = 0.0,  # noqa: ANN001
):
    """A ``run_threads`` worker: user ``index`` calls ``claim_next_item`` until nothing is left (or ``per_user``
    claims), timing each call, with no pause or (``think`` > 0) a pause of 0..2×``think`` s before each, as a
    biller works an item before pressing Get next again; returns (claimed ids, latencies)."""

    def work(index: int, barrier: threading.Barrier) -> tuple[list[int], list[float]]:
        ids, lat = [], []
        rng = random.Random(index)
        with app.app_context():
            user = db.session.get(User, user_ids[index])
            db.session.commit()
            barrier.wait()
            while per_user is None or len(ids) < per_user:
                if think:
                    time.sleep(rng.uniform(0, 2 * think))
                t0 = time.perf_counter()
                item = claiming.claim_next_item(user=user, now=now)
                if item is None:
                    break
                lat.append(time.perf_counter() - t0)
                ids.append(item.id)
            db.session.remove()
        return ids, lat

    return work


def summary(claimed: list[int], latencies: list[float], elapsed: float) -> dict:
    ordered = sorted(latencies)
    pick = lambda q: round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)  # noqa: E731
    return {
        "claims": len(claimed),
        "per_s": round(len(claimed) / elapsed, 1),
        "p50_ms": pick(0.50),
        "p95_ms": pick(0.95),
        "p99_ms": pick(0.99),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 2),
        "double_claims": sum(1 for c in Counter(claimed).values() if c > 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()
    ensure_database(URL)
    app = create_app(
        settings=load_settings(environ={}, overrides={"database_url": URL, "instance_path": tempfile.mkdtemp()})
    )
    from flask_migrate import upgrade

    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        user_ids = seed(args.items, args.threads)
        engine = db.engine

    via_service = service_claimer(app, user_ids, now=NOW)

    def bare_sql(index: int, barrier: threading.Barrier) -> tuple[list[int], list[float]]:
        ids, lat = [], []
        with engine.connect() as conn:
            barrier.wait()
            while True:
                t0 = time.perf_counter()
                row = conn.execute(
                    text(
                        "UPDATE work_items SET state = 'in_progress', assignee_id = :u WHERE id = ("
                        " SELECT id FROM work_items WHERE state = 'ready' AND mode = 'manual'"
                        " ORDER BY priority DESC, due_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id"
                    ),
                    {"u": user_ids[index]},
                ).scalar()
                conn.commit()
                if row is None:
                    break
                lat.append(time.perf_counter() - t0)
                ids.append(row)
        return ids, lat

    service_result = summary(*run_threads(args.threads, via_service))
    with engine.begin() as conn:
        conn.execute(text("UPDATE work_items SET state = 'ready', assignee_id = NULL, started_at = NULL"))
    bare_result = summary(*run_threads(args.threads, bare_sql))
    print(f"claim_next_item: {service_result}")
    print(f"bare SKIP LOCKED: {bare_result}")
    print(
        json.dumps(
            {
                "benchmark": "claim_next",
                "database": "postgresql",
                "items": args.items,
                "threads": args.threads,
                "claim_next_item": service_result,
                "bare_skip_locked_sql": bare_result,
                "targets": {"claim_next_p95_ms": TARGET_P95_MS, "double_claims": 0},
                "met": service_result["p95_ms"] <= TARGET_P95_MS and service_result["double_claims"] == 0,
            }
        )
    )


if __name__ == "__main__":
    main()
