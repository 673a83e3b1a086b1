"""Scale-out run: N web processes, M RQ workers, a Prefect server and `flows serve` against one PostgreSQL and one
Redis, running the demo end to end.

Every process is the production command (`backoffice serve`, `backoffice worker`, `prefect server start`,
`backoffice flows serve`), each started with only the settings docs/deploy.md lists for it. The demo is seeded
(`backoffice demo --seed-only`): its 30 live sessions are unplanned. The intake deployment is triggered (it also
runs every minute), the workers take the automated steps through the Sandbox payer (270/271, charge, audit, 837P),
the inbox deployment reads the Sandbox's 999/277CA/835 and posts them, until nothing moves. Meanwhile a signed-in
biller loads the queue page and an item page from every web process in turn. Counts are printed as one JSON
object on the last line; every process started here is stopped (also on Ctrl+C or an error).

The workers and `flows serve` share one instance folder here: the Sandbox (like a file-drop clearinghouse) keeps
its files under ``<instance>/edi``, so on several machines that folder is a shared volume (docs/deploy.md).

Usage: .venv/bin/python bench/scale_out.py [--web 2] [--workers 3] [--timeout 600]
Database: BACKOFFICE_BENCH_DATABASE_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/bo_bench_scale;
its public schema is dropped). Prefect: a server started here on PostgreSQL database ``<database>_prefect``
(dropped and created; ``--prefect-sqlite`` for SQLite). Redis: BACKOFFICE_BENCH_REDIS_URL (default
redis://127.0.0.1:6379/13; flushed).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from redis import Redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.claim_next import ensure_database  # noqa: E402
from bench.ui import request, sign_in  # noqa: E402
from flows.runtime import free_port  # noqa: E402

DB_URL = os.environ.get("BACKOFFICE_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bo_bench_scale")
REDIS_URL = os.environ.get("BACKOFFICE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
ROOT = Path(__file__).resolve().parent.parent
BILLER, BILLER_PASSWORD = "biller1@summit.example", "biller1-demo-2026"
OPEN = ("ready", "in_progress")


class Processes:
    """Every process started here, each in its own process group, stopped in reverse order."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, cmd: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        with (self.logs / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(  # noqa: S603
                cmd, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.started.append((name, process))
        return process

    def check(self) -> None:
        for name, process in self.started:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}; see {self.logs / name}.log")

    def stop(self) -> None:
        for _, process in reversed(self.started):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for _, process in reversed(self.started):
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def backoffice(*args: str) -> list[str]:
    return [sys.executable, "-m", "backoffice.cli", *args]


