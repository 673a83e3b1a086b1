"""Appeals: the list, one appeal (letter, PDF, sent, outcome, next level), the item-page panel, the overturn-rate
report (supervisors, admins) and the template library (admins edit, supervisors view, billers 403)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from backoffice import inputs
from backoffice.accounts.access import can_supervise, is_admin
from backoffice.appeals import queries, rendering, rules, services
from backoffice.appeals.demo import DEFAULT_TEMPLATES
from backoffice.appeals.forms import (
    ActionForm,
    LetterForm,
    OutcomeForm,
    RegenerateForm,
    SentForm,
    TemplateForm,
    WithdrawForm,
    errors_of,
)
from backoffice.appeals.models import Appeal
from backoffice.appeals.pdf import appeal_pdf, filename
from backoffice.appeals.rendering import VARIABLES
from backoffice.audit.services import record_phi_read
from backoffice.claims.models import Claim
from backoffice.clock import utcnow
from backoffice.errors import ServiceError
from backoffice.extensions import db
from backoffice.orgs.models import Payer, Practice
from backoffice.remits.rules import Family
from backoffice.reports.rules import to_csv
from backoffice.work.access import get_item_for_user_or_404
from backoffice.work.models import WorkItem
from backoffice.work.panels import Panel, register

bp = Blueprint("appeals", __name__)
PANEL_KINDS = ("appeal", "work_denial")


@bp.before_request
@login_required
def _require_login() -> None:
    """Every appeal screen needs a signed-in user."""


def _today(practice_id: int) -> Any:
    practice = db.session.get(Practice, practice_id)
    return utcnow().astimezone(ZoneInfo(practice.timezone if practice else "America/New_York")).date()


def appeal_view(appeal: Appeal) -> dict[str, Any]:
    """What the appeal screens show beside the row: names, countdown, forms."""
    claim = db.session.get(Claim, appeal.claim_id)
    payer = db.session.get(Payer, appeal.payer_id)
    today = _today(appeal.practice_id)
    letter_form = LetterForm(letter=appeal.letter, base=services.digest(appeal.letter))
    regenerate_form = RegenerateForm()
    regenerate_form.template_id.choices = [(0, "Best match (or the built-in letter)")] + [
        (t.id, t.name)
        for t, _ in queries.templates(appeal.organization_id)
        if t.active and t.denial_family == appeal.denial_family and t.level == appeal.level
    ]
    sent_form = SentForm(sent_on=today)
    return {
        "appeal": appeal,
        "claim": claim,
        "payer": payer,
        "today": today,
        "countdown": rules.deadline_countdown(appeal.deadline, today),
        "overdue": (rules.days_to_deadline(appeal.deadline, today) or 0) < 0,
        "level_title": rules.level_title(rules.level_name(str(payer.kind), appeal.level)) if payer else "",
        "letter_form": letter_form,
        "regenerate_form": regenerate_form,
        "sent_form": sent_form,
        "outcome_form": OutcomeForm(decided_on=today),
        "withdraw_form": WithdrawForm(),
        "action_form": ActionForm(),
        "next_level": services.next_level_offered(appeal),
        "others": [a for a in queries.appeals_of_claim(appeal.claim_id) if a.id != appeal.id],
    }


def _back(appeal: Appeal, form: FlaskForm | None = None) -> Response:
    """To the item page when the form came from the appeal's item panel, else to the appeal."""
    from_item = getattr(form, "from_item", None) if form is not None else None
    if from_item is not None and from_item.data and str(appeal.work_item_id) == from_item.data:
        return redirect(url_for("work.item", item_id=appeal.work_item_id) + "#panel-appeal", 303)
    return redirect(url_for("appeals.detail", appeal_id=appeal.id), 303)


