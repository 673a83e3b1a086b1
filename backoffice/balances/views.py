"""Patient balances: the patients list, a patient's balance page and its actions (sliding-scale determination,
payment plans, hardship waivers, Good Faith Estimates, statements), the PDFs, and the practice's sliding scale."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from backoffice import inputs
from backoffice.accounts.access import can_supervise, practice_ids_for
from backoffice.audit.services import record_phi_read, record_phi_reads
from backoffice.balances import charges, estimates, pdf, queries, rules, services
from backoffice.balances.forms import (
    DeterminationForm,
    GfeForm,
    PauseForm,
    PaymentForm,
    PlanForm,
    SlidingScaleForm,
    StatementForm,
    WaiverForm,
)
from backoffice.balances.models import GoodFaithEstimate, PatientStatement, PaymentPlan
from backoffice.clock import utcnow
from backoffice.errors import ServiceError, ValidationFailed
from backoffice.extensions import db
from backoffice.orgs.models import Practice, Provider
from backoffice.patients.models import Patient
from backoffice.sessions.models import Session
from backoffice.work.access import get_item_for_user_or_404
from backoffice.work.forms import ActionForm, choices
from backoffice.work.models import WorkItem
from backoffice.work.panels import Panel, register
from backoffice.work.rules import ExceptionKind

bp = Blueprint("balances", __name__)


@bp.before_request
@login_required
def _require_login() -> None:
    """Every balance screen needs a signed-in user."""


def _patient_or_404(patient_id: int) -> Patient:
    patient = queries.patient_in_scope(patient_id, practice_ids_for(current_user))
    if patient is None:
        abort(404)
    return patient


def _scoped_or_404(model: type, row_id: int) -> Any:
    row = db.session.get(model, row_id)
    if row is None or row.practice_id not in practice_ids_for(current_user):
        abort(404)
    return row


@bp.route("/patients")
def index():
    search = request.args.get("q", "")[:100]
    try:
        page_number = inputs.whole_number(request.args.get("page") or "1", low=1, high=99_999)
    except inputs.InputProblem as problem:
        flash(f"page: {problem}", "error")
        page_number = 1
    scope = practice_ids_for(current_user)
    rows, more = queries.patients_page(scope, search=search, page=page_number)
    practices = queries.practices(scope) if can_supervise(current_user) else []
    # The list shows names and dates of birth: each patient on the page is on the audit trail.
    record_phi_reads(((row.patient.id, row.patient.practice_id) for row in rows), action="phi_view",
                     target_type="patient_list")  # fmt: skip
    return render_template(
        "balances/index.html", rows=rows, search=search, page=page_number, more=more, practices=practices
    )


def _gfe_form(patient: Patient, practice: Practice, formdata: Any = None) -> GfeForm:
    form = GfeForm(formdata=formdata, prefix="gfe")
    providers = [p for p in practice.providers if p.active]
    form.provider_id.choices = choices((p.id, f"{p.display_name} · NPI {p.npi}") for p in providers)
    cpts = [c for c in rules.CPT_DESCRIPTIONS if c in (practice.fee_schedule or {})]
    for row in form.services.entries:
        row.form.cpt.choices = choices([("", "—")] + [(c, f"{c} {rules.CPT_DESCRIPTIONS[c]}") for c in cpts])
    return form


def _forms(patient: Patient, practice: Practice) -> dict[str, Any]:
    return {
        "determination_form": DeterminationForm(formdata=None, prefix="det"),
        "plan_form": PlanForm(formdata=None, prefix="plan"),
        "payment_form": PaymentForm(formdata=None, prefix="pay"),
        "pause_form": PauseForm(formdata=None, prefix="pause"),
        "waiver_form": WaiverForm(formdata=None, prefix="waive"),
        "gfe_form": _gfe_form(patient, practice),
        "statement_form": StatementForm(formdata=None, prefix="stmt"),
        "action_form": ActionForm(),
    }


@bp.route("/patients/<int:patient_id>")
def patient(patient_id: int):
    person = _patient_or_404(patient_id)
    practice = db.session.get(Practice, person.practice_id)
    today = services._local_today(practice, utcnow())
    record_phi_read(patient_id=person.id, practice_id=person.practice_id, target_type="patient", target_id=person.id)
    return render_template(
        "balances/patient.html",
        patient=person,
        practice=practice,
        balance=queries.balance(person.id),
        ledger=_running(queries.ledger(person.id)),
        plan=queries.open_plan(person.id),
        plans=queries.plans(person.id),
        estimates=queries.estimates(person.id),
        statements=queries.statements(person.id),
        determinations=queries.determinations(person.id),
        current=queries.current_determination(person.id, today),
        tiers={t.id: t for t in queries.tiers(person.practice_id, active_only=False)},
        self_pay=queries.is_self_pay(person.id, today),
        today=today,
        can_supervise=can_supervise(current_user),
        **_forms(person, practice),
    )


def _running(entries: list[Any]) -> list[tuple[Any, Decimal]]:
    """Each ledger entry with the balance after it (oldest first, as a statement reads)."""
    total, out = Decimal("0.00"), []
    for entry in entries:
        total += entry.amount
        out.append((entry, total))
    return out


def _act(patient_id: int, form: FlaskForm, call: Callable[[], Any], done: str) -> ResponseReturnValue:
    """Validate the form, run the service, flash the outcome, back to the patient page (303)."""
    if not form.validate_on_submit():
        for field, errors in form.errors.items():
            flash(f"{field}: {'; '.join(str(e) for e in _flat(errors))}", "error")
    else:
        try:
            call()
            flash(done, "success")
        except ServiceError as error:
            flash(str(error), "error")
    return redirect(url_for("balances.patient", patient_id=patient_id), 303)


def _flat(errors: Any) -> list[Any]:
    if isinstance(errors, dict):
        return [e for v in errors.values() for e in _flat(v)]
    if isinstance(errors, list):
        return [e for v in errors for e in _flat(v)]
    return [errors]


@bp.route("/patients/<int:patient_id>/determinations", methods=["POST"])
def determine(patient_id: int):
    person = _patient_or_404(patient_id)
    form = DeterminationForm(prefix="det")
    return _act(person.id, form, lambda: services.determine_sliding_scale(
        patient=person, household_size=form.household_size.data, annual_income=form.annual_income.data,
        evidence=form.evidence.data, actor=current_user, now=utcnow()), "Determination recorded.")  # fmt: skip


@bp.route("/patients/<int:patient_id>/plans", methods=["POST"])
def create_plan(patient_id: int):
    person = _patient_or_404(patient_id)
    form = PlanForm(prefix="plan")
    return _act(person.id, form, lambda: services.create_payment_plan(
        patient=person, instalment_count=form.instalment_count.data, first_due_on=form.first_due_on.data,
        interval=form.interval.data, autopay=form.autopay.data, agreement_signed_on=form.agreement_signed_on.data,
        note=form.note.data, actor=current_user, now=utcnow()), "Payment plan created.")  # fmt: skip


@bp.route("/plans/<int:plan_id>/payments", methods=["POST"])
def pay(plan_id: int):
    plan = _scoped_or_404(PaymentPlan, plan_id)
    form = PaymentForm(prefix="pay")
    return _act(plan.patient_id, form, lambda: services.record_plan_payment(
        plan=plan, amount=form.amount.data, paid_on=form.paid_on.data, actor=current_user, now=utcnow()),
        "Payment recorded.")  # fmt: skip


@bp.route("/plans/<int:plan_id>/pause", methods=["POST"])
def pause(plan_id: int):
    plan = _scoped_or_404(PaymentPlan, plan_id)
    form = PauseForm(prefix="pause")
    return _act(plan.patient_id, form, lambda: services.pause_plan(
        plan=plan, reason=form.reason.data, actor=current_user, now=utcnow()), "Plan paused.")  # fmt: skip


@bp.route("/plans/<int:plan_id>/resume", methods=["POST"])
def resume(plan_id: int):
    plan = _scoped_or_404(PaymentPlan, plan_id)
    return _act(plan.patient_id, ActionForm(), lambda: services.resume_plan(
        plan=plan, actor=current_user, now=utcnow()), "Plan resumed.")  # fmt: skip


@bp.route("/patients/<int:patient_id>/waivers", methods=["POST"])
def waive(patient_id: int):
    person = _patient_or_404(patient_id)
    form = WaiverForm(prefix="waive")
    return _act(person.id, form, lambda: services.waive_balance(
        patient=person, amount=form.amount.data, reason=form.reason.data, actor=current_user, now=utcnow()),
        "Hardship waiver posted.")  # fmt: skip


@bp.route("/patients/<int:patient_id>/gfes", methods=["POST"])
def create_gfe(patient_id: int):
    person = _patient_or_404(patient_id)
    practice = db.session.get(Practice, person.practice_id)
    form = _gfe_form(person, practice, formdata=request.form)

    def call() -> Any:
        provider = db.session.get(Provider, form.provider_id.data)
        if provider is None:
            raise ValidationFailed("provider_id: unknown provider")
        return estimates.create_gfe(
            patient=person, provider=provider,
            services=[estimates.ExpectedService(cpt, n) for cpt, n in form.expected()],
            diagnosis_codes=form.diagnosis_codes.data.split(","), covers_from=form.covers_from.data,
            covers_to=form.covers_to.data, scheduled_on=form.scheduled_on.data, requested_on=form.requested_on.data,
            first_service_on=form.first_service_on.data, declines_insurance=form.declines_insurance.data,
            actor=current_user, now=utcnow(),
        )  # fmt: skip

    return _act(person.id, form, call, "Good Faith Estimate drafted; an issue item is due by its deadline.")


@bp.route("/gfes/<int:gfe_id>/issue", methods=["POST"])
def issue_gfe(gfe_id: int):
    gfe = _scoped_or_404(GoodFaithEstimate, gfe_id)
    return _act(gfe.patient_id, ActionForm(), lambda: estimates.issue_gfe(gfe=gfe, actor=current_user, now=utcnow()),
                "Good Faith Estimate issued.")  # fmt: skip


def _pdf_response(body: bytes, name: str) -> ResponseReturnValue:
    return body, 200, {"Content-Type": "application/pdf", "Content-Disposition": f'inline; filename="{name}"',
                       "Cache-Control": "no-store"}  # fmt: skip


@bp.route("/gfes/<int:gfe_id>.pdf")
def gfe_pdf(gfe_id: int):
    gfe = _scoped_or_404(GoodFaithEstimate, gfe_id)
    record_phi_read(patient_id=gfe.patient_id, practice_id=gfe.practice_id, action="pdf", target_type="gfe",
                    target_id=gfe.id)  # fmt: skip
    return _pdf_response(pdf.gfe_pdf(gfe), f"good-faith-estimate-{gfe.id}.pdf")


@bp.route("/patients/<int:patient_id>/statements", methods=["POST"])
def create_statement(patient_id: int):
    person = _patient_or_404(patient_id)
    form = StatementForm(prefix="stmt")
    return _act(person.id, form, lambda: services.create_statement(
        patient=person, period_from=form.period_from.data, period_to=form.period_to.data, actor=current_user,
        now=utcnow()), "Statement recorded; open its PDF to print or send it.")  # fmt: skip


@bp.route("/statements/<int:statement_id>.pdf")
def statement_pdf(statement_id: int):
    statement = _scoped_or_404(PatientStatement, statement_id)
    record_phi_read(patient_id=statement.patient_id, practice_id=statement.practice_id, action="pdf",
                    target_type="statement", target_id=statement.id)  # fmt: skip
    return _pdf_response(pdf.statement_pdf(statement), f"statement-{statement.id}.pdf")


@bp.route("/practices/<int:practice_id>/sliding-scale", methods=["GET", "POST"])
def sliding_scale(practice_id: int):
    if not can_supervise(current_user):
        abort(403)
    practice = _practice_or_404(practice_id)
    form = SlidingScaleForm()
    if request.method == "GET":
        current = queries.tiers(practice.id)
        while len(form.tiers.entries) < min(len(current) + 2, form.tiers.max_entries):  # every tier, and room
            form.tiers.append_entry()
        for row, tier in zip(form.tiers.entries, current, strict=False):
            row.form.name.data, row.form.max_fpl_percent.data = tier.name, tier.max_fpl_percent
            row.form.discount_percent.data, row.form.flat_fee.data = tier.discount_percent, tier.flat_fee
    elif form.validate_on_submit():
        try:
            services.save_tiers(practice=practice, tiers=form.rule_tiers(), actor=current_user, now=utcnow())
            flash("Sliding scale saved.", "success")
            return redirect(url_for("balances.sliding_scale", practice_id=practice.id), 303)
        except ServiceError as error:
            flash(str(error), "error")
    else:
        for field, errors in form.errors.items():
            flash(f"{field}: {'; '.join(str(e) for e in _flat(errors))}", "error")
    return render_template("balances/sliding_scale.html", practice=practice, form=form, fpl=rules.FPL_TABLES[
        rules.FPL_YEAR], sizes=range(1, 9))  # fmt: skip


def _practice_or_404(practice_id: int) -> Practice:
    practice = db.session.get(Practice, practice_id)
    if practice is None or practice.id not in practice_ids_for(current_user):
        abort(404)
    return practice


@bp.route("/items/<int:item_id>/self-pay-charge", methods=["POST"])
def charge_self_pay(item_id: int):
    item = get_item_for_user_or_404(item_id, current_user)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        entries = charges.charge_self_pay_session(item=item, actor=current_user, now=utcnow())
        flash(f"Patient charged {sum(e.amount for e in entries)}; charge entry completed.", "success")
    except ServiceError as error:
        flash(str(error), "error")
    return redirect(url_for("work.item", item_id=item_id), 303)


def _self_pay_panel(item: WorkItem) -> dict[str, Any]:
    session = db.session.get(Session, item.session_id)
    try:
        lines, problem = charges.preview(session), None
    except ServiceError as error:
        lines, problem = [], str(error)
    return {"lines": lines, "problem": problem, "total": sum((line.amount for line in lines), Decimal("0.00")),
            "patient_id": session.patient_id, "balance": queries.balance(session.patient_id)}  # fmt: skip


register(Panel("self-pay-charge", "balances/_self_pay_panel.html", applies=charges.self_pay_item,
               context=_self_pay_panel, order=40))  # fmt: skip


def _balance_panel(item: WorkItem) -> dict[str, Any]:
    patient = db.session.get(Patient, item.patient_id)
    record_phi_read(patient_id=patient.id, practice_id=patient.practice_id, target_type="patient", target_id=patient.id)
    gfe = None
    if item.kind == ExceptionKind.ISSUE_GFE and (item.dedupe_key or "").startswith("gfe:"):
        gfe = db.session.get(GoodFaithEstimate, int(item.dedupe_key.split(":")[1]))
    return {"patient": patient, "balance": queries.balance(patient.id), "plan": queries.open_plan(patient.id),
            "gfe": gfe}  # fmt: skip


register(
    Panel(
        "patient-balance",
        "balances/_panel.html",
        applies=lambda item: (
            item.patient_id is not None and item.kind in (ExceptionKind.PAYMENT_REMINDER, ExceptionKind.ISSUE_GFE)
        ),
        context=_balance_panel,
        order=40,
    )
)
