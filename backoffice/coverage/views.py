"""/patients/<id>/coverage: a patient's demographics and coverages; a coverage change ends the old one and re-plans
the open work it affects. Anyone serving the patient's practice (another practice's patient is a 404)."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from backoffice.accounts.access import practice_ids_for
from backoffice.audit.services import record_phi_read
from backoffice.clock import utcnow
from backoffice.coverage.forms import CoverageForm, PatientForm
from backoffice.coverage.services import DEMOGRAPHICS, CoverageInput, change_coverage, update_patient
from backoffice.extensions import db
from backoffice.form_actions import run_form
from backoffice.orgs.models import Payer, Practice
from backoffice.patients.models import Coverage, Patient

bp = Blueprint("coverage", __name__)


@bp.before_request
@login_required
def _require_login() -> None:
    """Every coverage screen needs a signed-in user."""


def _patient_or_404(patient_id: int) -> Patient:
    patient = db.session.get(Patient, patient_id)
    if patient is None or patient.practice_id not in practice_ids_for(current_user):
        abort(404)
    return patient


@bp.route("/patients/<int:patient_id>/coverage", methods=["GET"])
def page(patient_id: int):
    patient = _patient_or_404(patient_id)
    record_phi_read(patient_id=patient.id, practice_id=patient.practice_id, target_type="patient", target_id=patient.id)
    return _render(patient, PatientForm(obj=patient), _coverage_form(patient))


def _coverage_form(patient: Patient) -> CoverageForm:
    form = CoverageForm()
    practice = db.session.get(Practice, patient.practice_id)
    payers = db.session.scalars(select(Payer).where(Payer.organization_id == practice.organization_id,
                                                    Payer.active.is_(True)).order_by(Payer.name))  # fmt: skip
    form.payer_id.choices = [(p.id, f"{p.name} ({p.payer_id})") for p in payers]
    return form


def _render(patient: Patient, patient_form: PatientForm, coverage_form: CoverageForm):  # noqa: ANN202
    coverages = db.session.scalars(
        select(Coverage).where(Coverage.patient_id == patient.id).order_by(Coverage.priority, Coverage.effective_from)
    ).all()
    return render_template("coverage/page.html", patient=patient, coverages=coverages, patient_form=patient_form,
                           coverage_form=coverage_form)  # fmt: skip


@bp.route("/patients/<int:patient_id>/demographics", methods=["POST"])
def demographics(patient_id: int):
    patient = _patient_or_404(patient_id)
    run_form(PatientForm(), lambda f: update_patient(
        patient=patient, actor=current_user, now=utcnow(),
        values={name: (getattr(f, name).data or None) for name in DEMOGRAPHICS}), "Patient saved.")  # fmt: skip
    return redirect(url_for("coverage.page", patient_id=patient.id))


@bp.route("/patients/<int:patient_id>/coverages", methods=["POST"])
def add_coverage(patient_id: int):
    patient = _patient_or_404(patient_id)
    form = _coverage_form(patient)

    def save(f: CoverageForm) -> None:
        change_coverage(patient=patient, actor=current_user, now=utcnow(), data=CoverageInput(
            payer_id=f.payer_id.data, member_id=f.member_id.data.strip(), priority=f.priority.data,
            relationship=f.relationship.data, effective_from=f.effective_from.data, effective_to=f.effective_to.data,
            group_number=f.group_number.data or None, subscriber_first_name=f.subscriber_first_name.data or None,
            subscriber_last_name=f.subscriber_last_name.data or None,
            subscriber_date_of_birth=f.subscriber_date_of_birth.data, subscriber_sex=f.subscriber_sex.data or None,
        ))  # fmt: skip

    run_form(form, save, "Coverage changed; the old one ends the day before, and open work was re-planned.")
    return redirect(url_for("coverage.page", patient_id=patient.id))
