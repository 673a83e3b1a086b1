"""The appointments screen (billers, supervisors, admins): the upcoming visits of the user's practices with what
their eligibility check found and the item a problem opened. Practice users see theirs in the portal."""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, flash, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from sqlalchemy import select

from backoffice import inputs
from backoffice.accounts.access import practice_ids_for
from backoffice.appointments import queries
from backoffice.appointments.rules import PROBLEM_LABELS, AppointmentStatus
from backoffice.audit.services import record_phi_reads
from backoffice.clock import utcnow
from backoffice.extensions import db
from backoffice.orgs.models import Practice

bp = Blueprint("appointments", __name__, url_prefix="/appointments")
PROBLEM_CHOICES = [("any", "any problem"), ("none", "checked, nothing to fix")] + [
    (problem.value, label) for problem, label in PROBLEM_LABELS.items()
]


@bp.before_request
@login_required
def _signed_in() -> None:
    """Staff only: a practice user is refused before any view runs (portal.guard)."""


def _filters(args: Any, today: date) -> queries.AppointmentFilters:
    """The filters in the query string; a bad value is named in a message and left out (what was typed stays in
    the form). With no query string at all the list starts today."""
    if not args:
        return queries.AppointmentFilters(date_from=today)
    values: dict[str, Any] = {}
    for name in ("date_from", "date_to"):
        raw = (args.get(name) or "").strip()
        try:
            values[name] = inputs.iso_date(raw, today=today, future_days=3660) if raw else None
        except inputs.InputProblem as problem:
            flash(f"{name.replace('_', ' ')}: {problem}; left out of the search", "error")
            values[name] = None
    raw = (args.get("practice_id") or "").strip()
    try:
        values["practice_id"] = inputs.whole_number(raw, low=1) if raw else None
    except inputs.InputProblem as problem:
        flash(f"practice: {problem}; showing every practice", "error")
        values["practice_id"] = None
    status = args.get("status") or ""
    if status and status not in {s.value for s in AppointmentStatus}:
        flash("status: not an appointment status; showing every status", "error")
        status = ""
    problem = args.get("problem") or ""
    if problem and problem not in {value for value, _ in PROBLEM_CHOICES}:
        flash("problem: not an eligibility problem; showing every result", "error")
        problem = ""
    return queries.AppointmentFilters(status=status, problem=problem, **values)


@bp.route("")
def index() -> ResponseReturnValue:
    scope = practice_ids_for(current_user)
    zone = ZoneInfo(current_app.config["BACKOFFICE_SETTINGS"].timezone)
    filters = _filters(request.args, utcnow().astimezone(zone).date())
    rows, more = queries.list_appointments(scope, filters)
    # The list names patients: each one on the page is on the audit trail.
    record_phi_reads(((row.patient.id, row.appointment.practice_id) for row in rows), action="phi_view",
                     target_type="appointment_list")  # fmt: skip
    practices = list(db.session.execute(select(Practice.id, Practice.name).where(Practice.id.in_(scope))
                                        .order_by(Practice.name)).tuples())  # fmt: skip
    typed = {name: request.args.get(name, "") for name in ("date_from", "date_to")}
    if not request.args:
        typed["date_from"] = filters.date_from.isoformat() if filters.date_from else ""
    return render_template("appointments/index.html", rows=rows, more=more, filters=filters, typed=typed,
                           practices=practices, statuses=[s.value for s in AppointmentStatus],
                           problems=PROBLEM_CHOICES)  # fmt: skip
