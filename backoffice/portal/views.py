"""The client portal: a practice user's dashboard, claims, session and document uploads, inbox of requests (and
the answer), and issued invoices. Every page is scoped to the one practice the user belongs to."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from backoffice import inputs
from backoffice.appointments import queries as appointment_queries
from backoffice.audit.services import record_phi_read, record_phi_reads
from backoffice.claims.models import Claim
from backoffice.claims.rules import ClaimStatus
from backoffice.clock import utcnow
from backoffice.contracts import documents as invoice_documents
from backoffice.contracts.services import parse_month
from backoffice.documents import rules as document_rules
from backoffice.documents import services as documents
from backoffice.errors import ServiceError
from backoffice.extensions import db
from backoffice.intake.dispatch import flow_server_url, plan_imported
from backoffice.orgs.models import Organization, Practice
from backoffice.portal import access, queries, services
from backoffice.portal.forms import ACCEPT, AnswerForm, DocumentForm, SessionFileForm
from backoffice.portal.rules import TYPE_LABELS
from backoffice.reports import client as client_report
from backoffice.reports import client_pdf
from backoffice.reports import rules as report_rules
from backoffice.sessions.rules import RowError, parse_csv
from backoffice.sessions.services import ImportRefused, import_sessions
from backoffice.work.forms import choices

bp = Blueprint("portal", __name__, url_prefix="/portal")
MAX_ERRORS_SHOWN = 50


@bp.before_request
@login_required
def _practice_users_only() -> None:
    """The portal is the practice's own: the billing company's staff have their screens."""
    access.practice_or_403(current_user)


def _practice() -> Practice:
    return access.practice_or_403(current_user)


def _upload(field: object) -> tuple[str, bytes] | None:
    data = getattr(field, "data", None)
    if data is None or not getattr(data, "filename", ""):
        return None
    return data.filename, data.read()


@bp.route("")
def dashboard() -> ResponseReturnValue:
    practice = _practice()
    waiting = queries.requests_of(practice.id, open_only=True)
    claims = queries.claims_of(practice.id, limit=10)
    record_phi_reads(((row.claim.patient_id, practice.id) for row in claims), action="phi_view",
                     target_type="portal_claims")  # fmt: skip
    return render_template("portal/dashboard.html", practice=practice, waiting=waiting, claims=claims,
                           counts=queries.claim_status_counts(practice.id),
                           invoices=queries.issued_invoices(practice.id), now=utcnow(),
                           labels=TYPE_LABELS)  # fmt: skip


@bp.route("/claims")
def claims() -> ResponseReturnValue:
    practice = _practice()
    status = request.args.get("status") or None
    if status is not None and status not in set(ClaimStatus):
        flash(f"status: {status[:40]!r} is not a claim status; showing every claim", "error")
        status = None
    rows = queries.claims_of(practice.id, status=status)
    record_phi_reads(((row.claim.patient_id, practice.id) for row in rows), action="phi_view",
                     target_type="portal_claims")  # fmt: skip
    return render_template("portal/claims.html", practice=practice, rows=rows, status=status,
                           statuses=[s.value for s in ClaimStatus])  # fmt: skip


@bp.route("/sessions", methods=["GET", "POST"])
def sessions() -> ResponseReturnValue:
    """Upload a session CSV (the import's format and rules; only the user's own practice may appear in it)."""
    practice = _practice()
    form = SessionFileForm()
    errors: list[RowError] = []
    if form.validate_on_submit():
        now = utcnow()
        try:
            text = form.file.data.read().decode("utf-8-sig")
        except UnicodeDecodeError as error:
            errors = [RowError(0, "file", f"not UTF-8 text (first bad byte at offset {error.start})")]
        else:
            rows, errors = parse_csv(text.splitlines(keepends=True), today=now.date())
            errors += [RowError(r.row, "practice", f"{r.practice!r} is not your practice ({practice.slug})")
                       for r in rows if r.practice != practice.slug]  # fmt: skip
            try:
                if errors:
                    raise ImportRefused(errors)
                result = import_sessions(rows=rows, organization_id=practice.organization_id, now=now,
                                         source="client portal", actor=current_user)  # fmt: skip
            except ImportRefused as refused:
                errors = refused.errors
            else:
                dispatch = plan_imported(result.created, now=now, api_url=flow_server_url())
                flash(f"Imported {len(result.created)} new session(s); {result.unchanged} already imported and "
                      f"unchanged; {dispatch.describe()}.", "ok")  # fmt: skip
                return redirect(url_for("portal.sessions"))
        flash(f"{len(errors)} problem(s) in the file; nothing was imported.", "error")
    elif request.method == "POST":
        for field, problems in form.errors.items():
            flash(f"{field}: {'; '.join(problems)}", "error")
    status = 422 if errors else 200
    return render_template("portal/sessions.html", practice=practice, form=form, errors=errors[:MAX_ERRORS_SHOWN],
                           more=max(len(errors) - MAX_ERRORS_SHOWN, 0)), status  # fmt: skip


@bp.route("/documents", methods=["GET", "POST"])
def upload_document() -> ResponseReturnValue:
    """Attach a file to one of the practice's claims (the billing company sees it on the claim and its items)."""
    practice = _practice()
    form = DocumentForm()
    rows = queries.claims_of(practice.id)
    form.claim_id.choices = choices(
        [("", "—")]
        + [(str(r.claim.id), f"{r.claim.account_number} · {r.patient_name} · {r.claim.status.value}") for r in rows]
    )
    if form.validate_on_submit():
        try:
            claim_id = inputs.whole_number(form.claim_id.data or "", low=1)
        except inputs.InputProblem:
            abort(404)
        target = documents.target("claim", claim_id, {practice.id})
        if target is None:
            abort(404)
        upload = _upload(form.file)
        try:
            document = documents.attach(to=target, filename=upload[0] if upload else "", data=upload[1] if upload
                                        else b"", user=current_user, now=utcnow(), note=form.note.data)  # fmt: skip
            db.session.commit()
        except ServiceError as error:
            flash(str(error), "error")
        else:
            flash(f"Attached {document.filename} to claim {target.id}.", "ok")
            return redirect(url_for("portal.upload_document"))
    elif request.method == "POST":
        for field, problems in form.errors.items():
            flash(f"{field}: {'; '.join(problems)}", "error")
    uploads = queries.portal_uploads(practice.id)
    record_phi_reads(
        ((row.claim.patient_id, practice.id) for row in rows), action="phi_view", target_type="portal_claims"
    )  # fmt: skip (the claim list names the patients)
    return render_template("portal/documents.html", practice=practice, form=form, uploads=uploads, accept=ACCEPT)


