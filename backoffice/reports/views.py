"""The reports page and one CSV per table (supervisors and admins; billers get 403)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template
from flask_login import current_user, login_required

from backoffice.accounts.access import can_supervise, practice_ids_for
from backoffice.clock import utcnow
from backoffice.reports import charts, queries, rules
from backoffice.work.kpis import AGING_BUCKETS

bp = Blueprint("reports", __name__, url_prefix="/reports")


@bp.before_request
@login_required
def _require_supervisor() -> None:
    """Reports show every biller's figures: supervisors and admins only."""
    if not can_supervise(current_user):
        abort(403)


@bp.route("")
def index():
    now, practice_ids = utcnow(), practice_ids_for(current_user)
    tables = {name: build(practice_ids, now) for name, build in queries.TABLES.items()}
    totals = [sum((row[i + 1] for row in tables["aging_practice"].rows), start=0) for i in range(len(AGING_BUCKETS))]
    chart_aging = charts.bar_chart(list(zip(rules.BUCKET_LABELS, totals, strict=True)), title="Open A/R by age")
    chart_denials = charts.bar_chart([(row[0], row[3]) for row in tables["denials_month"].rows],
                                     title="Denial rate by month", unit="%")  # fmt: skip
    return render_template("reports/index.html", tables=tables, chart_aging=chart_aging,
                           chart_denials=chart_denials, now=now)  # fmt: skip


@bp.route("/<name>.csv")
def table_csv(name: str):
    build = queries.TABLES.get(name)
    if build is None:
        abort(404)
    table = build(practice_ids_for(current_user), utcnow())
    body = rules.to_csv(table.headers, table.rows)
    return Response(body, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})  # fmt: skip
