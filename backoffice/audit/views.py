"""The audit trail page (/admin/audit, admins only): filter by user, patient id, action and dates; CSV export."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, current_app, flash, render_template, request
from flask_login import current_user, login_required

from backoffice.accounts.access import is_admin
from backoffice.audit import queries
from backoffice.audit.forms import AuditFilterForm
from backoffice.audit.services import record_event
from backoffice.reports.rules import to_csv

bp = Blueprint("audit", __name__)

CSV_HEADERS = ("at", "user_id", "user", "action", "practice_id", "patient_id", "target_type", "target_id",
               "endpoint", "remote_addr")  # fmt: skip


@bp.before_request
@login_required
def _require_admin() -> None:
    """Admins only: the trail shows who looked at which patient across the organization."""
    if not is_admin(current_user):
        abort(403)


def _form_and_filter() -> tuple[AuditFilterForm, queries.AuditFilter]:
    org_id = current_user.organization_id
    form = AuditFilterForm(request.args)
    form.user_id.choices = [(0, "Anyone")] + [(u.id, f"{u.name} ({u.email})") for u in queries.users(org_id)]
    form.action.choices = [("", "Any action")] + [(a, a) for a in queries.actions(org_id)]
    if request.args and not form.validate():
        for name, errors in form.errors.items():
            flash(f"{getattr(form, name).label.text}: {'; '.join(errors)}", "error")
        return form, queries.AuditFilter(user_id=-1)  # a bad filter shows nothing rather than everything
    return form, queries.AuditFilter(
        user_id=form.user_id.data or None,
        patient_id=form.patient_id.data,
        action=form.action.data or None,
        date_from=form.date_from.data,
        date_to=form.date_to.data,
    )


def _tz() -> ZoneInfo:
    return ZoneInfo(current_app.config["BACKOFFICE_SETTINGS"].timezone)


@bp.route("/admin/audit")
def index():
    form, flt = _form_and_filter()
    rows = queries.events(current_user.organization_id, flt, _tz())
    names = {u.id: u.name for u in queries.users(current_user.organization_id)}
    return render_template("audit/index.html", form=form, rows=rows, names=names, limit=queries.PAGE_LIMIT,
                           query=request.query_string.decode())  # fmt: skip


@bp.route("/admin/audit.csv")
def export():
    _, flt = _form_and_filter()
    rows = queries.events(current_user.organization_id, flt, _tz(), limit=queries.EXPORT_LIMIT)
    names = {u.id: u.email for u in queries.users(current_user.organization_id)}
    record_event(action="admin:audit_export", user=current_user, data={"rows": len(rows)})
    body = to_csv(
        CSV_HEADERS,
        ([e.at.isoformat(), e.user_id, names.get(e.user_id, ""), e.action, e.practice_id, e.patient_id,
          e.target_type, e.target_id, e.endpoint, e.remote_addr] for e in rows),
    )  # fmt: skip
    return Response(body, mimetype="text/csv", headers={"Content-Disposition": 'attachment; filename="audit.csv"'})