@bp.route("/documents/<int:document_id>")
def document(document_id: int) -> ResponseReturnValue:
    row = access.get_document_or_404(document_id, _practice())
    body = documents.read(row)
    name = f"{row.filename.rsplit('.', 1)[0] or 'document'}.{document_rules.extension(row.content_type)}"
    return Response(body, mimetype=row.content_type, headers={
        "Content-Disposition": f'attachment; filename="{name}"', "X-Content-Type-Options": "nosniff"})  # fmt: skip


@bp.route("/requests")
def inbox() -> ResponseReturnValue:
    practice = _practice()
    rows = queries.requests_of(practice.id, open_only=False)
    return render_template("portal/inbox.html", practice=practice, rows=rows, labels=TYPE_LABELS, now=utcnow())


@bp.route("/requests/<int:request_id>", methods=["GET", "POST"])
def request_page(request_id: int) -> ResponseReturnValue:
    practice = _practice()
    row = access.get_request_or_404(request_id, practice)
    form = AnswerForm()
    status = 200
    if form.validate_on_submit():
        try:
            services.answer_request(request=row, user=current_user, now=utcnow(), answer=form.answer.data or "",
                                    upload=_upload(form.file))  # fmt: skip
        except ServiceError as error:
            flash(str(error), "error")
            status = 422
        else:
            flash(f"Thank you: your answer to request #{row.work_item_id} was sent to the billing team.", "ok")
            return redirect(url_for("portal.inbox"))
    elif request.method == "POST":
        for field, problems in form.errors.items():
            flash(f"{field}: {'; '.join(problems)}", "error")
        status = 422
    claim = db.session.get(Claim, row.claim_id) if row.claim_id else None
    patient_id = claim.patient_id if claim else row.item.patient_id
    if patient_id is not None or row.item.session_id is not None:
        record_phi_read(patient_id=patient_id or (row.item.session.patient_id if row.item.session else None),
                        practice_id=practice.id, target_type="practice_request", target_id=row.id)  # fmt: skip
    return render_template("portal/request.html", practice=practice, row=row, form=form, claim=claim,
                           files=queries.documents_of_request(row), labels=TYPE_LABELS, accept=ACCEPT,
                           now=utcnow()), status  # fmt: skip