def _act(appeal: Appeal, form: FlaskForm, call: Callable[[FlaskForm], Any], done: str) -> Response:
    if not form.validate_on_submit():
        flash(errors_of(form), "error")
        return _back(appeal, form)
    try:
        call(form)
    except ServiceError as error:
        flash(str(error), "error")
        return _back(appeal, form)
    flash(done, "success")
    return _back(appeal, form)


@bp.route("/appeals")
def index():
    args = request.args
    numbers: dict[str, int | None] = {}
    for name in ("due_within", "payer_id", "practice_id"):
        try:
            numbers[name] = inputs.whole_number(args[name]) if args.get(name, "").strip() else None
        except inputs.InputProblem as problem:
            abort(400, f"{name}: {problem}")
    due, payer_id, practice_id = numbers["due_within"], numbers["payer_id"], numbers["practice_id"]
    filters = queries.Filters(status=args.get("status", ""), family=args.get("family", ""), payer_id=payer_id,
                              practice_id=practice_id, due_within=due)  # fmt: skip
    today = utcnow().date()
    rows = queries.appeals(current_user, filters, today)
    return render_template(
        "appeals/index.html", rows=rows, filters=filters, options=queries.filter_options(current_user),
        statuses=rules.STATUSES, families=[f.value for f in Family], today=today,
        countdown=rules.deadline_countdown, can_supervise=can_supervise(current_user),
    )  # fmt: skip


@bp.route("/appeals/<int:appeal_id>")
def detail(appeal_id: int):
    appeal = queries.get_appeal_for_user_or_404(appeal_id, current_user)
    view = appeal_view(appeal)
    record_phi_read(patient_id=view["claim"].patient_id if view["claim"] else None, practice_id=appeal.practice_id,
                    target_type="appeal", target_id=appeal.id)  # fmt: skip
    return render_template("appeals/detail.html", **view)


@bp.route("/appeals/<int:appeal_id>/letter", methods=["POST"])
def save_letter(appeal_id: int):
    appeal = queries.get_appeal_for_user_or_404(appeal_id, current_user)
    form = LetterForm()
    if not form.validate_on_submit():
        flash(errors_of(form), "error")
        view = appeal_view(appeal)
        view["letter_form"] = form  # keep what the biller typed
        return render_template("appeals/detail.html", **view), 422
    try:
        changed = services.edit_letter(appeal=appeal, actor=current_user, now=utcnow(), letter=form.letter.data,
                                       base_sha256=form.base.data or None)  # fmt: skip
    except ServiceError as error:
        flash(str(error), "error")
        view = appeal_view(appeal)
        view["letter_form"] = form
        return render_template("appeals/detail.html", **view), 422
    flash("Letter saved." if changed else "No changes to save.", "success")
    return _back(appeal, form)


@bp.route("/appeals/<int:appeal_id>/regenerate", methods=["POST"])
def regenerate(appeal_id: int):
    appeal = queries.get_appeal_for_user_or_404(appeal_id, current_user)
    form = RegenerateForm()
    form.template_id.choices = [(0, "")] + [(t.id, t.name) for t, _ in queries.templates(appeal.organization_id)]

    def call(f: FlaskForm) -> Any:
        template = queries.get_template_or_404(f.template_id.data, current_user) if f.template_id.data else None
        return services.regenerate_letter(appeal=appeal, actor=current_user, now=utcnow(),
                                          today=_today(appeal.practice_id), template=template)  # fmt: skip

    return _act(appeal, form, call, "Letter regenerated from the template.")


@bp.route("/appeals/<int:appeal_id>/letter.pdf")
def pdf(appeal_id: int):
    appeal = queries.get_appeal_for_user_or_404(appeal_id, current_user)
    claim = db.session.get(Claim, appeal.claim_id)
    body = appeal_pdf(appeal)
    record_phi_read(patient_id=claim.patient_id if claim else None, practice_id=appeal.practice_id, action="pdf",
                    target_type="appeal", target_id=appeal.id,
                    data={"sha256": services.digest(appeal.letter), "level": appeal.level})  # fmt: skip
    name = filename(appeal, claim.account_number if claim else "")
    return Response(body, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})  # fmt: skip


