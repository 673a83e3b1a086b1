"""The `backoffice` command: every process (web, worker, demo, migrations, users) starts here.

Each command imports what it uses when it runs (the only imports inside functions in the package, with
``backoffice/__init__``'s lazy ``create_app``): ``backoffice --help`` stays instant, and Prefect is imported only
after ``flows.runtime.prefect_env`` has set its home. None of them avoids an import cycle
(tests/test_architecture.py)."""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from flask_migrate.cli import db as db_group

from backoffice.access_log import ACCESS_LOG_FORMAT, PathOnlyRequestHandler
from backoffice.app import create_app, freeze_for_workers, instance_path_for
from backoffice.clock import utcnow
from backoffice.errors import ServiceError
from backoffice.settings import Settings, SettingsError, load_settings, require_secret


def _create_app() -> Flask:
    return create_app()


@click.group(
    cls=FlaskGroup, create_app=_create_app, add_default_commands=False, add_version_option=False, load_dotenv=False
)
@click.version_option(package_name="backoffice", prog_name="backoffice")
def cli() -> None:
    """Back office for mental-health billing companies.

    Configure with BACKOFFICE_* environment variables (see README). `backoffice demo` runs
    everything with demo data on SQLite and an embedded Redis.
    """


cli.add_command(db_group)
# The app always comes from create_app and BACKOFFICE_* settings: hide Flask's --app/--env-file/--debug.
cli.params = [param for param in cli.params if param.name not in ("app", "env_file", "debug")]


@cli.group()
def users() -> None:
    """Manage users."""


@users.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(["biller", "supervisor", "admin"]), required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--organization", "org_slug", help="Organization slug (default: the only one).")
@click.option("--practice", "practice_slugs", multiple=True, help="Practice slug the user serves (repeat).")
@click.option("--queue", "queues", multiple=True, help="Queue the user works (repeat).")
@with_appcontext
def users_create(
    email: str,
    name: str,
    role: str,
    password: str,
    org_slug: str | None,
    practice_slugs: tuple[str, ...],
    queues: tuple[str, ...],
) -> None:
    """Create a user."""
    from sqlalchemy import select

    from backoffice.accounts.services import create_user
    from backoffice.extensions import db
    from backoffice.orgs.models import Practice

    org = _organization(org_slug)
    practices = db.session.scalars(select(Practice).where(Practice.slug.in_(practice_slugs))).all()
    missing = set(practice_slugs) - {p.slug for p in practices}
    if missing:
        raise click.UsageError(f"--practice: unknown slug(s): {', '.join(sorted(missing))}")
    try:
        user = create_user(
            organization_id=org.id,
            email=email,
            name=name,
            role=role,
            password=password,
            now=utcnow(),
            practices=practices,
            queues=queues,
        )
    except ServiceError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"created {user.role.value} {user.email} (id {user.id})")


@users.command("token")
@click.option("--email", required=True, help="The user the token acts as.")
@click.option("--scope", "scopes", multiple=True, required=True, help="sessions:write, work:read, work:write, "
              "claims:read, admin:read or admin:write (repeat).")  # fmt: skip
@click.option("--name", default="API token", show_default=True, help="A label for the token.")
@click.option("--days", type=int, help="How long the token works (1-366; default BACKOFFICE_API_TOKEN_DAYS, 90).")
@with_appcontext
def users_token(email: str, scopes: tuple[str, ...], name: str, days: int | None) -> None:
    """Issue an API token for a user; it is printed once and only its hash is stored. It expires."""
    from sqlalchemy import select

    from backoffice.accounts.models import User
    from backoffice.accounts.services import normalize_email
    from backoffice.api.services import issue_token
    from backoffice.extensions import db

    user = db.session.scalar(select(User).where(User.email == normalize_email(email)))
    if user is None:
        raise click.UsageError(f"--email: no user {email}")
    try:
        lifetime = days or current_app.config["BACKOFFICE_SETTINGS"].api_token_days
        row, token = issue_token(user=user, scopes=scopes, name=name, now=utcnow(), days=lifetime)
    except ServiceError as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        f"token {row.prefix}… (id {row.id}) for {user.email}, scopes {' '.join(row.scopes)}, "
        f"expires {row.expires_at:%Y-%m-%d %H:%M} UTC:",
        err=True,
    )
    click.echo(token)


@users.command("tokens")
@click.option("--email", required=True, help="Whose tokens.")
@with_appcontext
def users_tokens(email: str) -> None:
    """List a user's API tokens with their scopes, last use and expiry (never the tokens themselves)."""
    from backoffice.api.services import tokens_of

    now = utcnow()
    for row in tokens_of(_user_by_email(email)):
        state = "revoked" if row.revoked_at else "EXPIRED" if row.expires_at <= now else "live"
        used = f"{row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "never"
        click.echo(
            f"{row.id:>5}  {row.prefix}…  {state:<7}  expires {row.expires_at:%Y-%m-%d %H:%M} UTC  last used {used}  "
            f"{' '.join(row.scopes)}  {row.name}"
        )


@users.command("set-password")
@click.option("--email", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@with_appcontext
def users_set_password(email: str, password: str) -> None:
    """Set a user's password (a forgotten one): the password policy applies and every session of theirs ends."""
    from backoffice.accounts.services import set_password

    user = _user_by_email(email)
    try:
        set_password(user=user, password=password, now=utcnow())
    except ServiceError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"password of {user.email} changed; every session of theirs ended")


@users.command("sign-out-everywhere")
@click.option("--email", required=True)
@with_appcontext
def users_sign_out_everywhere(email: str) -> None:
    """End every session of a user and forget their remembered browsers (recorded on the audit trail)."""
    from backoffice.accounts.signins import sign_out_everywhere

    user = _user_by_email(email)
    ended = sign_out_everywhere(user=user, now=utcnow())
    click.echo(f"{user.email}: {ended} session(s) ended")


@users.command("deactivate")
@click.option("--email", required=True)
@with_appcontext
def users_deactivate(email: str) -> None:
    """Deactivate a user: no sign-in, every session ended, API tokens refused (recorded on the audit trail)."""
    from backoffice.accounts.services import set_user_active

    user = _user_by_email(email)
    set_user_active(user=user, active=False, now=utcnow())
    click.echo(f"{user.email} is deactivated")


@users.command("reactivate")
@click.option("--email", required=True)
@with_appcontext
def users_reactivate(email: str) -> None:
    """Let a deactivated user sign in again (recorded on the audit trail)."""
    from backoffice.accounts.services import set_user_active

    user = _user_by_email(email)
    set_user_active(user=user, active=True, now=utcnow())
    click.echo(f"{user.email} is active")