@bp.route("/invoices/<int:invoice_id>.pdf")
def invoice_pdf(invoice_id: int) -> ResponseReturnValue:
    row = access.get_invoice_or_404(invoice_id, _practice())
    organization = db.session.get(Organization, row.organization_id)
    body = invoice_documents.invoice_pdf(row, organization_name=organization.name if organization else "",
                                         created=utcnow())  # fmt: skip
    return Response(body, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{row.number}.pdf"'})  # fmt: skip


# --- the practice's monthly report (issue 20.3) and upcoming appointments ----------------------------------------

REPORT_MONTHS = 12  # the months offered in the picker (any YYYY-MM may still be asked for)


def _months(practice: Practice) -> list[str]:
    """The practice's last REPORT_MONTHS complete months, newest first, in its time zone."""
    day = utcnow().astimezone(ZoneInfo(practice.timezone)).date().replace(day=1)
    months = []
    for _ in range(REPORT_MONTHS):
        day = (day - timedelta(days=1)).replace(day=1)
        months.append(report_rules.month_key(day))
    return months


@bp.route("/reports")
def report() -> ResponseReturnValue:
    """The client's monthly report of the user's own practice (last month by default), on screen."""
    practice, now = _practice(), utcnow()
    months = _months(practice)
    month_text = (request.args.get("month") or "").strip()[:7] or months[0]
    problem, report = None, None
    try:
        year, month = parse_month(month_text)
        report = client_report.report_for(practice.id, {practice.id}, year, month, now)
    except ServiceError as error:
        problem = str(error)
    status = 200 if problem is None else 422
    return render_template("portal/report.html", practice=practice, report=report, month=month_text,
                           months=months, problem=problem, owner_labels=report_rules.OWNER_LABELS,
                           step_label=client_report.step_label, now=now), status  # fmt: skip


@bp.route("/reports/<int:practice_id>/<month>.pdf")
def report_pdf(practice_id: int, month: str) -> ResponseReturnValue:
    """The same report as a PDF; another practice's is a 404."""
    practice, now = _practice(), utcnow()
    try:
        year, number = parse_month(month)
        report = client_report.report_for(practice_id, {practice.id}, year, number, now)
    except ServiceError as error:
        abort(400, str(error))
    except LookupError:
        abort(404)
    organization = db.session.get(Organization, practice.organization_id)
    body = client_pdf.report_pdf(report, organization_name=organization.name if organization else "", created=now)
    return Response(body, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="report-{practice.slug}-{report.month}.pdf"'})  # fmt: skip


@bp.route("/appointments")
def appointments() -> ResponseReturnValue:
    """The practice's upcoming appointments (from today, in its time zone) and what their eligibility check found."""
    practice = _practice()
    today = utcnow().astimezone(ZoneInfo(practice.timezone)).date()
    rows, more = appointment_queries.list_appointments(
        {practice.id}, appointment_queries.AppointmentFilters(date_from=today), limit=200
    )
    record_phi_reads(((row.patient.id, practice.id) for row in rows), action="phi_view",
                     target_type="portal_appointments")  # fmt: skip
    return render_template("portal/appointments.html", practice=practice, rows=rows, more=more, today=today)
