"""Benchmark: write 10,000 coded claims as one 837P interchange with the pure writer on one core.

Usage: .venv/bin/python bench/edi_837.py [--claims 10000] [--seed 7]
Sessions of varied kinds are coded with code_session first (not timed); write_837p is timed, then the output is
run through business_problems (timed separately). One JSON object on the last line.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from datetime import date, datetime, timedelta
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from backoffice.coding.rules import PAYER_DEFAULTS, SessionFacts, code_session  # noqa: E402
from backoffice.orgs.rules import complete_npi  # noqa: E402
from backoffice.x12.checks import business_problems  # noqa: E402
from backoffice.x12.claim837 import (  # noqa: E402
    Address,
    Batch,
    BillingProvider,
    ClaimInfo,
    Patient,
    PayerInfo,
    Receiver,
    RenderingProvider,
    ServiceLine,
    Submitter,
    Subscriber,
    write_837p,
)

TARGET_SECONDS = 2.0
SERVICES = [("psychotherapy", 60), ("em_psychotherapy", 12), ("em", 8), ("intake", 6), ("intake_medical", 3),
            ("family_with_patient", 5), ("family_without_patient", 2), ("group", 3), ("crisis", 1)]  # fmt: skip
DIAGNOSES = ["F33.1", "F41.1", "F43.10", "F43.23", "F32.A", "F90.0", "F84.0", "Z63.0", "F41.9", "F43.12"]
FEES = {"90791": "200", "90792": "250", "90832": "95", "90834": "150", "90837": "190.50", "90839": "210",
        "90840": "100", "90846": "140", "90847": "150", "90853": "60", "90785": "25", "96127": "10",
        "99213": "110", "99214": "160", "90833": "80", "90836": "100", "90838": "130"}  # fmt: skip
PAYERS = [("medicare", "MB", PayerInfo("Medicare Part B", "MCRB01")),
          ("medicaid", "MC", PayerInfo("State Medicaid", "MCD01")),
          ("commercial", "CI", PayerInfo("Example Health Plan", "PAYER01"))]  # fmt: skip
BILLING = BillingProvider("Calm Mind Counseling LLC", "1234567893", "123456789", "261QM0801X",
                          Address("100 Main Street", "Springfield", "IL", "627011234"))  # fmt: skip


def _session(rng: random.Random) -> SessionFacts:
    kinds, weights = zip(*SERVICES, strict=True)
    service = rng.choices(kinds, weights)[0]
    modality = rng.choices(["in_person", "video", "audio_only"], [55, 38, 7])[0]
    return SessionFacts(
        service=service, minutes=rng.randint(40, 95),
        em_code=rng.choice(["99213", "99214"]) if service.startswith("em") else None,
        modality=modality, patient_location="office" if modality == "in_person" else "home",
        interactive_complexity=rng.random() < 0.05, screenings=rng.choice([0, 0, 0, 1, 2]),
        diagnoses=tuple(rng.sample(DIAGNOSES, rng.randint(1, 3))), credential=rng.choice(["MD", "NP"]),
        date_of_service=date(2026, 3, 2) + timedelta(days=rng.randint(0, 60)),
    )  # fmt: skip


def generate(count: int, seed: int) -> list[Batch]:
    """``count`` billable claims split over three payers, about one in five for a dependent patient."""
    rng = random.Random(seed)
    per_payer: dict[str, list[tuple[Subscriber, Patient | None, ClaimInfo]]] = {kind: [] for kind, _, _ in PAYERS}
    renderers = [RenderingProvider(f"Clinician{n}", "Pat", complete_npi(f"1{n:08d}"), "2084P0800X") for n in range(40)]
    made = 0
    while made < count:
        kind, filing, _ = rng.choice(PAYERS)
        facts = _session(rng)
        result = code_session(facts, PAYER_DEFAULTS[kind])
        if not result.billable:
            continue
        lines = tuple(ServiceLine.from_draft(d, Decimal(FEES[d.cpt]) * d.units, facts.date_of_service)
                      for d in result.lines)  # fmt: skip
        address = Address(f"{rng.randint(1, 999)} Elm Street", "Springfield", "IL", "62702")
        subscriber = Subscriber(f"MEM{made:07d}", "Jo", f"Núñez{made}", date(1980, 1, 1), "F", address, "GRP1")
        patient = Patient("Kid", f"Núñez{made}", date(2012, 5, 5), "M", address, "19") if rng.random() < 0.2 else None
        frequency = rng.choices(["1", "7", "8"], [90, 7, 3])[0]
        claim = ClaimInfo(f"PCN{made:08d}", facts.diagnoses, lines, filing, frequency=frequency,
                          payer_claim_number="" if frequency == "1" else f"ICN{made}",
                          rendering=rng.choice(renderers) if rng.random() < 0.5 else None)  # fmt: skip
        per_payer[kind].append((subscriber, patient, claim))
        made += 1
    submitter, receiver = (
        Submitter("Calm Mind Billing", "SUBMITTER01", "Jane Biller", "5555551234"),
        Receiver("Clearinghouse", "RECEIVER01"),
    )
    return [Batch(submitter, receiver, BILLING, payer, tuple(per_payer[kind])) for kind, _, payer in PAYERS]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    batches = generate(args.claims, args.seed)
    now = datetime(2026, 5, 4, 8, 0)
    t0 = time.perf_counter()
    text = write_837p(
        batches, interchange_control_number=1, group_control_number=1, first_transaction_number=1, now=now
    )
    t1 = time.perf_counter()
    problems = business_problems(text)
    t2 = time.perf_counter()
    seconds = t1 - t0
    print(f"wrote {args.claims} claims ({text.count('~')} segments, {len(text) / 1e6:.1f} MB) in {seconds:.2f}s; "
          f"business checks {t2 - t1:.2f}s, {len(problems)} problem(s)")  # fmt: skip
    figures = {"benchmark": "edi_837", "claims": args.claims, "seconds": round(seconds, 3),
               "check_seconds": round(t2 - t1, 3), "problems": len(problems),
               "targets": {"seconds": TARGET_SECONDS}, "met": seconds <= TARGET_SECONDS and not problems}  # fmt: skip
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
