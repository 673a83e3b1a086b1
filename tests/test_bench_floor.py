"""bench/floor.py in its short mode (10 practices, one day), so the company-week benchmark does not rot: it builds
the company, runs the day through intake, the RQ jobs (two worker processes on the bench's clock), the Sandbox and
the billers, and prints every figure with its target. The figures' values are the benchmark's business, not this
test's."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.test_bench_ui import ROOT, sibling_database

pytestmark = pytest.mark.postgres

FIGURES = {
    "closed_without_person": ("share", "target", "met", "by_step"),
    "denial_835_to_owner_with_draft_s": ("denials", "p50", "p95", "target_p95", "met"),
    "claims_past_filing_limit": ("count", "target", "met"),
    "sla_attainment": ("by_step", "by_practice"),
    "per_biller_per_day": ("items", "claims_worked", "claims_anchor", "follow_up_accounts", "follow_up_anchor"),
}


def test_the_floor_benchmark_runs_a_day_and_prints_every_figure_with_its_target(redis_url: str) -> None:
    env = {
        **os.environ,
        "BACKOFFICE_BENCH_DATABASE_URL": sibling_database("bench_floor"),
        "BACKOFFICE_BENCH_REDIS_URL": redis_url,
    }
    done = subprocess.run(  # noqa: S603
        [sys.executable, "bench/floor.py", "--practices", "10", "--days", "1"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=400,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])

    assert report["practices"] == 10 and report["days"] == 1
    assert report["sessions"] > 0 and report["work_items"] > 0
    for figure, keys in FIGURES.items():
        assert set(keys) <= set(report[figure]), figure
    assert report["closed_without_person"]["by_step"], "no step closed anything"
    assert set(report["sla_attainment"]["by_practice"]) >= {"practices", "min", "median", "below_90_percent"}
    assert len(report["wall_s_per_day"]) == len(report["cpu_s_per_day"]) == len(report["workers_cpu_s_per_day"]) == 1
    assert report["automation"]["worker_processes"] == 2, "the jobs ran in two worker processes (the default)"
    assert report["workers_cpu_s_per_day"][0] > 0, "the worker processes ran the automated steps"
    assert set(report["targets"]) == {
        "closed_without_person_share",
        "denial_to_owner_with_draft_p95_s",
        "claims_past_filing_limit",
        "claims_per_biller_per_day_anchor",
        "follow_up_accounts_per_biller_per_day_anchor",
    }
    assert sum(report["per_biller_per_day"]["actions"].values()) > 0, "no biller pressed Get next and resolved"
