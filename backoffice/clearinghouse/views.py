"""Connections (admins: create and edit; secrets are write-only) and the exchange page (supervisors: per
connection the last poll, files in and out with their state, what failed and why, the reports, "poll now")."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from backoffice.accounts.access import can_supervise, is_admin
from backoffice.audit.services import record_event
from backoffice.clearinghouse import queries
from backoffice.clearinghouse.forms import ConnectionForm
from backoffice.clearinghouse.profiles import PROFILES
from backoffice.clearinghouse.services import save_connection, stored_secrets
from backoffice.clock import utcnow
from backoffice.errors import ValidationFailed
from backoffice.exchange.ingest import poll_connection
from backoffice.forms import Form
from backoffice.work.forms import choices

bp = Blueprint("clearinghouse", __name__)


@bp.before_request
@login_required
def _require_supervisor() -> None:
    if not can_supervise(current_user):
        abort(403)


def _require_admin() -> None:
    if not is_admin(current_user):
        abort(403)


@bp.route("/admin/connections")
def connections():
    _require_admin()
    settings = current_app.config["BACKOFFICE_SETTINGS"]
    rows = queries.connections_of(current_user.organization_id)
    return render_template(
        "admin/connections.html", connections=rows, profiles=PROFILES,
        secrets={c.id: stored_secrets(settings, c) for c in rows},
    )  # fmt: skip


@bp.route("/admin/connections/new", methods=["GET", "POST"], defaults={"connection_id": None})
@bp.route("/admin/connections/<int:connection_id>", methods=["GET", "POST"])
def edit_connection(connection_id: int | None):
    _require_admin()
    settings = current_app.config["BACKOFFICE_SETTINGS"]
    connection = None
    if connection_id is not None:
        connection = queries.connection_in(current_user.organization_id, connection_id)
        if connection is None:
            abort(404)
    form = ConnectionForm(obj=connection)
    form.practice_id.choices = choices(
        [("", "Shared by every practice")]
        + [(str(p.id), p.name) for p in queries.practices_of(current_user.organization_id)]
    )
    if connection is not None and not form.is_submitted():
        form.practice_id.data = str(connection.practice_id or "")
    if form.validate_on_submit():
        try:
            saved = save_connection(
                organization_id=current_user.organization_id, values=form.values(), secrets=form.secrets(),
                settings=settings, actor=current_user, now=utcnow(), connection_id=connection_id,
                clear_secrets=form.clear_secrets.data,
            )  # fmt: skip
        except ValidationFailed as error:
            flash(str(error), "error")
        else:
            flash(f"Connection {saved.name} saved.", "ok")
            return redirect(url_for("clearinghouse.connections"))
    secrets = stored_secrets(settings, connection) if connection is not None else {}
    return render_template("admin/connection_form.html", form=form, connection=connection, secrets=secrets)


@bp.route("/exchange")
def exchange():
    activity = queries.exchange_activity(current_user.organization_id)
    return render_template("exchange.html", activity=activity, profiles=PROFILES, form=Form())


@bp.post("/exchange/<int:connection_id>/poll")
def poll_now(connection_id: int):
    if not Form().validate_on_submit():
        abort(400)
    connection = queries.connection_in(current_user.organization_id, connection_id)
    if connection is None:
        abort(404)
    result = poll_connection(connection_id=connection.id, now=utcnow())
    record_event(action="exchange_poll_now", user=current_user, target_type="clearinghouse_connection",
                 target_id=connection.id)  # fmt: skip
    files = sum(result["files"].values())
    if result["problem"]:
        flash(f"{connection.name}: poll failed: {result['problem']}", "error")
    else:
        flash(f"{connection.name}: polled, {files} file(s) taken in.", "ok")
    return redirect(url_for("clearinghouse.exchange"))


@bp.route("/exchange/reports/<int:edi_file_id>")
def report(edi_file_id: int):
    edi_file = queries.report_in(current_user.organization_id, edi_file_id)
    if edi_file is None:
        abort(404)
    return render_template("exchange_report.html", edi_file=edi_file)