@bp.route("/appeals/<int:appeal_id>/sent", methods=["POST"])
def mark_sent(appeal_id: int):
    appeal = queries.get_appeal_for_user_or_404(appeal_id, current_user)
    return _act(appeal, SentForm(), lambda f: services.mark_sent(
        appeal=appeal, actor=current_user, now=utcnow(), sent_on=f.sent_on.data, method=f.method.data,
        reference=f.reference.data or "", late_reason=f.late_reason.data or ""), "Marked as sent.")  # fmt: skip


@bp.route("/appeals/<int:appeal_id>/outcome", methods=["POST"])
def outcome(appeal_id: int):
    appeal = queries.get_appeal_for_user_or_404(appeal_id, current_user)
    return _act(appeal, OutcomeForm(), lambda f: services.record_outcome(
        appeal=appeal, actor=current_user, now=utcnow(), outcome=f.outcome.data, decided_on=f.decided_on.data,
        recovered=f.recovered.data), "Decision recorded.")  # fmt: skip


@bp.route("/appeals/<int:appeal_id>/withdraw", methods=["POST"])
def withdraw(appeal_id: int):
    appeal = queries.get_appeal_for_user_or_404(appeal_id, current_user)
    return _act(appeal, WithdrawForm(), lambda f: services.withdraw_appeal(
        appeal=appeal, actor=current_user, now=utcnow(), reason=f.reason.data), "Appeal withdrawn.")  # fmt: skip


@bp.route("/appeals/<int:appeal_id>/next-level", methods=["POST"])
def next_level(appeal_id: int):
    appeal = queries.get_appeal_for_user_or_404(appeal_id, current_user)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        created = services.open_next_level(appeal=appeal, actor=current_user, now=utcnow())
    except ServiceError as error:
        flash(str(error), "error")
        return _back(appeal)
    flash(f"Level {created.level} appeal drafted.", "success")
    return redirect(url_for("appeals.detail", appeal_id=created.id), 303)


@bp.route("/items/<int:item_id>/appeal", methods=["POST"])
def draft_for_item(item_id: int):
    """Draft the level-1 appeal of an appeal or denial item's claim by hand (idempotent)."""
    item = get_item_for_user_or_404(item_id, current_user)
    if not ActionForm().validate_on_submit():
        abort(400)
    claim = db.session.get(Claim, item.claim_id) if item.claim_id else None
    if claim is None or item.kind not in PANEL_KINDS:
        flash("This item has no denied claim to appeal.", "error")
        return redirect(url_for("work.item", item_id=item.id), 303)
    try:
        appeal = services.draft_appeal(claim=claim, now=utcnow(), today=_today(item.practice_id), item=item,
                                       actor=current_user)  # fmt: skip
    except ServiceError as error:
        flash(str(error), "error")
        return redirect(url_for("work.item", item_id=item.id), 303)
    return redirect(url_for("appeals.detail", appeal_id=appeal.id), 303)


# --- the overturn-rate report ---


def _require_supervisor() -> None:
    if not can_supervise(current_user):
        abort(403)


@bp.route("/appeals/report")
def report():
    _require_supervisor()
    decisions = queries.decisions(current_user)
    return render_template(
        "appeals/report.html", headers=rules.REPORT_HEADERS, rows=rules.overturn_table(decisions),
        family_headers=(rules.REPORT_HEADERS[0], *rules.REPORT_HEADERS[4:]),
        by_family=rules.overturn_table(decisions, by=("family",)), now=utcnow(),
    )  # fmt: skip


@bp.route("/appeals/report.csv")
def report_csv():
    _require_supervisor()
    body = to_csv(rules.REPORT_HEADERS, rules.overturn_table(queries.decisions(current_user)))
    disposition = 'attachment; filename="appeal-overturn-rate.csv"'
    headers = {"Content-Disposition": disposition, "Cache-Control": "no-store"}
    return Response(body, mimetype="text/csv", headers=headers)


