"""Benchmark: from an import of 500 sessions to their work items being ready, through the served intake deployment.

Each round commits 500 new sessions (as an import does), calls ``intake.dispatch.plan_imported`` (it creates one run
of the ``intake`` deployment with the sessions' IDs) and polls the database until every session is planned and its
first items are ready. ``backoffice flows serve`` runs in a subprocess against a local Prefect server, as in
production (every flow on its schedule, the runner polling every ``PREFECT_RUNNER_POLL_FREQUENCY`` seconds). A last
round measures the inline fallback (no Prefect server reachable) for comparison.

Usage: .venv/bin/python bench/import_to_ready.py [--rounds 10] [--sessions 500]
Database: BACKOFFICE_BENCH_DATABASE_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/bo_bench_import;
created if missing, its schema rebuilt). Redis: BACKOFFICE_BENCH_REDIS_URL or an embedded one. Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import insert, select, text

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from backoffice import create_app  # noqa: E402
from backoffice.extensions import db  # noqa: E402
from backoffice.intake.dispatch import plan_imported  # noqa: E402
from backoffice.orgs.models import Practice, Provider  # noqa: E402
from backoffice.patients.models import Patient  # noqa: E402
from backoffice.sessions.models import Session  # noqa: E402
from backoffice.settings import load_settings  # noqa: E402
from bench.claim_next import ensure_database  # noqa: E402
from bench.intake import INSTANCE, NOW, seed  # noqa: E402  (sets PREFECT_HOME before Prefect is imported)
from flows.runtime import free_port, start_server, stop_server  # noqa: E402

URL = os.environ.get("BACKOFFICE_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bo_bench_import")
TARGET_P95_S = 5.0
POLL_S = 0.05


def new_sessions(count: int, round_no: int) -> list[int]:
    """Commit ``count`` new sessions for the seeded patients, as an import does; their ids."""
    practice = db.session.scalars(select(Practice)).one()
    patients = db.session.scalars(select(Patient.id).order_by(Patient.id)).all()
    providers = db.session.scalars(select(Provider.id).order_by(Provider.id)).all()
    rows = [{"practice_id": practice.id, "patient_id": patients[i % len(patients)],
             "provider_id": providers[i % len(providers)], "external_ref": f"R{round_no}-{i}",
             "date_of_service": date(2026, 11, 2) + timedelta(days=i % 14), "service_kind": "psychotherapy",
             "minutes": (38, 53, 60)[i % 3], "modality": "in_person", "patient_location": "office",
             "interactive_complexity": False, "screening_count": 0, "diagnoses": ["F33.1"], "received_at": NOW}
            for i in range(count)]  # fmt: skip
    ids = list(db.session.scalars(insert(Session).returning(Session.id), rows))
    db.session.commit()
    return ids


def ready(ids: list[int]) -> bool:
    """Every session planned and its chain's first item ready."""
    planned = db.session.scalar(
        text("SELECT count(*) FROM sessions WHERE id = ANY(:ids) AND planned_at IS NOT NULL"), {"ids": ids}
    )
    heads = db.session.scalar(
        text("SELECT count(DISTINCT session_id) FROM work_items WHERE session_id = ANY(:ids) AND state = 'ready'"),
        {"ids": ids},
    )
    db.session.rollback()  # a fresh snapshot for the next poll
    return planned == len(ids) and heads == len(ids)


def wait_for_deployment(api_url: str, timeout: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if httpx.get(f"{api_url}/deployments/name/intake/intake", timeout=2).status_code == 200:
            return
        time.sleep(0.5)
    raise RuntimeError("flows serve did not register the intake deployment")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--sessions", type=int, default=500)
    args = parser.parse_args()
    ensure_database(URL)
    from backoffice.embedded_redis import EmbeddedRedis

    redis_url = os.environ.get("BACKOFFICE_BENCH_REDIS_URL")
    redis = None if redis_url else EmbeddedRedis(Path(INSTANCE) / "redis")
    redis_url = redis_url or redis.start()  # type: ignore[union-attr]
    settings = load_settings(environ={}, overrides={"database_url": URL, "redis_url": redis_url,
                                                    "instance_path": INSTANCE})  # fmt: skip
    app = create_app(settings=settings)
    server = flows = None
    seconds: list[float] = []
    try:
        with app.app_context():
            from flask_migrate import upgrade

            upgrade(directory=app.extensions["migrate"].directory)
            seed(args.sessions)  # reference data and a first batch of sessions, planned by the first scheduled run
            db.session.execute(text("UPDATE sessions SET planned_at = :now"), {"now": NOW})
            db.session.commit()
        server, api_url = start_server(free_port())
        env = dict(os.environ, BACKOFFICE_DATABASE_URL=URL, BACKOFFICE_REDIS_URL=redis_url, PREFECT_API_URL=api_url,
                   BACKOFFICE_INSTANCE_PATH=INSTANCE, BACKOFFICE_SECRET_KEY=secrets.token_urlsafe(32))  # fmt: skip
        flows = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "backoffice.cli", "flows", "serve"],
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_deployment(api_url)
        with app.app_context():
            for round_no in range(args.rounds + 1):  # round 0 warms the runner up and is not counted
                ids = new_sessions(args.sessions, round_no)
                started = time.perf_counter()
                dispatch = plan_imported(ids, now=NOW, api_url=api_url)
                assert dispatch.mode == "flow", dispatch
                while not ready(ids):
                    if time.perf_counter() - started > 120:
                        raise RuntimeError(f"round {round_no}: items not ready after 120 s")
                    time.sleep(POLL_S)
                if round_no:
                    seconds.append(time.perf_counter() - started)
                print(f"round {round_no}: {time.perf_counter() - started:.2f} s", flush=True)
            ids = new_sessions(args.sessions, args.rounds + 1)
            started = time.perf_counter()
            inline = plan_imported(ids, now=NOW, api_url=f"http://127.0.0.1:{free_port()}/api")
            inline_s = time.perf_counter() - started
    finally:
        if flows is not None:
            flows.terminate()
            flows.wait(timeout=30)
        if server is not None:
            stop_server(server)
        if redis is not None:
            redis.stop()
    ordered = sorted(seconds)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    figures = {
        "sessions_per_import": args.sessions, "rounds": args.rounds,
        "import_to_ready_s": {"p50": round(statistics.median(ordered), 2), "p95": round(p95, 2),
                              "max": round(ordered[-1], 2), "all": [round(s, 2) for s in seconds]},
        "inline_fallback_s": round(inline_s, 2), "inline_items": inline.items,
        "poll_frequency_s": os.environ.get("PREFECT_RUNNER_POLL_FREQUENCY"),
        "target_p95_s": TARGET_P95_S, "meets_target": p95 <= TARGET_P95_S,
    }  # fmt: skip
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
