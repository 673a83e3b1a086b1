"""Benchmark: the intake flow planning 10,000 new sessions' chains on PostgreSQL, with a local Prefect server,
next to ``run_intake`` (the same batches as plain calls, no Prefect) on the same data.

Usage: .venv/bin/python bench/intake.py [--sessions 10000] [--batch 500]
Database: BACKOFFICE_BENCH_DATABASE_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/bo_bench_intake;
created if missing, its public schema is dropped and rebuilt). Redis: BACKOFFICE_BENCH_REDIS_URL or an embedded
one. Prefect: PREFECT_API_URL, or a local server started (and stopped) here. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select, text

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from flows.runtime import app_factory, local_server, prefect_env  # noqa: E402

INSTANCE = tempfile.mkdtemp(prefix="bench-intake-")
prefect_env(INSTANCE)

from backoffice import create_app  # noqa: E402
from backoffice.extensions import db  # noqa: E402
from backoffice.orgs.models import Organization, Payer, Practice, Provider  # noqa: E402
from backoffice.orgs.rules import complete_npi  # noqa: E402
from backoffice.patients.models import Authorization, BenefitsCheck, Coverage, Patient  # noqa: E402
from backoffice.sessions.models import Session  # noqa: E402
from backoffice.settings import load_settings  # noqa: E402
from bench.claim_next import ensure_database  # noqa: E402

URL = os.environ.get("BACKOFFICE_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bo_bench_intake")
NOW = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)
TARGET_PER_S = 1000.0
OWNED = ["verify_benefits", "obtain_preauth", "enter_charge", "audit", "submit", "follow_up", "appeal"]


def seed(sessions: int) -> None:
    """One practice, three payers (one requiring auth for 90837, one self-pay), a patient per four sessions,
    a fresh benefits check for a third of them and an authorization for some."""
    org = Organization(name="Bench Billing", slug="bench", created_at=NOW)
    db.session.add(org)
    db.session.flush()
    practice = Practice(
        organization_id=org.id, name="Bench Practice", slug="bench-practice", group_npi=complete_npi("200000000"),
        tax_id="123456789", address_line1="1 Main St", city="Springfield", state="IL", zip_code="62701",
        owned_steps=OWNED, sla_overrides={}, created_at=NOW,
    )  # fmt: skip
    payers = [
        Payer(organization_id=org.id, payer_id=code, name=code, kind=kind, filing_limit_days=90,
              appeal_window_days=180, telehealth_policy={}, prior_auth_cpts=cpts)
        for code, kind, cpts in (("AETNA", "commercial", ["90837"]), ("MCARE", "medicare", []),
                                 ("SELF", "self_pay", []))
    ]  # fmt: skip
    db.session.add_all([practice, *payers])
    db.session.flush()
    providers = [
        Provider(practice_id=practice.id, first_name="B", last_name=f"Bench{i}", npi=complete_npi(f"1000000{i:02d}"),
                 credential="LCSW", taxonomy="1041C0700X")
        for i in range(20)
    ]  # fmt: skip
    db.session.add_all(providers)
    db.session.flush()
    n_patients = max(sessions // 4, 1)
    db.session.execute(
        insert(Patient),
        [{"practice_id": practice.id, "account_number": f"B{i}", "first_name": "Bench", "last_name": f"P{i}",
          "date_of_birth": date(1980, 1, 1), "sex": "F"} for i in range(n_patients)],
    )  # fmt: skip
    patient_ids = db.session.scalars(select(Patient.id).order_by(Patient.id)).all()
    payer_of = {pid: payers[0 if i % 10 < 6 else 1 if i % 10 < 9 else 2].id for i, pid in enumerate(patient_ids)}
    db.session.execute(
        insert(Coverage),
        [{"patient_id": pid, "payer_id": payer_of[pid], "member_id": f"M{pid}", "priority": "primary",
          "relationship_to_subscriber": "18", "effective_from": date(2026, 1, 1)} for pid in patient_ids],
    )  # fmt: skip
    db.session.execute(
        insert(BenefitsCheck),
        [{"practice_id": practice.id, "patient_id": pid, "payer_id": payer_of[pid], "source": "271",
          "checked_at": NOW - timedelta(days=5), "active": True} for pid in patient_ids[::3]],
    )  # fmt: skip
    db.session.execute(
        insert(Authorization),
        [{"patient_id": pid, "payer_id": payers[0].id, "number": f"A{pid}", "cpt_codes": ["90837"],
          "counts_visits": True, "authorized": 12, "used": 2, "start_date": date(2026, 1, 1),
          "end_date": date(2026, 12, 31)} for pid in patient_ids[::2] if payer_of[pid] == payers[0].id],
    )  # fmt: skip
    db.session.execute(
        insert(Session),
        [{"practice_id": practice.id, "patient_id": patient_ids[i % n_patients], "provider_id": providers[i % 20].id,
          "external_ref": f"S{i}", "date_of_service": date(2026, 11, 2) + timedelta(days=i % 14),
          "service_kind": "psychotherapy", "minutes": (38, 53, 60)[i % 3], "modality": "in_person",
          "patient_location": "office", "interactive_complexity": False, "screening_count": 0,
          "diagnoses": ["F33.1"], "received_at": NOW} for i in range(sessions)],
    )  # fmt: skip
    db.session.commit()


def reset_plans() -> None:
    """Forget every plan (for the second measurement on the same sessions)."""
    db.session.execute(text("TRUNCATE interactions"))  # append-only: the database refuses DELETE (migration 0009)
    for table in ("work_item_dependencies", "work_items"):  # not TRUNCATE: it cascades
        db.session.execute(text(f"DELETE FROM {table}"))  # noqa: S608
    db.session.execute(text("UPDATE sessions SET planned_at = NULL"))
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE work_items, interactions, work_item_dependencies, sessions"))


def counts() -> dict[str, int]:
    return {
        "work_items": db.session.scalar(text("SELECT count(*) FROM work_items")),
        "duplicates": db.session.scalar(
            text("SELECT count(*) FROM (SELECT 1 FROM work_items GROUP BY session_id, kind HAVING count(*) > 1) d")
        ),
        "unplanned": db.session.scalar(text("SELECT count(*) FROM sessions WHERE planned_at IS NULL")),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    ensure_database(URL)
    redis_url = os.environ.get("BACKOFFICE_BENCH_REDIS_URL")
    server = None
    if not redis_url:
        from backoffice.embedded_redis import EmbeddedRedis

        server = EmbeddedRedis(Path(INSTANCE) / "redis")
        redis_url = server.start()
    settings = load_settings(
        environ={}, overrides={"database_url": URL, "redis_url": redis_url, "instance_path": INSTANCE}
    )
    app = create_app(settings=settings)
    try:
        with app.app_context():
            from flask_migrate import upgrade

            upgrade(directory=app.extensions["migrate"].directory)
            seed(args.sessions)
        from flows.intake import intake, run_intake

        with app.app_context():
            started = time.perf_counter()
            plain = run_intake(app, batch_size=args.batch)
            plain_s = time.perf_counter() - started
            plain_counts = counts()
            reset_plans()
        boot = time.perf_counter()
        with local_server() as api_url, app_factory(lambda: app):
            server_s = time.perf_counter() - boot
            started = time.perf_counter()
            flowed = intake(batch_size=args.batch)
            flow_s = time.perf_counter() - started
            started = time.perf_counter()
            rerun = intake(batch_size=args.batch)
            rerun_s = time.perf_counter() - started
        with app.app_context():
            flow_counts = counts()
    finally:
        if server is not None:
            server.stop()
    figures = {
        "sessions": args.sessions,
        "batch": args.batch,
        "plain_run_intake": {
            "seconds": round(plain_s, 2), "per_s": round(plain["planned"] / plain_s, 1), **plain_counts,
        },
        "intake_flow": {
            "seconds": round(flow_s, 2), "per_s": round(flowed["planned"] / flow_s, 1), "batches": flowed["batches"],
            "items": flowed["items"], "enqueued": flowed["enqueued"], **flow_counts,
        },
        "rerun_flow": {"seconds": round(rerun_s, 2), "planned": rerun["planned"], "items": rerun["items"]},
        "prefect_server_start_s": round(server_s, 1),
        "prefect_api": "external" if os.environ.get("PREFECT_API_URL") and "127.0.0.1" not in api_url else "local",
        "target_per_s": TARGET_PER_S,
        "meets_target": flowed["planned"] / flow_s >= TARGET_PER_S,
        "by_kind": flowed["by_kind"],
    }  # fmt: skip
    print(f"plan (plain)  {figures['plain_run_intake']['per_s']:>8} sessions/s  ({plain_s:.2f} s)")
    print(f"intake flow   {figures['intake_flow']['per_s']:>8} sessions/s  ({flow_s:.2f} s, Prefect included)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
