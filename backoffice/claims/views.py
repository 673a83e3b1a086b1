"""The claims list (search) and the claim page, with its corrections: fix the header of a draft or rejected claim,
replace (7) or void (8) an adjudicated one, fix the coverage and rebill. Reads of patient data are audited."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from backoffice import inputs
from backoffice.audit.services import record_phi_read, record_phi_reads
from backoffice.claims import corrections, queries
from backoffice.claims.forms import CoverageForm, HeaderForm, ReasonForm
from backoffice.claims.models import Claim
from backoffice.claims.rules import ACTION_LABELS, ADJUDICATED, ClaimStatus, correction_problem
from backoffice.clock import utcnow
from backoffice.errors import ServiceError
from backoffice.extensions import db
from backoffice.form_actions import flash_form_errors, run_form
from backoffice.itemforms.rules import MAX_LINES
from backoffice.orgs.models import Practice
from backoffice.patients.models import Coverage
from backoffice.work.forms import choices

bp = Blueprint("claims", __name__)


@bp.before_request
@login_required
def _require_login() -> None:
    """Every claims page needs a signed-in user."""


def _claim_or_404(claim_id: int) -> Claim:
    claim = queries.get_claim_for_user_or_none(claim_id, current_user)
    if claim is None:
        abort(404)
    return claim


def _filters() -> queries.ClaimFilters:
    args, today = request.args, utcnow().date()
    values: dict[str, Any] = {}
    try:
        for name in ("date_of_birth", "dos_from", "dos_to"):
            raw = args.get(name, "").strip()
            values[name] = inputs.iso_date(raw, today=today, future_days=366) if raw else None
        for name in ("payer_id", "practice_id"):
            raw = args.get(name, "").strip()
            values[name] = inputs.whole_number(raw) if raw else None
    except inputs.InputProblem as problem:
        abort(400, f"{name}: {problem}")
    status = args.get("status", "")
    if status and status not in {s.value for s in ClaimStatus}:
        abort(400, "status: not a claim status")
    text = {name: args.get(name, "")[:80] for name in ("patient", "member_id", "claim_number", "payer_claim_number")}
    return queries.ClaimFilters(status=status, **text, **values)


@bp.route("/claims")
def index():
    filters = _filters()
    rows, more = queries.search_claims(current_user, filters) if filters.any else ([], False)
    # The list shows names and dates of birth: each patient on the page is on the audit trail.
    record_phi_reads(((row.patient.id, row.claim.practice_id) for row in rows), action="phi_view",
                     target_type="claim_list")  # fmt: skip
    return render_template("claims/index.html", rows=rows, more=more, filters=filters,
                           options=queries.filter_options(current_user),
                           statuses=[s.value for s in ClaimStatus])  # fmt: skip


def _header_form(claim: Claim, page: dict[str, Any], formdata: Any = None) -> HeaderForm:
    form = HeaderForm(formdata=formdata)
    practice = db.session.get(Practice, claim.practice_id)
    form.payer_id.choices = choices(queries.payers_of(practice.organization_id))
    form.rendering_provider_id.choices = choices(queries.providers_of(claim.practice_id))
    if formdata is None:
        session, patient, coverage = page.get("session"), page.get("patient"), page.get("coverage")
        form.version.data = str(claim.version)
        if session is not None:
            form.date_of_service.data = session.date_of_service
            form.diagnoses.data = " ".join(session.diagnoses or [])
            form.auth_number.data = session.auth_number or ""
            form.rendering_provider_id.data = session.provider_id
        if patient is not None:
            form.patient_first_name.data, form.patient_last_name.data = patient.first_name, patient.last_name
            form.patient_date_of_birth.data, form.patient_sex.data = patient.date_of_birth, str(patient.sex)
        if coverage is not None:
            form.member_id.data, form.group_number.data = coverage.member_id, coverage.group_number or ""
            form.subscriber_first_name.data = coverage.subscriber_first_name or ""
            form.subscriber_last_name.data = coverage.subscriber_last_name or ""
            form.subscriber_date_of_birth.data = coverage.subscriber_date_of_birth
        form.payer_id.data = claim.payer_id
    return form


def _coverage_form(claim: Claim, formdata: Any = None) -> CoverageForm:
    form = CoverageForm(formdata=formdata)
    practice = db.session.get(Practice, claim.practice_id)
    form.payer_id.choices = choices(queries.payers_of(practice.organization_id))
    coverage = db.session.get(Coverage, claim.coverage_id) if claim.coverage_id else None
    if formdata is None and coverage is not None:
        form.payer_id.data, form.member_id.data = coverage.payer_id, coverage.member_id
        form.group_number.data = coverage.group_number or ""
    form.version.data = str(claim.version)
    return form


def _actions(claim: Claim) -> dict[str, bool]:
    adjudicated = claim.status in ADJUDICATED
    replace = correction_problem(status=str(claim.status), frequency=claim.frequency_code,
                                 payer_claim_number=claim.payer_claim_number, correction="7") is None  # fmt: skip
    return {
        "correct": claim.status in corrections.EDITABLE,
        "replace": replace,
        "void": replace,
        "rebill": claim.payer_sequence == "P" and (adjudicated or claim.status == ClaimStatus.REJECTED),
        "adjudicated": adjudicated,
    }


@bp.route("/claims/<int:claim_id>")
def detail(claim_id: int):
    return _detail_page(_claim_or_404(claim_id))


def _detail_page(claim: Claim, *, refused: FlaskForm | None = None, kind: str = "", lines: Any = None,
                 status: int = 200):  # fmt: skip
    """The claim page; after a refused correction, its form (``kind``: header, coverage or reason) and the
    replacement's lines come back as typed, with a 422, instead of a redirect to empty forms."""
    page = queries.claim_page(claim)
    today = corrections.practice_today(claim, utcnow())
    record_phi_read(patient_id=claim.patient_id, practice_id=claim.practice_id, target_type="claim",
                    target_id=claim.id)  # fmt: skip
    void_form = refused if kind == "reason" else ReasonForm(formdata=None)
    if kind != "reason":
        void_form.version.data = str(claim.version)
    header_form = refused if kind == "header" else _header_form(claim, page)
    coverage_form = refused if kind == "coverage" else _coverage_form(claim)
    return render_template(
        "claims/detail.html", **page, today=today, actions=_actions(claim), labels=ACTION_LABELS,
        header_form=header_form, coverage_form=coverage_form, void_form=void_form, typed_lines=lines,
        warning=corrections.deadline_warning(claim, today) if claim.status in ADJUDICATED else None,
    ), status  # fmt: skip


