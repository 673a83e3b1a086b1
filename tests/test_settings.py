"""The settings loader: strict parsing, unknown names refused, secrets required, no import-time I/O."""

from __future__ import annotations

import subprocess
import sys

import pytest

from backoffice import create_app
from backoffice.settings import (
    SettingsError,
    default_database_url,
    instance_secret,
    load_settings,
    parse_bool,
    require_secret,
)


def test_defaults_are_development_with_no_urls_and_no_secret() -> None:
    settings = load_settings(environ={})
    assert (settings.env, settings.database_url, settings.redis_url) == ("development", None, None)
    assert settings.secret_key is None  # no key ships with the source: none to forge sessions with


def test_variables_are_read_with_the_prefix_and_overrides_win() -> None:
    settings = load_settings(
        environ={
            "BACKOFFICE_REDIS_URL": "redis://127.0.0.1:6379/2",
            "BACKOFFICE_LOGIN_MAX_FAILURES": "7",
            "PATH": "/bin",
            "BACKOFFICE_TEST_DATABASE_URL": "ignored: test-runner variable",
            "BACKOFFICE_BENCH_DATABASE_URL": "ignored: benchmark variable",
        },
        overrides={"login_max_failures": 9},
    )
    assert settings.redis_url == "redis://127.0.0.1:6379/2" and settings.login_max_failures == 9


def test_an_unknown_backoffice_variable_is_an_error_naming_it() -> None:
    with pytest.raises(SettingsError, match="BACKOFFICE_DATABSE_URL: unknown setting"):
        load_settings(environ={"BACKOFFICE_DATABSE_URL": "sqlite://"})


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("1", True),
        ("TRUE", True),
        ("yes", True),
        ("on", True),
        ("0", False),
        ("False", False),
        ("no", False),
        (" off ", False),
    ],
)
def test_booleans_accept_a_fixed_set_of_spellings(raw: str, expected: bool) -> None:
    assert parse_bool("flag", raw) is expected


@pytest.mark.parametrize("raw", ["y", "enabled", "", "2", "truee"])
def test_other_boolean_spellings_are_errors(raw: str) -> None:
    with pytest.raises(SettingsError, match="BACKOFFICE_FLAG"):
        parse_bool("flag", raw)


@pytest.mark.parametrize(
    "environ, message",
    [
        ({"BACKOFFICE_ENV": "production"}, "SECRET_KEY is required in production"),
        ({"BACKOFFICE_ENV": "test"}, "SECRET_KEY is required in test"),
        ({"BACKOFFICE_ENV": "production", "BACKOFFICE_SECRET_KEY": "short"}, "at least 32"),
        ({"BACKOFFICE_SECRET_KEY": "development-only-secret-key"}, "at least 32"),
        ({"BACKOFFICE_ENV": "staging"}, "BACKOFFICE_ENV"),
        ({"BACKOFFICE_TIMEZONE": "Mars/Olympus"}, "unknown time zone"),
        ({"BACKOFFICE_LOGIN_MAX_FAILURES": "five"}, "expected an integer"),
        ({"BACKOFFICE_LOGIN_MAX_FAILURES": "0"}, "must be positive"),
        ({"BACKOFFICE_REDIS_URL": "localhost:6379"}, "redis://"),
        ({"BACKOFFICE_DATABASE_URL": "backoffice.db"}, "not a URL"),
    ],
)
def test_bad_settings_are_refused_with_the_variable_named(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(environ=environ)


def test_production_with_a_real_secret_is_accepted_and_uses_secure_cookies(tmp_path) -> None:
    settings = load_settings(
        environ={
            "BACKOFFICE_ENV": "production",
            "BACKOFFICE_SECRET_KEY": "x" * 40,
            "BACKOFFICE_DATABASE_URL": "postgresql+psycopg://db/backoffice",
        },
        overrides={"instance_path": str(tmp_path)},
    )
    app = create_app(settings=settings)
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_the_default_database_is_a_sqlite_file_in_the_instance_folder(tmp_path) -> None:
    app = create_app(settings=load_settings(environ={}, overrides={"instance_path": str(tmp_path)}))
    assert app.config["SQLALCHEMY_DATABASE_URI"] == default_database_url(tmp_path)
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/backoffice.sqlite3"


def test_importing_every_module_and_building_the_app_opens_no_connection() -> None:
    """Unreachable database and Redis: importing and create_app must still succeed, quickly."""
    code = (
        "import pkgutil, importlib, backoffice, workers, flows\n"
        "for pkg in (backoffice, workers, flows):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(m.name)\n"
        "from backoffice import create_app\n"
        "create_app()\n"
        "print('ok')\n"
    )
    env = {
        "BACKOFFICE_DATABASE_URL": "postgresql+psycopg://nobody@192.0.2.1:1/none",
        "BACKOFFICE_REDIS_URL": "redis://192.0.2.1:1/0",
        "BACKOFFICE_SECRET_KEY": "s" * 40,  # backoffice.wsgi builds the serving app, which needs one
        "PATH": "/usr/bin:/bin",
        "HOME": "/tmp",
    }
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_a_process_that_serves_needs_a_secret_outside_demo_and_tests(tmp_path) -> None:
    """Finding 4: without BACKOFFICE_ENV=production, `serve` signed sessions with a constant from the source."""
    with pytest.raises(SettingsError, match="BACKOFFICE_SECRET_KEY is required"):
        require_secret(load_settings(environ={}), instance_path=tmp_path)
    configured = load_settings(environ={"BACKOFFICE_SECRET_KEY": "k" * 40})
    assert require_secret(configured, instance_path=tmp_path).secret_key == "k" * 40
    assert not (tmp_path / "secret_key").exists()


def test_the_demo_makes_a_random_secret_per_instance_kept_readable_by_its_owner_only(tmp_path) -> None:
    demo = load_settings(environ={"BACKOFFICE_ENV": "demo"})
    first = require_secret(demo, instance_path=tmp_path / "a").secret_key
    assert first and len(first) >= 32
    assert (tmp_path / "a" / "secret_key").stat().st_mode & 0o777 == 0o600
    assert require_secret(demo, instance_path=tmp_path / "a").secret_key == first  # a restart keeps the sessions
    assert instance_secret(tmp_path / "b") != first  # another instance, another key


@pytest.mark.parametrize("command", [["serve", "--port", "1"], ["worker", "--burst"], ["flows", "serve"]])
def test_serve_worker_and_flows_refuse_to_start_without_a_secret(command: list[str], tmp_path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "BACKOFFICE_INSTANCE_PATH": str(tmp_path),
        "BACKOFFICE_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "BACKOFFICE_REDIS_URL": "redis://192.0.2.1:1/0",  # never reached: the command stops first
    }
    done = subprocess.run(
        [sys.executable, "-m", "backoffice.cli", *command], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1, done.stderr
    assert "BACKOFFICE_SECRET_KEY is required" in done.stderr
    assert not (tmp_path / "secret_key").exists()
