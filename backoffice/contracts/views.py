"""The company's own business screens (supervisors and admins): client contracts per practice, the monthly close,
invoices with their lines and what each is computed from, approval, credit notes, PDF and CSV."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from sqlalchemy import select

from backoffice.accounts.access import can_supervise, practice_ids_for
from backoffice.clock import utcnow
from backoffice.contracts import documents, services
from backoffice.contracts.forms import CloseForm, ContractForm, CreditForm, MoveForm
from backoffice.contracts.models import Invoice
from backoffice.contracts.rules import InvoiceStatus
from backoffice.errors import ServiceError
from backoffice.extensions import db
from backoffice.orgs.models import Organization, Practice
from backoffice.work.forms import choices

bp = Blueprint("contracts", __name__, url_prefix="/billing")


@bp.before_request
@login_required
def _supervisors_only() -> None:
    """The billing company's own business is for supervisors and admins."""
    if not can_supervise(current_user):
        abort(403)


def _practice_or_404(practice_id: int) -> Practice:
    practice = db.session.get(Practice, practice_id)
    if practice is None or practice.id not in practice_ids_for(current_user):
        abort(404)
    return practice


def _invoice_or_404(invoice_id: int) -> Invoice:
    invoice = db.session.get(Invoice, invoice_id)
    if invoice is None or invoice.practice_id not in practice_ids_for(current_user):
        abort(404)
    return invoice


def _practices() -> list[Practice]:
    scope = practice_ids_for(current_user)
    return list(db.session.scalars(select(Practice).where(Practice.id.in_(scope)).order_by(Practice.name)))


@bp.route("/invoices")
def invoices() -> ResponseReturnValue:
    return _invoices_page()


def _invoices_page(form: CloseForm | None = None, status_code: int = 200) -> ResponseReturnValue:
    """The invoice list with the close form (a refused close comes back with what was typed in it)."""
    scope = practice_ids_for(current_user)
    query = select(Invoice).where(Invoice.practice_id.in_(scope))
    practice_id = request.args.get("practice", type=int)
    if practice_id:
        query = query.where(Invoice.practice_id == practice_id)
    status = request.args.get("status", "")
    if status in {s.value for s in InvoiceStatus}:
        query = query.where(Invoice.status == status)
    rows = list(db.session.scalars(query.order_by(Invoice.period_start.desc(), Invoice.id.desc()).limit(500)))
    if form is None:
        form = CloseForm(formdata=None)
        form.practice_id.choices = choices((p.id, p.name) for p in _practices())
    statuses = [s.value for s in InvoiceStatus]
    return render_template("contracts/invoices.html", rows=rows, form=form, practices=_practices(),
                           practice_id=practice_id, status=status, statuses=statuses), status_code  # fmt: skip


@bp.route("/close", methods=["POST"])
def close() -> ResponseReturnValue:
    form = CloseForm()
    form.practice_id.choices = choices((p.id, p.name) for p in _practices())
    if not form.validate_on_submit():
        for field, errors in form.errors.items():
            flash(f"{field}: {'; '.join(errors)}", "error")
        return _invoices_page(form, 422)
    practice = _practice_or_404(form.practice_id.data)
    try:
        year, month = services.parse_month(form.month.data)
        invoice = services.close_month(practice=practice, year=year, month=month, now=utcnow(), user=current_user)
        db.session.commit()
    except ServiceError as error:
        db.session.rollback()
        flash(str(error), "error")
        return _invoices_page(form, 422)
    flash(f"{invoice.number}: {practice.name}, {form.month.data}, total {invoice.total:,.2f} ({invoice.status})", "ok")
    return redirect(url_for("contracts.invoice", invoice_id=invoice.id))


@bp.route("/invoices/<int:invoice_id>")
def invoice(invoice_id: int) -> ResponseReturnValue:
    return _invoice_page(_invoice_or_404(invoice_id))


def _invoice_page(row: Invoice, *, move_form: MoveForm | None = None, credit_form: CreditForm | None = None,
                  status_code: int = 200) -> ResponseReturnValue:  # fmt: skip
    """The invoice page; a refused status move or credit note comes back with what was typed in its form."""
    credits = list(db.session.scalars(select(Invoice).where(Invoice.credits_invoice_id == row.id)))
    return render_template("contracts/invoice.html", invoice=row, move_form=move_form or MoveForm(formdata=None),
                           credit_form=credit_form or CreditForm(formdata=None), credits=credits,
                           credited=services.credited(row), labels=documents.SOURCE_LABELS), status_code  # fmt: skip


@bp.route("/invoices/<int:invoice_id>/status", methods=["POST"])
def move(invoice_id: int) -> ResponseReturnValue:
    row = _invoice_or_404(invoice_id)
    form = MoveForm()
    if not form.validate_on_submit():
        for field, errors in form.errors.items():
            flash(f"{field}: {'; '.join(errors)}", "error")
        return _invoice_page(row, move_form=form, status_code=422)
    try:
        services.move_invoice(invoice=row, target=form.status.data, user=current_user, now=utcnow(),
                              paid_on=form.paid_on.data)  # fmt: skip
        db.session.commit()
    except ServiceError as error:
        db.session.rollback()
        flash(str(error), "error")
        return _invoice_page(_invoice_or_404(invoice_id), move_form=form, status_code=422)
    flash(f"{row.number} is {row.status}", "ok")
    return redirect(url_for("contracts.invoice", invoice_id=row.id))


@bp.route("/invoices/<int:invoice_id>/credit", methods=["POST"])
def credit(invoice_id: int) -> ResponseReturnValue:
    row = _invoice_or_404(invoice_id)
    form = CreditForm()
    if not form.validate_on_submit():
        for field, errors in form.errors.items():
            flash(f"{field}: {'; '.join(errors)}", "error")
        return _invoice_page(row, credit_form=form, status_code=422)
    try:
        note = services.credit_note(invoice=row, amount=form.amount.data, reason=form.reason.data, user=current_user,
                                    now=utcnow())  # fmt: skip
        db.session.commit()
    except ServiceError as error:
        db.session.rollback()
        flash(str(error), "error")
        return _invoice_page(_invoice_or_404(invoice_id), credit_form=form, status_code=422)
    flash(f"credit note {note.number} for {-note.total:,.2f} created (draft: approve it to issue it)", "ok")
    return redirect(url_for("contracts.invoice", invoice_id=note.id))


def _organization_name(invoice: Invoice) -> str:
    organization = db.session.get(Organization, invoice.organization_id)
    return organization.name if organization else ""


@bp.route("/invoices/<int:invoice_id>.pdf")
def invoice_pdf(invoice_id: int) -> ResponseReturnValue:
    row = _invoice_or_404(invoice_id)
    body = documents.invoice_pdf(row, organization_name=_organization_name(row), created=utcnow())
    return Response(body, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{row.number}.pdf"'})  # fmt: skip


@bp.route("/invoices/<int:invoice_id>.csv")
def invoice_csv(invoice_id: int) -> ResponseReturnValue:
    row = _invoice_or_404(invoice_id)
    return Response(documents.invoice_csv(row), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{row.number}.csv"'})  # fmt: skip


@bp.route("/practices/<int:practice_id>/contract", methods=["GET", "POST"])
def contract(practice_id: int) -> ResponseReturnValue:
    practice = _practice_or_404(practice_id)
    form = ContractForm()
    if request.method == "GET":
        current = services.contract_in_force(practice.id, utcnow().date())
        if current is not None:
            form.owned_steps.data = list(current.owned_steps or [])
            form.basis.data = str(current.basis)
        else:
            form.owned_steps.data = list(practice.owned_steps or [])
    if form.validate_on_submit():
        values: dict[str, Any] = {name: getattr(form, name).data for name in (
            "effective_from", "effective_to", "owned_steps", "percent", "basis", "monthly_minimum", "per_claim",
            "per_appeal", "setup_fee", "late_cancel_fee", "late_cancel_hours")}  # fmt: skip
        values["sla_hours"] = {
            step: getattr(form, f"sla_{step}").data
            for step in ContractForm.SLA_FIELDS
            if getattr(form, f"sla_{step}").data is not None
        }
        try:
            services.save_contract(practice=practice, values=values, user=current_user, now=utcnow())
            db.session.commit()
        except ServiceError as error:
            flash(str(error), "error")
        else:
            flash(f"contract from {form.effective_from.data.isoformat()} saved for {practice.name}", "ok")
            return redirect(url_for("contracts.contract", practice_id=practice.id))
    elif request.method == "POST":
        for field, errors in form.errors.items():
            flash(f"{field}: {'; '.join(errors)}", "error")
    return render_template("contracts/contract.html", practice=practice, form=form,
                           contracts=services.contracts_of(practice.id))  # fmt: skip