@users.command("reset-mfa")
@click.option("--email", required=True)
@with_appcontext
def users_reset_mfa(email: str) -> None:
    """Reset a user's two-step sign-in (a lost phone and lost recovery codes): they set it up again at their next
    sign-in if their role requires it; every session of theirs ends (recorded on the audit trail)."""
    from backoffice.accounts.mfa import reset_mfa

    user = _user_by_email(email)
    reset_mfa(user=user, now=utcnow())
    click.echo(f"two-step sign-in of {user.email} reset")


@users.command("set-role")
@click.option("--email", required=True)
@click.option("--role", type=click.Choice(["biller", "supervisor", "admin"]), required=True)
@with_appcontext
def users_set_role(email: str, role: str) -> None:
    """Change a user's role (recorded on the audit trail)."""
    from backoffice.accounts.services import change_role

    user = _user_by_email(email)
    try:
        change_role(user=user, role=role, now=utcnow())
    except ServiceError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{user.email} is now {role}")


@users.command("revoke-token")
@click.option("--id", "token_id", type=int, required=True, help="The token's id (printed when it was issued).")
@with_appcontext
def users_revoke_token(token_id: int) -> None:
    """Revoke an API token for good (recorded on the audit trail)."""
    from backoffice.api.models import ApiToken
    from backoffice.api.services import revoke_token
    from backoffice.extensions import db

    token = db.session.get(ApiToken, token_id)
    if token is None:
        raise click.UsageError(f"--id: no token {token_id}")
    try:
        revoke_token(token=token, now=utcnow())
    except ServiceError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"token {token.prefix}… (id {token.id}) revoked")


def _user_by_email(email: str):  # noqa: ANN202
    from sqlalchemy import select

    from backoffice.accounts.models import User
    from backoffice.accounts.services import normalize_email
    from backoffice.extensions import db

    user = db.session.scalar(select(User).where(User.email == normalize_email(email)))
    if user is None:
        raise click.UsageError(f"--email: no user {email}")
    return user


@cli.command("setup")
@click.option("--organization", "org_slug", required=True, help="The billing company's slug (lower-case, hyphens).")
@click.option("--organization-name", "org_name", required=True, help="The billing company's name.")
@click.option("--admin-email", required=True)
@click.option("--admin-name", required=True)
@click.option("--admin-password", help="The first admin's password (default: print a one-time set-password link).")
@with_appcontext
def setup_command(org_slug: str, org_name: str, admin_email: str, admin_name: str, admin_password: str | None) -> None:
    """First run: create the billing company and its first admin on an empty, migrated database. Refuses, changing
    nothing, when an organization exists. Admins must set up two-step sign-in at their first sign-in."""
    from backoffice.onboarding.people import set_password_token
    from backoffice.onboarding.services import setup_organization

    now = utcnow()
    try:
        org, user = setup_organization(slug=org_slug, name=org_name, admin_email=admin_email, admin_name=admin_name,
                                       admin_password=admin_password, now=now)  # fmt: skip
    except ServiceError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"created organization {org.slug} ({org.name}) and its admin {user.email}")
    if admin_password is None:
        click.echo("Send the admin this one-time link to set a password (valid 7 days), on your server's address:")
        click.echo(f"  /set-password/{set_password_token(user, now)}")
    click.echo("Sign in, set up two-step sign-in, then add practices, payers and users under Setup.")


@cli.group("import")
def import_group() -> None:
    """Import what practices send us."""


MAX_ERRORS_SHOWN = 50


@import_group.command("sessions")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--organization", "org_slug", help="Organization slug (default: the only one).")
@click.option(
    "--plan/--no-plan",
    default=True,
    show_default=True,
    help="Trigger the intake flow run that plans the new sessions (inline when Prefect is not reachable).",
)
@with_appcontext
def import_sessions_command(path: Path, org_slug: str | None, plan: bool) -> None:
    """Import sessions from a CSV file (format: docs/import-format.md). All or nothing: any bad row is
    reported with its row and column, nothing is written, and the exit code is 1."""
    from backoffice.intake.dispatch import flow_server_url, plan_imported
    from backoffice.sessions.services import ImportRefused, import_sessions

    org = _organization(org_slug)
    now = utcnow()
    try:
        rows, errors = _read_session_file(path)
        if errors:
            raise ImportRefused(errors)
        result = import_sessions(rows=rows, organization_id=org.id, now=now, source=path.name)
    except ImportRefused as refused:
        _report_row_errors(refused.errors, f"{path.name}; nothing was imported")
    planning = plan_imported(result.created, now=now, api_url=flow_server_url()) if plan else None
    planning_text = planning.describe() if planning else "not planned (--no-plan)"
    click.echo(
        f"imported {len(result.created)} new session(s), {result.unchanged} already imported and unchanged; "
        f"{result.patients_created} new patient(s), {result.coverages_created} new coverage(s); {planning_text}"
    )
    for change in result.coverage_changes:
        click.echo(change)


@import_group.command("appointments")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--organization", "org_slug", help="Organization slug (default: the only one).")
@with_appcontext
def import_appointments_command(path: Path, org_slug: str | None) -> None:
    """Import upcoming appointments from a CSV file (README "Appointments"). All or nothing: any bad row is
    reported with its row and column, nothing is written, and the exit code is 1."""
    from backoffice.appointments.rules import parse_csv
    from backoffice.appointments.services import AppointmentsRefused, import_appointments

    org = _organization(org_slug)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    except UnicodeDecodeError as error:
        raise click.ClickException(f"{path.name} is not UTF-8 text (first bad byte at offset {error.start})") from None
    try:
        rows, errors = parse_csv(lines, today=_org_today())
        if errors:
            raise AppointmentsRefused(errors)
        result = import_appointments(rows=rows, organization_id=org.id, now=utcnow(), source=path.name)
    except AppointmentsRefused as refused:
        _report_row_errors(refused.errors, f"{path.name}; nothing was imported")
    click.echo(
        f"imported {len(result.created)} new appointment(s), {len(result.updated)} changed, {result.unchanged} "
        f"unchanged; {result.cancelled} cancelled, {result.no_shows} no-show(s), {len(result.fees)} fee(s) charged"
    )


@cli.group("appointments")
def appointments_group() -> None:
    """Upcoming appointments: their eligibility is checked N business days before the visit."""


@appointments_group.command("check-eligibility")
@click.option("--practice", "practice_slug", help="Only this practice (default: every active practice).")
@with_appcontext
def check_appointments_command(practice_slug: str | None) -> None:
    """Run the eligibility batch now (what the appointment-eligibility flow does every morning): every appointment
    whose check day has come is asked about through its practice's connection; problems open items."""
    import json

    from sqlalchemy import select

    from backoffice.appointments.services import check_due_eligibility
    from backoffice.extensions import db
    from backoffice.orgs.models import Practice

    ids = None
    if practice_slug:
        ids = list(db.session.scalars(select(Practice.id).where(Practice.slug == practice_slug)))
        if not ids:
            raise click.UsageError(f"--practice: no practice {practice_slug!r}")
    summary = check_due_eligibility(now=utcnow(), practice_ids=ids)
    click.echo(json.dumps(summary.__dict__, sort_keys=True))


