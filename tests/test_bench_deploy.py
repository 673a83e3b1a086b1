"""The production wiring the deployment guide (docs/deploy.md) and the scale-out bench rely on: the WSGI entry
point, the health check, and the client's address taken from a trusted reverse proxy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from backoffice import create_app
from backoffice.audit.models import AuditEvent
from backoffice.extensions import db
from backoffice.settings import SettingsError, load_settings
from tests.conftest import csrf_token, make_settings

ROOT = Path(__file__).resolve().parent.parent


def test_healthz_answers_ok_without_signing_in(client) -> None:  # noqa: ANN001
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "ok\n"


def test_healthz_is_503_when_the_database_does_not_answer(tmp_path: Path) -> None:
    unreachable = f"sqlite:///{tmp_path / 'no-such-folder' / 'db.sqlite3'}"
    app = create_app(settings=make_settings(unreachable, str(tmp_path)))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_data(as_text=True) == "database unavailable\n"


def _failed_sign_in(app: Flask, **environ: str) -> str | None:
    client = app.test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"email": "nobody@example.com", "password": "wrong", "csrf_token": token},
                environ_base=environ)  # fmt: skip
    with app.app_context():
        failed = select(AuditEvent.remote_addr).where(AuditEvent.action == "login_failed")
        address = db.session.scalar(failed.order_by(AuditEvent.id.desc()).limit(1))
        db.session.remove()
    return address


def test_behind_a_trusted_proxy_the_client_address_comes_from_x_forwarded_for(
    app: Flask, database_url: str, redis_url: str, tmp_path: Path
) -> None:
    forwarded = {"HTTP_X_FORWARDED_FOR": "203.0.113.9", "REMOTE_ADDR": "10.0.0.2"}
    assert _failed_sign_in(app, **forwarded) == "10.0.0.2"  # no proxy configured: the header is not trusted
    proxied = create_app(settings=make_settings(database_url, str(tmp_path), redis_url, proxy_hops=1))
    try:
        assert _failed_sign_in(proxied, **forwarded) == "203.0.113.9"
    finally:
        with proxied.app_context():
            db.engine.dispose()


def test_proxy_hops_must_be_a_positive_count() -> None:
    with pytest.raises(SettingsError, match="BACKOFFICE_PROXY_HOPS"):
        load_settings(environ={"BACKOFFICE_PROXY_HOPS": "one"})
    assert load_settings(environ={}).proxy_hops == 0
    assert load_settings(environ={"BACKOFFICE_PROXY_HOPS": "2"}).proxy_hops == 2


def _import_wsgi(**environ: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKOFFICE_")} | environ
    code = (
        "import gc; from backoffice.wsgi import app;"
        "print(app.name, app.config['SESSION_COOKIE_SECURE'], gc.get_freeze_count() > 10000)"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)  # noqa: S603


def test_the_wsgi_module_builds_the_app_from_the_environment(tmp_path: Path) -> None:
    done = _import_wsgi(BACKOFFICE_ENV="production", BACKOFFICE_SECRET_KEY="s" * 40,
                        BACKOFFICE_INSTANCE_PATH=str(tmp_path))  # fmt: skip
    assert done.returncode == 0, done.stderr
    # ... and moves it out of the garbage collector's way (backoffice.app.freeze_for_workers).
    assert done.stdout.split() == ["backoffice", "True", "True"]


def test_the_wsgi_module_refuses_production_without_a_secret(tmp_path: Path) -> None:
    done = _import_wsgi(BACKOFFICE_ENV="production", BACKOFFICE_INSTANCE_PATH=str(tmp_path))
    assert done.returncode != 0
    assert "BACKOFFICE_SECRET_KEY is required" in done.stderr
