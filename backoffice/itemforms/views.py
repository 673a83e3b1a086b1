"""Per-kind item forms on the work-item page: benefits entry, prior-auth entry, charge review with the live scrubber,
and what a denial or a rejection means. Each is a panel (``work/panels.py``) posting to one service here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, jsonify, redirect, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import select

from backoffice.automation.eligibility import check_eligibility_now
from backoffice.claims.rules import ACTION_LABELS, actions_for_family
from backoffice.clock import utcnow
from backoffice.errors import ServiceError, ValidationFailed
from backoffice.exchange.ack_posting import AK9_CODES, IK3_CODES, IK4_CODES, IK5_CODES
from backoffice.extensions import db
from backoffice.form_actions import keep, kept_or_new, run_form
from backoffice.itemforms import queries, services
from backoffice.itemforms.forms import AuthorizationForm, BenefitsForm, LinesForm, tri_state
from backoffice.itemforms.rules import MAX_LINES, BenefitsEntry, explain_denial, explain_remarks
from backoffice.orgs.models import Payer
from backoffice.patients.models import Authorization
from backoffice.work.access import get_item_for_user_or_404
from backoffice.work.forms import choices
from backoffice.work.models import WorkItem
from backoffice.work.pages import render_item
from backoffice.work.panels import Panel, register
from backoffice.work.rules import ExceptionKind, WorkKind

bp = Blueprint("itemforms", __name__)

BENEFITS_KINDS = frozenset({WorkKind.VERIFY_BENEFITS})
AUTH_KINDS = frozenset({WorkKind.OBTAIN_PREAUTH, ExceptionKind.REAUTHORIZE})
LINE_KINDS = frozenset({WorkKind.ENTER_CHARGE, WorkKind.AUDIT, ExceptionKind.FIX_REJECTION})
DENIAL_KINDS = frozenset({ExceptionKind.WORK_DENIAL, WorkKind.APPEAL})
FINISH_LABELS = {
    WorkKind.ENTER_CHARGE: "Save and complete",
    WorkKind.AUDIT: "Save and pass audit",
    ExceptionKind.FIX_REJECTION: "Correct and resubmit",
}


@bp.before_request
@login_required
def _require_login() -> None:
    """Every item form needs a signed-in user."""


# ---- panels ------------------------------------------------------------------------------------------------------


def _coverage_choices(form: Any, coverages: list[Any]) -> None:
    form.coverage_id.choices = choices(
        [(c.id, f"{c.priority.value}: {c.payer.name}") for c in coverages] or [(0, "no coverage on file")]
    )


def _benefits_context(item: WorkItem) -> dict[str, Any]:
    session = queries.session_for(item)
    if session is None:
        return {"session": None}
    coverages = queries.coverages_for(session.patient_id)
    coverage = queries.default_coverage(session)
    form, kept = kept_or_new(BenefitsForm)
    _coverage_choices(form, coverages)
    if coverage is not None and not kept:
        form.coverage_id.data = coverage.id
    latest_271 = latest_manual = None
    missing: list[str] = []
    if coverage is not None:
        latest_271 = queries.latest_benefits(session.patient_id, coverage.payer_id, source="271")
        latest_manual = queries.latest_benefits(session.patient_id, coverage.payer_id, source="manual")
        latest = max((c for c in (latest_271, latest_manual) if c), key=lambda c: (c.checked_at, c.id), default=None)
        if latest is not None and latest.auth_required:
            missing = services.missing_authorizations(session, coverage)
    filled_from = latest_271 if latest_271 is not None and not kept else None
    if filled_from is not None:
        _fill_from_check(form, filled_from)
    return {"session": session, "form": form, "latest_271": latest_271, "latest_manual": latest_manual,
            "missing_auth": missing, "coverage": coverage, "filled_from": filled_from}  # fmt: skip


def _tri(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


def _fill_from_check(form: BenefitsForm, check: Any) -> None:
    """The form starts from the 271 on file: the biller checks it (or calls) and saves, instead of retyping it."""
    form.active.data, form.in_network.data = _tri(check.active), _tri(check.in_network)
    form.auth_required.data = _tri(check.auth_required)
    for name in ("copay", "coinsurance_percent", "deductible_remaining", "out_of_pocket_remaining", "visits_allowed",
                 "visits_remaining", "carve_out_payer_name", "carve_out_payer_id"):  # fmt: skip
        getattr(form, name).data = getattr(check, name)


def _auth_context(item: WorkItem) -> dict[str, Any]:
    session = queries.session_for(item)
    previous = db.session.get(Authorization, item.authorization_id) if item.authorization_id else None
    form, kept = kept_or_new(AuthorizationForm)
    patient_id = previous.patient_id if previous else (session.patient_id if session else None)
    coverages = queries.coverages_for(patient_id) if patient_id else []
    _coverage_choices(form, coverages)
    payer_id = previous.payer_id if previous else None
    missing: list[str] = []
    if session is not None and previous is None:
        coverage = queries.default_coverage(session)
        if coverage is not None:
            payer_id = coverage.payer_id
            if not kept:
                form.coverage_id.data = coverage.id
            missing = services.missing_authorizations(session, coverage)
    if kept:
        pass  # what the user typed stays
    elif previous is not None:
        form.cpt_codes.data = " ".join(previous.cpt_codes or ())
        form.counts.data = "visits" if previous.counts_visits else "units"
    elif missing:
        form.cpt_codes.data = " ".join(missing)
    auths = queries.authorizations_for(patient_id) if patient_id else []
    payers = {p.id: p.name for p in db.session.scalars(select(Payer).where(Payer.id.in_({a.payer_id for a in auths})))}
    return {"form": form, "previous": previous, "authorizations": auths, "payers": payers, "missing": missing,
            "today": utcnow().date(), "payer_id": payer_id, "session": session}  # fmt: skip


def _lines_context(item: WorkItem) -> dict[str, Any]:
    session = queries.session_for(item)
    if session is None:
        return {"session": None}
    claim = queries.claim_for(item)
    edits = queries.as_edits(claim.lines) if claim is not None and claim.lines else None
    today = utcnow().astimezone(ZoneInfo(session.practice.timezone)).date()
    scrubbed = queries.scrub_lines(session, edits, today=today)
    preview = scrubbed[0] if scrubbed else None
    rows = list(preview.lines) if preview else []
    if claim is not None and claim.lines:  # show what the claim carries; the live findings are for these lines
        rows = [
            {"cpt": x.cpt, "modifiers": " ".join(x.modifiers or ()), "units": x.units, "pos": x.place_of_service,
             "pointers": " ".join(map(str, x.diagnosis_pointers or ())), "charge": f"{x.charge:.2f}"}
            for x in claim.lines
        ]  # fmt: skip
    blank = {"cpt": "", "modifiers": "", "units": "", "pos": "", "pointers": "", "charge": ""}
    form, kept = kept_or_new(LinesForm)
    if kept:  # the lines as the user typed them, not as the claim still has them
        typed = [{**blank, **row} for row in _form_lines() if any(row.values())]
        rows = typed or rows
    rows = rows + [blank] * max(0, min(MAX_LINES, len(rows) + 1) - len(rows))
    if not kept:
        form.version.data = str(claim.version) if claim is not None else ""
    editable = claim is None or claim.status in services.EDITABLE_CLAIM
    return {"session": session, "claim": claim, "rows": rows, "preview": preview, "form": form, "editable": editable,
            "finish_label": FINISH_LABELS.get(item.kind, "Save and complete"),
            "diagnoses": session.diagnoses or []}  # fmt: skip


def _rejection_context(item: WorkItem) -> dict[str, Any]:
    evidence = queries.evidence_of(item)
    segments = []
    for seg in evidence.get("ik3", []) or []:
        elements = [
            {**el, "meaning": IK4_CODES.get(str(el.get("code")), ""),
             "spot": f"{seg.get('segment')}{int(el['position']):02d}" if el.get("position") else seg.get("segment")}
            for el in seg.get("ik4", []) or []
        ]  # fmt: skip
        segments.append({**seg, "meaning": IK3_CODES.get(str(seg.get("code")), ""), "elements": elements})
    ik5 = evidence.get("ik5") or []
    claim = queries.claim_for(item)
    return {
        "correct_url": url_for("claims.detail", claim_id=claim.id, _anchor="correct-form") if claim else None,
        "reason": queries.opening_reason(item), "segments": segments, "evidence": evidence,
        "ik5": [(c, IK5_CODES.get(str(c), "")) for c in ik5[1:]], "ik5_status": ik5[0] if ik5 else None,
        "ak9": [(c, AK9_CODES.get(str(c), "")) for c in (evidence.get("ak9") or [])[1:]],
        "statuses": evidence.get("277ca") or [],
    }  # fmt: skip


def _denial_context(item: WorkItem) -> dict[str, Any]:
    evidence = queries.evidence_of(item)
    claim = queries.claim_for(item)
    payer = db.session.get(Payer, claim.payer_id) if claim is not None else None
    codes = list(evidence.get("codes") or ([item.reason_code] if item.reason_code else []))
    remarks = list(evidence.get("remarks") or [])
    deadline = evidence.get("appeal_deadline")
    deadline_day = date.fromisoformat(deadline) if deadline else None
    family = evidence.get("family") or item.denial_family
    anchors = {"replace": "replace-form", "rebill": "coverage-form"}
    actions = [
        (ACTION_LABELS[name], url_for("claims.detail", claim_id=claim.id, _anchor=anchors[name]) if name in anchors
         else url_for("work.item", item_id=item.id, _anchor="panel-appeal" if name == "appeal" else "panel-write-off"))
        for name in actions_for_family(family)
    ] if claim is not None else []  # fmt: skip
    return {
        "actions": actions,
        "claim": claim, "codes": explain_denial(codes, remarks, str(payer.kind) if payer else ""),
        "remarks": explain_remarks(remarks), "amount": evidence.get("amount") or item.amount,
        "family": evidence.get("family") or item.denial_family, "appealable": evidence.get("appealable"),
        "deadline": deadline_day, "days_left": (deadline_day - utcnow().date()).days if deadline_day else None,
        "reason": queries.opening_reason(item),
    }  # fmt: skip


register(Panel("benefits", "itemforms/benefits.html", lambda i: i.kind in BENEFITS_KINDS, _benefits_context, 10))
register(Panel("preauth", "itemforms/preauth.html", lambda i: i.kind in AUTH_KINDS, _auth_context, 10))
register(Panel("rejection", "itemforms/rejection.html", lambda i: i.kind == ExceptionKind.FIX_REJECTION,
               _rejection_context, 10))  # fmt: skip
register(Panel("charge", "itemforms/charge.html", lambda i: i.kind in LINE_KINDS, _lines_context, 20))
register(Panel("denial", "itemforms/denial.html", lambda i: i.kind in DENIAL_KINDS, _denial_context, 10))


# ---- actions -----------------------------------------------------------------------------------------------------


def _act(item: WorkItem, form: FlaskForm, action: Callable[[Any], Any], done: str, anchor: str):
    """Validate ``form``, run one service, flash the outcome (errors name their field), back to the item."""
    if run_form(form, action, done):  # a missing CSRF token never gets here: CSRFProtect answers 400 first
        return redirect(url_for("work.item", item_id=item.id, _anchor=anchor), 303)
    keep(form)  # refused: the page comes back with what the user typed (and the errors) instead of losing it
    return render_item(item, 422)


def _finish() -> bool:
    return request.form.get("action") == "finish"


@bp.route("/items/<int:item_id>/forms/benefits", methods=["POST"])
def benefits(item_id: int):
    item = get_item_for_user_or_404(item_id, current_user)
    form = BenefitsForm()
    session = queries.session_for(item)
    _coverage_choices(form, queries.coverages_for(session.patient_id) if session else [])

    def do(f: BenefitsForm) -> Any:
        entry = BenefitsEntry(
            active=tri_state(f.active.data), in_network=tri_state(f.in_network.data), copay=f.copay.data,
            coinsurance_percent=f.coinsurance_percent.data, deductible_remaining=f.deductible_remaining.data,
            out_of_pocket_remaining=f.out_of_pocket_remaining.data, visits_allowed=f.visits_allowed.data,
            visits_remaining=f.visits_remaining.data, auth_required=tri_state(f.auth_required.data),
            carve_out_payer_name=f.carve_out_payer_name.data, carve_out_payer_id=f.carve_out_payer_id.data,
            reference_number=f.reference_number.data,
        )  # fmt: skip
        return services.record_benefits(item=item, actor=current_user, now=utcnow(), entry=entry,
                                        coverage_id=f.coverage_id.data or None, complete=_finish())  # fmt: skip

    done = "Benefits recorded; item completed." if _finish() else "Benefits recorded."
    return _act(item, form, do, done, "panel-benefits")


@bp.route("/items/<int:item_id>/forms/benefits/check", methods=["POST"])
def check_eligibility(item_id: int):
    """ "Check eligibility now": the real-time channel answers at once, a batch channel gets a 270 queued."""
    item = get_item_for_user_or_404(item_id, current_user)
    if FlaskForm().validate_on_submit():  # the CSRF token (CSRFProtect refuses a missing one first)
        try:
            flash(check_eligibility_now(item=item, actor=current_user, now=utcnow()), "success")
        except ServiceError as error:
            flash(str(error), "error")
    return redirect(url_for("work.item", item_id=item.id, _anchor="panel-benefits"), 303)


@bp.route("/items/<int:item_id>/forms/authorization", methods=["POST"])
def authorization(item_id: int):
    item = get_item_for_user_or_404(item_id, current_user)
    form = AuthorizationForm()
    session = queries.session_for(item)
    _coverage_choices(form, queries.coverages_for(session.patient_id) if session else [])

    def do(f: AuthorizationForm) -> Any:
        return services.record_authorization(
            item=item, actor=current_user, now=utcnow(), number=f.number.data, cpt_text=f.cpt_codes.data,
            authorized=f.authorized.data, start=f.start_date.data, end=f.end_date.data,
            counts_visits=f.counts.data != "units", coverage_id=f.coverage_id.data or None,
        )  # fmt: skip

    return _act(item, form, do, "Authorization recorded; item completed.", "panel-preauth")


def _form_lines() -> list[dict[str, str]]:
    """The ``line-N-field`` inputs in row order."""
    rows = []
    for n in range(1, MAX_LINES + 1):
        row = {k: request.form.get(f"line-{n}-{k}", "") for k in ("cpt", "modifiers", "units", "pos", "pointers")}
        rows.append(row)
    return rows


@bp.route("/items/<int:item_id>/forms/lines", methods=["POST"])
def lines(item_id: int):
    item = get_item_for_user_or_404(item_id, current_user)
    form = LinesForm()

    def do(f: LinesForm) -> Any:
        version = int(f.version.data) if (f.version.data or "").isdigit() else None
        return services.save_claim_lines(item=item, actor=current_user, now=utcnow(), lines=_form_lines(),
                                         version=version, finish=_finish())  # fmt: skip

    done = "Claim lines saved; item completed." if _finish() else "Claim lines saved."
    return _act(item, form, do, done, "panel-charge")


@bp.route("/items/<int:item_id>/forms/scrub", methods=["POST"])
def scrub(item_id: int):
    """The live scrubber: the lines as edited (JSON, not saved) → findings, priced lines and total."""
    item = get_item_for_user_or_404(item_id, current_user)
    session = queries.session_for(item)
    if session is None:
        abort(404)
    payload = request.get_json(silent=True) or {}
    raw = payload.get("lines")
    if not isinstance(raw, list) or not all(isinstance(r, dict) for r in raw):
        return jsonify({"ok": False, "problems": ["lines: a list of line objects"]}), 422
    try:
        edits = services.parse_lines([{k: str(v) for k, v in r.items()} for r in raw[:MAX_LINES + 1]],
                                     len(session.diagnoses or ()))  # fmt: skip
    except ValidationFailed as error:
        return jsonify({"ok": False, "problems": str(error).split("; ")}), 422
    today = utcnow().astimezone(ZoneInfo(session.practice.timezone)).date()
    scrubbed = queries.scrub_lines(session, edits, today=today)
    if scrubbed is None:
        problem = "coverage: no primary coverage in force on the date of service"
        return jsonify({"ok": False, "problems": [problem]}), 422
    preview = scrubbed[0]
    return jsonify({"ok": True, "lines": preview.lines, "findings": preview.findings, "errors": preview.errors,
                    "total": f"{preview.total:.2f}"})  # fmt: skip