def _back(claim: Claim):
    return redirect(url_for("claims.detail", claim_id=claim.id), 303)


def _version(form: FlaskForm) -> int | None:
    raw = form.version.data or ""
    return int(raw) if raw.isdigit() else None


def _text(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None


def _edit(form: HeaderForm) -> corrections.HeaderEdit:
    """The form as a HeaderEdit: blank text fields stay as they are (the authorization number: blank clears it)."""
    return corrections.HeaderEdit(
        date_of_service=form.date_of_service.data, patient_first_name=_text(form.patient_first_name.data),
        patient_last_name=_text(form.patient_last_name.data), patient_date_of_birth=form.patient_date_of_birth.data,
        patient_sex=form.patient_sex.data or None, member_id=_text(form.member_id.data),
        group_number=form.group_number.data if form.group_number.data is not None else None,
        payer_id=form.payer_id.data or None, subscriber_first_name=_text(form.subscriber_first_name.data),
        subscriber_last_name=_text(form.subscriber_last_name.data),
        subscriber_date_of_birth=form.subscriber_date_of_birth.data,
        diagnoses=tuple((form.diagnoses.data or "").replace(",", " ").split()) or None,
        auth_number=form.auth_number.data if form.auth_number.data is not None else None,
        rendering_provider_id=form.rendering_provider_id.data or None,
    )  # fmt: skip


def _form_lines() -> list[dict[str, str]]:
    """The replacement's ``line-N-field`` inputs in row order (blank rows are skipped by the service)."""
    return [
        {k: request.form.get(f"line-{n}-{k}", "") for k in ("cpt", "modifiers", "units", "pos", "pointers")}
        for n in range(1, MAX_LINES + 1)
    ]


def _run(claim: Claim, form: FlaskForm, action: Callable[[Any], Any], done: Callable[[Any], str], kind: str,
         lines: Any = None):  # fmt: skip
    """Validate ``form``, run one correction, flash its outcome (and any deadline warning), back to the claim; a
    refusal shows the claim page again with what was typed (``kind`` names the form, see ``_detail_page``)."""
    if not form.validate_on_submit():
        flash_form_errors(form)
        return _detail_page(claim, refused=form, kind=kind, lines=lines, status=422)
    try:
        outcome = action(form)
    except ServiceError as error:
        flash(str(error), "error")
        return _detail_page(_claim_or_404(claim.id), refused=form, kind=kind, lines=lines, status=422)
    flash(done(outcome), "success")
    for warning in getattr(outcome, "warnings", None) or []:
        flash(f"Warning: {warning}", "error")
    return _back(claim)


@bp.route("/claims/<int:claim_id>/correct", methods=["POST"])
def correct(claim_id: int):
    claim = _claim_or_404(claim_id)
    form = _header_form(claim, {}, request.form)
    resubmit = request.form.get("action") == "resubmit"

    def do(f: HeaderForm) -> Any:
        return corrections.correct_claim(claim=claim, actor=current_user, now=utcnow(), edit=_edit(f),
                                         reason=f.reason.data, version=_version(f), resubmit=resubmit)  # fmt: skip

    return _run(claim, form, do, lambda r: f"Claim corrected as version {r.claim.version}"
                + ("; resubmission queued." if r.submit_item_id else "."), "header")  # fmt: skip


@bp.route("/claims/<int:claim_id>/replace", methods=["POST"])
def replace(claim_id: int):
    claim = _claim_or_404(claim_id)
    form = _header_form(claim, {}, request.form)

    lines = _form_lines() if "line-1-cpt" in request.form else None

    def do(f: HeaderForm) -> Any:
        return corrections.replace_claim(claim=claim, actor=current_user, now=utcnow(), edit=_edit(f),
                                         reason=f.reason.data, version=_version(f), lines=lines)  # fmt: skip

    def done(r: corrections.Correction) -> str:
        then = "submission queued." if r.submit_item_id else "fix the scrubber errors before it goes."
        return f"Replacement claim (frequency 7) made as version {r.claim.version}; {then}"

    return _run(claim, form, do, done, "header", lines)


@bp.route("/claims/<int:claim_id>/void", methods=["POST"])
def void(claim_id: int):
    claim = _claim_or_404(claim_id)

    def do(f: ReasonForm) -> Any:
        return corrections.void_claim(claim=claim, actor=current_user, now=utcnow(), reason=f.reason.data,
                                      version=_version(f))  # fmt: skip

    return _run(claim, ReasonForm(), do, lambda r: f"Void (frequency 8) made as version {r.claim.version}; "
                "submission queued.", "reason")  # fmt: skip


@bp.route("/claims/<int:claim_id>/coverage", methods=["POST"])
def fix_coverage(claim_id: int):
    claim = _claim_or_404(claim_id)
    form = _coverage_form(claim, request.form)

    def do(f: CoverageForm) -> Any:
        edit = corrections.HeaderEdit(payer_id=f.payer_id.data, member_id=f.member_id.data,
                                      group_number=f.group_number.data or "")  # fmt: skip
        return corrections.fix_coverage(claim=claim, actor=current_user, now=utcnow(), edit=edit, reason=f.reason.data)

    return _run(claim, form, do, lambda changed: f"Coverage fixed ({', '.join(changed)}).", "coverage")


@bp.route("/claims/<int:claim_id>/rebill", methods=["POST"])
def rebill(claim_id: int):
    claim = _claim_or_404(claim_id)
    result: dict[str, Any] = {}

    def do(f: ReasonForm) -> Any:
        result["value"] = corrections.rebill_claim(claim=claim, actor=current_user, now=utcnow(),
                                                   reason=f.reason.data)  # fmt: skip
        return result["value"]

    run_form(ReasonForm(), do, "Rebilled as a new original claim; submission queued.")
    if "value" in result:
        return redirect(url_for("claims.detail", claim_id=result["value"].claim.id), 303)
    return _back(claim)
