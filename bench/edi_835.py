"""Benchmark: read an 835 of 10,000 claims with ``parse_835`` and validate the same file with pyx12 4.0.0.

Usage: .venv/bin/python bench/edi_835.py [--claims 10000] [--samples ../shared/x12/samples]
The file repeats the golden 835's claim loops with unique CLP01s, then fixes BPR02 and SE01 so it still balances.
Prints both timings and the ratio, and one JSON object on its last line.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from backoffice.x12.era835 import parse_835  # noqa: E402

TARGET_PARSE_S = 0.6
TARGET_SPEEDUP = 10
DEFAULT_SAMPLES = Path(__file__).resolve().parent.parent.parent / "shared" / "x12" / "samples"


def build_835(golden: str, claims: int) -> str:
    """The golden file with ``claims`` claim loops (cycled, renumbered) and BPR02/SE01 recomputed."""
    segments = [s.strip() for s in golden.split("~") if s.strip()]
    first_clp = next(i for i, s in enumerate(segments) if s.startswith("CLP*"))
    plb = next(i for i, s in enumerate(segments) if s.startswith("PLB*"))
    header, loops_part, trailer = segments[:first_clp], segments[first_clp:plb], segments[plb:]
    loops: list[list[str]] = []
    for seg in loops_part:
        if seg.startswith("CLP*"):
            loops.append([])
        loops[-1].append(seg)
    body: list[str] = []
    paid = Decimal(0)
    for n in range(claims):
        loop = loops[n % len(loops)]
        clp = loop[0].split("*")
        clp[1] = f"ACC{n:07d}"
        paid += Decimal(clp[4])
        body.append("*".join(clp))
        body.extend(loop[1:])
    plb_total = sum(Decimal(s.split("*")[4]) for s in trailer if s.startswith("PLB*"))
    bpr_index = next(i for i, s in enumerate(header) if s.startswith("BPR*"))
    bpr = header[bpr_index].split("*")
    bpr[2] = str(paid - plb_total)
    header[bpr_index] = "*".join(bpr)
    segments = header + body + trailer
    st = next(i for i, s in enumerate(segments) if s.startswith("ST*"))
    se = next(i for i, s in enumerate(segments) if s.startswith("SE*"))
    se_parts = segments[se].split("*")
    se_parts[1] = str(se - st + 1)
    segments[se] = "*".join(se_parts)
    return "~\n".join(segments) + "~\n"


def time_pyx12(path: str) -> tuple[float, str]:
    """Seconds pyx12 takes to validate ``path`` (no 999, HTML or XML output), and its verdict or error."""
    import pyx12.errors
    import pyx12.params
    import pyx12.x12n_document

    log = logging.getLogger("pyx12")
    log.propagate = False
    log.addHandler(logging.NullHandler())
    log.setLevel(logging.CRITICAL)
    t0 = time.perf_counter()
    try:
        with open(path, encoding="ascii") as src:
            ok = pyx12.x12n_document.x12n_document(
                param=pyx12.params.params(), src_file=src, fd_997=None, fd_html=None, fd_xmldoc=None
            )
        verdict = "OK" if ok else "Failure"
    except (pyx12.errors.EngineError, pyx12.errors.X12Error, OSError, UnicodeDecodeError) as error:
        verdict = f"error: {error}"
    return time.perf_counter() - t0, verdict


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES)
    parser.add_argument("--repeat", type=int, default=3, help="parse_835 runs; the best one counts")
    args = parser.parse_args()
    golden = (args.samples / "golden" / "handmade_835_mental_health.txt").read_text(encoding="ascii")
    text = build_835(golden, args.claims)

    timings = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        (remittance,) = parse_835(text)
        timings.append(time.perf_counter() - t0)
    parse_s = min(timings)
    if len(remittance.claims) != args.claims or not remittance.balanced:
        raise SystemExit(f"generated file is wrong: {len(remittance.claims)} claims, problems {remittance.problems}")

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "bench_835.txt")
        with open(path, "w", encoding="ascii") as out:
            out.write(text)
        pyx12_s, verdict = time_pyx12(path)

    speedup = pyx12_s / parse_s
    print(f"{args.claims} claims, {len(text):,} bytes")
    print(f"parse_835: {parse_s:.3f}s (best of {args.repeat}; target <= {TARGET_PARSE_S}s)")
    print(f"pyx12 validation: {pyx12_s:.3f}s ({verdict})")
    print(f"speedup: {speedup:.1f}x (target >= {TARGET_SPEEDUP}x)")
    figures = {
        "benchmark": "edi_835", "claims": args.claims, "parse_s": round(parse_s, 4), "pyx12_s": round(pyx12_s, 3),
        "speedup": round(speedup, 1), "targets": {"parse_s": TARGET_PARSE_S, "speedup": TARGET_SPEEDUP},
        "met": parse_s <= TARGET_PARSE_S and speedup >= TARGET_SPEEDUP,
    }  # fmt: skip
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
