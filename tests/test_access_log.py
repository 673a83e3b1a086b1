"""Query strings (``/patients?q=<surname>``) and referrers never reach the web servers' access logs: the real
``backoffice serve`` (gunicorn) and the real werkzeug server ``backoffice demo`` runs, each asked over HTTP."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from backoffice.access_log import ACCESS_LOG_FORMAT, PathOnlyRequestHandler, path_only
from tests.conftest import TEST_SECRET

SURNAME = "Zyxwvutsrq"  # stands for a patient's name typed into the search box
QUERIES = (f"/patients?q={SURNAME}", f"/login?next=%2Fpatients%3Fq%3D{SURNAME}", f"/healthz?{SURNAME}=1")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _ask(base: str, path: str) -> None:
    headers = {"Referer": f"{base}/patients?q={SURNAME}"}
    request = urllib.request.Request(base + path, headers=headers)  # noqa: S310 - a loopback URL built here
    with contextlib.suppress(urllib.error.HTTPError):  # a redirect to sign in or a 4xx is still logged
        urllib.request.urlopen(request, timeout=10).read()  # noqa: S310


def test_path_only_drops_the_query_and_fragment() -> None:
    assert path_only("/patients?q=Smith") == "/patients"
    assert path_only("/patients#top") == "/patients"
    assert path_only("/items/5") == "/items/5"


def test_gunicorn_under_backoffice_serve_logs_paths_without_query_strings(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("BACKOFFICE_")},
        "BACKOFFICE_ENV": "test",
        "BACKOFFICE_SECRET_KEY": TEST_SECRET,
        "BACKOFFICE_DATABASE_URL": database_url,
        "BACKOFFICE_REDIS_URL": redis_url,
        "BACKOFFICE_INSTANCE_PATH": str(tmp_path),
    }
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "backoffice"), "serve", "--port", str(port), "--workers", "1"],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(base + "/healthz", timeout=2).read()  # noqa: S310
                    break
                except (urllib.error.URLError, ConnectionError):
                    assert server.poll() is None, log_path.read_text()
                    assert time.monotonic() < deadline, "gunicorn did not start"
                    time.sleep(0.2)
            for path in QUERIES:
                _ask(base, path)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    text = log_path.read_text()
    assert '"GET /patients HTTP/1.1" 302' in text and '"GET /login HTTP/1.1" 200' in text, text
    assert SURNAME not in text and "?" not in text.split("Listening at")[-1], text


def test_the_demo_servers_request_handler_logs_paths_without_query_strings(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=PathOnlyRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with caplog.at_level(logging.INFO, logger="werkzeug"):
            base = f"http://127.0.0.1:{server.server_port}"
            for path in QUERIES:
                _ask(base, path)
            with socket.create_connection(("127.0.0.1", server.server_port)) as raw:  # a malformed request line
                raw.sendall(f"GET /patients?q={SURNAME} HTTP/1.1 extra\r\n\r\n".encode())
                raw.recv(1024)
    finally:
        server.shutdown()
        thread.join(timeout=10)
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert '"GET /patients HTTP/1.1" 302' in text and '"GET /login HTTP/1.1" 200' in text, text
    assert SURNAME not in text, text


def test_the_gunicorn_format_names_neither_the_request_line_nor_the_referrer() -> None:
    assert "%(r)s" not in ACCESS_LOG_FORMAT and "%(f)s" not in ACCESS_LOG_FORMAT and "%(q)s" not in ACCESS_LOG_FORMAT
    assert "%(U)s" in ACCESS_LOG_FORMAT
