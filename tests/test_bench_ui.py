"""bench/ui.py at a tiny scale, so the benchmark does not rot: it loads the data, serves it with gunicorn, signs
32 billers in (8 here), measures the pages and Get next three ways, and finds no double claim."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import TEST_DATABASE_URL

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.postgres


def sibling_database(suffix: str) -> str:
    """A database next to the test database (the benchmark drops its schema), e.g. ``<test db>_bench_ui``."""
    url = make_url(TEST_DATABASE_URL)
    return url.set(database=f"{url.database}_{suffix}").render_as_string(hide_password=False)


def test_the_ui_benchmark_measures_pages_and_claims_with_no_double_claim(redis_url: str) -> None:
    bench_url = sibling_database("bench_ui")
    env = dict(os.environ, BACKOFFICE_BENCH_DATABASE_URL=bench_url, BACKOFFICE_BENCH_REDIS_URL=redis_url)
    args = [
        "--items",
        "4000",
        "--interactions",
        "30000",
        "--users",
        "8",
        "--seconds",
        "2",
        "--think",
        "0.2",
        "--claims",
        "2",
        "--web-workers",
        "2",
    ]
    done = subprocess.run(  # noqa: S603
        [sys.executable, "bench/ui.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=400
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])

    assert sum(report["states"].values()) == 4000
    assert report["interactions"] == 30000
    explained = report["item_page_explain"]["sampled"]
    assert explained["statements"] == len(explained["plans"]) > 0  # every statement of the item page, analyzed
    assert any(plan["sql"].startswith("SELECT interactions.") for plan in explained["plans"])  # the timeline
    assert {"done", "ready", "blocked", "in_progress", "snoozed"} <= set(report["states"])
    for page in ("queue_page", "item_page"):
        assert report[page]["requests"] > 0
        assert report[page]["failures"] == {}, page
        assert report[page]["p50_ms"] <= report[page]["p95_ms"] <= report[page]["p99_ms"]
    if report["load_run"]["tool"] == "wrk":
        for page in ("queue_page", "item_page"):
            assert report["load_run"][page]["requests"] > 0
            assert report["load_run"][page]["non_2xx"] == 0, page
    assert report["get_next_http"]["requests"] > 0
    assert report["get_next_http"]["failures"] == {}
    assert 0 < report["claim_next_item"]["claims"] <= 8 * 2
    assert report["claim_next_item_paced"]["claims"] == 8 * 2  # 4,000 items: nobody runs out
    assert set(report["met"]) == {"queue_page_p95", "claim_next_p95", "get_next_http_p95", "double_claims"}
    assert report["bare_skip_locked_sql"]["claims"] == 8 * 2
    assert report["double_claims"] == 0
    assert report["met"]["double_claims"] is True
    assert set(report["targets"]) == {"queue_page_p95_ms", "claim_next_p95_ms", "double_claims"}
    assert set(report["query_ms"]) == {"my_items", "team_items", "my_items_page", "team_items_page"}
    for phase in ("queue_page_1_user", "item_page_1_user", "queue_page", "item_page", "get_next_http"):
        assert report[phase]["web_cpu_ms_per_request"] > 0, phase  # the gunicorn processes were measured

    engine = create_engine(bench_url)
    with engine.connect() as conn:  # every claimed item was made ready again, and each claim was logged once
        assert (
            conn.scalar(text("SELECT count(*) FROM work_items WHERE state = 'in_progress'"))
            == report["states"]["in_progress"]
        )
        claims_logged = conn.scalar(text("SELECT count(*) FROM interactions WHERE data->>'reason' = 'get_next'"))
        grown = conn.execute(
            text("SELECT count(*), count(DISTINCT kind) FROM interactions WHERE data->>'reason' IS NULL")
        ).one()
    engine.dispose()
    assert tuple(grown) == (30000, 6)  # the log grown to --interactions rows, in the kinds the product writes
    assert (
        claims_logged
        == report["get_next_http"]["requests"]
        + report["claim_next_item_paced"]["claims"]
        + report["claim_next_item"]["claims"]
        + report["claim_next_item_1_thread"]["claims"]
    )