ONBOARDING_FILES = {"payers": "payer directory", "fees": "fee schedule", "rates": "contracted rates"}


def _onboarding_import(kind: str, path: Path, org_slug: str | None, practice_slug: str | None) -> None:
    """Read an onboarding CSV and apply it, all or nothing; bad rows are printed by row and column (exit 1)."""
    from sqlalchemy import select

    from backoffice.extensions import db
    from backoffice.onboarding import csv_files, services
    from backoffice.onboarding.rules import Refused
    from backoffice.orgs.models import Practice

    org = _organization(org_slug)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise click.ClickException(f"{path.name} is not UTF-8 text (first bad byte at offset {error.start})") from None
    rows, errors = csv_files.read(text, kind)
    practice = None
    if kind != "payers":
        practice = db.session.scalar(
            select(Practice).where(Practice.slug == practice_slug, Practice.organization_id == org.id)
        )
        if practice is None:
            raise click.UsageError(f"--practice: no practice {practice_slug!r} in {org.slug}")
    try:
        if errors:
            raise Refused(errors, ONBOARDING_FILES[kind])
        if kind == "payers":
            done = services.import_payers(organization_id=org.id, records=rows, actor=None, now=utcnow())
            summary = "{} added, {} changed, {} unchanged".format(*done)
        elif kind == "fees":
            changes = services.replace_fee_schedule(practice=practice, records=rows, actor=None, now=utcnow())
            summary = f"{len(changes)} code(s) changed"
        else:
            done = services.replace_contracted_rates(practice=practice, records=rows, actor=None, now=utcnow())
            summary = "{} added, {} changed, {} removed".format(*done)
    except Refused as refused:
        _report_row_errors(refused.errors, f"{path.name}; nothing was imported")
    click.echo(f"{ONBOARDING_FILES[kind]} imported from {path.name}: {summary}")


@import_group.command("payers")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--organization", "org_slug", help="Organization slug (default: the only one).")
@with_appcontext
def import_payers_command(path: Path, org_slug: str | None) -> None:
    """Import the payer directory from a CSV (the columns `export payers` writes): payers are matched by payer_id,
    added or updated; all or nothing."""
    _onboarding_import("payers", path, org_slug, None)


@import_group.command("fees")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--practice", "practice_slug", required=True)
@click.option("--organization", "org_slug", help="Organization slug (default: the only one).")
@with_appcontext
def import_fees_command(path: Path, practice_slug: str, org_slug: str | None) -> None:
    """Replace a practice's fee schedule with a CSV (cpt, modifier, charge); all or nothing."""
    _onboarding_import("fees", path, org_slug, practice_slug)


@import_group.command("rates")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--practice", "practice_slug", required=True)
@click.option("--organization", "org_slug", help="Organization slug (default: the only one).")
@with_appcontext
def import_rates_command(path: Path, practice_slug: str, org_slug: str | None) -> None:
    """Replace a practice's contracted rates with a CSV (payer_id, cpt, modifier, allowed, effective_from,
    effective_to); all or nothing."""
    _onboarding_import("rates", path, org_slug, practice_slug)


@cli.command("export")
@click.argument("kind", type=click.Choice(sorted(ONBOARDING_FILES)))
@click.option("--practice", "practice_slug", help="The practice (fees and rates).")
@click.option("--organization", "org_slug", help="Organization slug (default: the only one).")
@with_appcontext
def export_command(kind: str, practice_slug: str | None, org_slug: str | None) -> None:
    """Print the payer directory, a fee schedule or contracted rates as the CSV `import` takes."""
    from sqlalchemy import select

    from backoffice.extensions import db
    from backoffice.onboarding import csv_files, services
    from backoffice.orgs.models import Practice

    org = _organization(org_slug)
    if kind == "payers":
        click.echo(csv_files.write(kind, services.payer_records(org.id)), nl=False)
        return
    practice = db.session.scalar(
        select(Practice).where(Practice.slug == practice_slug, Practice.organization_id == org.id)
    )
    if practice is None:
        raise click.UsageError(f"--practice: no practice {practice_slug!r} in {org.slug}")
    records = services.fee_records(practice) if kind == "fees" else services.rate_records(practice)
    click.echo(csv_files.write(kind, records), nl=False)


@cli.command("code")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the JSON contract instead of a summary.")
@click.option("--organization", "org_slug", help="Organization slug (default: the only one).")
@with_appcontext
def code_command(path: Path, as_json: bool, org_slug: str | None) -> None:
    """Code and scrub the sessions of an import file without writing anything (a dry run).

    One result per row: a row with a bad value gets error findings naming the column, the others are coded.
    Same-day edits see every row of the file together."""
    import json

    from backoffice.scrubber.queries import as_contract, check_rows

    org = _organization(org_slug)
    entries, errors = _read_session_file(path, lenient=True)
    if errors:  # the header or the file itself is unreadable: there are no rows to report on
        _report_row_errors(errors, f"{path.name}; nothing was coded")
    results = check_rows(entries, organization_id=org.id, today=_org_today())
    if as_json:
        click.echo(json.dumps(as_contract(results), indent=2))
        return
    for result in results:
        status = "billable" if result.billable else "NOT billable"
        lines = "; ".join(
            f"{line.cpt}{'-' + '-'.join(line.modifiers) if line.modifiers else ''} x{line.units} POS {line.pos}"
            for line in result.lines
        )
        click.echo(f"{result.ref}: {status}  {lines or '(no lines)'}  filing by {result.filing_deadline or '-'}")
        for item in result.findings:
            click.echo(f"    {item.severity:<7} {item.rule}: {item.message}")
    billable = sum(1 for r in results if r.billable)
    click.echo(f"{len(results)} session(s): {billable} billable, {len(results) - billable} not")


@cli.group("edi")
def edi_group() -> None:
    """X12 EDI files: build and submit claims (837P), post remittances (835), ingest clearinghouse inboxes."""


@edi_group.command("parse-835")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the JSON contract instead of a summary.")
def parse_835_command(path: Path, as_json: bool) -> None:
    """Parse an 835 remittance without touching the database; unbalanced payments are flagged, not fixed."""
    import json

    from backoffice.x12.era835 import as_contract, parse_835
    from backoffice.x12.reader import X12Error
    from backoffice.x12.reader import decode as x12_decode

    try:
        remittances = parse_835(x12_decode(path.read_bytes()))
    except X12Error as error:
        raise click.ClickException(f"{path.name}: {error}") from None
    if as_json:
        click.echo(json.dumps(as_contract(remittances), indent=2))
        return
    for remittance in as_contract(remittances)["transactions"]:
        state = "balanced" if remittance["balanced"] else "NOT BALANCED"
        click.echo(
            f"{remittance['payer']['name'] or remittance['payer']['id']}: check {remittance['check_number']} "
            f"of {remittance['payment_date']}, paid {remittance['total_paid']}, "
            f"{len(remittance['claims'])} claim(s), {state}"
        )
        for problem in remittance["problems"]:
            click.echo(f"  {problem}")


