"""Benchmark: the EDI figures of the EDI issue in one run — 837P generation for 10,000 claims and 835 parsing of
10,000 claims next to pyx12 on the same file, and posting that 835 to PostgreSQL. Runs bench/edi_837.py,
bench/edi_835.py and (when PostgreSQL is reachable) bench/edi_post.py, and combines their last lines; without
PostgreSQL the posting figure is null.

Usage: .venv/bin/python bench/edi.py
"""

from __future__ import annotations

import json
import os
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


POST_URL = os.environ.get("BACKOFFICE_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bo_bench_post")


def postgres_reachable(url: str) -> bool:
    """Whether the server of ``url`` answers (its database may not exist yet: edi_post.py creates it)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    engine = create_engine(make_url(url).set(database="postgres"), connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except OperationalError:
        return False
    finally:
        engine.dispose()


def main() -> None:
    write = run("edi_837.py")
    parse = run("edi_835.py")
    post = run("edi_post.py") if postgres_reachable(POST_URL) else None
    if post is None:
        print("PostgreSQL not reachable: 835 posting not measured")
    figures = {
        "benchmark": "edi",
        "generate_837_claims": write["claims"],
        "generate_837_s": write["seconds"],
        "parse_835_claims": parse["claims"],
        "parse_835_s": parse["parse_s"],
        "pyx12_835_s": parse["pyx12_s"],
        "parse_speedup_vs_pyx12": parse["speedup"],
        "post_835_s": post["post_s"] if post else None,
        "posting_seconds": post["post_s"] if post else None,
        "post_835_cpu_s": post["post_cpu_s"] if post else None,
        "post_835_postgres_cpu_s": post["postgres_backend_cpu_s"] if post else None,
        "targets": {"generate_837_s": 2.0, "parse_835_s": 0.6, "parse_speedup_vs_pyx12": 10, "post_835_s": 5.0},
    }
    figures["met"] = bool(write["met"] and parse["met"] and (post is None or post["met"]))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
