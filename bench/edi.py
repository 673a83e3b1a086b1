"""Benchmark: the EDI figures of the EDI issue in one run — 837P generation for 10,000 claims and 835 parsing of
10,000 claims next to pyx12 on the same file. Runs bench/edi_837.py and bench/edi_835.py and combines their last
lines. (Posting the 835 to PostgreSQL is not implemented yet, so it is reported as null.)

Usage: .venv/bin/python bench/edi.py
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run(script: str) -> dict:
    result = subprocess.run([sys.executable, str(HERE / script)], capture_output=True, text=True, check=True)
    lines = result.stdout.strip().splitlines()
    for line in lines[:-1]:
        print(line)
    return json.loads(lines[-1])


def main() -> None:
    write = run("edi_837.py")
    parse = run("edi_835.py")
    figures = {
        "benchmark": "edi",
        "generate_837_claims": write["claims"],
        "generate_837_s": write["seconds"],
        "parse_835_claims": parse["claims"],
        "parse_835_s": parse["parse_s"],
        "pyx12_835_s": parse["pyx12_s"],
        "parse_speedup_vs_pyx12": parse["speedup"],
        "post_835_s": None,
        "targets": {"generate_837_s": 2.0, "parse_835_s": 0.6, "parse_speedup_vs_pyx12": 10, "post_835_s": 5.0},
    }
    figures["met"] = bool(write["met"] and parse["met"])
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