@edi_group.command("build-837")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--practice", "practice_slug", required=True, help="The practice whose setup codes the file.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--receiver-name", default="CLEARINGHOUSE", show_default=True)
@click.option("--receiver-id", default="CLEARINGHOUSE", show_default=True, help="The receiver's ETIN (ISA08).")
@click.option("--organization", "org_slug", help="Organization slug (default: the only one).")
@with_appcontext
def build_837_command(
    path: Path, practice_slug: str, out_dir: Path, receiver_name: str, receiver_id: str, org_slug: str | None
) -> None:
    """Code an import file against a practice's setup and write the 837P it would send; changes nothing.

    Sessions that cannot be billed are listed with the reason. The file carries the test usage indicator (T)
    and control number 1: it is a preview, never a submission."""
    from sqlalchemy import select

    from backoffice.exchange.preview import build_837_preview
    from backoffice.extensions import db
    from backoffice.orgs.models import Practice
    from backoffice.x12.claim837_model import Receiver

    org = _organization(org_slug)
    practice = db.session.scalar(
        select(Practice).where(Practice.organization_id == org.id, Practice.slug == practice_slug)
    )
    if practice is None:
        raise click.UsageError(f"--practice: no practice {practice_slug!r} in {org.slug}")
    rows, errors = _read_session_file(path)
    preview = None
    if not errors:
        try:
            preview, errors = build_837_preview(
                rows, organization=org, practice=practice, receiver=Receiver(receiver_name, receiver_id),
                today=_org_today(), now=utcnow(),
            )  # fmt: skip
        except ServiceError as error:
            raise click.ClickException(str(error)) from None
    if errors:
        _report_row_errors(errors, f"{path.name}; nothing was built")
    for ref, why in preview.skipped:
        click.echo(f"skipped {ref}: {why}", err=True)
    if preview.text is None:
        click.echo(f"no billable session in {path.name}; no file written")
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{practice.slug}-{_org_today().isoformat()}.837"
    target.write_text(preview.text, encoding="ascii")
    click.echo(f"wrote {target}: {preview.claims} claim(s), {len(preview.skipped)} session(s) skipped")


@edi_group.command("export-837")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--org", "--organization", "org_slug", help="Only this organization (default: every organization).")
@with_appcontext
def export_837_command(out_dir: Path, org_slug: str | None) -> None:
    """Write an 837P per practice for every claim ready to submit (scrubbed) into DIR and mark them submitted.

    Control numbers come from the organization's persisted series; a claim version already submitted is
    never written again."""
    from backoffice.exchange.submission import export_837

    org_id = _organization(org_slug).id if org_slug else None
    try:
        result = export_837(out_dir=out_dir, now=utcnow(), organization_id=org_id)
    except (ServiceError, OSError) as error:
        raise click.ClickException(str(error)) from None
    for claim_id, why in result.skipped:
        click.echo(f"skipped claim {claim_id}: {why}", err=True)
    for sent in result.files:
        click.echo(
            f"wrote {out_dir / sent.filename}: {len(sent.claim_ids)} claim(s), ISA13 {sent.interchange_control_number}"
        )
    click.echo(
        f"{len(result.submitted)} claim(s) submitted in {len(result.files)} file(s), {len(result.skipped)} skipped"
    )


@edi_group.command("post-835")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--org", "--organization", "org_slug", help="Organization slug (default: the only one).")
@with_appcontext
def post_835_command(path: Path, org_slug: str | None) -> None:
    """Record an 835 as an inbound EDI file and post it; the same file twice is refused (exit code 1)."""
    from backoffice.exchange.ingest import detect_kind, receive_file
    from backoffice.x12.reader import X12Error
    from backoffice.x12.reader import decode as x12_decode

    org = _organization(org_slug)
    text = x12_decode(path.read_bytes())
    try:
        kind = detect_kind(text)[0]
    except X12Error as error:
        raise click.ClickException(f"{path.name}: {error}") from None
    if kind != "835":
        raise click.ClickException(f"{path.name}: ST01 is {kind}, not 835 (use `backoffice edi ingest`)")
    received = receive_file(organization_id=org.id, practice_id=None, filename=path.name, content=text, now=utcnow())
    edi_file = received.edi_file
    if received.duplicate:
        raise click.ClickException(
            f"{path.name}: already received as EDI file {edi_file.id} ({edi_file.filename}, {edi_file.status}); "
            "nothing was posted"
        )
    if edi_file.status == "failed":
        raise click.ClickException(f"{path.name}: not posted: {'; '.join(edi_file.problems)}")
    summary = edi_file.summary or {}
    click.echo(
        f"posted {path.name} as EDI file {edi_file.id}: {summary.get('remittances_posted', 0)} remittance(s), "
        f"{summary.get('claims_posted', 0)} claim(s) posted, {summary.get('claims_unmatched', 0)} unmatched, "
        f"{summary.get('duplicates_refused', 0)} duplicate remittance(s) refused, "
        f"{summary.get('denial_items', 0)} denial item(s), {summary.get('exception_items', 0)} exception item(s)"
    )
    for problem in edi_file.problems or []:
        click.echo(f"    {problem}", err=True)


@edi_group.command("ingest")
@with_appcontext
def ingest_command() -> None:
    """Read every active practice's clearinghouse inbox and post each file (999, 277CA, 277, 835, 271)."""
    from backoffice.exchange.ingest import ingest_all

    summary = ingest_all(now=utcnow())
    for error in summary.errors:
        click.echo(f"skipped {error}", err=True)
    total = 0
    for slug, counts in summary.counts.items():
        for label, count in sorted(counts.items()):
            click.echo(f"{slug}: {count} {label}")
            total += count
    click.echo(f"{total} file(s) read from {len(summary.counts)} practice inbox(es)")


@cli.group("invoices")
def invoices_group() -> None:
    """The billing company's invoices to its client practices (contracts are set on /billing)."""


