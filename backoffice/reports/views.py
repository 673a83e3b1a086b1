"""The reports page and one CSV per table (supervisors and admins; billers get 403)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, current_app, render_template, request
from flask_login import current_user, login_required
from sqlalchemy import select

from backoffice.accounts.access import can_supervise, practice_ids_for
from backoffice.claims.models import Claim
from backoffice.clock import utcnow
from backoffice.contracts.services import parse_month
from backoffice.errors import ServiceError
from backoffice.extensions import db
from backoffice.orgs.models import Organization, Practice
from backoffice.reports import charts, client, month_end, queries, rules
from backoffice.reports import client_pdf as client_pdf_module
from backoffice.reports.forms import PeriodForm
from backoffice.reports.queries import Table
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


def _period() -> tuple[PeriodForm, list[int], datetime, datetime, datetime]:
    """The filter form, the practices it leaves in scope and the period [start, end) as instants: by default this
    month so far, in the organization's time zone; ``end`` is the day after the chosen last day."""
    now = utcnow()
    tz = ZoneInfo(current_app.config["BACKOFFICE_SETTINGS"].timezone)
    form = PeriodForm(formdata=request.args)
    scope = practice_ids_for(current_user)
    names = db.session.execute(select(Practice.id, Practice.name).where(Practice.id.in_(scope))
                               .order_by(Practice.name)).all()  # fmt: skip
    form.practice_id.choices = [("", "All practices"), *[(str(i), n) for i, n in names]]
    form.validate()
    today = now.astimezone(tz).date()
    first: date = form.start.data or today.replace(day=1)
    last: date = form.end.data or today
    if last < first:
        form.end.errors = [*form.end.errors, "must not be before From"]
        last = first
    chosen = [int(form.practice_id.data)] if form.practice_id.data and not form.practice_id.errors else scope
    start = datetime.combine(first, time(0), tzinfo=tz)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz)
    return form, chosen, start, end, now


def _month_end_tables(practice_ids: list[int], start: datetime, end: datetime, now: datetime) -> dict[str, Table]:
    rows = month_end.rollforward(practice_ids, start, end, now)
    today = now.date()
    return {
        "rollforward": Table("rollforward", "Month-end roll-forward (A/R at start + charges − payments − contractual "
                             "− write-offs − refunds ± other = A/R at end)", month_end.HEADERS,
                             month_end.table_rows(rows),
                             "Refunds are negative (money paid back raises A/R). A/R held now is what the claims and "
                             "ledgers hold today (periods that reach today); the difference must be 0.00."),
        "net_collection": Table("net_collection", "Net collection rate",
                                ["Practice", "Payments", "Charges", "Contractual", "Net collection rate %"],
                                month_end.net_collection(rows)),
        "write_offs": Table("write_offs", "Write-offs by reason (contractual adjustments are not write-offs)",
                            ["Practice", "Reason", "Balance", "Count", "Amount"],
                            month_end.write_offs_by_reason(practice_ids, start, end)),
        "denial_rates": Table("denial_rates", "Initial and final denial rate (claims first adjudicated in the period)",
                              ["Practice", "Adjudicated", "Denied at first", "Initial denial rate %", "Denied now",
                               "Final denial rate %"], month_end.denial_rates(practice_ids, start, end)),
        "patient_aging": Table("patient_aging", "Patient A/R aging (today)",
                               ["Practice", *rules.BUCKET_LABELS, "Total"],
                               month_end.patient_aging(practice_ids, today)),
    }  # fmt: skip


@bp.route("/month-end")
def month_end_page():
    form, practice_ids, start, end, now = _period()
    tables = _month_end_tables(practice_ids, start, end, now)
    return render_template("reports/month_end.html", form=form, tables=tables, figures=month_end.FIGURES,
                           args=request.args.to_dict(), now=now)  # fmt: skip


@bp.route("/month-end/<name>.csv")
def month_end_csv(name: str):
    _, practice_ids, start, end, now = _period()
    table = _month_end_tables(practice_ids, start, end, now).get(name)
    if table is None:
        abort(404)
    return Response(rules.to_csv(table.headers, table.rows), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})  # fmt: skip


def _drill_rows(figure: str) -> tuple[PeriodForm, list[list[Any]]]:
    if figure not in {key for key, _, _ in month_end.FIGURES}:
        abort(404)
    form, practice_ids, start, end, now = _period()
    found = month_end.drill(practice_ids, figure, start, end, now)
    ids = [claim_id for claim_id, _ in found if claim_id is not None]
    claims = {c.id: c for c in db.session.scalars(select(Claim).where(Claim.id.in_(ids)))}
    rows = [[claims[c].account_number if c in claims else "(no claim: patient ledger)",
             claims[c].status.value if c in claims else "", amount] for c, amount in found]  # fmt: skip
    return form, rows


@bp.route("/month-end/drill/<figure>")
def month_end_drill(figure: str):
    form, rows = _drill_rows(figure)
    label = {key: text for key, text, _ in month_end.FIGURES}[figure]
    return render_template("reports/drill.html", form=form, rows=rows, figure=figure, label=label,
                           args=request.args.to_dict(), now=utcnow())  # fmt: skip


@bp.route("/month-end/drill/<figure>.csv")
def month_end_drill_csv(figure: str):
    _, rows = _drill_rows(figure)
    return Response(rules.to_csv(["Claim", "Status", "Amount"], rows), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{figure}.csv"'})  # fmt: skip


# --- the client's monthly report (issue 20.3) --------------------------------------------------------------------


def _client_report(now: datetime) -> tuple[client.ClientReport | None, list[tuple[int, str]], str, str | None]:
    """The report the query string asks for (``practice_id``, ``month`` YYYY-MM, by default last month), the
    practices to choose from, the month as given and what is wrong with the request (or None)."""
    scope = practice_ids_for(current_user)
    names = list(db.session.execute(select(Practice.id, Practice.name).where(Practice.id.in_(scope))
                                    .order_by(Practice.name)).tuples())  # fmt: skip
    tz = ZoneInfo(current_app.config["BACKOFFICE_SETTINGS"].timezone)
    last_month = now.astimezone(tz).date().replace(day=1) - timedelta(days=1)
    month_text = (request.args.get("month") or "").strip() or rules.month_key(last_month)
    practice_id = request.args.get("practice_id", type=int) or (names[0][0] if len(names) == 1 else None)
    if practice_id is None:
        return None, names, month_text, None
    try:
        year, month = parse_month(month_text)
        return client.report_for(practice_id, scope, year, month, now), names, month_text, None
    except ServiceError as error:
        return None, names, month_text, str(error)
    except LookupError:
        abort(404)


@bp.route("/client")
def client_page():
    now = utcnow()
    report, names, month_text, problem = _client_report(now)
    return render_template("reports/client.html", report=report, practices=names, month=month_text,
                           problem=problem, owner_labels=rules.OWNER_LABELS, step_label=client.step_label,
                           now=now)  # fmt: skip


@bp.route("/client/<int:practice_id>/<month>.pdf")
def client_pdf(practice_id: int, month: str):
    now = utcnow()
    try:
        year, number = parse_month(month)
    except ServiceError as error:
        abort(400, str(error))
    try:
        report = client.report_for(practice_id, practice_ids_for(current_user), year, number, now)
    except LookupError:
        abort(404)
    organization = db.session.get(Organization, report.practice.organization_id)
    body = client_pdf_module.report_pdf(report, organization_name=organization.name, created=now)
    name = f"report-{report.practice.slug}-{report.month}.pdf"
    return Response(body, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip
