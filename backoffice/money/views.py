"""Patient payments (with receipts), credit balances and refunds."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from sqlalchemy import select

from backoffice.accounts.access import can_supervise, practice_ids_for
from backoffice.audit.services import record_phi_read
from backoffice.claims.models import Claim
from backoffice.clock import utcnow
from backoffice.errors import ServiceError
from backoffice.extensions import db
from backoffice.money import deposits, pdf, queries, refunds, services
from backoffice.money.forms import (
    DepositForm,
    PatientPaymentForm,
    RefundDecisionForm,
    RefundPostForm,
    RefundRequestForm,
)
from backoffice.money.models import Deposit, PatientPayment, RefundRequest
from backoffice.orgs.models import Practice
from backoffice.patients.models import Patient
from backoffice.remits.models import Remittance
from backoffice.work.models import WorkItem
from backoffice.work.panels import Panel, register

bp = Blueprint("money", __name__, url_prefix="/money")


@bp.before_request
@login_required
def _require_login() -> None:
    """Every money screen needs a signed-in user."""


def _scoped_or_404(model: type, row_id: int) -> Any:
    row = db.session.get(model, row_id)
    if row is None or row.practice_id not in practice_ids_for(current_user):
        abort(404)
    return row


def _payment_form(patient: Patient) -> PatientPaymentForm:
    form = PatientPaymentForm()
    balances = services.open_balances(patient.id)
    numbers = dict(db.session.execute(select(Claim.id, Claim.account_number).where(
        Claim.id.in_([b.claim_id for b in balances if b.claim_id])) ).all())  # fmt: skip
    form.claim_ids.choices = [(str(b.claim_id or "self"), f"{numbers.get(b.claim_id, 'Self-pay charges')}: "
                               f"${b.amount:,.2f} since {b.since:%m/%d/%Y}") for b in balances]  # fmt: skip
    return form


@bp.route("/patients/<int:patient_id>/payments", methods=["GET", "POST"])
def patient_payments(patient_id: int) -> ResponseReturnValue:
    patient = _scoped_or_404(Patient, patient_id)
    form = _payment_form(patient)
    if form.validate_on_submit():
        chosen = [None if c == "self" else int(c) for c in form.claim_ids.data or []]
        try:
            payment = services.record_patient_payment(
                patient=patient, actor=current_user, now=utcnow(), method=form.method.data, amount=form.amount.data,
                received_on=form.received_on.data, reference=form.reference.data, claim_ids=chosen or None,
                batch=form.batch.data, note=form.note.data,
            )  # fmt: skip
        except ServiceError as error:
            flash(str(error), "error")
        else:
            flash(f"Payment of ${payment.amount:,.2f} recorded (receipt R-{payment.id:06d}).", "success")
            return redirect(url_for("money.patient_payments", patient_id=patient.id))
    elif request.method == "POST":
        flash("; ".join(f"{f.label.text}: {e}" for f in form for e in f.errors), "error")
    record_phi_read(patient_id=patient.id, practice_id=patient.practice_id, target_type="patient_payments")
    return render_template("money/payments.html", patient=patient, form=form,
                           payments=queries.payments_of(patient.id), credit=services.patient_credit(patient.id),
                           balances=services.open_balances(patient.id))  # fmt: skip


@bp.route("/payments/<int:payment_id>/receipt.pdf")
def receipt(payment_id: int) -> ResponseReturnValue:
    payment = _scoped_or_404(PatientPayment, payment_id)
    record_phi_read(
        patient_id=payment.patient_id,
        practice_id=payment.practice_id,
        action="pdf",
        target_type="patient_payment",
        target_id=payment.id,
    )
    return (
        pdf.receipt_pdf(payment),
        200,
        {
            "Content-Type": "application/pdf",
            "Content-Disposition": f'inline; filename="receipt-R-{payment.id:06d}.pdf"',
        },
    )


@bp.route("/credits")
def credits() -> ResponseReturnValue:
    scope = practice_ids_for(current_user)
    return render_template("money/credits.html", patients=queries.patient_credits(scope),
                           payers=queries.payer_credits(scope), requests=queries.refund_requests(scope),
                           request_form=RefundRequestForm(), decision_form=RefundDecisionForm(),
                           post_form=RefundPostForm(), can_decide=can_supervise(current_user))  # fmt: skip


def _done(action: Any, message: str) -> ResponseReturnValue:
    try:
        action()
    except ServiceError as error:
        flash(str(error), "error")
    else:
        flash(message, "success")
    return redirect(url_for("money.credits"))


@bp.route("/credits/patients/<int:patient_id>/refund", methods=["POST"])
def request_patient_refund(patient_id: int) -> ResponseReturnValue:
    patient = _scoped_or_404(Patient, patient_id)
    form = RefundRequestForm()
    if not form.validate_on_submit():
        flash("; ".join(f"{f.label.text}: {e}" for f in form for e in f.errors), "error")
        return redirect(url_for("money.credits"))
    return _done(lambda: refunds.request_refund(actor=current_user, now=utcnow(), patient=patient,
                                                amount=form.amount.data, reason=form.reason.data),
                 "Refund requested; another supervisor approves it.")  # fmt: skip


@bp.route("/credits/claims/<int:claim_id>/refund", methods=["POST"])
def request_payer_refund(claim_id: int) -> ResponseReturnValue:
    claim = _scoped_or_404(Claim, claim_id)
    form = RefundRequestForm()
    if not form.validate_on_submit():
        flash("; ".join(f"{f.label.text}: {e}" for f in form for e in f.errors), "error")
        return redirect(url_for("money.credits"))
    return _done(lambda: refunds.request_refund(actor=current_user, now=utcnow(), claim=claim,
                                                amount=form.amount.data, reason=form.reason.data),
                 "Refund requested; another supervisor approves it.")  # fmt: skip


@bp.route("/refunds/<int:request_id>/decide", methods=["POST"])
def decide(request_id: int) -> ResponseReturnValue:
    refund = _scoped_or_404(RefundRequest, request_id)
    form = RefundDecisionForm()
    if not form.validate_on_submit():
        abort(400)
    approve = form.decision.data == "approve"
    return _done(lambda: refunds.decide_refund(request=refund, actor=current_user, now=utcnow(), approve=approve,
                                               note=form.note.data),
                 f"Refund request #{refund.id} {'approved' if approve else 'rejected'}.")  # fmt: skip


@bp.route("/refunds/<int:request_id>/post", methods=["POST"])
def post(request_id: int) -> ResponseReturnValue:
    refund = _scoped_or_404(RefundRequest, request_id)
    form = RefundPostForm()
    if not form.validate_on_submit():
        abort(400)
    return _done(lambda: refunds.post_refund(request=refund, actor=current_user, now=utcnow(),
                                             reference=form.reference.data),
                 f"Refund #{refund.id} posted.")  # fmt: skip


@bp.route("/deposits", methods=["GET", "POST"])
def deposits_page() -> ResponseReturnValue:
    scope = practice_ids_for(current_user)
    form = DepositForm()
    form.practice_id.choices = [(str(p.id), p.name) for p in db.session.scalars(
        select(Practice).where(Practice.id.in_(scope)).order_by(Practice.name))]  # fmt: skip
    if form.validate_on_submit():
        practice = db.session.get(Practice, int(form.practice_id.data))
        if practice is None or practice.id not in scope:
            abort(404)
        try:
            deposit = deposits.record_deposit(
                practice=practice, actor=current_user, now=utcnow(), deposited_on=form.deposited_on.data,
                amount=form.amount.data, kind=form.kind.data, trace_number=form.trace_number.data,
                batch=form.batch.data,
            )  # fmt: skip
        except ServiceError as error:
            flash(str(error), "error")
        else:
            matched = "matched" if deposit.matched_at else "not matched yet (the sweep retries)"
            flash(f"Deposit of ${deposit.amount:,.2f} recorded, {matched}.", "success")
            return redirect(url_for("money.deposits_page"))
    elif request.method == "POST":
        flash("; ".join(f"{f.label.text}: {e}" for f in form for e in f.errors), "error")
    rows = db.session.scalars(select(Deposit).where(Deposit.practice_id.in_(scope))
                              .order_by(Deposit.deposited_on.desc(), Deposit.id.desc()).limit(200))  # fmt: skip
    return render_template("money/deposits.html", form=form, deposits=list(rows))


def _deposit_panel(item: WorkItem) -> dict[str, Any]:
    deposit = db.session.get(Deposit, item.deposit_id)
    era = db.session.get(Remittance, deposit.remittance_id) if deposit.remittance_id else None
    return {"deposit": deposit, "era": era}


# A Match deposit item about a deposit (no ERA matched it) shows the deposit and what it was matched to since.
register(Panel("deposit", "money/_deposit_panel.html", applies=lambda item: item.deposit_id is not None,
               context=_deposit_panel, order=40))  # fmt: skip