@invoices_group.command("close")
@click.option("--month", required=True, help="The month to close, YYYY-MM (it must have ended).")
@click.option("--practice", "practice_slug", help="Only this practice (default: every practice with a contract).")
@click.option("--org", "--organization", "org_slug", help="Organization slug (default: the only one).")
@with_appcontext
def close_invoices_command(month: str, practice_slug: str | None, org_slug: str | None) -> None:
    """Close a month: a draft invoice per practice from its client contract (a month closed before is left as it
    is, so the command can run on a schedule). Supervisors approve the drafts on /billing/invoices."""
    from sqlalchemy import select

    from backoffice.contracts import services
    from backoffice.extensions import db
    from backoffice.orgs.models import Practice

    org = _organization(org_slug)
    try:
        year, number = services.parse_month(month)
    except ServiceError as error:
        raise click.UsageError(str(error)) from None
    query = select(Practice).where(Practice.organization_id == org.id, Practice.active.is_(True))
    if practice_slug:
        query = query.where(Practice.slug == practice_slug)
    practices = db.session.scalars(query.order_by(Practice.slug)).all()
    if practice_slug and not practices:
        raise click.UsageError(f"--practice: no active practice {practice_slug!r} in {org.slug}")
    start, end = services.month_bounds(year, number)
    for practice in practices:
        if (
            services.contract_in_force(practice.id, end) is None
            and services.contract_in_force(practice.id, start) is None
        ):
            click.echo(f"{practice.slug}: no client contract in {month}; nothing to close")
            continue
        try:
            invoice = services.close_month(practice=practice, year=year, month=number, now=utcnow())
            db.session.commit()
        except ServiceError as error:
            raise click.ClickException(f"{practice.slug}: {error}") from None
        click.echo(f"{practice.slug}: {invoice.number} {invoice.status} total {invoice.total}")


@cli.group("reports")
def reports_group() -> None:
    """Reports from the command line."""


@reports_group.command("client")
@click.option("--practice", "practice_slug", required=True, help="The practice's slug.")
@click.option("--month", required=True, help="The month, YYYY-MM (in the practice's time zone).")
@click.option("--pdf", "pdf_path", type=click.Path(dir_okay=False, path_type=Path), help="Write the report as a PDF.")
@click.option("--org", "--organization", "org_slug", help="Organization slug (default: the only one).")
@with_appcontext
def reports_client_command(practice_slug: str, month: str, pdf_path: Path | None, org_slug: str | None) -> None:
    """The client's monthly report of one practice: its money reconciled to the cent, denials by root cause and
    owner, SLA attainment for the steps we own, and what waits on the practice; printed, and as a PDF."""
    from sqlalchemy import select

    from backoffice.contracts.services import parse_month
    from backoffice.extensions import db
    from backoffice.orgs.models import Practice
    from backoffice.reports import client
    from backoffice.reports.client_pdf import report_pdf
    from backoffice.reports.rules import OWNER_LABELS

    org = _organization(org_slug)
    try:
        year, number = parse_month(month)
    except ServiceError as error:
        raise click.UsageError(str(error)) from None
    practice = db.session.scalar(select(Practice).where(Practice.organization_id == org.id,
                                                        Practice.slug == practice_slug))  # fmt: skip
    if practice is None:
        raise click.UsageError(f"--practice: no practice {practice_slug!r} in {org.slug}")
    now = utcnow()
    report = client.build(practice, year, number, now)
    click.echo(f"{practice.name}, {report.month} ({report.first.isoformat()} to {report.last.isoformat()})")
    for label, value in report.money_rows():
        click.echo(f"  {label:<45} {value:>14,.2f}")
    reconciled = report.money.end_ar == report.money.rolled
    gap = report.money.end_ar - report.money.rolled
    click.echo(f"  reconciles: {'yes' if reconciled else f'NO, off by {gap}'}")
    for row in report.denials:
        click.echo(f"  denials {row.family}: {row.claims} claim(s), {row.amount:,.2f} ({OWNER_LABELS[row.owner]})")
    for sla in report.sla:
        click.echo(f"  SLA {sla.step}: {sla.on_time}/{sla.completed} on time (promised {sla.promised_hours} h)")
    click.echo(f"  waiting on the practice: {len(report.waiting)}")
    if pdf_path is not None:
        pdf_path.write_bytes(report_pdf(report, organization_name=org.name, created=now))
        click.echo(f"wrote {pdf_path}")


@cli.group("connections")
def connections_group() -> None:
    """Clearinghouse connections: list them, send the waiting batches, re-seal credentials after a key rotation."""


@connections_group.command("list")
@with_appcontext
def connections_list_command() -> None:
    """Every connection with its kind, profile, usage, last poll and which secrets are stored (never their value)."""
    from flask import current_app
    from sqlalchemy import select

    from backoffice.clearinghouse.models import Connection
    from backoffice.clearinghouse.services import stored_secrets
    from backoffice.extensions import db

    settings = current_app.config["BACKOFFICE_SETTINGS"]
    for c in db.session.scalars(select(Connection).order_by(Connection.id)):
        secrets = ",".join(sorted(stored_secrets(settings, c))) or "none"
        click.echo(f"{c.id} {c.name}: {c.kind} {c.profile} ISA15={c.usage} practice={c.practice_id or 'shared'} "
                   f"last poll={c.last_poll_at or 'never'} secrets={secrets}")  # fmt: skip


@connections_group.command("submit-batches")
@with_appcontext
def submit_batches_command() -> None:
    """Send every batch connection's waiting claims now (what the claim-batches flow does every 15 minutes)."""
    from backoffice.exchange.submission import submit_batches

    summary = submit_batches(now=utcnow())
    click.echo(f"{summary['claims']} claim(s) in {summary['interchanges']} interchange(s) "
               f"{summary['claims_per_interchange']}")  # fmt: skip


@connections_group.command("rotate-keys")
@with_appcontext
def rotate_keys_command() -> None:
    """Re-seal every stored credential under the first of BACKOFFICE_CREDENTIAL_KEYS (then drop the old keys)."""
    from flask import current_app

    from backoffice.clearinghouse.services import rotate_credential_keys

    count = rotate_credential_keys(settings=current_app.config["BACKOFFICE_SETTINGS"])
    click.echo(f"{count} connection credential(s) re-sealed under the newest key")


@cli.group("sandbox")
def sandbox_group() -> None:
    """The Sandbox clearinghouse: its settings (rates, delay, seed) and its own member file."""


@sandbox_group.command("settings")
@click.option("--organization", "org_slug", default=None, help="organization slug (needed when there are several)")
@click.option("--seed", type=int, default=None)
@click.option("--delay-minutes", type=int, default=None, help="answers to an 837P are fetchable this much later")
@click.option("--reject-999-percent", type=int, default=None)
@click.option("--reject-277ca-percent", type=int, default=None)
@click.option("--recoupment-percent", type=int, default=None)
@click.option("--interest-percent", type=int, default=None)
@click.option("--reversal-percent", type=int, default=None)
@with_appcontext
def sandbox_settings_command(org_slug: str | None, **values: int | None) -> None:
    """Show the organization's Sandbox settings, changing the ones given first."""
    from backoffice.clearinghouse.sandbox_admin import RATES, save_settings
    from backoffice.errors import ServiceError

    org = _organization(org_slug)
    try:
        saved = save_settings(organization_id=org.id, values={k: v for k, v in values.items() if v is not None})
    except ServiceError as error:
        raise click.ClickException(str(error)) from None
    for name in ("seed", "delay_minutes", *RATES):
        click.echo(f"{name}={getattr(saved, name)}")


