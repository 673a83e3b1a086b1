"""Supervisor screens: bulk reassign (filter → preview → confirm), SLA breaches, write-off approvals, and the
item-page panel where a biller asks for a write-off."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from backoffice.accounts.access import can_supervise, practice_ids_for
from backoffice.accounts.models import User
from backoffice.claims.models import Claim
from backoffice.clock import utcnow
from backoffice.errors import ServiceError
from backoffice.extensions import db
from backoffice.form_actions import flash_form_errors
from backoffice.supervisor import queries, services, write_offs
from backoffice.supervisor.forms import ConfirmForm, DecisionForm, FilterForm, WriteOffRequestForm
from backoffice.supervisor.models import WriteOffRequest
from backoffice.supervisor.rules import MAX_BULK_ITEMS, WRITE_OFF_LABELS
from backoffice.work.access import get_item_for_user_or_404
from backoffice.work.forms import choices
from backoffice.work.models import WorkItem
from backoffice.work.panels import Panel, register
from backoffice.work.rules import ExceptionKind

bp = Blueprint("supervisor", __name__)


@bp.before_request
@login_required
def _require_login() -> None:
    """Every screen here needs a signed-in user; the supervisor ones check the role too."""


def _require_supervisor() -> None:
    if not can_supervise(current_user):
        abort(403)


def _filter_form(args: Any) -> FilterForm:
    form = FilterForm(formdata=args)
    options = queries.filter_choices(current_user)
    form.payer_id.choices = choices([("", "Any")] + [(str(i), n) for i, n in options["payers"]])
    form.practice_id.choices = choices([("", "Any")] + [(str(i), n) for i, n in options["practices"]])
    form.queue.choices = choices([("", "Any")] + options["queues"])
    form.assignee.choices = choices(
        [("", "Anyone"), (queries.UNASSIGNED, "Unassigned")] + [(str(i), n) for i, n in options["people"]]
    )
    form.people = options["people"]  # type: ignore[attr-defined]
    return form


def _item_filter(form: FilterForm) -> queries.ItemFilter:
    def number(value: Any) -> int | None:
        return int(value) if value not in (None, "") else None

    return queries.ItemFilter(
        kind=form.kind.data or None, reason_code=(form.reason_code.data or "").strip() or None,
        payer_id=number(form.payer_id.data), practice_id=number(form.practice_id.data), queue=form.queue.data or None,
        min_age_days=form.min_age_days.data, max_age_days=form.max_age_days.data, min_amount=form.min_amount.data,
        max_amount=form.max_amount.data, assignee=form.assignee.data or None, sla=form.sla.data or None,
    )  # fmt: skip


@bp.route("/supervisor/reassign")
def bulk_reassign():
    _require_supervisor()
    form = _filter_form(request.args)
    preview = confirm = None
    if request.args.get("preview") and form.validate():
        now = utcnow()
        item_filter = _item_filter(form)
        preview = queries.preview(current_user, item_filter, now, cap=MAX_BULK_ITEMS)
        if preview.snapshot:
            confirm = _confirm_form(form)
            confirm.token.data = services.sign_preview(
                actor=current_user, snapshot=preview.snapshot, filters=item_filter.as_args()
            )
    elif request.args.get("preview"):
        flash_form_errors(form)
    return render_template(
        "supervisor/reassign.html", form=form, preview=preview, confirm=confirm, cap=MAX_BULK_ITEMS, now=utcnow()
    )


def _confirm_form(filter_form: FilterForm | None = None) -> ConfirmForm:
    form = ConfirmForm()
    people = filter_form.people if filter_form is not None else queries.filter_choices(current_user)["people"]  # type: ignore[attr-defined]
    form.assignee_id.choices = choices([(0, "—")] + list(people))
    form.spread_to.choices = choices(list(people))
    return form


def _people(ids: list[int]) -> list[User]:
    if not ids:
        return []
    return list(
        db.session.scalars(select(User).where(User.id.in_(ids), User.organization_id == current_user.organization_id))
    )


@bp.route("/supervisor/reassign/confirm", methods=["POST"])
def bulk_reassign_confirm():
    _require_supervisor()
    form = _confirm_form()
    filters: dict[str, str] = {}
    if not form.validate_on_submit():
        flash_form_errors(form)
        try:  # back to the same preview, so nothing the supervisor picked is lost
            filters = services.read_preview(form.token.data or "", actor=current_user)[1]
        except ServiceError:
            return redirect(url_for("supervisor.bulk_reassign"), 303)
        return redirect(url_for("supervisor.bulk_reassign", preview=1, **filters), 303)
    try:
        snapshot, filters = services.read_preview(form.token.data, actor=current_user)
        assignee = db.session.get(User, form.assignee_id.data) if form.assignee_id.data else None
        result = services.bulk_reassign(
            actor=current_user, now=utcnow(), previewed=snapshot, target=form.target.data, reason=form.reason.data,
            assignee=assignee, spread_to=_people(form.spread_to.data or []),
        )  # fmt: skip
    except ServiceError as error:
        flash(str(error), "error")
        return redirect(url_for("supervisor.bulk_reassign", preview=1, **filters), 303)
    where = ", ".join(f"{name}: {n}" for name, n in sorted(result.per_assignee.items())) or "nobody"
    unchanged = f"; {result.unchanged} already there" if result.unchanged else ""
    flash(f"Reassigned {result.moved} item(s) ({where}){unchanged}. Batch {result.bulk_id[:8]}.", "success")
    return redirect(url_for("supervisor.bulk_reassign", preview=1, **filters), 303)


@bp.route("/supervisor/breaches")
def breaches():
    _require_supervisor()
    form = _filter_form(request.args)
    item_filter = queries.ItemFilter()
    if form.validate():
        item_filter = _item_filter(form)
    else:
        flash_form_errors(form)
    now = utcnow()
    count, items = queries.breaches(current_user, item_filter, now)
    reassign_args = {**item_filter.as_args(), "sla": "breached", "preview": "1"}
    return render_template(
        "supervisor/breaches.html", form=form, items=items, count=count, now=now, reassign_args=reassign_args
    )


@bp.route("/supervisor/write-offs", endpoint="write_offs")
def write_offs_page():
    _require_supervisor()
    pending = queries.write_off_requests(current_user, pending=True)
    decided = queries.write_off_requests(current_user, pending=False)
    every = pending + decided
    names = queries.user_names({r.requested_by_id for r in every} | {r.decided_by_id for r in every})
    claims = dict(
        db.session.execute(
            select(Claim.id, Claim.account_number).where(Claim.id.in_({r.claim_id for r in every if r.claim_id}))
        ).all()
    )
    return render_template(
        "supervisor/write_offs.html", pending=pending, decided=decided, names=names, claims=claims,
        labels=WRITE_OFF_LABELS, decision_form=DecisionForm(), balance_of=write_offs.balance_of,
    )  # fmt: skip


def _write_off_or_404(request_id: int) -> WriteOffRequest:
    found = db.session.get(WriteOffRequest, request_id)
    if (
        found is None
        or found.organization_id != current_user.organization_id
        or found.practice_id not in practice_ids_for(current_user)
    ):
        abort(404)
    return found


@bp.route("/supervisor/write-offs/<int:request_id>/decide", methods=["POST"])
def decide_write_off(request_id: int):
    _require_supervisor()  # dual control: billers request, supervisors decide (a 403, not a flash)
    found = _write_off_or_404(request_id)
    form = DecisionForm()
    back = request.form.get("back") == "item" and found.work_item_id
    target = url_for("work.item", item_id=found.work_item_id) if back else url_for("supervisor.write_offs")
    if not form.validate_on_submit():
        flash("Decision: approve or reject", "error")
        return redirect(target, 303)
    approve = form.decision.data == "approve"
    try:
        write_offs.decide_write_off(
            request=found, actor=current_user, now=utcnow(), approve=approve, note=form.note.data
        )
    except ServiceError as error:
        flash(str(error), "error")
    else:
        flash(f"Write-off request #{request_id} {'approved and posted' if approve else 'rejected'}.", "success")
    return redirect(target, 303)


@bp.route("/items/<int:item_id>/write-off", methods=["POST"])
def request_write_off(item_id: int):
    item = get_item_for_user_or_404(item_id, current_user)
    form = WriteOffRequestForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
    else:
        try:
            made = write_offs.request_write_off(
                item=item, actor=current_user, now=utcnow(), balance=form.balance.data, amount=form.amount.data,
                reason=form.reason.data, note=form.note.data,
            )  # fmt: skip
        except ServiceError as error:
            flash(str(error), "error")
        else:
            flash(f"Write-off request #{made.id} sent for a supervisor's approval.", "success")
    return redirect(url_for("work.item", item_id=item.id) + "#panel-write-off", 303)


def _panel_context(item: WorkItem) -> dict[str, Any]:
    claim = db.session.get(Claim, item.claim_id)
    requests = list(
        db.session.scalars(
            select(WriteOffRequest).where(WriteOffRequest.claim_id == item.claim_id).order_by(WriteOffRequest.id.desc())
        )
    )
    this = next((r for r in requests if r.work_item_id == item.id), None)
    names = queries.user_names({r.requested_by_id for r in requests} | {r.decided_by_id for r in requests})
    may_decide = (
        this is not None and this.state == "pending" and can_supervise(current_user)
        and this.requested_by_id != current_user.id
    )  # fmt: skip
    return {
        "claim": claim,
        "insurance": write_offs.insurance_balance(claim),
        "patient": write_offs.patient_balance(claim),
        "requests": requests,
        "this": this,
        "names": names,
        "labels": WRITE_OFF_LABELS,
        "balance_of": write_offs.balance_of,
        "may_decide": may_decide,
        "can_request": item.kind != ExceptionKind.APPROVE_WRITE_OFF and claim.status not in write_offs.NOT_WRITABLE,
        "form": WriteOffRequestForm(formdata=None),
        "decision_form": DecisionForm(formdata=None),
    }


register(
    Panel(
        "write-off",
        "supervisor/_write_off_panel.html",
        applies=lambda item: item.claim_id is not None,
        context=_panel_context,
        order=80,
    )
)
