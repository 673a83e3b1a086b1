"""The `backoffice` command: help, user creation, and a burst worker against real Redis."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import select

from backoffice.accounts.models import User
from backoffice.cli import cli
from backoffice.extensions import db
from backoffice.work.chains import create_chain
from backoffice.work.models import WorkItem
from backoffice.work.rules import Mode
from tests import factories as f
from tests.factories import NOW


def test_help_lists_every_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "backoffice.cli", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    for command in ("db", "demo", "serve", "users", "worker"):
        assert f"  {command} " in result.stdout


def test_users_create_makes_a_biller_for_named_practices(app, runner) -> None:
    with app.app_context():
        org = f.make_org(slug="acme")
        practice_id = f.make_practice(org, slug="calm-mind").id
    result = runner.invoke(
        cli,
        [
            "users",
            "create",
            "--email",
            "New@Example.test",
            "--name",
            "New Biller",
            "--role",
            "biller",
            "--password",
            "long enough pw",
            "--practice",
            "calm-mind",
            "--queue",
            "coding",
        ],
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalars(select(User).where(User.email == "new@example.test")).one()
        assert [p.id for p in user.practices] == [practice_id] and user.queues == ["coding"]


def test_users_create_names_an_unknown_practice(app, runner) -> None:
    with app.app_context():
        f.make_org()
    result = runner.invoke(
        cli,
        [
            "users",
            "create",
            "--email",
            "a@example.test",
            "--name",
            "A",
            "--role",
            "biller",
            "--password",
            "long enough pw",
            "--practice",
            "nope",
        ],
    )
    assert result.exit_code == 2
    assert "unknown slug(s): nope" in result.output


def test_users_create_reports_a_short_password(app, runner) -> None:
    with app.app_context():
        f.make_org()
    result = runner.invoke(
        cli, ["users", "create", "--email", "a@example.test", "--name", "A", "--role", "biller", "--password", "short"]
    )
    assert result.exit_code == 1
    assert "password: at least 10 characters" in result.output


def test_worker_burst_runs_queued_automation(app, runner) -> None:
    with app.app_context():
        practice = f.make_practice(f.make_org())
        item_id = create_chain(session=f.make_session(practice), kinds=["audit"], now=NOW, automated=["audit"])[0].id
    result = runner.invoke(cli, ["worker", "--burst", "--simple"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.get(WorkItem, item_id).mode == Mode.MANUAL  # no audit automation yet: handed over