@sandbox_group.command("members")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--organization", "org_slug", default=None, help="organization slug (needed when there are several)")
@with_appcontext
def sandbox_members_command(path: Path, org_slug: str | None) -> None:
    """Add the members of a CSV to the Sandbox's member file (all or nothing; errors name row and column)."""
    from backoffice.clearinghouse.sandbox_admin import import_members
    from backoffice.errors import ServiceError

    org = _organization(org_slug)
    try:
        count = import_members(organization_id=org.id, text=path.read_text(encoding="utf-8-sig"))
    except ServiceError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{count} member(s) added to the Sandbox's member file")


@cli.group("clearinghouse")
def clearinghouse_group() -> None:
    """Rehearse a clearinghouse connection before going live."""


@clearinghouse_group.command("simulate", with_appcontext=False)
@click.option(
    "--root",
    "root",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="the SFTP server's files (or the local folders' parent): folders below are relative to it",
)
@click.option(
    "--profile",
    "profile_key",
    default="office_ally",
    show_default=True,
    help="the connection's clearinghouse profile: its folders and file naming",
)
@click.option("--upload-folder", default=None, help="where our 837Ps arrive (default: the profile's)")
@click.option("--download-folder", default=None, help="where the answers go (default: the profile's)")
@click.option(
    "--state",
    "state",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="the simulator's own records (default: <root>/.simulator)",
)
@click.option("--seed", type=int, default=1, show_default=True, help="which claims are rejected and denied")
@click.option("--remit-after", type=float, default=5.0, show_default=True, help="seconds until the 835 is sent")
@click.option("--interval", type=float, default=1.0, show_default=True, help="seconds between scans")
@click.option("--at", "at", default=None, help="the date and time the answers carry (ISO 8601, UTC; default now)")
@click.option("--once", is_flag=True, help="answer what is there (835s at once) and exit")
def simulate_command(
    root: Path, profile_key: str, upload_folder: str | None, download_folder: str | None, state: Path | None,
    seed: int, remit_after: float, interval: float, at: str | None, once: bool,
) -> None:  # fmt: skip
    """Answer every 837P uploaded into the folders with a TA1, a 999, a 277CA and later an 835 (see README)."""
    from datetime import UTC, datetime

    from backoffice import clock
    from backoffice.clearinghouse.profiles import profile
    from backoffice.clearinghouse.simulator import Simulator

    try:
        chosen = profile(profile_key)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--profile") from None
    if at:
        clock.pin(datetime.fromisoformat(at).astimezone(UTC))
    upload = root / (upload_folder or chosen.upload_folder)
    download = root / (download_folder or chosen.download_folder)
    simulator = Simulator(
        upload=upload, download=download, state=state or root / ".simulator", profile=chosen, seed=seed,
        remit_after=remit_after, clock=clock.utcnow,
    )  # fmt: skip
    click.echo(f"simulating {chosen.name}: watching {simulator.upload}, answering into {simulator.download}")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with contextlib.suppress(KeyboardInterrupt):
        simulator.run(interval=interval, once=once, echo=click.echo)


@cli.command("rules-doc")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("docs/rules.md"), show_default=True
)
def rules_doc(out: Path) -> None:
    """Write the catalogue of coding and scrubber rules as Markdown."""
    from backoffice.scrubber.catalogue import rules_markdown

    out.write_text(rules_markdown(), encoding="utf-8")
    click.echo(f"wrote {out}")


def _org_today():  # noqa: ANN202
    return utcnow().astimezone(ZoneInfo(current_app.config["BACKOFFICE_SETTINGS"].timezone)).date()


def _read_session_file(path: Path, *, lenient: bool = False):  # noqa: ANN202
    """Parse an import file into rows and errors; a file that is not UTF-8 text stops the command.

    ``lenient`` (the dry run): every row in order, parsed or with its problems, and the file's own errors."""
    from backoffice.sessions.rules import parse_csv, parse_csv_entries

    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    except UnicodeDecodeError as error:
        raise click.ClickException(f"{path.name} is not UTF-8 text (first bad byte at offset {error.start})") from None
    with click.progressbar(length=max(len(lines) - 1, 1), label=f"checking {path.name}", file=sys.stderr) as bar:
        if lenient:
            return parse_csv_entries(_counting(lines, bar), today=_org_today(), lenient=True)
        return parse_csv(_counting(lines, bar), today=_org_today())


def _report_row_errors(errors: list, what: str) -> None:
    for error in errors[:MAX_ERRORS_SHOWN]:
        click.echo(str(error), err=True)
    if len(errors) > MAX_ERRORS_SHOWN:
        click.echo(f"... and {len(errors) - MAX_ERRORS_SHOWN} more", err=True)
    click.echo(f"{len(errors)} problem(s) in {what}", err=True)
    sys.exit(1)


def _counting(lines: list[str], bar: object):  # noqa: ANN202
    for index, line in enumerate(lines):
        if index:
            bar.update(1)  # type: ignore[attr-defined]
        yield line


def _organization(org_slug: str | None):  # noqa: ANN202
    from sqlalchemy import select

    from backoffice.extensions import db
    from backoffice.orgs.models import Organization

    orgs = db.session.scalars(select(Organization).order_by(Organization.id)).all()
    candidates = [o for o in orgs if o.slug == org_slug] if org_slug else orgs
    org = candidates[0] if len(candidates) == 1 else None
    if org is None:
        raise click.UsageError(
            "--organization: name an existing organization slug"
            if orgs
            else "no organization exists yet: run `backoffice demo --seed-only` or create one"
        )
    return org


WORKER_MAINTENANCE_SECONDS = 60
WORKER_RESTART_SECONDS = 5


@cli.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option(
    "--fork",
    is_flag=True,
    help="Fork a child per job (isolation, ~0.3 s per job with cold caches) instead of running jobs in the warm "
    "worker process (the default: steps are short and database-bound).",
)
@click.option("--simple", is_flag=True, hidden=True, help="The default; kept for old scripts.")
@with_appcontext
def worker(burst: bool, fork: bool, simple: bool) -> None:
    """Run an RQ worker for every queue (high, default, low) with its scheduler (retries with backoff); a worker
    that RQ stops on an error (Redis lost mid-report) is replaced, until SIGTERM or Ctrl+C."""
    _require_secret_here()
    run_worker(burst=burst, fork=fork and not simple)


