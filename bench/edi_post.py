"""Benchmark: post the 10,000-claim 835 of bench/edi_835.py (the golden file's claim loops, renumbered) to
PostgreSQL with ``post_835``, against 10,000 matching claims (target ≤ 5 s).

Database: BACKOFFICE_BENCH_DATABASE_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/bo_bench_post);
it is created if missing and its schema is reset. Usage: .venv/bin/python bench/edi_post.py [--claims 10000]
Prints the figures and one JSON object on its last line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, insert, select, text

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from edi_835 import DEFAULT_SAMPLES, build_835  # noqa: E402

from backoffice import create_app  # noqa: E402
from backoffice.claims.models import Claim, ClaimLine  # noqa: E402
from backoffice.extensions import db  # noqa: E402
from backoffice.orgs.models import ContractedRate, Organization, Payer, Practice  # noqa: E402
from backoffice.orgs.rules import complete_npi  # noqa: E402
from backoffice.patients.models import Coverage, Patient  # noqa: E402
from backoffice.remits.services import post_835  # noqa: E402
from backoffice.settings import load_settings  # noqa: E402
from bench.claim_next import ensure_database  # noqa: E402

URL = os.environ.get("BACKOFFICE_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bo_bench_post")
NOW = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)
TARGET_POST_S = 5.0
PATIENTS = 500
GOLDEN_LINES = [
    ("90834", "150", date(2025, 1, 10)),
    ("90837", "200", date(2025, 1, 12)),
    ("90834", "150", date(2025, 1, 14)),
]


def seed(claims: int) -> int:
    """One practice, a payer, patients with primary coverage and ``claims`` submitted claims ACC0000000…"""
    org = Organization(name="Bench Billing", slug="bench", created_at=NOW)
    db.session.add(org)
    db.session.flush()
    practice = Practice(organization_id=org.id, name="Bench Practice", slug="bench-practice",
                        group_npi=complete_npi("200000000"), tax_id="123456789", address_line1="1 Main St",
                        city="Springfield", state="IL", zip_code="62701", owned_steps=[], sla_overrides={},
                        created_at=NOW)  # fmt: skip
    payer = Payer(organization_id=org.id, payer_id="1512345678", name="Example Health Plan", kind="commercial",
                  filing_limit_days=90, appeal_window_days=180, telehealth_policy={}, prior_auth_cpts=[])  # fmt: skip
    db.session.add_all([practice, payer])
    db.session.flush()
    # Contracted rates for every CPT billed, so every posted line gets its expected-payment check (issue 18).
    db.session.add_all([ContractedRate(practice_id=practice.id, payer_id=payer.id, cpt=cpt, modifier="",
                                       allowed=Decimal(allowed), effective_from=date(2024, 1, 1))
                        for cpt, allowed in (("90834", "100.00"), ("90837", "140.00"))])  # fmt: skip
    db.session.flush()
    patient_ids = db.session.scalars(
        insert(Patient).returning(Patient.id, sort_by_parameter_order=True),
        [{"practice_id": practice.id, "account_number": f"P{i}", "first_name": "Bench", "last_name": f"Patient{i}",
          "date_of_birth": date(1980, 1, 1), "sex": "F"} for i in range(PATIENTS)],
    ).all()  # fmt: skip
    db.session.execute(insert(Coverage), [
        {"patient_id": pid, "payer_id": payer.id, "member_id": f"M{pid}", "priority": "primary",
         "relationship_to_subscriber": "18", "effective_from": date(2024, 1, 1)} for pid in patient_ids])  # fmt: skip
    claim_ids = db.session.scalars(
        insert(Claim).returning(Claim.id, sort_by_parameter_order=True),
        [{"practice_id": practice.id, "patient_id": patient_ids[n % PATIENTS], "payer_id": payer.id,
          "account_number": f"ACC{n:07d}", "status": "submitted", "total_charge": Decimal(GOLDEN_LINES[n % 3][1]),
          "created_at": NOW, "findings": []} for n in range(claims)],
    ).all()  # fmt: skip
    db.session.execute(insert(ClaimLine), [
        {"claim_id": cid, "line_number": 1, "date_of_service": GOLDEN_LINES[n % 3][2], "cpt": GOLDEN_LINES[n % 3][0],
         "modifiers": [], "units": 1, "place_of_service": "11", "diagnosis_pointers": [1],
         "charge": Decimal(GOLDEN_LINES[n % 3][1])} for n, cid in enumerate(claim_ids)])  # fmt: skip
    db.session.commit()
    return org.id


def server_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) of a local PostgreSQL backend, from /proc; None when it is not visible here."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES)
    args = parser.parse_args()
    golden = (args.samples / "golden" / "handmade_835_mental_health.txt").read_text()
    era = build_835(golden, args.claims)
    ensure_database(URL)
    app = create_app(
        settings=load_settings(environ={}, overrides={"database_url": URL, "instance_path": tempfile.mkdtemp()})
    )
    from flask_migrate import upgrade

    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        organization_id = seed(args.claims)
        backend = db.session.scalar(text("SELECT pg_backend_pid()"))  # the server process this session talks to
        server = server_cpu(backend)
        started, cpu = time.perf_counter(), time.process_time()
        result = post_835(organization_id=organization_id, text=era, now=NOW)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        server = server_cpu(backend) - server if server is not None else None
        paid = db.session.scalar(select(func.sum(Claim.paid_amount)))
        print(f"posted {result.claims_posted} claims ({result.claims_unmatched} unmatched) in {seconds:.2f} s "
              f"(target {TARGET_POST_S} s; CPU: {cpu:.2f} s here, "
              f"{'unknown' if server is None else f'{server:.2f} s'} in the PostgreSQL backend); "
              f"{result.denial_items} denial items, {result.underpayment_items} underpayment items "
              f"(expected-payment checks on); "
              f"paid {paid}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")  # fmt: skip
        again = time.perf_counter()
        twice = post_835(organization_id=organization_id, text=era, now=NOW)
        print(f"posting it again: refused {twice.duplicates_refused} in {time.perf_counter() - again:.2f} s")
    figures = {
        "benchmark": "edi_post",
        "claims": result.claims_posted,
        "unmatched": result.claims_unmatched,
        "denial_items": result.denial_items,
        "underpayment_items": result.underpayment_items,
        "expected_payment_checks": True,
        "post_s": round(seconds, 3),
        "post_cpu_s": round(cpu, 3),
        "postgres_backend_cpu_s": None if server is None else round(server, 3),
        "load_average": round(os.getloadavg()[0], 1),
        "target_post_s": TARGET_POST_S,
        "met": seconds <= TARGET_POST_S and result.claims_posted == args.claims,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