# --- the template library ---


def _template_form(form: TemplateForm | None = None) -> TemplateForm:
    form = form or TemplateForm()
    form.payer_id.choices = [(0, "Any payer")] + queries.payers(current_user.organization_id)
    return form


@bp.route("/admin/appeal-templates")
def templates():
    _require_supervisor()
    return render_template("appeals/templates.html", rows=queries.templates(current_user.organization_id),
                           can_edit=is_admin(current_user), action_form=ActionForm())  # fmt: skip


@bp.route("/admin/appeal-templates/new", methods=["GET", "POST"])
def new_template():
    _require_supervisor()
    return _edit_template(None)


@bp.route("/admin/appeal-templates/<int:template_id>", methods=["GET", "POST"])
def edit_template(template_id: int):
    _require_supervisor()
    return _edit_template(queries.get_template_or_404(template_id, current_user))


def _preview(body: str | None, family: str | None) -> str | None:
    """The body rendered against sample facts (what a save checks), or None when it does not render."""
    try:
        return rendering.validate(body or "", family=family or "medical_necessity")
    except rendering.TemplateProblem:
        return None


def _edit_template(template: Any) -> Any:
    can_edit = is_admin(current_user)
    if request.method == "GET":
        form = _template_form(TemplateForm(obj=template) if template else None)
        if template is not None:
            form.payer_id.data = template.payer_id or 0
        else:
            form.body.data = DEFAULT_TEMPLATES[0][3]  # a starting point in the §7.2 section order
        preview = _preview(form.body.data, form.denial_family.data)
        return render_template("appeals/template_form.html", form=form, template=template, can_edit=can_edit,
                               variables=VARIABLES, preview=preview)  # fmt: skip
    if not can_edit:
        abort(403)
    form = _template_form()
    if form.validate_on_submit():
        try:
            saved = services.save_template(
                actor=current_user, now=utcnow(), template=template, name=form.name.data,
                denial_family=form.denial_family.data, payer_id=form.payer_id.data or None, level=form.level.data,
                body=form.body.data.replace("\r\n", "\n"), active=form.active.data,
            )  # fmt: skip
        except ServiceError as error:
            flash(str(error), "error")
        else:
            flash(f"Template “{saved.name}” saved.", "success")
            return redirect(url_for("appeals.templates"), 303)
    else:
        flash(errors_of(form), "error")
    return render_template("appeals/template_form.html", form=form, template=template, can_edit=can_edit,
                           variables=VARIABLES, preview=None), 422  # fmt: skip


@bp.route("/admin/appeal-templates/<int:template_id>/active", methods=["POST"])
def toggle_template(template_id: int):
    _require_supervisor()
    template = queries.get_template_or_404(template_id, current_user)
    if not is_admin(current_user):
        abort(403)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        services.set_template_active(actor=current_user, now=utcnow(), template=template, active=not template.active)
    except ServiceError as error:
        flash(str(error), "error")
    return redirect(url_for("appeals.templates"), 303)


# --- the work-item panel ---


def _panel_context(item: WorkItem) -> dict[str, Any]:
    appeals = queries.appeals_of_claim(item.claim_id) if item.claim_id else []
    current = next((a for a in reversed(appeals) if a.status == "draft"), appeals[-1] if appeals else None)
    view = appeal_view(current) if current is not None else {}
    if current is not None:
        view["letter_form"].from_item.data = str(item.id)
    return {"appeals": appeals, "current": current, "view": view, "draft_form": ActionForm(),
            "countdown": rules.deadline_countdown}  # fmt: skip


register(
    Panel(
        "appeal",
        "appeals/panel.html",
        applies=lambda item: item.kind in PANEL_KINDS and item.claim_id is not None,
        context=_panel_context,
        order=50,
    )
)