def run_worker(*, burst: bool = False, fork: bool = False) -> None:
    """The worker loop of `backoffice worker`, inside the caller's app context (the command, or a benchmark's worker
    process): RQ's worker on every queue with its scheduler, replaced when RQ stops on an error outside a job."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from rq.serializers import JSONSerializer

    from backoffice.safe_worker import SimpleWorker, Worker  # RQ's, keeping no exception message (PHI)
    from backoffice.tasks import QUEUE_NAMES, get_queue, get_redis
    from workers.jobs import warm_up

    warm_up()
    conn = get_redis()
    worker_class = Worker if fork else SimpleWorker
    while True:
        try:
            # Maintenance every minute (not RQ's 10): it restarts the retry scheduler an outage of Redis stopped.
            queues = [get_queue(n, conn) for n in QUEUE_NAMES]
            rq_worker = worker_class(
                queues, connection=conn, serializer=JSONSerializer, maintenance_interval=WORKER_MAINTENANCE_SECONDS
            )
            rq_worker.work(burst=burst, with_scheduler=True)
        except RedisConnectionError:  # Redis down as the worker registers: wait for it like RQ's own loop does
            if burst:
                raise
        else:
            if burst or rq_worker._shutdown_requested_date is not None:  # done, or SIGTERM/SIGINT: stop
                return
        # RQ quits on an error outside a job (Redis gone while it reports a result): start a new worker.
        click.echo(f"worker stopped on an error; starting a new one in {WORKER_RESTART_SECONDS} s", err=True)
        try:
            time.sleep(WORKER_RESTART_SECONDS)
        except (KeyboardInterrupt, SystemExit, Exception):  # a stop signal during the pause (RQ's handlers)
            return


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True)
@click.option("--workers", "web_workers", default=2, show_default=True, help="gunicorn worker processes.")
def serve(host: str, port: int, web_workers: int) -> None:
    """Serve the web app with gunicorn (starts an embedded Redis when BACKOFFICE_REDIS_URL is unset); refuses to start
    without BACKOFFICE_SECRET_KEY (outside BACKOFFICE_ENV=demo)."""
    settings = _secret_or_exit(_settings_or_exit())
    with _redis_for(settings) as settings:
        _gunicorn(create_app(settings=settings), host, port, web_workers)


@cli.command("demo")
@click.option("--seed-only", is_flag=True, help="Seed the demo data and exit.")
@click.option("--reset", is_flag=True, help="Delete the embedded SQLite database first.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True)
def demo(seed_only: bool, reset: bool, host: str, port: int) -> None:
    """Seed a realistic organization and run the app and a worker, all from one command."""
    from backoffice.demo.seed import DEMO_LOGINS, DEMO_ORG_SLUG, seed_demo

    started = time.monotonic()
    _exit_cleanly_on_signals()
    settings = _settings_or_exit()
    if settings.env == "development":  # the default: the demo signs its cookies with its instance's own secret
        settings = replace(settings, env="demo")
    settings = _secret_or_exit(settings)
    if reset:
        _reset_sqlite(create_app(settings=settings))
    # Redis first: the seed bills sessions through the automation, whose jobs are enqueued as it commits.
    with _redis_for(settings) as settings:
        app = create_app(settings=settings)
        with app.app_context():
            _upgrade()
            from sqlalchemy import select

            from backoffice.extensions import db
            from backoffice.orgs.models import Organization

            if db.session.scalar(select(Organization.id).where(Organization.slug == DEMO_ORG_SLUG)) is None:
                click.echo("seeding the demo organization (under a minute)...")
                try:
                    summary = seed_demo(now=utcnow())
                except BaseException:
                    _discard_partial_demo(app)
                    raise
                click.echo(summary.describe())
            else:
                click.echo("demo data already present (use --reset to start over)")
        if seed_only:
            return
        worker = _spawn_worker(settings)
        flows = _DemoFlows(settings, Path(app.instance_path))
        app = create_app(settings=flows.settings)  # imports trigger their intake runs on the demo's Prefect server
        click.echo(
            f"\nbackoffice demo is running at http://{host}:{port}/  (ready in {time.monotonic() - started:.1f}s)"
        )
        click.echo("Sign in as:")
        for email, password, role in DEMO_LOGINS:
            click.echo(f"  {role:<11} {email:<28} password: {password}")
        click.echo(
            f"Prefect API: {flows.settings.prefect_api_url} (imports trigger their intake flow run there; for "
            f"the CLI: export PREFECT_API_URL={flows.settings.prefect_api_url})"
        )
        click.echo(
            "The supervisor and the admin also need a code (two-step sign-in is on for their roles): at their first\n"
            "sign-in, scan the QR code with an authenticator app, or type the key shown into one (no phone:\n"
            "  .venv/bin/python -c \"import pyotp; print(pyotp.TOTP('<key>').now())\"\n"
            "prints the current code), and keep the recovery codes. Billers sign in with the password alone."
        )
        click.echo("Press Ctrl+C to stop.\n")
        try:
            from werkzeug.serving import run_simple

            run_simple(host, port, app, threaded=True, use_reloader=False, request_handler=PathOnlyRequestHandler)
        finally:
            worker.terminate()
            flows.stop()
            worker.wait(timeout=10)


DEMO_PREFECT_PORT = 4200  # Prefect's own default, so `backoffice import sessions` finds it with PREFECT_API_URL


def _port_or_free(port: int) -> int:
    """``port`` if nothing listens on it on loopback, else any free one."""
    import socket

    from flows.runtime import free_port

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return free_port()
    return port


class _DemoFlows:
    """The demo's Prefect side: a local Prefect server on a port chosen here (so the web app can trigger intake
    runs on it), started in the background while the web app already answers, then ``flows serve`` against it.
    With PREFECT_API_URL set, that server is used and only ``flows serve`` runs here."""

    def __init__(self, settings: Settings, instance: Path) -> None:
        from flows.runtime import prefect_env

        prefect_env(instance)
        self.server: subprocess.Popen[bytes] | None = None
        self.flows: subprocess.Popen[bytes] | None = None
        self.stopping = threading.Event()
        self.port = None if settings.prefect_api_url else _port_or_free(DEMO_PREFECT_PORT)
        url = settings.prefect_api_url or f"http://127.0.0.1:{self.port}/api"
        self.settings = replace(settings, prefect_api_url=url)
        self.thread = threading.Thread(target=self._start, name="demo-prefect", daemon=True)
        self.thread.start()

    def _start(self) -> None:
        from flows.runtime import start_server

        try:
            if self.port is not None:
                self.server, _ = start_server(self.port)
        except RuntimeError as error:  # the web app and worker go on; imports plan inline and say why
            click.echo(f"the Prefect server did not start ({error}); flows are not served", err=True)
            return
        if not self.stopping.is_set():
            self.flows = _spawn_flows(self.settings)

    def stop(self) -> None:
        """Stop ``flows serve``, then the server (each in its own session: Ctrl+C reached only the demo)."""
        from flows.runtime import stop_server

        self.stopping.set()
        self.thread.join(timeout=120)
        if self.flows is not None:  # SIGINT: Prefect's own SIGTERM handler leaves a coroutine never awaited
            self.flows.send_signal(signal.SIGINT)
            try:
                self.flows.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.flows.kill()
        if self.server is not None:
            stop_server(self.server)


def _settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as error:
        raise click.ClickException(str(error)) from None


def _secret_or_exit(settings: Settings) -> Settings:
    """``settings`` with the secret a serving or working process needs, or the command stops saying how to set it."""
    try:
        return require_secret(settings, instance_path=instance_path_for(settings))
    except SettingsError as error:
        raise click.ClickException(str(error)) from None


def _require_secret_here() -> None:
    """For commands that run inside the CLI's app (worker, flows serve): the same refusal as `serve`."""
    settings = _secret_or_exit(current_app.config["BACKOFFICE_SETTINGS"])
    current_app.config.update(BACKOFFICE_SETTINGS=settings, SECRET_KEY=settings.secret_key)


