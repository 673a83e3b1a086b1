"""Prefect's environment and a local Prefect server for `backoffice flows` and the demo.

``prefect_env`` must run before anything imports ``prefect`` (importing it creates PREFECT_HOME and reads
its settings once). ``local_server`` starts ``prefect server start`` on loopback when no PREFECT_API_URL is
set (schedules never run on Prefect's ephemeral server), and stops it on exit. In production point
PREFECT_API_URL at a long-running server backed by PostgreSQL
(``PREFECT_API_DATABASE_CONNECTION_URL=postgresql+asyncpg://…``); SQLite locks under load.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

QUIET_AND_OFFLINE = {
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    "PREFECT_UI_ENABLED": "false",
    # A served deployment looks for runs to start every this many seconds (Prefect's default: 10): an import's
    # intake run starts within about that much, well inside the 5 s target from import to ready items.
    "PREFECT_RUNNER_POLL_FREQUENCY": "1",
}
STARTUP_TIMEOUT = 90.0  # seconds; a cold SQLite-backed server takes 13-20 s
STOP_TIMEOUT = 15.0


def prefect_env(instance_path: str | Path) -> dict[str, str]:
    """Point PREFECT_HOME under the instance folder and keep Prefect offline and quiet; values already in
    the environment win. Returns what is in effect. Call before importing ``prefect``."""
    home = Path(instance_path) / "prefect"
    os.environ.setdefault("PREFECT_HOME", str(home))
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    for key, value in QUIET_AND_OFFLINE.items():
        os.environ.setdefault(key, value)
    # Offline is not optional: these two are forced even when the environment said otherwise.
    os.environ["DO_NOT_TRACK"] = "1"
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    return {key: os.environ[key] for key in ("PREFECT_HOME", *QUIET_AND_OFFLINE)}


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(api_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:  # noqa: S310 - loopback only
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def start_server(port: int | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``prefect server start`` on 127.0.0.1 and wait until /api/health answers; returns (process, url)."""
    port = port or free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    log_path = Path(os.environ.get("PREFECT_HOME", ".")) / "server.log"
    log = log_path.open("ab")
    cmd = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    # Own process group: a terminal's Ctrl+C reaches us, and we stop the server in order.
    process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # noqa: S603
    log.close()
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the Prefect server exited with {process.returncode}; see {log_path}")
        if _healthy(api_url):
            return process, api_url
        time.sleep(0.5)
    stop_server(process)
    raise RuntimeError(f"the Prefect server did not become healthy in {STARTUP_TIMEOUT:.0f} s; see {log_path}")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, wait, then kill what is left."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextlib.contextmanager
def local_server() -> Iterator[str]:
    """Yield a Prefect API URL: PREFECT_API_URL if set, else a server started here and stopped on exit
    (also on Ctrl+C). Prefect's settings are pointed at it for the duration."""
    existing = os.environ.get("PREFECT_API_URL")
    if existing:
        yield existing
        return
    process, api_url = start_server()
    os.environ["PREFECT_API_URL"] = api_url
    try:
        from prefect.settings import PREFECT_API_URL, temporary_settings  # noqa: PLC0415 - after prefect_env

        with temporary_settings(updates={PREFECT_API_URL: api_url}):
            yield api_url
    finally:
        os.environ.pop("PREFECT_API_URL", None)
        stop_server(process)


_factory: Callable[[], Flask] | None = None
_current: Flask | None = None


def _environment_app() -> Flask:
    from backoffice.app import create_app  # noqa: PLC0415 - flows import the app only when they run

    return create_app()


@contextlib.contextmanager
def app_factory(factory: Callable[[], Flask]) -> Iterator[None]:
    """Make flow runs in this process build their app with ``factory`` (tests, benchmarks)."""
    global _factory  # noqa: PLW0603 - one factory per process, swapped only by tests and benchmarks
    previous, _factory = _factory, factory
    try:
        yield
    finally:
        _factory = previous


@contextlib.contextmanager
def flow_app() -> Iterator[Flask]:
    """The app of the current flow run: created once from the environment's settings, shared by its tasks."""
    global _current  # noqa: PLW0603 - flow runs of a served deployment each run in their own process
    previous, _current = _current, (_factory or _environment_app)()
    try:
        yield _current
    finally:
        _current = previous


def current_flow_app() -> Flask:
    """The app ``flow_app`` made for this flow run (tasks call this; their parameters stay IDs only)."""
    if _current is None:
        raise RuntimeError("no flow app: tasks run inside a flow that entered flow_app()")
    return _current