def wait_for(what: str, check, timeout: float, procs: Processes, every: float = 1.0):  # noqa: ANN001, ANN201
    """Poll ``check()`` until it returns something truthy; fail after ``timeout`` s or when a process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        procs.check()
        value = check()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"{what}: not within {timeout:.0f} s")


def prefect_database(url: str) -> str:
    """Drop and create ``<database>_prefect`` on the same server; its asyncpg URL for the Prefect server."""
    parsed = make_url(url)
    name = f"{parsed.database}_prefect"
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return parsed.set(drivername="postgresql+asyncpg", database=name).render_as_string(hide_password=False)


def run_deployment(name: str, env: dict[str, str], procs: Processes) -> None:
    """Ask the Prefect server for a run of deployment ``name`` now; `flows serve` picks it up. Waits until
    `flows serve` has registered its deployments."""

    def ask() -> bool:
        done = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "prefect", "deployment", "run", name], env=env, cwd=ROOT, capture_output=True
        )
        return done.returncode == 0

    wait_for(f"deployment {name}", ask, 180, procs, every=3)


class Browsing(threading.Thread):
    """A signed-in biller on every web process in turn: the queue page, then an item from it."""

    def __init__(self, ports: list[int]) -> None:
        super().__init__(daemon=True)
        self.ports = ports
        self.cookies = {port: sign_in(port, BILLER, BILLER_PASSWORD)[0] for port in ports}
        self.pages: Counter[str] = Counter()
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            for port in self.ports:
                status, _, html = request(port, "GET", "/queue", self.cookies[port])
                self.pages[f"{port} /queue {status}"] += 1
                item = re.search(r'href="/items/(\d+)"', html)
                if item:
                    status, _, _ = request(port, "GET", f"/items/{item.group(1)}", self.cookies[port])
                    self.pages[f"{port} /items {status}"] += 1
            self.stopping.wait(1.0)


def main() -> None:  # noqa: PLR0915 - one run, in order
    parser = argparse.ArgumentParser()
    parser.add_argument("--web", type=int, default=2, help="web processes (gunicorn, 2 workers each)")
    parser.add_argument("--workers", type=int, default=3, help="RQ worker processes")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds")
    parser.add_argument("--prefect-sqlite", action="store_true", help="the Prefect server on SQLite")
    args = parser.parse_args()
    started = time.monotonic()
    load_before = os.getloadavg()
    instance = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    env = dict(
        os.environ,
        BACKOFFICE_ENV="production",
        BACKOFFICE_SECRET_KEY="bench-scale-out-secret-key-0123456789abcdef",
        BACKOFFICE_DATABASE_URL=DB_URL,
        BACKOFFICE_REDIS_URL=REDIS_URL,
        BACKOFFICE_INSTANCE_PATH=str(instance),
        BACKOFFICE_LOG_LEVEL="WARNING",
        PREFECT_HOME=str(instance / "prefect"),
        DO_NOT_TRACK="1",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_UI_ENABLED="false",
        PREFECT_LOGGING_LEVEL="WARNING",
    )
    env.pop("PREFECT_API_URL", None)
    ensure_database(DB_URL)
    subprocess.run(backoffice("db", "upgrade"), env=env, cwd=ROOT, check=True, capture_output=True)  # noqa: S603
    t0 = time.monotonic()
    subprocess.run(backoffice("demo", "--seed-only"), env=env, cwd=ROOT, check=True, capture_output=True)  # noqa: S603
    seed_s = round(time.monotonic() - t0, 1)
    engine = create_engine(DB_URL)
    with engine.connect() as conn:
        live = list(conn.scalars(text("SELECT id FROM sessions WHERE planned_at IS NULL")))
    Redis.from_url(REDIS_URL).flushdb()
    print(f"demo seeded in {seed_s} s: {len(live)} live sessions; logs in {instance}", flush=True)

    procs = Processes(instance)
    browsing = None
    try:
        server_env = dict(env)
        if not args.prefect_sqlite:
            server_env["PREFECT_API_DATABASE_CONNECTION_URL"] = prefect_database(DB_URL)
        prefect_port = free_port()
        procs.start("prefect-server", [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                                       "--port", str(prefect_port)], server_env)  # fmt: skip
        env["PREFECT_API_URL"] = f"http://127.0.0.1:{prefect_port}/api"
        web_ports = [free_port() for _ in range(args.web)]
        for n, port in enumerate(web_ports):
            procs.start(f"web-{n + 1}", backoffice("serve", "--port", str(port), "--workers", "2"), env)
        for n in range(args.workers):
            procs.start(f"worker-{n + 1}", backoffice("worker"), env)

        def healthy() -> bool:
            try:
                return request(prefect_port, "GET", "/api/health")[0] == 200
            except OSError:
                return False

        wait_for("the Prefect server", healthy, 120, procs)
        procs.start("flows-serve", backoffice("flows", "serve"), env)

        def web_up() -> bool:
            try:
                return all(request(port, "GET", "/login")[0] == 200 for port in web_ports)
            except OSError:
                return False

        wait_for("the web processes", web_up, 120, procs)
        ready_s = round(time.monotonic() - started, 1)
        browsing = Browsing(web_ports)
        browsing.start()
        print(f"all {len(procs.started)} processes up after {ready_s} s", flush=True)

        t_run = time.monotonic()
        run_deployment("intake/intake", env, procs)

        def count(sql: str) -> int:
            with engine.connect() as conn:
                return int(conn.scalar(text(sql), {"ids": live}) or 0)

        wait_for("the intake flow", lambda: count("SELECT count(*) FROM sessions WHERE id = ANY(:ids) AND planned_at IS"
                                                  " NULL") == 0, 300, procs, every=2)  # fmt: skip
        planned_s = round(time.monotonic() - t_run, 1)
        print(f"intake planned the {len(live)} live sessions in {planned_s} s", flush=True)
        automated_open = (
            f"SELECT count(*) FROM work_items WHERE session_id = ANY(:ids) AND mode = 'automated' AND state IN {OPEN}"
        )
        claims_out = "SELECT count(*) FROM claims WHERE session_id = ANY(:ids) AND status IN ('submitted', 'accepted')"
        budget = max(args.timeout - (time.monotonic() - started), 60)
        deadline = time.monotonic() + budget
        last = None
        while time.monotonic() < deadline:  # drain the steps, read the answers, again, until nothing moves
            wait_for("the workers", lambda: count(automated_open) == 0, deadline - time.monotonic(), procs, every=2)
            run_deployment("inbox/inbox", env, procs)
            time.sleep(10)
            state = (count(automated_open), count(claims_out), count("SELECT count(*) FROM interactions"))
            if state == last and state[0] == 0:
                break
            last = state
        worked_s = round(time.monotonic() - t_run, 1)

        from rq import Worker

        workers = {
            f"pid {w.pid}": {"successful_jobs": w.successful_job_count, "failed_jobs": w.failed_job_count}
            for w in Worker.all(connection=Redis.from_url(REDIS_URL))
        }
        with engine.connect() as conn:
            claims = dict(conn.execute(text("SELECT status, count(*) FROM claims WHERE session_id = ANY(:ids) "
                                            "GROUP BY status"), {"ids": live}).all())  # fmt: skip
            items = dict(conn.execute(text("SELECT mode || ' ' || state, count(*) FROM work_items WHERE "
                                           "session_id = ANY(:ids) GROUP BY 1"), {"ids": live}).all())  # fmt: skip
            stuck = int(conn.scalar(text(automated_open), {"ids": live}))
            failed = int(conn.scalar(text("SELECT count(*) FROM work_items WHERE session_id = ANY(:ids) AND "
                                          "state = 'failed'"), {"ids": live}))  # fmt: skip
        browsing.stopping.set()
        browsing.join(timeout=30)
        report = {
            "benchmark": "scale_out",
            "database": "postgresql",
            "prefect_database": "sqlite" if args.prefect_sqlite else "postgresql",
            "web_processes": args.web,
            "workers": args.workers,
            "seed_s": seed_s,
            "processes_ready_s": ready_s,
            "sessions_live": len(live),
            "sessions_planned_s": planned_s,
            "end_to_end_s": worked_s,
            "jobs_per_worker": workers,
            "all_workers_took_work": len(workers) == args.workers
            and all(w["successful_jobs"] > 0 for w in workers.values()),
            "claims": claims,
            "claims_paid": claims.get("paid", 0) + claims.get("partially_paid", 0),
            "items": items,
            "items_stuck": stuck,
            "items_failed": failed,
            "pages": dict(browsing.pages),
            "pages_not_200": sum(n for key, n in browsing.pages.items() if not key.endswith(" 200")),
            "machine": {
                "cores": os.cpu_count(),
                "loadavg_before": [round(x, 2) for x in load_before],
                "loadavg_after": [round(x, 2) for x in os.getloadavg()],
            },  # fmt: skip
        }
    finally:
        if browsing is not None:
            browsing.stopping.set()
        procs.stop()
        engine.dispose()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