class _redis_for:  # noqa: N801 - used as a context manager
    """Yield settings with a Redis URL: the configured one, or an embedded server started here."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.server = None

    def __enter__(self) -> Settings:
        if self.settings.redis_url:
            return self.settings
        from backoffice.embedded_redis import EmbeddedRedis

        instance = Path(create_app(settings=self.settings).instance_path)
        self.server = EmbeddedRedis(instance / "redis")
        url = self.server.start()
        atexit.register(self.server.stop)
        _exit_cleanly_on_signals()
        click.echo(f"started embedded Redis at {url}")
        return replace(self.settings, redis_url=url)

    def __exit__(self, *exc: object) -> None:
        if self.server is not None:
            self.server.stop()


def _exit_cleanly_on_signals() -> None:
    """SIGTERM and SIGINT unwind normally (stopping the worker and Redis), even when SIGINT was inherited as
    ignored, as it is for a process started in the background by a non-interactive shell."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _spawn_worker(settings: Settings) -> subprocess.Popen[bytes]:
    env = dict(os.environ, BACKOFFICE_REDIS_URL=settings.redis_url or "", BACKOFFICE_ENV=settings.env)
    if settings.database_url:
        env["BACKOFFICE_DATABASE_URL"] = settings.database_url
    # Own session: a terminal's Ctrl+C reaches only the demo, which stops its children in order.
    return subprocess.Popen([sys.executable, "-m", "backoffice.cli", "worker"], env=env, start_new_session=True)  # noqa: S603


def _spawn_flows(settings: Settings) -> subprocess.Popen[bytes]:
    """`flows serve` in the background: the intake flow and the sweeps on their schedules, against
    ``settings.prefect_api_url``."""
    env = dict(
        os.environ,
        BACKOFFICE_REDIS_URL=settings.redis_url or "",
        PREFECT_API_URL=settings.prefect_api_url or "",
        BACKOFFICE_ENV=settings.env,
    )
    if settings.database_url:
        env["BACKOFFICE_DATABASE_URL"] = settings.database_url
    command = [sys.executable, "-m", "backoffice.cli", "flows", "serve"]
    return subprocess.Popen(command, env=env, start_new_session=True)  # noqa: S603


def _upgrade() -> None:
    from flask_migrate import upgrade

    upgrade(directory=current_app.extensions["migrate"].directory)


def _discard_partial_demo(app: Flask) -> None:
    """A seed that did not finish must not look like a finished demo to the next run."""
    from backoffice.extensions import db

    db.session.remove()
    db.engine.dispose()
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        _reset_sqlite(app)
        click.echo("seeding did not finish: the partial demo database was removed; run the demo again", err=True)
    else:
        click.echo("seeding did not finish: empty this database before running the demo again", err=True)


def _reset_sqlite(app: Flask) -> None:
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if not uri.startswith("sqlite:///"):
        raise click.UsageError("--reset only deletes the embedded SQLite database")
    path = Path(uri.removeprefix("sqlite:///"))
    path.unlink(missing_ok=True)
    click.echo(f"deleted {path}")


def _gunicorn(app: Flask, host: str, port: int, web_workers: int) -> None:
    from gunicorn.app.base import BaseApplication

    class _Server(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", web_workers)
            self.cfg.set("accesslog", "-")
            self.cfg.set("access_log_format", ACCESS_LOG_FORMAT)  # the path without its query string (PHI)

        def load(self) -> Flask:
            return app

    freeze_for_workers()
    _Server().run()


@cli.group("flows")
def flows_group() -> None:
    """Prefect flows: intake planning and the scheduled sweeps (README: Flows)."""


@flows_group.command("list")
def flows_list() -> None:
    """Print every flow with its schedule."""
    from flows.registry import FLOWS

    for spec in FLOWS.values():
        click.echo(f"{spec.name:<22} {spec.schedule}")


@flows_group.command("run")
@click.argument("name")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="A flow parameter (JSON or text).")
def flows_run(name: str, params: tuple[str, ...]) -> None:
    """Run one flow now (starts a local Prefect server unless PREFECT_API_URL is set); prints its result."""
    import json

    from flows import registry

    try:
        spec = registry.get(name)
    except KeyError as error:
        raise click.UsageError(str(error.args[0])) from None
    parameters = {}
    for param in params:
        key, sep, value = param.partition("=")
        if not sep or not key:
            raise click.UsageError(f"--param {param!r}: expected KEY=VALUE")
        try:
            parameters[key] = json.loads(value)
        except ValueError:
            parameters[key] = value
    from flows.runtime import local_server, prefect_env

    prefect_env(current_app.instance_path)
    _exit_cleanly_on_signals()
    with local_server():
        result = spec.load()(**parameters)
    click.echo(json.dumps(result, default=str, sort_keys=True))


@flows_group.command("serve")
def flows_serve() -> None:
    """Serve every flow on its schedule until stopped (starts a local Prefect server unless PREFECT_API_URL
    is set)."""
    from flows.runtime import local_server, prefect_env

    _require_secret_here()
    prefect_env(current_app.instance_path)
    _exit_cleanly_on_signals()
    with local_server() as api_url:
        from prefect import serve as prefect_serve

        from flows.registry import FLOWS, deployments

        click.echo(f"serving {len(FLOWS)} flows against {api_url}; Ctrl+C stops")
        prefect_serve(*deployments(), print_starting_message=False)


def main() -> None:
    cli(prog_name="backoffice")


if __name__ == "__main__":
    main()
